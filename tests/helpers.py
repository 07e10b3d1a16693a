"""Helpers the tests share: paths of the repository, tools, simulated sets (import them from here;
conftest.py holds only pytest's fixtures and settings)."""

from __future__ import annotations

import json
import os
import shutil
import struct
import sys
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# ../shared (the guide and real recordings); absent in a bare clone, tests using it skip
SHARED_DATA = Path(os.environ.get("CALFWALK_SHARED", ROOT.parent / "shared")) / "data"
FIRMWARE = ROOT / "firmware"
BOARDS = ROOT / "boards"


def tool(name: str) -> str | None:
    """A console tool installed next to this Python (the venv), else on PATH."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    return shutil.which(name)


def simulate_set(tmp_path, name="set", **kw):
    """Write a simulated set; returns (paths of raw files, truth dict)."""
    from calfwalk.sim.simulate import HeelTouch, SimConfig, write_simulation

    touches = [t if isinstance(t, HeelTouch) else HeelTouch(*t) for t in kw.pop("heel_touches", [])]
    cfg = SimConfig(heel_touches=touches, **kw)
    paths = write_simulation(cfg, str(tmp_path / name))
    with open(paths[-1]) as fh:
        truth = json.load(fh)
    return paths[:-1], truth


# three sets of 10 steps in one recording (tests/conftest.py's `three_sets`), a heel touch at person step
# TOUCH_STEP of every set (that step is the left foot's)
THREE = dict(steps=10, cadence_spm=60, pause_ms=300, mount="random", noise=1.0, sensor="imu", seed=17)
TOUCH_STEP = 4


def write_three_sets(directory):
    """A two-foot recording of three sets of THREE, 15 s rest (heels down, standing) between them:
    (paths of the raw files, truth dict)."""
    from calfwalk.sim.simulate import HeelTouch, SimConfig, write_simulation

    cfg = SimConfig(heel_touches=[HeelTouch(TOUCH_STEP, 300, 1500)], **THREE)
    paths = write_simulation(cfg, str(Path(directory) / "w"), sets=3, rest_s=15)
    with open(paths[-1]) as fh:
        truth = json.load(fh)
    return paths[:-1], truth


def torn_copy(path, dest, cut):
    """A copy of a raw file whose last line is cut after `cut` characters (a crash mid-line): dest."""
    text = open(path).read()
    last = text.rstrip("\n").rsplit("\n", 1)[1]
    Path(dest).write_text(text.rstrip("\n")[: -len(last)] + last[:cut])
    return dest


def spiky_copy(path, dest):
    """A copy of a raw IMU file with 12 bursts of 1-5 samples with 1-3 columns at +-2e9 (a broken sensor
    read), the same on every run: (dest, the 0-based line indexes changed, in order)."""
    import numpy as np

    lines = open(path).read().splitlines()
    first_row = next(i for i, line in enumerate(lines) if line.startswith("t_ms")) + 1
    rng = np.random.default_rng(5)
    bursts = []
    for _ in range(12):
        i, n = first_row + int(rng.integers(500, len(lines) - first_row - 300)), int(rng.integers(1, 6))
        for c in rng.choice(np.arange(1, 7), int(rng.integers(1, 4)), replace=False):
            for j in range(i, i + n):
                v = lines[j].split(",")
                v[c] = str(2_000_000_000 if rng.random() < 0.5 else -2_000_000_000)
                lines[j] = ",".join(v)
        bursts.append((i, n))
    Path(dest).write_text("\n".join(lines) + "\n")
    return dest, sorted({j for i, n in bursts for j in range(i, i + n)})


# serial ports as pyserial lists them (device, USB VID, PID, description): two boards, two others
PICO = ("/dev/ttyACM0", 0x2E8A, 0x0005, "Board in FS mode")
NANO = ("/dev/ttyACM1", 0x2341, 0x025E, "Nano RP2040 Connect")
MOUSE = ("/dev/ttyUSB9", 0x046D, 0xC077, "not a board")
PLAIN = ("/dev/ttyS0", None, None, "n/a")


def fake_comports(*devs):
    """A stand-in for serial.tools.list_ports.comports listing `devs` (as PICO above)."""
    from types import SimpleNamespace

    return lambda: [SimpleNamespace(device=d, vid=v, pid=p, description=desc) for d, v, p, desc in devs]


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Page(HTMLParser):
    """What the tests need from a report page: rule rows, images, links and the text."""

    def __init__(self, text):
        super().__init__()
        self.rules = {}  # id -> {"status", "cells": [text per td]}
        self.images = []  # src of every <img>
        self.urls = []  # every src/href attribute
        self.sections = []
        self.text = []
        self._row = None
        self._cell = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("src", "href"):
            if key in a:
                self.urls.append(a[key])
        if tag == "img":
            self.images.append(a.get("src", ""))
        if tag == "section":
            self.sections.append(a.get("id"))
        if tag == "tr" and "data-rule" in a:
            self._row = self.rules.setdefault(a["data-rule"], {"status": a.get("data-status"), "cells": []})
        if tag == "td" and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row["cells"].append("".join(self._cell).strip())
            self._cell = None
        if tag == "tr":
            self._row = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def png_size(data: bytes):
    assert data[:8] == PNG_MAGIC, "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def clean_steps(events):
    """Steps with no heel contact starting in their stance (there the heel leaves the top)."""
    contacts = [e for e in events if e["type"] == "heel_contact"]
    return [e for e in events if e["type"] == "step" and not any(
        c["foot"] == e["foot"] and e["t_ms"] <= c["t_ms"] <= e["t_ms"] + e["stance_ms"] for c in contacts)]


def history_counts(db):
    """(sets, steps): the rows of a history file's two tables."""
    import sqlite3

    with sqlite3.connect(db) as conn:
        return tuple(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("sets", "steps"))


