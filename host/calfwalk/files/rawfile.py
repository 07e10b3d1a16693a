"""Raw recording format v1: one CSV per foot, '#key=value' metadata, integer rows.

This is the contract between the pod (raw streaming), the simulator, the host
and the tests. See README "Raw recording format".
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from calfwalk.errors import CalfwalkError

IMU_COLUMNS = ("t_ms", "ax_mg", "ay_mg", "az_mg", "gx_mdps", "gy_mdps", "gz_mdps")
ACC_COLUMNS = IMU_COLUMNS[:4]  # an accelerometer alone (sensor acc): no gyro columns
FSR_COLUMNS = ("t_ms", "heel", "fore_med", "fore_lat")
SENSORS = ("imu", "acc", "fsr", "imu+fsr", "acc+fsr")  # as firmware/detector.py SENSORS
FEET = ("left", "right")
RATE_RANGE_HZ = (25, 1000)
INT32 = 2**31
# Beyond the full scale of any shoe IMU (accelerometers reach ±16 g, a few ±32 g; gyros ±2000 dps,
# a few ±4000 dps): a sample past these is a corrupt reading, not motion.
PLAUSIBLE_ACC_MG = 32000
PLAUSIBLE_GYRO_MDPS = 4_000_000


class RawFormatError(CalfwalkError, ValueError):
    """A raw file that does not follow format v1; the message names file and line."""

    def __init__(self, path, line, problem):
        self.path, self.line, self.problem = str(path), line, problem
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {problem}")


def columns_for(sensor: str) -> tuple:
    """The CSV header for a sensor kind."""
    if sensor == "imu":
        return IMU_COLUMNS
    if sensor == "fsr":
        return FSR_COLUMNS
    if sensor == "imu+fsr":
        return IMU_COLUMNS + FSR_COLUMNS[1:]
    if sensor == "acc":
        return ACC_COLUMNS
    if sensor == "acc+fsr":
        return ACC_COLUMNS + FSR_COLUMNS[1:]
    raise ValueError(f"sensor must be one of {', '.join(SENSORS)}, not {sensor!r}")


@dataclass
class RawRecording:
    """One foot's raw samples: `data` is an int64 array, one row per sample."""

    foot: str
    sensor: str
    rate_hz: int
    data: np.ndarray
    meta: dict = field(default_factory=dict)
    path: str = ""
    warnings: list = field(default_factory=list)  # what was repaired or dropped on reading, one line each

    @property
    def columns(self) -> tuple:
        return columns_for(self.sensor)

    def column(self, name: str) -> np.ndarray:
        return self.data[:, self.columns.index(name)]

    @property
    def has_imu(self) -> bool:
        """An IMU: accelerometer and gyroscope."""
        return "imu" in self.sensor

    @property
    def has_acc(self) -> bool:
        """An accelerometer, with a gyroscope (imu) or alone (acc): heel height, impacts."""
        return "imu" in self.sensor or "acc" in self.sensor

    @property
    def has_gyro(self) -> bool:
        return "imu" in self.sensor

    @property
    def has_fsr(self) -> bool:
        return "fsr" in self.sensor

    @property
    def duration_s(self) -> float:
        if len(self.data) < 2:
            return 0.0
        return float(self.data[-1, 0] - self.data[0, 0]) / 1000.0


def _parse_meta(path, lineno, text, meta):
    body = text[1:].strip()
    if not body:
        return
    if "=" not in body:
        if meta:  # free comment after metadata started: allowed
            return
        raise RawFormatError(path, lineno, f"metadata line must be '#key=value', got {text.strip()!r}")
    key, _, value = body.partition("=")
    meta[key.strip()] = value.strip()


def read_raw(path, plausible: bool = True) -> RawRecording:
    """Read and validate a raw v1 file; raise RawFormatError naming file, line and problem.

    A torn last line (a recording cut off by a crash) is dropped, and with `plausible`
    IMU samples beyond any sensor's full scale are held at the sample before them; both
    are said in `warnings`. plausible=False keeps every value as written (the format alone).
    """
    path = os.fspath(path)
    try:
        fh = open(path, encoding="utf-8", newline="")
    except FileNotFoundError:
        raise RawFormatError(path, 0, "no such file") from None
    except IsADirectoryError:
        raise RawFormatError(path, 0, "is a directory, not a raw recording") from None
    meta: dict = {}
    header = None
    rows = []
    linenos = []
    warnings: list = []
    with fh:
        try:
            for lineno, text in enumerate(fh, 1):
                if not text.strip():
                    continue
                if text.startswith("#"):
                    if header is not None:
                        raise RawFormatError(path, lineno, "metadata line after the header row")
                    _parse_meta(path, lineno, text, meta)
                    continue
                if header is None:
                    header = _check_meta_and_header(path, lineno, meta, text)
                    width = len(header)
                    continue
                parts = text.rstrip("\r\n").split(",")
                # only the file's last line can lack its newline: a recording cut off mid-line
                torn = not text.endswith("\n")
                if len(parts) != width:
                    if torn:
                        warnings.append(_torn(path, lineno, f"{len(parts)} of {width} values"))
                        continue
                    raise RawFormatError(path, lineno, f"expected {width} values, got {len(parts)}")
                try:
                    row = [int(p) for p in parts]
                except ValueError:
                    bad = next(p for p in parts if not _is_int(p))
                    if torn:
                        warnings.append(_torn(path, lineno, f"not an integer: {bad.strip()!r}"))
                        continue
                    raise RawFormatError(path, lineno, f"not an integer: {bad.strip()!r}") from None
                if any(v >= INT32 or v < -INT32 for v in row):
                    raise RawFormatError(path, lineno, "value out of 32-bit range")
                rows.append(row)
                linenos.append(lineno)
        except UnicodeDecodeError as exc:
            raise RawFormatError(path, 0, f"not a text file ({exc.reason})") from None
    if header is None:
        raise RawFormatError(path, 0, "no header row (empty file or metadata only)")
    if not rows:
        raise RawFormatError(path, 0, "no samples after the header row")
    data = np.asarray(rows, dtype=np.int64)
    _check_values(path, header, data, linenos)
    if plausible:
        _hold_implausible(path, header, data, linenos, warnings)
    return RawRecording(
        foot=meta["foot"], sensor=meta["sensor"], rate_hz=int(meta["rate_hz"]),
        data=data, meta=meta, path=path, warnings=warnings,
    )


