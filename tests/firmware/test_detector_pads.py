"""A pads-only pod that never stood still: walking from its first sample.

A pod's pads learn their levels from a still stand. A recording that begins mid-walk
(gaitpdb's files do) has none: the detector waits half a second for one, then goes on
with default levels a few hundredths of a stance's load above the lowest reading. Three
things went wrong there, each found on gaitpdb and each built here as a small walk:

- the first landing fell inside the wait and was lost;
- a toe that drags off and on through the swing stayed above the default level, so the
  swing never read as one (the forefoot's loaded level is now learned from the stances);
- a stance on the heel alone, the forefoot barely loaded, was no landing (the heel pad's
  load lands a foot too).
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np

from calfwalk.analysis.detect import detect
from calfwalk.eval import robustness
from calfwalk.files.rawfile import RawRecording, write_raw
from calfwalk.sim.simulate import simulate

from helpers import FIRMWARE, ROOT

REPLAY = ROOT / "tests" / "mpy" / "detect_replay.py"

HZ = 100
STANCE_MS = 650
SWING_MS = 450
PERIOD_MS = STANCE_MS + SWING_MS


def walk(strides, start_ms=0, heel=15000, fore=20000, drag=0, heel_only=(), noise=0, seed=0):
    """One foot's pads (t_ms, heel, medial, lateral counts), the file starting start_ms into a stance.

    A stance loads the heel over its first 60 %, the forefoot over its last 80 %; a swing is
    clear of the floor but for a toe that drags: `drag` counts tapering off after toe-off and
    back before the landing, the sole clear only in the swing's middle fifth (90 ms).
    """
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(int((strides * PERIOD_MS - start_ms) * HZ / 1000)):
        t = i * 1000 // HZ
        k, ph = divmod(t + start_ms, PERIOD_MS)
        f = fore * (0.03 if k in heel_only else 1.0)
        if ph < STANCE_MS:
            h = heel * math.sin(math.pi * ph / (0.6 * STANCE_MS)) if ph < 0.6 * STANCE_MS else 0.0
            x = (ph - 0.2 * STANCE_MS) / (0.8 * STANCE_MS)
            fo = max(f * math.sin(math.pi * x) if 0 <= x <= 1 else 0.0, drag)
        else:
            x = (ph - STANCE_MS) / SWING_MS
            h, fo = 0.0, drag * max(0.0, 1 - x / 0.4, (x - 0.6) / 0.4)
        n = rng.integers(-noise, noise + 1, 3) if noise else (0, 0, 0)
        rows.append((t, max(0, int(h) + n[0]), max(0, int(fo * 0.6) + n[1]), max(0, int(fo * 0.4) + n[2])))
    return np.array(rows, dtype=np.int64)


def landings(strides, start_ms=0):
    """Landing times in the file: each stance's start after the first sample."""
    return [k * PERIOD_MS - start_ms for k in range(strides) if k * PERIOD_MS - start_ms > 0]


def run(data):
    return detect(RawRecording("left", "fsr", HZ, data))


def run_rec(rec):
    return detect(RawRecording(rec["foot"], rec["sensor"], rec["rate_hz"], rec["data"]))


def steps(events):
    return [e for e in events if e["type"] == "step"]


def test_a_walk_from_the_first_sample_counts_its_first_landing():
    # the file starts 300 ms into a stance: the foot lifts, and lands 800 ms in, inside the
    # half second the pod waits for a stand (before: 8 steps, the first landing lost)
    events = run(walk(10, start_ms=300))
    assert len(steps(events)) == len(landings(10, 300)) == 9
    kinds = [e["type"] for e in events]
    cal, start = events[kinds.index("calibrated")], events[kinds.index("set_start")]
    assert cal["heel_ref"] == 0  # no stand was learned: the default levels
    # the events stay in time order: the wait ended where the swing began
    assert cal["t_ms"] <= start["t_ms"] < 800


def test_a_landing_inside_the_wait_starts_the_set_there():
    # the foot lifts at once and lands 350 ms in: before the wait is over
    events = run(walk(6, start_ms=550))
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["calibrated", "set_start"]
    assert len(steps(events)) == len(landings(6, 550))


def test_a_stand_is_learned_not_walked():
    # sweep set 60 at seed 1000 as a pads-only pod (50 Hz, pads wandering with the walker's
    # sway): a stand's readings never fall to a quarter of its load, so nothing in it reads as
    # a swing. A first version read every rise off the stand's lowest reading as a load and the
    # stand as a walk: calibrated at once, default levels, 1 step of 13.
    d = robustness.draw(60, 1000, "fsr")
    sim = simulate(d.cfg)
    events = run_rec(sim["left"])
    assert events[0]["type"] == "calibrated" and events[0]["heel_ref"] > 0
    assert len(steps(events)) == len(sim["truth"]["feet"]["left"]["steps"]) == 13


def test_a_toe_that_drags_through_the_swing_does_not_hide_it():
    # the toe touches at 3000 counts, 15 % of a stance's forefoot load but far above the
    # default level: the forefoot's loaded level, learned from the stances, reads it as a
    # swing (before: 1 step of 11)
    events = run(walk(12, drag=3000))
    assert len(steps(events)) == len(landings(12)) == 11


def test_a_stance_on_the_heel_alone_is_a_landing():
    # two stances bear 3 % on the forefoot (a walker turning on the heel): the heel pad's
    # load is the landing (before: those two steps lost once the forefoot's level was learned)
    events = run(walk(12, heel_only=(4, 5)))
    assert len(steps(events)) == len(landings(12)) == 11


def test_the_same_walk_with_noise_counts_the_same():
    events = run(walk(12, start_ms=300, drag=2000, noise=150, seed=4))
    assert len(steps(events)) == len(landings(12, 300))


def test_the_walk_from_the_first_sample_runs_alike_under_micropython_with_the_heap_locked(micropython, tmp_path):
    path = tmp_path / "walk.csv"
    write_raw(path, "left", "fsr", HZ, walk(12, start_ms=300, drag=3000, heel_only=(6,)))
    out = {}
    for name, exe in (("micropython", micropython), ("cpython", sys.executable)):
        proc = subprocess.run([exe, str(REPLAY), str(FIRMWARE), str(path), "heaplock"], capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
        out[name] = proc.stdout.splitlines()
    assert out["micropython"] == out["cpython"]
    assert out["micropython"][-1].endswith(",alloc_fail,0")
    assert sum(line.startswith("step,") for line in out["micropython"]) == len(landings(12, 300))
