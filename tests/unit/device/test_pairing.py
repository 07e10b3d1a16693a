"""Pairing a left and a right set pulled separately (host/calfwalk/pairing.py), by hand-computed figures.

No pod here: sets are described by their dates and landings (or by hand-made log records);
the end-to-end run with two pods under the MicroPython unix port is in tests/e2e/test_pull_cli.py.
"""

from __future__ import annotations

import json
import math

import pytest

from calfwalk.device import pairing
from calfwalk.output.history import History, HistoryError, set_rows, store_message
from calfwalk.device.pairing import PulledSet, clock_offset, decide, match, overlap_range, set_timing, stride_ms
from calfwalk.device.podlog import ClockMap, Listing, Record, record_crc


def _timing(start, end, early=0.05, late=0.05, real=True, anchor_t=0, kind="exact"):
    return {"start_unix": start, "end_unix": end, "anchor_t_ms": anchor_t, "anchor_host_ms": 0,
            "early_s": early, "late_s": late, "real_time": real, "kind": kind, "text": ""}


def _set(key, foot, start, end, stride=2000, n=10, first=0, paired_in=None, **kw):
    lands = [first + stride * k for k in range(n)]
    return PulledSet(key, foot, _timing(start, end, **kw), lands, None if paired_in else len(key), paired_in,
                     pod_set=1)


def test_overlap_range_by_hand():
    a = _timing(100.0, 120.0, 0.5, 0.5)
    b = _timing(101.0, 121.0, 0.5, 0.5)
    # nominal: [101, 120] = 19 s; b may lie from 1 s earlier (20 s shared) to 1 s later (18 s)
    assert overlap_range(a, b) == pytest.approx((19.0, 18.0, 20.0))
    # a date only bounded 30 s early: b may lie 30.5 s earlier (nothing shared) ... 0.5 s later
    far = _timing(101.0, 121.0, 30.0, 0.0)
    assert overlap_range(a, far) == pytest.approx((19.0, 0.0, 20.0))
    # "no later than", without bound: it may be anywhere earlier
    nolimit = _timing(101.0, 121.0, None, 0.0)
    assert overlap_range(a, nolimit) == pytest.approx((19.0, 0.0, 20.0))
    # sets a minute apart with ±0.5 s clocks share nothing, whatever the clocks do
    assert overlap_range(a, _timing(160.0, 180.0, 0.5, 0.5)) == (0.0, 0.0, 0.0)


def test_stride_is_the_median_landing_to_landing_without_the_rests():
    # intervals 2000, 2010, 1990 and a 6000 ms rest: median 2005, the rest (> 1.5 x) left out -> 2000
    assert stride_ms([0, 2000, 4010, 6000, 12000]) == 2000
    assert stride_ms([0, 2000]) is None  # one interval says nothing about a rhythm


def test_left_then_right_pairs_each_set_with_its_own():
    l1, l2 = _set("L1", "left", 0.0, 20.0), _set("L2", "left", 60.0, 80.0)
    r1, r2 = _set("R1", "right", 0.3, 20.3), _set("R2", "right", 60.2, 80.2)
    out = decide([r1, r2], [l1, l2, r1, r2])
    assert [(o.action, o.set.key, o.partner.key) for o in out] == [("pair", "R1", "L1"), ("pair", "R2", "L2")]
    m = out[0].match
    # [0.3, 20] shared: 19.7 s of the shorter 20 s; the clocks (±0.05 s each) may shift it 0.1 s: 19.6 s at worst
    assert m["overlap_s"] == pytest.approx(19.7) and m["overlap_pct"] == pytest.approx(98.5)
    assert m["overlap_worst_pct"] == pytest.approx(98.0)
    assert m["stride_ms"] == {"right": 2000, "left": 2000} and m["rhythm_diff_pct"] == 0.0
    assert m["clock_s"] == {"right": 0.05, "left": 0.05}
    # the other order gives the same pairs
    out = decide([l1, l2], [l1, l2, r1, r2])
    assert [(o.action, o.set.key, o.partner.key) for o in out] == [("pair", "L1", "R1"), ("pair", "L2", "R2")]


