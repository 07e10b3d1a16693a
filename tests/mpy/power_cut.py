# Power cuts while the pod's log writes (firmware/logbook.py), under MicroPython (also CPython).
# usage: micropython power_cut.py FIRMWARE_DIR WORK_DIR cut FIRST COUNT
#        micropython power_cut.py FIRMWARE_DIR WORK_DIR boot FIRST COUNT
# cut:  for each seed, a fresh flash folder WORK_DIR/sSEED mounted at /flash through a VFS shim that
#       cuts the power after a seeded number of bytes (the write under way keeps a prefix, then, by seed,
#       nothing, erased flash 0xFF or garbage); the log is driven like the app drives it (records of
#       every size, sets opened and ended, batches flushed by size, at set ends and by time, sets marked
#       pulled, a small cap so that pulled sets are deleted for room) until the cut.
#       Prints per seed one line: seed, then every record written whole (file,seq,crc), the torn one
#       (seq or -1), the files deleted to make room, and the log's boot counter.
# boot: reboots each seed's folder (a new process, the plain filesystem): a new Log recovers, logs a
#       boot and a few records, flushes; prints every record read back (file,seq,boot,crc) per seed.
import sys

sys.path.insert(0, sys.argv[1])
import os

import logbook
import logboot
import logread

WORK = sys.argv[2]
MODE = sys.argv[3]
FIRST = int(sys.argv[4])
COUNT = int(sys.argv[5])
try:
    import vfs
except ImportError:  # CPython
    vfs = None


class PowerCut(Exception):
    pass


class Rng:
    """A small LCG: the same draws on every Python."""

    def __init__(self, seed):
        self.s = (seed * 2654435761 + 12345) & 0x7FFFFFFF

    def next(self, n):
        self.s = (self.s * 1103515245 + 12345) & 0x7FFFFFFF
        return (self.s >> 8) % n


class Shim:
    """A flash that loses power after `budget` bytes (each create/remove costs one)."""

    def __init__(self):
        self.root = ""
        self.budget = 1 << 30
        self.mode = 0
        self.rng = None
        self.whole = []  # (file, seq, crc) of records written whole
        self.torn = -1
        self.deleted = []

    def spend(self, n):
        if self.budget <= 0:
            raise PowerCut()
        self.budget -= n

    def real(self, path):
        return self.root + path

    # the VFS interface
    def mount(self, readonly, mkfs):
        pass

    def umount(self):
        pass

    def open(self, path, mode):
        if "w" in mode or "a" in mode:
            self.spend(1)
        return CutFile(self, path, open(self.real(path), mode))

    def ilistdir(self, path):
        return iter([(n, 0x8000, 0, 0) for n in os.listdir(self.real(path))])

    def stat(self, path):
        return os.stat(self.real(path))

    def statvfs(self, path):
        return (4096, 4096, 1 << 20, 1 << 20, 1 << 20, 0, 0, 0, 0, 255)

    def mkdir(self, path):
        os.mkdir(self.real(path))

    def remove(self, path):
        self.spend(1)
        os.remove(self.real(path))
        self.deleted.append(path.split("/")[-1])

    def rename(self, a, b):
        self.spend(1)
        os.rename(self.real(a), self.real(b))

    def chdir(self, path):
        pass

    def getcwd(self):
        return "/"


