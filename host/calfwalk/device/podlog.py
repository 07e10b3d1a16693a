"""The pod's log, host side: read its records, date them, pull its sets into the history.

The pod keeps every event it emits in framed records on its flash (firmware/logbook.py).
`calfwalk pull` asks it over the serial protocol for the sets it holds (`log`), copies
each set's records (`pull N`: P lines carrying each record's CRC from flash, checked
here), turns the set into a session file (one per set, in the `pulled` folder beside the
history) and stores it in the history, and only then tells the pod the set is safe
(`pulled N`). A pull cut off anywhere loses nothing: a set is marked only once it is
committed, and storing the same set again adds nothing (its key is a digest of its records).
"""

from __future__ import annotations

import binascii
import datetime as _dt
import hashlib
import os
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path

from calfwalk import firmware
from calfwalk.errors import CalfwalkError
from calfwalk.files.protocol import encode

_lb = firmware.load("logbook")
MAGIC = _lb.MAGIC
HEAD = _lb.HEAD
TAIL = _lb.TAIL
# a pod's crystal (rp2, esp32) is good to about 50 ppm; twice that is what the dates allow for
DRIFT_PPM = 100
# the PC's clock (Unix s) that pulls date sets by; tests put in their own
pc_clock = time.time
# record types turned back into protocol lines for a session (T, the clock syncs, are read separately)
LINE_TYPES = ("H", "E", "C", "D")


@dataclass
class Record:
    seq: int
    boot: int
    up: int  # ms since that boot
    kind: str  # the protocol line type: H, E, C, D, T
    payload: str
    crc: int

    def crc_ok(self) -> bool:
        return record_crc(self.kind, self.boot, self.seq, self.up, self.payload) == self.crc


def record_crc(kind: str, boot: int, seq: int, up: int, payload: str) -> int:
    """The CRC-32 a record carries: over its header after the magic, and its payload."""
    p = payload.encode("ascii", "backslashreplace")
    head = struct.pack("<BBHII", len(p), ord(kind), boot, seq, up)
    return binascii.crc32(head + p) & 0xFFFFFFFF


def parse_file(data: bytes) -> tuple:
    """(records, torn bytes): the records of one log file up to the first torn or damaged one."""
    out, i = [], 0
    while i + HEAD + TAIL <= len(data) and data[i] == MAGIC:
        n = HEAD + data[i + 1] + TAIL
        if i + n > len(data):
            break
        _m, k, typ, boot, seq, up = struct.unpack_from("<BBBHII", data, i)
        (crc,) = struct.unpack_from("<I", data, i + n - TAIL)
        if binascii.crc32(data[i + 1:i + n - TAIL]) & 0xFFFFFFFF != crc:
            break
        out.append(Record(seq, boot, up, chr(typ), data[i + HEAD:i + HEAD + k].decode("ascii", "backslashreplace"),
                          crc))
        i += n
    return out, len(data) - i


def read_log_dir(path) -> dict:
    """{file name: (records, torn bytes)} of a pod's log folder (a copy of its flash, or a podsim pod's)."""
    out = {}
    for name in sorted(os.listdir(path)):
        if len(name) == 10 and name[:6].isdigit() and name[6:] in (_lb.SET, _lb.EVT):
            with open(os.path.join(path, name), "rb") as fh:
                out[name] = parse_file(fh.read())
    return out


# ------------------------------------------------------------------ what the pod holds

@dataclass
class PodSet:
    id: int
    boot: int
    up: int  # uptime at set_start (-1: the set_start was not logged)
    end: int  # uptime of its last record
    records: int
    bytes: int
    steps: int
    contacts: int
    state: str  # done | cut (the pod rebooted or ran out of room mid-set) | open (under way)
    pulled: bool


@dataclass
class Listing:
    sets: list
    boots: dict  # boot -> {"last": ms, "utc_ms": sync or -1, "at": uptime of the sync}
    totals: dict  # sets, bytes, free, boot, full, writes, dropped


def _ints(kv, *keys):
    return [int(kv[k]) for k in keys]


