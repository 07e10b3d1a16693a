"""Print a set summary for a person (rich) or as JSON."""

from __future__ import annotations

import json

STATUS_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "not_measured": "dim"}
STATUS_TEXT = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "not_measured": "not measured"}


def to_json(summary: dict) -> str:
    return json.dumps(summary, indent=2, sort_keys=False)


def _fmt(v, unit=""):
    return "-" if v is None else f"{v}{unit}"


def print_summary(summary: dict, console=None) -> None:
    """The set's numbers, then the rule card against the guide."""
    from rich.console import Console
    from rich.table import Table

    if console is None:
        console = Console()
        if not console.is_terminal:
            console = Console(width=120)  # a file or pipe: do not wrap the rule card at 80 columns
    by_foot = ", ".join(f"{f} {n}" for f, n in summary["steps_by_foot"].items())
    hh = summary["heel_height_mm"]
    console.print(f"[bold]Dumbbell Walking Calf Raise[/bold] — {summary['steps']} steps ({by_foot})")
    cv = summary["step_time_cv"]
    cv_text = "-" if cv is None else f"{cv * 100:.1f}%"
    console.print(
        f"set {_fmt(summary['set_duration_s'], ' s')} (recording {summary['duration_s']} s), "
        f"cadence {_fmt(summary['cadence_spm'], ' steps/min')}, stride time CV {cv_text}"
    )
    console.print(
        f"heel contacts {summary['heel_contacts']}, heel height mean {_fmt(hh['mean'], ' mm')} "
        f"(min {_fmt(hh['min'])}, max {_fmt(hh['max'])})"
    )
    if summary.get("one_foot_note"):
        console.print(f"[dim]{summary['one_foot_note']}[/dim]")
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
