"""Board configuration: a JSON file on the pod (calfwalk.json), never code edits."""

import json

DEFAULT_PATH = "calfwalk.json"
DEFAULTS = {
    "board": "unknown",
    "source": "replay",
    "sensor": "imu",
    "rate_hz": 100,
    "foot": "left",
    "replay": "",
    "replay_speed": 1,
    "autostart": True,
    "exit_at_end": False,
    "heartbeat_ms": 1000,
    "ring": 64,
    "led": None,
    "buzzer": None,
    "params": {},
    "log": "log",  # the folder of the pod's log (logbook.py) on its flash; "" for none
    "log_kb": 0,  # the most the log may take (0: the flash's free space, less a reserve)
}


# what the firmware does with each key decides what it may hold: a wrong type or a number out of
# range is refused here with ValueError (reported on the line as `ERR config`), never met later as
# a TypeError, an OverflowError or a MemoryError that would stop the pod
_INTS = (
    ("rate_hz", 25, 1000),
    ("ring", 8, 1024),  # samples buffered: RAM
    ("heartbeat_ms", 100, 60000),
    ("replay_speed", 0, 10000),
    ("buzzer_hz", 100, 20000),
    ("timer_id", -1, 16),
    ("accel_range_g", 2, 16),
    ("gyro_range_dps", 125, 4000),
    ("log_kb", 0, 1 << 20),
)
_STRS = ("board", "source", "replay", "foot", "sensor", "buzzer_type", "log")
_FLAGS = ("autostart", "exit_at_end", "gyro")
# the sensor kinds a pod can be (detector.SENSORS; named here so reading the config needs no detector):
# acc is an accelerometer alone (an LIS3DH, an ADXL345, or an IMU with "gyro": false)
SENSORS = ("imu", "acc", "fsr", "imu+fsr", "acc+fsr")


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def check(cfg, path="calfwalk.json"):
    """Refuse (ValueError) a board config whose values the firmware could not use."""
    where = "board config %s: " % path
    for k, lo, hi in _INTS:
        if k in cfg:
            v = cfg[k]
            if not _is_int(v) or v < lo or v > hi:
                raise ValueError(where + "%s must be a whole number %d..%d" % (k, lo, hi))
    for k in _STRS:
        if k in cfg and not isinstance(cfg[k], str):
            raise ValueError(where + "%s must be a string" % k)
    for k in _FLAGS:
        if k in cfg and cfg[k] not in (True, False):
            raise ValueError(where + "%s must be true or false" % k)
    for k in ("led", "buzzer"):
        v = cfg.get(k)
        if v is not None and not _is_int(v) and not isinstance(v, str):
            raise ValueError(where + "%s must be a pin number, a pin name or null" % k)
    params = cfg.get("params")
    if not isinstance(params, dict):
        raise ValueError(where + "params must be an object")
    if "rate_hz" in params:
        raise ValueError(where + "rate_hz is the board's own key, not a params entry")
    for k in params:
        if not _is_int(params[k]) or params[k] < -(1 << 30) or params[k] >= 1 << 30:
            raise ValueError(where + "params.%s must be a whole number" % k)
    for k in cfg:
        if k.startswith("cue_") and not _is_int(cfg[k]):
            raise ValueError(where + "%s must be a whole number" % k)
    return cfg


def _value(text):
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        return text


def load(path=DEFAULT_PATH, overrides=()):
    """Defaults, then the JSON file, then `key=value` overrides (command line on the unix port)."""
    cfg = dict(DEFAULTS)
    try:
        with open(path) as f:
            stored = json.load(f)
    except OSError:
        raise ValueError("board config %s not found: flash the pod with a board (make flash BOARD=...)" % path)
    except (ValueError, UnicodeError, IndexError, KeyError, TypeError, OverflowError, RuntimeError, MemoryError):
        # a damaged file: anything the JSON parser meets in it means the same (any port, any byte)
        raise ValueError("board config %s is not valid JSON" % path)
    if not isinstance(stored, dict):
        raise ValueError("board config %s must hold a JSON object" % path)
    cfg.update(stored)
    for item in overrides:
        if "=" not in item:
            raise ValueError("override must be key=value, got " + item)
        k, v = item.split("=", 1)
        cfg[k] = _value(v)
    cfg["config_path"] = path  # where `save` stores parameters
    check(cfg, path)
    if cfg["foot"] not in ("left", "right"):
        raise ValueError("foot must be left or right")
    if cfg["sensor"] not in SENSORS:
        raise ValueError("sensor must be one of %s, got %r" % (", ".join(SENSORS), cfg["sensor"]))
    return cfg
