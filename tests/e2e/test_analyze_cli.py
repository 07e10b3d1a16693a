"""`calfwalk analyze`: the set summary against the guide, as JSON and for a person, and its errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from calfwalk.cli import main

from helpers import ROOT, SHARED_DATA, simulate_set

GUIDE = SHARED_DATA.parent / "guide" / "dumbbell-walking-calf-raise.txt"
HOST = ROOT / "host"

MEASURED = ("heels_high", "no_heel_crash", "short_even_steps", "pause_at_top", "no_bounce",
            "even_left_right", "heel_height_kept")
NOT_MEASURABLE = ("torso_stacked", "no_dumbbell_swing", "smooth_breathing", "no_pain")
STATUSES = {"pass", "warn", "fail", "not_measured"}
# words the guide uses for each measured rule: the cue must carry them too
GUIDE_WORDS = {
    "heels_high": ["heel", "high"],
    "no_heel_crash": ["crash"],
    "short_even_steps": ["short", "even"],
    "pause_at_top": ["pause", "top of each step"],
    "no_bounce": ["bounc", "smooth"],
    "even_left_right": ["one heel sink", "too heavy"],
    "heel_height_kept": ["calves loaded", "whole time"],
    "big_toe_push": ["big toe"],
}

# A faulty two-foot set: two crashes (2800 and 3000 mg: a crash is 2500 mg or more), a soft touch, one long stride.
FAULTY = dict(steps=24, cadence_spm=60, pause_ms=300, mount="random", noise=1.0, sensor="imu", seed=7,
              heel_touches=[(6, 350, 2800), (11, 80, 0), (15, 350, 3000)], long_strides=[20])


def analyze(capsys, *args):
    """Run `calfwalk analyze ARGS` in-process; return (exit code, stdout, stderr)."""
    code = main(["analyze", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def analyze_json(capsys, paths, *extra):
    code, out, err = analyze(capsys, "--json", *paths, *extra)
    assert code == 0, err
    assert [line for line in err.splitlines() if not line.startswith("history: ")] == []  # only the history line
    return json.loads(out)


def rules_by_id(summary):
    rules = {r["id"]: r for r in summary["rules"]}
    assert len(rules) == len(summary["rules"]), "duplicate rule ids"
    return rules


def words(text):
    return re.findall(r"[a-z']+", text.lower())


def guide_text():
    if not GUIDE.is_file():
        pytest.skip(f"the exercise guide is not at {GUIDE}")
    return GUIDE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    return simulate_set(tmp_path_factory.mktemp("faulty"), **FAULTY)


def truth_contacts(truth):
    return [c for foot in truth["feet"].values() for c in foot["heel_contacts"]]


# ------------------------------------------------------------------ the JSON summary

def test_json_summary_of_faulty_set(capsys, faulty):
    paths, truth = faulty
    s = analyze_json(capsys, paths)
    for key in ("steps", "steps_by_foot", "duration_s", "cadence_spm", "step_time_cv", "events",
                "heel_contacts", "rules"):
        assert key in s, key
    assert s["steps"] == truth["steps_total"] == 24
    assert s["steps_by_foot"] == {f: len(truth["feet"][f]["steps"]) for f in ("left", "right")}
    contacts = truth_contacts(truth)
    assert len(contacts) == 4  # the truth: 2 crashes, 1 soft touch, 1 long stride
    assert s["heel_contacts"] == len(contacts)
    assert s["cadence_spm"] == pytest.approx(FAULTY["cadence_spm"], abs=2)
    assert 0 <= s["step_time_cv"] < 0.10
    last_t = max(c["t_ms"] for c in contacts)
    assert last_t / 1000 < s["duration_s"] < last_t / 1000 + 15
    assert s["one_foot_note"] is None

    events = s["events"]
    for ev in events:
        assert {"type", "foot", "t_ms"} <= set(ev), ev
        assert ev["foot"] in ("left", "right")
        assert isinstance(ev["t_ms"], int)
    assert [e["t_ms"] for e in events] == sorted(e["t_ms"] for e in events)
    kinds = [e["type"] for e in events]
    assert kinds.count("step") == 24
    assert kinds.count("heel_contact") == 4
    assert kinds.count("set_start") == kinds.count("set_end") == 2
    detected = sorted((e["foot"], e["t_ms"]) for e in events if e["type"] == "heel_contact")
    expected = sorted((foot, c["t_ms"]) for foot, ft in truth["feet"].items() for c in ft["heel_contacts"])
    assert [d[0] for d in detected] == [e[0] for e in expected]
    assert all(abs(d[1] - e[1]) <= 30 for d, e in zip(detected, expected)), (detected, expected)


def test_rules_of_faulty_set(capsys, faulty):
    paths, truth = faulty
    s = analyze_json(capsys, paths)
    rules = rules_by_id(s)
    for rid in MEASURED + NOT_MEASURABLE:
        assert rid in rules, rid
    for r in s["rules"]:
        assert {"id", "status", "value", "evidence", "cue"} <= set(r), r
        assert r["status"] in STATUSES, r
        assert isinstance(r["evidence"], list) and all(type(n) is int for n in r["evidence"]), r
        assert all(1 <= n <= s["steps"] for n in r["evidence"]), r
        assert isinstance(r["cue"], str) and r["cue"].strip(), r
    for rid in NOT_MEASURABLE:
        assert rules[rid]["status"] == "not_measured"
        assert rules[rid]["value"] is None and rules[rid]["evidence"] == []
    for rid in MEASURED:
        assert rules[rid]["status"] != "not_measured", rules[rid]

    # heel contacts: the evidence is the person steps (1-based) in whose stance the heel touched
    steps = {e["n"]: e for e in s["events"] if e["type"] == "step"}
    assert sorted(steps) == list(range(1, 25))
    hh = rules["heels_high"]
    assert hh["status"] in ("warn", "fail")
    assert hh["value"] == 4
    want = [(foot, c["step"], c["t_ms"]) for foot, ft in truth["feet"].items() for c in ft["heel_contacts"]]
    assert sorted(step for _f, step, _t in want) == [6, 11, 15, 20]
    assert len(hh["evidence"]) == len(want)
    for foot, step, t_ms in want:
        # the truth step, or else the detector's last step of the foot that touched
        own = max(n for n, e in steps.items() if e["foot"] == foot and e["t_ms"] <= t_ms)
        assert step in hh["evidence"] or own in hh["evidence"], (
            f"{foot} contact at {t_ms} ms (truth step {step}, detector step {own}): evidence {hh['evidence']}")

    crash = rules["no_heel_crash"]
    assert crash["status"] == "fail"
    crash_steps = {c["step"] for c in truth_contacts(truth) if c["kind"] == "crash"}
    assert crash_steps == {6, 15}
    assert crash_steps <= set(crash["evidence"])

    long_steps = {c["step"] for c in truth_contacts(truth) if c["kind"] == "long_stride"}
    assert long_steps == {20}
    even = rules["short_even_steps"]
    assert even["status"] in ("warn", "fail")
    assert long_steps <= set(even["evidence"])

    assert rules["pause_at_top"]["status"] == "pass"  # 300 ms still pauses
    assert rules["no_bounce"]["status"] == "pass"


def test_soft_touch_is_not_a_crash(capsys, faulty):
    paths, truth = faulty
    s = analyze_json(capsys, paths)
    soft = {c["step"] for c in truth_contacts(truth) if c["kind"] == "touch"}
    assert soft == {11}
    rules = rules_by_id(s)
    assert not soft & set(rules["no_heel_crash"]["evidence"])
    crashes = {c["step"] for c in truth_contacts(truth) if c["kind"] == "crash"}
    assert len(crashes) == 2 and crashes <= set(rules["no_heel_crash"]["evidence"])
    # a long stride's heel-first landing may count too: its impact includes the landing's
    assert rules["no_heel_crash"]["value"] >= 2


def test_fsr_soft_touch_is_not_a_crash(capsys, tmp_path):
    paths, truth = simulate_set(tmp_path, steps=20, sensor="fsr", seed=4, heel_touches=[(8, 200, 0)])
    assert [c["kind"] for c in truth_contacts(truth)] == ["touch"]
    s = analyze_json(capsys, paths)
    assert s["heel_contacts"] == 1
    crash = rules_by_id(s)["no_heel_crash"]
    # FSR pads give heel load, not impact: the pod does not guess how hard it was
    assert crash["status"] == "not_measured"
    assert "heel load" in crash["detail"] and crash["evidence"] == [c["step"] for c in truth_contacts(truth)]


def test_cues_come_from_the_guide(capsys, faulty):
    guide = guide_text()
    guide_words = " ".join(words(guide))
    paths, _truth = faulty
    s = analyze_json(capsys, paths)
    rules = rules_by_id(s)
    for rid, needed in GUIDE_WORDS.items():
        cue = rules[rid]["cue"]
        cue_text = " ".join(words(cue))
        for w in needed:
            assert w in cue_text, f"{rid}: cue {cue!r} lacks {w!r}"
            assert w in guide_words, f"{rid}: {w!r} is not in the guide"
        # and it is the guide's own wording: several 4-word runs of the cue occur in the guide
        cw = words(cue)
        runs = [" ".join(cw[i:i + 4]) for i in range(len(cw) - 3)]
        found = [r for r in runs if f" {r} " in f" {guide_words} "]
        assert len(found) >= 3, f"{rid}: cue {cue!r} is not the guide's wording"
    # the rules a shoe cannot see still quote the guide
    for rid in NOT_MEASURABLE:
        cw = words(rules[rid]["cue"])
        runs = [" ".join(cw[i:i + 4]) for i in range(len(cw) - 3)]
        assert any(f" {r} " in f" {guide_words} " for r in runs), rid


# ------------------------------------------------------------------ other sets

def test_clean_set(capsys, tmp_path):
    paths, truth = simulate_set(tmp_path, steps=20, cadence_spm=60, pause_ms=300, fatigue_pct=0, noise=1.0,
                                mount="random", sensor="imu", seed=21)
    assert truth_contacts(truth) == []
    s = analyze_json(capsys, paths)
    rules = rules_by_id(s)
    assert s["steps"] == 20
    assert s["heel_contacts"] == 0
    assert not [e for e in s["events"] if e["type"] == "heel_contact"]
    assert rules["heels_high"]["status"] == "pass" and rules["heels_high"]["evidence"] == []
    assert rules["no_heel_crash"]["status"] == "pass" and rules["no_heel_crash"]["evidence"] == []
    assert rules["heel_height_kept"]["status"] == "pass"
    assert rules["even_left_right"]["status"] == "pass"
    assert rules["short_even_steps"]["status"] == "pass"


@pytest.mark.parametrize("fatigue,ok", [(45, ("warn", "fail")), (0, ("pass",))])
def test_fatigue(capsys, tmp_path, fatigue, ok):
    paths, truth = simulate_set(tmp_path, steps=30, cadence_spm=60, fatigue_pct=fatigue, heel_mm=80, sensor="imu",
                                mount="random", seed=5)
    s = analyze_json(capsys, paths)
    kept = rules_by_id(s)["heel_height_kept"]
    assert kept["status"] in ok, kept
    if fatigue:
        assert kept["value"] >= 15.0  # % lower at the end than in the opening steps
        assert s["steps"] in kept["evidence"]  # the last step sagged
    else:
        assert kept["value"] < 15.0
        assert kept["evidence"] == []


def test_one_foot(capsys, tmp_path):
    paths, truth = simulate_set(tmp_path, steps=20, feet="left", sensor="imu", seed=9)
    assert len(paths) == 1
    s = analyze_json(capsys, paths)
    assert s["steps"] == len(truth["feet"]["left"]["steps"]) == 10
    assert s["steps_by_foot"] == {"left": 10}
    assert rules_by_id(s)["even_left_right"]["status"] == "not_measured"
    note = s["one_foot_note"]
    assert note and "right" in note and "left" in note


@pytest.mark.parametrize("asym,ok", [(0, ("pass",)), (35, ("warn", "fail"))])
def test_two_feet_left_right(capsys, tmp_path, asym, ok):
    paths, _truth = simulate_set(tmp_path, steps=20, sensor="imu", asym_pct=asym, fatigue_pct=0, seed=9)
    s = analyze_json(capsys, paths)
    lr = rules_by_id(s)["even_left_right"]
    assert lr["status"] in ok, lr
    assert lr["value"] is not None
    if asym:
        assert lr["value"] >= 20  # % apart in heel height
        right_steps = [e["n"] for e in s["events"] if e["type"] == "step" and e["foot"] == "right"]
        assert lr["evidence"] and set(lr["evidence"]) <= set(right_steps)  # the lower (right) heel's steps
    assert s["one_foot_note"] is None


def test_fsr_only(capsys, tmp_path):
    paths, truth = simulate_set(tmp_path, steps=20, sensor="fsr", seed=4, heel_touches=[(8, 300, 1500)])
    s = analyze_json(capsys, paths)
    rules = rules_by_id(s)
    assert s["steps"] == 20
    assert s["heel_contacts"] == 1
    assert rules["heel_height_kept"]["status"] == "not_measured"
    assert s["heel_height_mm"] == {"mean": None, "min": None, "max": None, "opening": None, "closing": None}
    toe = rules["big_toe_push"]
    assert toe["status"] == "pass", toe  # the simulator pushes ~60% through the big-toe side
    assert 50 <= toe["value"] <= 70
    assert rules["heels_high"]["evidence"] == [8]


# ------------------------------------------------------------------ human output

def test_human_output(capsys, monkeypatch, faulty):
    monkeypatch.setenv("COLUMNS", "240")  # rich wraps table cells at the default 80 columns
    paths, _truth = faulty
    code, out, err = analyze(capsys, *paths)
    assert code == 0 and err == ""
    from calfwalk.analysis.summary import TITLES

    for rid in MEASURED + NOT_MEASURABLE:
        assert TITLES[rid] in out, TITLES[rid]
    assert "FAIL" in out and "PASS" in out and "not measured" in out
    assert "24 steps" in out
    heels_row = next(line for line in out.splitlines() if TITLES["heels_high"] in line)
    assert "FAIL" in heels_row and "6, 11, 15, 20" in heels_row
    assert "Traceback" not in out
    assert not out.lstrip().startswith("{")


# ------------------------------------------------------------------ errors

def error_cases(tmp_path, paths):
    left, right = paths
    bad = tmp_path / "bad.csv"
    bad.write_text("#calfwalk_raw=1\n#foot=left\n#sensor=imu\n#rate_hz=100\n"
                   "t_ms,ax_mg,ay_mg,az_mg,gx_mdps,gy_mdps,gz_mdps\n0,1,2,3,4,5,6\n10,1,2,3.5,4,5,6\n")
    return {
        "malformed": ([bad], [f"{bad}:7: not an integer: '3.5'"]),
        "missing": ([tmp_path / "nope.csv"], ["nope.csv", "no such file"]),
        "three-files": ([left, right, left], ["one or two", "3"]),
        "same-foot": ([left, left], ["same foot", "left"]),
        "unknown-param": ([left, "--param", "no_such_param=3"], ["no_such_param"]),
        "param-out-of-range": ([left, "--param", "zupt_ms=5"], ["zupt_ms", "20..1000"]),
        "param-not-int": ([left, "--param", "foot_mm=long"], ["foot_mm", "integer"]),
        "param-no-value": ([left, "--param", "foot_mm"], ["NAME=VALUE"]),
    }


CASE_IDS = ["malformed", "missing", "three-files", "same-foot", "unknown-param", "param-out-of-range",
            "param-not-int", "param-no-value"]


@pytest.mark.parametrize("case", CASE_IDS)
def test_errors(capsys, tmp_path, faulty, case):
    args, needed = error_cases(tmp_path, faulty[0])[case]
    code, out, err = analyze(capsys, *args)
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("calfwalk analyze: error: "), err
    for w in needed:
        assert w in err, f"{w!r} missing from {err!r}"


def test_malformed_error_names_line(capsys, tmp_path, faulty):
    left = faulty[0][0]
    text = open(left).read().splitlines()
    n = next(i for i, line in enumerate(text) if line and line[0].isdigit()) + 3  # 3rd sample row
    text[n] = text[n] + ",7"
    bad = tmp_path / "bad_left.csv"
    bad.write_text("\n".join(text) + "\n")
    code, _out, err = analyze(capsys, bad)
    assert code == 2
    assert err.strip() == f"calfwalk analyze: error: {bad}:{n + 1}: expected 7 values, got 8"


# ------------------------------------------------------------------ a real process

def run_cli(*args):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HOST)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.pop("CALFWALK_FIRMWARE", None)
    return subprocess.run([sys.executable, "-m", "calfwalk.cli", "analyze", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=120)


def test_subprocess_json(faulty):
    paths, truth = faulty
    proc = run_cli("--json", *paths)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith("history: stored set") and proc.stderr.count("\n") == 1, proc.stderr
    s = json.loads(proc.stdout)
    assert s["steps"] == truth["steps_total"]
    assert s["heel_contacts"] == len(truth_contacts(truth))


def test_subprocess_errors_have_no_traceback(tmp_path, faulty):
    left, right = faulty[0]
    bad = tmp_path / "garbage.csv"
    bad.write_bytes(b"\xff\xfe\x00garbage\x80\x81")
    for args in ([bad], [left, right, left], [left, "--param", "zupt_ms=5"]):
        proc = run_cli(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
        assert proc.stderr.startswith("calfwalk analyze: error: ") and proc.stderr.count("\n") == 1, proc.stderr
        assert proc.stdout == ""
