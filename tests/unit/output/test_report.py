"""`calfwalk report`: a self-contained HTML page (and PNG) with the rule card, timeline and per-step charts."""

from __future__ import annotations

import base64
import html
import os
import re
import shutil
import struct
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest

from calfwalk.output import report
from calfwalk.cli import main
from calfwalk.analysis.pipeline import analyze_recordings
from calfwalk.analysis.detect import detect, detect_trace
from calfwalk.files.rawfile import read_raw
from calfwalk.files.session import read_session
from calfwalk.analysis.pipeline import summarise_session
from calfwalk.analysis.align import clock_map

from helpers import simulate_set

# A faulty two-foot set: two crashes, a soft touch, a long stride, heels sagging with fatigue.
FAULTY = dict(steps=24, cadence_spm=60, pause_ms=300, mount="random", noise=1.0, sensor="imu", seed=7,
              fatigue_pct=25, heel_touches=[(6, 350, 2800), (11, 80, 0), (15, 350, 3000)], long_strides=[20])
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
NO_BROWSER = "chromium not found: install Debian's chromium package to run the browser test"


class Page(HTMLParser):
    """What the tests need from a report page: rule rows, images, links and the text."""

    def __init__(self, text):
        super().__init__()
        self.rules = {}  # id -> {"status", "cells": [text per td]}
        self.images = []  # src of every <img>
        self.urls = []  # every src/href attribute
        self.sections = []
        self.text = []
        self._row = None
        self._cell = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("src", "href"):
            if key in a:
                self.urls.append(a[key])
        if tag == "img":
            self.images.append(a.get("src", ""))
        if tag == "section":
            self.sections.append(a.get("id"))
        if tag == "tr" and "data-rule" in a:
            self._row = self.rules.setdefault(a["data-rule"], {"status": a.get("data-status"), "cells": []})
        if tag == "td" and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row["cells"].append("".join(self._cell).strip())
            self._cell = None
        if tag == "tr":
            self._row = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def png_size(data: bytes):
    assert data[:8] == PNG_MAGIC, "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def clean_steps(events):
    """Steps with no heel contact starting in their stance (there the heel leaves the top)."""
    contacts = [e for e in events if e["type"] == "heel_contact"]
    return [e for e in events if e["type"] == "step" and not any(
        c["foot"] == e["foot"] and e["t_ms"] <= c["t_ms"] <= e["t_ms"] + e["stance_ms"] for c in contacts)]


