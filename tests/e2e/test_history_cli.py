"""The history through the calfwalk command: `analyze`, `record`, `summary` and `history import` store
each set once; `history`, `trends` and `export` show it; a bad history file is refused untouched (the
history's own parts: tests/unit/output/test_history.py)."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from calfwalk.cli import main
from calfwalk.output.history import APPLICATION_ID, SET_COLUMNS, STEP_COLUMNS, History, sparkline

from helpers import db_sets, db_steps, history_counts as counts, host_env, simulate_set

CLEAN = dict(steps=20, cadence_spm=60, seed=3)
FAULTY = dict(steps=24, cadence_spm=50, seed=7, heel_touches=[(6, 350, 2800), (15, 350, 3000)])
ONE_FOOT = dict(steps=16, cadence_spm=70, seed=11, feet="left")


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def analyze_json(capsys, paths, *extra):
    code, out, err = run(capsys, "analyze", "--json", *paths, *extra)
    assert code == 0, err
    return json.loads(out), err


def one_set(summary):
    """The summary of the recording's single set: what the history stores."""
    parts = summary.get("sets") or [summary]
    assert len(parts) == 1
    return parts[0]


@pytest.fixture
def sets(tmp_path):
    """Three simulated sets with known dates: faulty (1 May), clean (3 May), one foot (5 May)."""
    out = {}
    for day, (name, cfg) in zip((1, 3, 5), (("faulty", FAULTY), ("clean", CLEAN), ("one", ONE_FOOT))):
        paths, truth = simulate_set(tmp_path, name, **cfg)
        stamp = 1777593600 + (day - 1) * 86400  # 2026-05-01 00:00 UTC + days
        for p in paths:
            os.utime(p, (stamp, stamp))
        out[name] = (paths, truth)
    return out


def test_analyze_stores_the_set_once(capsys, sets, _history_db):
    paths, truth = sets["faulty"]
    summary, err = analyze_json(capsys, paths)
    assert err.startswith("history: stored set #1 (24 steps, 2 heel contacts)") and str(_history_db) in err
    assert counts(_history_db) == (1, 24)

    # again, files in the other order, human output, and `history import`: nothing added
    code, out, err = run(capsys, "analyze", *reversed(paths))
    assert code == 0 and err == ""
    assert out.splitlines()[-1].startswith("history: already stored (set #1)")
    code, out, err = run(capsys, "history", "import", *paths)
    assert code == 0 and "already stored (set #1)" in out
    assert counts(_history_db) == (1, 24)

    row = db_sets(_history_db)[0]
    summary = one_set(summary)
    assert row["steps"] == summary["steps"] == truth["steps_total"]
    assert (row["steps_left"], row["steps_right"]) == (summary["steps_by_foot"]["left"], summary["steps_by_foot"]["right"])
    assert row["heel_contacts"] == summary["heel_contacts"] == 2
    assert row["heel_contacts_per100"] == pytest.approx(2 * 100 / 24, abs=0.01)
    assert row["heel_mm_mean"] == summary["heel_height_mm"]["mean"]
    assert row["cadence_spm"] == summary["cadence_spm"]
    assert row["step_time_cv"] == summary["step_time_cv"]
    assert row["feet"] == "left,right" and json.loads(row["sensors"]) == {"left": "imu", "right": "imu"}
    assert json.loads(row["rules"]) == {r["id"]: r["status"] for r in summary["rules"]}
    asym = summary["asymmetry"]  # the summary's own left/right figures
    assert row["asym_step_count_pct"] == asym["steps"]["asymmetry_pct"]
    assert row["asym_step_time_pct"] == asym["step_time_ms"]["asymmetry_pct"]
    assert row["asym_heel_height_pct"] == asym["heel_height_mm"]["asymmetry_pct"]
    assert json.loads(row["asymmetry"]) == asym
    assert row["asym_pct"] == summary["asymmetry_pct"] is not None  # the summary's own (tests/unit/analysis/test_asymmetry.py)
    assert json.loads(row["summary"]) == summary
    assert row["recorded_utc"] == "2026-05-01T00:00:00Z"  # the raw files carry no date: their file time
    assert row["source_kind"] == "raw" and row["source_path"].split(";") == [os.path.abspath(p) for p in paths]

    steps = db_steps(_history_db)
    events = [e for e in summary["events"] if e["type"] == "step"]
    assert [(s["n"], s["foot"], s["t_ms"], s["heel_mm"], s["pause_ms"], s["stance_ms"]) for s in steps] == [
        (e["n"], e["foot"], e["t_ms"], e["heel_mm"], e["pause_ms"], e["stance_ms"]) for e in events]
    touched = sorted(c["step"] for c in summary["events"] if c["type"] == "heel_contact")
    assert sorted(s["n"] for s in steps for _ in range(s["heel_contacts"])) == touched


