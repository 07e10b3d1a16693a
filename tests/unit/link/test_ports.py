"""Port discovery: MicroPython boards are recognised by USB VID/PID, and --port can be left out."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from calfwalk.link import ports


def fake_comports(*devs):
    return lambda: [SimpleNamespace(device=d, vid=v, pid=p, description=desc) for d, v, p, desc in devs]


PICO = ("/dev/ttyACM0", 0x2E8A, 0x0005, "Board in FS mode")
NANO = ("/dev/ttyACM1", 0x2341, 0x025E, "Nano RP2040 Connect")
MOUSE = ("/dev/ttyUSB9", 0x046D, 0xC077, "not a board")
PLAIN = ("/dev/ttyS0", None, None, "n/a")


@pytest.fixture
def comports(monkeypatch):
    from serial.tools import list_ports

    def use(*devs):
        monkeypatch.setattr(list_ports, "comports", fake_comports(*devs))

    return use


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


def test_ports_command_prints_marks(comports, capsys):
    from calfwalk.cli import main

    comports(PICO, MOUSE)
    assert main(["ports"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("pod?") and "/dev/ttyACM0" in out[0] and "2e8a:0005" in out[0]
    assert not out[1].startswith("pod?")
