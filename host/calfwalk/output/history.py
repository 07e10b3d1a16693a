"""History of sets in a SQLite file: store, list, trends over time, export.

One row in `sets` per set (per entry of summary["sets"], or the whole summary),
one row in `steps` per step. A set is keyed by the sha256 of its source file(s)
and its number in that source, so importing the same recording again adds
nothing. A left and a right set pulled from two pods separately and paired
(pairing.py) become one two-foot row; `set_parts` keeps each part's own row and
key, so pulling a part again adds nothing either (schema 2; a schema 1 file gets
the table the first time it is opened for writing). The file is checked before anything is written: a file that is not
an SQLite database, another application's database, a damaged or truncated one
or one from a newer calfwalk is refused with one line naming it, and left as it was.
"""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import json
import math
import os
import sqlite3
import sys
import tempfile
from pathlib import Path

from calfwalk.errors import CalfwalkError
from calfwalk.output.present import fmt

APPLICATION_ID = 0x43574C4B  # "CWLK" in the SQLite header: marks a calfwalk history file
SCHEMA_VERSION = 2  # PRAGMA user_version (2: set_parts)
SQLITE_MAGIC = b"SQLite format 3\x00"
DB_NAME = "history.sqlite3"

SET_COLUMNS = (
    "id", "source_digest", "set_no", "source_kind", "source_path", "recorded_utc", "stored_utc",
    "feet", "sensors", "steps", "steps_left", "steps_right", "heel_contacts", "heel_contacts_per100",
    "heel_mm_mean", "heel_mm_min", "heel_mm_max", "cadence_spm", "step_time_cv", "duration_s",
    "set_duration_s", "start_ms", "end_ms", "asym_step_count_pct", "asym_step_time_pct",
    "asym_heel_height_pct", "asym_pct", "asymmetry", "rules", "summary",
)
STEP_COLUMNS = (
    "set_id", "n", "foot", "step_no", "t_ms", "stance_ms", "heel_mm", "pause_ms", "peaks", "med_pct",
    "heel_contacts", "impact_mg",
)
JSON_SET_COLUMNS = ("sensors", "asymmetry", "rules", "summary")

SCHEMA = """
CREATE TABLE sets (
    id INTEGER PRIMARY KEY,
    source_digest TEXT NOT NULL,        -- sha256 of the source file(s)
    set_no INTEGER NOT NULL,            -- the set's number within its source
    source_kind TEXT NOT NULL,          -- 'session' | 'raw' | 'pulled' (a set pulled from a pod's log)
    source_path TEXT NOT NULL,          -- absolute path(s), ';' between two raw files
    recorded_utc TEXT NOT NULL,         -- when the set was recorded (session start, else file time)
    stored_utc TEXT NOT NULL,
    feet TEXT NOT NULL,                 -- 'left', 'right' or 'left,right'
    sensors TEXT NOT NULL,              -- JSON {foot: sensor}
    steps INTEGER NOT NULL,
    steps_left INTEGER,
    steps_right INTEGER,
    heel_contacts INTEGER NOT NULL,
    heel_contacts_per100 REAL,
    heel_mm_mean REAL,
    heel_mm_min INTEGER,
    heel_mm_max INTEGER,
    cadence_spm REAL,
    step_time_cv REAL,
    duration_s REAL,
    set_duration_s REAL,
    start_ms INTEGER,
    end_ms INTEGER,
    asym_step_count_pct REAL,
    asym_step_time_pct REAL,
    asym_heel_height_pct REAL,
    asym_pct REAL,                      -- the largest left/right difference, %
    asymmetry TEXT,                     -- JSON: every left/right figure
    rules TEXT NOT NULL,                -- JSON {rule id: status}
    summary TEXT NOT NULL,              -- JSON: the set's full summary
    UNIQUE (source_digest, set_no)
);
CREATE TABLE steps (
    set_id INTEGER NOT NULL REFERENCES sets(id) ON DELETE CASCADE,
    n INTEGER NOT NULL,
    foot TEXT NOT NULL,
    step_no INTEGER,
    t_ms INTEGER NOT NULL,
    stance_ms INTEGER,
    heel_mm INTEGER,
    pause_ms INTEGER,
    peaks INTEGER,
    med_pct INTEGER,
    heel_contacts INTEGER NOT NULL,     -- heel contacts that began in this step's stance
    impact_mg INTEGER,                  -- the hardest of them
    PRIMARY KEY (set_id, n)
);
CREATE INDEX sets_by_time ON sets (recorded_utc, set_no);
"""
# schema 2: the one-foot sets a two-foot set was paired from (pulled separately from a left and a right pod)
PARTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS set_parts (
    part_digest TEXT PRIMARY KEY,       -- the part's own key (a pulled set: podlog.set_digest)
    set_id INTEGER NOT NULL REFERENCES sets(id) ON DELETE CASCADE,  -- the two-foot set it is part of
    foot TEXT NOT NULL,
    row TEXT NOT NULL                   -- JSON: the part's own set row, as it was before the pairing
);
"""

# (column, label, unit) of each trend, in the order they are shown
METRICS = (
    ("steps", "steps", ""),
    ("heel_contacts_per100", "heel contacts / 100 steps", ""),
    ("heel_mm_mean", "heel height", "mm"),
    ("asym_pct", "left/right asymmetry", "%"),
    ("cadence_spm", "cadence", "steps/min"),
)


class HistoryError(CalfwalkError, ValueError):
    """A history file that cannot be used; the message names it."""


class _Changed(Exception):
    """What a transaction was to change is no longer as it was read."""


# ------------------------------------------------------------------ where the file lives

def default_db_path(env=None, platform=None) -> Path:
    """The history file in the user's data directory for this OS."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    home = Path(env.get("HOME") or Path.home())
    if platform.startswith("win"):
        base = Path(env["APPDATA"]) if env.get("APPDATA") else home / "AppData" / "Roaming"
    elif platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        xdg = env.get("XDG_DATA_HOME", "")
        base = Path(xdg) if os.path.isabs(xdg) else home / ".local" / "share"
    return base / "calfwalk" / DB_NAME


