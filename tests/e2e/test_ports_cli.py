"""`calfwalk ports` marks the MicroPython boards (the recognising itself: tests/unit/link/test_ports.py;
`comports`: tests/conftest.py)."""

from helpers import MOUSE, PICO


def test_ports_command_prints_marks(comports, capsys):
    from calfwalk.cli import main

    comports(PICO, MOUSE)
    assert main(["ports"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("pod?") and "/dev/ttyACM0" in out[0] and "2e8a:0005" in out[0]
    assert not out[1].startswith("pod?")
