"""Property-based fuzzing of every parser that meets outside bytes (issue 12).

Each parser gets FUZZ_CASES generated cases per run (derandomized: the same cases on
every run; see conftest.py): valid inputs, then damaged the ways files and links are
(bytes flipped, lines cut short or lost, junk inserted), and plain random bytes. Only
the parser's own typed error may come out (a message naming the file or line, never a
traceback), and whatever was readable is read. Case counts go to build/fuzz-counts.json.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calfwalk import firmware
from calfwalk.output.history import import_plan, import_sets
from calfwalk.link.transport import LineSplitter
from calfwalk.files.protocol import Corrupt, StreamChecker, encode, parse
from calfwalk.files.rawfile import RawFormatError, columns_for, read_raw
from calfwalk.files.session import SessionError, read_session, record_line

from helpers import ROOT

FUZZ_CASES = int(__import__("os").environ.get("CALFWALK_FUZZ_CASES", "10000"))
COUNTS: Counter = Counter()
FAST = settings(max_examples=FUZZ_CASES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])


def report(name):
    """Check and record how many cases ran."""
    assert COUNTS[name] >= FUZZ_CASES, f"{name}: only {COUNTS[name]} cases ran"
    out = ROOT / "build" / "fuzz-counts.json"
    out.parent.mkdir(exist_ok=True)
    try:
        counts = json.loads(out.read_text())
    except (OSError, ValueError):
        counts = {}
    counts[name] = COUNTS[name]
    out.write_text(json.dumps(counts, indent=1, sort_keys=True) + "\n")


def damage(data: bytes, ops) -> bytes:
    """Apply (op, where in 0..1, arg) damage operations."""
    d = bytearray(data)
    for op, where, arg in ops:
        if not d and op != "junk":
            break
        i = int(where * len(d))
        if op == "flip":
            d[min(i, len(d) - 1)] ^= 1 << (arg % 8)
        elif op == "cut":
            del d[i:]
        elif op == "drop_line":
            a = d.rfind(b"\n", 0, i) + 1
            b = d.find(b"\n", i)
            del d[a:(len(d) if b < 0 else b + 1)]
        elif op == "junk":
            d[i:i] = bytes(((arg * 31 + k * 97) % 256) for k in range(arg % 50 + 1))
        elif op == "dup_line":
            a = d.rfind(b"\n", 0, i) + 1
            b = d.find(b"\n", i)
            b = len(d) if b < 0 else b + 1
            d[a:a] = d[a:b]
    return bytes(d)


OPS = ("flip", "cut", "drop_line", "junk", "dup_line")


def ops_from(seed: int):
    """0 to 6 damage operations drawn from one number (cheap for hypothesis: one choice a case)."""
    rng = random.Random(seed)
    return [(rng.choice(OPS), rng.random(), rng.randrange(256)) for _ in range(rng.randrange(7))]


seeds = st.integers(0, 2**32 - 1)


# ------------------------------------------------------------------ the host's protocol line parser

KINDS = ["H", "S", "E", "R", "D", "OK", "ERR", "C"]
SAFE = "abcdefghijklmnopqrstuvwxyz0123456789=_-+."


def good_line(seq, t_ms, kind, seed):
    rng = random.Random(seed)
    payload = ",".join("".join(rng.choice(SAFE) for _ in range(rng.randrange(12))) for _ in range(rng.randrange(8)))
    return encode(seq, t_ms, kind, payload)


@FAST
@given(seq=st.integers(0, 65535), t_ms=st.integers(-2**31, 2**31 - 1), kind=st.sampled_from(KINDS), seed=seeds,
       noise=st.binary(max_size=60), raw=st.binary(max_size=200))
def _fuzz_protocol(seq, t_ms, kind, seed, noise, raw):
    COUNTS["protocol line parser"] += 1
    line = good_line(seq, t_ms, kind, seed)
    # a good line after any noise (without a marker of its own) is read whole
    noise = noise.replace(b"$CW1,", b"").replace(b"\n", b"").replace(b"\r", b"")
    split = LineSplitter()
    texts = split.feed(noise + line.encode() + b"\n")
    assert len(texts) >= 1
    _n, got = parse(texts[-1])
    assert (got.seq, got.t_ms, got.kind) == (seq, t_ms, kind)
    # damaged or random bytes: a typed Corrupt at worst, and the checker never raises
    chk = StreamChecker()
    for data in (damage(line.encode(), ops_from(seed)), raw):
        for text in split.feed(data + b"\n") + split.flush():
            try:
                parse(text)
            except Corrupt:
                pass
            chk.feed(text)


def test_fuzz_protocol_line_parser():
    _fuzz_protocol()
    report("protocol line parser")


# ------------------------------------------------------------------ raw v1 reader


def raw_text(sensor, rows, foot="left", rate=100):
    cols = columns_for(sensor)
    lines = ["#calfwalk_raw=1", f"#foot={foot}", f"#sensor={sensor}", f"#rate_hz={rate}", ",".join(cols)]
    lines += [",".join(str(v) for v in r) for r in rows]
    return ("\n".join(lines) + "\n").encode()


def raw_rows(sensor, n, seed):
    rng = np.random.default_rng(seed)
    width = len(columns_for(sensor))
    rows = rng.integers(-16000, 16001, (n, width))
    rows[:, 0] = np.cumsum(rng.integers(1, 30, n))
    if "fsr" in sensor:
        rows[:, -3:] = np.abs(rows[:, -3:]) * 4
    return rows.tolist()


@FAST
@given(sensor=st.sampled_from(["imu", "fsr", "imu+fsr"]), n=st.integers(1, 8), seed=seeds,
       cut=st.one_of(st.none(), st.floats(0, 1)), raw=st.binary(max_size=120))
def _fuzz_raw(sensor, n, seed, cut, raw):
    COUNTS["raw v1 reader"] += 1
    rows = raw_rows(sensor, n, seed)
    data = raw_text(sensor, rows)
    path = FUZZ_DIR / "x_left.csv"
    # damaged: a RawRecording or a RawFormatError that names the file
    for blob in (damage(data, ops_from(seed)), raw):
        path.write_bytes(blob)
        try:
            rec = read_raw(path)
        except RawFormatError as exc:
            assert str(exc).startswith(str(path))
        else:
            assert rec.data.ndim == 2 and rec.foot in ("left", "right")
    if cut is None:
        return
    # a recording cut off anywhere after its header: every complete row is read, nothing else
    head = data.index(b"\n", data.index(b"t_ms")) + 1
    at = head + int(cut * (len(data) - head))
    path.write_bytes(data[:at])
    complete = data[head:at].count(b"\n")
    try:
        rec = read_raw(path)
    except RawFormatError:
        assert complete == 0  # nothing but a torn first row: nothing readable
        return
    got = rec.data.tolist()
    assert got[:complete] == rows[:complete]
    assert len(got) in (complete, complete + 1)  # a torn last row may still parse as a row (digits cut)


FUZZ_DIR = Path()


@pytest.fixture
def fuzz_dir(tmp_path):
    """Where each case's file goes: in memory (/dev/shm) where there is one, 30,000 writes a parser."""
    import shutil
    import tempfile

    global FUZZ_DIR
    shm = Path("/dev/shm")
    FUZZ_DIR = Path(tempfile.mkdtemp(prefix="calfwalk-fuzz-", dir=shm)) if shm.is_dir() else tmp_path
    yield FUZZ_DIR
    if FUZZ_DIR != tmp_path:
        shutil.rmtree(FUZZ_DIR, ignore_errors=True)


