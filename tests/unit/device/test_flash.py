"""Flashing a pod (device/flash.py) against a stand-in board (the `board` fixture, tests/conftest.py;
`calfwalk flash` and `make flash`: tests/e2e/test_flash_cli.py).

The stand-in is the MicroPython unix port behind a pseudo-terminal with a folder
as its flash (calfwalk.sim.standin.StandInBoard); mpremote and pyserial open its
port exactly like /dev/ttyACM0. Flashing goes through mpremote's transport and its
`fs cp` hash check, in this process: the tests watch mpremote's hash and write calls.
"""

from __future__ import annotations

import os
import shutil
import sys

import pytest

from calfwalk.device import flash as fl
from calfwalk.link.transport import open_transport
from calfwalk.link.podctl import PodClient
from calfwalk.sim.standin import StandInBoard

from helpers import BOARDS, FIRMWARE, private_attributes

pytestmark = pytest.mark.usefixtures("flash_tools")

MODULES = sorted(p.stem for p in FIRMWARE.glob("*.py") if p.name != "main.py")
SHIPPED = ["main.py"] + [m + ".mpy" for m in MODULES] + ["calfwalk.json"]


def _log():
    lines = []
    return lines, lines.append


def _client(port):
    return PodClient(open_transport(port))


@pytest.fixture
def mpremote_calls(monkeypatch):
    """The board paths mpremote hashes (its `fs cp` check) and writes, call by call."""
    from mpremote.transport import Transport

    calls = {"hashed": [], "written": []}
    hashfile, writefile = Transport.fs_hashfile, Transport.fs_writefile

    def hashed(self, path, algo, *args, **kw):
        calls["hashed"].append((path, algo))
        return hashfile(self, path, algo, *args, **kw)

    def written(self, dest, data, *args, **kw):
        calls["written"].append(dest)
        return writefile(self, dest, data, *args, **kw)

    monkeypatch.setattr(Transport, "fs_hashfile", hashed)
    monkeypatch.setattr(Transport, "fs_writefile", written)
    return calls


def test_flash_copies_then_skips_then_copies_only_the_change(board, tmp_path, monkeypatch, mpremote_calls):
    dev = board.device_dir
    boots = board.boots
    lines, log = _log()
    first = fl.flash("unix", board.port, log=log)

    # every file landed in the board's flash: .mpy modules, main.py as source, the board config
    assert first["copied"] == SHIPPED and first["skipped"] == []
    assert (dev / "calfwalk.json").read_bytes() == (BOARDS / "unix.json").read_bytes()
    assert (dev / "main.py").read_bytes() == (FIRMWARE / "main.py").read_bytes()
    for m in MODULES:
        assert (dev / f"{m}.mpy").read_bytes()[:2] == b"M\x06", m
        assert not (dev / f"{m}.py").exists()
    assert (dev / fl.MANIFEST).is_file()
    # the pod rebooted into the flashed main.py and answered `status`
    assert board.boots > boots
    assert first["hello"]["board"] == "unix" and first["hello"]["proto"] == "1"
    assert first["status"]["state"] == "cal"
    assert any("copy  detector.mpy" in line for line in lines)
    assert any("pod answered status" in line for line in lines)

    # it keeps running: our own connection sees it answer and replay the recording from its flash
    c = _client(board.port)
    try:
        hello, _status = c.status()
        assert hello["board"] == "unix"
        c.ok("start")
        c.wait(lambda line: line.kind == "S" and int(line.kv()["samples"]) > 0, timeout=5)
    finally:
        c.t.close()

    # the same firmware again: nothing is copied; a stale ring.py that would shadow ring.mpy goes
    (dev / "ring.py").write_text("raise ImportError('stale ring.py imported')\n")
    lines, log = _log()
    stamps = {n: (dev / n).stat().st_mtime_ns for n in SHIPPED + [fl.MANIFEST]}
    mpremote_calls["hashed"].clear()
    mpremote_calls["written"].clear()
    second = fl.flash("unix", board.port, log=log)
    assert second["copied"] == [] and second["skipped"] == SHIPPED
    assert second["removed"] == ["ring.py"] and not (dev / "ring.py").exists()
    assert second["hello"]["board"] == "unix"
    assert sum("skip  " in line for line in lines) == len(SHIPPED)
    # mpremote's `fs cp` compared each file's sha256 on the board, and wrote none of them again
    assert mpremote_calls["hashed"] == [(n, "sha256") for n in SHIPPED + [fl.MANIFEST]]
    assert mpremote_calls["written"] == []
    assert {n: (dev / n).stat().st_mtime_ns for n in stamps} == stamps

    # one firmware file changes (a copy of the checkout via CALFWALK_FIRMWARE): only it is copied
    co = tmp_path / "checkout"
    shutil.copytree(FIRMWARE, co / "firmware")
    shutil.copytree(BOARDS, co / "boards")
    with open(co / "firmware" / "ring.py", "a") as fh:
        fh.write("\n_FLASH_TEST = 1\n")
    monkeypatch.setenv("CALFWALK_FIRMWARE", str(co / "firmware"))
    before = (dev / "ring.mpy").read_bytes()
    mpremote_calls["written"].clear()
    third = fl.flash("unix", board.port, log=lambda _t: None)
    assert mpremote_calls["written"] == ["ring.mpy", fl.MANIFEST]
    assert third["copied"] == ["ring.mpy"]
    assert third["skipped"] == [n for n in SHIPPED if n != "ring.mpy"]
    assert (dev / "ring.mpy").read_bytes() != before
    assert third["hello"]["board"] == "unix"


