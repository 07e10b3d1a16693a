"""Raw recording format v1: one CSV per foot, '#key=value' metadata, integer rows.

This is the contract between the pod (raw streaming), the simulator, the host
and the tests. See README "Raw recording format".
"""

from __future__ import annotations

import os
import re
import warnings as warnings_module
from dataclasses import dataclass, field

import numpy as np

from calfwalk import firmware
from calfwalk.errors import CalfwalkError

# SLOT, IMU_COLUMNS, ACC_COLUMNS (an accelerometer alone: no gyro columns) and FSR_COLUMNS are
# slices of the pod's ring slot (firmware/ring.py SLOT, the one place it is written), read from the
# firmware when first used (importing this module loads no firmware)
_COLUMN_NAMES = ("SLOT", "IMU_COLUMNS", "ACC_COLUMNS", "FSR_COLUMNS")


def _columns() -> dict:
    if "SLOT" not in globals():
        slot = firmware.load("ring").SLOT
        globals().update(SLOT=slot, IMU_COLUMNS=slot[:7], ACC_COLUMNS=slot[:4], FSR_COLUMNS=slot[:1] + slot[7:])
    return {name: globals()[name] for name in _COLUMN_NAMES}


def __getattr__(name):
    if name in _COLUMN_NAMES:
        return _columns()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
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

    def __reduce__(self):  # (raised in a worker process, it crosses to the parent whole)
        return type(self), (self.path, self.line, self.problem)


def columns_for(sensor: str) -> tuple:
    """The CSV header for a sensor kind."""
    c = _columns()
    if sensor == "imu":
        return c["IMU_COLUMNS"]
    if sensor == "fsr":
        return c["FSR_COLUMNS"]
    if sensor == "imu+fsr":
        return c["IMU_COLUMNS"] + c["FSR_COLUMNS"][1:]
    if sensor == "acc":
        return c["ACC_COLUMNS"]
    if sensor == "acc+fsr":
        return c["ACC_COLUMNS"] + c["FSR_COLUMNS"][1:]
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

    @property
    def samples(self) -> int:
        return len(self.data)

    @property
    def t_first(self):
        """The first sample's t_ms (None: no samples), as RawStream.t_first."""
        return int(self.data[0, 0]) if len(self.data) else None

    @property
    def t_last(self):
        return int(self.data[-1, 0]) if len(self.data) else None

    @property
    def work(self) -> int:
        """The units `blocks` reports its progress in: samples."""
        return len(self.data)

    def blocks(self, rows: int = 1 << 14):
        """(rows, work done) for each block of samples, in order (as RawStream.blocks)."""
        for start in range(0, len(self.data), rows):
            block = self.data[start:start + rows]
            yield block, len(block)


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


def _open_text(path):
    try:
        return open(path, encoding="utf-8", newline="")
    except FileNotFoundError:
        raise RawFormatError(path, 0, "no such file") from None
    except IsADirectoryError:
        raise RawFormatError(path, 0, "is a directory, not a raw recording") from None


def _read_head(path, fh):
    """The metadata and the header row: (meta, header, the header's line number); the file is left
    at the first sample line."""
    meta: dict = {}
    lineno = 0
    try:
        while True:
            text = fh.readline()
            if not text:
                raise RawFormatError(path, 0, "no header row (empty file or metadata only)")
            lineno += 1
            if not text.strip():
                continue
            if text.startswith("#"):
                _parse_meta(path, lineno, text, meta)
                continue
            return meta, _check_meta_and_header(path, lineno, meta, text), lineno
    except UnicodeDecodeError as exc:
        raise RawFormatError(path, 0, f"not a text file ({exc.reason})") from None


def _parsed_blocks(path, fh, width: int, lineno: int, warnings: list):
    """The samples after line `lineno`, a block at a time: (int64 rows, their line numbers, characters
    read), at numpy's speed where a block is plain rows of integers, else line by line (which names
    the line that is wrong). Only the format is checked here (see _check_values, _Held)."""
    pending = ""
    try:
        while True:
            block = fh.read(_BLOCK_CHARS)
            text = pending + block
            if not block:  # the end: what is left is a last line without its line end
                body, pending = text, ""
            else:
                # after the last line end (a lone \r too, but not one that a \n may follow in the next block)
                cut = max(text.rfind("\n"), text.rfind("\r", 0, len(text) - 1)) + 1
                body, pending = text[:cut], text[cut:]
                if len(pending) > _LINE_MAX:  # no sample line is this long: a garbled file, not to be held whole
                    raise RawFormatError(path, lineno + len(_LINE.findall(body)) + 1,
                                         f"a line of more than {_LINE_MAX} characters: not a raw sample line")
            rows = numbers = None
            if body:
                rows = _fast_rows(body, width)
                if rows is None:
                    rows, numbers, lineno = _slow_rows(path, body, lineno, width, warnings)
                else:
                    numbers = np.arange(lineno + 1, lineno + 1 + len(rows))
                    lineno += len(rows)
            if rows is not None or block:
                yield (rows if rows is not None else np.empty((0, width), dtype=np.int64),
                       numbers if numbers is not None else np.empty(0, dtype=np.int64), len(block))
            if not block:
                return
    except UnicodeDecodeError as exc:
        raise RawFormatError(path, 0, f"not a text file ({exc.reason})") from None


