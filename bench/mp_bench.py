# The pod's budget, measured under MicroPython (run by bench/run_bench.py and the tests).
# usage: micropython mp_bench.py FIRMWARE_DIR MODE RAW_FILE [options]
#   alloc [N]            heap_lock around each sample's processing (ring slot + detector update);
#                        allocation per event (protocol line) measured with gc.mem_alloc
#   cost [N]             detector cost per sample in reference-loop iterations, timed (noisy)
#   count base|det|ref N R   the same work for an instruction counter (valgrind): preload N
#                        samples, then nothing / the detector over them / R reference iterations
#   peak                 the whole app over the file (replay source, detector, protocol):
#                        live heap after each garbage collection, highest seen
#   drops SPEEDUP GC_EVERY SLOW_MS [RING]
#                        timer-driven app over the whole file on a compressed virtual clock,
#                        with forced GCs and slow serial writes: samples dropped (wall-clock
#                        driven: `make bench` only, its figure depends on the machine's load)
#   vdrops GC_EVERY WRITE_MS [RING]
#                        the same on a purely virtual clock that advances by a fixed cost per
#                        line written (WRITE_MS), per forced GC, per sample and per loop pass:
#                        the same result on any machine under any load (the tests use this)
# Prints one line of JSON.
import sys

sys.path.insert(0, sys.argv[1])
import gc
import time
from array import array

import micropython

import detector
from app import App
from ring import WIDTH
from sources import ReplaySource

MODE = sys.argv[2]
PATH = sys.argv[3]
ARGS = [int(a) for a in sys.argv[4:] if a.isdigit()]
# log=DIR: the app logs every event to DIR (firmware/logbook.py), as a pod on a board does
LOG_DIR = ([a[4:] for a in sys.argv[4:] if a.startswith("log=")] or [""])[0]


def make_log():
    if not LOG_DIR:
        return None
    import logboot

    return logboot.open_log(LOG_DIR)


def preload(src, n):
    """Up to n samples of the file into one flat array (the driver's buffers, read ahead)."""
    buf = array("i", [0] * (n * WIDTH))
    k = 0
    while k < n and src.due(0):
        src.read_into(buf, k * WIDTH)
        k += 1
    return buf, k


class NullOut:
    """A serial port that takes lines and discards them."""

    def __init__(self, slow_ms=0):
        self.slow_ms = slow_ms
        self.lines = 0
        self.reported_drops = 0  # the sum of the pod's D lines

    def write(self, text):
        self.lines += 1
        if ",D,dropped=" in text:
            self.reported_drops += int(text.split("dropped=")[1].split(",")[0])
        if self.slow_ms:
            time.sleep_ms(self.slow_ms)


def config(src, ring=64):
    return {"board": "bench", "sensor": src.sensor, "rate_hz": src.rate_hz, "foot": src.foot, "ring": ring,
            "autostart": True, "heartbeat_ms": 1000, "params": {}}


def run_alloc(n):
    src = ReplaySource(PATH, 0)
    out = NullOut()
    pod = App(config(src), src, out=out, inp=None, log=make_log())
    data, n = preload(src, n)
    ring = pod.ring
    rbuf = ring.buf
    det = pod.det
    locked_fail = 0
    samples = 0
    events = 0
    ev_bytes = 0
    gc.collect()
    gc.disable()
    for k in range(n):
        j = k * WIDTH
        micropython.heap_lock()
        try:
            # the timer's part: one sample into a ring slot
            i = ring.slot()
            for c in range(WIDTH):
                rbuf[i + c] = data[j + c]
            ring.commit()
            # the loop's part: the detector on the oldest slot
            i = ring.peek()
            if pod.t0 is None:
                pod.t0 = rbuf[i]
            m = det.update(rbuf[i] - pod.t0, rbuf[i + 1], rbuf[i + 2], rbuf[i + 3], rbuf[i + 4], rbuf[i + 5],
                           rbuf[i + 6], rbuf[i + 7], rbuf[i + 8], rbuf[i + 9])
            ring.pop()
        except MemoryError:
            m = 0
            locked_fail += 1
        micropython.heap_unlock()
        samples += 1
        if m:
            # events may allocate: their protocol lines are formatted here
            a0 = gc.mem_alloc()
            pod._events(m)
            ev_bytes += gc.mem_alloc() - a0
            events += m
            gc.collect()
    gc.enable()
    log = pod.enc.log
    if log is not None:
        log.flush()
    print('{"samples": %d, "locked_failures": %d, "alloc_bytes_per_sample": %d, "events": %d, "alloc_bytes_per_event": %d, "log_writes": %d, "log_bytes": %d}' % (
        samples, locked_fail, 0 if locked_fail == 0 else -1, events, ev_bytes // events if events else 0,
        log.writes if log else 0, log.written if log else 0))


