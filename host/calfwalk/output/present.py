"""Print a set summary for a person (rich) or as JSON."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager

STATUS_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "not_measured": "dim"}
STATUS_TEXT = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "not_measured": "not measured"}


def to_json(summary: dict) -> str:
    return json.dumps(summary, indent=2, sort_keys=False)


def print_json(summary: dict, out=None) -> None:
    """`print(to_json(summary))`, the same text, written a piece at a time: a long set's JSON (tens of
    MB, and many times that while json builds it whole) is never held at once."""
    out = out if out is not None else sys.stdout
    pieces: list = []
    size = 0
    for piece in json.JSONEncoder(indent=2, sort_keys=False).iterencode(summary):
        pieces.append(piece)
        size += len(piece)
        if size >= 1 << 16:
            out.write("".join(pieces))
            pieces, size = [], 0
    pieces.append("\n")
    out.write("".join(pieces))


def fmt(v, unit="", digits=None):
    """A figure as text: "-" when unknown; a float to `digits` places when given, else as it is."""
    if v is None:
        return "-"
    if digits is not None and isinstance(v, float):
        return f"{v:.{digits}f}{unit}"
    return f"{v}{unit}"


# work on at least this many samples gets a progress bar (about 2 s of the detector's replay)
PROGRESS_MIN_SAMPLES = 250_000
# or raw files of at least this many bytes (about 250,000 samples of an IMU)
PROGRESS_MIN_BYTES = 10_000_000


@contextmanager
def progress(total: int, what: str, min_total: int = PROGRESS_MIN_SAMPLES):
    """A progress bar on stderr for long work: yields a callback taking how many more units are done.

    Below `min_total` units, or when stderr is no terminal, it shows nothing. The bar refreshes
    from the callback, not from a thread of its own (work may fork worker processes meanwhile).
    """
    if total < min_total or not sys.stderr.isatty():
        yield lambda n: None
        return
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn(),
                   console=make_console(stderr=True), transient=True, auto_refresh=False)
    task = bar.add_task(what, total=total)

    def step(n):
        bar.advance(task, n)
        bar.refresh()

    with bar:
        yield step


def make_console(**kwargs):
    """A rich Console whose closed pipe (`calfwalk ... | head`) raises BrokenPipeError, which the
    command turns into a quiet exit 0; rich's own handling exits with code 1."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError

    return _Console(**kwargs)


def print_summary(summary: dict, console=None) -> None:
    """The set's numbers, then the rule card against the guide."""
    from rich.table import Table

    if console is None:
        console = make_console()
        if not console.is_terminal:
            console = make_console(width=120)  # a file or pipe: do not wrap the rule card at 80 columns
    by_foot = ", ".join(f"{f} {n}" for f, n in summary["steps_by_foot"].items())
    hh = summary["heel_height_mm"]
    console.print(f"[bold]Dumbbell Walking Calf Raise[/bold] — {summary['steps']} steps ({by_foot})")
    cv = summary["step_time_cv"]
    cv_text = "-" if cv is None else f"{cv * 100:.1f}%"
    n_sets = len(summary.get("sets") or ())
    span = f"set {fmt(summary['set_duration_s'], ' s')}" if n_sets <= 1 else (
        f"{n_sets} sets over {fmt(summary['set_duration_s'], ' s')}")
    console.print(
        f"{span} (recording {summary['duration_s']} s), "
        f"cadence {fmt(summary['cadence_spm'], ' steps/min')}, stride time CV {cv_text}"
    )
    console.print(
        f"heel contacts {summary['heel_contacts']}, heel height mean {fmt(hh['mean'], ' mm')} "
        f"(min {fmt(hh['min'])}, max {fmt(hh['max'])})"
    )
    sl = summary.get("stride_cm")
    if sl:
        lcv = "-" if sl["cv"] is None else f"{sl['cv'] * 100:.1f}%"
        console.print(
            f"stride length {fmt(sl['mean'], ' cm')} (min {fmt(sl['min'])}, max {fmt(sl['max'])}, CV {lcv}), "
            f"distance walked {fmt(summary.get('distance_m'), ' m')}"
        )
    elif any(v in ("acc", "acc+fsr") for v in (summary.get("sensors") or {}).values()):
        console.print("stride length not measured: an accelerometer-only pod has no gyroscope to follow the swing")
    if summary.get("one_foot_note"):
        console.print(f"[dim]{summary['one_foot_note']}[/dim]")
    if summary.get("steps_unknown"):
        by = ", ".join(f"{f} {n}" for f, n in summary.get("steps_unknown_by_foot", {}).items() if n)
        console.print(f"[yellow]{summary['steps_unknown']} step(s) unknown ({by}): the pod counted them, their lines "
                      "were lost or damaged; no rule is judged on them[/yellow]")
    if summary.get("asymmetry"):
        console.print(asymmetry_text(summary["asymmetry"]))
    if summary.get("alignment"):
        console.print(f"[dim]{alignment_text(summary['alignment'])}[/dim]")
    if len(summary.get("sets") or ()) > 1:
        console.print(sets_table(summary["sets"]))
    table = Table(title="Against the guide")
    table.add_column("rule")
    table.add_column("verdict")
    table.add_column("what the pod saw")
    table.add_column("steps")
    for r in summary["rules"]:
        ev = r["evidence"]
        ev_text = ", ".join(map(str, ev[:12])) + (" …" if len(ev) > 12 else "")
        style = STATUS_STYLE[r["status"]]
        table.add_row(r["title"], f"[{style}]{STATUS_TEXT[r['status']]}[/{style}]", r["detail"], ev_text)
    console.print(table)
    cues = [r for r in summary["rules"] if r["status"] in ("warn", "fail")]
    if cues:
        console.print("[bold]From the guide:[/bold]")
        for r in cues:
            console.print(f"  • {r['title']}: {r['cue']}")


