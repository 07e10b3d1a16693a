"""The terminal's progress bar (output/present.py), which long analyses draw on stderr."""

from __future__ import annotations

from calfwalk.output import present


def test_progress_shows_nothing_for_short_work_or_without_a_terminal(capsys):
    with present.progress(10, "short") as step:
        step(10)
    with present.progress(10**7, "long, but stderr is captured") as step:
        step(10**7)
    assert capsys.readouterr().err == ""
