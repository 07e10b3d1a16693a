"""Locate, check and import the pod's firmware modules, so the host runs the very same detector.

Where the firmware (and the board files beside it) come from, first match wins:

1. ``$CALFWALK_FIRMWARE``: a firmware/ folder, for firmware developers; boards/ beside it.
2. The copy inside the installed package: ``calfwalk/bundled/firmware`` and
   ``calfwalk/bundled/boards``, put there by the wheel build (host/setup.py) from the
   repository's top-level firmware/ and boards/, read through importlib.resources and
   checked against the build's ``calfwalk/bundled/MANIFEST.json``.
3. The source checkout this package lives in (``pip install -e host``, as `make` does):
   the live top-level firmware/ and boards/.

A folder that is missing, incomplete or damaged raises FirmwareError, whose message
is one line for the user (the command line turns it into exit code 2).
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from calfwalk.errors import CalfwalkError

ENV = "CALFWALK_FIRMWARE"
BUNDLE = "bundled"  # calfwalk/bundled/{firmware,boards,MANIFEST.json} in a wheel
MANIFEST = "MANIFEST.json"
# what the host itself needs: the entry point (podsim, flash), the version, the modules it imports
REQUIRED = ("main.py", "app.py", "detector.py", "detector_acc.py", "protocol.py", "cues.py")
_VERSION_RE = re.compile(r'^VERSION = "([^"\s]+)"', re.M)  # firmware/app.py: the one version
REINSTALL = "reinstall calfwalk (pipx reinstall calfwalk, or pip install --force-reinstall calfwalk)"

_cache: dict = {}
_checked: dict = {}


class FirmwareError(CalfwalkError):
    """The firmware folder is missing or damaged; the message is one line saying what to do."""


@dataclass(frozen=True)
class Source:
    firmware: Path  # the folder of firmware/*.py
    boards: Path  # the folder of boards/*.json
    origin: str  # how it was found, for messages and `calfwalk --version`


def _checkout_root(here: Path | None = None) -> Path | None:
    """The repository root when this package runs from a source checkout (host/calfwalk/...)."""
    pkg = (here or Path(__file__)).resolve().parent
    root = pkg.parents[1]
    if (pkg.parent / "pyproject.toml").is_file() and (root / "firmware").is_dir():
        return root
    return None


def _bundle_dir() -> Path | None:
    """calfwalk/bundled of the installed package, as a real folder, or None when there is none."""
    from importlib.resources import files

    res = files("calfwalk") / BUNDLE
    if not res.is_dir():
        return None
    if isinstance(res, Path):
        return res
    return _extract(res)  # e.g. a zipped installation: give the tools (mpy-cross, micropython) real files


def _extract(res) -> Path:
    out = Path(tempfile.mkdtemp(prefix="calfwalk-bundle-"))
    atexit.register(shutil.rmtree, out, True)

    def copy(node, dest: Path):
        dest.mkdir(exist_ok=True)
        for child in node.iterdir():
            if child.is_dir():
                copy(child, dest / child.name)
            else:
                (dest / child.name).write_bytes(child.read_bytes())

    copy(res, out)
    return out


def locate() -> Source:
    """Where the firmware comes from (not checked yet: see firmware_dir)."""
    env = os.environ.get(ENV)
    if env:
        fw = Path(env).expanduser()
        return Source(fw, fw.parent / "boards", f"${ENV}")
    bundle = _bundle_dir()
    if bundle is not None:
        return Source(bundle / "firmware", bundle / "boards", "installed package")
    root = _checkout_root()
    if root is not None:
        return Source(root / "firmware", root / "boards", "source checkout")
    raise FirmwareError(
        f"calfwalk firmware not found: this installation has no calfwalk/{BUNDLE}/firmware and is not a "
        f"source checkout: {REINSTALL}, or set {ENV} to a firmware/ folder")


def _signature(folder: Path):
    try:
        return tuple(sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()))
    except OSError:
        return None


def _check_bundle(src: Source) -> None:
    """The installed copy must be exactly what the build put there (MANIFEST.json: name -> sha256)."""
    bundle = src.firmware.parent
    try:
        manifest = json.loads((bundle / MANIFEST).read_text(encoding="utf-8"))
        files = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError):
        files = None
    if not isinstance(files, dict) or not files:
        raise FirmwareError(f"calfwalk firmware at {bundle} is damaged ({MANIFEST} missing or unreadable): "
                            f"{REINSTALL}")
    for name, digest in sorted(files.items()):
        path = bundle / name
        try:
            data = path.read_bytes()
        except OSError:
            raise FirmwareError(f"calfwalk firmware at {bundle} is damaged: {name} is missing: {REINSTALL}") from None
        if hashlib.sha256(data).hexdigest() != digest:
            raise FirmwareError(f"calfwalk firmware at {bundle} is damaged: {name} is not the file this "
                                f"calfwalk was built with: {REINSTALL}")


def _hint(src: Source) -> str:
    """What to do about a broken firmware folder, by where it came from."""
    if src.origin == f"${ENV}":
        return f"set {ENV} to a complete firmware/ folder"
    if src.origin == "source checkout":
        return "restore it from git (git checkout -- firmware)"
    return REINSTALL


def _check_folder(src: Source) -> None:
    """A firmware folder: the files the host needs are there and every module compiles."""
    fw = src.firmware
    hint = _hint(src)
    if not fw.is_dir():
        raise FirmwareError(f"calfwalk firmware not found at {fw} ({src.origin}): {hint}")
    missing = [n for n in REQUIRED if not (fw / n).is_file()]
    if len(missing) == len(REQUIRED):
        raise FirmwareError(f"no calfwalk firmware at {fw} ({src.origin}): none of {', '.join(REQUIRED)} "
                            f"is there: {hint}")
    if missing:
        raise FirmwareError(f"calfwalk firmware at {fw} ({src.origin}) is incomplete: "
                            f"{', '.join(missing)} missing: {hint}")
    for path in sorted(fw.glob("*.py")):
        try:
            compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as exc:
            where = f" line {exc.lineno}" if getattr(exc, "lineno", None) else ""
            what = exc.msg if isinstance(exc, SyntaxError) else str(exc)
            raise FirmwareError(f"calfwalk firmware at {fw} ({src.origin}) is damaged: "
                                f"{path.name}{where}: {what}: {hint}") from None
        except OSError as exc:
            raise FirmwareError(f"calfwalk firmware at {fw}: cannot read {path.name}: "
                                f"{exc.strerror or exc}: {hint}") from None


def source() -> Source:
    """The firmware's Source, checked (cached while the folder does not change)."""
    src = locate()
    key = (src, _signature(src.firmware), _signature(src.firmware.parent))
    if _checked.get(src) != key:
        if src.origin == "installed package":
            _check_bundle(src)
        _check_folder(src)
        _checked[src] = key
    return src


