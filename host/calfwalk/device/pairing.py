"""Two pods pulled separately, one two-foot set: pair a left and a right pulled set.

A pod walked without a PC logs its sets on its own clock (uptime and boot counter);
`calfwalk pull` dates them (podlog.ClockMap) with a certainty. When the left and the
right pod are pulled separately, each foot's sets arrive on their own. A left set and
a right set are one two-foot set when

- **they overlap in time**: on the PC's clock, each set's span (set_start to set_end)
  overlaps the other's by at least MIN_OVERLAP of the shorter one, *however* their
  dates are off within their certainty (the worst case). Where they could overlap that
  much but need not (a date only known as "no later than", or a large drift), the
  clocks are too uncertain: reported, not paired;
- **their step rhythm agrees**: the two feet of one person take their strides at the
  same pace, so each foot's median stride (same-foot landing to landing) is within
  RHYTHM_TOL of the other's;
- **nothing else fits**: the left set has exactly one such right set and that right set
  exactly one such left set (counting sets already paired and sets whose clocks are too
  uncertain). Two candidates are reported, not guessed.

A pair is written as a two-pod session file (`pair-….cwlog` in `pulled/`, both sets'
lines), with the left-right offset the clocks give (`#pair_offset_ms`, right onto left,
and its uncertainty `#pair_sd_ms`). Its summary is a live two-pod session's (align.py
refines the offset from the step timing, within the clocks' uncertainty, as it does
live): both feet, asymmetry. In the history the two one-foot sets become that one
two-foot set in one transaction; their own rows are kept in `set_parts`, so pulling
either again stores nothing (history.py). The pairing (time overlap, the clocks'
uncertainty, the rhythm) is in the set's summary under "pairing".
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from calfwalk.analysis.align import QUANT_MS, _floor_spacing, _same_pace

MIN_OVERLAP = 0.5  # of the shorter set's span
RHYTHM_TOL = 0.10  # the feet's median strides this far apart (share of their mean) are not one walk
MIN_SPAN_S = 1.0  # a shorter set counts as this long for the overlap share
FEET = ("left", "right")


# ------------------------------------------------------------------ a set's time on the PC's clock

def _event_t(payload: str):
    for f in payload.split(",")[1:]:
        if f.startswith("t="):
            try:
                return int(f[2:])
            except ValueError:
                return None
    return None


def set_timing(records, clock) -> dict:
    """When a pulled set was walked, on the PC's clock, and how sure (JSON-ready).

    Events carry the pod's sample clock (`t=`), records the pod's uptime when logged. On a
    pod sampling in real time the two run at one pace and an event is logged no sooner
    than it happens, so the smallest uptime - t is the sample clock's offset (as align.py
    does for live lines). A replay faster than real time (podsim --speed) has no such
    offset: its set spans the uptimes of its set_start and last records.

    {"start_unix", "end_unix": the span; "anchor_t_ms": the sample time at start_unix;
    "anchor_host_ms": the same moment in the set's session file (ms after its first record);
    "early_s"/"late_s": how much earlier/later the true span may lie (early_s None: any
    amount); "real_time"; "kind" and "text" of the date}, or {"kind": "unknown", ...}.
    """
    evs = [(r, _event_t(r.payload)) for r in records if r.kind == "E"]
    evs = [(r, t) for r, t in evs if t is not None]
    if not evs:
        return {"kind": "unknown", "text": "no timed event"}
    start = next(((r, t) for r, t in evs if r.payload.startswith("set_start,")), evs[0])
    end = next(((r, t) for r, t in reversed(evs) if r.payload.startswith("set_end,")), evs[-1])
    (r0, t0), (r1, t1) = start, end
    same = [(r, t) for r, t in evs if r.boot == r0.boot]
    real = _same_pace(t1 - t0, r1.up - r0.up)
    if real:
        # a step is logged at the next lift-off; set_start, heel contacts and set_end as they are found
        prompt = [(r, t) for r, t in same if not r.payload.startswith("step,")] or same
        lags = sorted(r.up - t for r, t in prompt)
        lag_s = _floor_spacing([x - lags[0] for x in lags]) / 1000.0
        up0, up1 = t0 + lags[0], t1 + lags[0]
    else:
        lag_s = QUANT_MS / 1000.0
        up0, up1 = r0.up, max(r0.up, r1.up)
    when, certainty = clock.date(r0.boot, up0)
    if when is None:
        return {"kind": "unknown", "text": certainty["text"]}
    kind = certainty["kind"]
    if kind == "exact":
        early = late = certainty["error_s"] + lag_s
    elif kind == "bounded":
        early, late = certainty["spread_s"] + lag_s, lag_s
    else:  # "latest": no earlier bound
        early, late = None, lag_s
    return {"start_unix": round(when, 4), "end_unix": round(when + (up1 - up0) / 1000.0, 4),
            "anchor_t_ms": t0, "anchor_host_ms": up0 - records[0].up,
            "early_s": None if early is None else round(early, 4), "late_s": round(late, 4),
            "real_time": real, "kind": kind, "text": certainty["text"]}


# ------------------------------------------------------------------ one candidate pair

@dataclass
class PulledSet:
    """A pulled one-foot set as the pairing sees it."""

    key: str  # its key in the history (podlog.set_digest)
    foot: str
    timing: dict
    landings_ms: list  # its steps' landings, on its own sample clock
    row_id: int | None = None  # its row in the history while it is a set of its own
    paired_in: int | None = None  # the two-foot set it is part of
    pod_set: int | None = None
    path: str = ""  # its session file
    row: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        where = f"#{self.row_id}" if self.row_id is not None else f"in two-foot set #{self.paired_in}"
        return f"{self.foot} pod set {self.pod_set if self.pod_set is not None else '?'} ({where})"

    @property
    def timed(self) -> bool:
        return "start_unix" in self.timing

    @property
    def span_s(self) -> float:
        return self.timing["end_unix"] - self.timing["start_unix"]


def stride_ms(landings) -> float | None:
    """One foot's median stride (landing to landing of the same foot), the rests between sets left out;
    None with fewer than three landings."""
    ts = sorted(landings)
    iv = [b - a for a, b in zip(ts, ts[1:]) if b > a]
    if len(iv) < 2:
        return None
    med = statistics.median(iv)
    return float(statistics.median([x for x in iv if x <= 1.5 * med]))


def _overlap(a0, a1, b0, b1, d) -> float:
    """Seconds that [a0, a1] and [b0 + d, b1 + d] share (d may be ±inf)."""
    if math.isinf(d):
        return 0.0
    return max(0.0, min(a1, b1 + d) - max(a0, b0 + d))


def overlap_range(a: dict, b: dict) -> tuple:
    """(nominal, worst, best) seconds two dated spans overlap, each date off by as much as its certainty allows."""
    a0, a1, b0, b1 = a["start_unix"], a["end_unix"], b["start_unix"], b["end_unix"]
    inf = math.inf

    def e(v):
        return inf if v is None else v

    # d = (b's error) - (a's error): b may lie from early_b + late_a earlier to late_b + early_a later
    lo, hi = -(e(b["early_s"]) + a["late_s"]), b["late_s"] + e(a["early_s"])
    # piecewise linear in d: extremes at the ends of the range or where an end meets an end
    inside = [d for d in (a0 - b0, a1 - b1) if lo <= d <= hi]
    at = [_overlap(a0, a1, b0, b1, d) for d in (lo, hi, *inside)]
    return _overlap(a0, a1, b0, b1, 0.0), min(at), max([*at, _overlap(a0, a1, b0, b1, 0.0)])


def clock_bound_s(t: dict) -> float | None:
    """How far a set's date may be off, either way (None: without bound)."""
    return None if t.get("early_s") is None else max(t["early_s"], t["late_s"])


