"""The analysis pipeline at speed: block-wise reading, streaming, the two feet side by side (its
progress bar: tests/unit/output/test_present.py).

Each fast path must give exactly what the plain one gives; the figures (time, memory) are
`make bench-host`'s, not asserted here.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from calfwalk.analysis import detect, pipeline
from calfwalk.files import rawfile

from helpers import simulate_set


def test_block_reading_gives_what_the_line_parser_gives(tmp_path, monkeypatch):
    paths, _ = simulate_set(tmp_path, steps=8, seed=2, sensor="imu+fsr")
    text = open(paths[0], encoding="utf-8").read()
    lines = text.split("\n")
    # blank lines, a CRLF line and a torn last line: blocks that the line parser must take over
    k = next(i for i, line in enumerate(lines) if line[:1].isdigit())
    lines[k + 50] = lines[k + 50] + "\r"
    lines.insert(k + 100, "")
    damaged = "\n".join(lines).rstrip("\n") + "\n" + lines[-2][:5]
    path = tmp_path / "damaged_left.csv"
    path.write_text(damaged, encoding="utf-8", newline="")
    monkeypatch.setattr(rawfile, "_BLOCK_CHARS", 4096)  # many blocks, some clean, some not
    fast = rawfile.read_raw(path)
    clean = rawfile.read_raw(paths[0])
    monkeypatch.setattr(rawfile, "_fast_rows", lambda body, width: None)
    slow = rawfile.read_raw(path)
    slow_clean = rawfile.read_raw(paths[0])
    assert fast.data.dtype == np.int64 and np.array_equal(fast.data, slow.data)
    assert np.array_equal(clean.data, slow_clean.data)
    assert fast.warnings == slow.warnings and len(fast.warnings) == 1  # the torn line, named alike
    assert len(fast.data) == len(clean.data)  # the blank and CRLF lines lost nothing


def test_a_bad_value_is_named_by_its_line_in_any_block(tmp_path, monkeypatch):
    paths, _ = simulate_set(tmp_path, steps=8, seed=2)
    lines = open(paths[0], encoding="utf-8").read().split("\n")
    k = next(i for i, line in enumerate(lines) if line[:1].isdigit())
    lines[k + 700] = lines[k + 700].replace(",", ",x", 1)
    path = tmp_path / "bad_left.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    monkeypatch.setattr(rawfile, "_BLOCK_CHARS", 4096)
    try:
        rawfile.read_raw(path)
    except rawfile.RawFormatError as exc:
        assert exc.line == k + 701 and "not an integer" in exc.problem
    else:
        raise AssertionError("a bad value was read")


def test_two_feet_side_by_side_give_the_same_events_and_progress(tmp_path, monkeypatch):
    paths, _ = simulate_set(tmp_path, steps=12, seed=5, heel_touches=[(4, 300, 1500)])
    recs = [rawfile.read_raw(p) for p in paths[:2]]
    alone = pipeline.detect_feet(recs)
    monkeypatch.setattr(pipeline, "PARALLEL_SAMPLES", 0)  # side by side, whatever the length
    seen = []
    both = pipeline.detect_feet(recs, progress=seen.append)
    assert json.dumps(both) == json.dumps(alone)
    assert sum(seen) == pipeline.work(recs)
    assert {e["foot"] for e in both} == {"left", "right"} and any(e["type"] == "heel_contact" for e in both)


def test_a_bad_parameter_is_refused_before_any_worker_starts(tmp_path, monkeypatch):
    paths, _ = simulate_set(tmp_path, steps=4, seed=1)
    recs = [rawfile.read_raw(p) for p in paths[:2]]
    monkeypatch.setattr(pipeline, "PARALLEL_SAMPLES", 0)
    try:
        pipeline.detect_feet(recs, {"zupt_ms": 1})
    except ValueError as exc:
        assert "zupt_ms" in str(exc)
    else:
        raise AssertionError("zupt_ms=1 was taken")


# ------------------------------------------------------------------ streaming: a file read a block at a time

def _stream_rows(stream):
    return np.concatenate([rows for rows, _work in stream.blocks()])


@pytest.mark.parametrize("sensor", ["imu+fsr", "acc", "fsr"])
def test_streamed_analysis_gives_the_whole_file_replays_events_bit_for_bit(tmp_path, monkeypatch, sensor):
    paths, _ = simulate_set(tmp_path, steps=16, seed=5, sensor=sensor, heel_touches=[(4, 300, 1500)])
    whole = [rawfile.read_raw(p) for p in paths[:2]]
    events = detect.detect_files(whole)
    summary = pipeline.analyze_recordings(whole)
    monkeypatch.setattr(rawfile, "_BLOCK_CHARS", 4096)  # many blocks, each dropped when the detector is done
    streams = [rawfile.open_raw(p) for p in paths[:2]]
    seen = []
    assert json.dumps(pipeline.analyze_recordings(streams, progress=seen.append)) == json.dumps(summary)
    assert json.dumps(pipeline.detect_feet([rawfile.open_raw(p) for p in paths[:2]])) == json.dumps(events)
    assert len(events) > 20 and any(e["type"] == "heel_contact" for e in events)
    assert any(e["type"] == "step" and e["foot"] == "right" for e in events)
    assert sum(seen) == pipeline.work(streams) == sum(os.path.getsize(p) for p in paths[:2])
    for s, r in zip(streams, whole):  # what a stream learns as it goes: what read_raw knew at once
        assert (s.samples, s.t_first, s.t_last, s.duration_s, s.warnings) == \
            (len(r.data), r.t_first, r.t_last, r.duration_s, r.warnings)
    # the two feet side by side, each worker reading its own file
    monkeypatch.setattr(pipeline, "PARALLEL_SAMPLES", 0)
    streams = [rawfile.open_raw(p) for p in paths[:2]]
    assert json.dumps(pipeline.detect_feet(streams)) == json.dumps(events)
    assert [(s.samples, s.t_last, s.warnings) for s in streams] == [(len(r.data), r.t_last, []) for r in whole]


def test_a_streamed_trace_is_the_whole_files_and_bounded(tmp_path, monkeypatch):
    paths, _ = simulate_set(tmp_path, steps=8, seed=3)
    rec = rawfile.read_raw(paths[0])
    events, t_ms, level, kind = detect.detect_trace(rec)
    monkeypatch.setattr(rawfile, "_BLOCK_CHARS", 4096)
    s_events, s_t, s_level, s_kind = detect.detect_trace(rawfile.open_raw(paths[0]))
    assert (s_events, s_kind) == (events, kind) and kind == "heel_mm"
    assert np.array_equal(s_t, t_ms) and np.array_equal(s_level, level, equal_nan=True)
    assert len(t_ms) == len(rec.data) and not np.isnan(level).all()
    # past its cap, a trace keeps every 2nd, 4th, ... point: never more than the cap, whatever the length
    cap = 1000
    _e, c_t, c_level, _k = detect.detect_trace(rawfile.open_raw(paths[0]), cap=cap)
    stride = next(s for s in (2 ** k for k in range(20)) if len(t_ms[::s]) <= cap)
    assert np.array_equal(c_t, t_ms[::stride]) and np.array_equal(c_level, level[::stride], equal_nan=True)
    assert cap // 2 < len(c_t) <= cap


def _bad_copy(tmp_path, path, where, name):
    """A copy of a raw file with a bad value `where` (a fraction) through its samples; (path, its line)."""
    lines = open(path, encoding="utf-8").read().split("\n")
    first = next(i for i, line in enumerate(lines) if line[:1].isdigit())
    k = first + int((len(lines) - 1 - first) * where)
    lines[k] = lines[k].replace(",", ",x", 1)
    bad = tmp_path / name
    bad.write_text("\n".join(lines), encoding="utf-8")
    return bad, k + 1


def test_a_streamed_file_with_a_bad_line_fails_naming_it_as_read_raw_does(tmp_path, monkeypatch):
    paths, _ = simulate_set(tmp_path, steps=8, seed=2)
    bad, line = _bad_copy(tmp_path, paths[1], 0.8, "bad_right.csv")
    monkeypatch.setattr(rawfile, "_BLOCK_CHARS", 4096)
    with pytest.raises(rawfile.RawFormatError) as whole:
        rawfile.read_raw(bad)
    assert whole.value.line == line and "not an integer" in whole.value.problem
    with pytest.raises(rawfile.RawFormatError) as streamed:
        pipeline.analyze_recordings([rawfile.open_raw(paths[0]), rawfile.open_raw(bad)])
    assert str(streamed.value) == str(whole.value) and streamed.value.line == line
    # from a worker process: the same error, whole; with both files bad, the first file's
    monkeypatch.setattr(pipeline, "PARALLEL_SAMPLES", 0)
    with pytest.raises(rawfile.RawFormatError) as in_worker:
        pipeline.detect_feet([rawfile.open_raw(paths[0]), rawfile.open_raw(bad)])
    assert str(in_worker.value) == str(whole.value) and in_worker.value.line == line
    bad_left, left_line = _bad_copy(tmp_path, paths[0], 0.9, "bad_left.csv")
    with pytest.raises(rawfile.RawFormatError) as first:
        pipeline.detect_feet([rawfile.open_raw(bad_left), rawfile.open_raw(bad)])
    assert first.value.path == str(bad_left) and first.value.line == left_line


def _quiet_file(path, rows):
    """A pod lying still for `rows` samples: the detector says nothing, so only reading costs memory."""
    data = np.zeros((rows, 7), dtype=np.int64)
    data[:, 0] = np.arange(rows) * 10
    data[:, 3] = 1000 + np.arange(rows) % 3
    rawfile.write_raw(path, "left", "imu", 100, data)
    return path


def test_streamed_memory_does_not_grow_with_the_file(tmp_path, monkeypatch):
    """Counted, not timed: the rows held at once stay within one block, and the largest allocation
    (tracemalloc) of an analysis eight times as long is not larger."""
    import tracemalloc

    monkeypatch.setattr(rawfile, "_BLOCK_CHARS", 1 << 13)
    short, long_ = _quiet_file(tmp_path / "short.csv", 4_000), _quiet_file(tmp_path / "long.csv", 32_000)
    widest = {}
    for path in (short, long_):
        stream = rawfile.open_raw(path)
        widest[path] = max(len(rows) for rows, _work in stream.blocks())
        assert stream.samples == (4_000 if path == short else 32_000)
    assert widest[short] == widest[long_] <= (1 << 13) // (2 * 7)  # a row is at least "0," for each value

    peaks = {}
    pipeline.analyze_recordings([rawfile.open_raw(short)])  # (the firmware loaded, caches warm)
    for path in (short, long_):
        tracemalloc.start()
        pipeline.analyze_recordings([rawfile.open_raw(path)])
        peaks[path] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    whole_long = 32_000 * 7 * 8  # the long file's samples as one int64 array: 1.8 MB
    assert peaks[long_] < 1.5 * peaks[short] + 200_000, peaks
    assert peaks[long_] < whole_long / 2, peaks
