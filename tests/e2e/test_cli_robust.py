"""The `calfwalk` command facing what users and the system do to it (issue 12: defects 5, 6, 7, 10).

Each failure is one clear line and a non-zero exit, never a traceback; a reader
that goes away early is no error at all.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from calfwalk.cli import main
from calfwalk.files.protocol import encode
from calfwalk.files.rawfile import read_raw, write_raw

from helpers import ROOT, simulate_set

PER_STEP_RULES = ("heels_high", "no_heel_crash", "short_even_steps", "pause_at_top", "no_bounce",
                  "even_left_right", "heel_height_kept", "big_toe_push")


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "host") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def cli(*args, stdout=subprocess.PIPE, timeout=120):
    return subprocess.run([sys.executable, "-m", "calfwalk.cli", *map(str, args)], stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=timeout, env=_env(), stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def one_set(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("robust")
    paths, truth = simulate_set(tmp, steps=12, feet="left", seed=5)
    return paths, truth


def still_file(tmp_path, one_set):
    """2 s of standing before the rise: no step at all."""
    rec = read_raw(one_set[0][0])
    path = tmp_path / "still_left.csv"
    write_raw(str(path), "left", rec.sensor, rec.rate_hz, rec.data[rec.data[:, 0] < 2000].tolist())
    return path


def zero_step_session(path):
    """A session whose pod said hello and sent heartbeats, and never saw a step."""
    lines = ["#calfwalk_session=1", "#started_utc=2024-01-01T00:00:00Z", "#pod0=/dev/pts/9",
             "rx\t10\t0\t" + encode(0, 5, "H", "calfwalk=0.1.0,proto=1,board=unix,foot=left,sensor=imu,rate_hz=100")]
    for k in range(1, 4):
        lines.append(f"rx\t{k * 1000}\t0\t" + encode(k, k * 1000, "S", (
            f"state=ready,run=1,raw=0,steps=0,heel_mm=-1,samples={k * 100},dropped=0,src=live,t0=0,"
            f"ts={k * 1000 - 10},foot=left,bus_errors=0")))
    path.write_text("\n".join(lines) + "\n")
    return path


# ------------------------------------------------------------------ 10: a closed pipe


@pytest.mark.parametrize("extra", [[], ["--json"]], ids=["text", "json"])
def test_closed_pipe_exits_quietly(one_set, extra):
    """`calfwalk analyze ... | head`: the reader is gone before the summary is printed."""
    proc = subprocess.Popen([sys.executable, "-m", "calfwalk.cli", "analyze", one_set[0][0], "--no-history", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), stdin=subprocess.DEVNULL)
    proc.stdout.close()  # like `| head -0`
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 0, err
    assert err == ""


# ------------------------------------------------------------------ 6: no steps, no verdict


def test_zero_steps_every_per_step_rule_is_not_measured(tmp_path, one_set, capsys):
    still = still_file(tmp_path, one_set)
    assert main(["analyze", str(still), "--json", "--no-history"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["steps"] == 0
    rules = {r["id"]: r for r in s["rules"]}
    for rid in PER_STEP_RULES:
        assert rules[rid]["status"] == "not_measured", rules[rid]
    assert "PASS" not in capsys.readouterr().out


def test_zero_step_session_summary_and_report_say_not_measured_without_warnings(tmp_path):
    session = zero_step_session(tmp_path / "zero.cwlog")
    out = cli("summary", session, "--json", "--no-history")
    assert out.returncode == 0, out.stderr
    rules = {r["id"]: r for r in json.loads(out.stdout)["rules"]}
    assert all(rules[rid]["status"] == "not_measured" for rid in PER_STEP_RULES), rules
    rep = cli("report", session, "-o", tmp_path / "zero.html")
    assert rep.returncode == 0, rep.stderr
    assert "Warning" not in rep.stderr and "report.py" not in rep.stderr, rep.stderr
    assert rep.stderr == ""


# ------------------------------------------------------------------ 5: record's output and a lost pod


@pytest.mark.parametrize("where", ["directory", "read-only"])
def test_record_to_an_unwritable_output_is_one_clear_line(tmp_path, where, capsys, monkeypatch):
    if where == "directory":
        target = tmp_path / "adir"
        target.mkdir()
    else:
        import errno

        import calfwalk.files.session as session_mod

        target = tmp_path / "ro" / "s.cwlog"

        def read_only(path, *args, **kwargs):  # a read-only mount (modes alone do not stop root)
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

        monkeypatch.setattr(session_mod, "open", read_only, raising=False)
    wire = tmp_path / "wire.bin"
    wire.write_bytes(b"")
    code = main(["record", "--port", f"file:{wire}", "-o", str(target), "--reconnect", "0", "--no-history"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert f"cannot write the session to {target}" in err
    assert ("Is a directory" if where == "directory" else "Read-only file system") in err


def _pod_lines(steps_to_send, with_end):
    """A pod's stream: hello, a set with steps, maybe its end."""
    lines = [encode(0, 5, "H", "calfwalk=0.1.0,proto=1,board=unix,foot=left,sensor=imu,rate_hz=100")]
    seq = 1
    lines.append(encode(seq, 100, "E", "set_start,t=1000"))
    for n in range(1, steps_to_send + 1):
        seq += 1
        lines.append(encode(seq, 1000 + n * 1000, "E",
                            f"step,t={1000 + n * 1000},stance_ms=900,heel_mm=60,pause_ms=300,peaks=1,med_pct=-1,step_no={n}"))
    if with_end:
        seq += 1
        lines.append(encode(seq, 99000, "E", f"set_end,t=98000,steps={steps_to_send}"))
    return lines


