"""The report (output/report.py): a self-contained HTML page (and PNG) with the rule card, timeline and
per-step charts (`faulty`: tests/conftest.py; `calfwalk report`: tests/e2e/test_report_cli.py)."""

from __future__ import annotations

import base64
import html
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from calfwalk.output import report
from calfwalk.analysis.pipeline import analyze_recordings
from calfwalk.analysis.detect import detect, detect_trace
from calfwalk.files.rawfile import open_raw, read_raw
from calfwalk.analysis.align import clock_map

from helpers import Page, clean_steps, png_size, simulate_set

# A faulty two-foot set: two crashes, a soft touch, a long stride, heels sagging with fatigue.
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
NO_BROWSER = "chromium not found: install Debian's chromium package to run the browser test"


@pytest.fixture(scope="module")
def faulty_report(faulty):
    """The report of the faulty set, of its files streamed as `calfwalk report` streams them; (html path,
    page text, summary)."""
    d, paths, _ = faulty
    out = d / "faulty_report.html"
    report.write_report(report.from_raw([open_raw(p) for p in paths]), out, d / "faulty.png")
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


def test_fsr_only_plots_the_heel_pad(tmp_path):
    paths, _ = simulate_set(tmp_path, steps=12, sensor="fsr", feet="left", seed=3, heel_touches=[(6, 300, 0)])
    rec = read_raw(paths[0])
    events, t_ms, level, kind = detect_trace(rec)
    assert kind == "heel_pad" and events == detect(rec)
    assert np.array_equal(level, rec.column("heel").astype(float))
    out = tmp_path / "fsr.html"
    report.write_report(report.from_raw([rec]), out)
    text = out.read_text()
    assert html.escape(report.CAPTIONS["heel_pad"]) in text
    assert Page(text).rules["heel_height_kept"]["status"] == "not_measured"


def test_recording_without_a_set(tmp_path):
    """Standing still, never rising onto the toes: a report with nothing measured, not a crash."""
    from calfwalk.files.rawfile import write_raw

    paths, _ = simulate_set(tmp_path, steps=8, feet="left", seed=2)
    rec = read_raw(paths[0])
    still = tmp_path / "still_left.csv"
    write_raw(str(still), "left", rec.sensor, rec.rate_hz, rec.data[rec.data[:, 0] < 2000].tolist(), {"board": "sim"})
    data = report.from_raw([read_raw(still)])
    report.write_report(data, tmp_path / "still_report.html", tmp_path / "still.png")
    assert "0 steps" in report.headline(data.summary)
    page = Page((tmp_path / "still_report.html").read_text())
    assert page.rules["heels_high"]["status"] == "not_measured"
    assert page.rules["heels_lowered_after_set"]["status"] == "not_measured"
    assert len(page.images) == 2 and "None: the heels stayed up." in " ".join(page.text)
    png_size((tmp_path / "still.png").read_bytes())


# ------------------------------------------------------------------ sessions


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