def parse_listing(lines) -> Listing:
    """The L lines and the OK of a `log` reply."""
    sets, boots, totals = [], {}, {}
    for line in lines:
        kv = line.kv()
        if line.kind == "L" and line.fields[:1] == ["set"]:
            i, boot, up, end, rec, size, steps, contacts = _ints(kv, "id", "boot", "up", "end", "records", "bytes",
                                                                  "steps", "contacts")
            sets.append(PodSet(i, boot, up, end, rec, size, steps, contacts, kv["state"], kv["pulled"] == "1"))
        elif line.kind == "L" and line.fields[:1] == ["boot"]:
            boots[int(kv["boot"])] = {"last": int(kv["last"]), "utc_ms": int(kv["utc"]), "at": int(kv["at"])}
        elif line.kind == "OK":
            totals = {k: int(v) for k, v in kv.items()}
    return Listing(sets, boots, totals)


# ------------------------------------------------------------------ dates from uptime and boots

@dataclass
class BootTime:
    """When a boot began, on the PC's clock (Unix s): `start` exactly (± `error_s`), or bounds."""

    start: float | None = None  # known start
    error_s: float = 0.0
    latest: float | None = None  # the boot began no later than this
    earliest: float | None = None  # ... and no earlier than this (None: unknown)
    how: str = ""


@dataclass
class ClockMap:
    """Pod (boot, uptime) -> PC time, from the pod's uptime now and the clock syncs in its log."""

    boots: dict = field(default_factory=dict)  # boot -> BootTime

    @classmethod
    def build(cls, now_boot: int, now_up: int, pc_s: float, error_s: float, listing: Listing) -> "ClockMap":
        known = {now_boot: BootTime(start=pc_s - now_up / 1000.0, error_s=error_s, how="this boot")}
        for b, info in listing.boots.items():
            if b != now_boot and info["utc_ms"] >= 0:
                known[b] = BootTime(start=(info["utc_ms"] - info["at"]) / 1000.0, error_s=1.0,
                                    how=f"synced by a PC at {iso(info['utc_ms'] / 1000.0)}")
        ran = {b: info["last"] / 1000.0 for b, info in listing.boots.items()}  # each boot ran at least this
        boots = dict(known)
        lowest = min([*listing.boots, now_boot])
        # a boot began no later than the next one began, less its own running time (it was then off for
        # an unknown time); going down from the current boot, whose start is known
        latest = known[now_boot].start
        for b in range(now_boot - 1, lowest - 1, -1):
            latest = known[b].start if b in known else latest - ran.get(b, 0.0)
            if b not in known:
                boots[b] = BootTime(latest=latest)
        # ... and no earlier than the last one it knows of ended
        earliest = None
        for b in range(lowest, now_boot + 1):
            if b in known:
                earliest = known[b].start
            elif earliest is not None:
                boots[b].earliest = earliest
            if earliest is not None:
                earliest += ran.get(b, 0.0)
        return cls(boots)

    def date(self, boot: int, up: int) -> tuple:
        """(Unix s, certainty dict) of a record's (boot, uptime)."""
        bt = self.boots.get(boot)
        if bt is None or (bt.start is None and bt.latest is None):
            return None, {"kind": "unknown", "text": f"no date: boot {boot} is older than anything the pod can place"}
        if bt.start is not None:
            err = bt.error_s + abs(up / 1000.0) * DRIFT_PPM * 1e-6
            t = bt.start + up / 1000.0
            return t, {"kind": "exact", "error_s": round(err, 2),
                       "text": f"±{_span(err)} ({bt.how}; pod uptime {_span(up / 1000.0)})"}
        t = bt.latest + up / 1000.0
        if bt.earliest is not None:
            spread = max(0.0, bt.latest - bt.earliest)
            text = (f"no later than this, up to {_span(spread)} earlier: the pod was off for an unknown time "
                    f"after boot {boot}")
            return t, {"kind": "bounded", "earliest_utc": iso(bt.earliest + up / 1000.0), "spread_s": round(spread, 1),
                       "text": text}
        return t, {"kind": "latest", "text": f"no later than this, possibly much earlier: the pod rebooted since "
                                              f"boot {boot} and no PC set its clock before"}


