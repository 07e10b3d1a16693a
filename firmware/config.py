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
}


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
            cfg.update(json.load(f))
    except OSError:
        raise ValueError("board config %s not found: flash the pod with a board (make flash BOARD=...)" % path)
    except ValueError:
        raise ValueError("board config %s is not valid JSON" % path)
    for item in overrides:
        if "=" not in item:
            raise ValueError("override must be key=value, got " + item)
        k, v = item.split("=", 1)
        cfg[k] = _value(v)
    cfg["config_path"] = path  # where `save` stores parameters
    if cfg["foot"] not in ("left", "right"):
        raise ValueError("foot must be left or right")
    if cfg["sensor"] not in ("imu", "fsr", "imu+fsr"):
        raise ValueError("sensor must be imu, fsr or imu+fsr")
    return cfg
