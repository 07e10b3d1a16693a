"""`calfwalk pull` and `pod log`: a pod walked unplugged, its own log pulled over the link into the
history (the pod's side and the clock's arithmetic: tests/unit/device/test_pull.py)."""

from __future__ import annotations

import json
import time

import pytest

from calfwalk.link import transport as link
from calfwalk.device import podlog
from calfwalk.cli import main
from calfwalk.output.history import History
from calfwalk.device.podlog import read_log_dir
from calfwalk.sim.podsim import PodProcess

pytestmark = pytest.mark.usefixtures("micropython")


def _analyze(capsys, raw):
    assert main(["analyze", str(raw), "--json", "--no-history"]) == 0
    summary = json.loads(capsys.readouterr().out)
    return [(s["steps"], s["heel_contacts"]) for s in summary["sets"]]


def _stored(db):
    with History.open(db) as h:
        return [(r["steps"], r["heel_contacts"], r["source_kind"]) for r in h.sets()]


def _walk_unplugged(raw, flash, extra=()):
    pod = PodProcess(str(raw), speed=0, flash=str(flash), unplugged=True, extra=extra)
    pod.plug()  # the recording has been walked with nobody listening; now the cable goes in
    return pod


def test_walk_unplugged_then_pull_equals_analyze(capsys, tmp_path, two_sets, _history_db):
    raw, truth = two_sets
    want = _analyze(capsys, raw)
    assert len(want) == 2 and all(c >= 1 for _s, c in want)  # two sets, each with a heel contact
    with _walk_unplugged(raw, tmp_path / "flash") as pod:
        assert main(["pod", "log", "--port", pod.port]) == 0
        listed = capsys.readouterr().out
        assert "2 set(s), 2 not pulled yet" in listed
        assert main(["pull", "--port", pod.port]) == 0
        out = capsys.readouterr().out
        assert "pulled 2 sets" in out and "2 marked as pulled on the pod" in out
        assert [(s, c) for s, c, _k in _stored(_history_db)] == want, out
        assert {k for _s, _c, k in _stored(_history_db)} == {"pulled"}
        # again: the pod has nothing new, and the history stays as it was
        assert main(["pull", "--port", pod.port]) == 0
        assert "nothing new on the pod" in capsys.readouterr().out
        assert main(["pod", "log", "--port", pod.port]) == 0
        assert "2 set(s), 0 not pulled yet" in capsys.readouterr().out
    assert len(_stored(_history_db)) == 2
    assert main(["history"]) == 0
    shown = capsys.readouterr().out
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in shown.splitlines() if line.startswith("│")]
    assert [(int(r[4]), int(r[5])) for r in rows] == want  # `calfwalk history`: steps, heel contacts
    # the flash holds each set in its own file, every record whole
    files = read_log_dir(tmp_path / "flash" / "log")
    sets = [name for name in files if name.endswith(".set")]
    assert len(sets) == 2 and all(torn == 0 for _r, torn in files.values())


def test_keep_then_pull_again_stores_nothing_twice(capsys, tmp_path, two_sets, _history_db):
    raw, _truth = two_sets
    with _walk_unplugged(raw, tmp_path / "flash") as pod:
        assert main(["pull", "--port", pod.port, "--keep"]) == 0
        assert "kept on the pod" in capsys.readouterr().out
        assert main(["pull", "--port", pod.port]) == 0
        out = capsys.readouterr().out
        assert out.count("already stored") == 2 and "2 marked as pulled" in out
    assert len(_stored(_history_db)) == 2


class _CableOut(link.SerialTransport):
    """A serial port whose cable is pulled out after `after` record (P) lines."""

    after = None  # None: plugged in for good

    def read(self, timeout):
        data = super().read(timeout)
        if _CableOut.after is None:
            return data
        _CableOut.after -= data.count(b",P,")
        if _CableOut.after < 0:
            _CableOut.after = None
            raise link.LinkLost(f"{self.port}: the cable was pulled out")
        return data


def test_an_interrupted_pull_loses_nothing_and_resumes(capsys, tmp_path, two_sets, monkeypatch, _history_db):
    raw, _truth = two_sets
    want = _analyze(capsys, raw)
    with _walk_unplugged(raw, tmp_path / "flash") as pod:
        monkeypatch.setattr(link, "open_transport", lambda port, baud=115200: _CableOut(port, baud))
        _CableOut.after = 30  # the first set (about 20 records) arrives, the second is cut mid-transfer
        assert main(["pull", "--port", pod.port]) == 2
        err = capsys.readouterr().err
        assert "went away during the pull" in err and "run `calfwalk pull` again" in err
        assert [(s, c) for s, c, _k in _stored(_history_db)] == want[:1]  # the whole first set, nothing of the second
        assert main(["pod", "log", "--port", pod.port]) == 0
        assert "2 set(s), 1 not pulled yet" in capsys.readouterr().out
        assert main(["pull", "--port", pod.port]) == 0
        out = capsys.readouterr().out
        assert "pulled 1 set " in out, out
    assert [(s, c) for s, c, _k in _stored(_history_db)] == want, out


