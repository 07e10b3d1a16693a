"""The landing's integration runs ahead while the rest settles (issue 15: landing work <= 2M on the M0).

The track of a motion is integrated a few history entries per sample from the moment the foot
lands, so the sample that judges the motion has only an entry or two left to integrate (an
accelerometer alone: its turn, then its track, up to the rest's middle). These tests check that
this changes nothing the detector finds (an unclipped gyro or an accelerometer: the very same
arithmetic on the very same entries) and that the judging sample's share is small. Cost itself
is measured by `make bench` on vpico, not here.
"""

from __future__ import annotations

import dataclasses

import pytest

from calfwalk import firmware
from calfwalk.eval import robustness
from calfwalk.analysis.detect import detect
from calfwalk.sim.simulate import SimConfig, simulate


@pytest.fixture()
def det_cls():
    return firmware.load("detector").Detector


def _sets(sensor="imu"):
    # unclipped gyros (2000 dps) across rates, strides, mountings and a bouncing set, from the sweep
    out = []
    for k in (0, 3, 5, 8, 11, 14):
        d = robustness.draw(k, sensor=sensor)
        cfg = dataclasses.replace(d.cfg, gyro_range_dps=2000)
        sim = simulate(cfg)
        out += [robustness._recording(sim[f]) for f in ("left", "right")]
    return out


@pytest.mark.parametrize("sensor", ["imu", "acc"])
def test_running_ahead_finds_the_same_events(det_cls, monkeypatch, sensor):
    # (a gyro that clipped, or read the same fast rate twice, has its tilt fix judged where the foot
    # lands, not where the rest settles: those recordings may differ, and are left out)
    recs = _sets(sensor)
    declip = det_cls._declip
    mended = []
    monkeypatch.setattr(det_cls, "_declip", lambda self, n: mended.append(1) if declip(self, n) else False)
    ahead = []
    for r in recs:
        mended.clear()
        events = detect(r)
        ahead.append(None if mended else events)
    monkeypatch.setattr(det_cls, "_ahead_start", lambda self, landed: None)  # the whole track at the landing
    at_landing = [None if a is None else detect(r) for a, r in zip(ahead, recs)]
    kept = [a for a in ahead if a is not None]
    assert len(kept) >= 8 and sum(len(e) for e in kept) > 150
    assert ahead == at_landing


def _landing_shares(det_cls, monkeypatch, rec):
    """Entries integrated by the sample that judges each motion: (resumed, entries) per track."""
    shares = []
    orig = det_cls._integrate
    in_track = []
    orig_track = det_cls._track

    def track(self, t, moved_on):
        in_track.append(1)
        try:
            return orig_track(self, t, moved_on)
        finally:
            in_track.pop()

    def integrate(self, a, b, g0x, g0y, g0z, weight, st):
        if in_track and weight >= 0:
            shares.append((st is not None, b - a))
        return orig(self, a, b, g0x, g0y, g0z, weight, st)

    monkeypatch.setattr(det_cls, "_track", track)
    monkeypatch.setattr(det_cls, "_integrate", integrate)
    events = detect(rec)
    return shares, events


@pytest.mark.parametrize("sensor, gyro_range_dps, most", [("imu", 2000, 4), ("imu", 250, 4), ("acc", 2000, 20)])
def test_the_judging_sample_integrates_an_entry_or_two(det_cls, monkeypatch, sensor, gyro_range_dps, most):
    # 40 steps (20 of this foot) at 200 Hz with a pause at the top; a 250 dps gyro clips every swing,
    # and its tilt fix is judged ahead too; an accelerometer alone's track runs to the end of the
    # rest, so the rest's later half is left (12 entries at 100 Hz)
    cfg = SimConfig(feet="left", steps=40, rate_hz=200, pause_ms=600, cadence_spm=50, stride_cm=25,
                    gyro_range_dps=gyro_range_dps, sensor=sensor, seed=7)
    rec = robustness._recording(simulate(cfg)["left"])
    shares, events = _landing_shares(det_cls, monkeypatch, rec)
    steps = sum(1 for e in events if e["type"] == "step")
    assert steps == 20
    resumed = [n for r, n in shares if r]
    assert len(resumed) >= len(shares) - 2, shares  # (the set's first motion and its last may not)
    assert max(resumed) <= most, resumed
    whole = [n for r, n in shares if not r]
    assert not whole or max(whole) > 20  # (what is not resumed is a whole track: the test can tell)