def test_a_set_without_partner_stays_one_foot():
    l1, r_far = _set("L1", "left", 0.0, 20.0), _set("R9", "right", 300.0, 320.0)
    [o] = decide([l1], [l1, r_far])
    assert o.action == "alone" and "no set of the other foot overlaps it" in o.text


def test_two_candidates_are_reported_not_guessed():
    # a right pod rebooted mid-set: two right sets, each wholly within the left one
    left = _set("L1", "left", 0.0, 20.0)
    ra, rb = _set("Ra", "right", 0.0, 9.0, n=5), _set("Rb", "right", 10.0, 20.0, n=5)
    [o] = decide([left], [left, ra, rb])
    assert o.action == "ambiguous" and "2 sets of the other foot could be its partner" in o.text
    # seen from one of the right sets: it fits the left set, which also fits the other right set
    [o] = decide([ra], [left, ra, rb])
    assert o.action == "ambiguous" and "also right pod set 1" in o.text


def test_clocks_too_uncertain_are_reported():
    left = _set("L1", "left", 0.0, 20.0)
    # the right pod rebooted since and no PC synced it: "no later than", possibly much earlier
    right = _set("R1", "right", 0.2, 20.2, early=None, late=0.02, kind="latest")
    [o] = decide([right], [left, right])
    assert o.action == "uncertain" and "clocks are too uncertain" in o.text
    assert o.match["overlap_worst_pct"] == 0.0 and o.match["overlap_best_pct"] == 100.0
    # bounded within 3 s, the left clock ±0.05 s: at worst [0, 20] against [-2.85, 17.15]: 17.15 s of 20 s
    right = _set("R1", "right", 0.2, 20.2, early=3.0, late=0.02, kind="bounded")
    [o] = decide([right], [left, right])
    assert o.action == "pair" and o.match["overlap_worst_pct"] == pytest.approx(85.75, abs=0.06)
    # bounded within 15 s: it may share only 5.2 s of 20: too uncertain
    right = _set("R1", "right", 0.2, 20.2, early=15.0, late=0.02, kind="bounded")
    [o] = decide([right], [left, right])
    assert o.action == "uncertain"


def test_another_rhythm_is_not_a_partner():
    left = _set("L1", "left", 0.0, 20.0, stride=2000)
    right = _set("R1", "right", 0.0, 20.0, stride=1500, n=13)
    m = match(right, left)
    # |1500 - 2000| / 1750 = 28.6 %
    assert m["status"] == "rhythm" and m["rhythm_diff_pct"] == pytest.approx(28.6)
    [o] = decide([right], [left, right])
    assert o.action == "alone" and "its rhythm differs" in o.text
    # within 10 %: 2000 against 1900 (5.1 %) is one walk
    assert match(_set("R2", "right", 0.0, 20.0, stride=1900), left)["status"] == "match"


def test_a_partner_already_paired_is_not_taken_again():
    left = _set("L1", "left", 0.0, 20.0, paired_in=7)
    right = _set("R1", "right", 0.1, 20.1)
    [o] = decide([right], [left, right])
    assert o.action == "ambiguous" and "already paired" in o.text and "in two-foot set #7" in o.text
    assert decide([left], [left, right]) == []  # a part of a pair is not decided again


def _rec(seq, up, kind, payload, boot=1):
    return Record(seq, boot, up, kind, payload, record_crc(kind, boot, seq, up, payload))


def test_set_timing_of_a_real_time_pod_by_hand():
    records = [_rec(1, 1000, "H", "foot=left"),
               _rec(2, 5040, "E", "set_start,t=5000"),   # lag 40 ms
               _rec(3, 7010, "E", "heel_contact,t=7000"),  # lag 10 ms: the smallest
               _rec(4, 8000, "E", "step,t=6000"),  # a step is logged at the next lift-off: not a lag
               _rec(5, 15020, "E", "set_end,t=15000")]  # lag 20 ms
    # the pod is up 20 s when the PC reads 1000.0 s: boot 1 began at 980.0 (± 5 ms)
    clock = ClockMap.build(1, 20_000, 1000.0, 0.005, Listing([], {1: {"last": 20_000, "utc_ms": -1, "at": 0}}, {}))
    t = set_timing(records, clock)
    assert t["real_time"] is True
    # the sample clock is 10 ms behind uptime: the set began at uptime 5010 -> 985.01, ended at 995.01
    assert t["start_unix"] == pytest.approx(985.01) and t["end_unix"] == pytest.approx(995.01)
    assert t["anchor_t_ms"] == 5000 and t["anchor_host_ms"] == 4010
    # date ± 0.01 s (5 ms + 100 ppm of 5 s, rounded) + the lags' spread: lags 10, 20, 40 -> half of 30 ms
    assert t["early_s"] == t["late_s"] == pytest.approx(0.025)


