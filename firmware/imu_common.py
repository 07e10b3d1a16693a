"""What the IMU drivers share: range checks and the chip-ID probe with a clear error."""

ACCEL_RANGES_G = (2, 4, 8, 16)
GYRO_RANGES_DPS = (250, 500, 1000, 2000)


def range_code(value, allowed, name):
    for k in range(len(allowed)):
        if value == allowed[k]:
            return k
    raise ValueError("%s must be one of %s (got %r)" % (name, ", ".join([str(v) for v in allowed]), value))


def slowest_rate(rate_hz, rates, family):
    """(hz, register code) of the slowest output rate in `rates` ((hz, code), ascending) that keeps
    up with rate_hz: the least current. ValueError naming the rates otherwise."""
    for hz, code in rates:
        if rate_hz > 0 and hz >= rate_hz:
            return hz, code
    raise ValueError("%s rate_hz must be 1..%d (output rates %s Hz), got %r" % (
        family, rates[-1][0], ", ".join([str(r[0]) for r in rates]), rate_hz))


def probe(i2c, addr, who_reg, chips, family, pin, reg_name="WHO_AM_I"):
    """Read the chip ID: (id, part name), or an OSError with a hint if nothing or a stranger answers.

    `reg_name` is what the datasheet calls the ID register (the ADXL345's is DEVID)."""
    try:
        who = i2c.readfrom_mem(addr, who_reg, 1)[0]
    except OSError as exc:
        try:
            found = ", ".join(["0x%02x" % a for a in i2c.scan()]) or "nothing"
        except OSError:
            found = "nothing (the scan failed too)"
        raise OSError("no device answers at I2C address 0x%02x on %r: check wiring (SDA/SCL), power and the %s"
                      " (I2C error %s; a bus scan finds: %s)" % (addr, i2c, pin, exc.args[0] if exc.args else "?", found))
    for cid, name in chips:
        if who == cid:
            return who, name
    raise OSError("no %s at I2C 0x%02x on %r: %s=0x%02x (expected %s)" % (
        family, addr, i2c, reg_name, who, ", ".join(["0x%02x %s" % c for c in chips])))