def test_distinct_sets_add_rows_and_no_history_adds_none(capsys, sets, tmp_path, _history_db):
    analyze_json(capsys, sets["faulty"][0])
    code, out, _ = run(capsys, "history", "import", *sets["clean"][0], *sets["one"][0])
    assert code == 0
    left_only = len(sets["one"][1]["feet"]["left"]["steps"])
    assert left_only == 8  # a person's 16 steps, 8 of them on the one foot with a pod
    assert "stored set #2 (20 steps, 0 heel contacts)" in out and f"stored set #3 ({left_only} steps" in out
    assert counts(_history_db) == (3, 24 + 20 + 8)
    paths, _ = simulate_set(tmp_path, "more", steps=10, seed=99)
    code, out, err = run(capsys, "analyze", "--no-history", *paths)
    assert code == 0 and "history" not in out + err
    assert counts(_history_db) == (3, 52)


def test_record_and_summary_store_the_session_once(capsys, tmp_path, micropython, _history_db):
    from calfwalk.sim.podsim import PodProcess

    paths, truth = simulate_set(tmp_path, steps=12, feet="left", seed=5, heel_touches=[(4, 300, 1500)])
    session = tmp_path / "s.cwlog"
    with PodProcess(paths[0], speed=0) as pod:
        code, out, err = run(capsys, "record", "--port", pod.port, "-o", session)
    assert code == 0, err
    assert "history: stored set #1 (6 steps, 1 heel contact)" in out  # 12 person steps, 6 on the left foot
    assert counts(_history_db) == (1, 6)
    code, out, err = run(capsys, "summary", session, "--json")
    assert code == 0 and json.loads(out)["steps"] == 6  # --json output stays clean JSON
    assert err.startswith("history: already stored (set #1)")
    code, out, err = run(capsys, "history", "import", session)
    assert code == 0 and "already stored" in out
    assert counts(_history_db) == (1, 6)
    row = db_sets(_history_db)[0]
    started = next(line for line in session.read_text().splitlines() if line.startswith("#started_utc="))
    assert row["source_kind"] == "session" and row["recorded_utc"] == started.split("=", 1)[1]
    assert row["asym_pct"] is None  # one pod: no left/right figure


def test_history_lists_sets_oldest_first(capsys, monkeypatch, sets, _history_db):
    monkeypatch.setenv("COLUMNS", "200")
    run(capsys, "history", "import", *sets["one"][0], *sets["clean"][0], *sets["faulty"][0])
    code, out, _ = run(capsys, "history")
    assert code == 0
    body = [line for line in out.splitlines() if line.startswith("│")]
    assert [line.split("│")[3].strip() for line in body] == [
        "faulty_left.csv+faulty_right.csv", "clean_left.csv+clean_right.csv", "one_left.csv"]
    cells = [c.strip() for c in body[0].split("│")[1:-1]]
    assert cells[4:7] == ["24", "2", "8.3"] and cells[3] == "L+R"
    code, out, _ = run(capsys, "history", "--limit", "1")
    assert "one_left.csv" in out and "faulty" not in out and "the last 1 of 3 sets" in out


