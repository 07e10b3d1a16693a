"""Timer-driven sampling on the pod (run under the MicroPython unix port)."""

import subprocess

from helpers import FIRMWARE, ROOT


def test_timer_sampling_allocates_nothing_and_reports_drops(micropython):
    out = subprocess.run([micropython, str(ROOT / "tests" / "mpy" / "app_timer.py"), str(FIRMWARE)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "tick_alloc_fail 0"
    # 20 + 10 samples with room in the 32-slot ring: all processed, none dropped
    assert lines[1] == "processed 30 dropped 0"
    # 50 more while the loop stalls: 32 fit, 18 are dropped, counted and reported
    assert lines[2] == "processed 62 dropped 18"
    assert ",D,dropped=18,total=18*" in lines[3]
