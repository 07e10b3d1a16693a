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


class Log:
    """The append side: records into a RAM batch, batches into the newest file.

    `cap_kb` bounds the log's own size (0: only the filesystem's free space, less RESERVE).
    `head` is the hello payload each file starts with (set by the app: it carries the boot counter).
    What only a boot, a PC or a full flash needs (reading the files back, numbering on from
    them, making room) is in logboot.py and logread.py, loaded only then: `logboot.open_log` builds a Log.
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
        self.told = False  # the app has reported `full` (log_full event and cue)
        self.job = None  # a PC's `log` or `pull` under way (logread.py): a generator the app steps
        self.used = 0  # bytes of the log's files
        self.no = 0  # number of the next file: never one used before
        self.boot = 0
        self.seq = 0
        self.name = None  # the file records go to (created at its first write; None: a new EVT file)
        self.set_open = False  # that file is a set still under way
        self.ending = False  # the set has ended: its last batch is written from the loop (see end_set)

    def _path(self, name):
        return self.dir + "/" + name

    # -- appending -------------------------------------------------------
    def start(self, kind, up):
        """Begin a new file (SET at a set_start, EVT at boot or after a finished set), headed by H."""
        self.ending = False
        self.flush()
        self.close()
        self.name = "%06d%s" % (self.no, kind)
        self.no += 1
        self.set_open = kind == SET
        self.full = False  # a new file: try again (a pull may have made room)
        self.add("H", up, self.head)

    def end_set(self):
        """The set's last record is in: it is written out from the app's loop (`service`), in a
        pass that sent no line (the lines ending a set have stalled this one already: a write more
        and the ring of samples could overflow); what follows goes to a new EVT file."""
        self.ending = True

    def _end(self):
        self.ending = False
        self.flush()
        self.close()
        self.name = None
        self.set_open = False

    def add(self, kind, up, payload):
        """One record into the batch (written later); dropped and counted when the log is full."""
        if self.ending:
            self._end()  # (a record after the set's end: the set is written out first)
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

    def service(self, app, quiet=True):
        """From the app's loop: write out a set that ended, or a batch that has waited FLUSH_MS,
        in a `quiet` pass (one that sent no line); say it once (an E log_full line and a cue) when
        the log has no room left; step a PC's `log` or `pull`. True if busy."""
        if quiet:
            if self.ending:
                self._end()
            elif self.n and app.now() - self.t_first >= FLUSH_MS:
                self.flush()
        if self.full != self.told:
            self.told = self.full
            if self.full:
                # the pod keeps counting and streaming; only its flash copy stops until a pull makes room
                c = app.cues
                app.send("E", "log_full,t=%d,used=%d,dropped=%d" % (app.t_last, self.used, self.dropped))
                c.log_full(app.clock())
                app.send("C", "log_full,t=%d,led=%d,buzzer=%d" % (app.t_last, c.led_used(), c.buzzer_used()))
        if self.job is None:
            return False
        try:
            next(self.job)
        except StopIteration:
            self.job = None
        return True

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
        if self.free() >= n:
            return True
        import logread  # rare: the flash is running out

        return logread.make_room(self, n)
