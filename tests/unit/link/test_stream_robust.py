"""The host survives anything on the line and loses no good event; pod commands work and refuse bad input."""

from __future__ import annotations

import random
import subprocess

import pytest

from calfwalk.link.transport import FileTransport, SerialTransport
from calfwalk.sim.podsim import PodProcess
from calfwalk.files.protocol import StreamChecker, encode, parse
from calfwalk.link.recorder import Recorder
from calfwalk.files.session import read_session

from helpers import BOARDS, FIRMWARE, simulate_set
from calfwalk.link.podctl import PodClient


def capture(micropython, raw_path):
    """The firmware's complete output for a replayed file (autostart, exits at the end)."""
    out = subprocess.run([micropython, str(FIRMWARE / "main.py"), str(BOARDS / "unix.json"), f"replay={raw_path}",
                          "replay_speed=0", "autostart=true", "exit_at_end=true", "heartbeat_ms=200"],
                         cwd=str(FIRMWARE), capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def events_of(lines):
    evs = []
    for text in lines:
        try:
            _noise, line = parse(text)
        except ValueError:
            continue
        if line is not None and line.kind == "E":
            evs.append(",".join(line.fields))
    return evs


def test_garbage_corruption_gaps_and_reboot(tmp_path, micropython):
    paths, _ = simulate_set(tmp_path, steps=30, feet="left", seed=11, heel_touches=[(9, 300, 1500), (21, 200, 0)])
    first = capture(micropython, paths[0])
    paths2, _ = simulate_set(tmp_path, name="after", steps=12, feet="left", seed=12)
    second = capture(micropython, paths2[0])  # the pod after a reboot: seq restarts at 0
    assert first[0].startswith("$CW1,0,") and second[0].startswith("$CW1,0,")
    # the pod streamed the whole set (its input is /dev/null: it must keep going)
    assert sum(",E,step," in t for t in first) == 15 and ",E,set_end," in "".join(first)
    rng = random.Random(1)

    out = []  # chunks of bytes for the wire
    lost = set()  # indices (into first) of lines we damage or drop
    noise_lines = corrupt_lines = 0
    gap_lines = 0
    out.append(b"MicroPython v1.24.1 on 2024-11-29; Raspberry Pi Pico with RP2040\r\nType \"help()\" for more information.\r\n>>> ")
    noise_lines += 2  # banner lines; the prompt joins the next line as noise before its marker
    for i, text in enumerate(first):
        roll = rng.random()
        data = text.encode()
        if i > 2 and roll < 0.04:
            # flip one bit after the line's marker (a flip inside "$CW1," makes the line noise instead)
            j = rng.randrange(5, len(data))
            data = data[:j] + bytes([data[j] ^ (1 << rng.randrange(7))]) + data[j + 1:]
            if data.decode("ascii", "replace") != text:
                lost.add(i)
                corrupt_lines += 1
        elif i > 2 and roll < 0.07:
            data = data[: rng.randrange(8, len(data) - 2)]  # truncated: the rest never arrived
            lost.add(i)
            corrupt_lines += 1
        elif i > 2 and roll < 0.09:
            lost.add(i)  # dropped entirely
            gap_lines += 1
            continue
        out.append(data + b"\n")
        if i == len(first) // 2:
            out.append(b"Traceback (most recent call last):\r\n  File \"main.py\", line 3\r\nOSError: [Errno 5] EIO\r\n")
            noise_lines += 3
            out.append(bytes(rng.randrange(256) for _ in range(40)).replace(b"\n", b".") + b"\n")
            noise_lines += 1
    out.append(b"\xff\xfe\x00garbage\n")
    noise_lines += 1
    out.extend(t.encode() + b"\n" for t in second)
    wire = tmp_path / "wire.bin"
    wire.write_bytes(b"".join(out))

    session = tmp_path / "robust.cwlog"
    stats = Recorder([f"file:{wire}"], str(session), lambda p: FileTransport(p[5:], chunk=97), reconnect_s=0).run()
    st = list(stats.values())[0]
    assert st.reboots == 1
    assert st.corrupt == corrupt_lines
    assert st.gaps == gap_lines
    assert st.noise >= noise_lines - 1  # the prompt may share a line with the next marker
    # every good event is kept, in order
    want = events_of(first)
    kept_first = events_of([t for i, t in enumerate(first) if i not in lost])
    s = read_session(session)
    got = [e for e in s.pods[0].events]
    assert len(got) == len(kept_first) + len(events_of(second))
    assert len(kept_first) < len(want) or not lost
    assert s.pods[0].segments == 2
    # the session file holds every byte-line that arrived, noise included
    assert session.read_text().count("Traceback") == 1


def test_checker_never_raises_on_random_bytes():
    from hypothesis import given, settings, strategies as st

    from calfwalk.link.transport import LineSplitter

    @settings(max_examples=200, deadline=None)
    @given(st.binary(max_size=600))
    def run(data):
        split = LineSplitter()
        chk = StreamChecker()
        for text in split.feed(data) + split.flush():
            chk.feed(text)
        assert chk.stats.lines <= data.count(b"$CW1,") + 1

    run()


def test_gap_and_wrap_counting():
    chk = StreamChecker()
    for seq in (65533, 65534, 65535, 0):
        assert chk.feed(encode(seq, 1, "S", "x=1")) is not None
    assert chk.stats.gaps == 0 and chk.stats.reboots == 0  # a wrap is neither a gap nor a reboot
    chk = StreamChecker()
    chk.feed(encode(10, 1, "S"))
    chk.feed(encode(15, 1, "S"))
    assert chk.stats.gaps == 4


@pytest.fixture
def pod(tmp_path, micropython):
    paths, _ = simulate_set(tmp_path, steps=40, feet="left", seed=2, cadence_spm=30)
    with PodProcess(paths[0], speed=1) as proc:
        client = PodClient(SerialTransport(proc.port))
        client.wait(lambda l: l.kind == "H")
        yield client
        client.t.close()


def test_commands(pod):
    st = pod.status()[1]
    assert st["run"] == "0"  # the unix board waits for `start`
    assert pod.command("start").fields == ["start", "running"]
    assert pod.command("start").fields == ["start", "already running"]
    pod.pump(0.5)
    assert int(pod.status()[1]["samples"]) > 0

    assert pod.command("raw on").kind == "OK"
    raw = pod.wait(lambda l: l.kind == "R")
    assert len(raw.fields) == 7
    assert pod.command("raw off").kind == "OK"

    assert pod.command("get heel_down_mm").fields[1].startswith("heel_down_mm=12")
    assert pod.command("set heel_down_mm 10").fields == ["set", "heel_down_mm=10"]
    assert pod.command("get heel_down_mm").fields[1] == "heel_down_mm=10"

    calib = pod.command("calibrate")
    assert calib.kind == "OK"
    assert pod.status()[1]["state"] == "cal"

    assert pod.command("stop").kind == "OK"
    n1 = int(pod.status()[1]["samples"])
    pod.pump(0.4)
    assert int(pod.status()[1]["samples"]) == n1  # stopped: no sampling
    assert pod.command("start").kind == "OK"


@pytest.mark.parametrize("bad,why", [
    ("set heel_down_mm 999", "heel_down_mm must be 2..80"),
    ("set heel_down_mm abc", "must be an integer"),
    ("set heel_down_mm 40", "heel_down_mm must stay below heel_up_mm"),
    ("set nosuch 1", "unknown parameter"),
    ("set rate_hz 50", "board config"),
    ("set heel_down_mm", "usage"),
    ("raw maybe", "usage"),
    ("import os", "unknown command"),
    ("__import__('os').system('touch /tmp/pwned')", "unknown command"),
    ("x" * 100, "too long"),
])
def test_bad_commands_change_nothing(pod, bad, why):
    before = pod.command("get heel_down_mm").fields[1]
    reply = pod.command(bad)
    assert reply.kind == "ERR"
    assert why in ",".join(reply.fields)
    assert pod.command("get heel_down_mm").fields[1] == before
    assert pod.status()[1]["state"] in ("cal", "ready", "set")
