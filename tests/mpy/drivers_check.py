# The sensor drivers (the IMUs, with the gyro on and off, and the accelerometers alone) on the
# real MicroPython VM, against the fake bus and ADCs of
# tests/fake_hw.py: conversions per range, chip-ID and wiring errors, the
# configuration written, and read_into with the heap locked (as the timer
# callback runs it). Also runs under CPython (heap locking is then a no-op).
# usage: drivers_check.py FIRMWARE_DIR TESTS_DIR
# prints "ok NAME" or "FAIL NAME detail" per check, then "done N" (N checks run)
import sys

sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[2])
from array import array

try:
    from micropython import heap_lock, heap_unlock
except ImportError:  # CPython

    def heap_lock():
        pass

    heap_unlock = heap_lock

from acc_adxl345 import ADXL345
from acc_lis3dh import LIS3DH
from fake_hw import FakeADC, FakeADXL345, FakeI2C, FakeLIS3DH, FakeLSM6DS, FakeMachine, FakeMPU
from fsr_adc import FSRPads
from imu_lsm6ds import LSM6DS
from imu_mpu6050 import MPU6050
from sensors import SensorSource, make_source

RAWS = (0, 1, -1, 2, -2, 100, -100, 8192, -8192, 8197, 12345, -12345, 32767, -32768)
SMALL = 1 << 30  # small-int limit on 32-bit ports: a timer path past it would allocate
n_checks = 0


def check(name, ok, detail=""):
    global n_checks
    n_checks += 1
    print(("ok " + name) if ok else ("FAIL %s %s" % (name, detail)))


def nearest(num, den):
    """num / den to the nearest integer, ties up (den > 0): the drivers' rounding."""
    return (2 * num + den) // (2 * den)


def error_text(make):
    try:
        make()
    except (OSError, ValueError) as exc:
        return str(exc)
    return "(no error)"


def read_raw(drv, chip, raws_a, raws_g):
    chip.load_raw(raws_a[0], raws_a[1], raws_a[2], raws_g[0], raws_g[1], raws_g[2])
    buf = array("i", [0] * 10)
    drv.read_into(buf, 0)
    return list(buf[1:7])


# -- conversions: every range, a spread of raw counts incl. both ends ------------
for rng in (2, 4, 8, 16):
    chip = FakeMPU()
    drv = MPU6050(FakeI2C({0x68: chip}), accel_range_g=rng)
    bad = []
    for raw in RAWS:
        got = read_raw(drv, chip, (raw, -raw if raw > -32768 else 32767, 0), (0, 0, 0))
        want = nearest(raw * rng * 1000, 32768)
        if got[0] != want:
            bad.append((raw, got[0], want))
    check("mpu_accel_%dg" % rng, not bad, bad)
    check("mpu_accel_%dg_small_ints" % rng, 32768 * drv._a_mul + (1 << drv._a_sh) < SMALL)
for rng in (250, 500, 1000, 2000):
    chip = FakeMPU()
    drv = MPU6050(FakeI2C({0x68: chip}), gyro_range_dps=rng)
    bad = []
    for raw in RAWS:
        got = read_raw(drv, chip, (0, 0, 0), (0, raw, 0))
        want = nearest(raw * rng * 1000, 32768)
        if got[4] != want:
            bad.append((raw, got[4], want))
    check("mpu_gyro_%ddps" % rng, not bad, bad)
    check("mpu_gyro_%ddps_small_ints" % rng, 32768 * drv._g_mul + (1 << drv._g_sh) < SMALL)

for k in range(4):
    rng = 2 << k
    chip = FakeLSM6DS()
    drv = LSM6DS(FakeI2C({0x6A: chip}), accel_range_g=rng)
    bad = []
    for raw in RAWS:
        got = read_raw(drv, chip, (0, 0, raw), (0, 0, 0))
        want = nearest(raw * (61 << k), 1000)  # 0.061 mg/LSB at 2 g, doubling per range
        if got[2] != want:
            bad.append((raw, got[2], want))
    check("lsm_accel_%dg" % rng, not bad, bad)
    check("lsm_accel_%dg_small_ints" % rng, 32768 * drv._a_mul + 500 < SMALL)