def read_raw(path, plausible: bool = True) -> RawRecording:
    """Read and validate a raw v1 file, all of it into memory; raise RawFormatError naming file,
    line and problem.

    A torn last line (a recording cut off by a crash) is dropped, and with `plausible`
    IMU samples beyond any sensor's full scale are held at the sample before them; both
    are said in `warnings`. plausible=False keeps every value as written (the format alone).
    The samples are read a block at a time, at numpy's speed where a block is plain rows of
    integers, else line by line (which names the line that is wrong). `open_raw` reads the
    same file a block at a time without ever holding it whole.
    """
    path = os.fspath(path)
    warnings: list = []
    with _open_text(path) as fh:
        meta, header, lineno = _read_head(path, fh)
        rows_out = _Rows(os.path.getsize(path))
        for rows, numbers, chars in _parsed_blocks(path, fh, len(header), lineno, warnings):
            rows_out.add(rows, numbers, chars)
    if not rows_out.n:
        raise RawFormatError(path, 0, "no samples after the header row")
    data, linenos = rows_out.arrays()
    _check_values(path, header, data, linenos)
    if plausible:
        held = _Held(path, header)
        held.hold(data, linenos)
        held.finish(warnings)
    return RawRecording(
        foot=meta["foot"], sensor=meta["sensor"], rate_hz=int(meta["rate_hz"]),
        data=data, meta=meta, path=path, warnings=warnings,
    )


def open_raw(path, plausible: bool = True):
    """A raw v1 file to be read a block at a time (`RawStream.blocks`), never whole: its metadata
    and header row are read and checked now (RawFormatError, as read_raw), its samples as they
    are used. A pipe (`<(zcat set_left.csv.gz)`), which cannot be read twice, is read whole
    (read_raw's RawRecording, which has the same `blocks`)."""
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path) and not os.path.isfile(path):
        return read_raw(path, plausible)
    return RawStream(path, plausible)


