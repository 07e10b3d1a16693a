"""`calfwalk podsim`: bad input is a clear error, and the pod dies with podsim (issue 12, defect 4)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import descendants, host_env, simulate_set


def alive(pid):
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


@pytest.mark.parametrize("case", ["missing", "empty", "not raw"])
def test_bad_input_is_a_clear_error_and_starts_no_pod(tmp_path, case, micropython):
    path = tmp_path / "x_left.csv"
    if case == "empty":
        path.write_text("")
    elif case == "not raw":
        path.write_text("hello\n")
    out = subprocess.run([sys.executable, "-m", "calfwalk.cli", "podsim", str(path)], capture_output=True, text=True,
                         timeout=30, env=host_env(), stdin=subprocess.DEVNULL)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert out.stdout == ""  # no pty path: no pod
    assert str(path) in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_the_pod_and_its_folder_go_with_podsim(tmp_path, sig, micropython):
    paths, _ = simulate_set(tmp_path, steps=10, feet="left", seed=3)
    proc = subprocess.Popen([sys.executable, "-m", "calfwalk.cli", "podsim", paths[0]], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=host_env(), stdin=subprocess.DEVNULL)
    try:
        port = proc.stdout.readline().strip()
        assert port.startswith("/dev/"), proc.stderr.read()
        deadline = time.monotonic() + 10
        pods = []
        while time.monotonic() < deadline and not pods:
            pods = [p for p in descendants(proc.pid) if any(a.endswith(b"main.py") for a in cmdline(p)) and not any(a.endswith(b"_reaper.py") for a in cmdline(p))]
            time.sleep(0.05)
        assert pods, "no micropython child found"
        folder = next(Path(a.decode()).parent for a in cmdline(pods[0]) if b"calfwalk-pod-" in a)
        assert folder.is_dir()
        family = descendants(proc.pid)
        os.kill(proc.pid, sig)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (any(alive(p) for p in family) or folder.exists()):
            time.sleep(0.05)
        assert not [p for p in family if alive(p)], "the pod outlived podsim"
        assert not folder.exists(), f"{folder} left behind"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
