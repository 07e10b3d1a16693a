"""Accelerometer-only pods (issue 17) through the host: raw files, analyze, the summary's rules,
the pod on a pty (record, extract-raw, summary), report, history, the robustness sweep and the
accelerometer-only accuracy rows.

These check the plumbing: every path takes the sensor kinds acc and acc+fsr and treats their
missing gyroscope right. How well the accelerometer-only detector counts is measured by
`make accuracy` (its acc rows), not bounded here.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from calfwalk.eval import datasets, robustness
from calfwalk.cli import main
from calfwalk.analysis.pipeline import analyze_recordings
from calfwalk.files.rawfile import read_raw
from calfwalk.analysis.summary import NO_GYRO, summarise

from helpers import simulate_set

SET = dict(steps=16, mount="random", heel_touches=[(6, 300, 1500)], seed=21)


@pytest.fixture(scope="module")
def acc_set(tmp_path_factory):
    folder = tmp_path_factory.mktemp("acc")
    paths, truth = simulate_set(folder, sensor="acc", **SET)
    return paths, truth


def analyze_json(capsys, *paths):
    assert main(["analyze", *map(str, paths), "--json", "--no-history"]) == 0
    return json.loads(capsys.readouterr().out)


def test_analyze_json_on_accelerometer_only_files(capsys, acc_set):
    paths, _truth = acc_set
    s = analyze_json(capsys, *paths)
    assert s["sensors"] == {"left": "acc", "right": "acc"}
    steps = [e for e in s["events"] if e["type"] == "step"]
    contacts = [e for e in s["events"] if e["type"] == "heel_contact"]
    # steps and heel contacts come out of the accelerometer-only detector path, as the summary counts them
    assert s["steps"] == len(steps) and s["heel_contacts"] == len(contacts)
    assert s["steps_by_foot"] == {f: sum(e["foot"] == f for e in steps) for f in ("left", "right")}
    # no gyroscope: stride length and clearance are not measured, never guessed
    assert s["stride_cm"] is None and s["distance_m"] is None
    assert all(e["stride_cm"] is None and e["clearance_cm"] is None for e in steps)
    rules = {r["id"]: r for r in s["rules"]}
    assert len(rules) == 14 and all(r["status"] in ("pass", "warn", "fail", "not_measured") for r in rules.values())
    assert NO_GYRO in rules["short_even_steps"]["detail"]
    assert rules["big_toe_push"]["status"] == "not_measured"  # no pads


def test_analyze_acc_plus_fsr_one_foot(capsys, tmp_path):
    paths, _ = simulate_set(tmp_path, sensor="acc+fsr", feet="left", **SET)
    s = analyze_json(capsys, paths[0])
    assert s["sensors"] == {"left": "acc+fsr"} and s["feet"] == ["left"]
    assert s["stride_cm"] is None
    rules = {r["id"]: r for r in s["rules"]}
    assert rules["even_left_right"]["status"] == "not_measured"


def test_analyze_human_output_says_stride_length_is_not_measured(capsys, acc_set):
    paths, _ = acc_set
    assert main(["analyze", *paths, "--no-history"]) == 0
    out = capsys.readouterr().out
    assert "Short, even steps" in out
    assert "stride length not measured: an accelerometer-only pod has no gyroscope" in out


# ------------------------------------------------------------------ the summary's rules without a gyro

def _events(foot_sensor):
    """Two feet of eight steps each, every step carrying a stride length (as a pod with a gyro sends)."""
    events = []
    for foot, t0 in (("left", 0), ("right", 500)):
        events.append({"type": "set_start", "foot": foot, "t_ms": t0})
        for k in range(8):
            events.append({"type": "step", "foot": foot, "t_ms": t0 + 1000 + 1000 * k, "stance_ms": 700,
                           "heel_mm": 60, "pause_ms": 400, "peaks": 1, "med_pct": None, "step_no": k + 1,
                           "stride_cm": 30.0 + (k % 2) * 25.0, "clearance_cm": 4.0})
        events.append({"type": "set_end", "foot": foot, "t_ms": t0 + 10000, "steps": 8})
    return events, ["left", "right"], dict(foot_sensor)


def test_stride_length_needs_a_gyro_the_rest_is_judged_the_same():
    imu = summarise(*_events({"left": "imu", "right": "imu"}), 12.0)
    acc = summarise(*_events({"left": "acc", "right": "acc+fsr"}), 12.0)
    # with a gyro the uneven strides (30/55 cm) are measured and fail; without, nothing is guessed
    assert imu["stride_cm"]["mean"] == 42.5
    assert acc["stride_cm"] is None and acc["distance_m"] is None
    r_imu = {r["id"]: r for r in imu["rules"]}
    r_acc = {r["id"]: r for r in acc["rules"]}
    assert r_imu["short_even_steps"]["status"] == "fail" and NO_GYRO not in r_imu["short_even_steps"]["detail"]
    assert r_acc["short_even_steps"]["status"] == "pass"  # judged on the even stride timing alone
    assert r_acc["short_even_steps"]["detail"].startswith(NO_GYRO + " (left, right)")
    # every other rule comes from events an accelerometer measures: the same verdicts
    for rid in r_imu:
        if rid != "short_even_steps":
            assert (r_acc[rid]["status"], r_acc[rid]["value"]) == (r_imu[rid]["status"], r_imu[rid]["value"]), rid
    # per set too, and the events themselves say unknown
    assert acc["sets"][0]["stride_cm"] is None
    assert all(e.get("stride_cm") is None for e in acc["events"] if e["type"] == "step")


def test_one_acc_foot_beside_an_imu_foot_keeps_the_imus_strides():
    s = summarise(*_events({"left": "imu", "right": "acc"}), 12.0)
    per_foot = [e for e in s["events"] if e["type"] == "step"]
    assert all((e["stride_cm"] is None) == (e["foot"] == "right") for e in per_foot)
    assert s["stride_cm"]["mean"] == 42.5  # the left foot's
    rule = {r["id"]: r for r in s["rules"]}["short_even_steps"]
    assert rule["detail"].startswith(NO_GYRO + " (right)")


# ------------------------------------------------------------------ the pod on a pty

@pytest.mark.parametrize("sensor,feet", [("acc", "both"), ("acc+fsr", "left")])
def test_record_acc_pods_over_pty_raw_and_extract(tmp_path, micropython, capsys, sensor, feet):
    from calfwalk.demo import _comparable
    from calfwalk.sim.podsim import PodProcess
    from calfwalk.files.session import read_session
    from calfwalk.analysis.pipeline import summarise_session

    paths, _ = simulate_set(tmp_path, sensor=sensor, feet=feet, **SET)
    session = tmp_path / "acc.cwlog"
    pods = [PodProcess(p, speed=0) for p in paths]
    try:
        args = ["record", "-o", str(session), "--no-history", "--raw"]
        for p in pods:
            args += ["--port", p.port]
        assert main(args) == 0
    finally:
        for p in pods:
            p.close()
    s = read_session(session)
    assert {pod.sensor for pod in s.pods.values()} == {sensor}
    from_pod = summarise_session(s)
    direct = analyze_recordings([read_raw(p) for p in paths])
    assert from_pod["sensors"] == direct["sensors"] == {read_raw(p).foot: sensor for p in paths}
    assert _comparable(from_pod) == _comparable(direct)
    # the R lines carry the acc columns: the recording comes back sample for sample
    capsys.readouterr()
    assert main(["extract-raw", str(session), "-o", str(tmp_path / "back")]) == 0
    for p in paths:
        orig = read_raw(p)
        back = read_raw(tmp_path / f"back_{orig.foot}.csv")
        assert back.sensor == sensor and back.columns == orig.columns
        np.testing.assert_array_equal(back.data, orig.data)


# ------------------------------------------------------------------ report and history

def test_report_of_acc_files_draws_the_heel_height(tmp_path, capsys, acc_set):
    from calfwalk.output import report

    paths, _ = acc_set
    data = report.from_raw([read_raw(p) for p in paths])
    assert {t.kind for t in data.traces.values()} == {"heel_mm"}  # an accelerometer has heel height
    out = tmp_path / "acc.html"
    assert main(["report", *paths, "-o", str(out)]) == 0
    text = out.read_text()
    assert "left acc" in text and "right acc" in text  # the sensors row


def test_history_keeps_the_sensor_kind(tmp_path, capsys, acc_set):
    paths, _ = acc_set
    db = tmp_path / "h.sqlite3"
    assert main(["history", "--db", str(db), "import", *paths]) == 0
    assert main(["export", "--db", str(db), "--json", str(tmp_path / "h.json")]) == 0
    sets = json.loads((tmp_path / "h.json").read_text())["sets"]
    assert len(sets) == 1 and sets[0]["sensors"] == {"left": "acc", "right": "acc"}


# ------------------------------------------------------------------ the robustness sweep as acc pods

def test_sweep_acc_draws_the_same_sets_without_gyro_columns():
    a, i = robustness.draw(3, sensor="acc"), robustness.draw(3)
    assert a.dims == i.dims and a.cfg.sensor == "acc" and i.cfg.sensor == "imu"
    with pytest.raises(ValueError, match="sweep sensor must be one of imu, acc, fsr, imu\\+fsr, acc\\+fsr"):
        robustness.draw(3, sensor="gyro")
    res = robustness.run_one(a)
    assert [r.foot for r in res] == ["left", "right"]
    assert all(r.stride_errors_pct == [] for r in res)  # no stride length without a gyro
    assert all(r.true_steps > 0 for r in res)
    # the per-dimension table leaves out what an accelerometer's samples do not hold
    b = robustness.draw(4, sensor="acc")
    names = {name for name, _label, _f in robustness.per_dimension([a, b], res + robustness.run_one(b))}
    assert "noise" in names and "acc_bias_mg" in names and not any(n.startswith("gyro_") for n in names)
    imu_names = {name for name, _label, _f in robustness.per_dimension([i, robustness.draw(4)], res)}
    assert "gyro_bias_dps" in imu_names


def test_robustness_command_with_sensor_acc(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["robustness", "--sets", "2", "--workers", "1", "--sensor", "acc", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "sensor acc (accelerometer alone)" in text
    got = json.loads(out.read_text())
    assert got["sensor"] == "acc" and got["totals"]["feet"] == 4
    assert got["totals"]["stride_median_error_pct"] is None


def test_robustness_command_with_pads_alone(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["robustness", "--sets", "2", "--workers", "1", "--sensor", "fsr", "--json", str(out)]) == 0
    assert "sensor fsr (pads alone)" in capsys.readouterr().out
    got = json.loads(out.read_text())
    assert got["sensor"] == "fsr" and got["totals"]["feet"] == 4
    assert got["totals"]["exact_feet"] == 4  # (the pads count every step of these two sets)


# ------------------------------------------------------------------ the accuracy rows

def test_acc_only_drops_the_gyro_columns_and_keeps_the_rest(tmp_path):
    paths, _ = simulate_set(tmp_path, sensor="imu+fsr", feet="left", steps=6, seed=2)
    rec = read_raw(paths[0])
    acc = datasets.acc_only(rec)
    assert acc.sensor == "acc+fsr" and acc.columns == ("t_ms", "ax_mg", "ay_mg", "az_mg", "heel", "fore_med",
                                                       "fore_lat")
    np.testing.assert_array_equal(acc.data, rec.data[:, [0, 1, 2, 3, 7, 8, 9]])
    assert (acc.foot, acc.rate_hz) == (rec.foot, rec.rate_hz) and rec.sensor == "imu+fsr"
    assert datasets.acc_only(acc) is acc
    trial = datasets.Trial("x", "t", {"left": rec}, {"left": np.array([1.0])}, {"left": [(0.0, 1.0)]})
    at = datasets.acc_trial(trial)
    assert at.recs["left"].sensor == "acc+fsr" and trial.recs["left"] is rec and at.ics_ms is trial.ics_ms
    assert datasets.has_gyro([trial]) and not datasets.has_gyro([at])


needs_data = pytest.mark.skipif(datasets.data_dir() is None,
                                reason="../shared/data not found: the acc rows on real recordings not measured")


@needs_data
def test_accuracy_acc_rows_for_an_imu_dataset(tmp_path, capsys):
    out = tmp_path / "a.json"
    assert main(["accuracy", "--dataset", "gaitmap", "--sweep", "0", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "gaitmap acc" in text and "all real acc" in text and "simulated acc" in text
    got = json.loads(out.read_text())
    for row in ("gaitmap acc", "all real acc", "simulated acc"):
        assert got[row]["feet"] > 0, row
    # the same recordings and references: the same feet and reference contacts as the imu row
    assert (got["gaitmap acc"]["feet"], got["gaitmap acc"]["ref_strides"]) == (got["gaitmap"]["feet"],
                                                                              got["gaitmap"]["ref_strides"])


@needs_data
def test_pads_only_datasets_get_no_acc_row(tmp_path, capsys):
    out = tmp_path / "a.json"
    assert main(["accuracy", "--dataset", "gaitpdb", "--sweep", "0", "--json", str(out)]) == 0
    got = json.loads(out.read_text())
    assert "gaitpdb" in got and "gaitpdb acc" not in got and "all real acc" not in got


# ------------------------------------------------------------------ the same events under MicroPython

@pytest.mark.parametrize("sensor", ["acc", "acc+fsr"])
def test_acc_replay_is_the_same_under_micropython_and_locks_no_allocation(tmp_path, micropython, sensor):
    """The pod's replay source feeds the 4-column (7 with pads) files to the detector with gx=gy=gz=0,
    under MicroPython exactly as under CPython, with nothing allocated per sample."""
    import subprocess
    import sys

    from helpers import FIRMWARE, ROOT

    paths, _ = simulate_set(tmp_path, sensor=sensor, feet="left", **SET)
    script = ROOT / "tests" / "mpy" / "detect_replay.py"
    outs = []
    for exe, extra in ((micropython, []), (sys.executable, []), (micropython, ["heaplock"])):
        proc = subprocess.run([exe, str(script), str(FIRMWARE), paths[0], *extra], capture_output=True, text=True,
                              timeout=300, stdin=subprocess.DEVNULL)
        assert proc.returncode == 0 and proc.stderr == "", proc.stdout[-1000:] + proc.stderr
        outs.append(proc.stdout.splitlines())
    mp, cp, locked = outs
    assert mp[-1] == f"samples,{len(read_raw(paths[0]).data)},alloc_fail,0"
    assert mp[0].startswith("calibrated,")  # the detector ran on the accelerometer's samples
    assert mp == cp == locked
    # and those events are what the host's replay (calfwalk analyze) reports
    from calfwalk.analysis.detect import detect
    from calfwalk.model import wire_values

    host = [[e["type"], str(e["t_ms"])] + [str(v) for v in wire_values(e)] for e in detect(read_raw(paths[0]))]
    pod = [line.split(",") for line in mp[:-1]]
    assert len(host) == len(pod) and all(h == p[:len(h)] for h, p in zip(host, pod))  # the pod pads unused slots