class RawStream:
    """One foot's raw file, read a block at a time: what `read_raw` gives, without the rows.

    `blocks()` yields the samples, checked and repaired exactly as read_raw does (the same rows,
    the same errors naming their line), one block of the file (`_BLOCK_CHARS` characters) at a
    time, and holds no more than that block; once they have all been read, `samples`, `t_first`,
    `t_last` and `warnings` say what they held. The stream keeps no open file (it may be handed
    to a worker process, which reads it there).
    """

    def __init__(self, path, plausible: bool = True):
        path = os.fspath(path)
        with _open_text(path) as fh:
            meta, header, lineno = _read_head(path, fh)
            self._start = fh.tell()
            try:
                peek = fh.read(1 << 16)
            except UnicodeDecodeError:
                peek = ""
        self.path, self.meta, self.header, self.plausible = path, meta, header, plausible
        self.foot, self.sensor, self.rate_hz = meta["foot"], meta["sensor"], int(meta["rate_hz"])
        self._start_line = lineno
        self.size = os.path.getsize(path)
        # an estimate of the samples (from the first 64 kB of them), for choosing how to run
        self.samples_estimate = int(self.size * peek.count("\n") / len(peek)) if peek else 0
        self.warnings: list = []
        self.samples = 0
        self.t_first = self.t_last = None

    columns = RawRecording.columns
    has_imu, has_acc, has_gyro, has_fsr = RawRecording.has_imu, RawRecording.has_acc, RawRecording.has_gyro, \
        RawRecording.has_fsr

    @property
    def work(self) -> int:
        """The units `blocks` reports its progress in: the file's bytes."""
        return self.size

    @property
    def duration_s(self) -> float:
        if self.t_first is None:
            return 0.0
        return float(self.t_last - self.t_first) / 1000.0

    def blocks(self):
        """(rows, work done) for each block of samples, in file order: rows an int64 array (which
        may be empty), work the bytes read since the last block (all of them in the end)."""
        path, header = self.path, self.header
        warnings: list = []
        held = _Held(path, header, self._first_good) if self.plausible else None
        prev_t = None
        samples, done = 0, 0
        with _open_text(path) as fh:
            fh.seek(self._start)
            for rows, numbers, chars in _parsed_blocks(path, fh, len(header), self._start_line, warnings):
                done += chars
                if len(rows):
                    _check_values(path, header, rows, numbers, prev_t)
                    if held is not None:
                        held.hold(rows, numbers)
                    if self.t_first is None:
                        self.t_first = int(rows[0, 0])
                    prev_t = int(rows[-1, 0])
                    samples += len(rows)
                yield rows, chars
        if not samples:
            raise RawFormatError(path, 0, "no samples after the header row")
        if held is not None:
            held.finish(warnings)
        self.samples, self.t_last, self.warnings = samples, prev_t, warnings
        rest = self.size - done  # the header, and any character of more than one byte
        if rest > 0:
            yield np.empty((0, len(header)), dtype=np.int64), rest

    def _first_good(self):
        """The IMU columns of the first plausible sample, read ahead (a file that starts with
        implausible samples takes them): None when there is none."""
        with _open_text(self.path) as fh:
            fh.seek(self._start)
            for rows, _numbers, _chars in _parsed_blocks(self.path, fh, len(self.header), self._start_line, []):
                bad = _Held.implausible(self.header, rows)
                if bad is not None and not bad.all():
                    i, n = _Held.imu_slice(self.header)
                    return rows[int(np.argmin(bad)), i:i + n].copy()
        return None


class _Rows:
    """The samples as they are read, in one array grown as needed (sized from the file's length, so
    a long recording is not held twice while it is read)."""

    def __init__(self, file_bytes: int):
        self.file_bytes = file_bytes
        self.read_chars = 0
        self.n = 0
        self.data = None
        self.linenos = None

    def add(self, rows, numbers, chars: int):
        self.read_chars += chars
        if not len(rows):
            return
        end = self.n + len(rows)
        if self.data is None or end > len(self.data):
            # what the rest of the file holds at this block's density, and a little more
            per_row = max(1.0, self.read_chars / end)
            want = max(end, int(self.file_bytes / per_row * 1.05) + 16, len(self.data) * 2 if self.data is not None else 0)
            data = np.empty((want, rows.shape[1]), dtype=np.int64)
            linenos = np.empty(want, dtype=np.int64)
            if self.data is not None:
                data[:self.n] = self.data[:self.n]
                linenos[:self.n] = self.linenos[:self.n]
            self.data, self.linenos = data, linenos
        self.data[self.n:end] = rows
        self.linenos[self.n:end] = numbers
        self.n = end

    def arrays(self):
        data, linenos = self.data[:self.n], self.linenos[:self.n]
        if len(self.data) > self.n + self.n // 8:
            data, linenos = data.copy(), linenos.copy()  # (a guess far too large: keep only what is used)
        return data, linenos


_BLOCK_CHARS = 1 << 20  # samples are read this many characters at a time
_LINE_MAX = 1 << 16  # a line longer than this is refused, not held (a sample line is < 200 characters)


def _fast_rows(body: str, width: int):
    """The rows of a block of plain lines (`width` integers each, comma-separated, each line ended,
    none blank, no metadata) as an int64 array; None for anything else: the line parser then
    finds what and where."""
    if not body.endswith("\n") or "#" in body or "\r" in body:
        return None
    raw = np.frombuffer(body.encode("ascii", "replace"), dtype=np.uint8)
    ends = np.flatnonzero(raw == 10)
    commas = np.cumsum(raw == 44)[ends]
    per_line = np.diff(commas, prepend=0)
    if not len(ends) or (per_line != width - 1).any() or (np.diff(ends, prepend=-1) < 2 * width).any():
        return None
    with warnings_module.catch_warnings():
        warnings_module.simplefilter("error")  # numpy warns (and stops) at a value it cannot read
        try:
            values = np.fromstring(body[:-1].replace("\n", ","), dtype=np.int64, sep=",")
        except (ValueError, DeprecationWarning):
            return None
    if values.size != len(ends) * width:
        return None
    rows = values.reshape(len(ends), width)
    if (rows >= INT32).any() or (rows < -INT32).any():
        return None  # (the line parser names the line)
    return rows


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")  # a line and its end (\n, \r\n or \r), or a last one without