def match(a: PulledSet, b: PulledSet) -> dict:
    """How well two sets of different feet fit: time overlap, the clocks' certainty, rhythm; and a status:
    match | uncertain (they may overlap, the clocks cannot say) | rhythm (overlap, other pace) |
    few_steps (overlap, too few steps to compare) | apart."""
    nominal, worst, best = overlap_range(a.timing, b.timing)
    shorter = max(MIN_SPAN_S, min(a.span_s, b.span_s))
    sa, sb = stride_ms(a.landings_ms), stride_ms(b.landings_ms)
    diff = None if sa is None or sb is None else abs(sa - sb) / ((sa + sb) / 2)
    out = {"overlap_s": round(nominal, 2), "overlap_pct": round(100 * nominal / shorter, 1),
           "overlap_worst_pct": round(100 * worst / shorter, 1), "overlap_best_pct": round(100 * best / shorter, 1),
           "clock_s": {a.foot: clock_bound_s(a.timing), b.foot: clock_bound_s(b.timing)},
           "stride_ms": {a.foot: sa, b.foot: sb}, "rhythm_diff_pct": None if diff is None else round(100 * diff, 1)}
    if best < MIN_OVERLAP * shorter:
        status = "apart"
    elif diff is None:
        status = "few_steps"
    elif diff > RHYTHM_TOL:
        status = "rhythm"
    elif worst >= MIN_OVERLAP * shorter:
        status = "match"
    else:
        status = "uncertain"
    out["status"] = status
    return out


