"""The pod's budget under the MicroPython unix port: no allocation per sample, a 64 KB heap, no lost samples."""

from __future__ import annotations

import json
import subprocess

import pytest

from helpers import BOARDS, FIRMWARE, ROOT, simulate_set

MP_BENCH = ROOT / "bench" / "mp_bench.py"


def bench(micropython, *args, timeout=300):
    out = subprocess.run([micropython, str(MP_BENCH), str(FIRMWARE), *map(str, args)], capture_output=True,
                         text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("sensor", ["imu", "fsr", "imu+fsr", "acc", "acc+fsr"])
def test_no_allocation_per_sample(tmp_path, micropython, sensor):
    # a whole set: calibration, rise, 60 steps with heel contacts and a long stride, set end
    paths, truth = simulate_set(tmp_path, steps=120, sensor=sensor, feet="left", mount="random", rate_hz=100,
                                heel_touches=[(11, 300, 1500), (31, 200, 0)], long_strides=[51])
    r = bench(micropython, "alloc", paths[0], 10000, f"log={tmp_path / 'log'}")
    assert r["samples"] == 10000
    assert r["locked_failures"] == 0  # heap_lock held around every sample's ring write + detector update
    assert r["events"] >= 20  # steps and contacts happened inside the locked region
    # the protocol line of an event and its record in the pod's log allocate, a little
    assert 0 < r["alloc_bytes_per_event"] < 1500
    assert r["log_bytes"] > r["events"] * 40 and r["log_writes"] >= 3  # logging was on, and wrote


def test_whole_app_under_the_64_bit_unix_port(tmp_path, micropython, mpy_cross):
    """The whole app over a 200-step set, its modules loaded into the heap as .mpy, the pod's log on.

    The 64 KB budget itself is checked on the 32-bit virtual Cortex-M0 (tests/firmware/test_vpico.py:
    peak with the modules in ROM). This 64-bit port's objects are twice as wide and the
    second-generation detector's code no longer fits 64 KB here: with the log, the motion cut and
    the step search on the track, and the roomier attribute tables that make each sample cheaper
    on the M0, and the gyro bias's tilt correction, it needs 106 KB (104 KB fails). The bound,
    116 KB, leaves about 10 KB, so only a real growth of the app's memory fails it: a bound within
    1 KB failed on a clone at a longer path. The modules are compiled as `calfwalk flash` compiles
    them, with only the bare source name embedded, so where the checkout lives changes nothing.
    """
    mpy = tmp_path / "mpy"
    mpy.mkdir()
    for f in FIRMWARE.glob("*.py"):  # a board runs compiled .mpy, not source
        subprocess.run([mpy_cross, "-s", f.name, "-o", str(mpy / (f.stem + ".mpy")), str(f)], check=True)
    paths, truth = simulate_set(tmp_path, steps=200, sensor="imu+fsr", feet="left", rate_hz=100, long_strides=[60])
    out = subprocess.run([micropython, "-X", "heapsize=116k", "-m", "main", str(BOARDS / "unix.json"),
                          f"replay={paths[0]}", "replay_speed=0", "autostart=true", "exit_at_end=true", "log=log"],
                         capture_output=True, text=True, timeout=300, cwd=str(mpy), stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr[-500:]
    assert out.stdout.count(",E,step,") == len(truth["feet"]["left"]["steps"]) == 100
    assert out.stdout.count(",E,heel_contact,") == 1 and ",E,set_end," in out.stdout
    # with logging on: the whole set in the pod's log
    from calfwalk.device.podlog import read_log_dir

    files = read_log_dir(mpy / "log")
    records = [r for name, (rs, _torn) in files.items() if name.endswith(".set") for r in rs]
    assert sum(r.payload.startswith("step,") for r in records) == 100


def test_timer_sampling_loses_nothing_with_gcs_and_slow_writes(tmp_path, micropython):
    paths, _ = simulate_set(tmp_path, steps=50, sensor="imu", feet="left", rate_hz=200)
    # pod time is virtual (it moves by fixed costs, never by the wall clock, so the machine's load
    # cannot change the result; `make bench` measures the real-time figure): every serial line
    # stalls the loop for 100 ms, a GC forced every 200 passes for 20 ms
    r = bench(micropython, "vdrops", paths[0], 200, 100, f"log={tmp_path / 'log'}")
    assert r["samples"] > 11000 and r["forced_gcs"] > 10
    assert r["dropped_samples"] == 0 and r["reported_drops"] == 0
    # ... while the pod's log flushed (each write + flush stalls the loop for 100 ms of pod time)
    assert r["log_writes"] >= 10
    # the ring is what covers the stalls: half of it would not have
    half = bench(micropython, "vdrops", paths[0], 200, 100, 32)
    assert half["dropped_samples"] > 0 and half["reported_drops"] == half["dropped_samples"]


def test_an_overflowing_ring_is_counted_and_reported(tmp_path, micropython):
    paths, _ = simulate_set(tmp_path, steps=20, sensor="imu", feet="left", rate_hz=200)
    # a 4-slot ring cannot cover a 100 ms stall at 200 Hz: the pod must say how many it lost
    r = bench(micropython, "vdrops", paths[0], 200, 100, 4)
    assert r["dropped_samples"] > 0
    assert r["reported_drops"] == r["dropped_samples"]