def test_trends_values(capsys, monkeypatch, sets, _history_db):
    monkeypatch.setenv("COLUMNS", "200")
    summaries = {}
    for name in ("one", "clean", "faulty"):  # stored out of time order
        summary, _ = analyze_json(capsys, sets[name][0])
        summaries[name] = one_set(summary)
    code, out, err = run(capsys, "trends", "--json")
    assert code == 0 and err == ""
    series = json.loads(out)
    assert [s["recorded_utc"][:10] for s in series["sets"]] == ["2026-05-01", "2026-05-03", "2026-05-05"]
    m = series["metrics"]
    order = [summaries[n] for n in ("faulty", "clean", "one")]
    assert m["steps"]["values"] == [24, 20, 8]
    assert m["heel_contacts_per100"]["values"] == [pytest.approx(8.33, abs=0.01), 0.0, 0.0]
    assert m["heel_mm_mean"]["values"] == [s["heel_height_mm"]["mean"] for s in order]
    assert m["cadence_spm"]["values"] == [s["cadence_spm"] for s in order]
    assert m["cadence_spm"]["values"][0] == pytest.approx(50, abs=2)
    assert m["cadence_spm"]["values"][2] == pytest.approx(70, abs=2)
    assert m["asym_pct"]["values"] == [s["asymmetry_pct"] for s in order]
    assert m["asym_pct"]["values"][0] is not None and m["asym_pct"]["values"][2] is None  # one foot: no asymmetry
    assert m["heel_contacts_per100"]["first"] == pytest.approx(8.33, abs=0.01)
    assert m["heel_contacts_per100"]["last"] == 0.0
    assert (m["steps"]["min"], m["steps"]["max"]) == (8, 24)

    code, out, _ = run(capsys, "trends")
    assert code == 0
    lines = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
             for line in out.splitlines() if line.startswith("│")}
    assert lines["steps"][:2] == ["24", "8"]
    assert lines["heel contacts / 100 steps"][:3] == ["8.3", "0.0", "-8.3"]
    assert lines["steps"][-1] == sparkline([24, 20, 8])


def test_trends_png(capsys, sets, tmp_path, _history_db):
    import matplotlib.image

    run(capsys, "history", "import", *sets["faulty"][0], *sets["clean"][0])
    png = tmp_path / "trends.png"
    code, out, _ = run(capsys, "trends", "--png", png)
    assert code == 0 and f"written to {png}" in out
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    img = matplotlib.image.imread(png)
    assert img.shape[0] > 500 and img.shape[1] > 500  # five panels
    assert img[..., :3].std() > 0.05  # something drawn, not a blank canvas


def test_empty_history_is_a_message_not_an_error(capsys, tmp_path, _history_db):
    for cmd in (["history"], ["trends"], ["trends", "--png", tmp_path / "x.png"], ["export", "--json", tmp_path / "x.json"]):
        code, out, err = run(capsys, *cmd)
        assert code == 0 and err == "", (cmd, err)
        assert "no history yet" in out
    assert not Path(_history_db).exists() and not (tmp_path / "x.png").exists()
    History.open(_history_db, write=True).close()  # a history with no sets
    code, out, _ = run(capsys, "trends")
    assert code == 0 and "is empty" in out


def test_export_csv_and_json_round_trip(capsys, sets, tmp_path, _history_db):
    run(capsys, "history", "import", *sets["faulty"][0], *sets["clean"][0], *sets["one"][0])
    rows, steps = db_sets(_history_db), db_steps(_history_db)
    code, out, _ = run(capsys, "export", "--csv", tmp_path / "out")
    assert code == 0 and "exported 3 sets" in out and f"{24 + 20 + 8} steps" in out
    with open(tmp_path / "out" / "sets.csv", newline="") as fh:
        got = list(csv.DictReader(fh))
    assert list(got[0]) == [c for c in SET_COLUMNS if c != "summary"]
    assert got == [{k: "" if r[k] is None else str(r[k]) for k in got[0]} for r in rows]
    with open(tmp_path / "out" / "steps.csv", newline="") as fh:
        got_steps = list(csv.DictReader(fh))
    assert list(got_steps[0]) == list(STEP_COLUMNS)
    assert got_steps == [{k: "" if s[k] is None else str(s[k]) for k in STEP_COLUMNS} for s in steps]
    code, out, _ = run(capsys, "export", "--csv", tmp_path / "mine.csv")
    assert (tmp_path / "mine.csv").read_text() == (tmp_path / "out" / "sets.csv").read_text()
    assert (tmp_path / "mine_steps.csv").read_text() == (tmp_path / "out" / "steps.csv").read_text()

    code, out, _ = run(capsys, "export", "--json", tmp_path / "h.json")
    assert code == 0
    doc = json.loads((tmp_path / "h.json").read_text())
    assert doc["steps"] == steps
    assert len(doc["sets"]) == 3
    for exported, row in zip(doc["sets"], rows):
        for k in SET_COLUMNS:
            want = json.loads(row[k]) if k in ("sensors", "asymmetry", "rules", "summary") and row[k] else row[k]
            assert exported[k] == want, k
    assert doc["sets"][0]["summary"]["steps"] == 24


