"""The firmware under the real MicroPython unix port: it compiles, it detects exactly what
CPython detects, and the detector allocates nothing per sample."""

from __future__ import annotations

import subprocess
import sys

import pytest

from calfwalk import firmware
from calfwalk.analysis.detect import detect
from calfwalk.model import wire_values
from calfwalk.files.rawfile import read_raw

from helpers import FIRMWARE, ROOT, simulate_set

REPLAY = ROOT / "tests" / "mpy" / "detect_replay.py"
FIRMWARE_FILES = sorted(FIRMWARE.glob("*.py"))

# A set with every fault the detector reports: crash + soft heel touch, a long stride, bounces.
SET = dict(steps=16, cadence_spm=50, pause_ms=300, mount="random", noise=1.0, bounce=0.2, seed=11,
           heel_touches=[(4, 300, 1500), (7, 200, 0)], long_strides=[11])
CASES = [("imu+fsr", "left"), ("imu+fsr", "right"), ("imu", "left"), ("imu", "right"), ("fsr", "left"), ("fsr", "right")]
CASE_IDS = [f"{s}-{f}" for s, f in CASES]


def run(exe, *args, timeout=120):
    proc = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, timeout=timeout)
    return proc


# ------------------------------------------------------------------ mpy-cross

def test_firmware_files_found():
    names = {p.name for p in FIRMWARE_FILES}
    assert {"detector.py", "sources.py", "ring.py", "main.py"} <= names, names


@pytest.mark.parametrize("src", FIRMWARE_FILES, ids=[p.name for p in FIRMWARE_FILES])
def test_mpy_cross_compiles(mpy_cross, tmp_path, src):
    out = tmp_path / (src.stem + ".mpy")
    proc = run(mpy_cross, "-o", out, src)
    assert proc.returncode == 0, f"mpy-cross rejects {src.name}:\n{proc.stdout}{proc.stderr}"
    assert proc.stderr == ""
    blob = out.read_bytes()
    assert blob[:1] == b"M" and len(blob) > 16  # .mpy header


def test_mpy_cross_rejects_syntax_micropython_lacks(mpy_cross, tmp_path):
    """The check above can fail: CPython-only syntax (positional-only parameters) is refused."""
    src = tmp_path / "posonly.py"
    src.write_text("def f(a, /, b):\n    return a + b\n")
    compile(src.read_text(), str(src), "exec")  # fine for CPython
    proc = run(mpy_cross, "-o", tmp_path / "posonly.mpy", src)
    assert proc.returncode != 0
    assert "SyntaxError" in proc.stdout + proc.stderr


# ------------------------------------------------------------------ replay under both Pythons

@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    """{sensor: {foot: (path, truth of that foot)}} for the three sensor kinds."""
    out = {}
    for sensor in ("imu+fsr", "imu", "fsr"):
        folder = tmp_path_factory.mktemp(sensor.replace("+", "_"))
        paths, truth = simulate_set(folder, sensor=sensor, **SET)
        out[sensor] = {}
        for path in paths:
            foot = read_raw(path).foot
            out[sensor][foot] = (path, truth["feet"][foot])
    return out


@pytest.fixture(scope="module")
def replays(sets, micropython):
    """Cache of detect_replay.py outputs: (interpreter, sensor, foot, heaplock) -> stdout lines."""
    cache = {}

    def get(interp, sensor, foot, heaplock=False):
        key = (interp, sensor, foot, heaplock)
        if key not in cache:
            exe = micropython if interp == "micropython" else sys.executable
            args = [REPLAY, FIRMWARE, sets[sensor][foot][0]] + (["heaplock"] if heaplock else [])
            proc = run(exe, *args)
            assert proc.returncode == 0, f"{interp} {args}:\n{proc.stdout[-2000:]}{proc.stderr}"
            assert proc.stderr == ""
            cache[key] = proc.stdout.splitlines()
        return cache[key]

    return get


def n_rows(path):
    return len(read_raw(path).data)


