"""Several sets in one recording: no start command, each set found by the pod, split in the summary."""

from __future__ import annotations

from calfwalk.sim.simulate import SimConfig, simulate
from calfwalk.analysis.summary import set_spans, summarise

from helpers import TOUCH_STEP

# three_sets: tests/conftest.py; through the calfwalk command: tests/e2e/test_sets_cli.py

def test_simulated_three_sets_truth(three_sets):
    paths, truth = three_sets
    assert truth["steps_total"] == 30 and len(truth["sets"]) == 3
    for k, s in enumerate(truth["sets"]):
        assert sum(len(f["steps"]) for f in s["feet"].values()) == 10
        assert [c["step"] for f in s["feet"].values() for c in f["heel_contacts"]] == [TOUCH_STEP]
        if k:  # rest: from the heels down to the next rise, about rest_s
            prev = truth["sets"][k - 1]["feet"]["left"]["set_end_ms"]
            assert 14_000 <= s["feet"]["left"]["set_start_ms"] - prev <= 16_500


def test_one_set_simulation_is_unchanged_by_the_sets_option():
    cfg = SimConfig(steps=6, seed=3)
    one, first_of_three = simulate(cfg), simulate(cfg, sets=3, rest_s=10)
    n = len(one["left"]["data"])
    assert (first_of_three["left"]["data"][:n, 1:] == one["left"]["data"][:, 1:]).all()  # set 1 is the same set
    assert len(first_of_three["left"]["data"]) > 3 * n
    assert "sets" not in one["truth"]


def test_set_spans_merge_the_feet_and_skip_the_rests():
    def ev(kind, foot, t):
        e = {"type": kind, "foot": foot, "t_ms": t}
        if kind == "step":
            e.update(stance_ms=1500, heel_mm=60, pause_ms=500, peaks=1, med_pct=None, step_no=1)
        return e

    events = sorted([
        ev("calibrated", "left", 500), ev("set_start", "left", 1000), ev("set_start", "right", 1010),
        ev("step", "right", 2000), ev("step", "left", 3000), ev("set_end", "right", 5000), ev("set_end", "left", 5020),
        ev("calibrated", "left", 8000),
        ev("set_start", "right", 20000), ev("set_start", "left", 20005), ev("step", "right", 21000),
        ev("set_end", "left", 25000), ev("set_end", "right", 25100),
        ev("set_start", "left", 40000), ev("step", "left", 41000),  # cut off: no set_end
    ], key=lambda e: e["t_ms"])
    spans = set_spans(events)
    assert [(s["start_ms"], s["end_ms"]) for s in spans] == [(1000, 5020), (20000, 25100), (40000, None)]
    s = summarise(events, ["left", "right"], {"left": "imu", "right": "imu"}, 60)
    assert [x["steps"] for x in s["sets"]] == [2, 1, 1]
    assert [x["end_ms"] for x in s["sets"]] == [5020, 25100, None]
    # a recording that began mid-set: steps with no set_start open a set at the first of them
    late = [ev("step", "left", 100), ev("step", "left", 2100), ev("set_end", "left", 4000)]
    assert [(x["start_ms"], x["end_ms"]) for x in set_spans(late)] == [(100, 4000)]