def test_clipped_gyro_steps_match_an_unclipped_one():
    # the tilt fix judged where the foot lands keeps a clipped gyro's count and stride
    base = SimConfig(feet="left", steps=30, rate_hz=100, pause_ms=400, stride_cm=30, swing_ms=350, seed=3)
    out = {}
    for rng in (250, 2000):
        rec = robustness._recording(simulate(dataclasses.replace(base, gyro_range_dps=rng))["left"])
        ev = [e for e in detect(rec) if e["type"] == "step"]
        out[rng] = ev
    assert len(out[250]) == len(out[2000]) == 15
    s250 = sorted(e["stride_cm"] for e in out[250] if e.get("stride_cm") is not None)
    s2000 = sorted(e["stride_cm"] for e in out[2000] if e.get("stride_cm") is not None)
    assert s250 and s2000
    assert abs(s250[len(s250) // 2] - s2000[len(s2000) // 2]) <= 2.0  # cm, medians


@pytest.mark.parametrize("gyro_range_dps", [2000, 250])
def test_a_cut_motion_is_judged_over_several_samples(det_cls, monkeypatch, gyro_range_dps):
    # a heel bobbing 8 degrees at 4 Hz in every stance (make bench's vpico set): no motion rests,
    # each is cut where the foot stood. The cut's track is integrated a few entries per sample
    # from the try on, its still test runs in a sample of its own, and the cut in the next: no
    # sample integrates more than a small share of a motion, or runs both the still test and the
    # track's step search (before: up to 276 entries, the turn twice and the track, in one sample)
    cfg = SimConfig(feet="left", steps=40, rate_hz=200, bounce=1.0, bounce_deg=8, bounce_hz=4, cadence_spm=100,
                    pause_ms=300, stride_cm=20, swing_ms=450, gyro_range_dps=gyro_range_dps, seed=5)
    rec = robustness._recording(simulate(cfg)["left"])
    per_sample = {}
    now = [0]
    cuts = []
    update, integrate, still_at, steps_in, cut = (det_cls.update, det_cls._integrate, det_cls._still_at,
                                                   det_cls._steps_in, det_cls._cut)

    def count(key, n):
        s = per_sample.setdefault(now[0], {})
        s[key] = s.get(key, 0) + n

    def upd(self, t, *a):
        now[0] = t
        return update(self, t, *a)

    def integ(self, a, b, *rest):
        count("integrated", b - a)
        return integrate(self, a, b, *rest)

    def still(self, p, q, *rest):
        count("still", 1)
        return still_at(self, p, q, *rest)

    def search(self, s, e, *rest):
        count("searched", e - s)
        return steps_in(self, s, e, *rest)

    def cutting(self, t):
        done = cut(self, t)
        if done:
            cuts.append(t)
        return done

    for name, f in (("update", upd), ("_integrate", integ), ("_still_at", still), ("_steps_in", search),
                    ("_cut", cutting)):
        monkeypatch.setattr(det_cls, name, f)
    events = detect(rec)
    assert sum(e["type"] == "step" for e in events) >= 19  # (20 of this foot)
    assert len(cuts) >= 6
    for t in cuts:
        s = per_sample[t]
        assert "still" not in s and s.get("integrated", 0) <= 8, (t, s)
    worst = max(s.get("integrated", 0) for s in per_sample.values())
    assert worst <= 40, worst
    assert not [s for s in per_sample.values() if "still" in s and "searched" in s]
