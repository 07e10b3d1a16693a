"""Several sets in one recording through `calfwalk analyze`, `record` and `summary`: no start command,
each set found by the pod, split in the summary."""

from __future__ import annotations

import json
import os

import pytest

from calfwalk.cli import main
from calfwalk.files.rawfile import read_raw, write_raw
from calfwalk.sim.simulate import SimConfig, write_simulation

from helpers import THREE


def analyze_json(capsys, *paths):
    assert main(["analyze", "--json", "--no-history", *map(str, paths)]) == 0
    return json.loads(capsys.readouterr().out)


def check_sets(summary, truth, feet=("left", "right"), n=3):
    sets = summary["sets"]
    assert [s["set_no"] for s in sets] == list(range(1, n + 1))
    for got, want in zip(sets, truth["sets"]):
        for foot in feet:
            assert got["steps_by_foot"][foot] == len(want["feet"][foot]["steps"]), (got["set_no"], foot)
            assert sum(1 for e in got["events"] if e["type"] == "heel_contact" and e["foot"] == foot) == \
                len(want["feet"][foot]["heel_contacts"])
        # the set starts at the rise onto the toes and ends when the heels are down after the last step
        assert abs(got["start_ms"] - min(want["feet"][f]["set_start_ms"] for f in feet)) <= 300
        assert abs(got["end_ms"] - max(want["feet"][f]["set_end_ms"] for f in feet)) <= 300
        # a set numbers its own steps, and its summary has every key of a summary
        assert [e["n"] for e in got["events"] if e["type"] == "step"] == list(range(1, got["steps"] + 1))
        for key in ("steps", "steps_by_foot", "duration_s", "cadence_spm", "step_time_cv", "events", "heel_contacts",
                    "heel_height_mm", "rules", "one_foot_note", "asymmetry"):
            assert key in got, key
        assert got["duration_s"] == pytest.approx((got["end_ms"] - got["start_ms"]) / 1000, abs=0.01)
    # between the sets: no set (the pod's calibration happens standing, before the first rise)
    in_sets = sum(len(s["events"]) for s in sets)
    outside = [e for e in summary["events"]
               if not any(s["start_ms"] <= e["t_ms"] <= s["end_ms"] for s in sets)]
    assert in_sets + len(outside) == len(summary["events"])
    assert {e["type"] for e in outside} <= {"calibrated"}


def test_analyze_splits_three_sets(capsys, three_sets):
    paths, truth = three_sets
    s = analyze_json(capsys, *paths)
    check_sets(s, truth)
    # the whole recording keeps its keys and figures
    assert s["steps"] == 30 and s["heel_contacts"] == 3
    assert s["steps_by_foot"] == {"left": 15, "right": 15}
    # the rests between sets are not strides
    assert s["cadence_spm"] == pytest.approx(60, abs=2)
    assert s["step_time_cv"] < 0.05
    assert {r["id"]: r for r in s["rules"]}["short_even_steps"]["status"] == "pass"


def test_analyze_prints_each_set(capsys, monkeypatch, three_sets):
    monkeypatch.setenv("COLUMNS", "200")
    paths, _ = three_sets
    assert main(["analyze", "--no-history", *map(str, paths)]) == 0
    out = capsys.readouterr().out
    assert "3 sets" in out
    for k in (1, 2, 3):
        line = next(l for l in out.splitlines() if f"Set {k} " in l)
        assert "10 (5/5)" in line  # steps (left/right)


def test_one_set_gives_one_entry(capsys, tmp_path):
    cfg = SimConfig(**THREE)
    paths = write_simulation(cfg, str(tmp_path / "one"))[:-1]
    s = analyze_json(capsys, *paths)
    assert len(s["sets"]) == 1
    one = s["sets"][0]
    assert one["set_no"] == 1 and one["end_ms"] is not None
    for key in ("steps", "steps_by_foot", "heel_contacts", "cadence_spm", "heel_height_mm", "asymmetry"):
        assert one[key] == s[key], key
    assert [r["status"] for r in one["rules"]] == [r["status"] for r in s["rules"]]


def test_recording_cut_off_mid_set(capsys, tmp_path, three_sets):
    paths, truth = three_sets
    t3 = truth["sets"][2]["feet"]["left"]
    cut = (t3["set_start_ms"] + t3["set_end_ms"]) // 2
    short = []
    for p in paths:
        rec = read_raw(p)
        out = tmp_path / os.path.basename(p)
        write_raw(out, rec.foot, rec.sensor, rec.rate_hz, rec.data[rec.data[:, 0] < cut])
        short.append(out)
    s = analyze_json(capsys, *short)
    assert len(s["sets"]) == 3
    assert s["sets"][1]["end_ms"] is not None and s["sets"][2]["end_ms"] is None
    assert 0 < s["sets"][2]["steps"] < 10


@pytest.fixture(scope="module")
def three_short(tmp_path_factory):
    """Left foot only: three sets of 6 steps, 10 s standing between them (about 52 s of recording)."""
    cfg = SimConfig(**dict(THREE, steps=6, feet="left"))
    paths = write_simulation(cfg, str(tmp_path_factory.mktemp("short") / "w"), sets=3, rest_s=10)
    with open(paths[-1]) as fh:
        truth = json.load(fh)
    return paths[0], truth


@pytest.mark.parametrize("stop,n", [(["--keep-going"], 3), (["--sets", "2"], 2)])
def test_record_three_sets_without_start_command(tmp_path, capsys, three_short, micropython, stop, n):
    """A pod that samples from power-up (autostart) finds the three sets itself; record never sends `start`.

    --keep-going records every set (here until the replay ends); --sets 2 stops after the second.

    The pod replays at 6x real time from the moment it boots, as a board samples from
    power-up; the host opens the port at once (lines sent before that are lost, as
    they would be from a board, and nothing here needs them).
    """
    from calfwalk.sim.podsim import PodProcess

    path, truth = three_short
    session = tmp_path / "three.cwlog"
    with PodProcess(path, speed=6, extra=("autostart=true",)) as pod:
        code = main(["record", "--port", pod.port, "-o", str(session), "--no-start", "--no-history",
                     "--reconnect", "0", "--seconds", "60", *stop])
    capsys.readouterr()
    assert code == 0
    text = session.read_text()
    sent = [line.split("\t")[3] for line in text.splitlines() if line.startswith("tx\t")]
    assert sent == ["status"]  # no `start`
    assert text.count(",E,set_end,") == n
    assert text.count(",E,set_start,") == n  # --sets 2 stopped before the third rise
    assert main(["summary", str(session), "--json", "--no-history"]) == 0
    s = json.loads(capsys.readouterr().out)
    check_sets(s, truth, feet=("left",), n=n)
    assert s["steps"] == 3 * n and [x["steps"] for x in s["sets"]] == [3] * n
    assert s["one_foot_note"] and s["sets"][0]["one_foot_note"] == s["one_foot_note"]
    assert s["alignment"]["method"] == "pod_clocks"  # a replay at 6x real time: the pod's own clock
    # and the printed summary shows each set
    assert main(["summary", str(session), "--no-history"]) == 0
    shown = capsys.readouterr().out
    assert all(f"Set {k} " in shown for k in range(1, n + 1))