def _foreign(path):
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE contacts (name TEXT, phone TEXT)")
    conn.execute("INSERT INTO contacts VALUES ('Ann', '555')")
    conn.commit()
    conn.close()


def _truncated(path, capsys, sets):
    full = path.with_name("full.sqlite3")
    for name in ("faulty", "clean", "one"):
        assert main(["history", "import", "--db", str(full), *sets[name][0]]) == 0
    data = full.read_bytes()
    assert len(data) > 4 * 4096
    path.write_bytes(data[: len(data) // 2])
    capsys.readouterr()


def _newer(path, capsys, sets):
    History.open(path, write=True).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()


BAD = {
    "random-bytes": (lambda p, c, s: p.write_bytes(os.urandom(3000)), "not an SQLite file"),
    "text-file": (lambda p, c, s: p.write_text("my notes\n"), "not an SQLite file"),
    "foreign-sqlite": (lambda p, c, s: _foreign(p), "another application (tables: contacts)"),
    "truncated": (_truncated, "truncated"),
    "newer-schema": (_newer, "newer calfwalk"),
    "empty-file": (lambda p, c, s: p.write_bytes(b""), "empty file"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_history_files_are_refused_untouched(capsys, sets, tmp_path, case):
    make, words = BAD[case]
    db = tmp_path / "db" / "history.sqlite3"
    db.parent.mkdir()
    make(db, capsys, sets)
    before = db.read_bytes()
    listing = sorted(os.listdir(db.parent))
    commands = [
        ["analyze", *sets["clean"][0]],
        ["analyze", "--json", *sets["clean"][0]],
        ["history", "import", *sets["clean"][0]],
        ["history"],
        ["trends"],
        ["trends", "--png", tmp_path / "t.png"],
        ["export", "--csv", tmp_path / "csv"],
        ["export", "--json", tmp_path / "x.json"],
    ]
    for cmd in commands:
        code, out, err = run(capsys, *cmd, "--db", db)
        assert code == 2, (cmd, out, err)
        assert "Traceback" not in err
        assert err.count("\n") == 1 and err.startswith(f"calfwalk {cmd[0]}: error: "), err
        assert str(db) in err and words in err and "left untouched" in err, err
        assert db.read_bytes() == before, cmd
        assert sorted(os.listdir(db.parent)) == listing, cmd  # no journal or side file left
    assert not (tmp_path / "t.png").exists() and not (tmp_path / "x.json").exists()


def test_env_variable_chooses_the_file_for_a_real_process(sets, tmp_path):
    db = tmp_path / "env.sqlite3"
    env = host_env(CALFWALK_DB=str(db))
    proc = subprocess.run([sys.executable, "-m", "calfwalk.cli", "analyze", "--json", *sets["clean"][0]],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["steps"] == 20
    assert proc.stderr == f"history: stored set #1 (20 steps, 0 heel contacts) in {db}\n"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID


def test_interrupted_write_is_undone(capsys, sets, _history_db):
    """A calfwalk killed mid-write leaves a hot journal: the next open restores the last committed sets."""
    run(capsys, "history", "import", *sets["faulty"][0], *sets["clean"][0])
    code = (
        "import os, sqlite3\n"
        f"c = sqlite3.connect({str(_history_db)!r}, isolation_level=None)\n"
        "c.execute('PRAGMA cache_size = 1')\n"
        "c.execute('BEGIN')\n"
        "c.execute('DELETE FROM steps')\n"
        "c.execute('UPDATE sets SET steps = 0')\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert Path(f"{_history_db}-journal").exists()
    code, out, err = run(capsys, "trends", "--json")
    assert code == 0, err
    assert json.loads(out)["metrics"]["steps"]["values"] == [24, 20]
    assert counts(_history_db) == (2, 44)
