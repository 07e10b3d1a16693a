"""`calfwalk config` and `calfwalk calibrate` against the firmware on the MicroPython unix port."""

from __future__ import annotations

import json

import pytest

from calfwalk.cli import main
from calfwalk.sim.podsim import PodProcess

from helpers import simulate_set


@pytest.fixture
def pod(tmp_path, micropython):
    paths, _ = simulate_set(tmp_path, steps=10, feet="left", seed=4, sensor="imu+fsr")
    with PodProcess(paths[0], speed=1) as proc:
        yield proc


def test_config_get_set_stores_on_the_pod(pod, capsys):
    assert main(["config", "get", "heel_down_mm", "--port", pod.port]) == 0
    assert "heel_down_mm=12,range=2..80" in capsys.readouterr().out
    assert main(["config", "set", "heel_down_mm", "10", "--port", pod.port]) == 0
    out = capsys.readouterr().out
    assert "heel_down_mm=10" in out and "stored" in out
    with open(pod.config_path) as fh:
        assert json.load(fh)["params"] == {"heel_down_mm": 10}
    assert main(["config", "get", "heel_down_mm", "--port", pod.port]) == 0
    assert "heel_down_mm=10" in capsys.readouterr().out


def test_config_set_out_of_range_is_refused_with_the_range(pod, capsys):
    assert main(["config", "set", "heel_down_mm", "500", "--port", pod.port]) == 2
    err = capsys.readouterr().err
    assert "heel_down_mm must be 2..80" in err and "Traceback" not in err
    with open(pod.config_path) as fh:
        assert "heel_down_mm" not in json.load(fh).get("params", {})  # nothing stored
    assert main(["config", "get", "heel_down_mm", "--port", pod.port]) == 0
    assert "heel_down_mm=12" in capsys.readouterr().out


def test_guided_calibration(pod, capsys):
    # the replayed set: stands flat 2 s, rises onto the toes: the guided steps follow it
    assert main(["calibrate", "--yes", "--timeout", "20", "--port", pod.port]) == 0
    out = capsys.readouterr().out
    assert "gravity learned" in out and "forward tilt learned" in out and "stored" in out
    with open(pod.config_path) as fh:
        params = json.load(fh)["params"]
    # the FSR pads' unloaded baseline and loaded references are stored on the pod
    assert {"fsr_heel_base", "fsr_fore_base", "fsr_heel_ref", "fsr_fore_ref"} <= set(params)
    # (the replayed foot never leaves the floor, so the values themselves are not checked)
    assert all(params[k] > 0 for k in ("fsr_heel_base", "fsr_fore_base", "fsr_heel_ref", "fsr_fore_ref"))
