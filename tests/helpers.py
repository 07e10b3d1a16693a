"""Helpers the tests share: paths of the repository, tools, simulated sets (import them from here;
conftest.py holds only pytest's fixtures and settings)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# ../shared (the guide and real recordings); absent in a bare clone, tests using it skip
SHARED_DATA = Path(os.environ.get("CALFWALK_SHARED", ROOT.parent / "shared")) / "data"
FIRMWARE = ROOT / "firmware"
BOARDS = ROOT / "boards"


def tool(name: str) -> str | None:
    """A console tool installed next to this Python (the venv), else on PATH."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    return shutil.which(name)


def simulate_set(tmp_path, name="set", **kw):
    """Write a simulated set; returns (paths of raw files, truth dict)."""
    from calfwalk.sim.simulate import HeelTouch, SimConfig, write_simulation

    touches = [t if isinstance(t, HeelTouch) else HeelTouch(*t) for t in kw.pop("heel_touches", [])]
    cfg = SimConfig(heel_touches=touches, **kw)
    paths = write_simulation(cfg, str(tmp_path / name))
    with open(paths[-1]) as fh:
        truth = json.load(fh)
    return paths[:-1], truth
