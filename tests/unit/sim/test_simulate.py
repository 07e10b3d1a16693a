"""Tests for calfwalk.sim.simulate: reproducibility, physics sanity, truth, file output, CLI parsing."""

import argparse
import json
import math

import numpy as np
import pytest

from calfwalk.files import rawfile
from calfwalk.sim.simulate import (
    HeelTouch,
    SimConfig,
    add_arguments,
    parse_heel_touch,
    simulate,
    write_simulation,
)

SHORT = dict(steps=8)   # short sets keep the module fast


def _col(rec, name):
    return rec["data"][:, rawfile.columns_for(rec["sensor"]).index(name)]


def _window(rec, t0_ms, t1_ms):
    t = rec["data"][:, 0]
    return (t >= t0_ms) & (t < t1_ms)


# --- reproducibility ----------------------------------------------------------------

def test_same_seed_gives_identical_arrays_and_truth():
    cfg = dict(SHORT, sensor="imu+fsr", bounce=0.3, heel_touches=[HeelTouch(3)], long_strides=[6], seed=7)
    a, b = simulate(SimConfig(**cfg)), simulate(SimConfig(**cfg))
    for foot in ("left", "right"):
        np.testing.assert_array_equal(a[foot]["data"], b[foot]["data"])
    assert a["truth"] == b["truth"]


def test_different_seed_gives_different_arrays():
    a = simulate(SimConfig(**SHORT, seed=1))
    b = simulate(SimConfig(**SHORT, seed=2))
    assert a["right"]["data"].shape == b["right"]["data"].shape
    assert not np.array_equal(a["right"]["data"], b["right"]["data"])


def test_written_files_are_byte_identical_for_same_config(tmp_path):
    cfg = SimConfig(**SHORT, sensor="imu+fsr", seed=3)
    first = write_simulation(cfg, str(tmp_path / "a" / "run"))
    second = write_simulation(cfg, str(tmp_path / "b" / "run"))
    for p, q in zip(first, second):
        with open(p, "rb") as fa, open(q, "rb") as fb:
            assert fa.read() == fb.read()


# --- physics sanity --------------------------------------------------------------------

@pytest.mark.parametrize("seed", [1, 2, 3, 4])
@pytest.mark.parametrize("mount", ["flat", "random"])
def test_still_flat_accel_magnitude_is_one_g_for_any_mount(seed, mount):
    res = simulate(SimConfig(**SHORT, mount=mount, seed=seed))
    for foot in ("left", "right"):
        rec = res[foot]
        still = _window(rec, 0, 1800)   # standing flat before the rise
        acc = np.stack([_col(rec, c) for c in ("ax_mg", "ay_mg", "az_mg")], axis=1)[still]
        norm = np.linalg.norm(acc, axis=1)
        assert abs(np.median(norm) - 1000) <= 60
        assert np.all(np.abs(norm - 1000) < 120)   # 15 mg rms noise: 8 sigma


def test_noiseless_still_samples_are_exact_and_tilt_matches_heel_height():
    heel_mm, foot_mm = 70.0, 250
    res = simulate(SimConfig(**SHORT, noise=0, mount="random", seed=5, heel_mm=heel_mm))
    rec = res["left"]
    acc = np.stack([_col(rec, c) for c in ("ax_mg", "ay_mg", "az_mg")], axis=1).astype(float)
    gyro = np.stack([_col(rec, c) for c in ("gx_mdps", "gy_mdps", "gz_mdps")], axis=1)
    flat = acc[_window(rec, 0, 1800)]
    toes = acc[_window(rec, 2700, 3300)]           # holding on the toes before the first step
    assert np.all(np.abs(np.linalg.norm(flat, axis=1) - 1000) <= 2)
    assert np.all(np.abs(gyro[_window(rec, 0, 1800)]) == 0)
    cos = np.dot(flat[0], toes[0]) / (np.linalg.norm(flat[0]) * np.linalg.norm(toes[0]))
    tilt_deg = math.degrees(math.acos(cos))
    assert tilt_deg == pytest.approx(math.degrees(math.asin(heel_mm / foot_mm)), abs=0.3)


def test_flat_mount_follows_the_foot_frame_conventions():
    heel_mm, foot_mm = 70.0, 250
    res = simulate(SimConfig(**SHORT, noise=0, mount="flat", heel_mm=heel_mm))
    rec = res["right"]
    acc = np.stack([_col(rec, c) for c in ("ax_mg", "ay_mg", "az_mg")], axis=1)
    gy = _col(rec, "gy_mdps")
    theta = math.asin(heel_mm / foot_mm)
    assert np.abs(acc[_window(rec, 0, 1800)] - [0, 0, 1000]).max() <= 1
    # Heel up = positive pitch about +y: x (forward) tilts down, so "up" leans to -x.
    toes = acc[_window(rec, 2700, 3300)]
    assert np.abs(toes - [-1000 * math.sin(theta), 0, 1000 * math.cos(theta)]).max() <= 2
    assert gy[_window(rec, 2000, 2500)].min() >= 0 and gy[_window(rec, 2000, 2500)].max() > 30000
    set_end = res["truth"]["feet"]["right"]["set_end_ms"]
    assert gy[_window(rec, set_end - 500, set_end)].max() <= 0   # final lowering: heel down


