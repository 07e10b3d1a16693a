"""The board's sensors as one sample source: an IMU (or accelerometer) driver, FSR pads, or both.

`make_source(cfg, machine)` builds the bus and ADC objects a board config names
(boards/*.json) and the drivers on them; `machine` is a parameter so tests can
pass a fake. `SensorSource.read_into` fills one ring slot without allocating:
it is called from the timer callback with the heap locked.

The board's sensor kind follows from what is fitted: an IMU is "imu", an
accelerometer alone "acc" (an LIS3DH or ADXL345, or an MPU-6050 / LSM6DS whose
board file says "gyro": false: its gyro is powered down), each "+fsr" with pads.
"""

try:
    from time import ticks_diff, ticks_ms
except ImportError:  # CPython
    import time as _time

    def ticks_ms():
        return int(_time.monotonic() * 1000)  # type: ignore[attr-defined]  # CPython's time

    def ticks_diff(a, b):  # type: ignore[no-redef]  # CPython stand-in
        return a - b


SOURCES = ("mpu6050", "lsm6ds", "lis3dh", "adxl345", "fsr_adc", "mpu6050+fsr", "lsm6ds+fsr", "lis3dh+fsr",
           "adxl345+fsr")
ACC_ONLY = ("lis3dh", "adxl345")  # accelerometers without a gyroscope
_ADDR = {"mpu6050": 0x68, "lsm6ds": 0x6A, "lis3dh": 0x18, "adxl345": 0x53}  # default I2C addresses
_FSR_PADS = ("heel", "fore_med", "fore_lat")


class SensorSource:
    """Live samples: t_ms since start, then the IMU's and the pads' columns (zeros for a missing sensor)."""

    def __init__(self, imu=None, fsr=None, clock=None, rate_hz=100):
        if imu is None and fsr is None:
            raise ValueError("a sensor source needs an IMU, FSR pads, or both")
        if not 1 <= rate_hz <= 1000:
            raise ValueError("rate_hz must be 1..1000, got %r" % (rate_hz,))
        self.imu = imu
        self.fsr = fsr
        self.clock = clock or ticks_ms
        self.rate_hz = rate_hz
        self.done = False  # live sensors never run out
        self.t_start = self.clock()
        # pacing for boards without a timer (see due): next due time in ms, plus a remainder
        self._due = 0
        self._due_rem = 0

    @property
    def errors(self):
        """Bus errors while sampling (each repeated the previous IMU sample)."""
        return self.imu.errors if self.imu is not None else 0

    def read_into(self, buf, i):
        """Fill buf[i..i+9]: t_ms, ax, ay, az (mg), gx, gy, gz (mdps), heel, fore_med, fore_lat."""
        # ticks wrap; ticks_diff is right for 2**29 ms (6 days) of running, more than a pod runs
        buf[i] = ticks_diff(self.clock(), self.t_start)
        if self.imu is not None:
            self.imu.read_into(buf, i)
        else:
            buf[i + 1] = 0
            buf[i + 2] = 0
            buf[i + 3] = 0
            buf[i + 4] = 0
            buf[i + 5] = 0
            buf[i + 6] = 0
        if self.fsr is not None:
            self.fsr.read_into(buf, i)
        else:
            buf[i + 7] = 0
            buf[i + 8] = 0
            buf[i + 9] = 0

    def due(self, elapsed_ms):
        """True once per sample period (pacing from the main loop where no timer runs).

        A live sensor cannot give past samples: after a stall it skips ahead
        instead of reading the same values several times in a burst.
        """
        if elapsed_ms < self._due:
            return False
        period = 1000 // self.rate_hz
        self._due += period
        self._due_rem += 1000 % self.rate_hz
        if self._due_rem >= self.rate_hz:
            self._due_rem -= self.rate_hz
            self._due += 1
        if elapsed_ms >= self._due:  # more than a period behind
            self._due = elapsed_ms + period
            self._due_rem = 0
        return True


def _need(cfg, key, where, example):
    if key not in cfg:
        raise ValueError("board config: %s needs %s (e.g. %s)" % (where, key, example))
    return cfg[key]