def run_cost(n):
    src = ReplaySource(PATH, 0)
    data, n = preload(src, n)
    t0 = data[0]
    # best of several runs: the machine's other load only ever adds time
    per_sample_us = 1e9
    for _rep in range(3):
        p = detector.Params(rate_hz=src.rate_hz)
        det = detector.for_sensor(p, src.sensor)
        gc.collect()
        start = time.ticks_us()
        for k in range(n):
            j = k * WIDTH
            micropython.heap_lock()  # as the app runs it (see App.drain)
            det.update(data[j] - t0, data[j + 1], data[j + 2], data[j + 3], data[j + 4], data[j + 5], data[j + 6],
                       data[j + 7], data[j + 8], data[j + 9])
            micropython.heap_unlock()
        per_sample_us = min(per_sample_us, time.ticks_diff(time.ticks_us(), start) / n)
    # reference loop: one iteration of a small-int loop, timed in this same process
    reps = 200000
    ref_us = 1e9
    for _rep in range(5):
        start = time.ticks_us()
        ref_loop(reps)
        ref_us = min(ref_us, time.ticks_diff(time.ticks_us(), start) / reps)
    print('{"samples": %d, "us_per_sample": %.3f, "ref_iter_us": %.4f, "cost_ref_iters_per_sample": %.1f}' % (
        n, per_sample_us, ref_us, per_sample_us / ref_us))


def ref_loop(reps):
    """The reference: one iteration of a small-int loop."""
    x = 0
    for i in range(reps):
        x = (x + i) & 1023
    return x


def run_count(what, n, reps):
    src = ReplaySource(PATH, 0)
    data, n = preload(src, n)
    p = detector.Params(rate_hz=src.rate_hz)
    det = detector.for_sensor(p, src.sensor)
    t0 = data[0]
    if what == "det":
        for k in range(n):
            j = k * WIDTH
            micropython.heap_lock()  # as the app runs it (see App.drain)
            det.update(data[j] - t0, data[j + 1], data[j + 2], data[j + 3], data[j + 4], data[j + 5], data[j + 6],
                       data[j + 7], data[j + 8], data[j + 9])
            micropython.heap_unlock()
    elif what == "ref":
        ref_loop(reps)
    elif what == "time":
        start = time.ticks_us()
        for k in range(n):
            j = k * WIDTH
            micropython.heap_lock()  # as the app runs it (see App.drain)
            det.update(data[j] - t0, data[j + 1], data[j + 2], data[j + 3], data[j + 4], data[j + 5], data[j + 6],
                       data[j + 7], data[j + 8], data[j + 9])
            micropython.heap_unlock()
        print(time.ticks_diff(time.ticks_us(), start) / n)
    print('{"what": "%s", "samples": %d, "reps": %d}' % (what, n, reps))