def _span(s: float) -> str:
    if s < 10:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{s / 60:.0f} min" if s >= 90 else f"{s:.0f} s"
    if s < 2 * 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} days"


def iso(unix_s: float) -> str:
    return _dt.datetime.fromtimestamp(unix_s, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------ a pulled set as a session file

def set_lines(records) -> list:
    """The set's records as protocol lines again: (host ms since the first record, line). Line
    numbers follow the records' sequence, so a record the pod could not log shows as missing."""
    out, skipped = [], 0
    first = records[0].up if records else 0
    for r in records:
        if r.kind not in LINE_TYPES:
            skipped += 1
            continue
        out.append((r.up - first, encode(r.seq - skipped, r.up, r.kind, r.payload)))
    return out


def set_digest(records) -> str:
    """The set's key in the history: its records, whoever pulls them and whenever."""
    h = hashlib.sha256(b"calfwalk pulled set\n")
    for r in records:
        h.update(f"{r.seq},{r.boot},{r.up},{r.kind},{r.payload}\n".encode("ascii", "backslashreplace"))
    return h.hexdigest()


def write_set_session(path: Path, records, port: str, started_utc: str, certainty: dict, pod_set: PodSet) -> None:
    """The set as a session file (`calfwalk summary`/`report` read it), written aside then moved into place."""
    from calfwalk.files.session import MAGIC as SESSION_MAGIC, RECORD_CRC, record_line, write_session_lines

    lines = [SESSION_MAGIC, f"#started_utc={started_utc}", f"#pod0={port}", f"#records={RECORD_CRC}",
             f"#pulled_set={pod_set.id}", f"#pulled_boot={pod_set.boot}",
             f"#clock={certainty['kind']}: {certainty['text']}"]
    lines += [record_line("rx", ms, 0, text) for ms, text in set_lines(records)]
    write_session_lines(path, lines)


def pulled_dir(db_path) -> Path:
    """Where pulled sets are kept as session files: `pulled/` beside the history."""
    return Path(db_path).parent / "pulled"


# ------------------------------------------------------------------ talking to the pod

class PullError(CalfwalkError):
    """The pod refused, or what it sent does not check out; the message says which set."""


class PodLog:
    """The `log`, `pull`, `pulled` and `clock` commands of a connected pod (a PodClient)."""

    def __init__(self, client, stall_s: float = 10.0):
        self.pod = client
        self.stall_s = stall_s

    def _reply(self, text, progress=None, timeout=None):
        """Send a command; collect the good lines until its OK (the lines before it, and the OK)."""
        from calfwalk.link.podctl import PodError

        pod = self.pod
        mark = len(pod.lines)
        pod.t.write((text + "\n").encode())
        word = text.split()[0]
        seen = mark
        last_new = time.monotonic()
        while True:
            for line in pod.lines[seen:]:
                if line.kind == "ERR" and line.fields[:1] in ([word], ["line"]):
                    raise PullError(f"the pod refused {text!r}: {','.join(line.fields[1:])}")
                if line.kind == "OK" and line.fields[:1] == [word]:
                    return pod.lines[mark:pod.lines.index(line, seen) + 1]
                if progress is not None and line.kind == "P":
                    progress()
            if len(pod.lines) > seen:
                last_new = time.monotonic()
            seen = len(pod.lines)
            if time.monotonic() - last_new > (timeout or self.stall_s):
                raise PodError(f"the pod stopped answering {text!r} (nothing for {timeout or self.stall_s:g} s)")
            pod.pump(0.02)

    def sync_clock(self) -> tuple:
        """Tell the pod the PC's time (it logs it); (boot, uptime ms, PC time in s, its error in s)."""
        t0 = pc_clock()
        m0 = time.monotonic()
        lines = self._reply(f"clock {int(t0 * 1000)}")
        rtt = time.monotonic() - m0
        kv = lines[-1].kv()
        # the pod read its uptime somewhere inside the round trip
        return int(kv["boot"]), int(kv["up"]), t0 + rtt / 2, rtt / 2 + 0.001

    def listing(self) -> Listing:
        return parse_listing(self._reply("log"))

    def pull(self, set_id: int, progress=None) -> list:
        """The records of one set, each checked against its CRC from flash; PullError if any fails."""
        lines = self._reply(f"pull {set_id}", progress)
        records = []
        for line in lines:
            if line.kind != "P":
                continue
            f = line.fields
            if len(f) < 7 or f[0] != str(set_id):
                raise PullError(f"set {set_id}: a record line of another set or malformed: {','.join(f)[:60]}")
            try:
                rec = Record(int(f[1]), int(f[2]), int(f[3]), f[4], ",".join(f[6:]), int(f[5], 16))
            except ValueError:
                raise PullError(f"set {set_id}: a malformed record line: {','.join(f)[:60]}") from None
            if not rec.crc_ok():
                raise PullError(f"set {set_id}: record {rec.seq} fails its CRC from flash: not stored")
            records.append(rec)
        kv = lines[-1].kv()
        if int(kv.get("records", -1)) != len(records):
            raise PullError(f"set {set_id}: {len(records)} of {kv.get('records')} records arrived: not stored")
        for a, b in zip(records, records[1:]):
            if b.seq <= a.seq:
                raise PullError(f"set {set_id}: records out of order ({a.seq}, {b.seq}): not stored")
        return records

    def mark(self, ids) -> int:
        kv = self._reply("pulled " + " ".join(str(i) for i in ids))[-1].kv()
        return int(kv.get("marked", 0))


# ------------------------------------------------------------------ `calfwalk pull`

@dataclass
class PullResult:
    stored: list = field(default_factory=list)  # (PodSet, store message)
    marked: int = 0
    under_way: list = field(default_factory=list)  # ids of sets the pod is still recording
    failed: list = field(default_factory=list)  # (set id, why)
    pairing: list = field(default_factory=list)  # pairing.Outcome of each set this pull brought (see pair_pulled)
    pairing_error: str = ""
    listing: Listing | None = None  # what the pod held when the pull began
    clock: ClockMap | None = None


def _existing(folder: Path, digest: str):
    found = sorted(folder.glob(f"*-{digest[:16]}.cwlog")) if folder.is_dir() else []
    return found[0] if found else None


def store_set(records, pod_set: PodSet, clock: ClockMap, port: str, db_path, folder: Path) -> tuple:
    """One pulled set: its session file (kept in `folder`), its summary in the history.

    Returns (the store message, its digest, whether the history holds it: new or already)."""
    from calfwalk.output.history import store_message, store_summary
    from calfwalk.device.pairing import set_timing
    from calfwalk.files.session import read_session
    from calfwalk.analysis.pipeline import summarise_session

    digest = set_digest(records)
    start = next((r for r in records if r.kind == "E" and r.payload.startswith("set_start,")), records[0])
    when, certainty = clock.date(start.boot, start.up)
    started = iso(when) if when is not None else iso(pc_clock())
    path = _existing(folder, digest)
    if path is None:
        foot = dict(kv.split("=", 1) for kv in records[0].payload.split(",") if "=" in kv).get("foot", "pod")
        stamp = started.replace("-", "").replace(":", "").rstrip("Z")
        path = folder / f"{foot}-{stamp}-{digest[:16]}.cwlog"
        write_set_session(path, records, port, started, certainty, pod_set)
    summary = summarise_session(read_session(path))
    # when the set was walked on the PC's clock, and how sure: what pairing.py pairs a left and a right set by
    summary["pod_clock"] = dict(certainty, boot=start.boot, uptime_ms=start.up, set_id=pod_set.id,
                                timing=set_timing(records, clock))
    for one in summary.get("sets") or []:  # the history keeps each set's own summary
        one["pod_clock"] = summary["pod_clock"]
    outcome = store_summary(db_path, summary, [str(path)], "pulled", started, digest=digest)
    message = store_message(outcome, f"pod set {pod_set.id} ({certainty['kind']} date: {certainty['text']})")
    return message, digest, bool(outcome["results"])


def pull_sets(client, port: str, db_path, keep: bool = False, folder: Path | None = None,
              progress=None, pair: bool = True) -> PullResult:
    """Copy every set the pod holds and has not had pulled into the history; mark each after it is committed.
    Then pair each with a set of the other foot pulled from another pod (pairing.py), where one fits.

    `progress(total_records)` gives a callable to advance per record (or None)."""
    podlog = PodLog(client)
    folder = Path(folder) if folder else pulled_dir(db_path)
    boot, up, pc_s, err = podlog.sync_clock()
    listing = podlog.listing()
    clock = ClockMap.build(boot, up, pc_s, err, listing)
    result = PullResult(listing=listing, clock=clock)
    todo = [s for s in listing.sets if not s.pulled and s.state != "open"]
    result.under_way = [s.id for s in listing.sets if s.state == "open"]
    keys = []  # the history's keys of the sets this pull brought (new or already stored)
    advance = progress(sum(s.records for s in todo)) if progress and todo else None
    for s in todo:
        try:
            records = podlog.pull(s.id, advance)
        except PullError as exc:
            result.failed.append((s.id, str(exc)))
            continue
        if not records:
            result.failed.append((s.id, f"set {s.id}: no readable record"))
            continue
        message, digest, held = store_set(records, s, clock, port, db_path, folder)
        result.stored.append((s, message))
        if held:
            keys.append(digest)
        if not keep:  # only now that the history holds it
            result.marked += podlog.mark([s.id])
    if keys and pair:
        from calfwalk.output.history import HistoryError
        from calfwalk.device.pairing import pair_pulled

        # every set is stored and marked by now: pairing only ever turns two of them into one
        try:
            result.pairing = pair_pulled(db_path, keys, folder)
        except HistoryError as exc:
            result.pairing_error = f"the sets are stored, but could not be paired: {exc}"
    return result


def log_listing(client) -> tuple:
    """(Listing, ClockMap) of a connected pod, without changing anything in its log."""
    podlog = PodLog(client)
    hello, status = client.status()
    pc_s = pc_clock()
    line = next(l for l in reversed(client.lines) if l.kind == "S")
    listing = podlog.listing()
    boot = int(hello.get("boot", listing.totals.get("boot", 0)))
    return listing, ClockMap.build(boot, line.t_ms, pc_s, 0.5, listing)


def print_listing(listing: Listing, clock: ClockMap, port: str, console=None) -> None:
    """`calfwalk pod log`: a row per set, then the log's totals."""
    from rich.table import Table

    from calfwalk.output.history import local_time
    from calfwalk.output.present import make_console

    console = console or make_console()
    table = Table(title=f"Sets in the log of the pod on {port}")
    for name, just in (("set", "right"), ("boot", "right"), ("date", "left"), ("steps", "right"),
                       ("heel contacts", "right"), ("records", "right"), ("bytes", "right"), ("state", "left"),
                       ("pulled", "left")):
        table.add_column(name, justify=just)
    for s in listing.sets:
        when, certainty = clock.date(s.boot, max(s.up, 0))
        date = "-" if when is None else local_time(iso(when))
        mark = {"exact": "", "bounded": " (≤)", "latest": " (≤?)", "unknown": ""}[certainty["kind"]]
        table.add_row(str(s.id), str(s.boot), date + mark, str(s.steps), str(s.contacts), str(s.records),
                      str(s.bytes), s.state, "yes" if s.pulled else "no")
    console.print(table)
    t = listing.totals
    waiting = sum(1 for s in listing.sets if not s.pulled and s.state != "open")
    console.print(f"{len(listing.sets)} set(s), {waiting} not pulled yet; log {t.get('bytes', 0) / 1024:.1f} KB, "
                  f"{max(0, t.get('free', 0)) / 1024:.0f} KB free{' — FULL: pull to make room' if t.get('full') else ''}; "
                  f"pod boot {t.get('boot', '?')}, {t.get('writes', 0)} flash writes this boot")
    console.print("[dim]dates: (≤) no later than shown, the pod rebooted since; (≤?) and possibly much earlier[/dim]")
