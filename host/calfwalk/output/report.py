"""`calfwalk report`: one self-contained HTML page (and optionally one PNG) reviewing a set.

The page holds the rule card against the guide, a timeline of heel height per
foot with heel contacts, steps and pauses marked, per-step charts of step time
and heel height (fatigue), and the set's numbers. Plots are matplotlib PNGs
embedded as base64, the CSS is inline: the page needs no network.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
import statistics
import time
from dataclasses import dataclass, field

import numpy as np

from calfwalk.output.present import STATUS_TEXT, fmt

FOOT_COLOURS = {"left": "#1f77b4", "right": "#e8710a"}
STATUS_COLOURS = {"pass": "#1a7f37", "warn": "#b7791f", "fail": "#c62828", "not_measured": "#6b7280"}
CONTACT_COLOUR = "#d62728"
PAUSE_COLOUR = "#2ca02c"

CAPTIONS = {
    "heel_mm": "Heel height from the detector (foot length × sin pitch), sample by sample during the set. "
               "Faint where the foot is in the air (swing): there the tilt is not a heel height.",
    "heel_pad": "Heel pad load in ADC counts: an FSR-only pod has no heel height (that needs an accelerometer). "
                "The pad loads when the heel comes down.",
    "step_heel_mm": "This session has no raw samples (record with --raw for the full trace): the line joins "
                    "each step's heel height at the top of the step, drawn at its landing time.",
    "none": "No heel height in this session (FSR-only pod without raw samples): only the events are drawn.",
}
MARKS_CAPTION = ("Red spans: heel contacts (onset to onset + duration). Triangles: step landings, numbered in "
                 "the order of the set (both feet). Green bars at the bottom: the pause at the top of each step, "
                 "drawn from its landing. Dashed grey lines: set start and end.")
Y_LABELS = {"heel_mm": "heel height (mm)", "heel_pad": "heel pad (counts)",
            "step_heel_mm": "heel height (mm)", "none": ""}


@dataclass
class FootTrace:
    """What the timeline draws as the line for one foot; t_ms (float) on the summary events' clock."""

    foot: str
    kind: str  # a key of CAPTIONS
    t_ms: np.ndarray
    level: np.ndarray
    swing: list = field(default_factory=list)  # (start_ms, end_ms): foot in the air


@dataclass
class ReportData:
    """Everything the report shows."""

    summary: dict
    traces: dict  # foot -> FootTrace
    source: str
    inputs: list
    t0_ms: int
    notes: list = field(default_factory=list)


