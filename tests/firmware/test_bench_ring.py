"""bench/vpico.py's ring model: the app's sample ring fed at 200 Hz, drained at measured costs."""

from __future__ import annotations

import importlib.util

from helpers import ROOT


def _vpico():
    spec = importlib.util.spec_from_file_location("bench_vpico", ROOT / "bench" / "vpico.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _period_instr(v):
    # instructions that take one 200 Hz sample period (5 ms) on the pessimistic RP2040 estimate
    return 5000 / (v.CYCLES_PER_INSTR[1] / v.RP2040_MHZ)


def test_a_long_sample_backs_the_ring_up_and_a_small_ring_drops():
    v = _vpico()
    p = _period_instr(v)
    # sample 1 takes 3.2 periods: samples 2, 3 and 4 arrive while it runs and wait (2 and 3 are
    # free, so they are taken together when it ends); at sample 4's arrival 2 wait, plus itself: 3
    c = {"instr": [0, round(3.2 * p), 0, 0, 0, 0, 0, 0], "events": {}, "lines": []}
    assert v.ring_model(c, rate_hz=200, slots=64) == {"ring_high_water_samples": 3, "ring_dropped_samples": 0}
    assert v.ring_model(c, rate_hz=200, slots=2) == {"ring_high_water_samples": 2, "ring_dropped_samples": 1}


def test_samples_within_their_period_never_wait_and_lines_count():
    v = _vpico()
    p = _period_instr(v)
    c = {"instr": [round(0.9 * p)] * 50, "events": {}, "lines": []}
    assert v.ring_model(c)["ring_high_water_samples"] == 1
    # an event line as costly as half a period on every sample: they fall behind for good
    c2 = {"instr": [round(0.9 * p)] * 50, "events": {i: [3] for i in range(50)}, "lines": [(3, round(0.5 * p))]}
    r = v.ring_model(c2, slots=64)
    assert r["ring_high_water_samples"] > 10