class VirtualTimer:
    """machine.Timer stand-in on a virtual clock that runs SPEEDUP times faster than the wall clock.

    fire_due() calls the callback for every period that has passed, as the hardware
    timer would have during whatever the loop was doing (a GC, a slow write).
    """

    PERIODIC = 1

    def __init__(self, speedup):
        self.speedup = speedup

    def init(self, freq, mode, callback):
        self.period_us = 1000000 // freq
        self.callback = callback
        self.start = time.ticks_us()
        self.fired = 0

    def fire_due(self):
        due = time.ticks_diff(time.ticks_us(), self.start) * self.speedup // self.period_us
        while self.fired < due:
            self.callback(self)
            self.fired += 1


class LiveFile:
    """The replay file as a live sensor: a timer tick copies one sample from a read-ahead
    buffer (no allocation, like a driver); the loop refills the buffer between ticks."""

    CHUNK = 2000

    def __init__(self, path):
        self.src = ReplaySource(path, 0)
        self.sensor, self.rate_hz, self.foot = self.src.sensor, self.src.rate_hz, self.src.foot
        self.buf = array("i", [0] * (2 * self.CHUNK * WIDTH))
        self.n = 0  # rows in buf
        self.pos = 0  # next row to hand out
        self.done = False
        self.refill(self.CHUNK)

    def refill(self, rows=8):
        """Read a few rows ahead (a few rows a pass, so the bench's own file parsing stays short)."""
        b = self.buf
        if self.pos >= self.CHUNK:
            keep = self.n - self.pos
            for k in range(keep * WIDTH):
                b[k] = b[self.pos * WIDTH + k]
            self.n, self.pos = keep, 0
        while rows and self.n < 2 * self.CHUNK and self.src.due(0):
            self.src.read_into(b, self.n * WIDTH)
            self.n += 1
            rows -= 1

    def read_into(self, buf, i):
        if self.pos >= self.n:
            self.done = True
            return
        j = self.pos * WIDTH
        src = self.buf
        for k in range(WIDTH):
            buf[i + k] = src[j + k]
        self.pos += 1


def run_drops(speedup, gc_every, slow_ms, ring_slots=64):
    src = LiveFile(PATH)
    out = NullOut(slow_ms)
    pod = App(config(src, ring_slots), src, out=out, inp=None, log=make_log())
    timer = VirtualTimer(speedup)
    pod.attach_timer(timer)
    loops = 0
    gcs = 0
    t_start = time.ticks_ms()
    while not src.done:
        timer.fire_due()
        pod.step()
        src.refill()
        loops += 1
        if loops % gc_every == 0:
            gc.collect()
            gcs += 1
    pod.drain()
    pod.step()  # lets the pod report drops of the last pass
    wall_s = time.ticks_diff(time.ticks_ms(), t_start) / 1000
    d_lines = out.lines
    log = pod.enc.log
    print('{"samples": %d, "dropped_samples": %d, "reported_drops": %d, "virtual_s": %.1f, "wall_s": %.1f, "forced_gcs": %d, "lines": %d, "slow_write_ms": %d, "log_writes": %d, "log_bytes": %d}' % (
        pod.samples, pod.ring.dropped, out.reported_drops, timer.fired * timer.period_us / 1e6, wall_s, gcs, d_lines,
        slow_ms * speedup, log.writes if log else 0, log.written if log else 0))


class VirtualClock:
    """Pod time that moves only by modelled costs, never by the wall clock."""

    def __init__(self):
        self.us = 0

    def advance_us(self, us):
        self.us += us

    def ms(self):
        return self.us // 1000


class CostlyOut(NullOut):
    """A serial port whose every line stalls the loop for WRITE_MS of virtual pod time."""

    def __init__(self, clock, write_ms):
        NullOut.__init__(self)
        self.clock = clock
        self.write_us = write_ms * 1000

    def write(self, text):
        NullOut.write(self, text)
        self.clock.advance_us(self.write_us)


