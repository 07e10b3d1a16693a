"""`calfwalk report`: the page of raw files and of recorded sessions, where it goes, and the user's
errors in one line (the page itself: tests/unit/output/test_report.py; `faulty`: tests/conftest.py)."""

from __future__ import annotations

import html

import numpy as np
import pytest

from calfwalk.output import report
from calfwalk.cli import main
from calfwalk.files.session import read_session
from calfwalk.analysis.pipeline import summarise_session

from helpers import Page, clean_steps, png_size, simulate_set


def run(capsys, *args):
    code = main(["report", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_default_output_is_beside_the_input(faulty, capsys):
    d, paths, _ = faulty
    want = d / "set_report.html"
    assert not want.exists()
    code, out, err = run(capsys, *paths)
    assert code == 0, err
    assert want.is_file()
    assert f"report written to {want}" in out


def _record(tmp_path, paths, name, raw):
    from calfwalk.sim.podsim import PodProcess

    session = tmp_path / name
    pods = [PodProcess(str(p), speed=0) for p in paths]
    try:
        args = ["record", "-o", str(session), "--no-history"]
        for p in pods:
            args += ["--port", p.port]
        assert main(args + (["--raw"] if raw else [])) == 0
    finally:
        for p in pods:
            p.close()
    return session


@pytest.mark.parametrize("raw", [True, False], ids=["raw", "events-only"])
def test_session_report(tmp_path, micropython, capsys, raw):
    paths, _ = simulate_set(tmp_path, steps=14, seed=5, heel_touches=[(5, 300, 1500)])
    session = _record(tmp_path, paths, "s.cwlog", raw)
    capsys.readouterr()
    code, out, err = run(capsys, session)
    assert code == 0, err
    html_path = tmp_path / "s_report.html"
    assert f"report written to {html_path}" in out
    text = html_path.read_text()
    page = Page(text)
    summary = summarise_session(read_session(session))
    assert {k: v["status"] for k, v in page.rules.items()} == {r["id"]: r["status"] for r in summary["rules"]}
    assert "link" in page.sections and len(page.images) == 2
    data = report.from_session(read_session(session))
    kinds = {t.kind for t in data.traces.values()}
    if raw:
        assert kinds == {"heel_mm"}
        assert html.escape(report.CAPTIONS["heel_mm"]) in text
        # the trace rebuilt from the R lines covers the set, on the events' clock
        steps = clean_steps(summary["events"])
        assert len(steps) >= 10
        for st in steps:
            tr = data.traces[st["foot"]]
            at = tr.level[(tr.t_ms >= st["t_ms"] + 200) & (tr.t_ms < st["t_ms"] + 500)]
            assert abs(np.median(at) - st["heel_mm"]) <= 8
    else:
        assert kinds == {"step_heel_mm"}
        assert html.escape(report.CAPTIONS["step_heel_mm"]) in text


def test_session_trace_follows_the_aligned_events(tmp_path, micropython, monkeypatch):
    """When the summary moves a pod's events onto another clock, its heel trace moves with them."""
    from calfwalk.analysis import pipeline

    paths, _ = simulate_set(tmp_path, steps=10, seed=6, heel_touches=[(4, 300, 1500)])
    s = read_session(_record(tmp_path, paths, "s.cwlog", raw=True))
    plain = report.from_session(s)
    real = pipeline.summarise_session

    def moved(sess):
        out = real(sess)
        out["events"] = [dict(e, t_ms=round(e["t_ms"] * 1.0001) + 61) if e["foot"] == "right" else e
                         for e in out["events"]]
        return out

    monkeypatch.setattr(pipeline, "summarise_session", moved)
    data = report.from_session(read_session(s.path))
    assert np.array_equal(data.traces["left"].t_ms, plain.traces["left"].t_ms)
    want = plain.traces["right"].t_ms * 1.0001 + 61
    assert np.abs(data.traces["right"].t_ms - want).max() < 2


def test_missing_file(tmp_path, capsys):
    code, out, err = run(capsys, tmp_path / "nope.cwlog")
    assert code == 2 and out == ""
    assert err.strip() == f"calfwalk report: error: {tmp_path / 'nope.cwlog'}: no such file"


@pytest.mark.parametrize("body, message", [
    ("#calfwalk_session=1\n", "no pod in this session"),
    ("#calfwalk_session=1\nrx\t5\t0\tgarbage line\nhalf a li", "no pod identified itself"),
    ("#calfwalk_session=1\n#pod0=/dev/ttyACM0\n", "no pod identified itself"),
])
def test_malformed_session(tmp_path, capsys, body, message):
    bad = tmp_path / "bad.cwlog"
    bad.write_text(body)
    code, out, err = run(capsys, bad)
    assert code == 2 and out == ""
    assert err.startswith("calfwalk report: error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "bad_report.html").exists()


def test_not_a_recording(tmp_path, capsys):
    junk = tmp_path / "notes.txt"
    junk.write_text("shopping list\n")
    code, _out, err = run(capsys, junk)
    assert code == 2 and str(junk) in err and err.count("\n") == 1


def test_bad_arguments(faulty, tmp_path, capsys):
    _d, paths, _ = faulty
    code, _out, err = run(capsys, *paths, "--param", "foot_mm=5", "-o", tmp_path / "x.html")
    assert code == 2 and "foot_mm" in err and err.count("\n") == 1
    session = tmp_path / "s.cwlog"
    session.write_text("#calfwalk_session=1\n")
    code, _out, err = run(capsys, session, paths[0])
    assert code == 2 and "one session file" in err
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _out, err = run(capsys, *paths, "-o", blocker / "r.html")
    assert code == 2 and "cannot write the report" in err and err.count("\n") == 1
    assert not list(tmp_path.glob("*.html"))


def test_the_page_and_png_of_raw_files(faulty, tmp_path, capsys):
    _d, paths, _ = faulty
    out, png = tmp_path / "faulty_report.html", tmp_path / "faulty.png"
    code, said, err = run(capsys, *paths, "-o", out, "--png", png)
    assert code == 0, err
    assert said.splitlines()[0] == f"report written to {out} and {png}"
    page = Page(out.read_text(encoding="utf-8"))
    assert page.rules["heels_high"]["status"] and len(page.images) == 2
    w, h = png_size(png.read_bytes())
    assert w >= 1000 and h >= 900
