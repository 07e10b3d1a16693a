# Replays a raw v1 file through firmware/detector.py and prints one line per event.
# Runs unchanged under MicroPython and CPython, so the two outputs can be compared.
# usage: detect_replay.py FIRMWARE_DIR RAW_FILE [heaplock|-] [SENSOR]
# SENSOR (acc, acc+fsr) replays an IMU file as that kind: its gyro columns read 0.
import sys

sys.path.insert(0, sys.argv[1])
import detector
from ring import WIDTH
from sources import ReplaySource
from array import array

try:
    import micropython

    heap_lock = micropython.heap_lock
    heap_unlock = micropython.heap_unlock
except (ImportError, AttributeError):
    heap_lock = heap_unlock = None

locked = len(sys.argv) > 3 and sys.argv[3] == "heaplock" and heap_lock is not None
src = ReplaySource(sys.argv[2], 0)
params = detector.Params(rate_hz=src.rate_hz)
sensor = sys.argv[4] if len(sys.argv) > 4 else src.sensor
no_gyro = "imu" not in sensor
det = detector.for_sensor(params, sensor)
buf = array("i", [0] * WIDTH)
names = detector.EVENT_NAMES
t0 = None
samples = 0
alloc_fail = 0
n = 0  # (every global exists before the heap is locked: a new one grows the module's dict)


def show(n):
    ev = det.ev
    for k in range(n):
        i = k * detector.EV_WIDTH
        print(",".join([names[ev[i]], str(ev[i + 1] + t0)] + [str(v) for v in ev[i + 2:i + detector.EV_WIDTH]]))


while src.due(0):
    src.read_into(buf, 0)
    if t0 is None:
        t0 = buf[0]
    if no_gyro:
        buf[4] = buf[5] = buf[6] = 0
    t = buf[0] - t0
    if locked:
        heap_lock()
        try:
            n = det.update(t, buf[1], buf[2], buf[3], buf[4], buf[5], buf[6], buf[7], buf[8], buf[9])
        except MemoryError:
            n = 0
            alloc_fail += 1
        heap_unlock()
    else:
        n = det.update(t, buf[1], buf[2], buf[3], buf[4], buf[5], buf[6], buf[7], buf[8], buf[9])
    samples += 1
    if n:
        show(n)
show(det.flush(buf[0] - t0))
print("samples,%d,alloc_fail,%d" % (samples, alloc_fail))
