"""Raw recording format v1 (host/calfwalk/rawfile.py): round trips and every malformed case.

A malformed file must raise RawFormatError whose message is "PATH:LINE: problem"
(or "PATH: problem" when no single line is to blame, e.g. a missing file).
"""

from __future__ import annotations

import numpy as np
import pytest

from calfwalk.files.rawfile import (
    ACC_COLUMNS,
    FSR_COLUMNS,
    IMU_COLUMNS,
    RawFormatError,
    RawRecording,
    columns_for,
    open_raw,
    read_raw,
    write_raw,
)

INT32_MAX = 2**31 - 1


def sample_data(sensor, n=50, seed=0):
    """Integer rows for `sensor`: increasing t_ms, wide IMU values, FSR counts in 0..65535."""
    rng = np.random.default_rng(seed)
    cols = columns_for(sensor)
    data = np.zeros((n, len(cols)), dtype=np.int64)
    data[:, 0] = 1_000_000 + np.cumsum(rng.integers(1, 30, n))
    for k, name in enumerate(cols[1:], 1):
        if name in FSR_COLUMNS:
            data[:, k] = rng.integers(0, 65536, n)
            data[0, k] = 0
            data[1, k] = 65535
        else:
            data[:, k] = rng.integers(-2_000_000, 2_000_001, n)
            data[0, k] = INT32_MAX
            data[1, k] = -INT32_MAX
    return data


# ------------------------------------------------------------------ round trips

@pytest.mark.parametrize("sensor", ["imu", "acc", "fsr", "imu+fsr", "acc+fsr"])
@pytest.mark.parametrize("foot", ["left", "right"])
def test_round_trip(tmp_path, sensor, foot):
    data = sample_data(sensor, seed=len(sensor))
    path = tmp_path / f"{foot}.csv"
    write_raw(path, foot, sensor, 104, data, extra_meta={"board": "pico", "seed": 7})
    rec = read_raw(path, plausible=False)  # the format carries any 32-bit value
    if "imu" in sensor or "acc" in sensor:  # for analysis, values past any IMU's full scale are not motion
        with pytest.raises(RawFormatError, match="no plausible IMU sample"):
            read_raw(path)
    assert isinstance(rec, RawRecording)
    assert (rec.foot, rec.sensor, rec.rate_hz) == (foot, sensor, 104)
    assert rec.path == str(path)
    assert rec.columns == columns_for(sensor)
    assert rec.data.dtype == np.int64
    assert rec.data.shape == data.shape
    np.testing.assert_array_equal(rec.data, data)
    assert rec.meta == {"calfwalk_raw": "1", "foot": foot, "sensor": sensor, "rate_hz": "104",
                        "board": "pico", "seed": "7"}
    assert rec.has_imu == rec.has_gyro == ("imu" in sensor)
    assert rec.has_acc == ("imu" in sensor or "acc" in sensor)
    assert rec.has_fsr == ("fsr" in sensor)
    np.testing.assert_array_equal(rec.column("t_ms"), data[:, 0])
    last = columns_for(sensor)[-1]
    np.testing.assert_array_equal(rec.column(last), data[:, -1])
    assert rec.duration_s == pytest.approx((data[-1, 0] - data[0, 0]) / 1000.0)


def test_written_file_layout(tmp_path):
    """The exact text write_raw produces: metadata lines, the header row, integer rows."""
    path = tmp_path / "r.csv"
    write_raw(path, "right", "fsr", 100, [[0, 1, 2, 3], [10, 65535, 0, 7]])
    assert path.read_bytes() == (
        b"#calfwalk_raw=1\n#foot=right\n#sensor=fsr\n#rate_hz=100\n"
        b"t_ms,heel,fore_med,fore_lat\n0,1,2,3\n10,65535,0,7\n"
    )