for k in range(4):
    rng = 250 << k
    chip = FakeLSM6DS()
    drv = LSM6DS(FakeI2C({0x6A: chip}), gyro_range_dps=rng)
    bad = []
    for raw in RAWS:
        got = read_raw(drv, chip, (0, 0, 0), (raw, 0, 0))
        want = nearest(raw * (875 << k), 100)  # 8.75 mdps/LSB at 250 dps, doubling per range
        if got[3] != want:
            bad.append((raw, got[3], want))
    check("lsm_gyro_%ddps" % rng, not bad, bad)
    check("lsm_gyro_%ddps_small_ints" % rng, 32768 * drv._g_mul + 50 < SMALL)

# known values from the datasheets' scales
chip = FakeMPU()
drv = MPU6050(FakeI2C({0x68: chip}))  # 4 g, 500 dps
got = read_raw(drv, chip, (8192, -32768, 32767), (32767, -32768, 131))
check("mpu_known_values", got == [1000, -4000, 4000, 499985, -500000, 1999], got)
chip = FakeLSM6DS()
drv = LSM6DS(FakeI2C({0x6A: chip}))  # 4 g, 500 dps
got = read_raw(drv, chip, (8197, -8197, 16393), (1000, -1000, 32767))
check("lsm_known_values", got == [1000, -1000, 2000, 17500, -17500, 573423], got)

# the accelerometers alone: every range, the datasheets' scales, gyro columns zero
for k in range(4):
    rng = 2 << k
    chip = FakeLIS3DH()
    drv = LIS3DH(FakeI2C({0x18: chip}), accel_range_g=rng)
    bad = []
    for raw in RAWS:
        chip.load_raw(raw, -raw if raw > -32768 else 32767, 0)
        buf = array("i", [5] * 10)
        drv.read_into(buf, 0)
        want = (raw >> 4) * (1, 2, 4, 12)[k]  # high-resolution mode: mg per 12-bit count
        if buf[1] != want or list(buf[4:7]) != [0, 0, 0]:
            bad.append((raw, buf[1], want))
    check("lis3dh_accel_%dg" % rng, not bad, bad)
    chip = FakeADXL345()
    drv = ADXL345(FakeI2C({0x53: chip}), accel_range_g=rng)
    bad = []
    for raw in (0, 1, -1, 2, -2, 100, -100, 256, -256, 511, -512, 4095, -4096):
        chip.load_raw(0, raw, 0)
        buf = array("i", [5] * 10)
        drv.read_into(buf, 0)
        want = nearest(raw * 1000, 256)  # full resolution: 256 LSB/g at every range
        if buf[2] != want or list(buf[4:7]) != [0, 0, 0]:
            bad.append((raw, buf[2], want))
    check("adxl345_accel_%dg" % rng, not bad, bad)
chip = FakeLIS3DH()
drv = LIS3DH(FakeI2C({0x18: chip}), accel_range_g=2)
chip.regs[0x28] = 0xE0
chip.regs[0x29] = 0x15
buf = array("i", [0] * 10)
drv.read_into(buf, 0)
check("lis3dh_known_value", buf[1] == 350, buf[1])  # 0x15E0 is 350 mg at 2 g (1 mg/digit)
ok = chip.load(1000, -1000, 500)
drv.read_into(buf, 0)
check("lis3dh_round_trip", ok and list(buf[1:7]) == [1000, -1000, 500, 0, 0, 0], list(buf[1:7]))
chip = FakeADXL345()
drv = ADXL345(FakeI2C({0x53: chip}), accel_range_g=16)
ok = chip.load(1000, -1000, 15000)
drv.read_into(buf, 0)
check("adxl345_round_trip", ok and list(buf[1:7]) == [1000, -1000, 15000, 0, 0, 0], list(buf[1:7]))

