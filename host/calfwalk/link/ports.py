"""Serial ports, with likely MicroPython boards marked by USB vendor/product ID."""

from __future__ import annotations

from dataclasses import dataclass

from calfwalk.errors import CalfwalkError

# USB VID:PID pairs of boards that run MicroPython (PID None = any product of that vendor)
MICROPYTHON_USB = {
    (0x2E8A, 0x0005): "Raspberry Pi Pico / Pico W (MicroPython)",
    (0x2E8A, None): "Raspberry Pi RP2040/RP2350 board",
    (0x2341, 0x025E): "Arduino Nano RP2040 Connect",
    (0x2341, None): "Arduino board",
    (0x303A, None): "Espressif ESP32-S2/S3/C3 (native USB)",
    (0x10C4, 0xEA60): "CP210x USB-UART (common on ESP32 boards)",
    (0x1A86, 0x7523): "CH340 USB-UART (common on ESP32 boards)",
    (0x1A86, 0x55D4): "CH9102 USB-UART (common on ESP32 boards)",
    (0xF055, 0x9800): "MicroPython pyboard",
}


class PortError(CalfwalkError):
    """No port given and none (or more than one) board found, or too many ports given."""


@dataclass
class PortInfo:
    device: str
    description: str
    vid: int | None
    pid: int | None
    micropython: bool


def board_name(vid, pid):
    if vid is None:
        return None
    return MICROPYTHON_USB.get((vid, pid)) or MICROPYTHON_USB.get((vid, None))


def list_ports() -> list:
    from serial.tools import list_ports as lp

    out = []
    for p in sorted(lp.comports(), key=lambda p: p.device):
        name = board_name(p.vid, p.pid)
        out.append(PortInfo(p.device, name or p.description or "", p.vid, p.pid, name is not None))
    return out


def find_pods() -> list:
    """Connected ports that look like MicroPython boards."""
    return [p for p in list_ports() if p.micropython]


def resolve_ports(ports=None) -> list:
    """The --port values (one or two: the left and the right pod), or the one connected MicroPython
    board when none is given; PortError when there is none, or several to choose from."""
    if ports:
        if len(ports) > 2:
            raise PortError("give at most two ports (left and right pod)")
        return list(ports)
    pods = find_pods()
    if len(pods) == 1:
        return [pods[0].device]
    if not pods:
        raise PortError("no pod found: plug it in, or give --port (see `calfwalk ports`)")
    raise PortError("several boards connected: choose with --port " + " or ".join(p.device for p in pods))
