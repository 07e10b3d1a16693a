# The pod's budget measured on the virtual Cortex-M0 (vpico): MicroPython code that runs on the
# board from its ROMFS image (bench/vpico.py builds the image and calls these functions over
# mpremote). `replay` also runs under CPython, so the two outputs can be compared:
#   python vp_bench.py FIRMWARE_DIR DATA.bin [DATA.bin ...]
#
# Sample data is a small binary file (see bench/vpico.py write_samples): four int32 header words
# (magic, rate_hz, sensor code 1 imu / 2 fsr / 3 imu+fsr / 4 acc / 5 acc+fsr, samples), then per sample the ten int32
# of a ring slot (t_ms, ax, ay, az, gx, gy, gz, heel, fore_med, fore_lat), little-endian.
#
# Time on vpico is instruction-counted (1 instruction = 1 ns of virtual time); see `cost`.
# Modules come from the ROMFS, run in place (`use_rom`), or loaded into RAM (`use_ram`).
import gc
import os
import sys
from array import array

try:
    import io

    IOBase = io.IOBase
except (ImportError, AttributeError):  # pragma: no cover
    IOBase = object

try:
    from micropython import heap_lock, heap_unlock
except ImportError:  # CPython

    def heap_lock():
        pass

    heap_unlock = heap_lock

MAGIC = 0x43574231  # "CWB1"
WIDTH = 10
SENSORS = ("", "imu", "fsr", "imu+fsr", "acc", "acc+fsr")
CHUNK = 128  # samples read from the file at a time (and costs printed per line)


# -- where the firmware modules come from ---------------------------------------------------
def _only_path(entry):
    """sys.path = [entry] on the board (nothing else to import from); first in line on CPython."""
    if sys.implementation.name == "micropython":
        while sys.path:
            sys.path.pop()
        sys.path.append(entry)
    else:
        sys.path.insert(0, entry)


def use_rom(fw):
    """Import the firmware from its folder in the ROMFS: run in place, like frozen code."""
    _only_path(fw)


class _RamFile(IOBase):
    """A file of the ROMFS read through a stream: the importer cannot map it, so it copies
    the .mpy into RAM, as it does for a file on a board's littlefs."""

    def __init__(self, path):
        self.f = open(path, "rb")

    def readinto(self, buf):
        return self.f.readinto(buf)

    def ioctl(self, req, arg):
        if req == 4:  # MP_STREAM_CLOSE
            self.f.close()
            return 0
        return -1


class _RamFS:
    """A minimal VFS (os.mount) that serves the files of a ROMFS folder as plain streams."""

    def __init__(self, root):
        self.root = root

    def mount(self, readonly, mkfs):
        pass

    def umount(self):
        pass

    def stat(self, path):
        st = os.stat(self.root + path)
        if st[0] & 0x4000:
            raise OSError(2)  # no packages here: folders are not offered
        return st

    def open(self, path, mode):
        return _RamFile(self.root + path)


class _NullFile:
    def __init__(self, fs, name):
        self.fs, self.name = fs, name

    def write(self, data):
        n = len(data)
        self.fs.sizes[self.name] += n
        self.fs.bytes += n
        return n

    def flush(self):
        self.fs.writes += 1

    def readinto(self, buf):
        return 0  # what was written is not kept (see _NullFlash)

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


class _NullFlash:
    """The pod's flash for its log (vpico has no writable filesystem): a VFS that keeps each file's
    name and size and drops its bytes, as a board's flash holds them outside the heap."""

    def __init__(self):
        self.sizes = {}
        self.writes = 0
        self.bytes = 0

    def mount(self, readonly, mkfs):
        pass

    def umount(self):
        pass

    def mkdir(self, path):
        pass

    def ilistdir(self, path):
        return iter([(n, 0x8000, 0, self.sizes[n]) for n in self.sizes])

    def stat(self, path):
        name = path.split("/")[-1]
        if name not in self.sizes:
            raise OSError(2)
        return (0x8000, 0, 0, 0, 0, 0, self.sizes[name], 0, 0, 0)

    def statvfs(self, path):
        return (4096, 4096, 256, 256, 256, 0, 0, 0, 0, 255)

    def open(self, path, mode):
        name = path.split("/")[-1]
        if name not in self.sizes:
            if "r" in mode:
                raise OSError(2)
            self.sizes[name] = 0
        return _NullFile(self, name)

    def remove(self, path):
        self.sizes.pop(path.split("/")[-1])


def use_flash():
    """A flash for the pod's log at /flash (see _NullFlash)."""
    import vfs

    try:
        vfs.umount("/flash")
    except OSError:
        pass
    fs = _NullFlash()
    vfs.mount(fs, "/flash")
    return fs


