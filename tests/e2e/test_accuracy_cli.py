"""`calfwalk accuracy` (the tables themselves: tests/unit/eval/test_accuracy.py)."""

from __future__ import annotations

import json


def test_accuracy_command_without_data(tmp_path, capsys):
    from calfwalk.cli import main

    rc = main(["accuracy", "--data", str(tmp_path / "missing"), "--json", str(tmp_path / "a.json")])
    out = capsys.readouterr().out
    assert rc == 0
    assert "only the simulated suite" in out
    assert "simulated" in out and (tmp_path / "a.json").exists()
    # issue 17: the simulated suite and the sweep again as accelerometer-only pods (gyro columns dropped)
    got = json.loads((tmp_path / "a.json").read_text())
    assert "simulated acc" in out and got["simulated acc"]["feet"] > 0
    assert got["sweep"]["sensor"] == "imu" and got["sweep_acc"]["sensor"] == "acc"
    assert got["sweep_acc"]["feet"] == got["sweep"]["feet"] == 400
