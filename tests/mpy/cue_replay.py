# Cues on the pod under MicroPython: the app replays a raw set on a virtual clock
# (1 ms per loop pass, samples due in real time) with the LED and buzzer built by
# cues.make_cues from a fake `machine` (tests/fake_pins.py) that records every toggle.
# usage: cue_replay.py FIRMWARE_DIR TESTS_DIR BOARD_JSON RAW_FILE [key=value ...] [allocating] [nopwm]
# prints the pod's protocol lines, then "T <output> <sample ms> <value>" per toggle
# (on the samples' clock) and "END samples=<n>"; or "MEMORYERROR t=<sample ms>" if a
# heap-locked path allocated.
import sys

sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[2])

import config
from app import App
from core import make_core
from cues import make_cues
from fake_pins import FakeOutputMachine
from sources import ReplaySource

NOW = 0


def clock():
    return NOW


flags = [a for a in sys.argv[5:] if "=" not in a]
cfg = config.load(sys.argv[3], [a for a in sys.argv[5:] if "=" in a])
src = ReplaySource(sys.argv[4], 1)
# as main.make_source does: the recording says which foot, sensor and rate it holds
cfg["foot"] = src.foot
cfg["sensor"] = src.sensor
cfg["rate_hz"] = src.rate_hz
cfg["autostart"] = True
cfg["exit_at_end"] = True
machine = FakeOutputMachine(clock, pwm="nopwm" not in flags, allocating="allocating" in flags)
cues = make_cues(cfg, machine)
ring, det = make_core(cfg)
pod = App(cfg, src, out=sys.stdout, inp=None, clock=clock, det=det, ring=ring, cues=cues)
pod.hello()
try:
    while not pod.quit:
        NOW += 1
        pod.step()
    for _ in range(1000):  # let the last pattern finish
        NOW += 1
        pod.step()
except MemoryError:
    print("MEMORYERROR t=%d" % pod.t_last)
    raise SystemExit(0)


def sample_ms(t_app):
    # a sample is processed on the first pass at which it is due: app clock - start = its time - first time
    return t_app - pod.t_run + pod.t0


outputs = [("led", cues.led), ("buzzer", cues.buzzer)]
for name, out in outputs:
    if out is None:
        continue
    for t_app, v in out.changes():
        print("T %s %d %d" % (name, sample_ms(t_app), v))
print("END samples=%d" % pod.samples)
