"""The serial link behind a small transport interface: a real port, a pty and a file are interchangeable."""

from __future__ import annotations

import time

MAX_LINE = 512  # longer than any protocol line: longer runs are noise, cut into pieces


class LinkLost(Exception):
    """The port went away (cable unplugged, pod reset on USB)."""


class Transport:
    """Bytes in and out. `read` returns b'' on timeout; raises LinkLost when the link is gone."""

    name = "?"

    def read(self, timeout: float) -> bytes:
        raise NotImplementedError

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class SerialTransport(Transport):
    """A serial port (also a pseudo-terminal) through pyserial."""

    def __init__(self, port: str, baud: int = 115200):
        import serial

        self.name = port
        self.port = port
        self.baud = baud
        try:
            self._s = serial.Serial(port, baud, timeout=0)
        except serial.SerialException as exc:
            raise LinkLost(_explain(port, exc)) from None

    def read(self, timeout: float) -> bytes:
        import serial

        try:
            self._s.timeout = timeout
            first = self._s.read(1)
            if not first:
                return b""
            self._s.timeout = 0
            return first + self._s.read(self._s.in_waiting or 0)
        except (serial.SerialException, OSError) as exc:
            raise LinkLost(f"{self.port}: {exc}") from None

    def write(self, data: bytes) -> None:
        import serial

        try:
            self._s.write(data)
            self._s.flush()
        except (serial.SerialException, OSError) as exc:
            raise LinkLost(f"{self.port}: {exc}") from None

    def discard_input(self) -> None:
        """Drop what the port has received and nobody has read yet (a REPL's echo before a reboot)."""
        import serial

        try:
            self._s.reset_input_buffer()
        except (serial.SerialException, OSError) as exc:
            raise LinkLost(f"{self.port}: {exc}") from None

    def close(self) -> None:
        try:
            self._s.close()
        except Exception:  # closing a vanished port must not hide the real error
            pass


def _explain(port, exc) -> str:
    text = str(exc)
    if "Permission denied" in text:
        return f"{port}: permission denied: add yourself to the 'dialout' group (Linux) or run with access to the port"
    if "No such file" in text or "could not open" in text:
        return f"{port}: no such port: is the pod plugged in? `calfwalk ports` lists what is connected"
    return f"{port}: {text}"


class FileTransport(Transport):
    """Replays bytes captured from a pod (a file), in chunks; then reports the link lost."""

    def __init__(self, path: str, chunk: int = 256):
        self.name = str(path)
        with open(path, "rb") as fh:
            self._data = fh.read()
        self._pos = 0
        self._chunk = chunk
        self.written = bytearray()

    def read(self, timeout: float) -> bytes:
        if self._pos >= len(self._data):
            raise LinkLost(f"{self.name}: end of file")
        out = self._data[self._pos:self._pos + self._chunk]
        self._pos += len(out)
        return out

    def write(self, data: bytes) -> None:
        self.written += data


class LineSplitter:
    """Bytes to text lines. Never raises: undecodable bytes become escapes, long runs are cut."""

    def __init__(self, max_line: int = MAX_LINE):
        self._buf = bytearray()
        self.max_line = max_line

    def feed(self, data: bytes) -> list:
        self._buf += data
        out = []
        while True:
            i = self._buf.find(b"\n")
            if i < 0:
                break
            out.append(self._decode(self._buf[:i]))
            del self._buf[:i + 1]
        while len(self._buf) > self.max_line:
            out.append(self._decode(self._buf[:self.max_line]))
            del self._buf[:self.max_line]
        return out

    @property
    def partial(self) -> str:
        """The start of a line not yet ended (a REPL prompt, say), as text; it stays in the buffer."""
        return self._decode(self._buf)

    def flush(self) -> list:
        """Whatever is left (half a line at the end of a stream)."""
        if not self._buf:
            return []
        out = [self._decode(self._buf)]
        self._buf.clear()
        return out

    @staticmethod
    def _decode(raw: bytes) -> str:
        return bytes(raw).rstrip(b"\r").decode("ascii", "backslashreplace").replace("\t", "\\t")


def open_transport(port: str, baud: int = 115200) -> Transport:
    """A transport for a port name; `file:PATH` replays a capture."""
    if port.startswith("file:"):
        return FileTransport(port[5:])
    return SerialTransport(port, baud)


def wait_for(transport_factory, timeout_s: float):
    """Call transport_factory until it opens or timeout_s passes (a pod re-enumerating on USB)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return transport_factory()
        except LinkLost:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.5)
