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


def private_attributes(path) -> list:
    """`obj._name` reads of another object's private attributes in a source file, as "LINE: obj._name"
    (self._x and cls._x are the object's own; dunders and os._exit are public)."""
    import ast

    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or not node.attr.startswith("_") or node.attr.startswith("__"):
            continue
        owner = ast.unparse(node.value)
        if owner in ("self", "cls") or f"{owner}.{node.attr}" == "os._exit":
            continue
        found.append(f"{node.lineno}: {owner}.{node.attr}")
    return found


def host_env(**extra) -> dict:
    """This process's environment with the checkout's host/ first on PYTHONPATH (a calfwalk started
    in a child process runs this code), plus `extra`."""
    env = dict(os.environ, **extra)
    env["PYTHONPATH"] = str(ROOT / "host") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def descendants(pid: int) -> list:
    """Every live descendant of pid, from /proc."""
    kids = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            kids.setdefault(int(fields[1]), []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out