def test_reader_accepts_crlf_blank_lines_and_comments(tmp_path):
    path = tmp_path / "crlf.csv"
    text = ("#calfwalk_raw=1\r\n#foot=left\r\n# a free comment after the metadata\r\n#sensor=imu\r\n#rate_hz=50\r\n"
            "\r\n" + ",".join(IMU_COLUMNS) + "\r\n0,1,2,3,4,5,6\r\n\r\n20,-1,-2,-3,-4,-5,-6\r\n")
    path.write_bytes(text.encode())
    rec = read_raw(path)
    assert rec.rate_hz == 50
    assert rec.data.tolist() == [[0, 1, 2, 3, 4, 5, 6], [20, -1, -2, -3, -4, -5, -6]]


def test_accelerometer_only_columns(tmp_path):
    """sensor acc: t_ms,ax_mg,ay_mg,az_mg (no gyro columns); acc+fsr: then the three pads."""
    assert columns_for("acc") == ACC_COLUMNS == ("t_ms", "ax_mg", "ay_mg", "az_mg")
    assert columns_for("acc+fsr") == ("t_ms", "ax_mg", "ay_mg", "az_mg", "heel", "fore_med", "fore_lat")
    path = tmp_path / "acc.csv"
    write_raw(path, "left", "acc+fsr", 100, [[0, 1, 2, 1000, 5, 6, 7], [10, -1, -2, 999, 65535, 0, 3]])
    assert path.read_text().splitlines()[4:] == ["t_ms,ax_mg,ay_mg,az_mg,heel,fore_med,fore_lat", "0,1,2,1000,5,6,7",
                                                 "10,-1,-2,999,65535,0,3"]
    rec = read_raw(path)
    assert (rec.sensor, rec.has_acc, rec.has_gyro, rec.has_fsr) == ("acc+fsr", True, False, True)
    with pytest.raises(ValueError, match="4 columns"):
        write_raw(tmp_path / "x.csv", "left", "acc", 100, np.zeros((3, 7), dtype=np.int64))


def test_accelerometer_only_implausible_samples_are_held(tmp_path):
    path = write_lines(tmp_path, lines(sensor="#sensor=acc", header=",".join(ACC_COLUMNS),
                                       rows=["0,1,2,1000", "10,99999,2,1000", "20,3,4,1000"]))
    rec = read_raw(path)
    assert rec.data.tolist() == [[0, 1, 2, 1000], [10, 1, 2, 1000], [20, 3, 4, 1000]]
    assert len(rec.warnings) == 1 and "ax_mg=99999" in rec.warnings[0] and "gx_mdps" not in rec.warnings[0]


def test_write_raw_rejects_wrong_width(tmp_path):
    with pytest.raises(ValueError, match="7 columns"):
        write_raw(tmp_path / "x.csv", "left", "imu", 100, np.zeros((3, 4), dtype=np.int64))
    assert not (tmp_path / "x.csv").exists()


# ------------------------------------------------------------------ malformed files

IMU_HEADER = ",".join(IMU_COLUMNS)
FSR_HEADER = ",".join(FSR_COLUMNS)
GOOD_ROWS = ["0,1,2,1000,4,5,6", "10,1,2,1000,4,5,6", "20,1,2,1000,4,5,6"]


def lines(magic="#calfwalk_raw=1", foot="#foot=left", sensor="#sensor=imu", rate="#rate_hz=100",
          header=IMU_HEADER, rows=GOOD_ROWS):
    """A raw file's lines; pass None to leave a line out."""
    return [x for x in (magic, foot, sensor, rate, header, *rows) if x is not None]


def write_lines(tmp_path, items, name="bad.csv"):
    path = tmp_path / name
    path.write_text("".join(x + "\n" for x in items), encoding="utf-8")
    return path


def expect_error(path, line, *words):
    """read_raw(path) fails with 'PATH:LINE: ...' (or 'PATH: ...' for line 0) naming every word."""
    with pytest.raises(RawFormatError) as info:
        read_raw(path)
    err = info.value
    msg = str(err)
    where = f"{path}:{line}: " if line else f"{path}: "
    assert msg.startswith(where), f"{msg!r} should start with {where!r}"
    for word in words:
        assert word in msg, f"{word!r} missing from {msg!r}"
    assert "\n" not in msg
    assert err.path == str(path)
    assert err.line == line
    assert isinstance(err, ValueError)  # callers may catch ValueError
    return msg