def db_sets(db):
    """The sets a history file holds (History.sets)."""
    from calfwalk.output.history import History

    with History.open(db) as h:
        return h.sets()


def db_steps(db):
    """The steps a history file holds (History.steps)."""
    from calfwalk.output.history import History

    with History.open(db) as h:
        return h.steps()


# the fault campaign (tests/unit/link/test_fault_campaign.py, tests/e2e/test_fault_campaign_cli.py)
FAULT_SPEED = 8  # replay speed: a 30-step set (15 of this foot) in about 5 s
FAULT_SEEDS = (1, 2)
FAULT_LOG = ROOT / "build" / "fault-campaign.jsonl"


def check_fault_session(session, scenario: str, seed: int, truth: dict, extra=None) -> dict:
    """The fault campaign's promise for a session recorded from one pod replaying a clean left-foot set
    (`truth`: the simulator's) while something failed, and one line of what was lost in FAULT_LOG.

    The session is read with the package's reader (files/session.py read_session); what it must hold
    comes from the set walked, not from a second reading of the file: the pod numbers its steps within
    a set (step_no 1, 2, ...) and says how many a set had (set_end steps=), so every step up to the
    highest number it sent (or its set_end's count) is in the summary, or marked unknown where lines
    were lost; no set has more steps than were walked; a clean set has no heel contact, and no fault
    makes an uneven-steps verdict. Returns the summary.
    """
    from calfwalk.analysis.pipeline import summarise_session
    from calfwalk.files.session import read_session

    s = read_session(session)  # readable
    summary = summarise_session(s)
    pods = [pod for pod in s.pods.values() if pod.foot is not None]
    assert [pod.foot for pod in pods] == ["left"], [pod.foot for pod in s.pods.values()]
    pod = pods[0]
    steps = [e for e in pod.events if e["type"] == "step"]
    assert summary["steps"] == summary["steps_by_foot"]["left"] == len(steps)  # every step read is counted
    assert not [e for e in pod.events if e["type"] == "heel_contact"]  # a clean set
    # the pod's count, set by set: a set ends at its set_end, or where the numbers start again (a reboot)
    counted, high = [], 0
    for e in pod.events:
        if e["type"] == "step":
            if e["step_no"] <= high:
                counted.append(high)
                high = 0
            high = e["step_no"]
        elif e["type"] == "set_end":
            counted.append(max(high, e["steps"]))
            high = 0
        elif e["type"] == "set_start" and high:
            counted.append(high)
            high = 0
    counted.append(high)
    walked = len(truth["feet"]["left"]["steps"])
    assert max(counted) <= walked, (counted, walked)
    seen, unknown = summary["steps_by_foot"]["left"], summary["steps_unknown_by_foot"]["left"]
    lost_lines = summary["damage"]["lines_lost"].get("left", 0)
    # the pod's own count, every step accounted for: seen, or marked unknown
    assert seen + unknown >= sum(counted), (seen, unknown, counted)
    if unknown:
        assert lost_lines > 0 or summary["session_damaged_lines"] > 0
    severe = [r["id"] for r in summary["rules"] if r["status"] in ("warn", "fail")
              and r["id"] in ("short_even_steps", "even_left_right")]
    assert not severe, f"{severe}: a fault made a verdict (clean sets are even)"
    record = {"scenario": scenario, "seed": seed, "steps_seen": summary["steps"],
              "steps_unknown": summary["steps_unknown"], "pod_counted": sum(counted),
              "lines_lost": sum(summary["damage"]["lines_lost"].values()),
              "session_damaged_lines": summary["session_damaged_lines"], **(extra or {})}
    FAULT_LOG.parent.mkdir(exist_ok=True)
    with FAULT_LOG.open("a") as fh:
        fh.write(json.dumps(record) + "\n")
    return summary


def private_attributes(path) -> list:
    """`obj._name` reads of another object's private attributes in a source file, as "LINE: obj._name"
    (self._x and cls._x are the object's own; dunders and os._exit are public)."""
    import ast

    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or not node.attr.startswith("_") or node.attr.startswith("__"):
            continue
        owner = ast.unparse(node.value)
        if owner in ("self", "cls") or f"{owner}.{node.attr}" == "os._exit":
            continue
        found.append(f"{node.lineno}: {owner}.{node.attr}")
    return found


def host_env(**extra) -> dict:
    """This process's environment with the checkout's host/ first on PYTHONPATH (a calfwalk started
    in a child process runs this code), plus `extra`."""
    env = dict(os.environ, **extra)
    env["PYTHONPATH"] = str(ROOT / "host") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def descendants(pid: int) -> list:
    """Every live descendant of pid, from /proc."""
    kids = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            kids.setdefault(int(fields[1]), []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out