def default_output(path) -> str:
    """`<input base>_report.html` beside the (first) input; a foot suffix is dropped."""
    stem, _ = os.path.splitext(str(path))
    for suffix in ("_left", "_right"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    return stem + "_report.html"


# the push-off accelerates the foot before the gyro passes the swing threshold: the tilt there
# is not a heel height either, so the faint part of the line starts this much before liftoff
SWING_LEAD_MS = 150


def _swings(events, foot):
    """(start, landing) of each swing of one foot; stance_ms runs from a landing to the next liftoff."""
    steps = [e for e in events if e["type"] == "step" and e["foot"] == foot]
    out = [(a["t_ms"] + a["stance_ms"] - SWING_LEAD_MS, b["t_ms"]) for a, b in zip(steps, steps[1:])]
    if out:
        # the first swing's liftoff is not reported: take it as long as the others
        out.insert(0, (steps[0]["t_ms"] - statistics.median(b - a for a, b in out), steps[0]["t_ms"]))
    return out


def from_raw(recs, params=None, progress=None) -> ReportData:
    """Report data for raw recordings (in memory, or streams read as they go): the firmware detector
    run here, with its heel trace (thinned past detect.TRACE_POINTS_MAX points a foot)."""
    from calfwalk.analysis.pipeline import analyze_recordings

    summary, lines = analyze_recordings(recs, params, trace=True, progress=progress)
    traces = {foot: _foot_trace(line, summary["events"]) for foot, line in lines.items()}
    t0 = min(r.t_first for r in recs if r.t_first is not None)
    names = ", ".join(os.path.basename(r.path) for r in recs)
    return ReportData(summary, traces, f"raw recording(s) {names}, analysed with the firmware detector",
                      [r.path for r in recs], t0)


def _foot_trace(line, events) -> FootTrace:
    """The timeline's line for a pipeline Trace, faint over the foot's swings."""
    swing = _swings(events, line.foot) if line.kind == "heel_mm" else []
    return FootTrace(line.foot, line.kind, line.t_ms, line.level, swing)


def from_session(session, params=None) -> ReportData:
    """Report data for a session: the pods' own events; the heel trace from raw samples if recorded."""
    from calfwalk.analysis.pipeline import session_traces, summarise_session

    summary = summarise_session(session)
    events = summary["events"]
    lines, notes, maps = session_traces(session, summary, params)
    traces = {foot: _foot_trace(line, events) for foot, line in lines.items()}
    for foot in summary["feet"]:
        if foot in traces:
            continue
        steps = [e for e in events if e["type"] == "step" and e["foot"] == foot]
        heights = [np.nan if s.get("heel_mm") is None else float(s["heel_mm"]) for s in steps]
        kind = "step_heel_mm" if any(not math.isnan(h) for h in heights) else "none"
        traces[foot] = FootTrace(foot, kind, np.array([s["t_ms"] for s in steps], dtype=float),
                                 np.array(heights, dtype=float))
    starts = [p.t0 * maps[p.foot][0] + maps[p.foot][1] for p in session.pods.values()
              if p.t0 is not None and p.foot in maps]
    starts += [t.t_ms[0] for t in traces.values() if len(t.t_ms) and t.kind in ("heel_mm", "heel_pad")]
    if not starts:
        starts = [e["t_ms"] for e in events] or [0]
    raw_note = "heel trace from the raw samples" if any(
        t.kind in ("heel_mm", "heel_pad") for t in traces.values()) else "no raw samples"
    return ReportData(summary, traces, f"session {os.path.basename(session.path)} (events as the pods sent them; "
                      f"{raw_note})", [session.path], int(min(starts)), notes)


# ------------------------------------------------------------------ plots


def _steps(summary, foot=None):
    return [e for e in summary["events"] if e["type"] == "step" and (foot is None or e["foot"] == foot)]


def _contacts(summary, foot=None):
    return [e for e in summary["events"] if e["type"] == "heel_contact" and (foot is None or e["foot"] == foot)]


def _plot_timeline(axes, data: ReportData):
    """One axes per foot: the heel line with contacts, numbered landings, pauses and set bounds."""
    from matplotlib.transforms import blended_transform_factory

    s = data.summary
    t0 = data.t0_ms
    for ax, foot in zip(axes, s["feet"]):
        tr = data.traces.get(foot)
        colour = FOOT_COLOURS.get(foot, "black")
        steps = _steps(s, foot)
        top_y = None
        if tr is not None and tr.kind != "none" and len(tr.t_ms):
            x = (tr.t_ms - t0) / 1000.0
            y = tr.level.astype(float)
            if tr.kind == "heel_mm":
                in_swing = np.zeros(len(x), dtype=bool)
                for a, b in tr.swing:
                    in_swing |= (tr.t_ms >= a) & (tr.t_ms < b)
                ax.plot(x, y, color=colour, lw=0.6, alpha=0.2)
                ax.plot(x, np.where(in_swing, np.nan, y), color=colour, lw=1.3, label=f"{foot} heel height")
                stance = y[~in_swing & ~np.isnan(y)]
                tops = [st["heel_mm"] for st in steps if st.get("heel_mm") is not None]
                hi = max([float(np.percentile(stance, 99)) if len(stance) else 0.0] + tops + [20.0])
                lo = min([float(np.percentile(stance, 1)) if len(stance) else 0.0, 0.0])
                ax.set_ylim(lo - 0.1 * (hi - lo) - 5, hi * 1.25 + 5)
            elif tr.kind == "heel_pad":
                ax.plot(x, y, color=colour, lw=1.0, label=f"{foot} heel pad")
            else:  # step_heel_mm
                ax.plot(x, y, color=colour, lw=1.3, marker="o", ms=3, label=f"{foot} heel height per step")
                ax.set_ylim(min(0.0, np.nanmin(y)) - 5, np.nanmax(y) * 1.3 + 5)
            if tr.kind == "heel_mm" and np.isnan(y).all():
                ax.text(0.5, 0.5, "no heel height: the rise onto the toes was not seen", ha="center",
                        va="center", transform=ax.transAxes)
            if tr.kind in ("heel_mm", "step_heel_mm"):
                ax.axhline(0, color="#999999", lw=0.6)
                top_y = {st["n"]: st["heel_mm"] for st in steps if st.get("heel_mm") is not None}
        else:
            ax.set_yticks([])
        ax.set_ylabel(f"{foot}\n{Y_LABELS[tr.kind if tr else 'none']}")
        xform = blended_transform_factory(ax.transData, ax.transAxes)
        for i, c in enumerate(_contacts(s, foot)):
            a = (c["t_ms"] - t0) / 1000.0
            ax.axvspan(a, a + max(c["duration_ms"], 20) / 1000.0, color=CONTACT_COLOUR, alpha=0.3, lw=0,
                       label="heel contact" if i == 0 else None)
        for i, st in enumerate(steps):
            x_land = (st["t_ms"] - t0) / 1000.0
            ax.plot([x_land, x_land + st["pause_ms"] / 1000.0], [0.04, 0.04], transform=xform,
                    color=PAUSE_COLOUR, lw=4, solid_capstyle="butt", label="pause at the top" if i == 0 else None)
            if top_y is not None and st["n"] in top_y:
                ax.plot(x_land, top_y[st["n"]], marker="v", color="black", ms=6, ls="none",
                        label="landing (step no.)" if i == 0 else None)
                ax.annotate(str(st["n"]), (x_land, top_y[st["n"]]), xytext=(0, 6), textcoords="offset points",
                            ha="center", fontsize=7)
            else:
                ax.plot(x_land, 0.9, marker="v", color="black", ms=6, ls="none", transform=xform,
                        label="landing (step no.)" if i == 0 else None)
                ax.annotate(str(st["n"]), (x_land, 0.9), xycoords=xform, xytext=(0, 6), textcoords="offset points",
                            ha="center", fontsize=7)
        for e in s["events"]:
            if e["foot"] == foot and e["type"] in ("set_start", "set_end"):
                ax.axvline((e["t_ms"] - t0) / 1000.0, color="#888888", ls="--", lw=1)
        sets = [x for x in s.get("sets") or [] if isinstance(x, dict) and isinstance(x.get("start_ms"), (int, float))]
        if len(sets) > 1 and ax is axes[0]:
            for x in sets:
                ax.annotate(f"set {x.get('set_no', '?')}", ((x["start_ms"] - t0) / 1000.0, 1.0), xycoords=xform,
                            xytext=(3, -12), textcoords="offset points", fontsize=8, color="#555555")
        ax.grid(True, alpha=0.3)
        # above the axes, so it never hides the line or the step numbers
        _legend(ax, loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=7, ncol=4, frameon=False)
    ends = [int(tr.t_ms[-1]) for tr in data.traces.values() if len(tr.t_ms)] + [e["t_ms"] for e in s["events"]]
    if ends and max(ends) > t0:
        axes[-1].set_xlim(-0.01 * (max(ends) - t0) / 1000.0, (max(ends) - t0) / 1000.0 * 1.01 + 0.5)
    axes[-1].set_xlabel("time (s since the recording started)")
    axes[0].set_title("Timeline: heel per foot, heel contacts, steps and pauses", fontsize=11, loc="left")


def _legend(ax, **kwargs):
    """A legend only where something is labelled (matplotlib warns about an empty one)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**kwargs)


def _set_group(summary):
    """t_ms -> the set it belongs to, as the summary assigns it (0: between sets), so charts do not
    join sets across a rest."""
    from calfwalk.analysis.summary import set_no_at

    return lambda t_ms: set_no_at(summary, t_ms) or 0


def _trends(ax, rows):
    """A dashed linear trend per set through (x, y, group) rows."""
    labelled = False
    for g in sorted({r[2] for r in rows}):
        xs = [r[0] for r in rows if r[2] == g]
        ys = [r[1] for r in rows if r[2] == g]
        if len(xs) >= 3 and len(set(xs)) >= 2:
            k, b = np.polyfit(np.asarray(xs, float), np.asarray(ys, float), 1)
            xx = np.array([min(xs), max(xs)], float)
            ax.plot(xx, k * xx + b, color="black", ls="--", lw=1, label=None if labelled else "trend")
            labelled = True


def _plot_groups(ax, rows, colour, label):
    """Points (x, y, group) of one foot, a line within each set only."""
    for i, g in enumerate(sorted({r[2] for r in rows})):
        mine = [r for r in rows if r[2] == g]
        ax.plot([r[0] for r in mine], [r[1] for r in mine], marker="o", ms=4, lw=1, color=colour,
                label=label if i == 0 else None)


def _plot_stride_length(ax, summary):
    """Each step's stride (the foot's travel from landing to landing), as the pod measured it."""
    from calfwalk.analysis.summary import LIMITS

    group = _set_group(summary)
    rows = [(s["n"], s["foot"], s["stride_cm"], group(s["t_ms"])) for s in _steps(summary)
            if s.get("stride_cm") is not None]
    if not _per_step_axes(ax, "Stride length per step (the foot's travel)", "stride (cm)",
                          None if rows else "stride length needs an IMU (a gyroscope)"):
        return
    ax.axhline(LIMITS["stride_long_cm"], color=CONTACT_COLOUR, lw=1, ls="--",
               label=f"long stride (> {LIMITS['stride_long_cm']:.0f} cm)")
    for foot in summary["feet"]:
        _plot_groups(ax, [(r[0], r[2], r[3]) for r in rows if r[1] == foot], FOOT_COLOURS.get(foot, "black"), foot)
    _trends(ax, [(r[0], r[2], r[3]) for r in rows])
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7, loc="best")


def _per_step_axes(ax, title, ylabel, empty=None) -> bool:
    """A per-step chart's axes; with `empty` (why there is nothing to draw) that text alone, and False."""
    ax.set_title(title, fontsize=11, loc="left")
    ax.set_xlabel("step no.")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if empty:
        ax.text(0.5, 0.5, empty, ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([])
        ax.set_yticks([])
        return False
    return True


def _step_times(summary):
    """(step n, foot, ms since the same foot's previous landing in the same set, set group)."""
    group = _set_group(summary)
    out = []
    for foot in summary["feet"]:
        steps = _steps(summary, foot)
        out.extend((b["n"], foot, b["t_ms"] - a["t_ms"], group(b["t_ms"])) for a, b in zip(steps, steps[1:])
                   if group(a["t_ms"]) == group(b["t_ms"]))
    return sorted(out)


def _plot_step_time(ax, summary):
    from calfwalk.analysis.summary import LIMITS

    rows = _step_times(summary)
    contact_steps = {c.get("step") for c in _contacts(summary)}
    if not _per_step_axes(ax, "Step time per step (same foot, landing to landing)", "step time (ms)",
                          None if rows else "too few steps per foot to time steps"):
        return
    med = statistics.median(r[2] for r in rows)
    band = med * LIMITS["stride_dev_pct"] / 100
    ax.axhspan(med - band, med + band, color="#eeeeee", alpha=0.7, label=f"median ± {LIMITS['stride_dev_pct']:.0f}%")
    for foot in summary["feet"]:
        _plot_groups(ax, [(r[0], r[2], r[3]) for r in rows if r[1] == foot], FOOT_COLOURS.get(foot, "black"), foot)
    hit = [r for r in rows if r[0] in contact_steps]
    if hit:
        ax.plot([r[0] for r in hit], [r[2] for r in hit], ls="none", marker="o", ms=9, mfc="none",
                mec=CONTACT_COLOUR, mew=1.5, label="heel contact in the stance")
    _trends(ax, [(r[0], r[2], r[3]) for r in rows])
    _legend(ax, fontsize=7, loc="best")


def _plot_heel_per_step(ax, summary):
    from calfwalk.analysis.summary import LIMITS

    steps = [s for s in _steps(summary) if s.get("heel_mm") is not None]
    why = None if steps else ("no heel height: it needs an accelerometer" if _steps(summary) else "no steps detected")
    if not _per_step_axes(ax, "Heel height per step (at the top of the step)", "heel height (mm)", why):
        return
    group = _set_group(summary)
    for foot in summary["feet"]:
        _plot_groups(ax, [(s["n"], s["heel_mm"], group(s["t_ms"])) for s in steps if s["foot"] == foot],
                     FOOT_COLOURS.get(foot, "black"), foot)
    contact_steps = {c.get("step") for c in _contacts(summary)}
    hit = [s for s in steps if s["n"] in contact_steps]
    if hit:
        ax.plot([s["n"] for s in hit], [s["heel_mm"] for s in hit], ls="none", marker="o", ms=9, mfc="none",
                mec=CONTACT_COLOUR, mew=1.5, label="heel contact in the stance")
    first = summary["heel_height_mm"]["opening"]  # (None: too few steps for the heel-height rule)
    if first is not None:
        ax.axhline(first, color="#444444", lw=1, label=f"opening steps {first:.0f} mm")
        for pct, ls in ((LIMITS["fatigue_pass_pct"], ":"), (LIMITS["fatigue_warn_pct"], "-.")):
            ax.axhline(first * (1 - pct / 100), color="#888888", ls=ls, lw=1, label=f"{pct:.0f}% lower")
    _trends(ax, [(s["n"], s["heel_mm"], group(s["t_ms"])) for s in steps])
    ax.set_ylim(bottom=0)
    _legend(ax, fontsize=7, loc="lower left", ncol=2)


def _plot_rule_panel(ax, summary):
    ax.axis("off")
    ax.set_title("Against the guide", fontsize=11, loc="left")
    rules = summary["rules"]
    for i, r in enumerate(rules):
        y = 1 - (i + 0.5) / len(rules)
        ax.text(0.0, y, STATUS_TEXT[r["status"]], color=STATUS_COLOURS[r["status"]], fontsize=8,
                fontweight="bold", va="center", transform=ax.transAxes)
        ev = r["evidence"]
        ev_text = f"  (steps {', '.join(map(str, ev[:10]))}{' …' if len(ev) > 10 else ''})" if ev else ""
        ax.text(0.09, y, r["title"] + ev_text, fontsize=8, va="center", transform=ax.transAxes)
        ax.text(0.42, y, r["detail"], fontsize=8, va="center", color="#444444", transform=ax.transAxes)


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def render_figures(data: ReportData) -> dict:
    """PNG bytes of the page's figures: {"timeline": ..., "per_step": ...}."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    feet = data.summary["feet"]
    fig = Figure(figsize=(12, 2.8 * len(feet) + 0.6), layout="constrained")
    axes = fig.subplots(len(feet), 1, sharex=True, squeeze=False)[:, 0]
    _plot_timeline(list(axes), data)
    timeline = _png(fig)
    fig = Figure(figsize=(15, 4), layout="constrained")
    a1, a2, a3 = fig.subplots(1, 3)
    _plot_step_time(a1, data.summary)
    _plot_stride_length(a2, data.summary)
    _plot_heel_per_step(a3, data.summary)
    return {"timeline": timeline, "per_step": _png(fig)}


def render_png(data: ReportData, path) -> None:
    """One PNG with the rule verdicts, the timeline and the per-step charts, for sharing."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    s = data.summary
    feet = s["feet"]
    fig = Figure(figsize=(16, 3.6 + 2.6 * len(feet) + 3.8), layout="constrained")
    fig.suptitle(f"Dumbbell Walking Calf Raise: {headline(s)}", fontsize=12, x=0.01, ha="left")
    grid = fig.add_gridspec(2 + len(feet), 3, height_ratios=[3.6] + [2.6] * len(feet) + [3.8])
    _plot_rule_panel(fig.add_subplot(grid[0, :]), s)
    first = fig.add_subplot(grid[1, :])
    axes = [first] + [fig.add_subplot(grid[1 + i, :], sharex=first) for i in range(1, len(feet))]
    _plot_timeline(axes, data)
    _plot_step_time(fig.add_subplot(grid[-1, 0]), s)
    _plot_stride_length(fig.add_subplot(grid[-1, 1]), s)
    _plot_heel_per_step(fig.add_subplot(grid[-1, 2]), s)
    d = os.path.dirname(str(path))
    if d:
        os.makedirs(d, exist_ok=True)
    fig.savefig(str(path), format="png", dpi=100)


# ------------------------------------------------------------------ the page


def headline(s) -> str:
    """One line: steps, cadence, heel contacts, heel height."""
    hh = s["heel_height_mm"]
    return (f"{s['steps']} steps, cadence {fmt(s['cadence_spm'], ' steps/min')}, "
            f"{s['heel_contacts']} heel contact(s), heel height mean {fmt(hh['mean'], ' mm')}")


VALUE_TEXT = {
    "heels_high": lambda v: f"{v} contact(s)",
    "no_heel_crash": lambda v: f"{v} crash(es)",
    "short_even_steps": lambda v: f"CV {v * 100:.1f}%",
    "pause_at_top": lambda v: f"median {v:.0f} ms",
    "no_bounce": lambda v: f"{v} bouncy",
    "even_left_right": lambda v: f"{v}% apart",
    "heel_height_kept": lambda v: f"{v}% lower",
    "big_toe_push": lambda v: f"{v:.0f}% big-toe side",
    "heels_lowered_after_set": lambda v: "yes" if v else "not seen",
}


def _value_text(rule):
    v = rule["value"]
    if v is None:
        return "–"
    try:
        return VALUE_TEXT[rule["id"]](v)
    except (KeyError, TypeError, ValueError):
        return str(v)


def _esc(v) -> str:
    return html.escape(str(v), quote=True)


def _rule_card(s) -> str:
    rows = []
    for r in s["rules"]:
        st = r["status"]
        ev = ", ".join(map(str, r["evidence"])) or "–"
        rows.append(
            f'<tr class="rule {st}" data-rule="{_esc(r["id"])}" data-status="{st}">'
            f'<td class="title">{_esc(r["title"])}</td>'
            f'<td><span class="badge {st}">{STATUS_TEXT[st]}</span></td>'
            f'<td class="value">{_esc(_value_text(r))}</td>'
            f'<td>{_esc(r["detail"])}</td>'
            f'<td class="evidence">{_esc(ev)}</td>'
            f'<td class="cue">&ldquo;{_esc(r["cue"])}&rdquo;</td></tr>')
    counts = {k: sum(1 for r in s["rules"] if r["status"] == k) for k in STATUS_TEXT}
    tally = " · ".join(f'<span class="badge {k}">{n} {STATUS_TEXT[k]}</span>' for k, n in counts.items() if n)
    return (f'<section id="rule-card"><h2>Rule card against the guide</h2><p class="tally">{tally}</p>'
            '<table class="rules"><thead><tr><th>Rule</th><th>Verdict</th><th>Value</th><th>What the pod saw</th>'
            '<th>Steps (evidence)</th><th>The guide says</th></tr></thead><tbody>'
            + "".join(rows) + "</tbody></table></section>")


def _kv_table(rows, cls="numbers") -> str:
    body = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in rows)
    return f'<table class="{cls}">{body}</table>'