def _clock_text(m: dict) -> str:
    parts = []
    for foot in FEET:
        if foot in m["clock_s"]:
            b = m["clock_s"][foot]
            parts.append(f"{foot} ±{b:.2f} s" if b is not None else f"{foot} unbounded (no later than)")
    return ", ".join(parts)


def describe(m: dict) -> str:
    """One line: how sure a pairing is."""
    s = m["stride_ms"]
    rhythm = (f"strides {s['left']:.0f} / {s['right']:.0f} ms ({m['rhythm_diff_pct']:.1f} % apart)"
              if m["rhythm_diff_pct"] is not None else "too few steps to compare the rhythm")
    worst = (f", at worst {m['overlap_worst_pct']:.0f} %" if m["overlap_pct"] - m["overlap_worst_pct"] >= 1 else "")
    return (f"overlap {m['overlap_s']:.1f} s ({m['overlap_pct']:.0f} % of the shorter{worst}); "
            f"clocks {_clock_text(m)}; {rhythm}")


# ------------------------------------------------------------------ deciding

@dataclass
class Outcome:
    """What became of one pulled set: action pair | alone | ambiguous | uncertain | failed."""

    action: str
    set: PulledSet
    partner: PulledSet | None = None
    match: dict | None = None
    text: str = ""
    pair_id: int | None = None  # the two-foot set (action pair)
    alignment: dict | None = None


def decide(new: list, every: list) -> list:
    """The outcome of each set in `new` (those not paired yet), given `every` pulled set the history holds.

    Pure: no history, no files. A "pair" outcome names the partner; the caller makes the pair.
    """
    out = []
    taken = set()  # keys paired by an earlier outcome of this call
    for s in new:
        if s.paired_in is not None or s.key in taken:
            continue
        if not s.timed:
            out.append(Outcome("uncertain", s, text=f"{s.label}: not paired, its date is unknown "
                                                   f"({s.timing.get('text', '')}): kept as one foot"))
            continue
        others = [o for o in every if o.foot != s.foot and o.timed]
        scored = [(o, match(s, o)) for o in others]
        fits = [(o, m) for o, m in scored if m["status"] in ("match", "uncertain")]
        near = [(o, m) for o, m in scored if m["status"] in ("rhythm", "few_steps")]
        if not fits:
            why = "no set of the other foot overlaps it"
            if near:
                o, m = near[0]
                why = (f"{o.label} overlaps it but {'its rhythm differs' if m['status'] == 'rhythm' else 'too few steps'}"
                       f" ({describe(m)})")
            out.append(Outcome("alone", s, match=near[0][1] if near else None,
                               text=f"{s.label}: kept as one foot: {why}"))
            continue
        if len(fits) > 1:
            names = "; ".join(f"{o.label}: {describe(m)}" for o, m in fits)
            out.append(Outcome("ambiguous", s, text=f"{s.label}: not paired, {len(fits)} sets of the other foot "
                                                    f"could be its partner ({names}): kept as one foot"))
            continue
        o, m = fits[0]
        if m["status"] == "uncertain":
            out.append(Outcome("uncertain", s, o, m, text=f"{s.label}: not paired, the clocks are too uncertain to "
                                                          f"say it overlaps {o.label} ({describe(m)}): kept as one foot"))
            continue
        if o.paired_in is not None or o.key in taken:
            out.append(Outcome("ambiguous", s, o, m, text=f"{s.label}: not paired, it fits {o.label}, which is "
                                                          f"already paired with another set: kept as one foot"))
            continue
        rivals = [r for r in every if r.foot == s.foot and r.key != s.key and r.timed
                  and match(r, o)["status"] in ("match", "uncertain")]
        if rivals:
            names = ", ".join(r.label for r in rivals)
            out.append(Outcome("ambiguous", s, o, m, text=f"{s.label}: not paired, {o.label} fits it and also "
                                                          f"{names}: kept as one foot"))
            continue
        taken.update((s.key, o.key))
        out.append(Outcome("pair", s, o, m))
    return out


