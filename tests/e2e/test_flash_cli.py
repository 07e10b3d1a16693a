"""`calfwalk flash` and `make flash BOARD=... PORT=...` against a stand-in board (the `board` fixture,
tests/conftest.py); what flashing does is tests/unit/device/test_flash.py's."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from helpers import BOARDS, ROOT, host_env

pytestmark = pytest.mark.usefixtures("flash_tools")


def test_cli_flash(board):
    cmd = ["flash", "--board", "unix", "--port", board.port]
    env = host_env()
    env.pop("CALFWALK_FIRMWARE", None)
    run = subprocess.run([sys.executable, "-m", "calfwalk.cli", *cmd], capture_output=True, text=True,
                         timeout=60, env=env)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert "board=unix" in out and "flashed unix" in out
    assert (board.device_dir / "calfwalk.json").read_bytes() == (BOARDS / "unix.json").read_bytes()


def test_make_flash(board):
    # the Makefile target itself, with this venv's tools (no reinstall)
    env = host_env()
    env.pop("CALFWALK_FIRMWARE", None)
    run = subprocess.run(["make", "-s", "flash", "BOARD=unix", f"PORT={board.port}", "STAMP=",
                          f"BIN={os.path.dirname(sys.executable)}"], cwd=str(ROOT), capture_output=True, text=True,
                         timeout=90, env=env)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert "board=unix" in out and "skip" in out  # already flashed: nothing changed, nothing copied


def test_cli_flash_names_an_unknown_board(board, capsys):
    from calfwalk.cli import main

    assert main(["flash", "--board", "nope", "--port", board.port]) == 2
    assert "calfwalk flash: error: unknown board 'nope'" in capsys.readouterr().err


def test_cli_flash_without_a_port_and_no_board_found(monkeypatch, capsys):
    """Without --port the one connected board is taken (link/ports.py, as for record and config)."""
    from serial.tools import list_ports

    from calfwalk.cli import main

    monkeypatch.setattr(list_ports, "comports", lambda: [])
    assert main(["flash", "--board", "unix"]) == 2
    assert "calfwalk flash: error: no pod found" in capsys.readouterr().err
