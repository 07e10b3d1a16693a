"""MPU-6050 / MPU-6500 (and the MPU-9250/9255 accel+gyro part) over I2C: integer-only samples.

The driver is handed a bus (machine.I2C or a test fake) and never builds one.
`read_into` fills columns 1..6 of a ring slot (mg, mdps) from one 14-byte burst
read into a buffer made here, so the timer callback allocates nothing.

Conversion: counts are 16-bit signed at +-range over 32768 counts, so
  mg   = raw * range_g   * 1000 / 32768 = raw * 125   * 2^k / 2048   (range_g   = 2 * 2^k)
  mdps = raw * range_dps * 1000 / 32768 = raw * 15625 * 2^k / 2048   (range_dps = 250 * 2^k)
computed as (raw * M + half) >> S: exact to the nearest unit (ties round up), and
|raw * M| <= 32768 * 15625 = 5.12e8 stays a small int on 32-bit ports (< 2**30).

gyro=False makes an accelerometer-only pod (sensor kind acc): the three gyro axes
go to standby (STBY_XG/YG/ZG in PWR_MGMT_2), the clock comes from the internal
oscillator (the gyro's PLL is off with them) with the temperature sensor off, only
the 6 accelerometer bytes are read, and the gyro columns are 0. The datasheet
(PS-MPU-6000A-00 rev 3.4, 6.3) puts the gyroscope at 3.6 mA and the accelerometer
alone at 500 uA.
"""

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):  # type: ignore[misc]  # CPython stand-in for micropython.const
        return x

from imu_common import ACCEL_RANGES_G, GYRO_RANGES_DPS, probe, range_code


_SMPLRT_DIV = const(0x19)
_CONFIG = const(0x1A)  # DLPF_CFG in bits 2:0
_GYRO_CONFIG = const(0x1B)  # FS_SEL in bits 4:3
_ACCEL_CONFIG = const(0x1C)  # AFS_SEL in bits 4:3
_ACCEL_CONFIG2 = const(0x1D)  # MPU-6500/9250 only: accelerometer low-pass
_ACCEL_XOUT_H = const(0x3B)  # accel x,y,z, temperature, gyro x,y,z: 14 bytes big-endian
_PWR_MGMT_1 = const(0x6B)
_PWR_MGMT_2 = const(0x6C)
_WHO_AM_I = const(0x75)

_CLK_PLL = const(0x01)  # SLEEP=0 (wake), clock from the gyro PLL: steadier than the RC oscillator
_CLK_INT_NO_TEMP = const(0x08)  # SLEEP=0, internal 8 MHz oscillator, TEMP_DIS (no gyro: no PLL)
_STBY_GYRO = const(0x07)  # PWR_MGMT_2: STBY_XG, STBY_YG, STBY_ZG
_DATA_LEN = const(14)
_ACC_LEN = const(6)  # accel x,y,z alone

# WHO_AM_I -> part; the 6050 says 0x68 at either address (WHO_AM_I ignores AD0)
CHIPS = ((0x68, "MPU-6050"), (0x70, "MPU-6500"), (0x71, "MPU-9250"), (0x73, "MPU-9255"))
ADDRESSES = (0x68, 0x69)  # AD0 low / high
# (gyro low-pass bandwidth in Hz, DLPF_CFG), widest first; every one samples at 1 kHz inside
_DLPF = ((188, 1), (98, 2), (42, 3), (20, 4), (10, 5), (5, 6))