def test_set_timing_of_a_replay_faster_than_real_time():
    records = [_rec(1, 100, "H", "foot=left"), _rec(2, 120, "E", "set_start,t=2000"),
               _rec(3, 620, "E", "set_end,t=22000")]
    clock = ClockMap.build(1, 1000, 1000.0, 0.001, Listing([], {}, {}))
    t = set_timing(records, clock)
    # 20 s of samples in 0.5 s of uptime: the set spans its records' uptimes, 999.12 .. 999.62
    assert t["real_time"] is False
    assert (t["start_unix"], t["end_unix"]) == pytest.approx((999.12, 999.62))


def test_clock_offset_by_hand():
    left = PulledSet("L", "left", _timing(985.01, 995.01, 0.025, 0.025, anchor_t=5000), [])
    right = PulledSet("R", "right", _timing(985.51, 995.51, 0.025, 0.025, anchor_t=3000), [])
    offset, sd, method = clock_offset(left, right)
    # the right set began 500 ms after the left; its sample 3000 is then the left's 5500: +2500 ms
    assert method == "pod_dates" and offset == pytest.approx(2500.0)
    assert sd == pytest.approx(math.sqrt(25 ** 2 + 25 ** 2 + 1))
    right.timing["real_time"] = False
    assert clock_offset(left, right) == (0.0, None, "pod_clocks")


def _summary(foot, steps, contacts, digest):
    return {"feet": [foot], "sensors": {foot: "imu"}, "steps": steps, "heel_contacts": contacts,
            "steps_by_foot": {foot: steps}, "events": [{"type": "step", "foot": foot, "t_ms": 1000 * i}
                                                       for i in range(steps)], "rules": []}


def test_the_history_swaps_two_one_foot_sets_for_their_pair_in_one_go(_history_db):
    left = set_rows(_summary("left", 10, 1, "a"), "a" * 64, "pulled", "/l.cwlog", "2026-01-01T10:00:00Z")
    right = set_rows(_summary("right", 10, 0, "b"), "b" * 64, "pulled", "/r.cwlog", "2026-01-01T10:00:00Z")
    with History.open(_history_db, write=True) as h:
        h.store(left + right)
        parts = h.pulled_one_foot()
    assert [p["feet"] for p in parts] == ["left", "right"]
    two = {"feet": ["left", "right"], "steps": 20, "heel_contacts": 1, "steps_by_foot": {"left": 10, "right": 10},
           "events": [], "rules": []}
    [(row, steps)] = set_rows(two, "c" * 64, "pulled", "/pair.cwlog", "2026-01-01T10:00:00Z")
    with History.open(_history_db, write=True) as h:
        made = h.pair(row, steps, parts)
        assert made["new"] and [r["feet"] for r in h.sets()] == ["left,right"]
        assert {p["part_digest"]: p["set_id"] for p in h.parts()} == {"a" * 64: made["id"], "b" * 64: made["id"]}
        assert h.parts()[0]["row"]["steps"] == 10  # each part's own row is kept
        # pulling a part again stores nothing: it is in the two-foot set
        res = h.store(left)
        assert res == [{"id": made["id"], "set_no": 1, "new": False, "paired": True, "steps": 10,
                        "heel_contacts": 1}]
        assert "already stored (in two-foot set #" in store_message({"db": "db", "results": res})
        # a part that is no longer a set of its own: nothing changes
        [(row2, steps2)] = set_rows(two, "d" * 64, "pulled", "/pair2.cwlog", "2026-01-01T10:00:00Z")
        with pytest.raises(HistoryError, match="no longer a set of its own"):
            h.pair(row2, steps2, parts)
        assert h.count() == 1 and len(h.parts()) == 2