def _torn(path, lineno, what):
    return f"{path}:{lineno}: the last line is cut off ({what}, no line end): dropped"


def _hold_implausible(path, header, data, linenos, warnings):
    """Samples beyond any IMU's full scale are flagged and replaced by the sample before them,
    as the pod does for a failed sensor read; a file of nothing else is refused."""
    if "ax_mg" not in header:
        return
    i = header.index("ax_mg")
    n = 6 if "gx_mdps" in header else 3  # an accelerometer alone has no gyro columns
    acc, gyro = np.abs(data[:, i:i + 3]), np.abs(data[:, i + 3:i + n])
    bad = (acc > PLAUSIBLE_ACC_MG).any(axis=1) | (gyro > PLAUSIBLE_GYRO_MDPS).any(axis=1)
    if not bad.any():
        return
    good = np.flatnonzero(~bad)
    first = int(np.argmax(bad))
    values = ", ".join(f"{name}={int(v)}" for name, v in zip(header[i:i + n], data[first, i:i + n]))
    if not len(good):
        raise RawFormatError(path, linenos[first], f"no plausible IMU sample (beyond ±{PLAUSIBLE_ACC_MG} mg or "
                                                   f"±{PLAUSIBLE_GYRO_MDPS} mdps: {values})")
    # each bad row takes the IMU columns of the last good row before it (or the first good one)
    src = np.maximum.accumulate(np.where(bad, -1, np.arange(len(data))))
    src[src < 0] = good[0]
    data[:, i:i + n] = data[src, i:i + n]
    warnings.append(f"{path}:{linenos[first]}: {int(bad.sum())} sample(s) beyond any IMU's full scale "
                    f"(±{PLAUSIBLE_ACC_MG} mg, ±{PLAUSIBLE_GYRO_MDPS} mdps), the first {values}: "
                    "each replaced by the sample before it")


def _is_int(text):
    try:
        int(text)
        return True
    except ValueError:
        return False


def _check_meta_and_header(path, lineno, meta, text):
    if meta.get("calfwalk_raw") != "1":
        raise RawFormatError(path, 1, "not a calfwalk raw v1 file (missing '#calfwalk_raw=1')")
    for key in ("foot", "sensor", "rate_hz"):
        if key not in meta:
            raise RawFormatError(path, lineno, f"missing metadata '#{key}=...'")
    if meta["foot"] not in FEET:
        raise RawFormatError(path, lineno, f"foot must be left or right, got {meta['foot']!r}")
    if meta["sensor"] not in SENSORS:
        raise RawFormatError(path, lineno, f"sensor must be one of {', '.join(SENSORS)}, got {meta['sensor']!r}")
    try:
        rate = int(meta["rate_hz"])
    except ValueError:
        raise RawFormatError(path, lineno, f"rate_hz must be an integer, got {meta['rate_hz']!r}") from None
    if not RATE_RANGE_HZ[0] <= rate <= RATE_RANGE_HZ[1]:
        raise RawFormatError(path, lineno, f"rate_hz {rate} outside {RATE_RANGE_HZ[0]}..{RATE_RANGE_HZ[1]}")
    header = tuple(c.strip() for c in text.strip().split(","))
    expected = columns_for(meta["sensor"])
    if header != expected:
        raise RawFormatError(path, lineno, f"header for sensor={meta['sensor']} must be {','.join(expected)}, got {text.strip()!r}")
    return header


def _check_values(path, header, data, linenos):
    t = data[:, 0]
    steps = np.diff(t)
    if len(steps) and steps.min() <= 0:
        i = int(np.argmax(steps <= 0))
        raise RawFormatError(path, linenos[i + 1], f"t_ms must increase: t_ms={t[i + 1]} after {t[i]}")
    for name in ("heel", "fore_med", "fore_lat"):
        if name in header:
            col = data[:, header.index(name)]
            bad = np.flatnonzero((col < 0) | (col > 65535))
            if len(bad):
                raise RawFormatError(path, linenos[bad[0]], f"{name} counts must be 0..65535, got {col[bad[0]]}")


def write_raw(path, foot, sensor, rate_hz, data, extra_meta=None) -> None:
    """Write a raw v1 file from an integer array whose columns match `sensor`."""
    cols = columns_for(sensor)
    data = np.asarray(data)
    if data.ndim != 2 or data.shape[1] != len(cols):
        raise ValueError(f"data must have {len(cols)} columns for sensor={sensor}")
    meta = {"calfwalk_raw": "1", "foot": foot, "sensor": sensor, "rate_hz": str(int(rate_hz))}
    meta.update({k: str(v) for k, v in (extra_meta or {}).items()})
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for k, v in meta.items():
            fh.write(f"#{k}={v}\n")
        fh.write(",".join(cols) + "\n")
        np.savetxt(fh, np.asarray(data, dtype=np.int64), fmt="%d", delimiter=",")
