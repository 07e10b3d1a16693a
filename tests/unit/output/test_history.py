"""The set history (output/history.py): storing a summary's sets (once), the sparkline, where the file
is, and `history import`'s reading of old recordings, streamed as `analyze` streams them. Through the
calfwalk command (analyze, record, history, trends, export, files that are not ours):
tests/e2e/test_history_cli.py."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from calfwalk.analysis.pipeline import analyze_recordings
from calfwalk.files import rawfile
from calfwalk.output import history
from calfwalk.output.history import default_db_path, resolve_db_path, sparkline, store_summary

from helpers import db_sets, db_steps, history_counts as counts, simulate_set

CLEAN = dict(steps=20, cadence_spm=60, seed=3)
FAULTY = dict(steps=24, cadence_spm=50, seed=7, heel_touches=[(6, 350, 2800), (15, 350, 3000)])

# ------------------------------------------------------------------ storing once

def test_summary_with_several_sets_and_asymmetry(tmp_path, _history_db):
    """A summary carrying "sets" (each with set_no, start/end) stores one row per set, keyed per source;
    each row's figures are the set summary's own (the history computes none)."""
    clean, faulty = (analyze_recordings([rawfile.read_raw(p) for p in simulate_set(tmp_path, name, **cfg)[0]])
                     for name, cfg in (("clean", CLEAN), ("faulty", FAULTY)))
    parts = []
    for no, s in ((1, clean), (2, faulty)):
        lr = {"left": 1, "right": 1}
        asym = {"steps": dict(lr, asymmetry_pct=4.0 * no), "step_time_ms": dict(lr, asymmetry_pct=1.5),
                "heel_height_mm": dict(lr, asymmetry_pct=9.0 if no == 2 else None)}
        shift = 0 if no == 1 else 200000
        part = dict(s, set_no=no, start_ms=no * 100000, end_ms=no * 100000 + 60000, asymmetry=asym,
                    asymmetry_pct=7.5 * no, heel_contacts_per100=1.25 * no,
                    events=[dict(e, t_ms=e["t_ms"] + shift) for e in s["events"]])
        parts.append(part)
    whole = dict(clean, sets=parts)
    source = tmp_path / "two_sets.cwlog"
    source.write_text("#calfwalk_session=1\n")
    outcome = store_summary(_history_db, whole, [str(source)], "session", "2026-05-02T10:00:00Z")
    assert [(r["set_no"], r["new"]) for r in outcome["results"]] == [(1, True), (2, True)]
    rows = db_sets(_history_db)
    assert [r["set_no"] for r in rows] == [1, 2]
    assert [r["asym_step_count_pct"] for r in rows] == [4.0, 8.0]
    assert [r["asym_heel_height_pct"] for r in rows] == [None, 9.0]
    assert [r["asym_pct"] for r in rows] == [7.5, 15.0]  # the summary's, not recomputed
    assert [r["heel_contacts_per100"] for r in rows] == [1.25, 2.5]
    assert [(r["start_ms"], r["end_ms"]) for r in rows] == [(100000, 160000), (200000, 260000)]
    steps = db_steps(_history_db)
    assert sum(1 for s in steps if s["set_id"] == rows[1]["id"]) == faulty["steps"]
    assert [s["t_ms"] for s in steps if s["set_id"] == rows[1]["id"]] == [
        e["t_ms"] for e in parts[1]["events"] if e["type"] == "step"]
    again = store_summary(_history_db, whole, [str(source)], "session", "2026-05-02T10:00:00Z")
    assert [r["new"] for r in again["results"]] == [False, False]
    assert counts(_history_db) == (2, clean["steps"] + faulty["steps"])


# ------------------------------------------------------------------ listing and trends

def test_sparkline():
    assert sparkline([0, 7, 14]) == "▁▅█"
    assert sparkline([5, None, 5]) == "▄ ▄"
    assert sparkline([None, None]) == "  "
    assert len(sparkline(list(range(500)), width=40)) == 40


# ------------------------------------------------------------------ export

# ------------------------------------------------------------------ files that are not ours

# ------------------------------------------------------------------ where the file is

def test_default_locations():
    home = "/home/ann"
    assert default_db_path({"HOME": home}, "linux") == Path(home, ".local/share/calfwalk/history.sqlite3")
    assert default_db_path({"HOME": home, "XDG_DATA_HOME": "/data"}, "linux") == Path("/data/calfwalk/history.sqlite3")
    assert default_db_path({"HOME": home, "XDG_DATA_HOME": "rel"}, "linux") == Path(home, ".local/share/calfwalk/history.sqlite3")
    assert default_db_path({"HOME": home}, "darwin") == Path(home, "Library/Application Support/calfwalk/history.sqlite3")
    assert default_db_path({"HOME": home, "APPDATA": "/appdata"}, "win32") == Path("/appdata/calfwalk/history.sqlite3")
    env = {"HOME": home, "CALFWALK_DB": "/x/h.db"}
    assert resolve_db_path("/y/o.db", env) == Path("/y/o.db")
    assert resolve_db_path(None, env) == Path("/x/h.db")
    assert resolve_db_path(None, {"HOME": home}) == default_db_path({"HOME": home})


def test_tests_never_touch_the_user_history(_history_db):
    assert os.environ["CALFWALK_DB"] == str(_history_db)
    assert resolve_db_path() == _history_db


# ------------------------------------------------------------------ history import: streamed, file by file

def _quiet_file(path, rows):
    """A pod lying still for `rows` samples: the detector says nothing, so only reading costs memory."""
    data = np.zeros((rows, 7), dtype=np.int64)
    data[:, 0] = np.arange(rows) * 10
    data[:, 3] = 1000 + np.arange(rows) % 3
    rawfile.write_raw(path, "left", "imu", 100, data)
    return str(path)


@pytest.fixture
def watched_reads(monkeypatch):
    """Raw files read a few hundred rows at a time, never whole (read_raw fails the test); returns
    {path: the most rows one block held}."""
    monkeypatch.setattr(rawfile, "_BLOCK_CHARS", 1 << 13)

    def whole(path, *_a, **_k):
        raise AssertionError(f"{path} read whole")

    monkeypatch.setattr(rawfile, "read_raw", whole)
    widest = {}
    blocks = rawfile.RawStream.blocks

    def watched(self):
        for rows, work in blocks(self):
            widest[self.path] = max(widest.get(self.path, 0), len(rows))
            yield rows, work

    monkeypatch.setattr(rawfile.RawStream, "blocks", watched)
    return widest


def test_import_streams_raw_files_as_analyze_does(tmp_path, watched_reads):
    """Counted, not timed: history import goes through open_raw and the pipeline, a block at a time;
    the rows held at once are the same for a file eight times as long, and within one block."""
    short, long_ = _quiet_file(tmp_path / "short_left.csv", 4_000), _quiet_file(tmp_path / "long_left.csv", 32_000)
    for path, samples in ((short, 4_000), (long_, 32_000)):
        (sources, bad) = history.import_plan([path])
        assert bad == [] and sources == [("raw", [path])]
        sets, errors, warnings = history.import_sets("raw", [path])
        assert errors == [] and warnings == []
        assert [(s["steps"], s["duration_s"]) for s, *_rest in sets] == [(0, (samples - 1) / 100)]
    assert watched_reads[short] == watched_reads[long_] <= (1 << 13) // (2 * 7)  # a row is at least "0," a value

    # a two-foot set: one set, the summary `analyze` gives of the same files
    paths, _truth = simulate_set(tmp_path, "walk", **FAULTY)
    sets, errors, _warnings = history.import_sets("raw", sorted(paths))
    assert errors == [] and len(sets) == 1
    summary, where, kind, _recorded, source = sets[0]
    assert (where, kind, source) == (sorted(paths), "raw", " + ".join(sorted(paths)))
    assert summary == analyze_recordings([rawfile.open_raw(p) for p in sorted(paths)])
    assert summary["steps"] == 24 and summary["heel_contacts"] == 2


@pytest.mark.parametrize("analyse", [True, False], ids=["analysed", "read-only"])
def test_a_bad_line_deep_in_one_file_costs_only_that_file(tmp_path, watched_reads, analyse):
    """A malformed sample found blocks into the left file (after its header passed): the error names
    the file and the line, and the right file is still imported, as a set of its own."""
    paths, _truth = simulate_set(tmp_path, "walk", **FAULTY)
    left, right = sorted(paths)
    lines = open(left).read().splitlines()
    bad_line = len(lines) - 50  # far past the first block (1 << 13 characters)
    lines[bad_line - 1] += ",oops"
    Path(left).write_text("\n".join(lines) + "\n")
    sets, errors, _warnings = history.import_sets("raw", [left, right], analyse=analyse)
    assert errors == [f"{left}:{bad_line}: expected 7 values, got 8"]
    assert [(where, source) for _s, where, _k, _r, source in sets] == [([right], right)]
    if analyse:
        assert sets[0][0] == analyze_recordings([rawfile.open_raw(right)])
        assert sets[0][0]["steps_by_foot"] == {"right": 12}
    else:
        assert sets[0][0] is None