def _label(v):
    return v.replace("_", " ") if isinstance(v, str) else v


def _grid_table(header, rows, cls="grid") -> str:
    head = "".join(f"<th>{_esc(_label(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_esc(fmt(_label(c) if i == 0 else c))}</td>" for i, c in enumerate(row))
                   + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _numbers(s) -> str:
    hh = s["heel_height_mm"]
    cv = s["step_time_cv"]
    by_foot = ", ".join(f"{f} {n}" for f, n in s["steps_by_foot"].items())
    contacts_by_foot = ", ".join(f"{f} {sum(1 for c in _contacts(s, f))}" for f in s["feet"])
    rows = [
        ("steps", f"{s['steps']} ({by_foot})"),
        ("cadence", fmt(s["cadence_spm"], " steps/min")),
        ("step time CV", "–" if cv is None else f"{cv * 100:.1f}%"),
        ("heel contacts", f"{s['heel_contacts']} ({contacts_by_foot})"),
        ("heel height mean / min / max", f"{fmt(hh['mean'])} / {fmt(hh['min'])} / {fmt(hh['max'])} mm"),
        ("set duration", fmt(s["set_duration_s"], " s")),
        ("recording", fmt(s["duration_s"], " s")),
        ("sensors", ", ".join(f"{f} {v}" for f, v in s["sensors"].items())),
    ]
    out = '<section id="numbers"><h2>The set\'s numbers</h2>' + _kv_table(rows)
    if s.get("one_foot_note"):
        out += f'<p class="note">{_esc(s["one_foot_note"])}</p>'
    return out + "</section>"


