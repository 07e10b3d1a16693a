"""Firmware under the MicroPython unix port on a pty -> host record -> summary == analyze."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from calfwalk.analysis.pipeline import analyze_recordings
from calfwalk.demo import _comparable
from calfwalk.link.transport import open_transport
from calfwalk.sim.podsim import PodProcess
from calfwalk.files.rawfile import read_raw
from calfwalk.link.recorder import Recorder
from calfwalk.files.session import read_session
from calfwalk.analysis.pipeline import summarise_session

from helpers import ROOT, simulate_set


@pytest.fixture(autouse=True)
def _need_micropython(micropython):
    return micropython


@pytest.mark.parametrize("sensor,feet", [("imu", "both"), ("imu+fsr", "left"), ("fsr", "right")])
def test_record_over_pty_equals_analyze(tmp_path, sensor, feet):
    paths, truth = simulate_set(tmp_path, steps=24, sensor=sensor, feet=feet, mount="random",
                                heel_touches=[(6, 300, 1500), (15, 200, 0)], long_strides=[20], seed=3)
    pods = [PodProcess(p, speed=0) for p in paths]
    session = tmp_path / "s.cwlog"
    try:
        stats = Recorder([p.port for p in pods], str(session), open_transport, reconnect_s=0).run(seconds=60)
    finally:
        for p in pods:
            p.close()
    for st in stats.values():
        assert st.corrupt == 0 and st.gaps == 0 and st.reboots == 0
    from_pod = summarise_session(read_session(session))
    direct = analyze_recordings([read_raw(p) for p in paths])
    assert _comparable(from_pod) == _comparable(direct)
    assert from_pod["duration_s"] == direct["duration_s"]
    want = sum(len(truth["feet"][read_raw(p).foot]["steps"]) for p in paths)
    assert from_pod["steps"] == want
    assert from_pod["heel_contacts"] == sum(len(truth["feet"][read_raw(p).foot]["heel_contacts"]) for p in paths)


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "host") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_cli_record_and_summary(tmp_path):
    paths, truth = simulate_set(tmp_path, steps=12, feet="left", seed=5)
    session = tmp_path / "cli.cwlog"
    with PodProcess(paths[0], speed=0) as pod:
        run = subprocess.run([sys.executable, "-m", "calfwalk.cli", "record", "--port", pod.port, "-o", str(session)],
                             capture_output=True, text=True, timeout=60, env=_env())
    assert run.returncode == 0, run.stderr
    assert "session saved" in run.stderr
    out = subprocess.run([sys.executable, "-m", "calfwalk.cli", "summary", str(session), "--json"],
                         capture_output=True, text=True, timeout=60, env=_env())
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["steps"] == len(truth["feet"]["left"]["steps"])
    for key in ("steps", "steps_by_foot", "duration_s", "cadence_spm", "step_time_cv", "events", "heel_contacts", "rules"):
        assert key in summary


def test_killed_host_leaves_readable_session(tmp_path):
    paths, truth = simulate_set(tmp_path, steps=30, feet="left", seed=9, heel_touches=[(5, 300, 1500)])
    session = tmp_path / "killed.cwlog"
    with PodProcess(paths[0], speed=4) as pod:
        proc = subprocess.Popen([sys.executable, "-m", "calfwalk.cli", "record", "--port", pod.port, "-o", str(session)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env())
        deadline = time.monotonic() + 30
        # wait until a few steps are on disk, then kill the host without warning
        while time.monotonic() < deadline:
            if session.exists() and session.read_text().count("E,step,") >= 3:
                break
            time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    text = session.read_text()
    assert text.count("E,step,") >= 3
    s = read_session(session)
    summary = summarise_session(s)
    assert summary["steps"] >= 3
    assert summary["steps"] == text.count("E,step,")  # every step on disk is counted
    assert s.damaged_lines <= 1


def test_unplugged_port_is_a_clear_error(tmp_path, capsys):
    from calfwalk.cli import main

    code = main(["record", "--port", str(tmp_path / "ttyNOPE"), "-o", str(tmp_path / "x.cwlog"), "--reconnect", "0"])
    err = capsys.readouterr().err
    assert code == 2
    assert "no such port" in err and "Traceback" not in err


@pytest.mark.parametrize("sensor", ["imu", "fsr", "imu+fsr"])
def test_raw_streaming_rebuilds_the_recording(tmp_path, sensor, capsys):
    from calfwalk.cli import main

    paths, _ = simulate_set(tmp_path, steps=10, sensor=sensor, feet="right", seed=21)
    session = tmp_path / "raw.cwlog"
    with PodProcess(paths[0], speed=0) as pod:
        assert main(["record", "--port", pod.port, "-o", str(session), "--raw"]) == 0
    capsys.readouterr()
    assert main(["extract-raw", str(session), "-o", str(tmp_path / "back")]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [str(tmp_path / "back_right.csv")]
    original, rebuilt = read_raw(paths[0]), read_raw(out[0])
    assert (rebuilt.foot, rebuilt.sensor, rebuilt.rate_hz) == (original.foot, original.sensor, original.rate_hz)
    assert rebuilt.data.shape == original.data.shape
    assert (rebuilt.data == original.data).all()  # every sample, every value


def test_extract_raw_without_raw_lines_is_a_clear_error(tmp_path, capsys):
    from calfwalk.cli import main

    paths, _ = simulate_set(tmp_path, steps=6, feet="left", seed=22)
    session = tmp_path / "noraw.cwlog"
    with PodProcess(paths[0], speed=0) as pod:
        assert main(["record", "--port", pod.port, "-o", str(session)]) == 0
    capsys.readouterr()
    assert main(["extract-raw", str(session), "-o", str(tmp_path / "x")]) == 2
    assert "record with --raw" in capsys.readouterr().err
