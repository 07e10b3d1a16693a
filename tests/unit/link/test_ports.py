"""Port discovery: MicroPython boards are recognised by USB VID/PID, and --port can be left out
(`comports`: tests/conftest.py; `calfwalk ports`: tests/e2e/test_ports_cli.py)."""

from pathlib import Path

import pytest

from calfwalk.link import ports

from helpers import MOUSE, NANO, PICO, PLAIN


def test_boards_are_marked(comports):
    comports(PICO, MOUSE, PLAIN, NANO)
    rows = {p.device: p for p in ports.list_ports()}
    assert rows["/dev/ttyACM0"].micropython and "Pico" in rows["/dev/ttyACM0"].description
    assert rows["/dev/ttyACM1"].micropython and "Nano RP2040" in rows["/dev/ttyACM1"].description
    assert not rows["/dev/ttyUSB9"].micropython and not rows["/dev/ttyS0"].micropython


def test_single_pod_is_found_by_itself(comports):
    comports(MOUSE, PICO)
    assert ports.resolve_ports(None) == ["/dev/ttyACM0"]


def test_no_pod_or_several_pods_is_a_clear_error(comports):
    comports(MOUSE)
    with pytest.raises(ports.PortError, match="no pod found"):
        ports.resolve_ports(None)
    comports(PICO, NANO)
    with pytest.raises(ports.PortError, match="/dev/ttyACM0 or /dev/ttyACM1"):
        ports.resolve_ports(None)
    with pytest.raises(ports.PortError, match="at most two ports"):
        ports.resolve_ports(["/dev/a", "/dev/b", "/dev/c"])


def test_given_ports_are_taken_as_they_are(comports):
    comports()  # nothing connected: given ports are not looked up
    assert ports.resolve_ports(["/dev/ttyACM7"]) == ["/dev/ttyACM7"]
    assert ports.resolve_ports(["/dev/a", "/dev/b"]) == ["/dev/a", "/dev/b"]


def test_one_port_resolution_for_every_command():
    """cli and flash resolve --port through link/ports.py, and no other module finds pods itself."""
    import calfwalk

    root = Path(calfwalk.__file__).parent
    users = sorted(str(p.relative_to(root)) for p in root.rglob("*.py")
                   if "find_pods(" in p.read_text(encoding="utf-8") and p.name != "ports.py")
    assert users == []
    for mod in ("cli.py", "device/flash.py"):
        assert "resolve_ports(" in (root / mod).read_text(encoding="utf-8"), mod


