"""LIS3DH accelerometer over I2C (no gyroscope): integer-only samples, for accelerometer-only pods.

The driver is handed a bus (machine.I2C or a test fake) and never builds one.
`read_into` fills columns 1..6 of a ring slot like the IMU drivers do: ax, ay, az
in mg, and zeros for the gyro columns (a pod with sensor "acc" has none). One
6-byte burst read into a buffer made here, so the timer callback allocates nothing.

Set-up (ST LIS3DH datasheet, DocID17530): high-resolution mode (HR in CTRL_REG4,
LPen clear: 12-bit samples), block data update, the slowest output data rate in
CTRL_REG1 that keeps up with rate_hz (1, 10, 25, 50, 100, 200, 400, 1344 Hz).
A burst read needs the sub-address's top bit set (auto-increment); without it the
chip repeats the one register.

Conversion: the samples are 16-bit, left-justified; in high-resolution mode the
12-bit count (raw >> 4) is worth 1, 2, 4 or 12 mg at +-2, 4, 8 or 16 g (the
datasheet's sensitivity: +-16 g is 12, not 8). Exact: the count times that.
About 20 uA at 100 Hz (datasheet, current consumption of operating modes).
"""

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):  # type: ignore[misc]  # CPython stand-in for micropython.const
        return x

from imu_common import ACCEL_RANGES_G, probe, range_code, slowest_rate


_WHO_AM_I = const(0x0F)
_CTRL_REG1 = const(0x20)  # ODR bits 7:4, LPen bit 3, Zen Yen Xen bits 2:0
_CTRL_REG4 = const(0x23)  # BDU bit 7, BLE bit 6, FS bits 5:4, HR bit 3
_OUT_X_L = const(0x28)  # x, y, z: 6 bytes little-endian, left-justified
_AUTO_INC = const(0x80)  # sub-address MSB: the address steps on through a burst read

_XYZ_ON = const(0x07)  # all three axes, LPen clear (normal / high-resolution)
_BDU_HR = const(0x88)  # BDU: low and high byte from one sample; HR: 12-bit samples
_DATA_LEN = const(6)

CHIPS = ((0x33, "LIS3DH"),)
ADDRESSES = (0x18, 0x19)  # SDO/SA0 low / high
_MG = (1, 2, 4, 12)  # mg per 12-bit count at 2, 4, 8, 16 g (high-resolution mode)
# (output data rate in Hz, ODR code), slowest first; 1344 Hz is the normal-mode top rate
_ODR = ((1, 1), (10, 2), (25, 3), (50, 4), (100, 5), (200, 6), (400, 7), (1344, 9))


class LIS3DH:
    """LIS3DH accelerometer. Columns: ax, ay, az (mg), then 0, 0, 0 (no gyroscope)."""

    gyro = False  # the pod's sensor kind is acc (or acc+fsr)

    def __init__(self, i2c, addr=0x18, accel_range_g=4, rate_hz=100):
        ka = range_code(accel_range_g, ACCEL_RANGES_G, "accel_range_g")
        if addr not in ADDRESSES:
            raise ValueError("LIS3DH I2C address must be 0x18 (24, SDO/SA0 low) or 0x19 (25, SDO/SA0 high), got %r"
                             % (addr,))
        self.odr_hz, odr = slowest_rate(rate_hz, _ODR, "LIS3DH")
        self._i2c = i2c
        self._addr = addr
        self.accel_range_g = accel_range_g
        self.who_am_i, self.chip = probe(i2c, addr, _WHO_AM_I, CHIPS, "LIS3DH", "SDO/SA0 pin")
        self._mul = _MG[ka]
        self._b1 = bytearray(1)
        self._write(_CTRL_REG4, _BDU_HR | (ka << 4))  # before the data starts flowing
        self._write(_CTRL_REG1, (odr << 4) | _XYZ_ON)
        self.errors = 0  # bus errors while sampling (each repeats the previous sample)
        self._buf = bytearray(_DATA_LEN)
        self._mv = memoryview(self._buf)

    def _write(self, reg, value):
        self._b1[0] = value
        self._i2c.writeto_mem(self._addr, reg, self._b1)

    def read_into(self, buf, i):
        """Write buf[i+1..i+3] = ax, ay, az (mg) and buf[i+4..i+6] = 0. Allocates nothing."""
        try:
            self._i2c.readfrom_mem_into(self._addr, _OUT_X_L | _AUTO_INC, self._mv)
        except OSError:
            # a glitch on a shoe's wiring must not stop sampling: count it, repeat the last sample
            self.errors += 1
        b = self._buf
        mul = self._mul
        for k in range(3):
            v = b[2 * k] | (b[2 * k + 1] << 8)
            if v > 32767:
                v -= 65536
            buf[i + 1 + k] = (v >> 4) * mul
        buf[i + 4] = 0
        buf[i + 5] = 0
        buf[i + 6] = 0
