"""The pod's log on its own flash: every event it emits, in framed records, whether or not a host listens.

A record (little-endian): magic 0xC7, payload length, line type (one ASCII letter), boot
counter (u16), record sequence (u32, across boots), uptime in ms (u32), the protocol line's
payload (ASCII), and the CRC-32 of everything between the magic and the CRC. A torn tail
fails its length or CRC and is dropped by every reader; a boot never appends to an older
file, so nothing is ever written after a torn record.

Files in the log folder (NNNNNN is a number that only grows):
  NNNNNN.set  one set, from its set_start (opened there) to whatever came before the next set
  NNNNNN.evt  what the pod logged outside a set: the boot, calibration, clock syncs
  NNNNNN.pul  empty: a PC has stored set NNNNNN (`pulled`); the set may make room when flash runs out
Each file starts with an H record (the pod's hello), so a file names its foot and sensor.

Records are batched in a buffer made once; a write (and its flush) happens when the buffer
is full, at the end of a set, or FLUSH_MS after the oldest record waiting, always from the
app's loop, never from the sampling path.
"""

import binascii
import os
import struct

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):  # type: ignore[misc]  # CPython stand-in for micropython.const
        return x


MAGIC = const(0xC7)
HEAD = const(13)  # magic, length, type, boot, seq, uptime
TAIL = const(4)  # the CRC
MAX_PAYLOAD = const(255)
BATCH = const(512)  # bytes of records held in RAM before a write
FLUSH_MS = const(5000)  # the longest a record waits in RAM (what a power cut may take)
RESERVE = const(8192)  # flash left free for everything else on the pod (calfwalk.json, `save`)
SET = ".set"
EVT = ".evt"
PULLED = ".pul"
_HEAD_FMT = "<BBBHII"


def read_record(f, buf):
    """Read the next record of an open log file into buf (at least HEAD + MAX_PAYLOAD + TAIL
    bytes); its length, or 0 at the end of the file or at a torn or damaged record."""
    mv = memoryview(buf)
    if f.readinto(mv[0:HEAD]) != HEAD or buf[0] != MAGIC:
        return 0
    n = HEAD + buf[1] + TAIL
    if f.readinto(mv[HEAD:n]) != n - HEAD:
        return 0
    crc = binascii.crc32(mv[1:n - TAIL]) & 0xFFFFFFFF
    if struct.unpack_from("<I", buf, n - TAIL)[0] != crc:
        return 0
    return n


def segments(path):
    """The log's file names, oldest first."""
    try:
        names = os.listdir(path)
    except OSError:
        return []
    names = [n for n in names if len(n) == 10 and n[6] == "." and n[:6].isdigit()]
    names.sort()
    return names


