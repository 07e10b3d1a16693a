"""Live terminal view of a set while it is recorded (rich)."""

from __future__ import annotations

import time

CUE_TITLES = {"heel": "HEEL DOWN", "fade": "HEELS SAGGING — calves fading",
              "log_full": "POD LOG FULL — `calfwalk pull` to make room (the pod keeps counting)"}


def cue_text(cue: dict) -> str:
    """One line saying what a pod cue (protocol.cue_from_line) means and how it was given."""
    title = CUE_TITLES.get(cue["kind"], cue["kind"])
    if cue["kind"] == "heel" and "onset_ms" in cue:
        detail = f"{cue['t_ms'] - cue['onset_ms']} ms after the heel touched"
    elif cue["kind"] == "fade" and "heel_mm" in cue:
        detail = f"step {cue.get('step_no', '?')}: heel {cue['heel_mm']} mm, opening steps {cue.get('open_mm', '?')} mm"
    else:
        detail = ""
    outputs = [name for name in ("led", "buzzer") if cue.get(name)]
    how = "+".join(outputs) if outputs else "no LED/buzzer on this pod"
    return f"{title} ({detail}; {how})" if detail else f"{title} ({how})"


class LiveView:
    """Steps per foot, heel contacts (flashing), the pod's cues (flashing), cadence, heel height, elapsed time."""

    FLASH_S = 1.5

    def __init__(self, console=None):
        from rich.console import Console

        self.console = console or Console()
        self.t_start = time.monotonic()
        self.feet = {}
        self.log = []
        self.notes = []
        self.warnings = []
        self._live = None

    def _foot(self, name):
        return self.feet.setdefault(name, {"steps": 0, "contacts": 0, "heel_mm": None, "lands": [],
                                           "flash_until": 0.0, "state": "?", "link": "clean",
                                           "cue": None, "cue_until": 0.0, "heel_cue": None, "cues": 0})

    def on_line(self, pod, line, event):
        foot = self._foot(pod.foot or f"pod{pod.index}")
        foot["link"] = pod.checker.stats.trouble()
        if line.kind == "C":
            self._on_cue(pod, foot, line)
        if line.kind == "S":
            kv = line.kv()
            foot["state"] = kv.get("state", "?")
            try:
                h = int(kv.get("heel_mm", "-1"))
                foot["heel_mm"] = h if h >= 0 else None
            except ValueError:
                pass
        if event is not None:
            kind = event["type"]
            if kind == "step":
                foot["steps"] += 1
                foot["lands"].append(event["t_ms"])
                if event.get("heel_mm") is not None:
                    foot["heel_mm"] = event["heel_mm"]
            elif kind == "heel_contact":
                foot["contacts"] += 1
                foot["flash_until"] = time.monotonic() + self.FLASH_S
                self.log.append(f"{pod.foot}: HEEL CONTACT at {event['t_ms'] / 1000:.1f} s "
                                f"({event['duration_ms']} ms)")
            elif kind in ("set_start", "set_end"):
                self.log.append(f"{pod.foot}: {kind.replace('_', ' ')} at {event['t_ms'] / 1000:.1f} s")
                last = foot["heel_cue"]
                if kind == "set_end" and last is not None and last.get("onset_ms") == event["t_ms"]:
                    # within 100 ms the pod cannot tell the final lowering from a fault
                    self.log.append(f"{pod.foot}: (the last HEEL DOWN cue was the heels lowering to end the set)")
        self.refresh()

    def _on_cue(self, pod, foot, line):
        from calfwalk.files.protocol import cue_from_line

        cue = cue_from_line(line, pod.foot or f"pod{pod.index}")
        if cue is None:
            return
        foot["cues"] += 1
        foot["cue"] = cue["kind"]
        foot["cue_until"] = time.monotonic() + self.FLASH_S
        if cue["kind"] == "heel":
            foot["heel_cue"] = cue
        self.log.append(f"{cue['foot']}: cue {cue_text(cue)} at {cue['t_ms'] / 1000:.1f} s")

    def on_note(self, pod, text):
        self.log.append(f"pod{pod.index}: {text}")
        if text.startswith("warning:"):  # e.g. the pod's firmware is not this calfwalk's: stays on screen
            self.warnings.append(f"pod{pod.index} ({pod.port}): {text}")
        self.refresh()

    def render(self):
        from rich.table import Table

        elapsed = time.monotonic() - self.t_start
        table = Table(title=f"calfwalk live — {elapsed:5.1f} s")
        for col in ("foot", "state", "steps", "heel contacts", "heel mm", "cadence /min", "cue", "link"):
            table.add_column(col)
        now = time.monotonic()
        for name, f in sorted(self.feet.items()):
            lands = f["lands"][-6:]
            cad = "-"
            if len(lands) >= 2:
                cad = f"{2 * 60000 * (len(lands) - 1) / (lands[-1] - lands[0]):.0f}"
            contacts = str(f["contacts"])
            if now < f["flash_until"]:
                contacts = f"[bold white on red] {contacts} HEEL! [/]"
            cue = "-"
            if f["cue"] is not None and now < f["cue_until"]:
                style = "bold white on red" if f["cue"] == "heel" else "bold black on yellow"
                cue = f"[{style}] {CUE_TITLES.get(f['cue'], f['cue'])} [/]"
            elif f["cues"]:
                cue = f"{f['cues']} given"
            table.add_row(name, f["state"], str(f["steps"]), contacts,
                          "-" if f["heel_mm"] is None else str(f["heel_mm"]), cad, cue, f["link"])
        from rich.console import Group
        from rich.text import Text

        parts = [Text(w, style="bold yellow") for w in self.warnings[-2:]]
        return Group(*parts, table, Text("\n".join(self.log[-6:])))

    def refresh(self):
        if self._live is not None:
            self._live.update(self.render())

    def __enter__(self):
        from rich.live import Live

        self._live = Live(self.render(), console=self.console, refresh_per_second=8, transient=False)
        self._live.__enter__()
        return self

    def __exit__(self, *exc):
        self._live.__exit__(*exc)
        self._live = None