@pytest.mark.parametrize("sensor,foot", CASES, ids=CASE_IDS)
def test_micropython_matches_cpython(replays, sets, sensor, foot):
    mp = replays("micropython", sensor, foot)
    cp = replays("cpython", sensor, foot)
    path, truth = sets[sensor][foot]
    kinds = [line.split(",")[0] for line in mp[:-1]]
    # not vacuous: the set has steps and heel contacts on this foot, and both were found
    assert kinds.count("step") == len(truth["steps"]) == 8
    assert kinds.count("heel_contact") == len(truth["heel_contacts"]) >= 1
    assert kinds[:2] == ["calibrated", "set_start"] and "set_end" in kinds
    assert mp[-1] == f"samples,{n_rows(path)},alloc_fail,0"
    assert mp == cp


@pytest.mark.parametrize("sensor,foot", CASES, ids=CASE_IDS)
def test_heap_locked_detector_allocates_nothing(replays, sets, sensor, foot):
    locked = replays("micropython", sensor, foot, heaplock=True)
    path, _truth = sets[sensor][foot]
    assert locked[-1] == f"samples,{n_rows(path)},alloc_fail,0"
    # nothing was lost to a MemoryError either: same events as without the lock
    assert locked == replays("micropython", sensor, foot)


def patched_firmware(tmp_path, patch):
    """A copy of firmware/ with `patch` appended to detector.py."""
    folder = tmp_path / "fw"
    folder.mkdir()
    for src in FIRMWARE_FILES:
        (folder / src.name).write_text(src.read_text())
    with open(folder / "detector.py", "a") as fh:
        fh.write("\n" + patch)
    return folder


ALLOC_PER_SAMPLE = """
_Base = Detector
class Detector(_Base):
    def update(self, t, ax, ay, az, gx, gy, gz, heel, med, lat):
        self.junk = [t]
        return _Base.update(self, t, ax, ay, az, gx, gy, gz, heel, med, lat)
"""

ALLOC_PER_EVENT = """
_Base = Detector
class Detector(_Base):
    def _emit(self, kind, t, a, b, c, d, e, f, g, h):
        self.junk = [kind]
        _Base._emit(self, kind, t, a, b, c, d, e, f, g, h)
"""


@pytest.mark.parametrize("patch,name", [(ALLOC_PER_SAMPLE, "sample"), (ALLOC_PER_EVENT, "event")], ids=["sample", "event"])
def test_heaplock_catches_allocations(micropython, sets, tmp_path, patch, name):
    """The heap-lock check can fail: a detector that allocates is caught, per sample or per event."""
    folder = patched_firmware(tmp_path, patch)
    path, _truth = sets["imu+fsr"]["right"]
    proc = run(micropython, REPLAY, folder, path, "heaplock")
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.splitlines()[-1].split(",")
    assert last[:2] == ["samples", str(n_rows(path))]
    fails = int(last[3])
    if name == "sample":
        assert fails == n_rows(path)
    else:
        # only the samples that (tried to) emit an event fail; the set start may repeat its attempt
        assert 1 <= fails < n_rows(path) // 4


@pytest.mark.parametrize("sensor,foot", CASES, ids=CASE_IDS)
def test_micropython_events_equal_host_detect(replays, sets, sensor, foot):
    det = firmware.load("detector")
    fields = {det.EVENT_NAMES[k]: v for k, v in det.EVENT_FIELDS.items()}
    width = det.EV_WIDTH - 2  # values printed after kind and t_ms
    path, _truth = sets[sensor][foot]
    host = []
    for ev in detect(read_raw(path)):
        assert ev["foot"] == foot
        names = fields[ev["type"]]
        values = wire_values(ev)
        host.append([ev["type"], ev["t_ms"]] + values + [0] * (width - len(values)))
    pod = []
    for line in replays("micropython", sensor, foot)[:-1]:
        parts = line.split(",")
        assert len(parts) == det.EV_WIDTH, line
        pod.append([parts[0]] + [int(v) for v in parts[1:]])
    assert len(pod) >= 12
    assert pod == host
    # unknown fields really are unknown for the sensors fitted
    steps = [e for e in pod if e[0] == "step"]
    heel_mm = [e[2 + fields["step"].index("heel_mm")] for e in steps]
    med_pct = [e[2 + fields["step"].index("med_pct")] for e in steps]
    assert all(v == det.UNKNOWN for v in heel_mm) == ("imu" not in sensor)
    assert all(v == det.UNKNOWN for v in med_pct) == ("fsr" not in sensor)