def use_ram(fw):
    """Import the firmware from .mpy files loaded into RAM (mounted at /ram)."""
    import vfs

    try:
        vfs.umount("/ram")
    except OSError:
        pass
    vfs.mount(_RamFS(fw), "/ram")
    _only_path("/ram")


def use(fw, where):
    if where == "ram":
        use_ram(fw)
    else:
        use_rom(fw)


# -- sample files ---------------------------------------------------------------------------
def open_samples(path):
    """(file, rate_hz, sensor, n) of a sample file."""
    f = open(path, "rb")
    head = array("i", [0, 0, 0, 0])
    f.readinto(head)
    if head[0] != MAGIC:
        raise ValueError("not a sample file: " + path)
    return f, head[1], SENSORS[head[2]], head[3]


def make_detector(rate_hz, sensor):
    import detector

    p = detector.Params(rate_hz=rate_hz)
    return detector.for_sensor(p, sensor)


# -- the same events on every Python ----------------------------------------------------------
def replay(path, lock=True):
    """Every event of a sample file, one line each (times on the file's clock); heap locked
    around each sample where the port has a heap lock (a MemoryError there is counted)."""
    import detector

    f, rate_hz, sensor, n = open_samples(path)
    det = make_detector(rate_hz, sensor)
    names = detector.EVENT_NAMES
    w = detector.EV_WIDTH
    ev = det.ev
    update = det.update
    buf = array("i", [0] * (CHUNK * WIDTH))
    t0 = None
    t = 0
    fails = 0
    done = 0
    print("replay,%s,%s,%d,%d" % (path.split("/")[-1], sensor, rate_hz, n))
    while done < n:
        k = n - done
        if k > CHUNK:
            k = CHUNK
        f.readinto(buf)  # (the last chunk fills part of it)
        for s in range(k):
            j = s * WIDTH
            if t0 is None:
                t0 = buf[j]
            t = buf[j] - t0
            if lock:
                heap_lock()
                try:
                    m = update(t, buf[j + 1], buf[j + 2], buf[j + 3], buf[j + 4], buf[j + 5], buf[j + 6],
                               buf[j + 7], buf[j + 8], buf[j + 9])
                except MemoryError:
                    m = 0
                    fails += 1
                heap_unlock()
            else:
                m = update(t, buf[j + 1], buf[j + 2], buf[j + 3], buf[j + 4], buf[j + 5], buf[j + 6],
                           buf[j + 7], buf[j + 8], buf[j + 9])
            for e in range(m):
                i = e * w
                print(",".join([names[ev[i]], str(ev[i + 1] + t0)] + [str(v) for v in ev[i + 2:i + w]]))
        done += k
    f.close()
    m = det.flush(t)
    for e in range(m):
        i = e * w
        print(",".join([names[ev[i]], str(ev[i + 1] + t0)] + [str(v) for v in ev[i + 2:i + w]]))
    print("samples,%d,alloc_fail,%d" % (done, fails))