def _motion_driver(kind, i2c, addr, cfg, rate_hz, gyro):
    """The driver of an IMU (gyro on or off) or of an accelerometer alone, on its bus."""
    accel_g = cfg.get("accel_range_g", 4)
    if kind == "lis3dh":
        from acc_lis3dh import LIS3DH

        return LIS3DH(i2c, addr=addr, accel_range_g=accel_g, rate_hz=rate_hz)
    if kind == "adxl345":
        from acc_adxl345 import ADXL345

        return ADXL345(i2c, addr=addr, accel_range_g=accel_g, rate_hz=rate_hz)
    if kind == "mpu6050":
        from imu_mpu6050 import MPU6050 as Driver
    else:
        from imu_lsm6ds import LSM6DS as Driver  # type: ignore[assignment]  # either driver class
    return Driver(i2c, addr=addr, accel_range_g=accel_g, gyro_range_dps=cfg.get("gyro_range_dps", 500),
                  rate_hz=rate_hz, gyro=gyro)


def make_source(cfg, machine):
    """A SensorSource for the board config's "source", on buses and pins built with `machine`."""
    kind = cfg.get("source")
    if kind not in SOURCES:
        raise ValueError("board config: unknown source %r (use replay, %s)" % (kind, ", ".join(SOURCES)))
    imu_kind = None if kind == "fsr_adc" else kind.split("+")[0]
    has_fsr = kind == "fsr_adc" or kind.endswith("+fsr")
    gyro = cfg.get("gyro", imu_kind not in ACC_ONLY)
    if gyro not in (True, False):
        raise ValueError('board config: "gyro" must be true or false')
    if gyro and imu_kind in ACC_ONLY:
        raise ValueError('board config: source %s is an accelerometer without a gyroscope: leave out "gyro" or '
                         'set it to false' % kind)
    motion = ("imu" if gyro else "acc") if imu_kind else None
    sensor = motion + "+fsr" if motion and has_fsr else (motion or "fsr")
    if cfg.get("sensor", sensor) != sensor:
        # the detector is set up from "sensor": it must match what is fitted
        hint = ""
        if imu_kind and imu_kind not in ACC_ONLY and cfg["sensor"] in ("acc", "acc+fsr"):
            hint = ' (add "gyro": false to power the gyro down)'
        raise ValueError('board config: source %s gives sensor "%s", but sensor is "%s"%s'
                         % (kind, sensor, cfg["sensor"], hint))
    cfg["sensor"] = sensor
    rate_hz = cfg.get("rate_hz", 100)
    imu = fsr = None
    if imu_kind:
        where = "source " + kind
        bus = _need(cfg, "i2c", where, '"i2c": {"id": 0, "sda": 4, "scl": 5, "freq": 400000, "addr": 104}')
        if not isinstance(bus, dict):
            raise ValueError('board config: "i2c" must be an object like {"id": 0, "sda": 4, "scl": 5}')
        where = "i2c"
        bus_id = _need(bus, "id", where, '"id": 0')
        sda = _need(bus, "sda", where, '"sda": 4')
        scl = _need(bus, "scl", where, '"scl": 5')
        freq = bus.get("freq", 400000)
        try:
            i2c = machine.I2C(bus_id, sda=machine.Pin(sda), scl=machine.Pin(scl), freq=freq)
        except (ValueError, TypeError) as exc:
            raise ValueError("board config i2c (id %r, sda %r, scl %r): %s" % (bus_id, sda, scl, exc))
        imu = _motion_driver(imu_kind, i2c, bus.get("addr", _ADDR[imu_kind]), cfg, rate_hz, gyro)
    if has_fsr:
        pins = _need(cfg, "fsr", "source " + kind, '"fsr": {"heel": 26, "fore_med": 27, "fore_lat": 28}')
        if not isinstance(pins, dict):
            raise ValueError('board config: "fsr" must be an object like {"heel": 26, "fore_med": 27, "fore_lat": 28}')
        adcs = []
        for pad in _FSR_PADS:
            pin = _need(pins, pad, "fsr", '"%s": 26' % pad)
            try:
                adc = machine.ADC(machine.Pin(pin))
            except (ValueError, TypeError) as exc:
                raise ValueError("board config fsr %s pin %r: %s" % (pad, pin, exc))
            # ESP32 ADCs read only up to ~1 V unless told otherwise; the dividers swing to 3.3 V
            atten = getattr(machine.ADC, "ATTN_11DB", None)
            if atten is not None and hasattr(adc, "atten"):
                adc.atten(atten)
            adcs.append(adc)
        from fsr_adc import FSRPads

        fsr = FSRPads(adcs[0], adcs[1], adcs[2])
    return SensorSource(imu, fsr, rate_hz=rate_hz)