# (id, lines, expected line number, words the message must contain)
LINE_CASES = [
    ("missing-magic", lines(magic=None), 1, ["#calfwalk_raw=1"]),
    ("wrong-version", lines(magic="#calfwalk_raw=2"), 1, ["#calfwalk_raw=1"]),
    ("plain-csv", [IMU_HEADER, *GOOD_ROWS], 1, ["#calfwalk_raw=1"]),
    ("missing-foot", lines(foot=None), 4, ["#foot="]),
    ("missing-sensor", lines(sensor=None), 4, ["#sensor="]),
    ("missing-rate", lines(rate=None), 4, ["#rate_hz="]),
    ("bad-foot", lines(foot="#foot=middle"), 5, ["foot", "'middle'", "left", "right"]),
    ("bad-sensor", lines(sensor="#sensor=baro"), 5, ["sensor", "'baro'", "imu, acc, fsr, imu+fsr, acc+fsr"]),
    ("imu-header-for-acc", lines(sensor="#sensor=acc"), 5, ["sensor=acc", "t_ms,ax_mg,ay_mg,az_mg", IMU_HEADER]),
    ("rate-too-low", lines(rate="#rate_hz=10"), 5, ["rate_hz 10", "25..1000"]),
    ("rate-too-high", lines(rate="#rate_hz=5000"), 5, ["rate_hz 5000", "25..1000"]),
    ("rate-not-int", lines(rate="#rate_hz=fast"), 5, ["rate_hz", "'fast'"]),
    ("imu-header-for-fsr", lines(sensor="#sensor=fsr"), 5, ["sensor=fsr", FSR_HEADER, IMU_HEADER]),
    ("fsr-header-for-imu", lines(header=FSR_HEADER), 5, ["sensor=imu", IMU_HEADER]),
    ("imu-header-for-both", lines(sensor="#sensor=imu+fsr"), 5, ["sensor=imu+fsr", IMU_HEADER + ",heel,fore_med,fore_lat"]),
    ("too-few-values", lines(rows=[GOOD_ROWS[0], "10,1,2,1000,4,5"]), 7, ["expected 7 values, got 6"]),
    ("too-many-values", lines(rows=GOOD_ROWS + ["30,1,2,1000,4,5,6,7"]), 9, ["expected 7 values, got 8"]),
    ("trailing-comma", lines(rows=GOOD_ROWS[:2] + ["20,1,2,1000,4,5,6,"]), 8, ["expected 7 values, got 8"]),
    ("float-value", lines(rows=GOOD_ROWS + ["30,1,2,1.5,4,5,6"]), 9, ["not an integer", "'1.5'"]),
    ("word-value", lines(rows=["0,1,2,1000,4,5,6", "x1,1,2,1000,4,5,6"]), 7, ["not an integer", "'x1'"]),
    ("empty-value", lines(rows=["0,1,2,1000,4,,6"]), 6, ["not an integer", "''"]),
    ("metadata-after-header", lines(rows=[GOOD_ROWS[0], "#late=1", GOOD_ROWS[1]]), 7, ["metadata", "after the header"]),
    ("comment-before-magic", ["# hello"] + lines(), 1, ["#key=value", "'# hello'"]),
]


@pytest.mark.parametrize("items,line,words", [c[1:] for c in LINE_CASES], ids=[c[0] for c in LINE_CASES])
def test_malformed_names_file_line_and_problem(tmp_path, items, line, words):
    expect_error(write_lines(tmp_path, items), line, *words)


def test_line_numbers_count_blank_lines(tmp_path):
    items = lines(rows=["0,1,2,1000,4,5,6", "", "", "10,1,2,1000,4,5,6", "20,1,2,1000,4,5"])
    expect_error(write_lines(tmp_path, items), 10, "expected 7 values, got 6")


def test_bad_row_deep_in_a_long_file(tmp_path):
    rows = [f"{10 * i},1,2,1000,4,5,6" for i in range(5000)]
    rows[4321] = "43210,1,2,1000,4,5,six"
    expect_error(write_lines(tmp_path, lines(rows=rows)), 5 + 4321 + 1, "not an integer", "'six'")