def test_replay_skips_blank_lines_like_read_raw(micropython, sets, tmp_path):
    path, _truth = sets["imu"]["left"]
    text = open(path).read().splitlines()
    text.insert(len(text) // 2, "")
    gap = tmp_path / "gap.csv"
    gap.write_text("\n".join(text) + "\n")
    assert n_rows(gap) == n_rows(path)
    proc = run(micropython, REPLAY, FIRMWARE, gap)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == f"samples,{n_rows(path)},alloc_fail,0"


# A heel bobbing in every stance: the foot never rests, the history fills and the motion is cut
# where the foot stood (Detector._cut), landing-time work inside a sample's update.
BOBBING = dict(steps=24, bounce=1.0, bounce_deg=3.4, bounce_hz=3.4, cadence_spm=123, pause_ms=300, stride_cm=10.5,
               swing_ms=440, lift_cm=1.6, swing_turn_deg=11, seed=2)


def assert_heap_locked_replay_alike(micropython, path, host_steps):
    """The MicroPython replay of `path`, heap locked, allocates nothing and prints what CPython's
    does, with the host's step count."""
    mp = run(micropython, REPLAY, FIRMWARE, path, "heaplock")
    cp = run(sys.executable, REPLAY, FIRMWARE, path)
    assert mp.returncode == 0 and cp.returncode == 0, mp.stdout[-2000:] + mp.stderr + cp.stderr
    lines = mp.stdout.splitlines()
    assert lines[-1] == f"samples,{n_rows(path)},alloc_fail,0"
    assert lines == cp.stdout.splitlines()
    assert sum(line.startswith("step,") for line in lines) == host_steps


def test_a_motion_cut_where_the_foot_stood_runs_alike_and_allocates_nothing(micropython, tmp_path):
    paths, truth = simulate_set(tmp_path, sensor="imu", **BOBBING)
    path = [p for p in paths if read_raw(p).foot == "right"][0]
    # the cut ran on this foot: without it a bobbing walk is one motion, and two steps at most
    det = firmware.load("detector")
    calls = []
    orig = det.Detector._cut
    det.Detector._cut = lambda self, t: calls.append(t) or orig(self, t)
    try:
        host_steps = sum(e["type"] == "step" for e in detect(read_raw(path)))
    finally:
        det.Detector._cut = orig
    assert calls and host_steps > 2
    assert_heap_locked_replay_alike(micropython, path, host_steps)


def test_a_motion_gone_on_from_where_the_foot_stood_still_runs_alike_and_allocates_nothing(micropython, tmp_path):
    # held-out sweep set 3 of seed 90000: heels bobbing after some landings, the next motion begun
    # at a rest's stillest entry (see Detector._track)
    from calfwalk.eval import robustness
    from calfwalk.sim.simulate import write_simulation

    paths = write_simulation(robustness.draw(3, 90000).cfg, str(tmp_path / "bob"))[:-1]
    path = [p for p in paths if read_raw(p).foot == "left"][0]
    det = firmware.load("detector")
    calls = []
    orig = det.Detector._go_on
    det.Detector._go_on = lambda self, t, a, n_all, landing, still=-1: (
        calls.append(still), orig(self, t, a, n_all, landing, still))[1]
    try:
        host_steps = sum(e["type"] == "step" for e in detect(read_raw(path)))
    finally:
        det.Detector._go_on = orig
    assert any(s >= 0 for s in calls) and host_steps == 14
    assert_heap_locked_replay_alike(micropython, path, host_steps)
