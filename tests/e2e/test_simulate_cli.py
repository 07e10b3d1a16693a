"""`calfwalk simulate` writes the raw files and the truth (the simulator itself: tests/unit/sim/test_simulate.py)."""

import json

from calfwalk.cli import main
from calfwalk.files import rawfile


def test_cli_run_writes_files_and_summary(tmp_path, capsys):
    prefix = str(tmp_path / "cli")
    assert main(["simulate", "-o", prefix, "--steps", "6", "--sensor", "imu+fsr", "--heel-touch", "2:300:0",
                 "--long-stride", "5", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert f"{prefix}_left.csv" in out and f"{prefix}_truth.json" in out
    assert "right 3" in out and "left 3" in out
    with open(f"{prefix}_truth.json", encoding="utf-8") as fh:
        truth = json.load(fh)
    assert truth["config"]["heel_touches"] == [{"step": 2, "duration_ms": 300, "impact_mg": 0}]
    assert [c["kind"] for c in truth["feet"]["left"]["heel_contacts"]] == ["touch"]


def test_cli_sensor_acc_writes_raw_v1_acc_files(tmp_path, capsys):
    prefix = str(tmp_path / "acc")
    assert main(["simulate", "-o", prefix, "--steps", "6", "--sensor", "acc", "--seed", "4"]) == 0
    assert "sensor=acc" in capsys.readouterr().out
    for foot in ("left", "right"):
        text = open(f"{prefix}_{foot}.csv", encoding="utf-8").read().splitlines()
        assert "#sensor=acc" in text and "t_ms,ax_mg,ay_mg,az_mg" in text
        rec = rawfile.read_raw(f"{prefix}_{foot}.csv")
        assert rec.sensor == "acc" and rec.data.shape[1] == 4 and not rec.warnings
