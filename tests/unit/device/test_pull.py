"""The pod's own log (device/podlog.py) under the MicroPython unix port, and the dates of its sets.

A full log stops logging with a log_full event and cue while the pod keeps counting; a pulled set's
date comes from the pod's uptime, its boots and its clock syncs. Walking without a PC and
`calfwalk pull` (the pulled sets equal `calfwalk analyze` on the same raw file, nothing stored twice,
an interrupted pull resumed, two pods pulled separately paired): tests/e2e/test_pull_cli.py.
"""

from __future__ import annotations

import subprocess

import pytest

from calfwalk.device.podlog import BootTime, ClockMap, Listing, read_log_dir

from helpers import BOARDS, FIRMWARE

pytestmark = pytest.mark.usefixtures("micropython")


def test_a_full_log_stops_with_log_full_and_the_pod_keeps_counting(micropython, tmp_path, two_sets):
    raw, truth = two_sets
    out = subprocess.run([micropython, str(FIRMWARE / "main.py"), str(BOARDS / "unix.json"), f"replay={raw}",
                          "replay_speed=0", "autostart=true", "exit_at_end=true", f"log={tmp_path / 'log'}",
                          "log_kb=2"], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    full = [i for i, line in enumerate(lines) if ",E,log_full," in line]
    cue = [i for i, line in enumerate(lines) if ",C,log_full," in line]
    assert len(full) == 1 and len(cue) == 1 and cue[0] > full[0]
    # counting went on: both sets ended with all their steps, after the log filled
    ends = [line for line in lines if ",E,set_end," in line]
    steps = len(truth["feet"]["left"]["steps"])
    assert len(ends) == 2 and sum(int(e.split("steps=")[1].split("*")[0]) for e in ends) == steps
    assert lines.index(ends[-1]) > full[0]
    assert ",log=full*" in [line for line in lines if ",S," in line][-1]
    # what is on flash is whole, and within the cap
    files = read_log_dir(tmp_path / "log")
    assert sum((tmp_path / "log" / n).stat().st_size for n in files) <= 2 * 1024
    assert all(torn == 0 for _r, torn in files.values())


def test_dates_from_uptime_boots_and_syncs():
    pc = 1_800_000_000.0
    listing = Listing(sets=[], totals={}, boots={
        3: {"last": 600_000, "utc_ms": -1, "at": 0},  # ran 10 min, never synced
        4: {"last": 1_200_000, "utc_ms": int((pc - 7200) * 1000), "at": 60_000},  # synced a minute in
        5: {"last": 300_000, "utc_ms": -1, "at": 0},  # ran 5 min, never synced
        6: {"last": 90_000, "utc_ms": -1, "at": 0},  # now: 100 s up
    })
    clock = ClockMap.build(6, 100_000, pc, 0.01, listing)
    t, c = clock.date(6, 40_000)  # this boot: exact, to the link and the drift
    assert c["kind"] == "exact" and t == pytest.approx(pc - 60) and c["error_s"] < 0.05
    t, c = clock.date(4, 60_000)  # a synced boot: exact too
    assert c["kind"] == "exact" and t == pytest.approx(pc - 7200)
    # boot 5 began after boot 4 ended (boot 4 began at pc-7260 and ran 1200 s) and no later than boot 6
    # began (pc-100) less its own 300 s
    t, c = clock.date(5, 0)
    assert c["kind"] == "bounded" and t == pytest.approx(pc - 400)
    assert c["spread_s"] == pytest.approx((pc - 400) - (pc - 7260 + 1200))
    t, c = clock.date(3, 0)  # before the oldest sync: no later than boot 4's start less its 600 s
    assert c["kind"] == "latest" and t == pytest.approx(pc - 7260 - 600)
    assert clock.date(1, 0)[0] is None  # a boot older than anything the log holds
    assert isinstance(clock.boots[5], BootTime)