def test_fuzz_raw_reader(fuzz_dir):
    _fuzz_raw()
    report("raw v1 reader")


# ------------------------------------------------------------------ session reader


def session_lines(n_steps, crc=True):
    """A session's lines as written, each with the step_no of a step line (else None)."""
    lines = [(m, None) for m in ("#calfwalk_session=1", "#started_utc=2026-01-05T10:00:00Z", "#pod0=/dev/ttyACM0")]
    if crc:
        lines.append(("#records=crc32", None))
    recs = [("rx", 10, encode(0, 5, "H", "calfwalk=0.1.0,proto=1,board=unix,foot=left,sensor=imu,rate_hz=100"), None)]
    recs.append(("rx", 20, encode(1, 15, "E", "set_start,t=1000"), None))
    seq = 2
    for n in range(1, n_steps + 1):
        recs.append(("rx", 20 + n * 1000, encode(seq, 15 + n * 1000, "E",
                     f"step,t={1000 + n * 1000},stance_ms=900,heel_mm=60,pause_ms=300,peaks=1,med_pct=-1,step_no={n}"), n))
        seq += 1
        recs.append(("rx", 30 + n * 1000, encode(seq, 25 + n * 1000, "S", (
            f"state=set,run=1,raw=0,steps={n + 1},heel_mm=60,samples={n * 100},dropped=0,src=live,t0=0,"
            f"ts={1000 + n * 1000},foot=left,bus_errors=0")), None))
        seq += 1
    recs.append(("note", 99999, "link lost: test", None))
    mk = record_line if crc else (lambda k, ms, i, t: f"{k}\t{ms}\t{i}\t{t}")
    return lines + [(mk(k, ms, 0, t), n) for k, ms, t, n in recs]


