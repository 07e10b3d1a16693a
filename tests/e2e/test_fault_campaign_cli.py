"""The fault campaign through the calfwalk command (issue 12): `calfwalk record` killed, the pod under it
killed, `calfwalk podsim` killed mid-set; each session is still readable and holds what the pod sent
(helpers.check_fault_session; the port pulled out and the pod rebooted: tests/unit/link/test_fault_campaign.py;
`clean_set`: tests/conftest.py)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from calfwalk.sim.podsim import PodProcess

from helpers import FAULT_SEEDS as SEEDS, FAULT_SPEED as SPEED, check_fault_session, descendants, host_env


def alive(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def pod_pid(reaper_pid):
    """The micropython process under a PodProcess's reaper."""
    for p in descendants(reaper_pid):
        try:
            args = Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(a.endswith(b"main.py") for a in args) and not any(a.endswith(b"_reaper.py") for a in args):
            return p
    return None


def wait_lines(session: Path, n: int, timeout=60.0, proc=None):
    """Wait until the session file holds n pod lines (E and S), or the recorder has exited."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if session.exists() and session.read_bytes().count(b"$CW1,") >= n:
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(0.02)
    return False


def record_cli(port, session, reconnect=0):
    return subprocess.Popen([sys.executable, "-m", "calfwalk.cli", "record", "--port", port, "-o", str(session),
                             "--no-history", "--reconnect", str(reconnect)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=host_env(),
                            stdin=subprocess.DEVNULL)


def finish(proc, timeout=60):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"still running after {timeout} s: {err[-400:]}")
    return proc.returncode, out, err


@pytest.mark.parametrize("seed", SEEDS)
def test_kill_record(tmp_path, clean_set, seed):
    at = random.Random(seed).randrange(8, 22)
    session = tmp_path / "s.cwlog"
    with PodProcess(clean_set[0], speed=SPEED) as pod:
        rec = record_cli(pod.port, session)
        reached = wait_lines(session, at, proc=rec)
        os.kill(rec.pid, signal.SIGKILL)
        code, _out, _err = finish(rec)
    assert reached and code == -signal.SIGKILL
    s = check_fault_session(session, "kill record", seed, clean_set[1], {"killed_after_lines": at})
    assert s["session_damaged_lines"] <= 1  # at most the line being written


@pytest.mark.parametrize("seed", SEEDS)
def test_kill_the_pod(tmp_path, clean_set, seed):
    at = random.Random(100 + seed).randrange(8, 22)
    session = tmp_path / "s.cwlog"
    pod = PodProcess(clean_set[0], speed=SPEED)
    try:
        rec = record_cli(pod.port, session)
        assert wait_lines(session, at, proc=rec)
        victim = pod_pid(pod.proc.pid)
        assert victim is not None
        os.kill(victim, signal.SIGKILL)
        code, _out, err = finish(rec)
    finally:
        pod.close()
    assert code == 1 and "was lost and did not come back" in err and "Traceback" not in err
    assert not alive(victim)
    check_fault_session(session, "kill the pod", seed, clean_set[1], {"killed_after_lines": at})


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["TERM", "KILL"])
def test_kill_podsim(tmp_path, clean_set, seed, sig):
    at = random.Random(200 + seed).randrange(8, 22)
    session = tmp_path / "s.cwlog"
    sim = subprocess.Popen([sys.executable, "-m", "calfwalk.cli", "podsim", clean_set[0], "--speed", str(SPEED)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=host_env(),
                           stdin=subprocess.DEVNULL)
    try:
        port = sim.stdout.readline().strip()
        assert port.startswith("/dev/"), sim.stderr.read()
        family = descendants(sim.pid)
        rec = record_cli(port, session)
        assert wait_lines(session, at, proc=rec)
        os.kill(sim.pid, sig)
        code, _out, err = finish(rec)
        sim.wait(timeout=30)
    finally:
        if sim.poll() is None:
            sim.kill()
            sim.wait()
        sim.stdout.close()
        sim.stderr.close()
    assert code == 1 and "Traceback" not in err
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(p) for p in family):
        time.sleep(0.05)
    assert not [p for p in family if alive(p)], "the pod outlived podsim"
    check_fault_session(session, f"kill podsim ({sig.name})", seed, clean_set[1], {"killed_after_lines": at})