def run(capsys, *args):
    code = main(["report", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    paths, truth = simulate_set(d, **FAULTY)
    return d, paths, truth


@pytest.fixture(scope="module")
def faulty_report(faulty):
    """The report of the faulty set, made through the CLI; (html path, page text, summary)."""
    d, paths, _ = faulty
    out = d / "faulty_report.html"
    assert main(["report", *map(str, paths), "-o", str(out), "--png", str(d / "faulty.png")]) == 0
    summary = analyze_recordings([read_raw(p) for p in paths])
    return out, out.read_text(encoding="utf-8"), summary


# ------------------------------------------------------------------ the page


def test_rule_card_has_every_rule_with_verdict_evidence_and_cue(faulty_report):
    _out, text, summary = faulty_report
    page = Page(text)
    want = {r["id"]: r for r in summary["rules"]}
    assert set(page.rules) == set(want)
    for rid, r in want.items():
        row = page.rules[rid]
        assert row["status"] == r["status"], rid
        title, verdict, _value, detail, evidence, cue = row["cells"]
        assert title == r["title"]
        assert verdict == report.STATUS_TEXT[r["status"]]
        assert detail == r["detail"]
        assert evidence == (", ".join(map(str, r["evidence"])) or "–")
        assert r["cue"] in cue
    # the faults are there to be seen: contacts fail, with the contact steps as evidence
    heels = want["heels_high"]
    assert heels["status"] == "fail" and len(heels["evidence"]) == summary["heel_contacts"] >= 3
    assert page.rules["heels_high"]["cells"][4] == ", ".join(map(str, heels["evidence"]))


def test_page_is_self_contained(faulty_report):
    _out, text, _summary = faulty_report
    page = Page(text)
    assert not re.search(r"https?:", text), "the page must not reference the network"
    assert page.urls and all(u.startswith("data:") or u.startswith("#") for u in page.urls), page.urls
    assert "<link" not in text and "@import" not in text and "url(" not in text
    assert len(page.images) == 2
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        w, h = png_size(base64.b64decode(src.split(",", 1)[1], validate=True))
        assert w >= 800 and h >= 300


def test_page_shows_the_sets_numbers_and_contacts(faulty_report):
    _out, text, summary = faulty_report
    page = Page(text)
    words = " ".join(" ".join(page.text).split())
    for sec in ("rule-card", "plots", "numbers", "contacts"):
        assert sec in page.sections
    by_foot = ", ".join(f"{f} {n}" for f, n in summary["steps_by_foot"].items())
    assert f"{summary['steps']} ({by_foot})" in words
    assert f"{summary['cadence_spm']} steps/min" in words
    assert f"{summary['step_time_cv'] * 100:.1f}%" in words
    hh = summary["heel_height_mm"]
    assert f"{hh['mean']} / {hh['min']} / {hh['max']} mm" in words
    assert f"{summary['set_duration_s']} s" in words
    # one row per heel contact, with its step
    contacts = [e for e in summary["events"] if e["type"] == "heel_contact"]
    rows = re.findall(r"<tr><td>(\d+)</td><td>(left|right)</td>", text.split('id="contacts"')[1])
    assert [(int(n), f) for n, f in rows] == [(c["step"], c["foot"]) for c in contacts]
    # the warn/fail cues are repeated under "From the guide"
    for r in summary["rules"]:
        if r["status"] in ("warn", "fail"):
            assert text.count(r["cue"]) == 2, r["id"]


def test_default_output_is_beside_the_input(faulty, capsys):
    d, paths, _ = faulty
    want = d / "set_report.html"
    assert not want.exists()
    code, out, err = run(capsys, *paths)
    assert code == 0, err
    assert want.is_file()
    assert f"report written to {want}" in out


def test_png_for_sharing(faulty_report):
    out, _text, _summary = faulty_report
    data = (out.parent / "faulty.png").read_bytes()
    w, h = png_size(data)
    assert w >= 1000 and h >= 900


# ------------------------------------------------------------------ the heel trace


def test_detect_trace_matches_detect_and_follows_the_heel(faulty):
    _d, paths, _ = faulty
    rec = read_raw(paths[0])
    events, t_ms, heel_mm, kind = detect_trace(rec)
    assert kind == "heel_mm"
    assert events == detect(rec)  # the same detector run, only watched
    assert np.array_equal(t_ms, rec.column("t_ms"))
    start = next(e["t_ms"] for e in events if e["type"] == "set_start")
    end = next(e["t_ms"] for e in events if e["type"] == "set_end")
    # set_start is dated at the rise, which the detector confirms rise_ms later
    assert np.isnan(heel_mm[t_ms < start]).all()
    assert not np.isnan(heel_mm[(t_ms > start + 1000) & (t_ms < end)]).any()
    assert np.isnan(heel_mm[-10:]).all()  # standing flat after the set
    # in each step's pause at the top the trace sits at the height the step reports
    checked = 0
    for st in clean_steps(events):
        a = st["t_ms"] + 200
        window = heel_mm[(t_ms >= a) & (t_ms < a + 300)]
        assert abs(np.median(window) - st["heel_mm"]) <= 8, st
        checked += 1
    assert checked >= 8


def test_fsr_only_plots_the_heel_pad(tmp_path, capsys):
    paths, _ = simulate_set(tmp_path, steps=12, sensor="fsr", feet="left", seed=3, heel_touches=[(6, 300, 0)])
    rec = read_raw(paths[0])
    events, t_ms, level, kind = detect_trace(rec)
    assert kind == "heel_pad" and events == detect(rec)
    assert np.array_equal(level, rec.column("heel").astype(float))
    out = tmp_path / "fsr.html"
    code, _out, err = run(capsys, paths[0], "-o", out)
    assert code == 0, err
    text = out.read_text()
    assert html.escape(report.CAPTIONS["heel_pad"]) in text
    assert Page(text).rules["heel_height_kept"]["status"] == "not_measured"


def test_recording_without_a_set(tmp_path, capsys):
    """Standing still, never rising onto the toes: a report with nothing measured, not a crash."""
    from calfwalk.files.rawfile import write_raw

    paths, _ = simulate_set(tmp_path, steps=8, feet="left", seed=2)
    rec = read_raw(paths[0])
    still = tmp_path / "still_left.csv"
    write_raw(str(still), "left", rec.sensor, rec.rate_hz, rec.data[rec.data[:, 0] < 2000].tolist(), {"board": "sim"})
    code, out, err = run(capsys, still, "--png", tmp_path / "still.png")
    assert code == 0, err
    assert "0 steps" in out
    page = Page((tmp_path / "still_report.html").read_text())
    assert page.rules["heels_high"]["status"] == "not_measured"
    assert page.rules["heels_lowered_after_set"]["status"] == "not_measured"
    assert len(page.images) == 2 and "None: the heels stayed up." in " ".join(page.text)
    png_size((tmp_path / "still.png").read_bytes())


# ------------------------------------------------------------------ sessions


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


def test_clock_map():
    own = [1000, 3000, 5000, 9000, 20000]
    scale, offset = clock_map(own, [t * 1.00005 + 61 for t in own])
    assert abs(scale - 1.00005) < 1e-7 and abs(offset - 61) < 0.01
    assert clock_map(own, own[:-1]) == (1.0, 0.0)  # events that do not match: leave the clock
    assert clock_map([], []) == (1.0, 0.0)
    assert clock_map([500, 700], [540, 740]) == (1.0, 40.0)  # too short to fit a rate


# ------------------------------------------------------------------ optional summary parts


def test_sets_and_asymmetry_tables_only_when_present(faulty):
    _d, paths, _ = faulty
    data = report.from_raw([read_raw(p) for p in paths])
    figs = {"timeline": b"x", "per_step": b"x"}
    s = data.summary
    s["sets"] = [dict(set_no=1, start_ms=2000, end_ms=30000, steps=20, heel_contacts=2, rules=s["rules"]),
                 dict(set_no=2, start_ms=90000, end_ms=None, steps=4)]
    s["asymmetry"] = {"steps": {"left": 12, "right": 12, "asymmetry_pct": 0.0},
                      "heel_height_mm": {"left": 58.2, "right": 61.0, "asymmetry_pct": 4.7}}
    page = Page(report.build_html(data, figs))
    assert "sets" in page.sections and "asymmetry" in page.sections
    words = " ".join(page.text)
    assert "58.2" in words and "4.7" in words and "asymmetry pct" in words
    s.pop("sets")
    s.pop("asymmetry")
    page = Page(report.build_html(data, figs))
    assert "sets" not in page.sections and "asymmetry" not in page.sections
    assert set(page.rules) == {r["id"] for r in s["rules"]}


# ------------------------------------------------------------------ errors


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


# ------------------------------------------------------------------ in a browser


def find_browser():
    for name in BROWSERS:
        exe = shutil.which(name)
        if exe:
            return exe
    return None


def test_page_renders_in_headless_chromium(faulty_report, tmp_path):
    browser = find_browser()
    if browser is None:
        pytest.skip(NO_BROWSER)
    out, _text, summary = faulty_report
    # the browser's profile, crash reports and caches stay in the test's folder, never the user's home
    home = tmp_path / "home"
    home.mkdir()
    env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_CACHE_HOME=str(home / ".cache"))
    common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
              f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,3000"]
    shot = tmp_path / "report_screenshot.png"
    done = subprocess.run(common + [f"--screenshot={shot}", out.as_uri()], env=env, capture_output=True,
                          text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert shot.is_file(), done.stderr[-2000:]
    print(f"screenshot of the report: {shot}")
    dom = subprocess.run(common + ["--dump-dom", out.as_uri()], env=env, capture_output=True, text=True,
                         timeout=180, stdin=subprocess.DEVNULL)
    assert dom.returncode == 0, dom.stderr[-2000:]
    # the page's own script counted the images the browser decoded
    body = re.search(r"<body[^>]*>", dom.stdout)
    assert body, dom.stdout[:500]
    assert 'data-images-total="2"' in body.group(0) and 'data-images-ok="2"' in body.group(0), body.group(0)
    page = Page(dom.stdout)
    assert set(page.rules) == {r["id"] for r in summary["rules"]}
    assert "Rule card against the guide" in dom.stdout
    # the screenshot shows the plots (each foot's line colour) and the FAIL badges
    assert png_size(shot.read_bytes()) == (1200, 3000)
    import matplotlib.image

    pixels = (matplotlib.image.imread(str(shot))[:, :, :3] * 255).round().astype(int)

    def count(hex_colour):
        rgb = tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
        return int(np.all(pixels == rgb, axis=2).sum())

    assert count(report.FOOT_COLOURS["left"]) > 300
    assert count(report.FOOT_COLOURS["right"]) > 300
    assert count(report.STATUS_COLOURS["fail"]) > 100
