"""Fake hardware for the sensor drivers: an I2C bus of register-model chips, ADCs, a `machine`.

Chips: MPU-6050/6500, LSM6DS3/DSO (IMUs), LIS3DH and ADXL345 (accelerometers alone).

Runs under CPython and MicroPython alike (plain classes only), so the same fakes
drive the pytest checks and tests/mpy/drivers_check.py on the real VM. The bus
answers like MicroPython's machine.I2C: an address with no chip raises
OSError(19) (ENODEV, a NACK); register reads and writes auto-increment. The
data paths (readfrom_mem_into, read_u16) allocate nothing, so a driver can be
checked under micropython.heap_lock().
"""

ENODEV = 19
EIO = 5


def _div_round(a, b):
    """a / b to the nearest integer (b > 0), ties away from zero."""
    if a < 0:
        return -((-a * 2 + b) // (2 * b))
    return (a * 2 + b) // (2 * b)


def _clamp16(v):
    if v > 32767:
        return 32767
    if v < -32768:
        return -32768
    return v


class FakeChip:
    """256 byte-wide registers with power-on values; WHO_AM_I is read-only.

    `nack` > 0 makes that many next transfers fail with OSError(EIO), like a loose wire.
    """

    def __init__(self, who_reg, who, power_on=None):
        self.regs = bytearray(256)
        if power_on:
            for reg in power_on:
                self.regs[reg] = power_on[reg]
        self.who_reg = who_reg
        self.regs[who_reg] = who
        self.nack = 0
        self.reads = 0

    def write_reg(self, reg, value):
        if reg != self.who_reg:
            self.regs[reg] = value

    def reg_at(self, reg, k):
        """The register byte k of a burst starting at `reg` reaches (most chips step on by one)."""
        return (reg + k) & 0xFF

    def put16(self, reg, value, big_endian):
        v = _clamp16(value) & 0xFFFF
        hi = v >> 8
        lo = v & 0xFF
        if big_endian:
            self.regs[reg] = hi
            self.regs[reg + 1] = lo
        else:
            self.regs[reg] = lo
            self.regs[reg + 1] = hi


class FakeMPU(FakeChip):
    """MPU-6050/6500 registers: asleep at power-on, data big-endian from ACCEL_XOUT_H (0x3B)."""

    def __init__(self, who=0x68):
        FakeChip.__init__(self, 0x75, who, {0x6B: 0x40})

    def awake(self):
        return not self.regs[0x6B] & 0x40

    def gyro_standby(self):
        """All three gyro axes in standby (PWR_MGMT_2 STBY_XG, STBY_YG, STBY_ZG)."""
        return self.regs[0x6C] & 0x07 == 0x07

    def accel_on(self):
        """The accelerometer axes not in standby (PWR_MGMT_2 STBY_XA, STBY_YA, STBY_ZA clear)."""
        return not self.regs[0x6C] & 0x38

    def accel_range_g(self):
        return 2 << ((self.regs[0x1C] >> 3) & 3)

    def gyro_range_dps(self):
        return 250 << ((self.regs[0x1B] >> 3) & 3)

    def load_raw(self, ax, ay, az, gx, gy, gz, temp=0):
        """Counts into ACCEL_XOUT_H..GYRO_ZOUT_L."""
        vals = (ax, ay, az, temp, gx, gy, gz)
        for k in range(7):
            self.put16(0x3B + 2 * k, vals[k], True)

    def load(self, ax_mg, ay_mg, az_mg, gx_mdps, gy_mdps, gz_mdps):
        """Physical values as counts at the ranges the driver configured (nearest count)."""
        a = self.accel_range_g() * 1000
        g = self.gyro_range_dps() * 1000
        self.load_raw(_div_round(ax_mg * 32768, a), _div_round(ay_mg * 32768, a), _div_round(az_mg * 32768, a),
                      _div_round(gx_mdps * 32768, g), _div_round(gy_mdps * 32768, g),
                      _div_round(gz_mdps * 32768, g))


class FakeLSM6DS(FakeChip):
    """LSM6DS3/DSO registers: IF_INC on at power-on, data little-endian from OUTX_L_G (0x22)."""

    def __init__(self, who=0x6C):
        FakeChip.__init__(self, 0x0F, who, {0x12: 0x04})

    def accel_range_g(self):
        return (2, 16, 4, 8)[(self.regs[0x10] >> 2) & 3]  # the datasheet's FS_XL order

    def gyro_range_dps(self):
        return 250 << ((self.regs[0x11] >> 2) & 3)

    def odr_code(self):
        return self.regs[0x10] >> 4, self.regs[0x11] >> 4

    def gyro_powered_down(self):
        return self.regs[0x11] >> 4 == 0  # ODR_G = 0

    def load_raw(self, ax, ay, az, gx, gy, gz):
        """Counts into OUTX_L_G..OUTZ_H_XL (gyro first)."""
        vals = (gx, gy, gz, ax, ay, az)
        for k in range(6):
            self.put16(0x22 + 2 * k, vals[k], False)

    def load(self, ax_mg, ay_mg, az_mg, gx_mdps, gy_mdps, gz_mdps):
        """Physical values as counts from the datasheet sensitivities (0.061 mg, 8.75 mdps per LSB at the lowest range)."""
        ug = 61 * self.accel_range_g() // 2  # micro-g per count
        udps = 8750 * self.gyro_range_dps() // 250  # micro-dps per count
        self.load_raw(_div_round(ax_mg * 1000, ug), _div_round(ay_mg * 1000, ug), _div_round(az_mg * 1000, ug),
                      _div_round(gx_mdps * 1000, udps), _div_round(gy_mdps * 1000, udps),
                      _div_round(gz_mdps * 1000, udps))


class FakeLIS3DH(FakeChip):
    """LIS3DH registers: powered down at power-on (CTRL_REG1 0x07), data left-justified little-endian
    from OUT_X_L (0x28). A burst steps on only when the sub-address has its top bit set (0x80);
    without it every byte reads (or writes) the same register, as on the chip."""

    def __init__(self, who=0x33):
        FakeChip.__init__(self, 0x0F, who, {0x20: 0x07})

    def reg_at(self, reg, k):
        if reg & 0x80:
            return ((reg & 0x7F) + k) & 0x7F
        return reg

    def odr_code(self):
        return self.regs[0x20] >> 4

    def accel_range_g(self):
        return 2 << ((self.regs[0x23] >> 4) & 3)

    def bits(self):
        """Resolution the chip is set to: 8 (low-power), 10 (normal) or 12 (high-resolution)."""
        if self.regs[0x20] & 0x08:
            return 8
        return 12 if self.regs[0x23] & 0x08 else 10

    def load_raw(self, ax, ay, az):
        """16-bit register values into OUT_X_L..OUT_Z_H."""
        vals = (ax, ay, az)
        for k in range(3):
            self.put16(0x28 + 2 * k, vals[k], False)

    def load(self, ax_mg, ay_mg, az_mg):
        """Physical values as the chip reports them in its mode: counts of the datasheet's sensitivity
        (high-resolution 1/2/4/12 mg at 2/4/8/16 g; normal 4x, low-power 16x that), left-justified.
        A powered-down chip (ODR 0) updates nothing; returns whether it did."""
        if not self.odr_code():
            return False
        bits = self.bits()
        mg = (1, 2, 4, 12)[(self.regs[0x23] >> 4) & 3] << (12 - bits)
        top = (1 << (bits - 1)) - 1
        vals = []
        for v in (ax_mg, ay_mg, az_mg):
            c = _div_round(v, mg)
            vals.append(max(-top - 1, min(top, c)) << (16 - bits))
        self.load_raw(vals[0], vals[1], vals[2])
        return True


class FakeADXL345(FakeChip):
    """ADXL345 registers: in standby at power-on (POWER_CTL 0), BW_RATE 0x0A (100 Hz), data
    right-justified little-endian from DATAX0 (0x32)."""

    def __init__(self, devid=0xE5):
        FakeChip.__init__(self, 0x00, devid, {0x2C: 0x0A})

    def measuring(self):
        return bool(self.regs[0x2D] & 0x08)

    def full_res(self):
        return bool(self.regs[0x31] & 0x08)

    def accel_range_g(self):
        return 2 << (self.regs[0x31] & 3)

    def rate_hz(self):
        return 3200 >> (15 - (self.regs[0x2C] & 0x0F))

    def low_power(self):
        return bool(self.regs[0x2C] & 0x10)

    def load_raw(self, ax, ay, az):
        vals = (ax, ay, az)
        for k in range(3):
            self.put16(0x32 + 2 * k, vals[k], False)

    def load(self, ax_mg, ay_mg, az_mg):
        """Physical values as counts: full resolution 256 LSB/g at any range (13 bits at 16 g),
        else 10 bits over the range. In standby nothing updates; returns whether it did."""
        if not self.measuring():
            return False
        r = self.accel_range_g()
        if self.full_res():
            per_g, top = 256, 256 * r - 1
        else:
            per_g, top = 512 // r, 511
        vals = []
        for v in (ax_mg, ay_mg, az_mg):
            c = _div_round(v * per_g, 1000)
            vals.append(max(-top - 1, min(top, c)))
        self.load_raw(vals[0], vals[1], vals[2])
        return True


class FakeI2C:
    """An I2C bus: `devices` maps 7-bit address -> FakeChip. Records every write as (addr, reg, bytes)."""

    def __init__(self, devices, name="I2C(0, freq=400000, scl=5, sda=4, timeout=50000)"):
        self.devices = devices
        self.name = name
        self.writes = []

    def __repr__(self):
        return self.name

    def _chip(self, addr):
        chip = self.devices.get(addr)
        if chip is None:
            raise OSError(ENODEV)  # what machine.I2C raises when the address is not acknowledged
        if chip.nack:
            chip.nack -= 1
            raise OSError(EIO)
        return chip

    def readfrom_mem_into(self, addr, reg, buf):
        chip = self._chip(addr)
        regs = chip.regs
        for k in range(len(buf)):
            buf[k] = regs[chip.reg_at(reg, k)]
        chip.reads += 1

    def readfrom_mem(self, addr, reg, n):
        buf = bytearray(n)
        self.readfrom_mem_into(addr, reg, buf)
        return bytes(buf)

    def writeto_mem(self, addr, reg, buf):
        chip = self._chip(addr)
        self.writes.append((addr, reg, bytes(buf)))
        for k in range(len(buf)):
            chip.write_reg(chip.reg_at(reg, k), buf[k])

    def scan(self):
        return sorted(self.devices)

    def writes_to(self, addr):
        """[(reg, value), ...] written to one address, single-byte writes flattened."""
        out = []
        for a, reg, data in self.writes:
            if a == addr:
                for k in range(len(data)):
                    out.append((reg + k, data[k]))
        return out


class FakeADC:
    """machine.ADC stand-in: read_u16() gives `value`, or cycles through a list of values."""

    def __init__(self, value=0, pin=None):
        self.pin = pin
        self.reads = 0
        self.attn = None
        self.set(value)

    def set(self, value):
        if isinstance(value, (list, tuple)):
            self.values = value
        else:
            self.values = (value,)

    def read_u16(self):
        v = self.values[self.reads % len(self.values)]
        self.reads += 1
        return v

    def atten(self, attn):
        self.attn = attn


class FakePin:
    def __init__(self, id, *args, **kw):
        self.id = id

    def __repr__(self):
        return "Pin(%r)" % (self.id,)


class _Factory:
    """A callable like machine.ADC / machine.I2C, carrying class constants such as ATTN_11DB."""

    def __init__(self, make, consts=None):
        self._make = make
        if consts:
            for k in consts:
                setattr(self, k, consts[k])

    def __call__(self, *args, **kw):
        return self._make(*args, **kw)


class FakeMachine:
    """A `machine` module for make_source: I2C buses see `devices`; ADCs read `adc_values[pin]`.

    esp32=True gives machine.ADC an ATTN_11DB constant and the ADCs an atten() method, as on an ESP32.
    Everything made is kept in `i2cs` and `adcs` (pin -> FakeADC).
    """

    Pin = FakePin

    def __init__(self, devices=None, adc_values=None, esp32=False):
        self.devices = devices if devices is not None else {}
        self.adc_values = adc_values or {}
        self.i2cs = []
        self.adcs = {}
        self.I2C = _Factory(self._i2c)
        self.ADC = _Factory(self._adc, {"ATTN_11DB": 3} if esp32 else None)

    def _i2c(self, id, sda=None, scl=None, freq=400000):
        if id not in (0, 1):
            raise ValueError("bad I2C id %r" % (id,))
        bus = FakeI2C(self.devices, "I2C(%d, freq=%d, scl=%r, sda=%r)" % (id, freq, scl.id, sda.id))
        bus.args = (id, sda.id, scl.id, freq)
        self.i2cs.append(bus)
        return bus

    def _adc(self, pin):
        if not isinstance(pin, FakePin):
            raise TypeError("ADC wants a Pin")
        adc = FakeADC(self.adc_values.get(pin.id, 0), pin.id)
        self.adcs[pin.id] = adc
        return adc
