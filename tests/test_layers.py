"""The host package's imports point one way, along the data path (README "The data path").

Every import of a calfwalk module is read from the source (module level and inside
functions alike), so a lazy import cannot hide a cycle or a reach upwards.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import calfwalk

PKG = Path(calfwalk.__file__).resolve().parent

# lower imports nothing above it; the same rank across two subpackages is two sides of one layer
RANK = {
    "errors": 0,  # CalfwalkError: what the CLI shows in one line
    "firmware": 1,  # finds the pod's firmware, which the host replays
    "model": 2,  # the event model
    "files": 3,  # raw files, the wire protocol, session logs
    "link": 4,  # serial transport, recording, pod commands
    "analysis": 4,  # detector replay, clock alignment, summary, the pipeline
    "sim": 4,  # simulated sets and pods
    "output": 5,  # terminal, report, live view, history
    "device": 6,  # flashing, the pod's own log, pairing pulled sets
    "eval": 6,  # datasets, accuracy, robustness sweep
    "demo": 7,
    "cli": 8,
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(["calfwalk", *parts]) if parts else "calfwalk"


def _imports(path: Path, name: str) -> set:
    """The calfwalk modules (dotted) one source file imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("calfwalk"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if not mod.startswith("calfwalk"):
                continue
            for a in node.names:
                # `from calfwalk.x import y` may name the module calfwalk.x.y
                out.add(f"{mod}.{a.name}" if (PKG / Path(*f"{mod}.{a.name}".split(".")[1:])).with_suffix(".py").exists()
                        or (PKG / Path(*f"{mod}.{a.name}".split(".")[1:]) / "__init__.py").exists() else mod)
    return out


def _graph() -> dict:
    graph = {}
    for path in PKG.rglob("*.py"):
        if "bundled" in path.parts:
            continue
        name = _module_name(path)
        graph[name] = {m for m in _imports(path, name) if m != name}
    return graph


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "calfwalk"


def test_every_module_has_a_layer():
    missing = sorted(m for m in _graph() if m != "calfwalk" and _layer(m) not in RANK and not m.endswith("__main__"))
    assert not missing, f"modules outside the layers (add them to a subpackage, or to RANK): {missing}"


def test_nothing_imports_the_cli():
    offenders = sorted(m for m, deps in _graph().items() if "calfwalk.cli" in deps)
    assert not offenders, f"only the entry point may use calfwalk.cli: {offenders}"


def test_imports_point_down_the_data_path():
    wrong = []
    for module, deps in _graph().items():
        if module == "calfwalk" or module.endswith("__main__"):
            continue
        mine = _layer(module)
        for dep in deps:
            theirs = _layer(dep)
            if dep == "calfwalk" or theirs == mine:
                continue
            if RANK[theirs] >= RANK[mine]:
                wrong.append(f"{module} -> {dep}")
    assert not wrong, "imports that point up or sideways:\n" + "\n".join(sorted(wrong))


def test_no_import_cycles():
    graph = _graph()
    state = {}
    stack = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if dep not in graph:
                continue
            if state.get(dep) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(dep):] + [dep]))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_the_checks_can_fail(tmp_path):
    """The walker sees a lazy import inside a function, and resolves relative ones."""
    src = tmp_path / "mod.py"
    src.write_text("def f():\n    from calfwalk.cli import main\n    from . import firmware\n")
    got = _imports(src, "calfwalk.output.mod")
    assert "calfwalk.cli" in got
    assert "calfwalk.output.firmware" in got or "calfwalk.output" in got


def test_readme_names_every_layer():
    """README's data-path table matches the tree: every subpackage, and every module in it."""
    readme = (PKG.parents[1] / "README.md").read_text(encoding="utf-8")
    for sub in sorted(p for p in PKG.iterdir() if (p / "__init__.py").exists() and p.name != "bundled"):
        row = next((line for line in readme.splitlines() if line.strip().startswith(f"| `{sub.name}/` |")), None)
        assert row is not None, f"README's data-path table has no row for {sub.name}/"
        for mod in sorted(m.stem for m in sub.glob("*.py") if not m.stem.startswith("_")):
            assert f"`{mod}`" in row, f"README's row for {sub.name}/ does not name {mod}"