# Problems found after all rows are read. The message names the file and the problem;
# the line is asserted separately below (see test_*_line_number).
VALUE_CASES = [
    ("t-equal", lines(rows=["0,1,2,1000,4,5,6", "10,1,2,1000,4,5,6", "10,1,2,1000,4,5,6"]), ["t_ms must increase", "t_ms=10 after 10"]),
    ("t-backwards", lines(rows=["0,1,2,1000,4,5,6", "10,1,2,1000,4,5,6", "5,1,2,1000,4,5,6"]), ["t_ms must increase", "t_ms=5 after 10"]),
    ("fsr-too-high", lines(sensor="#sensor=fsr", header=FSR_HEADER, rows=["0,1,2,3", "10,1,65536,3"]), ["fore_med", "0..65535"]),
    ("fsr-negative", lines(sensor="#sensor=imu+fsr", header=IMU_HEADER + ",heel,fore_med,fore_lat",
                           rows=["0,1,2,1000,4,5,6,7,8,9", "10,1,2,1000,4,5,6,-1,8,9"]), ["heel", "0..65535"]),
    ("int32-overflow", lines(rows=["0,1,2,1000,4,5,6", f"10,1,2,{2**31},4,5,6"]), ["32-bit"]),
]


@pytest.mark.parametrize("items,words", [c[1:] for c in VALUE_CASES], ids=[c[0] for c in VALUE_CASES])
def test_bad_values_name_file_and_problem(tmp_path, items, words):
    path = write_lines(tmp_path, items)
    with pytest.raises(RawFormatError) as info:
        read_raw(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}:"), msg
    for word in words:
        assert word in msg, f"{word!r} missing from {msg!r}"


def test_non_increasing_t_ms_line_number(tmp_path):
    items = lines(rows=["0,1,2,1000,4,5,6", "10,1,2,1000,4,5,6", "", "10,1,2,1000,4,5,6"])
    expect_error(write_lines(tmp_path, items), 9, "t_ms must increase")


def test_fsr_out_of_range_line_number(tmp_path):
    items = lines(sensor="#sensor=fsr", header=FSR_HEADER, rows=["0,1,2,3", "10,1,2,3", "20,70000,2,3"])
    expect_error(write_lines(tmp_path, items), 8, "heel", "0..65535")


def test_value_beyond_int64_is_a_format_error(tmp_path):
    items = lines(rows=["0,1,2,1000,4,5,6", "10,1,2,99999999999999999999,4,5,6"])
    with pytest.raises(RawFormatError):
        read_raw(write_lines(tmp_path, items))


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    expect_error(path, 0, "no header row")


