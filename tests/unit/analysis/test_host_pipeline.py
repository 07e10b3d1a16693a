"""The analysis pipeline at speed: block-wise reading, the two feet side by side (its progress
bar: tests/unit/output/test_present.py).

Each fast path must give exactly what the plain one gives; the figures (time, memory) are
`make bench-host`'s, not asserted here.
"""

from __future__ import annotations

import json

import numpy as np

from calfwalk.analysis import pipeline
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
    assert sum(seen) == pipeline.samples(recs)
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