def clock_offset(left: PulledSet, right: PulledSet) -> tuple:
    """(ms to add to the right set's sample times to put them on the left's, its uncertainty in ms (1 sigma),
    method): through both sets' dates; "pod_clocks" (offset 0) when a pod did not sample in real time."""
    lt, rt = left.timing, right.timing
    if not (lt["real_time"] and rt["real_time"]):
        return 0.0, None, "pod_clocks"
    offset = lt["anchor_t_ms"] + (rt["start_unix"] - lt["start_unix"]) * 1000.0 - rt["anchor_t_ms"]
    sd = math.sqrt((clock_bound_s(lt) * 1000) ** 2 + (clock_bound_s(rt) * 1000) ** 2 + QUANT_MS ** 2)
    return offset, sd, "pod_dates"


# ------------------------------------------------------------------ making a pair

def pair_digest(left_key: str, right_key: str) -> str:
    return hashlib.sha256(f"calfwalk paired set\n{left_key}\n{right_key}\n".encode()).hexdigest()


def _records(path):
    """(host_ms, text) of the rx records of a one-pod session file (every record checked)."""
    from calfwalk.files.session import MAGIC, SessionError, _checked_record

    out = []
    try:
        with open(path, encoding="utf-8", errors="backslashreplace", newline="\n") as fh:
            if fh.readline().rstrip("\n") != MAGIC:
                raise SessionError(f"{path}: not a calfwalk session file")
            for text in fh:
                text = text.rstrip("\n")
                if text.startswith("#"):
                    continue
                rec = _checked_record(text, True)
                parts = rec.split("\t", 3) if rec else []
                if len(parts) == 4 and parts[0] == "rx" and parts[1].isdigit():
                    out.append((int(parts[1]), parts[3]))
    except OSError as exc:
        raise SessionError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return out


def write_pair_session(path: Path, left: PulledSet, right: PulledSet, offset_ms: float, sd_ms, method: str,
                       started_utc: str) -> None:
    """Both sets' lines in one two-pod session file (pod0 left, pod1 right), on the PC's clock, written aside
    then moved into place. align.py reads #pair_offset_ms / #pair_sd_ms / #pair_method (see align_pulled_pair)."""
    from calfwalk.files.session import MAGIC, RECORD_CRC, record_line, write_session_lines

    t0 = min(p.timing["start_unix"] - p.timing["anchor_host_ms"] / 1000.0 for p in (left, right))
    lines = [MAGIC, f"#started_utc={started_utc}", f"#pod0={left.path}", f"#pod1={right.path}",
             f"#records={RECORD_CRC}", f"#pulled_pair={left.key[:16]}+{right.key[:16]}",
             f"#pair_method={method}", f"#pair_offset_ms={offset_ms:.1f}"]
    if sd_ms is not None:
        lines.append(f"#pair_sd_ms={sd_ms:.1f}")
    recs = []
    for idx, p in enumerate((left, right)):
        shift = round((p.timing["start_unix"] - t0) * 1000.0 - p.timing["anchor_host_ms"])
        recs += [(ms + shift, idx, k, text) for k, (ms, text) in enumerate(_records(p.path))]
    recs.sort()
    lines += [record_line("rx", ms, idx, text) for ms, idx, _k, text in recs]
    write_session_lines(path, lines)


def _from_row(row: dict, paired_in=None) -> PulledSet | None:
    try:
        s = json.loads(row["summary"]) if isinstance(row["summary"], str) else row["summary"]
    except (TypeError, ValueError):
        return None
    clock = s.get("pod_clock") or {}
    timing = clock.get("timing")
    if not isinstance(timing, dict):
        return None  # pulled by a calfwalk that did not keep the timing: never paired
    lands = [e["t_ms"] for e in s.get("events", []) if e.get("type") == "step"]
    return PulledSet(row["source_digest"], row["feet"], timing, lands, None if paired_in else row.get("id"),
                     paired_in, clock.get("set_id"), row["source_path"].split(";")[0], row)


