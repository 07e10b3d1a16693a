# The app's timer-driven sampling under MicroPython: the timer callback allocates
# nothing, a garbage collection or a slow loop loses no sample while the ring has
# room, and an overflow is counted and reported in a D line.
# usage: app_timer.py FIRMWARE_DIR
import sys

sys.path.insert(0, sys.argv[1])
import gc

import micropython

from app import App


class FakeTimer:
    PERIODIC = 1

    def init(self, freq, mode, callback):
        self.freq = freq
        self.callback = callback


class CountingSource:
    """A stand-in driver: fills the slot in place (no allocation), numbering samples."""

    done = False

    def __init__(self):
        self.n = 0

    def read_into(self, buf, i):
        self.n += 1
        buf[i] = self.n * 10  # t_ms at 100 Hz
        buf[i + 1] = 0
        buf[i + 2] = 0
        buf[i + 3] = 1000
        for k in range(4, 10):
            buf[i + k] = 0


class Out:
    def __init__(self):
        self.lines = []

    def write(self, text):
        self.lines.append(text)


cfg = {"board": "test", "sensor": "imu", "rate_hz": 100, "foot": "left", "ring": 32, "autostart": True,
       "heartbeat_ms": 1000000, "params": {}}
out = Out()
src = CountingSource()
pod = App(cfg, src, out=out, inp=None)
timer = FakeTimer()
pod.attach_timer(timer)

# 1. the timer callback allocates nothing
fails = 0
for _ in range(20):
    micropython.heap_lock()
    try:
        timer.callback(timer)
    except MemoryError:
        fails += 1
    micropython.heap_unlock()
print("tick_alloc_fail", fails)

# 2. a GC and a slow loop between drains: nothing lost while the ring has room
gc.collect()
for _ in range(10):
    timer.callback(timer)
pod.step()
print("processed", pod.samples, "dropped", pod.ring.dropped)

# 3. the loop stalls for longer than the ring holds: the overflow is counted and reported
for _ in range(50):
    timer.callback(timer)
pod.step()
print("processed", pod.samples, "dropped", pod.ring.dropped)
print("dline", [l for l in out.lines if ",D," in l][0].strip())
