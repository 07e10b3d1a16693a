"""Left/right asymmetry through `calfwalk analyze --json`: simulated sets, and what one pod cannot know."""

from __future__ import annotations

import json

import pytest

from calfwalk.cli import main

from helpers import simulate_set


def analyze_json(capsys, paths):
    assert main(["analyze", "--json", "--no-history", *map(str, paths)]) == 0
    return json.loads(capsys.readouterr().out)


def test_simulated_right_heel_lower_and_touching(capsys, tmp_path):
    # person steps 1, 3, 5, ... are the right foot's: three heel touches on the right, none on the left
    paths, truth = simulate_set(tmp_path, steps=24, sensor="imu", asym_pct=30, fatigue_pct=0, seed=4,
                                heel_touches=[(5, 300, 1500), (11, 300, 0), (17, 300, 1500)])
    assert [len(truth["feet"][f]["heel_contacts"]) for f in ("left", "right")] == [0, 3]
    s = analyze_json(capsys, paths)
    a = s["asymmetry"]
    assert a["steps"] == {"left": 12, "right": 12, "asymmetry_pct": 0.0}
    assert a["heel_contacts"] == {"left": 0, "right": 3, "asymmetry_pct": 200.0}
    assert a["heel_contacts_per100"]["right"] == 25.0 and a["heel_contacts_per100"]["left"] == 0.0
    hh = a["heel_height_mm"]
    assert hh["left"] > hh["right"]
    assert 25 <= hh["asymmetry_pct"] <= 45  # 30 % lower: |L-R| / mean = 0.3 / 0.85 = 35 %
    assert a["step_time_ms"]["asymmetry_pct"] < 5  # the timing is even
    lr = {r["id"]: r for r in s["rules"]}["even_left_right"]
    assert lr["status"] in ("warn", "fail")
    assert lr["value"] == pytest.approx(hh["asymmetry_pct"], abs=0.1)


@pytest.mark.parametrize("foot,other", [("left", "right"), ("right", "left")])
def test_one_foot_says_what_it_cannot_know(capsys, tmp_path, foot, other):
    paths, _ = simulate_set(tmp_path, steps=12, feet=foot, sensor="imu", seed=6)
    s = analyze_json(capsys, paths)
    assert s["asymmetry"] is None
    assert s["sets"][0]["asymmetry"] is None
    note = s["one_foot_note"]
    assert f"on the {foot} foot" in note and f"The {other} foot was not seen" in note
    for unknown in ("heel contacts", "heel height", "evenness"):
        assert unknown in note.split("not seen")[1], unknown
    assert {r["id"]: r for r in s["rules"]}["even_left_right"]["status"] == "not_measured"
