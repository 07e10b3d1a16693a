"""Session files: every line a pod sent, with host receive time, written as it arrives.

Format (text, tab separated): `#key=value` header lines, then one record a line:
`rx|tx|note <TAB> host_ms <TAB> pod_index <TAB> text`. A killed host leaves at
most half a last line, which reading skips and reports.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from .protocol import StreamChecker, cue_from_line, event_from_line

MAGIC = "#calfwalk_session=1"
KINDS = ("rx", "tx", "note")


class SessionError(ValueError):
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

    def host_ms(self) -> int:
        return int((time.monotonic() - self._t0) * 1000)

    def _write(self, text):
        self._fh.write(text)
        self._fh.flush()

    def record(self, kind: str, pod: int, text: str, host_ms: int | None = None) -> None:
        ms = self.host_ms() if host_ms is None else host_ms
        self._write(f"{kind}\t{ms}\t{pod}\t{text}\n")

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


@dataclass
class Session:
    path: str
    meta: dict
    pods: dict
    notes: list
    damaged_lines: int = 0
    host_ms_last: int = 0


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
    last_ts = {}  # per pod: the latest heartbeat sample time (a stopped or finished pod repeats it)
    with fh:
        first = fh.readline().rstrip("\n")
        if first != MAGIC:
            raise SessionError(f"{path}:1: not a calfwalk session file (expected {MAGIC!r})")
        for lineno, text in enumerate(fh, 2):
            text = text.rstrip("\n")
            if text.startswith("#"):
                k, _, v = text[1:].partition("=")
                meta[k] = v
                if k.startswith("pod") and k[3:].isdigit():
                    pods.setdefault(int(k[3:]), PodStream(int(k[3:]))).port = v
                continue
            parts = text.split("\t", 3)
            if len(parts) != 4 or parts[0] not in KINDS or not parts[1].isdigit() or not parts[2].isdigit():
                damaged += 1  # e.g. the half line a killed host left
                continue
            kind, ms, idx, body = parts[0], int(parts[1]), int(parts[2]), parts[3]
            last_ms = max(last_ms, ms)
            pod = pods.setdefault(idx, PodStream(idx))
            if kind == "note":
                notes.append((ms, idx, body))
                continue
            if kind != "rx":
                continue
            line = pod.checker.feed(body)
            if line is None:
                continue
            if pod.checker.rebooted:
                pod.segments += 1
                base.pop(idx, None)
                last_ts.pop(idx, None)
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
                    if idx not in base:
                        # a new boot: put its sample clock on the first boot's, via host time
                        b = ms - ts
                        base[idx] = b - first_base.setdefault(idx, b)
                    if pod.t0 is None:
                        pod.t0 = t0
                    pod.ts = ts + base[idx]
            elif line.kind == "E":
                ev = event_from_line(line, pod.foot or "left")
                if ev is not None:
                    pod.event_clock.append((pod.segments - 1, ev["t_ms"], line.t_ms))
                    ev["t_ms"] += base.get(idx, 0)
                    pod.events.append(ev)
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
    if not pods:
        raise SessionError(f"{path}: no pod in this session")
    return Session(path, meta, pods, notes, damaged, last_ms)


def summarise_session(session: Session) -> dict:
    """The same summary `calfwalk analyze` gives, from what the pods reported, plus link health.

    The pods' events are first put on one timeline (align.py); "alignment" says how well.
    """
    from .align import align_session
    from .summary import summarise

    feet, sensors = [], {}
    durations = []
    for pod in session.pods.values():
        if pod.foot is None:
            continue
        feet.append(pod.foot)
        sensors[pod.foot] = pod.sensor or "imu"
        if pod.t0 is not None and pod.ts is not None:
            durations.append((pod.ts - pod.t0) / 1000.0)
    if not feet:
        raise SessionError(f"{session.path}: no pod identified itself (no H or S line received)")
    if len(set(feet)) != len(feet):
        raise SessionError(f"{session.path}: two pods report the same foot ({feet[0]}): set foot= in their board configs")
    feet.sort(key=("left", "right").index)
    duration = max(durations) if durations else session.host_ms_last / 1000.0
    events, alignment = align_session(session)
    out = summarise(events, feet, sensors, duration)
    out["alignment"] = alignment
    out["link"] = {
        pod.foot or f"pod{pod.index}": dict(pod.checker.stats.as_dict(), port=pod.port, boots=pod.segments)
        for pod in session.pods.values()
    }
    out["session_damaged_lines"] = session.damaged_lines
    # what the pods cued during the set (LED/buzzer): counts per kind
    out["pod_cues"] = {
        pod.foot: {kind: sum(1 for c in pod.cues if c["kind"] == kind) for kind in ("heel", "fade")}
        for pod in session.pods.values() if pod.foot is not None
    }
    return out


def write_raw_files(session: Session, prefix) -> list:
    """Raw v1 files (PREFIX_<foot>.csv) rebuilt from the R lines of pods recorded with `raw on`."""
    from .rawfile import columns_for, write_raw

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