# -- configuration written ------------------------------------------------------
bus = FakeI2C({0x68: FakeMPU(0x68)})
MPU6050(bus, accel_range_g=8, gyro_range_dps=2000, rate_hz=100)
want = [(0x6B, 0x01), (0x6C, 0x00), (0x1A, 3), (0x19, 9), (0x1B, 3 << 3), (0x1C, 2 << 3)]
check("mpu6050_config", bus.writes_to(0x68) == want, bus.writes_to(0x68))
check("mpu6050_awake", bus.devices[0x68].awake())
bus = FakeI2C({0x69: FakeMPU(0x70)})
MPU6050(bus, addr=0x69, accel_range_g=2, gyro_range_dps=250, rate_hz=200)
want = [(0x6B, 0x01), (0x6C, 0x00), (0x1A, 2), (0x19, 4), (0x1B, 0), (0x1C, 0), (0x1D, 2)]
check("mpu6500_config", bus.writes_to(0x69) == want, bus.writes_to(0x69))
bus = FakeI2C({0x6B: FakeLSM6DS(0x69)})
LSM6DS(bus, addr=0x6B, accel_range_g=16, gyro_range_dps=1000, rate_hz=100)
want = [(0x12, 0x44), (0x10, 0x44), (0x11, 0x48)]
check("lsm6ds_config", bus.writes_to(0x6B) == want, bus.writes_to(0x6B))
bus = FakeI2C({0x68: FakeMPU(0x68)})
MPU6050(bus, accel_range_g=8, rate_hz=100, gyro=False)
want = [(0x6B, 0x08), (0x6C, 0x07), (0x1A, 3), (0x19, 9), (0x1C, 2 << 3)]
check("mpu6050_gyro_off_config", bus.writes_to(0x68) == want and bus.devices[0x68].gyro_standby(), bus.writes_to(0x68))
bus = FakeI2C({0x6A: FakeLSM6DS()})
LSM6DS(bus, accel_range_g=4, rate_hz=100, gyro=False)
want = [(0x12, 0x44), (0x10, 0x48), (0x11, 0x00)]
check("lsm6ds_gyro_off_config", bus.writes_to(0x6A) == want, bus.writes_to(0x6A))
bus = FakeI2C({0x19: FakeLIS3DH()})
LIS3DH(bus, addr=0x19, accel_range_g=16, rate_hz=100)
want = [(0x23, 0xB8), (0x20, 0x57)]
check("lis3dh_config", bus.writes_to(0x19) == want, bus.writes_to(0x19))
bus = FakeI2C({0x1D: FakeADXL345()})
ADXL345(bus, addr=0x1D, accel_range_g=16, rate_hz=200)
want = [(0x2D, 0), (0x31, 0x0B), (0x2C, 0x0B), (0x2D, 0x08)]
check("adxl345_config", bus.writes_to(0x1D) == want and bus.devices[0x1D].measuring(), bus.writes_to(0x1D))

# -- chip ID and wiring errors --------------------------------------------------
chip = FakeMPU()
chip.regs[0x75] = 0x12
bus = FakeI2C({0x68: chip}, name="I2C(0, freq=400000, scl=5, sda=4)")
msg = error_text(lambda: MPU6050(bus))
check("mpu_wrong_id", "0x68" in msg and repr(bus) in msg and "WHO_AM_I=0x12" in msg, msg)
bus = FakeI2C({}, name="I2C(1, freq=100000, scl=7, sda=6)")
msg = error_text(lambda: MPU6050(bus))
check("mpu_nack", msg.startswith("no device answers at I2C address 0x68 on I2C(1, freq=100000, scl=7, sda=6): "
                                 "check wiring (SDA/SCL), power and the AD0 pin"), msg)
chip = FakeLSM6DS()
chip.regs[0x0F] = 0x6B
bus = FakeI2C({0x6A: chip})
msg = error_text(lambda: LSM6DS(bus))
check("lsm_wrong_id", "0x6a" in msg and repr(bus) in msg and "WHO_AM_I=0x6b" in msg, msg)
bus = FakeI2C({0x6A: FakeLSM6DS()})
msg = error_text(lambda: LSM6DS(bus, addr=0x6B))
check("lsm_nack", msg.startswith("no device answers at I2C address 0x6b on " + repr(bus)) and "0x6a" in msg, msg)
bus = FakeI2C({0x18: FakeLIS3DH(0x44)})
msg = error_text(lambda: LIS3DH(bus))
check("lis3dh_wrong_id", msg == "no LIS3DH at I2C 0x18 on %r: WHO_AM_I=0x44 (expected 0x33 LIS3DH)" % bus, msg)
bus = FakeI2C({0x53: FakeADXL345(0xE6)})
msg = error_text(lambda: ADXL345(bus))
check("adxl345_wrong_id", msg == "no ADXL345 at I2C 0x53 on %r: DEVID=0xe6 (expected 0xe5 ADXL345)" % bus, msg)
bus = FakeI2C({})
msg = error_text(lambda: ADXL345(bus, addr=0x1D))
check("adxl345_nack", msg.startswith("no device answers at I2C address 0x1d on %r" % bus) and "ALT ADDRESS pin" in msg, msg)