def firmware_dir() -> Path:
    """The firmware/ folder, checked; FirmwareError if it is missing or damaged."""
    return source().firmware


def boards_dir() -> Path:
    """The boards/ folder that goes with the firmware."""
    return source().boards


def board_path(name: str) -> Path:
    """boards/NAME.json, or FirmwareError naming the folder."""
    src = source()
    path = src.boards / f"{name}.json"
    if not path.is_file():
        raise FirmwareError(f"board file {name}.json not found in {src.boards} ({src.origin})")
    return path


def version(fw: Path | None = None) -> str:
    """The firmware version: VERSION in firmware/app.py (the project's one version)."""
    fw = Path(fw) if fw is not None else firmware_dir()
    try:
        text = (fw / "app.py").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FirmwareError(f"cannot read the firmware version from {fw / 'app.py'}: {exc}") from None
    m = _VERSION_RE.search(text)
    if not m:
        raise FirmwareError(f'calfwalk firmware at {fw} is damaged: no VERSION = "..." line in app.py')
    return m.group(1)


# a firmware module's top-level imports (the pod's plain names; those inside functions run later, on demand)
_PLAIN_IMPORT = re.compile(r"^(?:import|from)\s+(\w+)", re.M)


def load(name: str):
    """Import firmware/<name>.py under CPython as module 'calfwalk_fw.<name>'.

    Firmware modules import each other by plain name, as on the pod: while one runs its top
    level, those names stand for the firmware's own modules, and they are taken out of
    sys.modules again afterwards (nothing named "detector" is left behind for others)."""
    if name in _cache:
        return _cache[name]
    src = source()
    path = src.firmware / f"{name}.py"
    if not path.is_file():
        raise FirmwareError(f"calfwalk firmware at {src.firmware} ({src.origin}) is incomplete: {name}.py missing: "
                            f"{_hint(src)}")
    spec = importlib.util.spec_from_file_location(f"calfwalk_fw.{name}", path)
    module = importlib.util.module_from_spec(spec)
    deps = [d for d in dict.fromkeys(_PLAIN_IMPORT.findall(path.read_text(encoding="utf-8")))
            if d != name and (src.firmware / f"{d}.py").is_file()]
    lent = []
    for dep in deps:
        if dep not in sys.modules:
            sys.modules[dep] = load(dep)
            lent.append(dep)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(spec.name, None)
        raise FirmwareError(f"calfwalk firmware at {src.firmware} ({src.origin}): {name}.py failed to load: "
                            f"{type(exc).__name__}: {exc}: {_hint(src)}") from exc
    finally:
        for dep in lent:
            sys.modules.pop(dep, None)
    _cache[name] = module
    if name == "detector":
        # an accelerometer-only pod's detector imports its own path when it needs it; here it is handed over
        module.ACC = load("detector_acc")
    return module