class ClockedTimer:
    """machine.Timer stand-in: fires once per period of the virtual clock that has passed."""

    PERIODIC = 1

    def __init__(self, clock):
        self.clock = clock

    def init(self, freq, mode, callback):
        self.period_us = 1000000 // freq
        self.callback = callback
        self.fired = 0

    def fire_due(self):
        due = self.clock.us // self.period_us
        while self.fired < due:
            self.callback(self)
            self.fired += 1


class CostlyFile:
    """A log file on flash whose every flush (one per write: logbook.Log.flush) stalls the loop."""

    def __init__(self, clock, path, mode):
        self.clock = clock
        self.f = open(path, mode)

    def write(self, data):
        return self.f.write(data)

    def flush(self):
        self.f.flush()
        self.clock.advance_us(LOG_WRITE_US)

    def close(self):
        self.f.close()


# modelled costs (pod time) of the virtual-clock run, pessimistic for the unix port x20
VIRTUAL_GC_US = 20000  # one forced garbage collection
VIRTUAL_SAMPLE_US = 600  # one sample through the detector
VIRTUAL_PASS_US = 200  # one pass of the loop besides its samples and lines
# one write + flush to the log's flash: a littlefs append can erase a 4 KB sector (45 ms typical,
# W25Q16JV) besides programming pages and committing metadata; 100 ms is the pessimistic bound
LOG_WRITE_US = 100000


def run_vdrops(gc_every, write_ms, ring_slots=64):
    clock = VirtualClock()
    src = LiveFile(PATH)
    out = CostlyOut(clock, write_ms)
    log = make_log()
    if log is not None:
        # every write to the log's flash (with its flush) stalls the loop for LOG_WRITE_US of pod time
        import logbook

        logbook.open = lambda path, mode: CostlyFile(clock, path, mode)
    pod = App(config(src, ring_slots), src, out=out, inp=None, clock=clock.ms, log=log)
    pod._poll = None  # no host input in this run (stdin is not the pod's)
    timer = ClockedTimer(clock)
    pod.attach_timer(timer)
    loops = 0
    gcs = 0
    while not src.done:
        timer.fire_due()
        before = pod.samples
        pod.step()
        clock.advance_us(VIRTUAL_PASS_US + (pod.samples - before) * VIRTUAL_SAMPLE_US)
        src.refill()
        loops += 1
        if loops % gc_every == 0:
            gc.collect()
            clock.advance_us(VIRTUAL_GC_US)
            gcs += 1
    pod.drain()
    pod.step()  # lets the pod report drops of the last pass
    print('{"samples": %d, "dropped_samples": %d, "reported_drops": %d, "virtual_s": %.1f, "forced_gcs": %d, "lines": %d, "slow_write_ms": %d, "log_writes": %d, "log_bytes": %d}' % (
        pod.samples, pod.ring.dropped, out.reported_drops, clock.us / 1e6, gcs, out.lines, write_ms,
        log.writes if log else 0, log.written if log else 0))


def run_peak():
    gc.collect()
    base = gc.mem_alloc()  # this script and the firmware modules
    src = ReplaySource(PATH, 0)
    out = NullOut()
    pod = App(config(src), src, out=out, inp=None, log=make_log())
    peak = 0
    loops = 0
    while not src.done:
        pod.step()
        loops += 1
        if loops % 20 == 0:
            gc.collect()
            peak = max(peak, gc.mem_alloc())
    print('{"samples": %d, "heap_peak_bytes": %d, "heap_modules_bytes": %d, "lines": %d}' % (
        pod.samples, peak, base, out.lines))


if MODE == "alloc":
    run_alloc(ARGS[0] if ARGS else 10000)
elif MODE == "cost":
    run_cost(ARGS[0] if ARGS else 10000)
elif MODE == "peak":
    run_peak()
elif MODE == "count":
    run_count(sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
elif MODE == "drops":
    run_drops(*ARGS)
elif MODE == "vdrops":
    run_vdrops(*ARGS)
else:
    raise SystemExit("unknown mode " + MODE)