def _contacts_table(s, t0_ms) -> str:
    cs = _contacts(s)
    if not cs:
        return '<section id="contacts"><h2>Heel contacts</h2><p>None: the heels stayed up.</p></section>'
    rows = [(c.get("step"), c["foot"], f"{(c['t_ms'] - t0_ms) / 1000:.2f}", c["duration_ms"],
             c.get("impact_mg"), c.get("load_pct")) for c in cs]
    return ('<section id="contacts"><h2>Heel contacts</h2>'
            + _grid_table(("step", "foot", "onset (s)", "duration (ms)", "impact (mg)", "heel load (%)"), rows)
            + "</section>")


def _flat(d, prefix=""):
    """Scalar items of a dict, one level of nesting flattened to 'outer inner'."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            for k2, v2 in v.items():
                if not isinstance(v2, (dict, list)):
                    out[f"{prefix}{k} {k2}"] = v2
        elif not isinstance(v, list):
            out[f"{prefix}{k}"] = v
    return out


SET_COLUMNS = (  # (header, getter(set, t0_ms)) for the per-set table; times on the timeline's axis
    ("set", lambda x, t0: x.get("set_no")),
    ("start (s)", lambda x, t0: None if x.get("start_ms") is None else round((x["start_ms"] - t0) / 1000, 2)),
    ("end (s)", lambda x, t0: None if x.get("end_ms") is None else round((x["end_ms"] - t0) / 1000, 2)),
    ("steps", lambda x, t0: x.get("steps")),
    ("heel contacts", lambda x, t0: x.get("heel_contacts")),
    ("cadence (steps/min)", lambda x, t0: x.get("cadence_spm")),
    ("step time CV", lambda x, t0: None if x.get("step_time_cv") is None else f"{x['step_time_cv'] * 100:.1f}%"),
    ("heel height mean (mm)", lambda x, t0: (x.get("heel_height_mm") or {}).get("mean")),
    ("rules failed / warned", lambda x, t0: None if not x.get("rules") else "{} / {}".format(
        sum(r.get("status") == "fail" for r in x["rules"]), sum(r.get("status") == "warn" for r in x["rules"]))),
)


def _sets_table(s, t0_ms) -> str:
    sets = [x for x in (s.get("sets") or []) if isinstance(x, dict)]
    if not sets:
        return ""
    cols = [(h, get) for h, get in SET_COLUMNS if any(get(x, t0_ms) is not None for x in sets)]
    rows = [[get(x, t0_ms) for _h, get in cols] for x in sets]
    return ('<section id="sets"><h2>Sets</h2><p class="note">Each set on its own; the rule card above '
            'covers the whole recording.</p>'
            + _grid_table([h for h, _g in cols], rows) + "</section>")


def _asymmetry_table(s) -> str:
    asym = s.get("asymmetry")
    if not isinstance(asym, dict) or not asym:
        return ""
    if all(isinstance(v, dict) for v in asym.values()):
        # {"left": {...}, "right": {...}} reads best with the feet as columns; {"metric": {...}} as rows
        if set(asym) <= {"left", "right", "diff", "diff_pct"}:
            cols = list(asym)
            metrics = []
            for v in asym.values():
                metrics.extend(k for k in _flat(v) if k not in metrics)
            rows = [[m] + [_flat(asym[c]).get(m) for c in cols] for m in metrics]
            table = _grid_table([""] + cols, rows)
        else:
            flats = {k: _flat(v) for k, v in asym.items()}
            cols = []
            for f in flats.values():
                cols.extend(k for k in f if k not in cols)
            table = _grid_table([""] + cols, [[k] + [f.get(c) for c in cols] for k, f in flats.items()])
    else:
        table = _kv_table(list(_flat(asym).items()), "grid")
    return '<section id="asymmetry"><h2>Left and right</h2>' + table + "</section>"


def _link_table(s) -> str:
    link = s.get("link")
    if not link:
        return ""
    rows = [(foot, st.get("port"), st.get("lines"), st.get("noise"), st.get("corrupt"), st.get("gaps"),
             st.get("reboots")) for foot, st in link.items()]
    out = ('<section id="link"><h2>Link health</h2>'
           + _grid_table(("pod", "port", "lines", "noise", "corrupt", "missing", "reboots"), rows))
    if s.get("session_damaged_lines"):
        out += f'<p class="note">session file: {s["session_damaged_lines"]} damaged line(s) skipped</p>'
    alignment = s.get("alignment")
    if isinstance(alignment, dict) and alignment.get("note"):
        out += f'<p class="note">clocks: {_esc(alignment["note"])}</p>'
    return out + "</section>"


def _figure(name, png, alt, caption) -> str:
    b64 = base64.b64encode(png).decode("ascii")
    return (f'<figure id="{name}"><img alt="{_esc(alt)}" src="data:image/png;base64,{b64}">'
            f"<figcaption>{_esc(caption)}</figcaption></figure>")


def _fatigue_caption(s) -> str:
    rule = next((r for r in s["rules"] if r["id"] == "heel_height_kept"), None)
    text = ("Each foot's step time and heel height at the top of each step, with a linear trend: "
            "heels sagging or steps slowing towards the end is fatigue. Red rings: a heel contact in that stance.")
    if rule and rule["status"] != "not_measured":
        text += f" Heel height: {rule['detail']} ({STATUS_TEXT[rule['status']]})."
    return text


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1240px;
padding:16px 24px;color:#1f2328;background:#fff}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.15em;margin:1.4em 0 .5em;border-bottom:1px solid #d0d7de}
.source{color:#57606a;margin:.2em 0 1em}
.tiles{display:flex;flex-wrap:wrap;gap:10px;margin:10px 0}
.tile{border:1px solid #d0d7de;border-radius:8px;padding:8px 14px;min-width:120px}
.tile b{display:block;font-size:1.4em}.tile span{color:#57606a;font-size:.85em}
table{border-collapse:collapse;margin:6px 0;font-size:.92em}
th,td{border:1px solid #d0d7de;padding:5px 8px;text-align:left;vertical-align:top}
thead th{background:#f6f8fa}
table.numbers th{background:#f6f8fa;font-weight:600}
table.rules td.cue{font-style:italic;color:#424a53;max-width:380px}
table.rules td.evidence{max-width:160px}
tr.rule.fail{background:#fdecec}tr.rule.warn{background:#fff8e6}tr.rule.not_measured{color:#6b7280}
.badge{display:inline-block;border-radius:10px;padding:1px 8px;font-weight:700;font-size:.85em;color:#fff;
white-space:nowrap}
.badge.pass{background:#1a7f37}.badge.warn{background:#b7791f}.badge.fail{background:#c62828}
.badge.not_measured{background:#8b949e;font-weight:400}
figure{margin:10px 0}figure img{max-width:100%;height:auto;border:1px solid #d0d7de}
figcaption{color:#57606a;font-size:.9em;margin-top:4px}
.note{color:#57606a;font-style:italic}
.cues li{margin:.3em 0}
"""

