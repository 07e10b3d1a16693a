"""ADXL345 accelerometer over I2C (no gyroscope): integer-only samples, for accelerometer-only pods.

The driver is handed a bus (machine.I2C or a test fake) and never builds one.
`read_into` fills columns 1..6 of a ring slot like the IMU drivers do: ax, ay, az
in mg, and zeros for the gyro columns (a pod with sensor "acc" has none). One
6-byte burst read into a buffer made here, so the timer callback allocates nothing.

Set-up (Analog Devices ADXL345 data sheet): standby while configuring
(POWER_CTL), full resolution (FULL_RES in DATA_FORMAT: 13 bits at +-16 g, the
same 3.9 mg/LSB scale at every range, right-justified), the range, the slowest
output data rate in BW_RATE that keeps up with rate_hz (25 .. 1600 Hz, normal
power), then measurement mode.

Conversion: full resolution is 256 LSB/g at every range (3.90625 mg/LSB), so
mg = (raw * 125 + 16) >> 5: the nearest mg (ties up); |raw * 125| stays far
below 2**30. About 140 uA at 100 Hz (data sheet, current vs. data rate).
"""

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):  # type: ignore[misc]  # CPython stand-in for micropython.const
        return x

from imu_common import ACCEL_RANGES_G, probe, range_code, slowest_rate


_DEVID = const(0x00)
_BW_RATE = const(0x2C)  # LOW_POWER bit 4, rate code bits 3:0
_POWER_CTL = const(0x2D)  # Measure bit 3
_DATA_FORMAT = const(0x31)  # FULL_RES bit 3, Justify bit 2, Range bits 1:0
_DATAX0 = const(0x32)  # x, y, z: 6 bytes little-endian

_MEASURE = const(0x08)
_FULL_RES = const(0x08)
_DATA_LEN = const(6)

CHIPS = ((0xE5, "ADXL345"),)
ADDRESSES = (0x53, 0x1D)  # ALT ADDRESS pin low / high
# (output data rate in Hz, rate code), slowest first: rate = 3200 Hz / 2**(15 - code)
_RATES = ((25, 8), (50, 9), (100, 10), (200, 11), (400, 12), (800, 13), (1600, 14))


class ADXL345:
    """ADXL345 accelerometer. Columns: ax, ay, az (mg), then 0, 0, 0 (no gyroscope)."""

    gyro = False  # the pod's sensor kind is acc (or acc+fsr)

    def __init__(self, i2c, addr=0x53, accel_range_g=4, rate_hz=100):
        ka = range_code(accel_range_g, ACCEL_RANGES_G, "accel_range_g")
        if addr not in ADDRESSES:
            raise ValueError("ADXL345 I2C address must be 0x53 (83, ALT ADDRESS low) or 0x1D (29, ALT ADDRESS high), "
                             "got %r" % (addr,))
        self.odr_hz, rate = slowest_rate(rate_hz, _RATES, "ADXL345")
        self._i2c = i2c
        self._addr = addr
        self.accel_range_g = accel_range_g
        self.who_am_i, self.chip = probe(i2c, addr, _DEVID, CHIPS, "ADXL345", "ALT ADDRESS pin", "DEVID")
        self._b1 = bytearray(1)
        self._write(_POWER_CTL, 0)  # standby while the format and rate change
        self._write(_DATA_FORMAT, _FULL_RES | ka)
        self._write(_BW_RATE, rate)
        self._write(_POWER_CTL, _MEASURE)
        self.errors = 0  # bus errors while sampling (each repeats the previous sample)
        self._buf = bytearray(_DATA_LEN)
        self._mv = memoryview(self._buf)

    def _write(self, reg, value):
        self._b1[0] = value
        self._i2c.writeto_mem(self._addr, reg, self._b1)

    def read_into(self, buf, i):
        """Write buf[i+1..i+3] = ax, ay, az (mg) and buf[i+4..i+6] = 0. Allocates nothing."""
        try:
            self._i2c.readfrom_mem_into(self._addr, _DATAX0, self._mv)
        except OSError:
            # a glitch on a shoe's wiring must not stop sampling: count it, repeat the last sample
            self.errors += 1
        b = self._buf
        for k in range(3):
            v = b[2 * k] | (b[2 * k + 1] << 8)
            if v > 32767:
                v -= 65536
            buf[i + 1 + k] = (v * 125 + 16) >> 5
        buf[i + 4] = 0
        buf[i + 5] = 0
        buf[i + 6] = 0
