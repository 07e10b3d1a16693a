"""Locate and import the pod's firmware modules, so the host runs the very same detector."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

_cache: dict = {}


def firmware_dir() -> Path:
    """The firmware/ folder: $CALFWALK_FIRMWARE, else the source checkout this package lives in."""
    env = os.environ.get("CALFWALK_FIRMWARE")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "firmware"
    if not (path / "detector.py").is_file():
        raise FileNotFoundError(
            f"calfwalk firmware not found at {path}: install calfwalk from a source checkout "
            "(pip install -e host) or set CALFWALK_FIRMWARE to the firmware/ folder"
        )
    return path


def load(name: str):
    """Import firmware/<name>.py under CPython as module 'calfwalk_fw.<name>'."""
    if name in _cache:
        return _cache[name]
    path = firmware_dir() / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"calfwalk_fw.{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    # firmware modules import each other by plain name, as on the pod
    for dep in ("detector",):
        if dep != name and dep not in sys.modules:
            sys.modules[dep] = load(dep)
    spec.loader.exec_module(module)
    _cache[name] = module
    return module
