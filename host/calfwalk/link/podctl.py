"""Talk to a live pod: send a command, wait for its reply or for an event."""

from __future__ import annotations

import time

from calfwalk.link.transport import LineSplitter
from calfwalk.files.protocol import StreamChecker, event_from_line


class PodError(Exception):
    """The pod refused a command (its ERR message) or did not answer in time."""


class PodClient:
    def __init__(self, transport):
        self.t = transport
        self.split = LineSplitter()
        self.checker = StreamChecker()
        self.lines = []  # good Lines, in order
        self.foot = None

    def pump(self, seconds=0.05):
        end = time.monotonic() + seconds
        while True:
            data = self.t.read(0.02)
            for text in self.split.feed(data):
                line = self.checker.feed(text)
                if line is not None:
                    if line.kind in ("H", "S"):
                        self.foot = line.kv().get("foot", self.foot)
                    self.lines.append(line)
            if time.monotonic() >= end:
                return

    def wait(self, pred, timeout=10.0, what="a line"):
        """The first new good line matching pred (lines seen before the call are skipped)."""
        start = len(self.lines)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for line in self.lines[start:]:
                if pred(line):
                    return line
            start = len(self.lines)
            self.pump(0.05)
        raise PodError(f"the pod sent no {what} within {timeout:g} s")

    def wait_event(self, name, timeout=30.0):
        line = self.wait(lambda l: l.kind == "E" and l.fields[:1] == [name], timeout, f"'{name}' event")
        return event_from_line(line, self.foot or "left")

    def command(self, text, timeout=10.0):
        """Send a command; return its OK/ERR reply line."""
        mark = len(self.lines)
        self.t.write((text + "\n").encode())
        word = text.split()[0] if text.split() else ""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for line in self.lines[mark:]:
                if line.kind in ("OK", "ERR") and (not word or line.fields[:1] in ([word], ["line"]) or
                                                   line.kind == "ERR"):
                    return line
            self.pump(0.05)
        raise PodError(f"no reply to {text!r} within {timeout:g} s: is it a calfwalk pod?")

    def ok(self, text, timeout=10.0):
        """Send a command; return the reply's fields after the command name, or raise PodError."""
        reply = self.command(text, timeout)
        if reply.kind == "ERR":
            raise PodError(f"pod refused {text!r}: {','.join(reply.fields[1:])}")
        return reply.fields[1:]

    def status(self):
        """(hello, status) key=value dicts: the H and S lines a `status` command brings."""
        mark = len(self.lines)
        self.ok("status")
        if not any(line.kind == "S" for line in self.lines[mark:]):
            self.wait(lambda line: line.kind == "S", what="status (S) line")
        new = self.lines[mark:]
        hello = next((l.kv() for l in new if l.kind == "H"), {})
        status = next((l.kv() for l in reversed(new) if l.kind == "S"), {})
        return hello, status
