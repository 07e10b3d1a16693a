"""Session files: every line a pod sent, with host receive time, written as it arrives.

Format (text, tab separated): `#key=value` header lines, then one record a line:
`rx|tx|note <TAB> host_ms <TAB> pod_index <TAB> text <TAB> crc`, crc being the
CRC-32 (8 lower-case hex digits) of the record before its last tab. The header line
`#records=crc32` says every record carries one; reading re-verifies each and skips
(and reports) a record that fails, so a damaged byte cannot move a line to another
pod or another time. Files without it (older recordings) are read as they are.
A killed host leaves at most half a last line, which reading skips and reports.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from calfwalk.errors import CalfwalkError
from calfwalk.files.protocol import StreamChecker, cue_from_line, event_from_line

MAGIC = "#calfwalk_session=1"
KINDS = ("rx", "tx", "note")
RECORD_CRC = "crc32"  # the `#records=` header value of files whose records carry a checksum


def record_line(kind: str, host_ms: int, pod: int, text: str) -> str:
    """One session record with its checksum, without the newline."""
    import zlib

    rec = f"{kind}\t{host_ms}\t{pod}\t{text}"
    return f"{rec}\t{zlib.crc32(rec.encode('utf-8', 'backslashreplace')):08x}"


def _checked_record(text: str, strict: bool):
    """The record without its checksum, or None if the checksum is wrong (or missing, when strict)."""
    import zlib

    rec, tab, crc = text.rpartition("\t")
    if tab and len(crc) == 8 and all(c in "0123456789abcdef" for c in crc):
        ok = f"{zlib.crc32(rec.encode('utf-8', 'backslashreplace')):08x}" == crc
        return rec if ok else None
    return None if strict else text


class SessionError(CalfwalkError, ValueError):
    """A file that is not a readable session; the message names file and line."""


class SessionWriter:
    """Appends records and flushes each one, so nothing received is lost if the host dies."""

    def __init__(self, path, ports):
        self.path = str(path)
        d = os.path.dirname(self.path)
        if d:
            os.makedirs(d, exist_ok=True)
        self._fh = open(self.path, "w", encoding="utf-8", newline="\n")
        self._t0 = time.monotonic()
        self._write(MAGIC + "\n")
        self._write(f"#started_utc={time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n")
        for i, port in enumerate(ports):
            self._write(f"#pod{i}={port}\n")
        self._write(f"#records={RECORD_CRC}\n")

    def host_ms(self) -> int:
        return int((time.monotonic() - self._t0) * 1000)

    def _write(self, text):
        self._fh.write(text)
        self._fh.flush()

    def record(self, kind: str, pod: int, text: str, host_ms: int | None = None) -> None:
        ms = self.host_ms() if host_ms is None else host_ms
        self._write(record_line(kind, ms, pod, text) + "\n")

    def close(self):
        self._fh.close()


@dataclass
class PodStream:
    """One pod's side of a session, parsed."""

    index: int
    port: str = ""
    foot: str | None = None
    sensor: str | None = None
    board: str | None = None
    rate_hz: int | None = None
    events: list = field(default_factory=list)
    cues: list = field(default_factory=list)  # cues the pod gave (C lines), see protocol.cue_from_line
    raw_rows: list = field(default_factory=list)
    segments: int = 1  # pod boots seen (1 + reboots)
    # for align.py: (boot, line t_ms, host_ms) of every good line; (boot, sample ts, line t_ms, t0) of
    # heartbeats whose sample clock moved; (boot, event t, line t_ms) of each event in `events`
    sync: list = field(default_factory=list)
    sample_sync: list = field(default_factory=list)
    event_clock: list = field(default_factory=list)
    t0: int | None = None
    ts: int | None = None
    checker: StreamChecker = field(default_factory=StreamChecker)
    # steps the pod counted (step_no, its steps= heartbeats, set_end steps=) that never arrived:
    # {"step_no", "t_ms" (estimated, sample clock like events), "near" (index in `events`), "why"}
    missing_steps: list = field(default_factory=list)
    lost_set_ends: list = field(default_factory=list)  # {"t_ms", "near"}: a set ended, its set_end line lost
    lines_lost: int = 0  # lines the pod sent that are not usable here (missing or corrupt)


@dataclass
class Session:
    path: str
    meta: dict
    pods: dict
    notes: list
    damaged_lines: int = 0
    host_ms_last: int = 0
    damage: list = field(default_factory=list)  # what was damaged in the file, one line each (the first few)