class MPU6050:
    """MPU-6050/6500 accelerometer and gyroscope. Columns: ax, ay, az (mg), gx, gy, gz (mdps)."""

    def __init__(self, i2c, addr=0x68, accel_range_g=4, gyro_range_dps=500, rate_hz=100, gyro=True):
        ka = range_code(accel_range_g, ACCEL_RANGES_G, "accel_range_g")
        kg = range_code(gyro_range_dps, GYRO_RANGES_DPS, "gyro_range_dps")
        if addr not in ADDRESSES:
            raise ValueError("MPU-6050/6500 I2C address must be 0x68 (104, AD0 low) or 0x69 (105, AD0 high), got %r" % (addr,))
        if not 4 <= rate_hz <= 1000:
            raise ValueError("MPU-6050/6500 rate_hz must be 4..1000, got %r" % (rate_hz,))
        self._i2c = i2c
        self._addr = addr
        self.accel_range_g = accel_range_g
        self.gyro_range_dps = gyro_range_dps
        self.who_am_i, self.chip = probe(i2c, addr, _WHO_AM_I, CHIPS, "MPU-6050/6500", "AD0 pin")
        # scale: (raw * mul + half) >> shift, see the module docstring
        self._a_mul = 125
        self._a_sh = 11 - ka
        self._g_mul = 15625
        self._g_sh = 11 - kg
        # 1 kHz inside (DLPF on); the divider gives the lowest rate >= rate_hz
        div = 1000 // int(rate_hz) - 1
        self.rate_hz = 1000 // (1 + div)
        # low-pass below half the sample rate, so walking's impacts are kept but not aliased
        dlpf = _DLPF[-1][1]
        for bw, cfg in _DLPF:
            if 2 * bw <= rate_hz:
                dlpf = cfg
                break
        self.gyro = bool(gyro)
        self._b1 = bytearray(1)
        if self.gyro:
            self._write(_PWR_MGMT_1, _CLK_PLL)
            self._write(_PWR_MGMT_2, 0)  # every axis on (a previous program may have parked some)
        else:
            self._write(_PWR_MGMT_1, _CLK_INT_NO_TEMP)
            self._write(_PWR_MGMT_2, _STBY_GYRO)  # the gyro powered down: the long-battery mode
        self._write(_CONFIG, dlpf)
        self._write(_SMPLRT_DIV, div)
        if self.gyro:
            self._write(_GYRO_CONFIG, kg << 3)  # FCHOICE_B = 0 on the 6500: the DLPF applies
        self._write(_ACCEL_CONFIG, ka << 3)
        if self.who_am_i != 0x68:
            # the 6500 family filters the accelerometer separately (default: 460 Hz wide)
            self._write(_ACCEL_CONFIG2, dlpf)
        self.errors = 0  # bus errors while sampling (each repeats the previous sample)
        self._buf = bytearray(_DATA_LEN)
        # what one sample reads: all 14 bytes, or the accelerometer's 6 with the gyro off
        self._mv = memoryview(self._buf) if self.gyro else memoryview(self._buf)[:_ACC_LEN]

    def _write(self, reg, value):
        self._b1[0] = value
        self._i2c.writeto_mem(self._addr, reg, self._b1)

    def read_into(self, buf, i):
        """Write buf[i+1..i+6] = ax, ay, az (mg), gx, gy, gz (mdps; 0 with the gyro off). Allocates nothing."""
        try:
            self._i2c.readfrom_mem_into(self._addr, _ACCEL_XOUT_H, self._mv)
        except OSError:
            # a glitch on a shoe's wiring must not stop sampling: count it, repeat the last sample
            self.errors += 1
        b = self._buf
        mul = self._a_mul
        sh = self._a_sh
        half = 1 << (sh - 1)
        for k in range(3):
            v = (b[2 * k] << 8) | b[2 * k + 1]
            if v > 32767:
                v -= 65536
            buf[i + 1 + k] = (v * mul + half) >> sh
        if not self.gyro:
            buf[i + 4] = 0
            buf[i + 5] = 0
            buf[i + 6] = 0
            return
        mul = self._g_mul
        sh = self._g_sh
        half = 1 << (sh - 1)
        for k in range(3):
            v = (b[8 + 2 * k] << 8) | b[9 + 2 * k]
            if v > 32767:
                v -= 65536
            buf[i + 4 + k] = (v * mul + half) >> sh