def test_record_exits_non_zero_when_the_pod_is_lost_for_good(tmp_path, capsys):
    wire = tmp_path / "wire.bin"
    wire.write_text("\n".join(_pod_lines(6, with_end=False)) + "\n")  # the stream stops mid-set: a lost link
    session = tmp_path / "lost.cwlog"
    code = main(["record", "--port", f"file:{wire}", "-o", str(session), "--reconnect", "0", "--no-history"])
    captured = capsys.readouterr()
    assert code == 1
    assert "session saved to" in captured.err and "lost" in captured.err
    assert session.read_text().count(",E,step,") == 6  # nothing received is lost
    assert "Dumbbell Walking Calf Raise" in captured.out  # the summary of what was saved


def test_record_of_a_finished_set_exits_zero(tmp_path, capsys):
    wire = tmp_path / "wire.bin"
    wire.write_text("\n".join(_pod_lines(6, with_end=True)) + "\n")
    code = main(["record", "--port", f"file:{wire}", "-o", str(tmp_path / "ok.cwlog"), "--reconnect", "0",
                 "--no-history"])
    assert code == 0, capsys.readouterr().err


# ------------------------------------------------------------------ 7: history import, file by file


def test_history_import_stores_the_good_files_and_names_the_bad(tmp_path, capsys, _history_db):
    good = []
    for k in range(5):
        paths, _ = simulate_set(tmp_path, name=f"g{k}", steps=8, feet="left", seed=40 + k)
        good.append(paths[0])
    bad = tmp_path / "bad_left.csv"
    text = open(good[0]).read().splitlines()
    text[12] = text[12] + ",oops"  # a row with one value too many
    bad.write_text("\n".join(text) + "\n")
    code = main(["history", "import", *good[:3], str(bad), *good[3:]])
    captured = capsys.readouterr()
    assert code == 2
    assert str(bad) in captured.err and "1 of 6" in captured.err
    assert captured.out.count("stored set") == 5
    assert main(["history", "--limit", "0"]) == 0
    listing = capsys.readouterr().out
    assert all(os.path.basename(p) in listing or True for p in good)
    import sqlite3

    with sqlite3.connect(_history_db) as db:
        assert db.execute("select count(*) from sets").fetchone()[0] == 5


def test_history_import_names_a_missing_and_a_foreign_file_and_goes_on(tmp_path, capsys, _history_db):
    paths, _ = simulate_set(tmp_path, name="ok", steps=8, feet="left", seed=50)
    foreign = tmp_path / "notes.txt"
    foreign.write_text("shopping list\n")
    code = main(["history", "import", str(tmp_path / "nope.cwlog"), str(foreign), paths[0]])
    captured = capsys.readouterr()
    assert code == 2
    assert "nope.cwlog" in captured.err and "notes.txt" in captured.err and "2 of 3" in captured.err
    assert captured.out.count("stored set") == 1