def test_a_schema_1_history_gets_its_parts_table_when_written(_history_db):
    import sqlite3

    from calfwalk.output import history

    conn = sqlite3.connect(_history_db, isolation_level=None)
    conn.executescript(f"BEGIN; PRAGMA application_id = {history.APPLICATION_ID}; PRAGMA user_version = 1; "
                       f"{history.SCHEMA} COMMIT;")
    conn.close()
    with History.open(_history_db) as h:  # read-only: as it is, no parts
        assert h.parts() == [] and h.count() == 0
    with History.open(_history_db, write=True) as h:
        assert h.conn.execute("PRAGMA user_version").fetchone()[0] == 2 and h.parts() == []


def test_pair_session_keeps_both_feet_and_the_clock_offset(tmp_path):
    """Two one-foot session files made into one, read back as a two-pod session aligned by the dates."""
    from calfwalk.device.podlog import PodSet, write_set_session
    from calfwalk.files.session import read_session
    from calfwalk.analysis.pipeline import summarise_session

    def walk(foot, first_t, up0):
        """A pod whose uptime is its sample time + up0: set_start logged 10 ms late, steps at lift-off."""
        recs = [_rec(1, up0, "H", f"foot={foot},sensor=imu,rate_hz=100,board=t")]
        recs.append(_rec(2, up0 + first_t - 990, "E", f"set_start,t={first_t - 1000}"))
        for k in range(10):
            t = first_t + 2000 * k
            recs.append(_rec(3 + k, up0 + t + 1300, "E",
                             f"step,t={t},stance_ms=1300,heel_mm=60,pause_ms=300,peaks=1,med_pct=-1,step_no={k + 1}"))
        recs.append(_rec(13, up0 + first_t + 19_010, "E", f"set_end,t={first_t + 19_000},steps=10"))
        return recs

    paths = {}
    for foot, first_t in (("left", 3000), ("right", 1500)):
        p = tmp_path / f"{foot}.cwlog"
        write_set_session(p, walk(foot, first_t, 100), "x", "2026-01-01T10:00:00Z", {"kind": "exact", "text": ""},
                          PodSet(1, 1, 0, 0, 0, 0, 0, 0, "done", False))
        paths[foot] = str(p)
    # the right pod's sample 1500 is the left's 4000 (each right landing midway between two left ones)
    left = PulledSet("a" * 64, "left", _timing(1000.0, 1020.0, 0.02, 0.02, anchor_t=2000) | {"anchor_host_ms": 2010},
                     [], path=paths["left"])
    right = PulledSet("b" * 64, "right", _timing(1001.0, 1021.0, 0.02, 0.02, anchor_t=500) | {"anchor_host_ms": 510},
                      [], path=paths["right"])
    offset, sd, method = clock_offset(left, right)
    assert offset == pytest.approx(2500.0)
    out = tmp_path / "pair.cwlog"
    pairing.write_pair_session(out, left, right, offset, sd, method, "2026-01-01T10:00:00Z")
    s = summarise_session(read_session(out))
    assert s["feet"] == ["left", "right"] and s["steps_by_foot"] == {"left": 10, "right": 10}
    a = s["alignment"]
    assert a["method"] == "pod_dates+step_timing" and a["lr_clock_offset_ms"] == 2500.0
    # right landings 1500 + 2000k + 2500 = 4000 + 2000k: the middle of the left ones, 0 ms off
    assert a["lr_step_offset_ms"] == 0.0 and a["lr_correction_ms"] == 0.0
    assert len(s["sets"]) == 1 and s["sets"][0]["asymmetry"]["steps"]["asymmetry_pct"] == 0.0
    rights = sorted(e["t_ms"] for e in s["events"] if e["foot"] == "right" and e["type"] == "step")
    assert rights[:2] == [4000, 6000]
    assert json.loads(json.dumps(s["alignment"])) == a
