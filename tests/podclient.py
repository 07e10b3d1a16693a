"""Test helper: talk to a pod over a transport and wait for particular lines."""

from __future__ import annotations

import time

from calfwalk.link import LineSplitter
from calfwalk.protocol import StreamChecker


class PodClient:
    def __init__(self, transport):
        self.t = transport
        self.split = LineSplitter()
        self.checker = StreamChecker()
        self.lines = []  # good Lines, in order

    def pump(self, seconds=0.05):
        end = time.monotonic() + seconds
        while True:
            data = self.t.read(0.02)
            for text in self.split.feed(data):
                line = self.checker.feed(text)
                if line is not None:
                    self.lines.append(line)
            if time.monotonic() >= end:
                return

    def wait(self, pred, timeout=10.0):
        """The first new good line matching pred (lines seen before the call are skipped)."""
        start = len(self.lines)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for line in self.lines[start:]:
                if pred(line):
                    return line
            start = len(self.lines)
            self.pump(0.05)
        raise AssertionError("timed out waiting for a line")

    def command(self, text, timeout=10.0):
        """Send a command; return its OK/ERR reply line."""
        mark = len(self.lines)
        self.t.write((text + "\n").encode())
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for line in self.lines[mark:]:
                if line.kind in ("OK", "ERR"):
                    return line
            self.pump(0.05)
        raise AssertionError(f"no reply to {text!r}")

    def status(self):
        self.command("status")
        return self.wait(lambda l: l.kind == "S").kv()
