"""Whatever the host sends, the pod under the real MicroPython unix port keeps sampling and answering.

Defect 1 of issue 12: one non-ASCII byte on the pod's input killed the firmware
(stdin was decoded as text). Then the command parser is fuzzed: random bytes,
long lines, partial lines and bursts, on the real firmware (main.py on a pipe)
and on the app with a timer on a virtual clock (tests/mpy/cmd_fuzz.py), where a
burst must not hold up the loop long enough to drop a sample.
"""

from __future__ import annotations

import os
import random
import select
import subprocess
import time

import pytest

from calfwalk.files.protocol import parse

from helpers import BOARDS, FIRMWARE, ROOT, simulate_set


class PipePod:
    """main.py under the unix port, its stdin and stdout on pipes: a pod whose host writes anything."""

    def __init__(self, micropython, raw, speed=1):
        self.proc = subprocess.Popen(
            [micropython, str(FIRMWARE / "main.py"), str(BOARDS / "unix.json"), f"replay={raw}",
             f"replay_speed={speed}", "autostart=true", "heartbeat_ms=200"],
            cwd=str(FIRMWARE), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.buf = b""
        self.lines = []

    def write(self, data: bytes):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def pump(self, seconds):
        """Collect the pod's lines for up to `seconds` (returns early if the pod exits)."""
        end = time.monotonic() + seconds
        fd = self.proc.stdout.fileno()
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                return
            chunk = os.read(fd, 65536)
            if not chunk:
                return
            self.buf += chunk
            *done, self.buf = self.buf.split(b"\n")
            self.lines.extend(d.decode("ascii", "replace") for d in done)

    def wait_for(self, pred, timeout=20.0):
        """The first new good protocol line matching pred, or None."""
        start = len(self.lines)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for text in self.lines[start:]:
                try:
                    _n, line = parse(text)
                except ValueError:
                    continue
                if line is not None and pred(line):
                    return line
            start = len(self.lines)
            if self.proc.poll() is not None:
                self.pump(0.2)
                if len(self.lines) == start:
                    return None
            self.pump(0.2)
        return None

    def status(self, timeout=20.0):
        self.write(b"status\n")
        line = self.wait_for(lambda l: l.kind == "S" and l.kv().get("src"), timeout)
        return None if line is None else line.kv()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        err = self.proc.stderr.read().decode("utf-8", "replace")
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass
        return err


@pytest.fixture(scope="module")
def long_set(tmp_path_factory, micropython):
    tmp = tmp_path_factory.mktemp("podinput")
    paths, _ = simulate_set(tmp, steps=80, feet="left", seed=31, cadence_spm=40)
    return paths[0]


@pytest.mark.parametrize("junk", [b"\xe9t\xe9\n", b"\xff\xfe", b"\x80status\n", b"st\xc3\xa9tus\r\n"])
def test_non_ascii_bytes_do_not_kill_the_pod(micropython, long_set, junk):
    pod = PipePod(micropython, long_set)
    try:
        first = pod.status()
        assert first is not None, "the pod never answered"
        pod.write(junk + b"\n")
        after = pod.status()
        alive = pod.proc.poll() is None
    finally:
        err = pod.close()
    assert alive and after is not None, f"the pod died on {junk!r}: {err[-300:]}"
    assert "Traceback" not in err
    assert int(after["samples"]) > int(first["samples"])  # still sampling
    assert after["dropped"] == "0"


def fuzz_chunks(rng: random.Random, n_chunks: int):
    """Random bytes, non-ASCII, control characters, long lines, partial lines and bursts."""
    words = [b"status", b"start", b"stop", b"raw on", b"raw off", b"get heel_down_mm", b"set heel_down_mm 11",
             b"set cue_fade_pct 60", b"help", b"set", b"get", b"raw", b"calibrate", b"unloaded", b"$CW1,0,0,S*00"]
    for _ in range(n_chunks):
        kind = rng.randrange(7)
        if kind == 0:  # random bytes of any value
            yield bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
        elif kind == 1:  # a line far longer than any command
            yield bytes(rng.randrange(32, 127) for _ in range(rng.randrange(81, 3000))) + b"\n"
        elif kind == 2:  # half a command, the rest later (or never)
            w = rng.choice(words)
            yield w[:rng.randrange(len(w))]
        elif kind == 3:  # a burst of commands and junk lines in one write
            yield b"".join(rng.choice(words + [b"\xe9\xff", b"\x00\x01\x02", b"\r", b""]) + rng.choice([b"\n", b"\r", b"\r\n"])
                           for _ in range(rng.randrange(5, 60)))
        elif kind == 4:  # a known command with non-ASCII or control bytes inside
            w = bytearray(rng.choice(words))
            w.insert(rng.randrange(len(w) + 1), rng.choice([0x80, 0xC3, 0xFF, 0x00, 0x1B, 0x7F, 0x09]))
            yield bytes(w) + b"\n"
        elif kind == 5:  # only line ends
            yield rng.choice([b"\n", b"\r", b"\r\n"]) * rng.randrange(1, 50)
        else:  # a big burst with no line end at all
            yield bytes(rng.randrange(256) for _ in range(rng.randrange(500, 4000))).replace(b"\n", b"")


@pytest.mark.parametrize("seed", [1, 2])
def test_command_parser_fuzzed_on_the_real_firmware(micropython, long_set, seed):
    """main.py under the unix port, real-time replay: fuzz its input; it keeps sampling and answers status."""
    rng = random.Random(seed)
    pod = PipePod(micropython, long_set)
    sent = 0
    try:
        first = pod.status()
        assert first is not None
        for chunk in fuzz_chunks(rng, 150):
            pod.write(chunk)
            sent += len(chunk)
            pod.pump(0)  # keep the pod's output flowing (a full pipe would block it, not the fuzz)
        pod.write(b"\n")  # end whatever partial line is pending
        after = pod.status()
        alive = pod.proc.poll() is None
    finally:
        err = pod.close()
    assert sent > 50_000
    assert alive and after is not None, f"the pod stopped answering: {err[-400:]}"
    assert "Traceback" not in err
    assert int(after["samples"]) > int(first["samples"])
    assert after["dropped"] == "0"
    assert after["run"] in ("0", "1")
    # every protocol line the pod wrote during the fuzz is well formed
    bad = []
    for text in pod.lines:
        try:
            parse(text)
        except ValueError as exc:
            bad.append((text, str(exc)))
    assert not bad, bad[:3]


def test_command_parser_fuzz_with_timer_sampling_drops_nothing(micropython):
    """The app with a timer on a virtual clock; each pass's input costs pod time: bursts must not drop samples."""
    out = subprocess.run([micropython, str(ROOT / "tests" / "mpy" / "cmd_fuzz.py"), str(FIRMWARE), "1000", "7"],
                         capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr[-500:]
    res = dict(line.split(" ", 1) for line in out.stdout.strip().splitlines() if " " in line)
    assert int(res["fuzz_bytes"]) >= 300_000
    assert int(res["ticks"]) > 10_000
    assert res["dropped"] == "0"
    assert res["processed"] == res["ticks"]  # every sample the timer took went through the detector
    assert res["status_answered"] == "1"
    assert int(res["max_bytes_per_pass"]) <= 64