def resolve_db_path(option=None, env=None) -> Path:
    """--db, else $CALFWALK_DB, else the user data directory."""
    env = os.environ if env is None else env
    if option:
        return Path(option).expanduser()
    if env.get("CALFWALK_DB"):
        return Path(env["CALFWALK_DB"]).expanduser()
    return default_db_path(env)


# ------------------------------------------------------------------ opening and checking

def _untouched(path, problem):
    return HistoryError(f"{path}: {problem}; the file was left untouched (choose another with --db or CALFWALK_DB)")


def _read_header(path: Path):
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(100)
    except IsADirectoryError:
        raise HistoryError(f"{path}: is a directory, not a history file") from None
    except OSError as exc:
        raise HistoryError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return size, head


def _foreign_tables(path: Path) -> list:
    """Table names of another SQLite file, read without locks, journals or side files; [] if unreadable."""
    try:
        conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro&immutable=1", uri=True)
        try:
            return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        finally:
            conn.close()
    except sqlite3.Error:
        return []


def _one_line(text, limit=160):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check_file(path: Path):
    """Refuse, before SQLite opens it for real, a file that is not a whole calfwalk history this version reads."""
    size, head = _read_header(path)
    if size == 0:
        raise _untouched(path, "empty file, not a calfwalk history database")
    if not head.startswith(SQLITE_MAGIC):
        raise _untouched(path, "not a calfwalk history database (not an SQLite file: another kind of file, or corrupted)")
    if len(head) < 100:
        raise _untouched(path, f"damaged history database (truncated to {size} bytes)")
    app_id = int.from_bytes(head[68:72], "big")
    if app_id != APPLICATION_ID:
        tables = _foreign_tables(path)
        if {"sets", "steps"} <= set(tables):
            raise _untouched(path, "damaged history database (its header no longer marks it as a calfwalk history)")
        what = f"tables: {', '.join(tables)}" if tables else "no tables"
        raise _untouched(path, f"an SQLite database of another application ({what}), not a calfwalk history")
    version = int.from_bytes(head[60:64], "big")
    if version > SCHEMA_VERSION:
        raise _untouched(path, f"written by a newer calfwalk (history schema {version}; this calfwalk reads "
                               f"up to {SCHEMA_VERSION}): upgrade calfwalk")
    journal = Path(f"{path}-journal")
    if journal.exists() and journal.stat().st_size > 0:
        # a calfwalk killed mid-write: SQLite puts the last committed state back on the first read-write open
        try:
            conn = sqlite3.connect(str(path), timeout=10)
            try:
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise _untouched(path, f"damaged history database (an interrupted write could not be undone: {exc})") from None
        size, head = _read_header(path)
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        raise _untouched(path, "damaged history database (bad page size in the header)")
    pages = int.from_bytes(head[28:32], "big")
    # the header's page count is only valid when the two change counters agree
    if head[24:28] == head[92:96] and pages and size < pages * page_size:
        raise _untouched(path, f"damaged history database (truncated: {size} bytes, its header says {pages * page_size})")
    if size % page_size:
        raise _untouched(path, f"damaged history database (truncated: {size} bytes is not a whole number of pages)")


