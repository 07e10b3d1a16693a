"""A stand-in MicroPython board for tests and demos: the MicroPython unix port behind a pseudo-terminal.

`StandInBoard(device_dir)` gives a folder (the board's "flash") and a serial port
(`.port`, the slave side of a pty) that mpremote and pyserial open exactly like
/dev/ttyACM0. A supervisor thread plays the board's USB-serial driver and reset
logic around the `micropython` process:

- boot: with main.py in the folder it runs `micropython -i main.py` (cwd = the
  folder), so when main.py ends or is interrupted the board drops to the REPL,
  as a board does; without main.py it starts at the REPL.
- Ctrl-C: a board's USB driver turns the interrupt character into a
  KeyboardInterrupt while code runs. The unix port only reacts to SIGINT, so
  while code runs (the last output is not a REPL prompt) the supervisor
  consumes the Ctrl-C, sends SIGINT and holds the host's following bytes until
  the REPL prompt appears. At a prompt Ctrl-C is passed on as a character.
- soft reboot: Ctrl-D at the REPL (or `machine.soft_reset()`, `sys.exit()`)
  makes the unix port exit. The supervisor then prints the board's
  "MPY: soft reboot" line and starts micropython again, like a reboot: into
  main.py from the friendly REPL, or straight back into the raw REPL when the
  soft reset came from the raw REPL (mpremote's auto soft-reset).

Not emulated: `machine.reset()` (the unix port has no hard reset; `mpremote
reset` fails with AttributeError), USB re-enumeration, and boot.py. The unix
port ends its lines with "\\n" where a board sends "\\r\\n".

Run one from a shell:  python -m calfwalk.sim.standin DEVICE_DIR   (prints the port).
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import subprocess
import sys
import termios
import threading
import time
import tty
from pathlib import Path

RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
SOFT_REBOOT = b"MPY: soft reboot\r\n"
_TX_LIMIT = 16384  # board->host bytes kept while nobody reads the port; older ones are dropped
_LOG_LIMIT = 65536
_HOLD_TIMEOUT = 3.0  # a program that ignores SIGINT this long is killed (a watchdog reset)


def micropython_exe() -> str:
    from calfwalk.sim.podsim import micropython_exe as find

    return find()


def _nonblocking(fd):
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)


class StandInBoard:
    """A MicroPython board emulated by the unix port: `device_dir` is its flash, `port` its serial port."""

    def __init__(self, device_dir, micropython: str | None = None, heapsize: str | None = None):
        self.device_dir = Path(device_dir)
        self.device_dir.mkdir(parents=True, exist_ok=True)
        self.micropython = micropython or micropython_exe()
        self.heapsize = heapsize  # e.g. "192k" to get a Pico-sized heap
        self.port: str | None = None
        self.boots = 0  # micropython processes started (power-on and every reboot)
        self.log = bytearray()  # the last bytes the board sent (for error messages)
        self.dropped = 0  # board->host bytes dropped because nobody read the port
        self.error: BaseException | None = None
        self._child: subprocess.Popen | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._fds: list = []
        self._power_on = False

    # -- public --------------------------------------------------------
    def start(self) -> StandInBoard:
        self._ext_master, self._ext_slave = os.openpty()
        tty.setraw(self._ext_slave)
        # the board side of the link: micropython's stdio, with the unix port's own tty handling
        self._int_master, self._int_slave = os.openpty()
        tty.setraw(self._int_slave)
        self._int_attrs = termios.tcgetattr(self._int_slave)
        self._wake_r, self._wake_w = os.pipe()
        for fd in (self._ext_master, self._int_master, self._wake_r):
            _nonblocking(fd)
        self._fds = [self._ext_master, self._ext_slave, self._int_master, self._int_slave, self._wake_r, self._wake_w]
        # we keep the slave open ourselves, so the port never hangs up between host connections
        self.port = os.ttyname(self._ext_slave)
        self._thread = threading.Thread(target=self._supervise, name="standin-board", daemon=True)
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def power_cycle(self):
        """Cut the power: the running micropython is killed and the board boots into main.py."""
        self._power_on = True
        self._kill_child()

    def output(self) -> str:
        """The last bytes the board sent, as text."""
        return bytes(self.log).decode("ascii", "backslashreplace")

    def close(self):
        self._stop.set()
        try:
            os.write(self._wake_w, b"x")
        except (OSError, AttributeError):
            pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._kill_child()
        for fd in self._fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds = []

    def __enter__(self):
        if self.port is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    # -- supervisor ----------------------------------------------------
    def _kill_child(self):
        child = self._child
        if child is not None and child.poll() is None:
            child.kill()
            child.wait()

    def _spawn(self, run_main: bool):
        termios.tcsetattr(self._int_slave, termios.TCSANOW, self._int_attrs)
        termios.tcflush(self._int_slave, termios.TCIOFLUSH)
        args = [self.micropython]
        if self.heapsize:
            args += ["-X", f"heapsize={self.heapsize}"]
        if run_main:
            args += ["-i", "main.py"]
        env = dict(os.environ)
        # a board's import path: its flash, frozen modules, /lib (not ~/.micropython/lib)
        env["MICROPYPATH"] = ":.frozen:lib"
        self._child = subprocess.Popen(args, cwd=str(self.device_dir), stdin=self._int_slave, stdout=self._int_slave,
                                       stderr=self._int_slave, close_fds=True, start_new_session=True, env=env)
        self.boots += 1
        self._tail = b""
        self._idle = False

    def _supervise(self):
        self._to_host = bytearray()
        self._to_child = bytearray()
        self._held = bytearray()
        self._holding = False
        self._hold_since = 0.0
        self._suppress = None  # output swallowed until the raw REPL banner after a raw soft reboot
        self._mode = "program"
        next_raw = next_repl = False
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                run_main = not next_raw and not next_repl and (self.device_dir / "main.py").is_file()
                self._power_on = False
                self._spawn(run_main)
                self._mode = "program" if run_main else "friendly"
                self._suppress = None
                if next_raw:
                    # a board soft-reset from the raw REPL comes back in the raw REPL, main.py not run
                    self._to_child += b"\x01"
                    self._suppress = bytearray()
                self._pump()
                if self._stop.is_set():
                    break
                if self._power_on:
                    next_raw = next_repl = False
                    self._holding = False
                    self._held.clear()
                    continue
                next_raw = self._mode == "raw" and not self._holding
                # killed by a Ctrl-C before it could handle it: come up at the REPL, which gets the held bytes
                next_repl = self._holding
                self._host_write(SOFT_REBOOT)
                if self._child.returncode != 0 and time.monotonic() - started < 0.2:
                    time.sleep(0.2)  # a board that crashes at once must not spin
        except BaseException as exc:  # pragma: no cover - reported through .error
            self.error = exc
        finally:
            self._kill_child()

    def _pump(self):
        """Move bytes both ways until the micropython process exits (or close())."""
        ext, intm = self._ext_master, self._int_master
        while not self._stop.is_set():
            wl = []
            if self._to_host:
                wl.append(ext)
            if self._to_child:
                wl.append(intm)
            try:
                r, w, _ = select.select([ext, intm, self._wake_r], wl, [], 0.05)
            except InterruptedError:
                continue
            if intm in r:
                self._read_child()
            if ext in r:
                data = self._read(ext)
                if data:
                    self._from_host(data)
            if self._wake_r in r:
                self._read(self._wake_r)
            if intm in w:
                self._flush(intm, self._to_child)
            if ext in w:
                self._flush(ext, self._to_host)
            if self._holding and time.monotonic() - self._hold_since > _HOLD_TIMEOUT:
                self._kill_child()
            if self._child.poll() is not None:
                self._read_child()  # what it wrote just before it exited
                return

    @staticmethod
    def _read(fd) -> bytes:
        out = b""
        while True:
            try:
                chunk = os.read(fd, 4096)
            except (BlockingIOError, InterruptedError):
                return out
            except OSError:  # EIO: nothing on the other side
                return out
            if not chunk:
                return out
            out += chunk

    @staticmethod
    def _flush(fd, buf: bytearray):
        try:
            n = os.write(fd, bytes(buf))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            buf.clear()
            return
        del buf[:n]

    def _host_write(self, data: bytes):
        self.log += data
        if len(self.log) > _LOG_LIMIT:
            del self.log[:-_LOG_LIMIT]
        self._to_host += data
        if len(self._to_host) > _TX_LIMIT:
            # nobody is reading the port: a board's USB serial drops output the same way
            extra = len(self._to_host) - _TX_LIMIT
            self.dropped += extra
            del self._to_host[:extra]
        self._flush(self._ext_master, self._to_host)

    def _read_child(self):
        data = self._read(self._int_master)
        if not data:
            return
        self._tail = (self._tail + data)[-64:]
        t = self._tail
        if t.endswith((b">>> ", b"... ")):
            self._mode, self._idle = "friendly", True
        elif t.endswith((RAW_BANNER + b">", b"\x04>")):
            self._mode, self._idle = "raw", True
        else:
            self._idle = False
        if self._suppress is not None:
            self._suppress += data
            i = self._suppress.find(RAW_BANNER)
            if i < 0:
                return
            data = bytes(self._suppress[i:])
            self._suppress = None
        self._host_write(data)
        if self._holding and self._idle:
            # the program is interrupted and the REPL waits: give it what the host sent meanwhile
            self._holding = False
            self._to_child += self._held
            self._held.clear()

    def _from_host(self, data: bytes):
        if self._holding:
            self._held += data.replace(b"\x03", b"")
            return
        i = data.find(b"\x03")
        if i < 0 or self._idle:
            self._to_child += data  # at a prompt Ctrl-C is an ordinary character for the REPL
            return
        # code is running: the interrupt character raises KeyboardInterrupt and is consumed
        self._to_child += data[:i]
        self._holding = True
        self._hold_since = time.monotonic()
        self._held += data[i + 1:].replace(b"\x03", b"")
        try:
            self._child.send_signal(signal.SIGINT)
        except OSError:
            pass


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m calfwalk.sim.standin",
                                description="Run a stand-in MicroPython board (unix port behind a pty).")
    p.add_argument("device_dir", help="folder that plays the board's flash")
    p.add_argument("--heapsize", help="micropython heap size, e.g. 192k")
    args = p.parse_args(argv)

    def stop(_sig, _frame):
        raise KeyboardInterrupt

    # Ctrl-C, and a plain `kill` too, power the board off cleanly (no micropython left behind)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    with StandInBoard(args.device_dir, heapsize=args.heapsize) as board:
        print(board.port, flush=True)
        print(f"stand-in board on {board.port}, flash = {board.device_dir} (Ctrl-C to stop)", file=sys.stderr)
        try:
            while board.alive:
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