# -- no allocation on the timer path --------------------------------------------
caught = False
heap_lock()
try:
    bytearray(14)  # the control: an allocation with the heap locked must be caught
except MemoryError:
    caught = True
heap_unlock()
check("heap_lock_catches_allocation", caught or sys.implementation.name != "micropython")
mchip = FakeMPU()
mpu = MPU6050(FakeI2C({0x68: mchip}))
lchip = FakeLSM6DS()
lsm = LSM6DS(FakeI2C({0x6A: lchip}))
pads = FSRPads(FakeADC(1000), FakeADC(2000), FakeADC(65535))
now = [0]


def clock():
    return now[0]


# the accelerometer-only pods: an LIS3DH, an ADXL345, an MPU-6050 and an LSM6DS with the gyro off
achip = FakeLIS3DH()
lis3dh = LIS3DH(FakeI2C({0x18: achip}))
xchip = FakeADXL345()
adxl = ADXL345(FakeI2C({0x53: xchip}), accel_range_g=16)
m2chip = FakeMPU()
mpu_acc = MPU6050(FakeI2C({0x68: m2chip}), gyro=False)
l2chip = FakeLSM6DS()
lsm_acc = LSM6DS(FakeI2C({0x6A: l2chip}), gyro=False)
srcs = (SensorSource(mpu, pads, clock=clock), SensorSource(lsm, None, clock=clock),
        SensorSource(None, pads, clock=clock), SensorSource(lis3dh, pads, clock=clock),
        SensorSource(adxl, None, clock=clock), SensorSource(mpu_acc, None, clock=clock),
        SensorSource(lsm_acc, pads, clock=clock))
mchip.load(1000, -500, 250, 100000, -20000, 0)
lchip.load(-1000, 500, 250, 100000, -20000, 0)
achip.load(-1000, 0, 500)
xchip.load(0, 1000, -2000)
m2chip.load(0, 0, 1000, 100000, 0, 0)  # the gyro's registers hold counts the driver must not read
l2chip.load(500, 0, 0, 0, 100000, 0)
buf = array("i", [0] * 110)
fails = 0
for n in range(20):
    now[0] = n * 10
    heap_lock()
    try:
        mpu.read_into(buf, 0)
        lsm.read_into(buf, 10)
        pads.read_into(buf, 20)
        for k in range(len(srcs)):
            srcs[k].read_into(buf, 30 + 10 * k)
        lis3dh.read_into(buf, 100)
        adxl.read_into(buf, 100)
        mpu_acc.read_into(buf, 100)
        lsm_acc.read_into(buf, 100)
    except MemoryError:
        fails += 1
    heap_unlock()
check("read_into_heap_locked", fails == 0, "%d MemoryErrors" % fails)
check("acc_read_into_heap_locked", fails == 0, "%d MemoryErrors" % fails)
rows = [list(buf[k:k + 10]) for k in (30, 40, 50, 60, 70, 80, 90)]
want = [[190, 1000, -500, 250, 100006, -20004, 0, 1000, 2000, 65535],  # MPU + pads
        [190, -1000, 500, 250, 99995, -20002, 0, 0, 0, 0],  # LSM6DS only: pads' columns zero
        [190, 0, 0, 0, 0, 0, 0, 1000, 2000, 65535],  # pads only: IMU columns zero
        [190, -1000, 0, 500, 0, 0, 0, 1000, 2000, 65535],  # LIS3DH + pads: acc+fsr
        [190, 0, 1000, -2000, 0, 0, 0, 0, 0, 0],  # ADXL345: acc
        [190, 0, 0, 1000, 0, 0, 0, 0, 0, 0],  # MPU-6050, gyro off: acc
        [190, 500, 0, 0, 0, 0, 0, 1000, 2000, 65535]]  # LSM6DS, gyro off, + pads: acc+fsr
check("sensor_source_rows", rows[:3] == want[:3], rows[:3])
check("acc_sensor_source_rows", rows[3:] == want[3:], rows[3:])

# a glitch on an accelerometer alone: counted, the sample repeats, nothing allocated
xchip.load(0, 0, 1000)
xchip.nack = 1
fails = 0
heap_lock()
try:
    adxl.read_into(buf, 100)