def _check_content(path: Path, conn):
    """Ours, a schema this calfwalk reads, and intact."""
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if app_id != APPLICATION_ID or not 1 <= version <= SCHEMA_VERSION:
            raise _untouched(path, f"damaged history database (application id {app_id}, schema {version})")
        for table, want in (("sets", SET_COLUMNS), ("steps", STEP_COLUMNS)):
            have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
            if not set(want) <= have:
                raise _untouched(path, f"damaged history database (table {table!r} is missing or incomplete)")
        problems = [r[0] for r in conn.execute("PRAGMA quick_check(3)")]
    except sqlite3.OperationalError as exc:
        raise _untouched(path, f"cannot read it (SQLite: {_one_line(exc)})") from None
    except sqlite3.DatabaseError as exc:
        raise _untouched(path, f"damaged history database (SQLite: {_one_line(exc)})") from None
    if problems != ["ok"]:
        raise _untouched(path, f"damaged history database (SQLite: {_one_line('; '.join(problems))})")


def _connect_ro(path: Path):
    uri = path.resolve().as_uri() + "?mode=ro"
    try:
        return sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise HistoryError(f"{path}: cannot open: {exc}") from None


def _create(path: Path):
    """A new, complete history file at `path`, or none: built aside, then linked into place."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".history-", suffix=".tmp")
    except OSError as exc:
        raise HistoryError(f"{path}: cannot create: {exc.strerror or exc}") from None
    os.close(fd)
    try:
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.executescript(f"BEGIN; PRAGMA application_id = {APPLICATION_ID}; "
                               f"PRAGMA user_version = {SCHEMA_VERSION}; {SCHEMA} {PARTS_SCHEMA} COMMIT;")
        finally:
            conn.close()
        try:
            os.link(tmp, path)  # fails if another calfwalk created it meanwhile: then use theirs
        except FileExistsError:
            pass
        except OSError:  # no hard links on this file system
            if not path.exists():
                os.replace(tmp, path)
    except (OSError, sqlite3.Error) as exc:
        raise HistoryError(f"{path}: cannot create: {exc}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class History:
    """An open, checked history file."""

    def __init__(self, path: Path, conn, writable: bool):
        self.path = path
        self.conn = conn
        self.writable = writable
        conn.row_factory = sqlite3.Row

    @classmethod
    def open(cls, path, write=False):
        """The history at `path` (checked), or None when there is none and `write` is false."""
        path = Path(path)
        if not path.exists():
            if not write:
                return None
            _create(path)
        _check_file(path)
        conn = _connect_ro(path)
        try:
            _check_content(path, conn)
        except BaseException:
            conn.close()
            raise
        if not write:
            return cls(path, conn, False)
        conn.close()
        try:
            conn = sqlite3.connect(str(path), isolation_level=None, timeout=10)
            conn.execute("PRAGMA foreign_keys = ON")
            if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                # schema 1 -> 2: only a table more, added in one transaction
                conn.executescript(f"BEGIN IMMEDIATE; {PARTS_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
        except sqlite3.Error as exc:
            raise HistoryError(f"{path}: cannot open for writing: {exc}") from None
        return cls(path, conn, True)

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -------------------------------------------------------------- writing

    def _insert(self, row: dict, steps: list) -> int:
        """One set row and its step rows (inside the caller's transaction); the set's id."""
        cols = [c for c in SET_COLUMNS if c != "id"]
        cur = self.conn.execute(f"INSERT INTO sets ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                                [row[c] for c in cols])
        self.conn.executemany(
            f"INSERT INTO steps ({', '.join(STEP_COLUMNS)}) VALUES ({', '.join('?' * len(STEP_COLUMNS))})",
            [[cur.lastrowid] + [s[c] for c in STEP_COLUMNS[1:]] for s in steps])
        return cur.lastrowid

    def store(self, rows: list) -> list:
        """Insert (set row, step rows) pairs in one transaction; returns one result dict per set."""
        results = []
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                for row, steps in rows:
                    old = self.conn.execute("SELECT id FROM sets WHERE source_digest = ? AND set_no = ?",
                                            (row["source_digest"], row["set_no"])).fetchone()
                    if old is None and self._has_parts():
                        # a set already paired into a two-foot set: stored there
                        old = self.conn.execute("SELECT set_id FROM set_parts WHERE part_digest = ?",
                                                (row["source_digest"],)).fetchone()
                        if old is not None:
                            results.append({"id": old[0], "set_no": row["set_no"], "new": False, "paired": True,
                                            "steps": row["steps"], "heel_contacts": row["heel_contacts"]})
                            continue
                    if old is not None:
                        results.append({"id": old[0], "set_no": row["set_no"], "new": False, "steps": row["steps"],
                                        "heel_contacts": row["heel_contacts"]})
                        continue
                    set_id = self._insert(row, steps)
                    results.append({"id": set_id, "set_no": row["set_no"], "new": True, "steps": row["steps"],
                                    "heel_contacts": row["heel_contacts"]})
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise HistoryError(f"{self.path}: cannot write: {exc}") from None
        return results

    def pair(self, row: dict, steps: list, parts: list) -> dict:
        """Replace one-foot sets by the two-foot set made of them, in one transaction.

        `parts`: the one-foot set rows (dicts with their id). Each is removed from `sets` and kept
        in `set_parts` (its row as JSON) under its key, pointing at the new set. If a part is no
        longer a set of its own (another calfwalk paired it meanwhile) nothing changes and this
        raises HistoryError. Returns {"id", "new"}: an existing two-foot set of the same key is kept.
        """
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                old = self.conn.execute("SELECT id FROM sets WHERE source_digest = ? AND set_no = ?",
                                        (row["source_digest"], row["set_no"])).fetchone()
                if old is not None:
                    self.conn.execute("ROLLBACK")
                    return {"id": old[0], "new": False}
                for part in parts:
                    here = self.conn.execute("SELECT id FROM sets WHERE id = ? AND source_digest = ?",
                                             (part["id"], part["source_digest"])).fetchone()
                    if here is None:
                        raise _Changed(f"set #{part['id']} is no longer a set of its own")
                set_id = self._insert(row, steps)
                for part in parts:
                    self.conn.execute("INSERT INTO set_parts (part_digest, set_id, foot, row) VALUES (?, ?, ?, ?)",
                                      (part["source_digest"], set_id, part["feet"], json.dumps(part)))
                    self.conn.execute("DELETE FROM sets WHERE id = ?", (part["id"],))
                self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
        except _Changed as exc:
            raise HistoryError(f"{self.path}: not paired: {exc}") from None
        except sqlite3.Error as exc:
            raise HistoryError(f"{self.path}: cannot write: {exc}") from None
        return {"id": set_id, "new": True}

    # -------------------------------------------------------------- reading

    def _has_parts(self) -> bool:
        """A schema 1 file opened read-only has no set_parts table (it has no parts either)."""
        return self.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'set_parts'"
                                 ).fetchone() is not None

    def parts(self) -> list:
        """Every part of a two-foot set: {"part_digest", "set_id", "foot", "row" (dict)}."""
        if not self._has_parts():
            return []
        try:
            rows = self.conn.execute("SELECT part_digest, set_id, foot, row FROM set_parts ORDER BY set_id, foot"
                                     ).fetchall()
        except sqlite3.DatabaseError as exc:
            raise HistoryError(f"{self.path}: damaged history database (SQLite: {_one_line(exc)})") from None
        return [{"part_digest": r[0], "set_id": r[1], "foot": r[2], "row": json.loads(r[3])} for r in rows]

    def pulled_one_foot(self) -> list:
        """The sets pulled from a pod that are one foot's (not paired): set rows (dicts)."""
        try:
            rows = self.conn.execute("SELECT * FROM sets WHERE source_kind = 'pulled' AND feet IN ('left', 'right') "
                                     "ORDER BY recorded_utc, id").fetchall()
        except sqlite3.DatabaseError as exc:
            raise HistoryError(f"{self.path}: damaged history database (SQLite: {_one_line(exc)})") from None
        return [{c: r[c] for c in SET_COLUMNS} for r in rows]

    def sets(self, limit=None) -> list:
        """Set rows (dicts, JSON columns as text) oldest first; the last `limit` when given."""
        order = "recorded_utc, set_no, id"
        try:
            if limit:
                q = (f"SELECT * FROM (SELECT * FROM sets ORDER BY recorded_utc DESC, set_no DESC, id DESC LIMIT ?) "
                     f"ORDER BY {order}")
                rows = self.conn.execute(q, (int(limit),)).fetchall()
            else:
                rows = self.conn.execute(f"SELECT * FROM sets ORDER BY {order}").fetchall()
        except sqlite3.DatabaseError as exc:
            raise HistoryError(f"{self.path}: damaged history database (SQLite: {_one_line(exc)})") from None
        return [{c: r[c] for c in SET_COLUMNS} for r in rows]

    def count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM sets").fetchone()[0]

    def steps(self, set_ids=None) -> list:
        """Step rows of the given sets (all sets when None), in set then step order."""
        try:
            rows = self.conn.execute("SELECT * FROM steps ORDER BY set_id, n").fetchall()
        except sqlite3.DatabaseError as exc:
            raise HistoryError(f"{self.path}: damaged history database (SQLite: {_one_line(exc)})") from None
        wanted = None if set_ids is None else set(set_ids)
        return [{c: r[c] for c in STEP_COLUMNS} for r in rows if wanted is None or r["set_id"] in wanted]


# ------------------------------------------------------------------ summary -> rows

def source_digest(paths) -> str:
    """sha256 of one file's bytes; for two raw files, of their sorted sha256 digests (order-free)."""
    digests = []
    for p in paths:
        h = hashlib.sha256()
        try:
            with open(p, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
        except OSError as exc:
            raise HistoryError(f"{p}: cannot read: {exc.strerror or exc}") from None
        digests.append(h.digest())
    if len(digests) == 1:
        return digests[0].hex()
    return hashlib.sha256(b"".join(sorted(digests))).hexdigest()


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def file_time_utc(path) -> str:
    """A file's modification time as UTC ISO text (for recordings that carry no date)."""
    t = _dt.datetime.fromtimestamp(os.path.getmtime(path), _dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# summary["asymmetry"] figures -> the history's asym_<name>_pct columns
ASYM_COLUMNS = {"steps": "asym_step_count_pct", "step_time_ms": "asym_step_time_pct",
                "heel_height_mm": "asym_heel_height_pct"}


def _step_rows(events):
    steps = [e for e in events if e.get("type") == "step"]
    contacts = [e for e in events if e.get("type") == "heel_contact"]
    rows = []
    for i, e in enumerate(steps, 1):
        n = e.get("n") or i
        mine = [c for c in contacts if c.get("step") == n]
        impacts = [c["impact_mg"] for c in mine if c.get("impact_mg") is not None]
        rows.append({
            "n": n, "foot": e["foot"], "step_no": e.get("step_no"), "t_ms": e["t_ms"],
            "stance_ms": e.get("stance_ms"), "heel_mm": e.get("heel_mm"), "pause_ms": e.get("pause_ms"),
            "peaks": e.get("peaks"), "med_pct": e.get("med_pct"),
            "heel_contacts": len(mine), "impact_mg": max(impacts) if impacts else None,
        })
    return rows


def set_rows(summary: dict, digest: str, kind: str, source_path: str, recorded_utc: str) -> list:
    """(set row, step rows) for each set of a summary: summary["sets"] when present, else the whole."""
    stored = utc_now()
    parts = summary.get("sets") or []
    if parts:
        sets = [(int(s.get("set_no", i)), s) for i, s in enumerate(parts, 1)]
    else:
        sets = [(1, summary)]
    out = []
    for set_no, s in sets:
        steps = int(s.get("steps", 0))
        contacts = int(s.get("heel_contacts", 0))
        hh = s.get("heel_height_mm") or {}
        by_foot = s.get("steps_by_foot") or {}
        asym = s.get("asymmetry") or {}
        row = {
            "source_digest": digest, "set_no": set_no, "source_kind": kind, "source_path": source_path,
            "recorded_utc": recorded_utc, "stored_utc": stored,
            "feet": ",".join(s.get("feet", summary.get("feet", []))),
            "sensors": json.dumps(s.get("sensors", summary.get("sensors", {})), sort_keys=True),
            "steps": steps, "steps_left": by_foot.get("left"), "steps_right": by_foot.get("right"),
            "heel_contacts": contacts,
            "heel_contacts_per100": s.get("heel_contacts_per100"),
            "heel_mm_mean": hh.get("mean"), "heel_mm_min": hh.get("min"), "heel_mm_max": hh.get("max"),
            "cadence_spm": s.get("cadence_spm"), "step_time_cv": s.get("step_time_cv"),
            "duration_s": s.get("duration_s", summary.get("duration_s")), "set_duration_s": s.get("set_duration_s"),
            "start_ms": s.get("start_ms"), "end_ms": s.get("end_ms"),
            **{col: (asym.get(name) or {}).get("asymmetry_pct") for name, col in ASYM_COLUMNS.items()},
            "asym_pct": s.get("asymmetry_pct"),
            "asymmetry": json.dumps(asym, sort_keys=True) if asym else None,
            "rules": json.dumps({r["id"]: r["status"] for r in s.get("rules", [])}),
            "summary": json.dumps(s),
        }
        out.append((row, _step_rows(s.get("events") or [])))
    return out


def store_summary(db_path, summary: dict, paths, kind: str, recorded_utc: str | None = None,
                  digest: str | None = None) -> dict:
    """Store a summary's sets from source file(s) `paths`; returns {"db", "results", "skipped"}.

    `digest` keys the sets instead of the files' sha256 (a pulled set: its records, podlog.set_digest)."""
    digest = digest or source_digest(paths)
    recorded = recorded_utc or file_time_utc(paths[0])
    rows = set_rows(summary, digest, kind, ";".join(os.path.abspath(p) for p in paths), recorded)
    kept = [(r, s) for r, s in rows if r["steps"] > 0]
    if not kept:
        return {"db": str(db_path), "results": [], "skipped": len(rows)}
    with History.open(db_path, write=True) as h:
        results = h.store(kept)
    return {"db": str(db_path), "results": results, "skipped": len(rows) - len(kept)}


def raw_recorded_utc(recs):
    """A raw recording's own date if its metadata has one (else the history uses the file's time)."""
    for r in recs:
        for key in ("started_utc", "recorded_utc"):
            if r.meta.get(key):
                return r.meta[key]
    return None


# ------------------------------------------------------------------ import (old recordings)

def import_plan(paths):
    """The files of `history import` sorted out: ([(kind, [paths])], [one line per file that is no
    recording]). Session files one by one; raw files paired by their PREFIX_left/right names."""
    from calfwalk.files.kinds import file_kind

    sources = []  # (kind, [paths])
    raw_groups = {}
    bad = []
    for p in paths:
        try:
            kind = file_kind(p)
        except FileNotFoundError:
            bad.append(f"{p}: no such file")
            continue
        except OSError as exc:
            bad.append(f"{p}: cannot read: {exc.strerror or exc}")
            continue
        if kind == "session":  # (even with a damaged first line)
            sources.append(("session", [p]))
        elif kind == "raw":
            stem = os.path.splitext(os.path.abspath(p))[0]
            for foot in ("_left", "_right"):
                if stem.endswith(foot):
                    stem = stem[: -len(foot)]
            if stem not in raw_groups:
                raw_groups[stem] = []
                sources.append(("raw", raw_groups[stem]))
            raw_groups[stem].append(p)
        else:
            bad.append(f"{p}: neither a calfwalk session file nor a raw v1 recording")
    return sources, bad


def _read_through(recs):
    """Read streams to their end without analysing them (their format errors raised on the way)."""
    for rec in recs:
        for _rows, _work in rec.blocks():
            pass


def import_sets(kind, paths, analyse=True):
    """One source of `history import` read and summarised: ([(summary, paths, kind, recorded_utc,
    source)], [one line per file that could not be read], [warnings]). Each file on its own: one
    bad file costs only itself.

    Raw files are streamed through the pipeline as `calfwalk analyze` streams them
    (rawfile.open_raw, pipeline.analyze_recordings): a block at a time, never whole. A file whose
    samples turn out malformed on the way (RawFormatError, naming its line) is named and left out,
    and the rest of its set is read again without it. `analyse` is how a list of streams becomes
    a summary (pipeline.analyze_recordings unless given: the CLI's adds a progress bar); False reads
    only (the summaries are None)."""
    from calfwalk.analysis.pipeline import analyze_recordings, summarise_session
    from calfwalk.files.rawfile import RawFormatError, open_raw
    from calfwalk.files.session import SessionError, read_session

    if kind == "session":
        try:
            session = read_session(paths[0])
            summary = summarise_session(session) if analyse else None
        except SessionError as exc:
            return [], [str(exc)], []
        return [(summary, paths, kind, session.meta.get("started_utc"), paths[0])], [], list(session.damage)
    summarise = analyse if callable(analyse) else analyze_recordings
    recs, bad = [], []
    for p in paths:
        try:
            recs.append(open_raw(p))  # its metadata and header row, checked now
        except RawFormatError as exc:
            bad.append(str(exc))
    feet = [r.foot for r in recs]
    # one set of left + right; anything else under one prefix is stored file by file
    groups = [recs] if len(recs) <= 2 and len(set(feet)) == len(feet) else [[r] for r in recs]
    out, read = [], []
    for g in groups:
        while g:
            try:
                summary = summarise(g) if analyse else _read_through(g)
            except RawFormatError as exc:  # a sample line on the way: this file is out, the others read again
                bad.append(str(exc))
                rest = [r for r in g if r.path != exc.path]
                if len(rest) == len(g):
                    raise
                # a stream is read again from its start (a pipe, read whole by open_raw, is kept as it is)
                g = [r if hasattr(r, "data") else open_raw(r.path) for r in rest]
                continue
            out.append((summary, [r.path for r in g], "raw", raw_recorded_utc(g), " + ".join(r.path for r in g)))
            read.extend(g)
            break
    return out, bad, [w for r in read for w in r.warnings]


def _ids(results):
    ids = [r["id"] for r in results]
    if len(ids) == 1:
        return f"#{ids[0]}"
    if ids == list(range(ids[0], ids[0] + len(ids))):
        return f"#{ids[0]}-#{ids[-1]}"
    return ", ".join(f"#{i}" for i in ids)


def store_message(outcome: dict, source: str | None = None) -> str:
    """The one line telling what was stored."""
    res = outcome["results"]
    src = f" {source}" if source else ""
    if not res:
        return f"history:{src} nothing stored (no steps in this recording)"
    new = [r for r in res if r["new"]]
    old = [r for r in res if not r["new"]]
    parts = []
    if new:
        steps = sum(r["steps"] for r in new)
        contacts = sum(r["heel_contacts"] for r in new)
        what = "set" if len(new) == 1 else f"{len(new)} sets"
        parts.append(f"stored {what} {_ids(new)} ({steps} steps, {contacts} heel contact{'s' * (contacts != 1)})")
    paired = [r for r in old if r.get("paired")]
    old = [r for r in old if not r.get("paired")]
    if old:
        what = "set" if len(old) == 1 else "sets"
        parts.append(f"already stored ({what} {_ids(old)})")
    if paired:
        what = "set" if len(paired) == 1 else "sets"
        parts.append(f"already stored (in two-foot {what} {_ids(paired)})")
    return f"history:{src} {'; '.join(parts)} in {outcome['db']}"


# ------------------------------------------------------------------ trends

def trend_series(rows: list) -> dict:
    """Per metric, the values over time (None where a set has no value) and their first/last/min/max."""
    out = {"sets": [{"id": r["id"], "recorded_utc": r["recorded_utc"], "set_no": r["set_no"]} for r in rows],
           "metrics": {}}
    for col, label, unit in METRICS:
        values = [r[col] for r in rows]
        have = [v for v in values if v is not None]
        out["metrics"][col] = {
            "label": label, "unit": unit, "values": values,
            "first": have[0] if have else None, "last": have[-1] if have else None,
            "min": min(have) if have else None, "max": max(have) if have else None,
            "mean": round(sum(have) / len(have), 2) if have else None,
        }
    return out


BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values, width=60) -> str:
    """Unicode bars for values (None -> a gap); more values than `width` are averaged in buckets."""
    if len(values) > width:
        buckets = []
        for i in range(width):
            part = [v for v in values[i * len(values) // width:(i + 1) * len(values) // width] if v is not None]
            buckets.append(sum(part) / len(part) if part else None)
        values = buckets
    have = [v for v in values if v is not None]
    if not have:
        return " " * len(values)
    lo, hi = min(have), max(have)
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        elif hi == lo:
            out.append(BLOCKS[3])
        else:
            out.append(BLOCKS[round((v - lo) / (hi - lo) * (len(BLOCKS) - 1))])
    return "".join(out)


def local_time(utc_text: str | None) -> str:
    """'YYYY-MM-DD HH:MM' in local time for a stored UTC time."""
    if not utc_text:
        return "-"
    try:
        t = _dt.datetime.fromisoformat(utc_text.replace("Z", "+00:00"))
    except ValueError:
        return utc_text
    return t.astimezone().strftime("%Y-%m-%d %H:%M")


def _console():
    from calfwalk.output.present import make_console

    console = make_console()
    # a file or pipe: rich would wrap at 80 columns unless $COLUMNS says otherwise
    return console if console.is_terminal else make_console(width=max(console.width, 120))


def _source_label(row, several):
    label = "+".join(os.path.basename(p) for p in row["source_path"].split(";"))
    return f"{label} set {row['set_no']}" if several else label


def print_history(rows: list, total: int, db_path, console=None) -> None:
    """The sets as a table, oldest first."""
    from rich.table import Table

    console = console or _console()
    table = Table(title=f"Sets in {db_path}")
    for name, just in (("id", "right"), ("date", "left"), ("source", "left"), ("feet", "left"),
                       ("steps", "right"), ("heel contacts", "right"), ("per 100 steps", "right"),
                       ("heel mm", "right"), ("cadence", "right")):
        table.add_column(name, justify=just)
    per_source = {}
    for r in rows:
        per_source[r["source_digest"]] = per_source.get(r["source_digest"], 0) + 1
    for r in rows:
        per100 = r["heel_contacts_per100"]
        style = "green" if r["heel_contacts"] == 0 else "yellow"
        table.add_row(str(r["id"]), local_time(r["recorded_utc"]),
                      _source_label(r, per_source[r["source_digest"]] > 1 or r["set_no"] > 1),
                      r["feet"].replace("left", "L").replace("right", "R").replace(",", "+"),
                      str(r["steps"]), f"[{style}]{r['heel_contacts']}[/{style}]", fmt(per100, digits=1),
                      fmt(r["heel_mm_mean"], digits=1), fmt(r["cadence_spm"], digits=1))
    console.print(table)
    if total > len(rows):
        console.print(f"[dim]the last {len(rows)} of {total} sets (--limit 0 for all)[/dim]")


def print_trends(series: dict, db_path, console=None) -> None:
    """One row per metric: first, last, min, max and a bar per set over time."""
    from rich.table import Table

    console = console or _console()
    sets = series["sets"]
    span = f"{local_time(sets[0]['recorded_utc'])} → {local_time(sets[-1]['recorded_utc'])}"
    table = Table(title=f"Trends over {len(sets)} set{'s' * (len(sets) != 1)} ({span})")
    for name, just in (("metric", "left"), ("first", "right"), ("last", "right"), ("change", "right"),
                       ("min", "right"), ("max", "right"), ("over time (oldest → newest)", "left")):
        table.add_column(name, justify=just)
    width = max(10, min(60, console.width - 75))
    for col, m in series["metrics"].items():
        change = None if m["first"] is None else m["last"] - m["first"]
        unit = f" {m['unit']}" if m["unit"] else ""
        table.add_row(f"{m['label']}{unit}", fmt(m["first"], digits=1), fmt(m["last"], digits=1),
                      "-" if change is None else f"{change:+.1f}", fmt(m["min"], digits=1), fmt(m["max"], digits=1),
                      f"[cyan]{sparkline(m['values'], width)}[/cyan]")
    console.print(table)
    console.print(f"[dim]{db_path}; asymmetry is the set's largest left/right difference "
                  f"(step count, step time or heel height)[/dim]")


def write_trends_png(series: dict, path) -> None:
    """One panel per metric over the sets, oldest to newest (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from calfwalk.analysis.summary import LIMITS

    sets = series["sets"]
    x = list(range(1, len(sets) + 1))
    fig, axes = plt.subplots(len(METRICS), 1, figsize=(9, 2.1 * len(METRICS)), sharex=True)
    for ax, (col, label, unit) in zip(axes, METRICS):
        values = [math.nan if v is None else v for v in series["metrics"][col]["values"]]
        ax.plot(x, values, marker="o", linewidth=1.5, markersize=4)
        ax.set_ylabel(f"{label}\n({unit})" if unit else label, fontsize=8)
        ax.grid(True, alpha=0.3)
        if col == "heel_contacts_per100":
            ax.axhline(LIMITS["contacts_warn_per100"], color="tab:red", linestyle="--", linewidth=1,
                       label="fail above this")
            if ax.get_legend_handles_labels()[0]:  # matplotlib warns about an empty legend
                ax.legend(fontsize=7, loc="best")
    step = max(1, len(x) // 10)
    axes[-1].set_xticks(x[::step])
    axes[-1].set_xticklabels([local_time(s["recorded_utc"]) for s in sets][::step], rotation=30, ha="right", fontsize=7)
    axes[0].set_title(f"calfwalk trends: {len(sets)} set{'s' * (len(sets) != 1)}")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)


# ------------------------------------------------------------------ export

def _exported_set(row, decode):
    out = dict(row)
    for c in JSON_SET_COLUMNS:
        if decode and out[c] is not None:
            out[c] = json.loads(out[c])
    return out


def export_json(h: History, fh) -> tuple:
    """Every set (JSON columns decoded, full summary included) and every step row; returns the counts."""
    sets = h.sets()
    steps = h.steps()
    doc = {"calfwalk_history": SCHEMA_VERSION, "exported_utc": utc_now(),
           "sets": [_exported_set(r, True) for r in sets], "steps": steps}
    json.dump(doc, fh, indent=1)
    fh.write("\n")
    return len(sets), len(steps)


def csv_paths(target) -> tuple:
    """(sets csv, steps csv): DIR/sets.csv and DIR/steps.csv, or X.csv and X_steps.csv for a .csv name."""
    target = Path(target)
    if target.suffix.lower() == ".csv":
        return target, target.with_name(target.stem + "_steps.csv")
    return target / "sets.csv", target / "steps.csv"


def export_csv(h: History, target) -> tuple:
    """sets.csv (without the full summary) and steps.csv; returns (sets path, steps path, counts)."""
    sets_path, steps_path = csv_paths(target)
    sets_path.parent.mkdir(parents=True, exist_ok=True)
    sets = h.sets()
    steps = h.steps()
    cols = [c for c in SET_COLUMNS if c != "summary"]
    for path, columns, rows in ((sets_path, cols, sets), (steps_path, STEP_COLUMNS, steps)):
        with open(path, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(columns)
            for r in rows:
                w.writerow(["" if r[c] is None else r[c] for c in columns])
    return sets_path, steps_path, (len(sets), len(steps))
