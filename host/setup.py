"""Build hooks: the wheel carries the pod's firmware and board files, taken from the repository at build time.

firmware/ and boards/ live once, at the top of the repository (beside host/). A wheel
gets a copy of them as calfwalk/bundled/firmware/*.py and calfwalk/bundled/boards/*.json,
plus calfwalk/bundled/MANIFEST.json (the version and each file's sha256, which
calfwalk.firmware checks before using them). An sdist carries them as firmware/ and
boards/ at its top, so a wheel built from the sdist gets the same files. The editable
install (pip install -e host) copies nothing: the package then reads the live
top-level firmware/ (calfwalk/firmware.py).

The version is VERSION in firmware/app.py, the one place it is defined: the pod
reports it, and the package takes it from there.
"""

import hashlib
import json
import re
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = Path(__file__).resolve().parent
PARTS = {"firmware": "*.py", "boards": "*.json"}


def _top(name: str) -> Path:
    """firmware/ or boards/: at the top of an sdist, else beside host/ in the repository."""
    for base in (HERE, HERE.parent):
        if (base / name).is_dir() and (base / "firmware" / "app.py").is_file():
            return base / name
    raise SystemExit(f"calfwalk build: {name}/ not found beside {HERE} (build from the repository's host/ "
                     "folder, or from an sdist made by this setup.py)")


def _files(name: str) -> list:
    found = sorted(p for p in _top(name).glob(PARTS[name]) if p.is_file())
    if not found:
        raise SystemExit(f"calfwalk build: no {PARTS[name]} files in {_top(name)}")
    return found


def firmware_version() -> str:
    app = _top("firmware") / "app.py"
    m = re.search(r'^VERSION = "([^"\s]+)"', app.read_text(encoding="utf-8"), re.M)
    if not m:
        raise SystemExit(f'calfwalk build: no VERSION = "..." line in {app}')
    return m.group(1)


def _readme() -> str:
    for base in (HERE, HERE.parent):
        if (base / "README.md").is_file():
            return (base / "README.md").read_text(encoding="utf-8")
    return ""


class build_py_with_firmware(build_py):
    """build_py, plus calfwalk/bundled/ made from the repository's firmware/ and boards/."""

    def run(self):
        super().run()
        if not self.editable_mode:  # editable: the package reads the live firmware/ itself
            self._bundle(Path(self.build_lib) / "calfwalk" / "bundled")

    def _bundle(self, out: Path):
        if out.exists():
            shutil.rmtree(out)
        files = {}
        for name in PARTS:
            (out / name).mkdir(parents=True)
            for src in _files(name):
                data = src.read_bytes()
                (out / name / src.name).write_bytes(data)
                files[f"{name}/{src.name}"] = hashlib.sha256(data).hexdigest()
        manifest = {"calfwalk_bundle": 1, "version": firmware_version(), "files": files}
        (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        self.announce(f"bundled {len(files)} firmware and board files into {out}", 2)

    def get_outputs(self, include_bytecode=True):
        outputs = list(super().get_outputs(include_bytecode))
        if not self.editable_mode:
            out = Path(self.build_lib) / "calfwalk" / "bundled"
            outputs += [str(out / name / p.name) for name in PARTS for p in _files(name)]
            outputs.append(str(out / "MANIFEST.json"))
        return outputs


class sdist_with_firmware(sdist):
    """sdist, plus firmware/, boards/ and README.md at the top of the archive."""

    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        base = Path(base_dir)
        for name in PARTS:
            (base / name).mkdir(exist_ok=True)
            for src in _files(name):
                shutil.copyfile(src, base / name / src.name)
        if (HERE.parent / "README.md").is_file() and not (base / "README.md").exists():
            shutil.copyfile(HERE.parent / "README.md", base / "README.md")


setup(
    version=firmware_version(),
    long_description=_readme(),
    long_description_content_type="text/markdown",
    cmdclass={"build_py": build_py_with_firmware, "sdist": sdist_with_firmware},
)