def _lr(fig, unit="", nd=0, pct=True):
    def one(v):
        return "-" if v is None else (f"{v:.{nd}f}" if isinstance(v, float) else str(v))
    apart = fig["asymmetry_pct"]
    tail = f" ({apart:.1f}% apart)" if pct and apart is not None else ""
    return f"{one(fig['left'])}/{one(fig['right'])}{unit}{tail}"


def asymmetry_text(asym: dict) -> str:
    """One line of left/right figures: L/R values and how far apart they are."""
    return ("left/right: steps " + _lr(asym["steps"], pct=False)
            + ", step time " + _lr(asym["step_time_ms"], " ms")
            + ", heel height " + _lr(asym["heel_height_mm"], " mm")
            + ", heel contacts " + _lr(asym["heel_contacts"], pct=False)
            + " (" + _lr(asym["heel_contacts_per100"], nd=1, pct=False) + " per 100 steps)")


def alignment_text(al: dict) -> str:
    """How the pods' clocks were put on one timeline, in one line."""
    drift = ", ".join(f"{foot} {p['drift_ppm']:+.0f} ppm" for foot, p in al.get("pods", {}).items()
                      if p.get("drift_ppm") is not None)
    extra = []
    if drift:
        extra.append(f"clock drift {drift}")
    if al.get("residual_spread_ms") is not None:
        extra.append(f"line arrival spread (p95) {al['residual_spread_ms']:.0f} ms")
    return f"timeline: {al['note']}" + (f" ({'; '.join(extra)})" if extra else "")


def sets_table(sets: list):
    """One row per set: its steps, heel contacts, heel height, pace and the rules it did not pass."""
    from rich.table import Table

    table = Table(title=f"{len(sets)} sets")
    for col in ("set", "starts", "length", "steps", "heel contacts", "heel mm (mean)", "cadence /min",
                "stride CV", "not passed"):
        table.add_column(col)
    for st in sets:
        by_foot = "/".join(str(n) for n in st["steps_by_foot"].values())
        steps = f"{st['steps']}" + (f" ({by_foot})" if len(st["steps_by_foot"]) > 1 else "")
        cv = "-" if st["step_time_cv"] is None else f"{st['step_time_cv'] * 100:.1f}%"
        length = "cut off" if st["end_ms"] is None else f"{(st['end_ms'] - st['start_ms']) / 1000:.0f} s"
        bad = "; ".join(f"{STATUS_TEXT[status]} " + ", ".join(r["title"] for r in st["rules"] if r["status"] == status)
                        for status in ("fail", "warn") if any(r["status"] == status for r in st["rules"]))
        table.add_row(f"Set {st['set_no']}", f"{st['start_ms'] / 1000:.0f} s", length, steps, str(st["heel_contacts"]),
                      fmt(st["heel_height_mm"]["mean"]), fmt(st["cadence_spm"]), cv, bad or "-")
    return table


def print_link(summary):
    """Link health per pod, and what the session file lost, one line each."""
    for foot, st in summary["link"].items():
        print(f"link {foot} ({st['port']}): {st['lines']} lines, {st['noise']} noise, {st['corrupt']} corrupt, "
              f"{st['gaps']} missing, {st['reboots']} reboot(s)")
    if summary.get("session_damaged_lines") or summary.get("session_damage"):
        print(f"session file: {summary['session_damaged_lines']} damaged line(s) skipped")
        for what in summary.get("session_damage", [])[:5]:
            print(f"  {what}")


class EventPrinter:
    """Plain progress for `record`: one line per event and note."""

    def on_line(self, pod, line, event):
        if line.kind == "C":
            from calfwalk.output.live import cue_text
            from calfwalk.files.protocol import cue_from_line

            cue = cue_from_line(line, pod.foot or f"pod{pod.index}")
            if cue is not None:
                print(f"  {cue['foot']:>5} {cue['t_ms'] / 1000:7.2f} s  cue: {cue_text(cue)}", file=sys.stderr)
            return
        if event is None or event["type"] == "calibrated":
            return
        extra = ""
        if event["type"] == "step":
            extra = f" #{event['step_no']} heel {event['heel_mm']} mm, pause {event['pause_ms']} ms"
        elif event["type"] == "heel_contact":
            extra = f" HEEL CONTACT {event['duration_ms']} ms, impact {event['impact_mg']} mg"
        print(f"  {event['foot']:>5} {event['t_ms'] / 1000:7.2f} s  {event['type']}{extra}", file=sys.stderr)

    def on_note(self, pod, text):
        print(f"  pod{pod.index} ({pod.port}): {text}", file=sys.stderr)