def _slow_rows(path, body: str, lineno: int, width: int, warnings: list):
    """The rows of a block line by line, after line `lineno`: (int64 array, their line numbers, the
    block's last line number)."""
    rows, numbers = [], []
    for text in _LINE.findall(body):
        lineno += 1
        if not text.strip():
            continue
        if text.startswith("#"):
            raise RawFormatError(path, lineno, "metadata line after the header row")
        parts = text.rstrip("\r\n").split(",")
        # only the file's last line can lack its line end: a recording cut off mid-line
        torn = not text.endswith(("\n", "\r"))
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
        numbers.append(lineno)
    return np.asarray(rows, dtype=np.int64).reshape(-1, width), np.asarray(numbers, dtype=np.int64), lineno


def _torn(path, lineno, what):
    return f"{path}:{lineno}: the last line is cut off ({what}, no line end): dropped"


class _Held:
    """Samples beyond any IMU's full scale are flagged and replaced by the sample before them, as
    the pod does for a failed sensor read (the first ones by the first plausible sample); a file of
    nothing else is refused. `hold` takes the rows a block at a time, in order; `finish` says what
    was held, in one warning."""

    def __init__(self, path, header, first_good=lambda: None):
        self.path, self.header, self.first_good = path, header, first_good
        self.last_good = None  # the IMU columns of the last plausible sample so far
        self.count = 0
        self.first = None  # (line, values) of the first implausible sample

    @staticmethod
    def imu_slice(header):
        """(first IMU column, how many): an accelerometer alone has no gyro columns."""
        return header.index("ax_mg"), 6 if "gx_mdps" in header else 3

    @staticmethod
    def implausible(header, data):
        """Which rows are beyond any IMU's full scale (None: no IMU columns)."""
        if "ax_mg" not in header:
            return None
        i, n = _Held.imu_slice(header)
        acc, gyro = np.abs(data[:, i:i + 3]), np.abs(data[:, i + 3:i + n])
        return (acc > PLAUSIBLE_ACC_MG).any(axis=1) | (gyro > PLAUSIBLE_GYRO_MDPS).any(axis=1)

    def hold(self, data, linenos):
        bad = self.implausible(self.header, data)
        if bad is None or not len(data):
            return
        i, n = self.imu_slice(self.header)
        if bad.any():
            first = int(np.argmax(bad))
            if self.first is None:
                values = ", ".join(f"{name}={int(v)}" for name, v in zip(self.header[i:i + n], data[first, i:i + n]))
                self.first = (int(linenos[first]), values)
            self.count += int(bad.sum())
            good = np.flatnonzero(~bad)
            if self.last_good is None and first == 0:  # the file starts with implausible samples
                self.last_good = data[good[0], i:i + n].copy() if len(good) else self.first_good()
                if self.last_good is None:
                    raise RawFormatError(self.path, self.first[0], f"no plausible IMU sample (beyond ±{PLAUSIBLE_ACC_MG} "
                                         f"mg or ±{PLAUSIBLE_GYRO_MDPS} mdps: {self.first[1]})")
            # each bad row takes the IMU columns of the last good row before it
            src = np.maximum.accumulate(np.where(bad, -1, np.arange(len(data))))
            before = src < 0
            src[before] = 0
            held = data[src, i:i + n]
            if before.any():
                held[before] = self.last_good
            data[:, i:i + n] = held
        self.last_good = data[-1, i:i + n].copy()

    def finish(self, warnings):
        if self.count:
            warnings.append(f"{self.path}:{self.first[0]}: {self.count} sample(s) beyond any IMU's full scale "
                            f"(±{PLAUSIBLE_ACC_MG} mg, ±{PLAUSIBLE_GYRO_MDPS} mdps), the first {self.first[1]}: "
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


def _check_values(path, header, data, linenos, prev_t=None):
    """t_ms increasing (from `prev_t`, the sample before these), FSR counts in range."""
    t = data[:, 0]
    if prev_t is not None:
        t = np.concatenate(([prev_t], t))
        linenos = np.concatenate(([0], linenos))
    steps = np.diff(t)
    if len(steps) and steps.min() <= 0:
        i = int(np.argmax(steps <= 0))
        raise RawFormatError(path, linenos[i + 1], f"t_ms must increase: t_ms={t[i + 1]} after {t[i]}")
    if prev_t is not None:
        linenos = linenos[1:]
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