def test_blank_lines_only(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text("\n\n  \n")
    expect_error(path, 0, "no header row")


def test_metadata_only(tmp_path):
    expect_error(write_lines(tmp_path, lines(header=None, rows=[])), 0, "no header row")


def test_header_without_samples(tmp_path):
    expect_error(write_lines(tmp_path, lines(rows=[])), 0, "no samples")


def test_binary_garbage(tmp_path):
    path = tmp_path / "garbage.bin"
    rng = np.random.default_rng(3)
    path.write_bytes(b"\xff\xfe\x80" + rng.integers(0, 256, 4000, dtype=np.uint8).tobytes())
    expect_error(path, 0, "not a text file")


def test_non_utf8_byte_in_a_row(tmp_path):
    path = write_lines(tmp_path, lines())
    path.write_bytes(path.read_bytes() + b"30,1,2,\xe9,4,5,6\n")
    expect_error(path, 0, "not a text file")


def test_missing_file(tmp_path):
    expect_error(tmp_path / "nope.csv", 0, "no such file")


def test_directory(tmp_path):
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    expect_error(folder, 0, "directory")


def test_accepts_path_strings(tmp_path):
    path = tmp_path / "ok.csv"
    write_raw(path, "left", "imu", 100, [[0, 1, 2, 3, 4, 5, 6]])
    rec = read_raw(str(path))
    assert rec.data.tolist() == [[0, 1, 2, 3, 4, 5, 6]]
    assert rec.duration_s == 0.0


# ------------------------------------------------------------------ read a block at a time (open_raw)

def read_streamed(path):
    """A file through open_raw, all its blocks: (stream, rows)."""
    stream = open_raw(path)
    rows = [block for block, _work in stream.blocks()]
    return stream, np.concatenate(rows)


STREAM_CASES = LINE_CASES + [(c[0], c[1], None, None) for c in VALUE_CASES] + [
    ("blank-lines", lines(rows=["0,1,2,1000,4,5,6", "", "", "10,1,2,1000,4,5,6", "20,1,2,1000,4,5"]), 10, None),
    ("t-backwards-later", lines(rows=[f"{10 * i},1,2,1000,4,5,6" for i in range(3000)] + ["5,1,2,1000,4,5,6"]), None, None),
    ("no-rows", lines(rows=[]), 0, None),
    ("metadata-only", lines(header=None, rows=[]), 0, None),
    ("all-implausible", lines(rows=["0,99999,2,1000,4,5,6", "10,1,2,1000,4,5,9999999"]), None, None),
]


@pytest.mark.parametrize("items", [c[1] for c in STREAM_CASES], ids=[c[0] for c in STREAM_CASES])
def test_a_stream_fails_as_read_raw_does(tmp_path, monkeypatch, items):
    """The same error, naming the same line, whichever block it falls in."""
    import calfwalk.files.rawfile as rawfile

    monkeypatch.setattr(rawfile, "_BLOCK_CHARS", 64)
    path = write_lines(tmp_path, items)
    with pytest.raises(RawFormatError) as whole:
        read_raw(path)
    with pytest.raises(RawFormatError) as streamed:
        read_streamed(path)
    assert (str(streamed.value), streamed.value.line) == (str(whole.value), whole.value.line)


@pytest.mark.parametrize("bad_rows", [[0, 1, 2], [5], [3, 40, 41, 80], list(range(60)), list(range(50, 100))],
                         ids=["first-rows", "one", "across-blocks", "first-blocks-all-bad", "to-the-end"])
def test_a_stream_holds_implausible_samples_as_read_raw_does(tmp_path, monkeypatch, bad_rows):
    import calfwalk.files.rawfile as rawfile

    rows = [f"{10 * i},{i},2,1000,{i % 7},5,6" for i in range(100)]
    for k in bad_rows:
        rows[k] = f"{10 * k},1,40000,1000,4,5,{k}"
    path = write_lines(tmp_path, lines(rows=rows))
    whole = read_raw(path)
    monkeypatch.setattr(rawfile, "_BLOCK_CHARS", 128)  # a few rows a block: the first good one may be blocks ahead
    stream, data = read_streamed(path)
    np.testing.assert_array_equal(data, whole.data)
    assert stream.warnings == whole.warnings and len(whole.warnings) == 1
    assert (stream.samples, stream.t_first, stream.t_last) == (100, 0, 990)


def test_a_stream_reads_crlf_lone_cr_and_a_torn_last_line_as_read_raw_does(tmp_path, monkeypatch):
    import calfwalk.files.rawfile as rawfile

    body = "".join(f"{10 * i},{i},2,1000,4,5,6" + ("\r\n" if i % 3 else "\r" if i % 2 else "\n") for i in range(400))
    path = tmp_path / "mixed.csv"
    path.write_bytes(("\n".join(lines(rows=[])) + "\n" + body + "4000,1,2").encode())
    whole = read_raw(path)
    monkeypatch.setattr(rawfile, "_BLOCK_CHARS", 100)
    stream, data = read_streamed(path)
    np.testing.assert_array_equal(data, whole.data)
    assert len(data) == 400 and stream.warnings == whole.warnings and "cut off" in whole.warnings[0]


def test_a_line_too_long_to_be_a_sample_is_refused_not_held(tmp_path, monkeypatch):
    import calfwalk.files.rawfile as rawfile

    monkeypatch.setattr(rawfile, "_BLOCK_CHARS", 4096)  # (the line spans blocks, as one of megabytes would)
    path = write_lines(tmp_path, lines(rows=GOOD_ROWS + ["1" * 100_000]))
    expect_error(path, 9, "more than 65536 characters")
    with pytest.raises(RawFormatError, match=":9: a line of more than"):
        read_streamed(path)
