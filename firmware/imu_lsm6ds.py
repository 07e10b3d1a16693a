"""LSM6DS3 / LSM6DS3TR-C / LSM6DSO / LSM6DSOX over I2C: integer-only samples.

The driver is handed a bus (machine.I2C or a test fake) and never builds one.
`read_into` fills columns 1..6 of a ring slot (mg, mdps) from one 12-byte burst
read (gyro x,y,z then accel x,y,z, little-endian) into a buffer made here, so
the timer callback allocates nothing.

Conversion uses the datasheet sensitivities: accel 0.061 * 2^k mg/LSB
(2/4/8/16 g), gyro 8.75 * 2^k mdps/LSB (250/500/1000/2000 dps), as
(raw * M + D/2) // D with M/D = 61*2^k/1000 or 875*2^k/100: nearest unit, ties
up; |raw * M| <= 32768 * 7000 = 2.3e8 stays a small int on 32-bit ports.
Not for the LSM6DSO32 (also WHO_AM_I 0x6C but 4..32 g): its accelerometer
scale would be off by two.

gyro=False makes an accelerometer-only pod (sensor kind acc): the gyroscope is
powered down (ODR_G = 0 in CTRL2_G), only the 6 accelerometer bytes are read
(from OUTX_L_XL) and the gyro columns are 0.
"""

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):  # type: ignore[misc]  # CPython stand-in for micropython.const
        return x

from imu_common import ACCEL_RANGES_G, GYRO_RANGES_DPS, probe, range_code


_WHO_AM_I = const(0x0F)
_CTRL1_XL = const(0x10)  # ODR_XL bits 7:4, FS_XL bits 3:2
_CTRL2_G = const(0x11)  # ODR_G bits 7:4, FS_G bits 3:2
_CTRL3_C = const(0x12)
_OUTX_L_G = const(0x22)  # gyro x,y,z then accel x,y,z: 12 bytes little-endian
_OUTX_L_XL = const(0x28)  # accel x,y,z alone: 6 bytes

_BDU_IF_INC = const(0x44)  # BDU: a sample's low and high bytes come from one reading; IF_INC: burst reads
_DATA_LEN = const(12)

CHIPS = ((0x69, "LSM6DS3"), (0x6A, "LSM6DS3TR-C"), (0x6C, "LSM6DSO/LSM6DSOX"))
ADDRESSES = (0x6A, 0x6B)  # SDO/SA0 low / high
_FS_XL = (0, 2, 3, 1)  # FS_XL codes for 2, 4, 8, 16 g: the datasheet's order is 2, 16, 4, 8
# (output data rate in tenths of a Hz, ODR code), slowest first
_ODR = ((125, 1), (260, 2), (520, 3), (1040, 4), (2080, 5), (4160, 6))


class LSM6DS:
    """LSM6DS3/DSO/DSOX accelerometer and gyroscope. Columns: ax, ay, az (mg), gx, gy, gz (mdps)."""

    def __init__(self, i2c, addr=0x6A, accel_range_g=4, gyro_range_dps=500, rate_hz=104, gyro=True):
        ka = range_code(accel_range_g, ACCEL_RANGES_G, "accel_range_g")
        kg = range_code(gyro_range_dps, GYRO_RANGES_DPS, "gyro_range_dps")
        if addr not in ADDRESSES:
            raise ValueError("LSM6DS I2C address must be 0x6A (106, SA0 low) or 0x6B (107, SA0 high), got %r" % (addr,))
        odr = 0
        for tenths, code in _ODR:
            if rate_hz > 0 and tenths >= rate_hz * 10:
                odr = code  # the slowest rate that still keeps up: less noise and power
                self.odr_hz = tenths / 10
                break
        if not odr:
            raise ValueError("LSM6DS rate_hz must be 1..416 (output rates 12.5, 26, 52, 104, 208, 416 Hz), got %r"
                             % (rate_hz,))
        self._i2c = i2c
        self._addr = addr
        self.accel_range_g = accel_range_g
        self.gyro_range_dps = gyro_range_dps
        self.who_am_i, self.chip = probe(i2c, addr, _WHO_AM_I, CHIPS, "LSM6DS3/LSM6DSO", "SDO/SA0 pin")
        # scale: (raw * mul + div // 2) // div, see the module docstring
        self._a_mul = 61 << ka
        self._g_mul = 875 << kg
        self.gyro = bool(gyro)
        self._b1 = bytearray(1)
        self._write(_CTRL3_C, _BDU_IF_INC)  # before the data starts flowing
        self._write(_CTRL1_XL, (odr << 4) | (_FS_XL[ka] << 2))
        # ODR_G = 0: the gyroscope powered down (the long-battery mode), else at the accelerometer's rate
        self._write(_CTRL2_G, (odr << 4) | (kg << 2) if self.gyro else 0)
        self.errors = 0  # bus errors while sampling (each repeats the previous sample)
        self._buf = bytearray(_DATA_LEN)
        # what one sample reads: gyro and accel (12 bytes), or from OUTX_L_XL the accel's 6 into
        # the same place in the buffer (bytes 6..11), with the gyro off
        self._mv = memoryview(self._buf) if self.gyro else memoryview(self._buf)[6:]
        self._reg = _OUTX_L_G if self.gyro else _OUTX_L_XL

    def _write(self, reg, value):
        self._b1[0] = value
        self._i2c.writeto_mem(self._addr, reg, self._b1)

    def read_into(self, buf, i):
        """Write buf[i+1..i+6] = ax, ay, az (mg), gx, gy, gz (mdps; 0 with the gyro off). Allocates nothing."""
        try:
            self._i2c.readfrom_mem_into(self._addr, self._reg, self._mv)
        except OSError:
            # a glitch on a shoe's wiring must not stop sampling: count it, repeat the last sample
            self.errors += 1
        b = self._buf
        mul = self._a_mul
        for k in range(3):
            v = b[6 + 2 * k] | (b[7 + 2 * k] << 8)
            if v > 32767:
                v -= 65536
            buf[i + 1 + k] = (v * mul + 500) // 1000
        if not self.gyro:
            buf[i + 4] = 0
            buf[i + 5] = 0
            buf[i + 6] = 0
            return
        mul = self._g_mul
        for k in range(3):
            v = b[2 * k] | (b[1 + 2 * k] << 8)
            if v > 32767:
                v -= 65536
            buf[i + 4 + k] = (v * mul + 50) // 100