@pytest.fixture(scope="module")
def two_feet(tmp_path_factory):
    """A raw recording of two sets on both feet (heel contacts on the left), and its raw files."""
    from calfwalk.sim.simulate import HeelTouch, SimConfig, write_simulation

    folder = tmp_path_factory.mktemp("two_feet")
    cfg = SimConfig(steps=20, feet="both", mount="random", seed=11,
                    heel_touches=[HeelTouch(6, 300, 1500), HeelTouch(13, 200, 0)])
    paths = write_simulation(cfg, str(folder / "walk"), sets=2, rest_s=8.0)
    left = next(p for p in paths if p.endswith("_left.csv"))
    right = next(p for p in paths if p.endswith("_right.csv"))
    return left, right


def _feet_row(s):
    return (s["steps_by_foot"]["left"], s["steps_by_foot"]["right"], s["heel_contacts"], s["asymmetry"])


def test_two_pods_pulled_separately_make_one_two_foot_set_per_set(capsys, tmp_path, two_feet, monkeypatch,
                                                                   _history_db):
    left, right = two_feet
    assert main(["analyze", left, right, "--json", "--no-history"]) == 0
    want = [_feet_row(s) for s in json.loads(capsys.readouterr().out)["sets"]]
    assert len(want) == 2 and want[0][2] >= 1 and all(w[3]["heel_contacts"]["left"] >= 1 for w in want)
    # the PC's clock for the pulls: a fixed date, advancing with the pods' own uptime (both start together)
    launched = time.monotonic()
    monkeypatch.setattr(podlog, "pc_clock", lambda: 1_800_000_000.0 + time.monotonic() - launched)
    # four times real time: each set is a few seconds of the pods' uptime, the rest between them 2 s
    with PodProcess(left, speed=4, flash=str(tmp_path / "left"), unplugged=True) as lp, \
            PodProcess(right, speed=4, flash=str(tmp_path / "right"), unplugged=True) as rp:
        lp.plug(timeout=120)
        rp.plug(timeout=120)
        # the right pod first, kept on it: its sets wait in the history as one foot each
        assert main(["pull", "--port", rp.port, "--keep"]) == 0
        out = capsys.readouterr().out
        assert out.count("kept as one foot: no set of the other foot overlaps it") == 2, out
        right_only = [(w[1], w[3]["heel_contacts"]["right"]) for w in want]
        assert [(s, c) for s, c, _k in _stored(_history_db)] == right_only  # the right foot's steps and contacts
        # then the left pod: each of its sets finds its right set
        assert main(["pull", "--port", lp.port]) == 0
        out = capsys.readouterr().out
        paired = [line for line in out.splitlines() if line.startswith("paired: ")]
        assert len(paired) == 2, out
        assert "left pod set 1 (#3) + right pod set 1 (#1) -> two-foot set #5" in paired[0]
        assert "left pod set 2 (#4) + right pod set 2 (#2) -> two-foot set #6" in paired[1]
        assert all("strides" in line and "clocks left ±" in line for line in paired)
        # the right pod again: its sets are in the two-foot sets, nothing stored twice
        assert main(["pull", "--port", rp.port]) == 0
        out = capsys.readouterr().out
        assert out.count("already stored (in two-foot set #") == 2 and "paired" not in out, out
    with History.open(_history_db) as h:
        rows = h.sets()
        parts = h.parts()
    assert [r["feet"] for r in rows] == ["left,right", "left,right"]
    got = [_feet_row(json.loads(r["summary"])) for r in rows]
    assert got == want
    assert [(r["steps_left"], r["steps_right"]) for r in rows] == [(w[0], w[1]) for w in want]
    # what paired with what, and how sure, is kept
    pairing = [json.loads(r["summary"])["pairing"] for r in rows]
    assert [p["status"] for p in pairing] == ["match", "match"]
    assert all(p["overlap_pct"] >= 50 and p["rhythm_diff_pct"] <= 10 for p in pairing)
    assert sorted(p["foot"] for p in parts) == ["left", "left", "right", "right"]
    assert main(["history"]) == 0
    shown = capsys.readouterr().out
    table = [[c.strip() for c in line.split("│")[1:-1]] for line in shown.splitlines() if line.startswith("│")]
    assert [(r[3], int(r[4]), int(r[5])) for r in table] == [("L+R", w[0] + w[1], w[2]) for w in want]