def looks_like_session(first_line: bytes) -> bool:
    """The first line of a session file, even with a byte or two damaged."""
    want = MAGIC.encode()
    line = first_line.rstrip(b"\r\n")
    return len(line) == len(want) and sum(a != b for a, b in zip(line, want)) <= 2


class _SetLedger:
    """One set of one pod as the pod counted it, so that steps it counted and we never got are known.

    Fed in stream order within one boot: step events (their step_no), the pod's steps= heartbeats
    while in the set and its set_end steps=.
    """

    def __init__(self, t_ms, began_mid_set, lost_at_open):
        self.start_t = t_ms
        self.began_mid_set = began_mid_set  # no set_start seen, no line lost before: the recording began mid-set
        self.lost_at_open = lost_at_open  # the pod's lines_lost when this set was opened
        self.seen = {}  # step_no -> (t_ms, index in the pod's events)
        self.counted = 0  # the most steps the pod said it had counted
        self.last_t = t_ms
        self.last_near = None

    def step(self, ev, near):
        n = ev.get("step_no")
        if isinstance(n, int) and n > 0:
            self.seen[n] = (ev["t_ms"], near)
            self.counted = max(self.counted, n)
        self.last_t, self.last_near = ev["t_ms"], near

    def heartbeat(self, steps):
        """The pod's steps= while in the set: it counts a step at its landing and sends it at the next
        lift-off, so every step before the latest has been sent."""
        self.counted = max(self.counted, steps - 1)

    def close(self, pod, end_steps=None, end_t=None):
        """Record the steps the pod counted that are not here; `end_steps` from set_end if it came."""
        expected = max(self.counted, end_steps or 0)
        known = sorted(self.seen)
        # this foot's time per step, from the steps seen (about a second without two of them)
        per = sorted((self.seen[b][0] - self.seen[a][0]) / (b - a) for a, b in zip(known, known[1:]))
        step_ms = per[len(per) // 2] if per else 1000
        for k in range(1, expected + 1):
            if k in self.seen:
                continue
            before = [j for j in known if j < k]
            after = [j for j in known if j > k]
            if before and after:
                (t0, near), (t1, _n) = self.seen[before[-1]], self.seen[after[0]]
                t = t0 + (t1 - t0) * (k - before[-1]) / (after[0] - before[-1])
            elif before:
                t0, near = self.seen[before[-1]]
                t = t0 + (k - before[-1]) * step_ms
                if end_t is not None and end_t > t0:  # never after the set's end
                    t = min(t, end_t)
            elif after:
                t1, near = self.seen[after[0]]
                t = t1 - (after[0] - k) * step_ms
            else:
                near, t = self.last_near, (end_t if end_t is not None else self.last_t)
            why = "before the recording began" if (not before and self.began_mid_set) else "lines lost or damaged"
            pod.missing_steps.append({"step_no": k, "t_ms": int(round(t)), "near": near, "why": why})


def read_session(path) -> Session:
    """Parse a session file; pods' lines go through the protocol checker again."""
    path = str(path)
    try:
        fh = open(path, encoding="utf-8", errors="backslashreplace", newline="\n")
    except FileNotFoundError:
        raise SessionError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SessionError(f"{path}: is a directory, not a session file") from None
    meta, pods, notes = {}, {}, []
    damaged = 0
    last_ms = 0
    # per pod: offset that maps each boot's sample clock onto the first boot's
    base = {}
    first_base = {}
    floor = {}  # per pod: the latest time mapped so far; a later boot never maps before it
    pending = {}  # per pod: a new boot's base is provisional (floor + 1) until host time can place it
    last_ts = {}  # per pod: the latest heartbeat sample time (a stopped or finished pod repeats it)
    ledger = {}  # per pod: the set under way, as the pod counts it (see _SetLedger)
    boot = {}  # per pod: [lines lost in this boot, sets opened in this boot]
    damage = []

    def damaged_line(lineno, text, why):
        if len(damage) < 20:
            damage.append(f"line {lineno}: {why}: {text[:60]!r}")

    def open_set(pod, t_ms, began):
        b = boot.setdefault(pod.index, [0, 0])
        led = ledger[pod.index] = _SetLedger(t_ms, began and b[0] == 0 and b[1] == 0, pod.lines_lost)
        b[1] += 1
        return led

    with fh:
        first = fh.readline().rstrip("\n")
        lineno = 1
        if first != MAGIC:
            with open(path, "rb") as raw:
                first_raw = raw.readline(len(MAGIC) + 2)
            if not looks_like_session(first_raw):
                raise SessionError(f"{path}:1: not a calfwalk session file (expected {MAGIC!r})")
            damage.append(f"line 1: the session header is damaged ({first[:40]!r}); the rest was read")
        for lineno, text in enumerate(fh, 2):
            text = text.rstrip("\n")
            if text.startswith("#"):
                k, _, v = text[1:].partition("=")
                if not k.isprintable() or not v.isprintable() or "\\x" in k:
                    damaged_line(lineno, text, "damaged header line, skipped")
                    continue
                meta[k] = v
                if k.startswith("pod") and k[3:].isdigit():
                    pods.setdefault(int(k[3:]), PodStream(int(k[3:]))).port = v
                continue
            rec = _checked_record(text, meta.get("records") == RECORD_CRC)
            if rec is None:
                damaged += 1  # a damaged byte, or the half line a killed host left
                damaged_line(lineno, text, "record checksum wrong, skipped")
                continue
            parts = rec.split("\t", 3)
            if len(parts) != 4 or parts[0] not in KINDS or not parts[1].isdigit() or not parts[2].isdigit():
                damaged += 1  # e.g. the half line a killed host left
                damaged_line(lineno, text, "not a session record, skipped")
                continue
            kind, ms, idx, body = parts[0], int(parts[1]), int(parts[2]), parts[3]
            last_ms = max(last_ms, ms)
            pod = pods.setdefault(idx, PodStream(idx))
            if kind == "note":
                notes.append((ms, idx, body))
                continue
            if kind != "rx":
                continue
            st = pod.checker.stats
            corrupt0, gaps0 = st.corrupt, st.gaps
            line = pod.checker.feed(body)
            lost = (st.corrupt - corrupt0) + (st.gaps - gaps0)
            if lost:
                pod.lines_lost += lost
                boot.setdefault(idx, [0, 0])[0] += lost
                if st.corrupt > corrupt0 and body.lstrip().startswith("$CW1,"):
                    damaged_line(lineno, body, "checksum or shape wrong, not used")
            if line is None:
                continue
            if pod.checker.rebooted:
                pod.segments += 1
                # the new boot's clock starts again: after all the last boot sent, until the first
                # heartbeat places it by host time (a replay faster than real time would otherwise
                # map it back over the last boot's set)
                base[idx] = floor.get(idx, 0) + 1
                pending[idx] = floor.get(idx, 0)
                last_ts.pop(idx, None)
                if ledger.get(idx) is not None:  # the set under way was cut by the reboot: it had no end
                    led = ledger.pop(idx)
                    pod.lost_set_ends.append({"t_ms": led.last_t, "near": led.last_near})
                    led.close(pod)
                boot[idx] = [0, 0]
            pod.sync.append((pod.segments - 1, line.t_ms, ms))
            kv = line.kv()
            if line.kind in ("H", "S"):
                pod.foot = kv.get("foot", pod.foot)
                pod.sensor = kv.get("sensor", pod.sensor)
                pod.board = kv.get("board", pod.board)
                if kv.get("rate_hz", "").isdigit():
                    pod.rate_hz = int(kv["rate_hz"])
            if line.kind == "S" and "ts" in kv and kv.get("samples", "0") != "0":
                try:
                    t0, ts = int(kv["t0"]), int(kv["ts"])
                except ValueError:
                    t0 = ts = None
                if ts is not None:
                    if ts != last_ts.get(idx):  # a frozen clock says nothing about its rate
                        pod.sample_sync.append((pod.segments - 1, ts, line.t_ms, t0))
                        last_ts[idx] = ts
                    if idx not in base or idx in pending:
                        # a new boot: put its sample clock on the first boot's, via host time
                        b = ms - ts
                        base[idx] = b - first_base.setdefault(idx, b)
                        if idx in pending:
                            base[idx] = max(base[idx], pending.pop(idx) - (t0 or 0) + 1)
                    if pod.t0 is None:
                        pod.t0 = t0
                    pod.ts = ts + base[idx]
                    floor[idx] = max(floor.get(idx, pod.ts), pod.ts)
                    _heartbeat_counts(pod, kv, ts + base[idx], ledger, open_set)
            elif line.kind == "E":
                ev = event_from_line(line, pod.foot or "left")
                if ev is not None:
                    pod.event_clock.append((pod.segments - 1, ev["t_ms"], line.t_ms))
                    ev["t_ms"] += base.get(idx, 0)
                    pending.pop(idx, None)  # mapped with the provisional base: it stays for this boot
                    floor[idx] = max(floor.get(idx, ev["t_ms"]), ev["t_ms"])
                    pod.events.append(ev)
                    _event_counts(pod, ev, ledger, open_set)
            elif line.kind == "C":
                cue = cue_from_line(line, pod.foot or "left")
                if cue is not None:
                    for k in ("t_ms", "onset_ms"):
                        if k in cue:
                            cue[k] += base.get(idx, 0)
                    pod.cues.append(cue)
            elif line.kind == "R":
                try:
                    pod.raw_rows.append([int(v) for v in line.fields])
                except ValueError:
                    pod.checker.stats.corrupt += 1
    for idx, led in ledger.items():
        if led is not None:
            led.close(pods[idx])  # still under way when the recording stopped
    if not pods:
        raise SessionError(f"{path}: no pod in this session")
    if damaged > len([d for d in damage if "not a session record" in d]) and len(damage) >= 20:
        damage.append("... (more)")
    return Session(path, meta, pods, notes, damaged, last_ms, damage)


def _event_counts(pod, ev, ledger, open_set):
    """Follow the set under way through an event (see _SetLedger)."""
    led = ledger.get(pod.index)
    near = len(pod.events) - 1
    if ev["type"] == "set_start":
        if led is not None:
            if pod.lines_lost > led.lost_at_open:  # a new set with no end to the last: its set_end was lost
                pod.lost_set_ends.append({"t_ms": led.last_t, "near": led.last_near})
            led.close(pod)
        open_set(pod, ev["t_ms"], False)
    elif ev["type"] in ("step", "heel_contact"):
        if led is None:
            led = open_set(pod, ev["t_ms"], True)
        if ev["type"] == "step":
            led.step(ev, near)
    elif ev["type"] == "set_end":
        if led is None:
            led = open_set(pod, ev["t_ms"], True)
        led.close(pod, end_steps=ev.get("steps"), end_t=ev["t_ms"])
        ledger[pod.index] = None


def _heartbeat_counts(pod, kv, ts, ledger, open_set):
    """Follow the set under way through a heartbeat: the pod's own state and steps= count."""
    try:
        steps = int(kv.get("steps", ""))
    except ValueError:
        return
    led = ledger.get(pod.index)
    if kv.get("state") == "set":
        if led is None and steps > 0:
            led = open_set(pod, ts, True)
        if led is not None:
            led.heartbeat(steps)
    elif led is not None and pod.lines_lost > led.lost_at_open:
        # the pod is out of its set, and the set_end line never came: it was lost
        pod.lost_set_ends.append({"t_ms": ts, "near": led.last_near})
        led.close(pod, end_t=ts)
        ledger[pod.index] = None


def write_raw_files(session: Session, prefix) -> list:
    """Raw v1 files (PREFIX_<foot>.csv) rebuilt from the R lines of pods recorded with `raw on`."""
    from calfwalk.files.rawfile import columns_for, write_raw

    paths = []
    for pod in session.pods.values():
        if not pod.raw_rows:
            continue
        if pod.foot is None or pod.sensor is None or pod.rate_hz is None:
            raise SessionError(f"{session.path}: pod{pod.index} sent raw samples but never said its foot, sensor and rate")
        width = len(columns_for(pod.sensor))
        rows, last = [], None
        for row in pod.raw_rows:
            # keep one clean timeline: a rebooted pod's clock restarts, a bad row has the wrong width
            if len(row) == width and (last is None or row[0] > last):
                rows.append(row)
                last = row[0]
        path = f"{prefix}_{pod.foot}.csv"
        write_raw(path, pod.foot, pod.sensor, pod.rate_hz, rows, {"board": pod.board or "unknown", "source": "session"})
        paths.append(path)
    if not paths:
        raise SessionError(f"{session.path}: no raw samples in this session (record with --raw)")
    return paths


def write_session_lines(path, lines) -> None:
    """A session file made of `lines` (a pulled or paired set), written whole or not at all: into a
    temporary file beside it, synced, then renamed over the path."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("\n".join(lines) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
