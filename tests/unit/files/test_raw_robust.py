"""Raw v1 files as crashes and broken sensors leave them (issue 12, defect 8)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from calfwalk.cli import main
from calfwalk.files.rawfile import RawFormatError, read_raw

from helpers import simulate_set


@pytest.fixture(scope="module")
def left_set(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rawrobust")
    paths, truth = simulate_set(tmp, steps=40, feet="left", seed=17, heel_touches=[(10, 300, 3000), (26, 300, 0)])
    return paths[0], truth


def summary_of(capsys, path):
    code = main(["analyze", str(path), "--json", "--no-history"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out), err


@pytest.mark.parametrize("cut", [3, 9, 17])
def test_a_torn_last_line_is_dropped_with_a_warning(tmp_path, left_set, capsys, cut):
    path, _ = left_set
    text = open(path).read()
    last = text.rstrip("\n").rsplit("\n", 1)[1]
    torn = tmp_path / "torn_left.csv"
    torn.write_text(text.rstrip("\n")[: -len(last)] + last[:cut])  # the crash came mid-line
    whole = read_raw(path)
    rec = read_raw(torn)
    assert len(rec.data) == len(whole.data) - 1
    assert (rec.data == whole.data[:-1]).all()
    assert len(rec.warnings) == 1 and "cut off" in rec.warnings[0]
    n_lines = text.count("\n")
    assert f":{n_lines}:" in rec.warnings[0]  # names the line
    s, err = summary_of(capsys, torn)
    assert "warning:" in err and "cut off" in err
    assert s["steps"] == 20


def test_a_damaged_line_in_the_middle_is_still_refused(tmp_path, left_set):
    path, _ = left_set
    lines = open(path).read().splitlines()
    lines[40] = lines[40][:5]
    bad = tmp_path / "mid_left.csv"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(RawFormatError, match=":41: expected 7 values"):
        read_raw(bad)


def test_samples_beyond_full_scale_are_flagged_and_do_not_make_events(tmp_path, left_set, capsys):
    path, truth = left_set
    clean, _ = summary_of(capsys, path)
    assert clean["steps"] == 20 and clean["heel_contacts"] == 2
    lines = open(path).read().splitlines()
    first_row = next(i for i, l in enumerate(lines) if l.startswith("t_ms")) + 1
    # 12 bursts of 1-5 samples with 1-3 columns at +-2e9 (a broken sensor read): with them analysed as
    # motion this set gave 21 steps and 5 heel contacts
    rng = np.random.default_rng(5)
    bursts = []
    for _ in range(12):
        i, n = first_row + int(rng.integers(500, len(lines) - first_row - 300)), int(rng.integers(1, 6))
        for c in rng.choice(np.arange(1, 7), int(rng.integers(1, 4)), replace=False):
            for j in range(i, i + n):
                v = lines[j].split(",")
                v[c] = str(2_000_000_000 if rng.random() < 0.5 else -2_000_000_000)
                lines[j] = ",".join(v)
        bursts.append((i, n))
    rows = sorted({j for i, n in bursts for j in range(i, i + n)})
    spiky = tmp_path / "spiky_left.csv"
    spiky.write_text("\n".join(lines) + "\n")
    s, err = summary_of(capsys, spiky)
    assert (s["steps"], s["heel_contacts"]) == (clean["steps"], clean["heel_contacts"]) == (20, 2)
    assert "beyond any IMU's full scale" in err
    rec = read_raw(spiky)
    assert len(rec.warnings) == 1 and f"{len(rows)} sample(s) beyond any IMU's full scale" in rec.warnings[0]
    assert f":{rows[0] + 1}:" in rec.warnings[0]
    assert np.abs(rec.data[:, 1:4]).max() <= 32000


def test_a_file_of_nothing_but_implausible_samples_is_refused(tmp_path):
    p = tmp_path / "junk_left.csv"
    p.write_text("#calfwalk_raw=1\n#foot=left\n#sensor=imu\n#rate_hz=100\nt_ms,ax_mg,ay_mg,az_mg,gx_mdps,gy_mdps,gz_mdps\n"
                 + "".join(f"{10 * k},2000000000,0,0,0,0,0\n" for k in range(5)))
    with pytest.raises(RawFormatError, match="no plausible IMU sample"):
        read_raw(p)