class CutFile:
    def __init__(self, shim, path, f):
        self.shim, self.name, self.f = shim, path.split("/")[-1], f

    def write(self, data):
        shim = self.shim
        data = bytes(data)
        keep = len(data) if shim.budget >= len(data) else max(0, shim.budget)
        if shim.budget <= 0:
            raise PowerCut()
        # which records of this batch are whole on flash, and which one is torn
        i = 0
        while i < len(data):
            n = logbook.HEAD + data[i + 1] + logbook.TAIL
            seq = data[i + 5] | data[i + 6] << 8 | data[i + 7] << 16 | data[i + 8] << 24
            crc = data[i + n - 4] | data[i + n - 3] << 8 | data[i + n - 2] << 16 | data[i + n - 1] << 24
            if i + n <= keep:
                shim.whole.append((self.name, seq, crc))
            elif i < keep:
                shim.torn = seq
            i += n
        if keep == len(data):
            shim.budget -= keep
            return self.f.write(data)
        self.f.write(data[:keep])
        rest = len(data) - keep
        if shim.mode == 1:
            self.f.write(b"\xff" * rest)  # erased flash where the write did not land
        elif shim.mode == 2:
            self.f.write(bytes([shim.rng.next(256) for _ in range(rest)]))
        self.f.flush()
        self.f.close()
        shim.budget = 0
        raise PowerCut()

    def flush(self):
        self.f.flush()

    def close(self):
        self.f.close()

    def readinto(self, buf):
        return self.f.readinto(buf)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class App:
    """What Log.service needs of the app: its clock (the workload's uptime), cues, a line out."""

    def __init__(self):
        self.up = self.t_last = 0
        self.cues = self

    def now(self):
        return self.up

    clock = now

    def send(self, kind, payload):
        pass

    def log_full(self, now):
        pass

    def led_used(self):
        return 0

    buzzer_used = led_used


APP = App()


def payload(rng):
    n = 8 + rng.next(200)
    return "step,t=%d," % rng.next(100000) + "x" * n


def workload(log, rng, up):
    """What the app does to its log, for a while."""
    numbers = []
    for _ in range(40 + rng.next(80)):
        r = rng.next(100)
        up += 1 + rng.next(3000)
        if r < 8:
            log.start(logbook.SET, up)
            numbers.append(log.no - 1)
            log.add("E", up, "set_start,t=%d" % up)
        elif r < 14:
            log.add("E", up, "set_end,t=%d,steps=3" % up)
            log.end_set()
        elif r < 17 and numbers:
            logread.mark(log, [numbers[rng.next(len(numbers))]])
        elif r < 20:
            log.add("T", up, "utc=%d" % (1700000000000 + up))
            log.flush()
        else:
            log.add("EC"[rng.next(2)], up, payload(rng))
        APP.up = up
        log.service(APP)
    return up


def cut(seed):
    shim = Shim()
    rng = Rng(seed)
    shim.root = WORK + "/s%d" % seed
    os.mkdir(shim.root)
    shim.mode = seed % 3
    shim.rng = rng
    shim.budget = 1 + rng.next(16000)
    vfs.mount(shim, "/flash")
    boots = 0
    try:
        up = 0
        for boot in range(3):  # boots before the cut reuse the folder, as a pod's reboots do
            log = logboot.open_log("/flash/log", cap_kb=6)
            boots = log.boot
            log.head = "calfwalk=test,boot=%d" % log.boot
            log.start(logbook.EVT, 0)
            up = workload(log, rng, 0)
            log.flush()
            log.close()
    except PowerCut:
        pass
    vfs.umount("/flash")
    print("seed,%d,boot,%d,torn,%d,deleted,%s,whole,%s" % (
        seed, boots, shim.torn, "/".join(shim.deleted), " ".join(["%s:%d:%08x" % w for w in shim.whole])))


def boot(seed):
    path = WORK + "/s%d/log" % seed
    log = logboot.open_log(path)  # no cap: nothing is deleted for room here, so every loss would show
    log.head = "calfwalk=test,boot=%d" % log.boot
    log.start(logbook.EVT, 0)
    for k in range(3):
        log.add("E", 10 + k, "after_reboot,t=%d" % k)
    log.flush()
    log.close()
    buf = bytearray(logbook.HEAD + logbook.MAX_PAYLOAD + logbook.TAIL)
    out = []
    for name in logboot.segments(path):
        with open(path + "/" + name, "rb") as f:
            while True:
                n = logboot.read_record(f, buf)
                if not n:
                    break
                b = buf
                seq = b[5] | b[6] << 8 | b[7] << 16 | b[8] << 24
                crc = b[n - 4] | b[n - 3] << 8 | b[n - 2] << 16 | b[n - 1] << 24
                out.append("%s:%d:%d:%08x" % (name, seq, b[3] | b[4] << 8, crc))
    print("seed,%d,boot,%d,records,%s" % (seed, log.boot, " ".join(out)))


for s in range(FIRST, FIRST + COUNT):
    if MODE == "cut":
        cut(s)
    else:
        boot(s)