except MemoryError:
    fails += 1
except OSError:
    fails += 100
heap_unlock()
check("acc_glitch_heap_locked", fails == 0 and adxl.errors == 1 and list(buf[101:107]) == [0, 1000, -2000, 0, 0, 0],
      (fails, adxl.errors, list(buf[101:107])))

# a loose wire mid-stream: counted, the previous sample repeats, still no allocation
mchip.load(0, 0, 1000, 0, 0, 0)
mchip.nack = 2
fails = 0
heap_lock()
try:
    mpu.read_into(buf, 0)
    mpu.read_into(buf, 0)
except MemoryError:
    fails += 1
except OSError:
    fails += 100
heap_unlock()
check("glitch_heap_locked", fails == 0 and mpu.errors == 2, "fails %d errors %d" % (fails, mpu.errors))
check("glitch_repeats_sample", list(buf[1:7]) == [1000, -500, 250, 100006, -20004, 0], list(buf[1:7]))
mpu.read_into(buf, 0)
check("glitch_recovers", list(buf[1:7]) == [0, 0, 1000, 0, 0, 0] and mpu.errors == 2, list(buf[1:7]))

# -- the app's timer callback with a live source ----------------------------------
from app import App


class FakeTimer:
    PERIODIC = 1

    def init(self, freq, mode, callback):
        self.callback = callback


mchip.load(0, 0, 1000, 0, 0, 0)
src = SensorSource(mpu, pads, clock=clock)
pod = App({"board": "test", "sensor": "imu+fsr", "rate_hz": 100, "foot": "left", "ring": 16, "autostart": True,
           "params": {}}, src, out=None, inp=None, clock=clock)
timer = FakeTimer()
pod.attach_timer(timer)
fails = 0
for n in range(10):
    now[0] += 10
    try:
        timer.callback(timer)  # App.tick locks the heap around read_into
    except MemoryError:
        fails += 1
row = list(pod.ring.buf[0:10])
check("app_tick_sensor_source", fails == 0 and pod.ring.count == 10 and row == [10, 0, 0, 1000, 0, 0, 0, 1000, 2000, 65535],
      (fails, pod.ring.count, row))

# -- make_source on a fake machine ----------------------------------------------
m = FakeMachine({0x68: FakeMPU(0x70)}, {26: 11, 27: 22, 28: 33})
cfg = {"source": "mpu6050+fsr", "sensor": "imu+fsr", "rate_hz": 100, "accel_range_g": 8, "gyro_range_dps": 1000,
       "i2c": {"id": 0, "sda": 4, "scl": 5, "freq": 400000, "addr": 104},
       "fsr": {"heel": 26, "fore_med": 27, "fore_lat": 28}}
src = make_source(cfg, m)
src.read_into(buf, 0)
check("make_source_mpu_fsr", isinstance(src.imu, MPU6050) and src.imu.accel_range_g == 8 and
      m.i2cs[0].args == (0, 4, 5, 400000) and list(buf[7:10]) == [11, 22, 33], (m.i2cs[0].args, list(buf[7:10])))
msg = error_text(lambda: make_source({"source": "bmi160"}, FakeMachine()))
check("make_source_unknown", "bmi160" in msg and "lsm6ds" in msg and "lis3dh" in msg and "adxl345" in msg, msg)
m = FakeMachine({0x18: FakeLIS3DH()}, {26: 11, 27: 22, 28: 33})
cfg = {"source": "lis3dh+fsr", "rate_hz": 100, "i2c": {"id": 0, "sda": 4, "scl": 5},
       "fsr": {"heel": 26, "fore_med": 27, "fore_lat": 28}}
src = make_source(cfg, m)
check("make_source_lis3dh_fsr", cfg["sensor"] == "acc+fsr" and isinstance(src.imu, LIS3DH), cfg["sensor"])
m = FakeMachine({0x68: FakeMPU()})
cfg = {"source": "mpu6050", "gyro": False, "i2c": {"id": 0, "sda": 4, "scl": 5}}
src = make_source(cfg, m)
check("make_source_mpu_gyro_off", cfg["sensor"] == "acc" and src.imu.gyro is False and
      m.i2cs[0].devices[0x68].gyro_standby(), cfg["sensor"])

print("done", n_checks)