# marks the page once the browser has decoded the plots (the test reads it from the DOM)
SCRIPT = """
window.addEventListener('load', function () {
  var imgs = document.images, ok = 0;
  for (var i = 0; i < imgs.length; i++) { if (imgs[i].complete && imgs[i].naturalWidth > 0) { ok++; } }
  document.body.dataset.imagesOk = String(ok);
  document.body.dataset.imagesTotal = String(imgs.length);
});
"""


def build_html(data: ReportData, figures: dict) -> str:
    """The whole page as one string: inline CSS, base64 plots, nothing fetched."""
    s = data.summary
    hh = s["heel_height_mm"]
    tiles = [
        (s["steps"], "steps"),
        (fmt(s["cadence_spm"]), "steps/min"),
        (s["heel_contacts"], "heel contacts"),
        (fmt(hh["mean"], " mm"), "mean heel height"),
        (fmt(s["set_duration_s"], " s"), "set duration"),
    ]
    tile_html = "".join(f'<div class="tile"><b>{_esc(v)}</b><span>{_esc(k)}</span></div>' for v, k in tiles)
    cues = [r for r in s["rules"] if r["status"] in ("warn", "fail")]
    cue_html = ""
    if cues:
        cue_html = ('<section id="cues"><h2>From the guide</h2><ul class="cues">'
                    + "".join(f'<li><b>{_esc(r["title"])}</b> (steps {_esc(", ".join(map(str, r["evidence"])) or "–")}): '
                              f'{_esc(r["cue"])}</li>' for r in cues) + "</ul></section>")
    kinds = []
    for foot in s["feet"]:
        tr = data.traces.get(foot)
        k = tr.kind if tr else "none"
        if k not in kinds:
            kinds.append(k)
    timeline_caption = " ".join(CAPTIONS[k] for k in kinds) + " " + MARKS_CAPTION
    notes = "".join(f'<p class="note">{_esc(n)}</p>' for n in data.notes)
    made = time.strftime("%Y-%m-%d %H:%M")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>calfwalk report: {_esc(os.path.basename(data.inputs[0]))}</title>
<style>{CSS}</style></head>
<body>
<h1>Dumbbell Walking Calf Raise: set report</h1>
<p class="source">{_esc(data.source)}. Made {made} by calfwalk.</p>
<div class="tiles">{tile_html}</div>
{notes}
{_rule_card(s)}
{cue_html}
<section id="plots"><h2>Timeline</h2>
{_figure("timeline", figures["timeline"], "timeline of heel height per foot", timeline_caption)}
<h2>Per step: fatigue</h2>
{_figure("per-step", figures["per_step"], "step time and heel height per step", _fatigue_caption(s))}
</section>
{_numbers(s)}
{_sets_table(s, data.t0_ms)}
{_asymmetry_table(s)}
{_contacts_table(s, data.t0_ms)}
{_link_table(s)}
<script>{SCRIPT}</script>
</body></html>
"""


def write_report(data: ReportData, out_html, png_path=None) -> None:
    """Write the HTML page (and the PNG when asked)."""
    page = build_html(data, render_figures(data))
    d = os.path.dirname(str(out_html))
    if d:
        os.makedirs(d, exist_ok=True)
    with open(out_html, "w", encoding="utf-8") as fh:
        fh.write(page)
    if png_path:
        render_png(data, png_path)