def session_bytes(n_steps, crc=True):
    return ("\n".join(line for line, _n in session_lines(n_steps, crc)) + "\n").encode()


SESSIONS = {True: session_bytes(6, True), False: session_bytes(6, False)}
# the step lines as written (bytes) -> step_no
STEP_LINES = {crc: {line.encode(): n for line, n in session_lines(6, crc) if n is not None} for crc in (True, False)}


def intact_steps(blob: bytes, crc: bool):
    """The step numbers of every step line still whole, byte for byte, in a damaged session: known
    from what was written (STEP_LINES), not from reading the file a second way."""
    return {STEP_LINES[crc][line] for line in blob.split(b"\n") if line in STEP_LINES[crc]}


@FAST
@given(crc=st.booleans(), seed=seeds, raw=st.binary(max_size=150))
def _fuzz_session(crc, seed, raw):
    COUNTS["session reader"] += 1
    path = FUZZ_DIR / "s.cwlog"
    blob = damage(SESSIONS[crc], ops_from(seed))
    for data in (blob, raw, b"#calfwalk_session=1\n" + raw):
        path.write_bytes(data)
        try:
            s = read_session(path)
        except SessionError as exc:
            assert str(exc).startswith(str(path))
            continue
        if data is blob and 0 in s.pods and crc:
            # every step line still whole is read (a record's checksum vouches for its pod)
            got = {e["step_no"] for e in s.pods[0].events if e["type"] == "step"}
            assert intact_steps(blob, crc) <= got


def test_fuzz_session_reader(fuzz_dir):
    _fuzz_session()
    report("session reader")


# ------------------------------------------------------------------ board config (calfwalk.json) at boot

KEYS = ["board", "source", "sensor", "rate_hz", "foot", "replay", "replay_speed", "autostart", "exit_at_end",
        "heartbeat_ms", "ring", "led", "buzzer", "buzzer_type", "buzzer_hz", "params", "timer_id", "cue_heel",
        "cue_fade_pct", "cue_led", "accel_range_g", "i2c", "fsr"]
PARAM_NAMES = [p[0] for p in firmware.load("detector").params()] + ["nosuch"]


def json_value(rng, depth=0):
    """Any JSON value, odd numbers included (huge, negative, fractional, inf, nan)."""
    k = rng.randrange(9 if depth < 3 else 6)
    if k == 0:
        return None
    if k == 1:
        return rng.random() < 0.5
    if k == 2:
        return rng.choice([0, 1, -1, 2, 100, 1000, 65535, 2**31, -2**63, 10**30, rng.randrange(-5000, 5000)])
    if k == 3:
        return rng.choice([0.5, -1.5, 1e308, float("inf"), float("-inf"), float("nan"), rng.uniform(-1e4, 1e4)])
    if k == 4:
        return rng.choice(["", "left", "right", "imu", "fsr", "imu+fsr", "replay", "pwm", "active", "LED", "x" * 40,
                           "\u00e9", "12"])
    if k == 5:
        return rng.randrange(-10, 2000)
    if k == 6:
        return [json_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(KEYS + PARAM_NAMES): json_value(rng, depth + 1) for _ in range(rng.randrange(4))}