def test_swing_rotates_fast_and_pause_is_quiet():
    res = simulate(SimConfig(**SHORT, noise=0, mount="random", seed=9))
    rec = res["right"]
    gyro_dps = np.linalg.norm(np.stack([_col(rec, c) for c in ("gx_mdps", "gy_mdps", "gz_mdps")], axis=1), axis=1) / 1000
    steps = res["truth"]["feet"]["right"]["steps"]
    land = steps[1]["t_ms"]
    assert gyro_dps[_window(rec, land - 400, land)].max() > 150    # swing: a few hundred dps
    assert gyro_dps[_window(rec, land + 150, land + 400)].max() < 1  # still pause at the top


def test_slow_cadence_keeps_the_foot_still_longer():
    res = simulate(SimConfig(steps=4, cadence_spm=15, noise=0, mount="flat"))
    steps = res["truth"]["feet"]["right"]["steps"]
    assert steps[1]["t_ms"] - steps[0]["t_ms"] == 8000   # one foot's cycle = 2 intervals of 4 s
    rec = res["right"]
    quiet = _window(rec, steps[0]["t_ms"] + 200, steps[1]["t_ms"] - 1000)
    assert np.all(_col(rec, "gy_mdps")[quiet] == 0)


def test_cadence_too_high_for_the_pause_is_rejected():
    with pytest.raises(ValueError, match="cadence"):
        simulate(SimConfig(steps=6, cadence_spm=140, pause_ms=300))


# --- truth -------------------------------------------------------------------------------

def test_truth_steps_alternate_starting_with_the_right_foot():
    cfg = SimConfig(steps=9, seed=4)
    truth = simulate(cfg)["truth"]
    feet = truth["feet"]
    right = [s["n"] for s in feet["right"]["steps"]]
    left = [s["n"] for s in feet["left"]["steps"]]
    assert truth["steps_total"] == 9
    assert len(right) + len(left) == cfg.steps
    assert right == [1, 3, 5, 7, 9] and left == [2, 4, 6, 8]
    times = sorted((s["t_ms"], s["n"]) for foot in feet.values() for s in foot["steps"])
    assert [n for _, n in times] == list(range(1, 10))   # landings in person-step order
    for foot in feet.values():
        assert foot["set_start_ms"] < times[0][0] < times[-1][0] < foot["set_end_ms"]


def test_truth_heel_contacts_are_the_touches_and_long_strides_on_the_right_foot():
    cfg = SimConfig(steps=10, seed=2, heel_touches=[HeelTouch(3, 400, 2000), HeelTouch(6, 300, 0)], long_strides=[5])
    truth = simulate(cfg)["truth"]
    found = {(foot, c["step"], c["kind"]) for foot, f in truth["feet"].items() for c in f["heel_contacts"]}
    assert found == {("right", 3, "crash"), ("left", 6, "touch"), ("right", 5, "long_stride")}
    crash = truth["feet"]["right"]["heel_contacts"][0]
    assert crash["impact_mg"] == 2000
    assert 400 <= crash["duration_ms"] <= 480           # the hold plus the last mm of drop and rise
    land3 = next(s["t_ms"] for s in truth["feet"]["right"]["steps"] if s["n"] == 3)
    assert land3 < crash["t_ms"] < land3 + 1000


def test_clean_set_has_no_heel_contacts_and_truth_is_json():
    truth = simulate(SimConfig(**SHORT, bounce=0.5, seed=8))["truth"]
    assert all(not f["heel_contacts"] for f in truth["feet"].values())
    json.dumps(truth)   # plain Python types only
    assert truth["calfwalk_truth"] == 1 and truth["config"]["bounce"] == 0.5


# --- output format --------------------------------------------------------------------------

@pytest.mark.parametrize("sensor", rawfile.SENSORS)
def test_columns_match_rawfile(sensor):
    res = simulate(SimConfig(steps=3, sensor=sensor, rate_hz=50))
    for foot in ("left", "right"):
        data = res[foot]["data"]
        assert data.dtype == np.int64
        assert data.shape[1] == len(rawfile.columns_for(sensor))
        t = data[:, 0]
        assert t[0] == 0 and np.all(np.diff(t) == 20)