# -- instructions per sample --------------------------------------------------------------------
# A span is read as (ticks_ms, SysTick value) pairs: the counter counts down from 15999 every
# millisecond of virtual time (16 MHz, one tick = 62.5 instructions) and its interrupt adds the
# millisecond. A pair is taken again when the millisecond changed while it was read (ticks_us
# on this port can be a millisecond short right at a reload, so it is not used).
# Nothing in a timed span allocates: no collection can fall into it.
def cost(path, fw="/rom/fw", lines=True):
    """Instructions of every detector sample of a file (heap locked), printed in SysTick ticks:
    `O,...` the timer's own cost, `C,first,v,v,...` per sample, `E,index,kind,kind...` for the
    samples that emitted events; with `lines`, `L,kind,ticks` for each event's protocol line
    (the app's formatting and writing, to a port that discards it)."""
    from machine import mem32
    from time import ticks_diff, ticks_ms

    # (the buffers first, while the heap is one free block: the app and its detector take most of it)
    buf = array("i", bytes(4 * CHUNK * WIDTH))
    out = array("i", bytes(4 * CHUNK))
    use_rom(fw)
    import detector

    f, rate_hz, sensor, n = open_samples(path)
    pod = None
    if lines:
        try:
            pod = _app_for(rate_hz, sensor)
            det = pod.det
        except Exception as exc:  # the app's API changed: the detector figures still stand
            print("X,lines,%r" % exc)
            pod = None
    if pod is None:
        det = make_detector(rate_hz, sensor)
    update = det.update
    ev = det.ev
    w = detector.EV_WIDTH
    cvr = 0xE000E018  # SysTick current value
    gc.collect()
    # the timer's own cost: the same reads, lock and handler around nothing
    for s in range(CHUNK):
        while True:
            m0 = ticks_ms()
            c0 = mem32[cvr]
            if ticks_ms() == m0:
                break
        heap_lock()
        try:
            m = 0
        except MemoryError:
            m = 0
        heap_unlock()
        while True:
            m1 = ticks_ms()
            c1 = mem32[cvr]
            if ticks_ms() == m1:
                break
        out[s] = ticks_diff(m1, m0) * 16000 + c0 - c1
    print("O," + ",".join([str(v) for v in out]))
    print("N,%d,%s,%d" % (n, sensor, rate_hz))
    t0 = None
    done = 0
    fails = 0
    while done < n:
        k = n - done
        if k > CHUNK:
            k = CHUNK
        f.readinto(buf)
        gc.collect()  # so no collection falls in the middle of a chunk's line formatting
        for s in range(k):
            j = s * WIDTH
            if t0 is None:
                t0 = buf[j]
                if pod is not None:
                    pod.t0 = t0
            t = buf[j] - t0
            ax = buf[j + 1]
            ay = buf[j + 2]
            az = buf[j + 3]
            gx = buf[j + 4]
            gy = buf[j + 5]
            gz = buf[j + 6]
            heel = buf[j + 7]
            med = buf[j + 8]
            lat = buf[j + 9]
            while True:
                m0 = ticks_ms()
                c0 = mem32[cvr]
                if ticks_ms() == m0:
                    break
            heap_lock()
            try:
                m = update(t, ax, ay, az, gx, gy, gz, heel, med, lat)
            except MemoryError:
                m = 0
                fails += 1
            heap_unlock()
            while True:
                m1 = ticks_ms()
                c1 = mem32[cvr]
                if ticks_ms() == m1:
                    break
            out[s] = ticks_diff(m1, m0) * 16000 + c0 - c1
            if m:
                kinds = [ev[e * w] for e in range(m)]
                print("E,%d,%s" % (done + s, ",".join([str(v) for v in kinds])))
                if pod is not None:
                    for e in range(m):
                        # one event's protocol line at a time (the app sends all of a sample's)
                        if e:
                            for c in range(w):
                                ev[c] = ev[e * w + c]
                        gc.collect()
                        while True:
                            m0 = ticks_ms()
                            c0 = mem32[cvr]
                            if ticks_ms() == m0:
                                break
                        pod._events(1)
                        while True:
                            m1 = ticks_ms()
                            c1 = mem32[cvr]
                            if ticks_ms() == m1:
                                break
                        print("L,%d,%d" % (kinds[e], ticks_diff(m1, m0) * 16000 + c0 - c1))
        print("C,%d,%s" % (done, ",".join([str(out[s]) for s in range(k)])))
        done += k
    f.close()
    print("F,%d,%d" % (done, fails))


class _NullOut:
    def write(self, text):
        pass


def _app_for(rate_hz, sensor):
    """The app around a detector (protocol lines to nowhere, no host input), as the pod builds it."""
    from app import App

    cfg = {"board": "bench", "sensor": sensor, "rate_hz": rate_hz, "foot": "left", "ring": 64, "autostart": True,
           "heartbeat_ms": 1000, "params": {}, "led": None, "buzzer": None}

    class _Idle:
        done = True
        errors = 0

    pod = App(cfg, _Idle(), out=_NullOut(), inp=_NullOut())
    pod._poll = None
    return pod


# -- the whole app ---------------------------------------------------------------------------------
def whole_app(fw, where, board, csv, peak_every=0, log="/flash/log"):
    """firmware/main.py with a board file, replaying a recording as fast as it goes, in this heap.

    With peak_every, the live heap is read after a collection every that many samples (a sample
    source that collects, so the app's own code is unchanged) and `P,peak,heap` printed at the end.
    """
    use(fw, where)
    flash = use_flash()
    while sys.argv:
        sys.argv.pop()
    for a in ("main.py", board, "replay=" + csv, "replay_speed=0", "autostart=true", "exit_at_end=true",
              "log=" + log):
        sys.argv.append(a)
    peak = [0, 0]
    if peak_every:
        import sources

        read = sources.ReplaySource.read_into

        def read_into(self, buf, i):
            read(self, buf, i)
            peak[1] += 1
            if peak[1] % peak_every == 0:
                gc.collect()
                a = gc.mem_alloc()
                if a > peak[0]:
                    peak[0] = a

        sources.ReplaySource.read_into = read_into
    gc.collect()
    print("B,%d,%d" % (gc.mem_alloc(), gc.mem_alloc() + gc.mem_free()))
    import main  # noqa: F401  (runs the app until the recording ends)

    gc.collect()
    print("P,%d,%d,%d" % (peak[0], gc.mem_alloc(), gc.mem_alloc() + gc.mem_free()))
    print("L,%d,%d,%d" % (flash.writes, flash.bytes, len(flash.sizes)))  # the pod's log: writes, bytes, files


if __name__ == "__main__" and len(sys.argv) > 2:
    use_rom(sys.argv[1])
    for p in sys.argv[2:]:
        replay(p, lock=False)
