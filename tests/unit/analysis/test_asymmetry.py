"""Left/right asymmetry: steps, step time, heel height and heel contacts per foot, and what one pod cannot know."""

from __future__ import annotations


import pytest

from calfwalk.analysis.summary import set_no_at, summarise


FIGURES = ("steps", "step_time_ms", "heel_height_mm", "heel_contacts", "heel_contacts_per100")


def _step(foot, t, heel_mm):
    return {"type": "step", "foot": foot, "t_ms": t, "stance_ms": 1500, "heel_mm": heel_mm, "pause_ms": 600,
            "peaks": 1, "med_pct": None, "step_no": 0}


def _contact(foot, t):
    return {"type": "heel_contact", "foot": foot, "t_ms": t, "duration_ms": 300, "impact_mg": 500, "load_pct": None}


def test_known_figures_from_event_lists():
    events = [{"type": "set_start", "foot": f, "t_ms": 0} for f in ("left", "right")]
    events += [_step("left", 1000 + 2000 * k, 70) for k in range(6)]   # every 2000 ms, heel 70 mm
    events += [_step("right", 2000 + 2200 * k, 50) for k in range(6)]  # every 2200 ms, heel 50 mm
    events += [_contact("left", 1300), _contact("right", 2300), _contact("right", 4500), _contact("right", 6700)]
    events += [{"type": "set_end", "foot": f, "t_ms": 16000, "steps": 6} for f in ("left", "right")]
    s = summarise(events, ["left", "right"], {"left": "imu", "right": "imu"}, 20)
    a = s["asymmetry"]
    assert set(a) == set(FIGURES)
    assert a["steps"] == {"left": 6, "right": 6, "asymmetry_pct": 0.0}
    assert a["step_time_ms"] == {"left": 2000.0, "right": 2200.0, "asymmetry_pct": round(200 / 2100 * 100, 1)}
    assert a["heel_height_mm"] == {"left": 70.0, "right": 50.0, "asymmetry_pct": round(20 / 60 * 100, 1)}
    assert a["heel_contacts"] == {"left": 1, "right": 3, "asymmetry_pct": 100.0}
    assert a["heel_contacts_per100"] == {"left": round(100 / 6, 1), "right": 50.0, "asymmetry_pct": 100.0}
    lr = {r["id"]: r for r in s["rules"]}["even_left_right"]
    assert lr["status"] == "fail" and lr["value"] == pytest.approx(33.3, abs=0.05)
    assert "heel contacts L1/R3" in lr["detail"]
    # the one set has the same figures
    assert s["sets"][0]["asymmetry"] == a


def test_the_summary_computes_the_figures_the_history_and_report_read():
    """Per 100 steps, the largest left/right %, the heel-height rule's two ends and each event's set:
    computed once, in the summary (history rows and report plots take them from there)."""
    events = [{"type": "set_start", "foot": f, "t_ms": 0} for f in ("left", "right")]
    heights = [80, 80, 76, 72, 70, 66, 64, 60, 60, 56]
    events += [_step("left", 1000 + 2000 * k, h) for k, h in enumerate(heights)]  # every 2000 ms
    events += [_step("right", 2000 + 2000 * k, 60) for k in range(8)]
    events += [_contact("right", 2300)]
    events += [{"type": "set_end", "foot": f, "t_ms": 22000, "steps": 0} for f in ("left", "right")]
    # a second set, after a rest
    events += [{"type": "set_start", "foot": "left", "t_ms": 40000}, _step("left", 41000, 70),
               {"type": "set_end", "foot": "left", "t_ms": 43000, "steps": 1}]
    s = summarise(events, ["left", "right"], {"left": "imu", "right": "imu"}, 50)
    one = s["sets"][0]
    assert one["heel_contacts_per100"] == round(1 * 100 / 18, 2)
    # steps 10 vs 8: 100 * 2 / 9 = 22.2%; heel height 68.4 vs 60 mm: 13.1%; step time equal
    assert one["asymmetry"]["steps"]["asymmetry_pct"] == 22.2
    assert one["asymmetry_pct"] == 22.2
    # 18 steps with a height (10 left, 8 right), in person order; a fifth of them is 3
    person = sorted([(1000 + 2000 * k, h) for k, h in enumerate(heights)] + [(2000 + 2000 * k, 60) for k in range(8)])
    hs = [h for _t, h in person]
    assert one["heel_height_mm"]["opening"] == round(sum(hs[:3]) / 3, 1)
    assert one["heel_height_mm"]["closing"] == round(sum(hs[-3:]) / 3, 1)
    rule = {r["id"]: r for r in one["rules"]}["heel_height_kept"]
    assert f"{one['heel_height_mm']['opening']:.0f} mm in the opening steps" in rule["detail"]
    assert [x["set_no"] for x in s["sets"]] == [1, 2]
    assert set_no_at(s, 1000) == 1 and set_no_at(s, 22000) == 1
    assert set_no_at(s, 30000) is None  # the rest between the sets
    assert set_no_at(s, 41000) == 2
    one_foot = summarise([_step("left", 1000, 60)], ["left"], {"left": "imu"}, 5)
    assert one_foot["asymmetry_pct"] is None and one_foot["heel_contacts_per100"] == 0.0


def test_even_feet_have_no_asymmetry():
    events = [_step("left", 1000 + 2000 * k, 60) for k in range(8)] + [_step("right", 2000 + 2000 * k, 60) for k in range(8)]
    a = summarise(events, ["left", "right"], {"left": "imu", "right": "imu"}, 20)["asymmetry"]
    assert all(a[f]["asymmetry_pct"] == 0.0 for f in FIGURES)