class Log:
    """The append side: records into a RAM batch, batches into the newest file, room made when flash runs out.

    `cap_kb` bounds the log's own size (0: only the filesystem's free space, less RESERVE).
    `head` is the hello payload each file starts with (set by the app: it carries the boot counter).
    """

    def __init__(self, path, cap_kb=0):
        self.dir = path
        self.cap = cap_kb * 1024
        self.buf = bytearray(BATCH)
        self.n = 0  # bytes waiting in buf
        self.t_first = 0  # uptime of the oldest record waiting
        self.f = None
        self.head = ""
        self.full = False  # no room: records are dropped until the next file (next set or boot)
        self.writes = 0  # writes (each with its flush) this boot: the flash wear
        self.written = 0  # bytes written this boot
        self.dropped = 0  # records not logged this boot (no room, or the flash failed)
        try:
            os.mkdir(path)
        except OSError:
            pass  # it exists (a missing parent or a read-only flash shows at the first write)
        names = segments(path)
        self.used = 0
        for name in names:
            self.used += self._size(name)
        self.no = int(names[-1][:6]) + 1 if names else 0  # number of the next file: never one used before
        for name in names:  # a marker whose set is gone (a cut while making room) must not mark a later set
            if name[6:] == PULLED and name[:6] + SET not in names:
                try:
                    os.remove(self._path(name))
                except OSError:
                    pass
        self.boot = 0
        self.seq = 0
        scratch = bytearray(HEAD + MAX_PAYLOAD + TAIL)
        for name in reversed(names):  # the last record that survived: its boot and seq follow on
            last = self._last(name, scratch) if name[6:] != PULLED else None
            if last is not None:
                self.boot = (last[0] + 1) & 0xFFFF
                self.seq = last[1] + 1
                break
        self.name = None  # the file records go to (created at its first write; None: a new EVT file)
        self.set_open = False  # that file is a set still under way

    def _path(self, name):
        return self.dir + "/" + name

    def _size(self, name):
        try:
            return os.stat(self._path(name))[6]
        except OSError:
            return 0

    def _last(self, name, buf):
        """(boot, seq) of a file's last whole record, or None."""
        last = None
        try:
            with open(self._path(name), "rb") as f:
                while read_record(f, buf):
                    last = struct.unpack_from("<HI", buf, 3)
        except OSError:
            pass
        return last

    # -- appending -------------------------------------------------------
    def start(self, kind, up):
        """Begin a new file (SET at a set_start, EVT at boot or after a finished set), headed by H."""
        self.flush()
        self.close()
        self.name = "%06d%s" % (self.no, kind)
        self.no += 1
        self.set_open = kind == SET
        self.full = False  # a new file: try again (a pull may have made room)
        self.add("H", up, self.head)

    def end_set(self):
        """The set's last record is in: write it out; what follows goes to a new EVT file."""
        self.flush()
        self.close()
        self.name = None
        self.set_open = False

    def add(self, kind, up, payload):
        """One record into the batch (written later); dropped and counted when the log is full."""
        if self.name is None:
            self.start(EVT, up)
        if self.full:
            self.dropped += 1
            return
        p = payload.encode()
        k = len(p) if len(p) < MAX_PAYLOAD else MAX_PAYLOAD
        size = HEAD + k + TAIL
        if self.n + size > BATCH:
            self.flush()
        if not self.n:
            self.t_first = up
        b = self.buf
        i = self.n
        struct.pack_into(_HEAD_FMT, b, i, MAGIC, k, ord(kind[0]), self.boot, self.seq, up)
        b[i + HEAD:i + HEAD + k] = p[:k] if k < len(p) else p
        struct.pack_into("<I", b, i + HEAD + k, binascii.crc32(memoryview(b)[i + 1:i + HEAD + k]) & 0xFFFFFFFF)
        self.n = i + size
        self.seq += 1

    def service(self, up):
        """From the app's loop: write a batch that has waited FLUSH_MS."""
        if self.n and up - self.t_first >= FLUSH_MS:
            self.flush()

    def flush(self):
        """Write the batch (one write, one flush); on no room, make room or stop logging."""
        n = self.n
        if not n:
            return
        self.n = 0
        if self.full or not self._room(n):
            self._stop(n)
            return
        try:
            if self.f is None:
                self.f = open(self._path(self.name), "ab")
            self.f.write(memoryview(self.buf)[0:n])
            self.f.flush()
        except OSError:
            # no space after all, or the flash failed: this file may now end in a torn record,
            # so nothing more goes into it (the next set or boot starts a new one)
            self._stop(n)
            self.close()
            return
        self.writes += 1
        self.written += n
        self.used += n

    def _stop(self, n):
        self.full = True
        i = 0
        while i < n:  # count the records in the batch given up
            self.dropped += 1
            i += HEAD + self.buf[i + 1] + TAIL

    def close(self):
        if self.f is not None:
            try:
                self.f.close()
            except OSError:
                pass
            self.f = None

    # -- room on the flash --------------------------------------------------
    def free(self):
        """Bytes the log may still write (its cap, and the filesystem less RESERVE)."""
        try:
            st = os.statvfs(self.dir)
            free = st[0] * st[4] - RESERVE
        except OSError:
            free = 1 << 30
        if self.cap and self.cap - self.used < free:
            free = self.cap - self.used
        return free

    def _room(self, n):
        while self.free() < n:
            if not self._drop_oldest():
                return False
        return True

    def _drop_oldest(self):
        """Delete the oldest file that holds nothing unpulled: a pulled set, or events outside sets."""
        names = segments(self.dir)
        for name in names:
            no, kind = name[:6], name[6:]
            if name == self.name or no == names[-1][:6]:
                continue  # the newest number stays: the next boot numbers its files (and boots) on from it
            if kind == EVT or (kind == SET and no + PULLED in names):
                self.used -= self._size(name)
                try:
                    os.remove(self._path(name))
                    if kind == SET:
                        os.remove(self._path(no + PULLED))
                except OSError:
                    return False
                return True
        return False