def test_protocol_lists_every_command():
    """PROTOCOL.md documents every command the pod accepts (firmware/app.py COMMANDS)."""
    import re

    root = PKG.parents[1]
    app = (root / "firmware" / "app.py").read_text(encoding="utf-8")
    commands = re.search(r'^COMMANDS = "([^"]+)"', app, re.M).group(1).split()
    doc = (root / "PROTOCOL.md").read_text(encoding="utf-8")
    missing = [c for c in commands if f"| `{c}" not in doc]
    assert not missing, f"PROTOCOL.md does not list these commands: {missing}"


def test_importing_the_host_plants_no_firmware_names():
    """The host loads the firmware as calfwalk_fw.*: no plain "detector" (or any firmware name) is left
    in sys.modules for other code to pick up by mistake, yet an accelerometer-only detector still
    finds its own path."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import calfwalk.cli, calfwalk.demo\n"
        "from calfwalk.analysis import detect\n"
        "from calfwalk.device import podlog\n"
        "from calfwalk import firmware\n"
        "firmware.load('cues')\n"
        "det = detect.make_detector('acc', 100)\n"
        "fw = {p.stem for p in firmware.firmware_dir().glob('*.py')}\n"
        "print(sorted(fw & set(sys.modules)), det._acc.__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["[]", "calfwalk_fw.detector_acc"]


def test_the_sample_slot_is_written_once():
    """firmware/ring.py SLOT is the slot's one definition: raw v1 columns are its slices, the replay
    source fills it by its names, and the app reads slot + k for SLOT[k]."""
    import re

    from calfwalk import firmware
    from calfwalk.files import rawfile

    slot = firmware.load("ring").SLOT
    assert len(slot) == firmware.load("ring").WIDTH
    assert rawfile.columns_for("imu+fsr") == slot and rawfile.columns_for("acc") == slot[:4]
    root = PKG.parents[1]
    app = (root / "firmware" / "app.py").read_text(encoding="utf-8")
    # the app's detector call passes the slot after t_ms in order, and no other module spells the columns out
    assert re.search(r"update\(t - self\.t0,\s*" + r",\s*".join(rf"buf\[i \+ {k}\]" for k in range(1, 10)) + r"\)", app)
    spelled = [p.name for p in list((root / "firmware").glob("*.py")) + list(PKG.rglob("*.py"))
               if p.name != "ring.py" and '"gx_mdps", "gy_mdps", "gz_mdps", "heel"' in p.read_text(encoding="utf-8")]
    assert not spelled, f"the slot's columns written out again in {spelled}"


# -- the tests follow the layers ---------------------------------------------------------------------
TESTS = PKG.parents[1] / "tests"
SUBPACKAGES = sorted(p.name for p in PKG.iterdir() if (p / "__init__.py").exists() and p.name != "bundled")
# what shows a test runs the pod's own code (firmware/): its folder, a loaded module, a MicroPython port
RUNS_FIRMWARE = ("FIRMWARE", "firmware.load", "micropython", "vpico", "fake_hw")
# what shows a test runs the calfwalk command: the CLI's module (imported, or started as `python -m
# calfwalk.cli` / `-m calfwalk`), the installed `calfwalk` script, or a make target that runs it
RUNS_THE_CLI = re.compile(r"""calfwalk\.cli|["']-m["'],\s*["']calfwalk["']|(?:tool|which)\(\s*["']calfwalk["']\s*\)"""
                          r"""|\[\s*["']calfwalk["']\s*,|["']make["']""")


def _runs_the_cli(text: str, mods: set) -> bool:
    """Whether a test file goes through the calfwalk command (which only tests/e2e/ may)."""
    return "calfwalk.cli" in mods or bool(RUNS_THE_CLI.search(text))


def _misplaced(rel: Path, text: str, mods: set):
    """Why a test file (path relative to tests/, its text, the calfwalk modules it imports) is in the
    wrong folder, or None:

    - tests/firmware/: the pod's code (firmware/*.py), under CPython with fake hardware, under the
      MicroPython unix port or on vpico;
    - tests/unit/LAYER/: the host package's subpackage LAYER: the file imports a module of it, and no
      module of a layer above it (lower layers make its inputs), and never runs the calfwalk command
      (no calfwalk.cli, no `calfwalk` process: that is an end-to-end test);
    - tests/e2e/: through the calfwalk command (calfwalk.cli, the demo, the installed wheel);
    - tests/ itself: this file, which checks the whole tree.
    """
    folder = rel.parts[:-1]
    layers = {_layer(m) for m in mods if m != "calfwalk"}
    if folder == ():
        return None if rel.name == "test_layers.py" else "only test_layers.py sits in tests/ itself"
    if folder == ("firmware",):
        return None if any(k in text for k in RUNS_FIRMWARE) else "runs none of the pod's firmware"
    if folder == ("e2e",):
        return None if "calfwalk.cli" in text or layers & {"cli", "demo"} else "does not go through the calfwalk command"
    if len(folder) == 2 and folder[0] == "unit":
        layer = folder[1]
        if layer not in SUBPACKAGES:
            return f"unit/{layer}/ is no subpackage of calfwalk ({', '.join(SUBPACKAGES)})"
        if layer not in layers:
            return f"imports nothing from calfwalk.{layer}"
        if _runs_the_cli(text, mods):
            return "runs the calfwalk command: CLI tests belong in e2e/"
        above = sorted(x for x in layers if x not in ("cli", "calfwalk") and RANK[x] > RANK[layer])
        return f"imports {', '.join(above)}, above {layer}: it belongs to the highest layer it tests" if above else None
    return "not in firmware/, unit/LAYER/ or e2e/"


def test_every_test_file_lives_in_its_layer():
    wrong = []
    for path in sorted(TESTS.rglob("test_*.py")):
        rel = path.relative_to(TESTS)
        why = _misplaced(rel, path.read_text(encoding="utf-8"), _imports(path, "tests.x"))
        if why:
            wrong.append(f"{rel}: {why}")
    assert not wrong, "test files outside their layer's folder:\n" + "\n".join(wrong)
    # every subpackage has its unit tests; the shared helpers and fixtures sit beside this file
    assert sorted(p.name for p in (TESTS / "unit").iterdir() if p.is_dir() and p.name != "__pycache__") == SUBPACKAGES
    others = sorted(str(p.relative_to(TESTS)) for p in TESTS.rglob("*.py")
                    if not p.name.startswith("test_") and p.parent != TESTS and "mpy" not in p.parts)
    assert others == [], f"helpers belong in tests/ (helpers.py), MicroPython scripts in tests/mpy/: {others}"


def test_the_layout_check_can_fail():
    assert _misplaced(Path("unit/files/test_x.py"), "", {"calfwalk.files.rawfile", "calfwalk.output.report"})
    assert _misplaced(Path("unit/output/test_x.py"), "", {"calfwalk.files.rawfile"})
    assert _misplaced(Path("unit/nope/test_x.py"), "", {"calfwalk.files.rawfile"})
    assert _misplaced(Path("e2e/test_x.py"), "", {"calfwalk.files.rawfile"})
    assert _misplaced(Path("firmware/test_x.py"), "", set())
    assert _misplaced(Path("test_x.py"), "", set())
    assert _misplaced(Path("unit/output/test_x.py"), "", {"calfwalk.output.report"}) is None


def test_the_cli_check_can_fail(tmp_path):
    """A unit test that runs the calfwalk command, however it starts it, is refused; the same in e2e/ is not."""
    report = {"calfwalk.output.report"}
    src = tmp_path / "test_x.py"
    src.write_text("def test_x():\n    from calfwalk.cli import main\n    from calfwalk.output import report\n")
    mods = _imports(src, "tests.x")
    assert "runs the calfwalk command" in _misplaced(Path("unit/output/test_x.py"), src.read_text(), mods)
    assert _misplaced(Path("e2e/test_x.py"), src.read_text(), mods) is None
    for text in ('subprocess.run([sys.executable, "-m", "calfwalk.cli", "analyze", p])',
                 "subprocess.run([sys.executable, '-m', 'calfwalk', 'analyze', p])",
                 'subprocess.run([tool("calfwalk"), "analyze", p])',
                 'subprocess.run([shutil.which("calfwalk"), "analyze", p])',
                 'subprocess.run(["calfwalk", "analyze", p])',
                 'subprocess.run(["make", "-s", "flash", "BOARD=unix"])'):
        assert "runs the calfwalk command" in _misplaced(Path("unit/output/test_x.py"), text, report), text
    # reading the CLI's source, or running the pod's firmware, is no run of the command
    assert _misplaced(Path("unit/output/test_x.py"), '(root / "cli.py").read_text()', report) is None
    assert _misplaced(Path("unit/output/test_x.py"), 'subprocess.run([micropython, "main.py"])', report) is None
