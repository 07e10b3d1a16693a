"""Raw v1 files as crashes and broken sensors leave them (issue 12, defect 8). `left_set`: tests/conftest.py;
what `calfwalk analyze` says of them: tests/e2e/test_raw_robust_cli.py."""

from __future__ import annotations

import numpy as np
import pytest

from calfwalk.files.rawfile import RawFormatError, open_raw, read_raw

from helpers import spiky_copy, torn_copy


def streamed(path):
    """One raw file read a block at a time, as `calfwalk analyze` reads it: (its samples, what
    reading it repaired or dropped)."""
    stream = open_raw(path)
    rows = np.concatenate([block for block, _work in stream.blocks()])
    return rows, stream.warnings


@pytest.mark.parametrize("cut", [3, 9, 17])
def test_a_torn_last_line_is_dropped_with_a_warning(tmp_path, left_set, cut):
    path, _ = left_set
    text = open(path).read()
    torn = torn_copy(path, tmp_path / "torn_left.csv", cut)
    whole = read_raw(path)
    rec = read_raw(torn)
    assert len(rec.data) == len(whole.data) - 1
    assert (rec.data == whole.data[:-1]).all()
    assert len(rec.warnings) == 1 and "cut off" in rec.warnings[0]
    n_lines = text.count("\n")
    assert f":{n_lines}:" in rec.warnings[0]  # names the line
    rows, warnings = streamed(torn)
    assert warnings == rec.warnings and (rows == rec.data).all()


def test_a_damaged_line_in_the_middle_is_still_refused(tmp_path, left_set):
    path, _ = left_set
    lines = open(path).read().splitlines()
    lines[40] = lines[40][:5]
    bad = tmp_path / "mid_left.csv"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(RawFormatError, match=":41: expected 7 values"):
        read_raw(bad)


def test_samples_beyond_full_scale_are_flagged_and_held(tmp_path, left_set):
    """(That they make no events, where analysed as motion this set gave 21 steps and 5 heel contacts:
    tests/e2e/test_raw_robust_cli.py.)"""
    path, _truth = left_set
    spiky, rows = spiky_copy(path, tmp_path / "spiky_left.csv")
    rec = read_raw(spiky)
    got, warnings = streamed(spiky)
    assert warnings == rec.warnings and (got == rec.data).all()
    assert len(rec.warnings) == 1 and f"{len(rows)} sample(s) beyond any IMU's full scale" in rec.warnings[0]
    assert f":{rows[0] + 1}:" in rec.warnings[0]
    assert np.abs(rec.data[:, 1:4]).max() <= 32000


def test_a_file_of_nothing_but_implausible_samples_is_refused(tmp_path):
    p = tmp_path / "junk_left.csv"
    p.write_text("#calfwalk_raw=1\n#foot=left\n#sensor=imu\n#rate_hz=100\nt_ms,ax_mg,ay_mg,az_mg,gx_mdps,gy_mdps,gz_mdps\n"
                 + "".join(f"{10 * k},2000000000,0,0,0,0,0\n" for k in range(5)))
    with pytest.raises(RawFormatError, match="no plausible IMU sample"):
        read_raw(p)
