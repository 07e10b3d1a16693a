"""What `calfwalk analyze` says of raw files as crashes and broken sensors leave them (the reader's
side: tests/unit/files/test_raw_robust.py; `left_set`: tests/conftest.py)."""

from __future__ import annotations

import json

import pytest

from calfwalk.cli import main

from helpers import spiky_copy, torn_copy


def summary_of(capsys, path):
    code = main(["analyze", str(path), "--json", "--no-history"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out), err


@pytest.mark.parametrize("cut", [3, 9, 17])
def test_a_torn_last_line_is_a_warning_on_stderr(tmp_path, left_set, capsys, cut):
    torn = torn_copy(left_set[0], tmp_path / "torn_left.csv", cut)
    s, err = summary_of(capsys, torn)
    assert "warning:" in err and "cut off" in err
    assert s["steps"] == 20


def test_samples_beyond_full_scale_are_flagged_and_do_not_make_events(tmp_path, left_set, capsys):
    clean, _ = summary_of(capsys, left_set[0])
    spiky, _rows = spiky_copy(left_set[0], tmp_path / "spiky_left.csv")
    s, err = summary_of(capsys, spiky)
    assert (s["steps"], s["heel_contacts"]) == (clean["steps"], clean["heel_contacts"]) == (20, 2)
    assert "beyond any IMU's full scale" in err