def config_from(seed):
    rng = random.Random(seed)
    cfg = {rng.choice(KEYS): json_value(rng) for _ in range(rng.randrange(8))}
    if rng.random() < 0.6:  # a plausible board, then a few odd values
        cfg = {"board": "b", "source": "replay", "sensor": rng.choice(["imu", "fsr", "imu+fsr"]), "rate_hz": 100,
               "foot": "left", **{k: v for k, v in list(cfg.items())[:2]}}
    if rng.random() < 0.5:
        cfg["params"] = {rng.choice(PARAM_NAMES): rng.choice([json_value(rng), rng.randrange(-10**6, 10**6)])
                         for _ in range(rng.randrange(5))}
    return cfg


def boot(path):
    """What main.py does with a board config before sampling: load, the core, the cues."""
    import sys

    for name in ("ring", "cues"):  # firmware modules import each other by plain name, as on the pod
        sys.modules.setdefault(name, firmware.load(name))
    config = firmware.load("config")
    core = firmware.load("core")
    cues = firmware.load("cues")
    cfg = config.load(str(path), [])
    core.make_core(cfg)
    cues.make_cues(cfg, None)
    return cfg


@FAST
@given(seed=seeds, raw=st.binary(max_size=80))
def _fuzz_config(seed, raw):
    COUNTS["board config (calfwalk.json)"] += 1
    path = FUZZ_DIR / "calfwalk.json"
    text = json.dumps(config_from(seed), allow_nan=True).encode()
    for data in (text, damage(text, ops_from(seed)), raw):
        path.write_bytes(data)
        try:
            boot(path)
        except ValueError as exc:  # the pod says `ERR config,...` and stops, as main.py does
            assert str(exc)


def test_fuzz_board_config(fuzz_dir):
    _fuzz_config()
    report("board config (calfwalk.json)")


def test_every_shipped_board_boots():
    for b in sorted((ROOT / "boards").glob("*.json")):
        cfg = firmware.load("config").load(str(b), [])
        firmware.load("core").make_core(cfg)


# ------------------------------------------------------------------ history import (the files it is given)

GOOD_RAW = raw_text("imu", [[10 * k, 0, 0, 1000, 0, 0, 0] for k in range(1, 30)])


@FAST
@given(kind=st.sampled_from(["raw", "session", "other"]), seed=seeds, raw=st.binary(max_size=100),
       name=st.sampled_from(["a_left.csv", "a_right.csv", "b.cwlog", "notes.txt"]))
def _fuzz_import(kind, seed, raw, name):
    COUNTS["history import"] += 1
    path = FUZZ_DIR / name
    base = {"raw": GOOD_RAW, "session": SESSIONS[True], "other": raw}[kind]
    path.write_bytes(damage(base, ops_from(seed)))
    missing = FUZZ_DIR / "missing.csv"
    sources, bad = import_plan([str(path), str(missing)])
    assert any(str(missing) in b for b in bad)  # every file that is no recording is named
    named = {str(path)} if any(str(path) in b for b in bad) else set()
    for k, paths in sources:
        # reading, as the import does (summarising is the detector's and the summary's business)
        sets, errors, _warnings = import_sets(k, paths, analyse=False)
        if errors:
            assert all(isinstance(e, str) and e for e in errors)
            named.add(str(path))
        elif not sets and k == "raw":
            pytest.fail("a raw file neither imported nor named")
    assert len(sources) + len(bad) >= 1


def test_fuzz_history_import(fuzz_dir):
    _fuzz_import()
    report("history import")
