# The pod's command parser fuzzed under MicroPython, with timer sampling on a virtual clock.
# usage: cmd_fuzz.py FIRMWARE_DIR CHUNKS SEED
#
# The app samples from a timer (as on a board) into its ring; the host's bytes arrive
# through a stand-in for select.poll + stdin. Pod time is virtual: one pass of the loop
# costs one sample period, plus one for every 16 input bytes it handled (far slower than
# a Pico, on purpose), so a loop that took a whole burst in one pass would overflow the
# ring and drop samples. Prints `key value` lines: fuzz_bytes, ticks (samples the timer
# took), processed, dropped, max_bytes_per_pass, status_answered.
import sys

sys.path.insert(0, sys.argv[1])

from app import App

CHUNKS = int(sys.argv[2])
SEED = int(sys.argv[3])
POLLIN = 1


class Rng:
    """A small LCG: the same bytes on every port and run."""

    def __init__(self, seed):
        self.x = seed * 2654435761 + 12345

    def below(self, n):
        self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
        return (self.x >> 8) % n


class FakeTimer:
    PERIODIC = 1

    def init(self, freq, mode, callback):
        self.callback = callback


class CountingSource:
    """A driver stand-in: a still, flat foot; numbers its samples."""

    done = False

    def __init__(self):
        self.n = 0

    def read_into(self, buf, i):
        self.n += 1
        buf[i] = self.n * 10
        buf[i + 1] = 0
        buf[i + 2] = 0
        buf[i + 3] = 1000
        for k in range(4, 10):
            buf[i + k] = 0


class HostInput:
    """The pod's stdin: bytes the host sent, read one at a time."""

    def __init__(self):
        self.pending = bytearray()
        self.consumed = 0

    def read(self, n):
        out = bytes(self.pending[:n])
        self.pending = self.pending[n:]
        self.consumed += len(out)
        return out


class HostPoll:
    def __init__(self, inp):
        self.inp = inp

    def poll(self, _timeout):
        return [(self.inp, POLLIN)] if self.inp.pending else []


class Out:
    """The pod's stdout: counts lines, remembers whether `status` was answered after the fuzz."""

    def __init__(self):
        self.lines = 0
        self.watch = False
        self.answered = 0

    def write(self, text):
        self.lines += 1
        if self.watch and ",OK,status*" in text:
            self.answered = 1


WORDS = [b"status", b"start", b"stop", b"raw on", b"raw off", b"get heel_down_mm", b"set heel_down_mm 11",
         b"set cue_fade_pct 60", b"help", b"set", b"get", b"raw", b"calibrate", b"unloaded", b"$CW1,0,0,S*00"]
ENDS = [b"\n", b"\r", b"\r\n"]


def chunk(rng):
    kind = rng.below(7)
    if kind == 0:  # random bytes of any value
        return bytes([rng.below(256) for _ in range(1 + rng.below(200))])
    if kind == 1:  # a line far longer than any command
        return bytes([32 + rng.below(95) for _ in range(81 + rng.below(3000))]) + b"\n"
    if kind == 2:  # half a command
        w = WORDS[rng.below(len(WORDS))]
        return w[:rng.below(len(w))]
    if kind == 3:  # a burst of commands and junk lines
        parts = []
        for _ in range(5 + rng.below(55)):
            parts.append((WORDS + [b"\xe9\xff", b"\x00\x01\x02", b"\r", b""])[rng.below(len(WORDS) + 4)])
            parts.append(ENDS[rng.below(3)])
        return b"".join(parts)
    if kind == 4:  # a known command with a non-ASCII or control byte inside
        w = bytearray(WORDS[rng.below(len(WORDS))])
        bad = bytes([(0x80, 0xC3, 0xFF, 0x00, 0x1B, 0x7F, 0x09)[rng.below(7)]])
        k = rng.below(len(w) + 1)
        return bytes(w[:k]) + bad + bytes(w[k:]) + b"\n"
    if kind == 5:  # only line ends
        return ENDS[rng.below(3)] * (1 + rng.below(50))
    # a big burst with no line end at all
    return bytes([rng.below(256) for _ in range(500 + rng.below(3500))]).replace(b"\n", b"")


cfg = {"board": "fuzz", "sensor": "imu", "rate_hz": 200, "foot": "left", "ring": 64, "autostart": True,
       "heartbeat_ms": 1000, "params": {}}
out = Out()
inp = HostInput()
src = CountingSource()
now = [0]  # the virtual clock, ms


def clock():
    return now[0]


pod = App(cfg, src, out=out, inp=inp, clock=clock)
pod._poll = HostPoll(inp)  # a stand-in for select.poll on stdin (App.poll_input only calls poll(0))
timer = FakeTimer()
pod.attach_timer(timer)
rng = Rng(SEED)
period = 1000 // cfg["rate_hz"]
sent = 0
max_pass = 0
chunks = 0


def one_pass():
    global max_pass
    before = inp.consumed
    pod.step()
    used = inp.consumed - before
    max_pass = max(max_pass, used)
    # the pod time this pass took: the timer fired meanwhile
    for _ in range(1 + used // 16):
        now[0] += period
        timer.callback(timer)


while chunks < CHUNKS:
    if len(inp.pending) < 256:
        c = chunk(rng)
        inp.pending += c
        sent += len(c)
        chunks += 1
    one_pass()
inp.pending += b"\nstart\n"
while inp.pending:
    one_pass()
out.watch = True
inp.pending += b"status\n"
while inp.pending:
    one_pass()
for _ in range(4):
    one_pass()
pod.drain()  # the samples the last pass's ticks took
print("fuzz_bytes", sent)
print("ticks", src.n)
print("processed", pod.samples)
print("dropped", pod.ring.dropped)
print("max_bytes_per_pass", max_pass)
print("status_answered", out.answered)
print("lines", out.lines)