def pulled_sets(h) -> list:
    """Every pulled one-foot set the history holds, on its own or as part of a two-foot set."""
    out = [_from_row(r) for r in h.pulled_one_foot()]
    out += [_from_row(p["row"], p["set_id"]) for p in h.parts() if p["foot"] in FEET]
    return [p for p in out if p is not None]


def pair_pulled(db_path, keys, folder) -> list:
    """Pair each set of `keys` (just pulled) with its other foot where one fits; the outcomes, in order."""
    from calfwalk.output.history import History, HistoryError, set_rows
    from calfwalk.files.session import SessionError, read_session
    from calfwalk.analysis.pipeline import summarise_session

    with History.open(db_path) as h:
        every = pulled_sets(h) if h is not None else []
    by_key = {p.key: p for p in every}
    new = [by_key[k] for k in keys if k in by_key]
    outcomes = decide(new, every)
    for oc in outcomes:
        if oc.action != "pair":
            continue
        left, right = sorted((oc.set, oc.partner), key=lambda p: FEET.index(p.foot))
        offset, sd, method = clock_offset(left, right)
        digest = pair_digest(left.key, right.key)
        started = min(left.row["recorded_utc"], right.row["recorded_utc"])
        stamp = started.replace("-", "").replace(":", "").rstrip("Z")
        path = Path(folder) / f"pair-{stamp}-{digest[:16]}.cwlog"
        try:
            write_pair_session(path, left, right, offset, sd, method, started)
            summary = summarise_session(read_session(path))
        except (SessionError, OSError) as exc:
            oc.action, oc.text = "failed", f"{oc.set.label}: not paired with {oc.partner.label}: {exc}"
            continue
        rows = set_rows(summary, digest, "pulled", str(path), started)
        if len(rows) != 1 or set(rows[0][0]["feet"].split(",")) != set(FEET):
            oc.action = "failed"
            oc.text = (f"{oc.set.label}: not paired with {oc.partner.label}: on one timeline they make "
                       f"{len(rows)} sets, not one: kept as one foot each")
            path.unlink(missing_ok=True)
            continue
        row, steps = rows[0]
        info = {"left": {"key": left.key, "pod_set": left.pod_set, "was": left.row_id, "session": left.path},
                "right": {"key": right.key, "pod_set": right.pod_set, "was": right.row_id, "session": right.path},
                **oc.match, "clock_offset_ms": round(offset, 1), "clock_sd_ms": None if sd is None else round(sd, 1),
                "clock_method": method}
        one = json.loads(row["summary"])
        one["pairing"] = info
        one["alignment"] = summary.get("alignment")
        one["pod_clock"] = {f: p.row and json.loads(p.row["summary"]).get("pod_clock") for f, p in
                            (("left", left), ("right", right))}
        row["summary"] = json.dumps(one)
        oc.alignment = summary.get("alignment")
        try:
            with History.open(db_path, write=True) as h:
                made = h.pair(row, steps, [left.row, right.row])
        except HistoryError as exc:
            oc.action, oc.text = "failed", f"{oc.set.label}: not paired with {oc.partner.label}: {exc}"
            continue
        oc.pair_id = made["id"]
        left.paired_in = right.paired_in = made["id"]
        oc.text = pair_text(left, right, made["id"], oc.match, oc.alignment)
    return outcomes


def pair_text(left: PulledSet, right: PulledSet, pair_id: int, m: dict, alignment: dict | None) -> str:
    a = alignment or {}
    how = ""
    if a.get("lr_uncertainty_ms") is not None:
        how = f"; left-right aligned to ±{a['lr_uncertainty_ms']:.0f} ms"
        if a.get("lr_step_offset_ms") is not None:
            how += f" (right landings {a['lr_step_offset_ms']:+.0f} ms from the middle of the left ones)"
    elif a.get("method") == "pulled_pod_clocks":
        how = "; " + a.get("note", "")
    return (f"paired: {left.label} + {right.label} -> two-foot set #{pair_id}: {describe(m)}{how}")