def test_saved_parameters_survive_a_flash(board):
    fl.flash("unix", board.port, log=lambda _t: None)
    c = _client(board.port)
    try:
        c.ok("set rise_mm 44")
        c.ok("save")
    finally:
        c.t.close()
    lines, log = _log()
    res = fl.flash("unix", board.port, log=log)
    assert res["copied"] == ["calfwalk.json"]
    assert any("keeping 1 parameter" in line and "rise_mm" in line for line in lines)
    c = _client(board.port)
    try:
        assert c.ok("get rise_mm")[0] == "rise_mm=44"
    finally:
        c.t.close()
    # --drop-params puts the board file back byte for byte
    res = fl.flash("unix", board.port, keep_params=False, log=lambda _t: None)
    assert res["copied"] == ["calfwalk.json"]
    assert (board.device_dir / "calfwalk.json").read_bytes() == (BOARDS / "unix.json").read_bytes()


def test_force_copies_every_file_without_asking_for_hashes(board, mpremote_calls):
    fl.flash("unix", board.port, log=lambda _t: None)
    mpremote_calls["hashed"].clear()
    mpremote_calls["written"].clear()
    res = fl.flash("unix", board.port, force=True, log=lambda _t: None)
    assert res["copied"] == SHIPPED and res["skipped"] == []
    assert mpremote_calls["hashed"] == []
    assert mpremote_calls["written"] == SHIPPED + [fl.MANIFEST]


def test_flash_reads_no_private_attributes():
    """Only public APIs: no `obj._x` of mpremote's objects, pyserial's or our own other classes."""
    assert private_attributes(fl.__file__) == []


def test_hard_reset_needs_machine_reset(board):
    # the unix port has no machine.reset(): said before anything is copied
    with pytest.raises(fl.FlashError, match=r"no machine.reset\(\).*--reset soft"):
        fl.flash("unix", board.port, reset="hard", log=lambda _t: None)


def test_unknown_board_lists_the_known_ones(board):
    with pytest.raises(fl.FlashError) as err:
        fl.flash("unixx", board.port, log=lambda _t: None)
    msg = str(err.value)
    assert "unknown board 'unixx'" in msg and "did you mean unix" in msg
    for p in BOARDS.glob("*.json"):
        assert p.stem in msg


def test_missing_port_and_missing_mpremote(monkeypatch):
    with pytest.raises(fl.FlashError, match="/dev/calfwalk-no-such-port: no such port"):
        fl.flash("unix", "/dev/calfwalk-no-such-port", log=lambda _t: None)
    monkeypatch.setitem(sys.modules, "mpremote.transport_serial", None)  # import fails as if not installed
    with pytest.raises(fl.FlashError, match="mpremote is not installed"):
        fl.flash("unix", "/dev/calfwalk-no-such-port", log=lambda _t: None)


def test_no_port_given_and_no_board_found(monkeypatch):
    """Without a port the one connected board is taken (link/ports.py, as for record and config)."""
    from serial.tools import list_ports

    from calfwalk.link.ports import PortError

    monkeypatch.setattr(list_ports, "comports", lambda: [])
    with pytest.raises(PortError, match="no pod found: plug it in, or give --port"):
        fl.flash("unix", None, log=lambda _t: None)


def test_a_port_that_is_no_board_is_named(tmp_path):
    """A port that opens but is no MicroPython REPL (or cannot be opened as a serial port): the
    error names the port and says what to check."""
    with pytest.raises(fl.FlashError) as err:
        fl.flash("unix", os.devnull, log=lambda _t: None)
    msg = str(err.value)
    assert f"on {os.devnull} failed" in msg and ("calfwalk ports" in msg or "MicroPython REPL" in msg), msg


def test_pod_that_does_not_start_is_reported(tmp_path):
    # no replay.csv on this board: main.py stops at boot with its ERR config line
    with StandInBoard(tmp_path / "device") as b, pytest.raises(fl.FlashError) as err:
        fl.flash("unix", b.port, timeout=5, log=lambda _t: None)
    msg = str(err.value)
    assert "did not start" in msg and "config error" in msg and "ENOENT" in msg and ":replay.csv" in msg