def test_write_simulation_is_readable_and_truth_covers_both_feet(tmp_path):
    cfg = SimConfig(**SHORT, sensor="imu+fsr", feet="left", seed=11)
    paths = write_simulation(cfg, str(tmp_path / "sim"))
    assert [p.rsplit("_", 1)[1] for p in paths] == ["left.csv", "truth.json"]
    rec = rawfile.read_raw(paths[0])
    assert (rec.foot, rec.sensor, rec.rate_hz) == ("left", "imu+fsr", 100)
    assert rec.meta["board"] == "sim" and rec.meta["seed"] == "11"
    np.testing.assert_array_equal(rec.data, simulate(cfg)["left"]["data"])
    with open(paths[1], encoding="utf-8") as fh:
        truth = json.load(fh)
    assert set(truth["feet"]) == {"left", "right"}
    assert truth["config"]["feet"] == "left"


def test_fsr_heel_loaded_standing_and_near_baseline_walking_clean():
    res = simulate(SimConfig(**SHORT, sensor="fsr", seed=6))
    for foot in ("left", "right"):
        rec = res[foot]
        heel, med = _col(rec, "heel"), _col(rec, "fore_med")
        standing = _window(rec, 0, 1800)
        steps = res["truth"]["feet"][foot]["steps"]
        walking = _window(rec, steps[0]["t_ms"], steps[-1]["t_ms"])
        baseline = np.median(heel[walking])
        assert 400 - 600 < baseline < 900 + 600
        assert np.median(heel[standing]) > baseline + 20000
        assert np.percentile(heel[walking], 99) < baseline + 1000
        assert np.median(med[walking]) > baseline + 10000     # the forefoot carries the load


def test_fsr_heel_pad_sees_a_heel_touch():
    res = simulate(SimConfig(**SHORT, sensor="fsr", seed=6, noise=0, heel_touches=[HeelTouch(4, 500)]))
    contact = res["truth"]["feet"]["left"]["heel_contacts"][0]
    rec = res["left"]
    heel = _col(rec, "heel")
    mid = contact["t_ms"] + contact["duration_ms"] // 2
    assert heel[_window(rec, mid - 20, mid + 20)].min() > 20000


# --- parsing and CLI --------------------------------------------------------------------------

def test_parse_heel_touch_accepts_all_forms():
    assert parse_heel_touch("5") == HeelTouch(5)
    assert parse_heel_touch("5:400") == HeelTouch(5, 400)
    assert parse_heel_touch(" 7:250:0 ") == HeelTouch(7, 250, 0)


@pytest.mark.parametrize("text, message", [
    ("", "STEP"), ("x", "STEP must be an integer"), ("0", "STEP must be >= 1"),
    ("3:-5", "DURATION_MS"), ("3:abc", "DURATION_MS must be an integer"),
    ("3:300:6000", "IMPACT_MG"), ("1:2:3:4", "expected STEP"),
])
def test_parse_heel_touch_rejects_bad_input(text, message):
    with pytest.raises(ValueError, match=message):
        parse_heel_touch(text)


def test_config_rejects_heel_touch_beyond_the_set():
    with pytest.raises(ValueError, match="only 8 steps"):
        simulate(SimConfig(**SHORT, heel_touches=[HeelTouch(9)]))


def _parser():
    parser = argparse.ArgumentParser(prog="calfwalk simulate")
    add_arguments(parser)
    return parser


@pytest.mark.parametrize("argv", [
    [], ["-o", "x", "--steps", "0"], ["-o", "x", "--bounce", "1.5"], ["-o", "x", "--rate", "10"],
    ["-o", "x", "--mount", "glued"], ["-o", "x", "--heel-touch", "2:abc"], ["-o", "x", "--cadence", "nan"],
])
def test_cli_range_checks_are_argparse_errors(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        _parser().parse_args(argv)
    assert exc.value.code == 2


# --- accelerometer-only pods (issue 17) ------------------------------------------------------

@pytest.mark.parametrize("kind,full", [("acc", "imu"), ("acc+fsr", "imu+fsr")])
def test_accelerometer_alone_is_the_imus_acceleration_without_gyro_columns(kind, full):
    cfg = dict(SHORT, mount="random", heel_touches=[HeelTouch(3, 300, 1500)], seed=5)
    acc = simulate(SimConfig(sensor=kind, **cfg))
    imu = simulate(SimConfig(sensor=full, **cfg))
    assert acc["truth"]["feet"] == imu["truth"]["feet"]
    for foot in ("left", "right"):
        a, i = acc[foot], imu[foot]
        assert a["sensor"] == kind and a["data"].shape[1] == i["data"].shape[1] - 3
        # the same samples: t and acceleration, then (acc+fsr) the pads; the gyro's three columns gone
        np.testing.assert_array_equal(a["data"][:, :4], i["data"][:, :4])
        np.testing.assert_array_equal(a["data"][:, 4:], i["data"][:, 7:])
        assert np.abs(i["data"][:, 4:7]).max() > 10_000  # the IMU's gyro turned: something was dropped


