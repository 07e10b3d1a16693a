"""The firmware on a virtual Cortex-M0 (vpico, ../shared/tools/vpico): MicroPython 1.29 with
32-bit small ints and a 64 KB heap, as on a Pico.

- Bit-exact across word sizes: the same recordings replayed through the detector on vpico
  (heap locked around every sample, as the app runs it) and under CPython give identical
  events. On a 32-bit port an int past 2^30 becomes a heap-allocated long int: an overflow
  or a silent allocation shows here as a MemoryError or a different event.
- The whole app (main.py with boards/unix.json) over a 200-step set in the 64 KB heap, with
  its modules loaded into RAM (as from .mpy files on a board's filesystem) and run in place
  from ROM.

Skips with a message when vpico or qemu-system-arm is absent; the real recordings skip when
../shared/data is absent. Behaviour only: no figure here depends on timing.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from helpers import FIRMWARE, ROOT, simulate_set

sys.path.insert(0, str(ROOT / "bench"))
import vpico  # noqa: E402  (bench/vpico.py)

WHY = vpico.unavailable()
pytestmark = pytest.mark.skipif(WHY is not None, reason=WHY or "")

# simulated sets with every fault the detector reports (a crash and a soft heel touch, a long
# stride, bounces), one per sensor path
SIM = dict(steps=16, cadence_spm=50, pause_ms=300, mount="random", noise=1.0, bounce=0.2, seed=11,
           heel_touches=[(4, 300, 1500), (7, 200, 0)], long_strides=[11])
SIM_CASES = {"sim_imu": "imu", "sim_fsr": "fsr", "sim_imufsr": "imu+fsr"}
# accelerometer-only pods (issue 17): the same replay, bit for bit; how well they count is `make accuracy`'s
ACC_CASES = {"sim_acc": "acc", "sim_accfsr": "acc+fsr"}
REAL_CASES = ("gaitmap_left", "gaitmap_right", "voisard_left", "voisard_right")
CUT = 3000  # samples kept of each real recording (a few seconds of vpico each)
NO_DATA = "../shared/data not found: the gaitmap and voisard2023 replays on vpico are not run"


def _real_recordings():
    """({case: RawRecording}, {case: why it is missing}) for gaitmap and the first voisard2023 trial."""
    from calfwalk.eval import datasets

    root = datasets.data_dir()
    recs, missing = {}, {}
    for name, load in (("gaitmap", datasets.load_gaitmap), ("voisard", datasets.load_voisard)):
        try:
            trial = load(root)[0] if root is not None else None
        except (OSError, IndexError, datasets.DatasetError) as exc:
            trial, why = None, f"{name} recordings in ../shared/data not readable ({exc}): not replayed on vpico"
        else:
            why = NO_DATA
        for foot in ("left", "right"):
            if trial is None:
                missing[f"{name}_{foot}"] = why
            else:
                recs[f"{name}_{foot}"] = trial.recs[foot]
    return recs, missing


def _parse(text):
    """replay output -> {file stem: event lines + the closing samples line}."""
    out, cur = {}, None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("replay,"):
            cur = out.setdefault(line.split(",")[1].rsplit(".", 1)[0], [])
        elif cur is not None and line:
            cur.append(line)
    return out


@pytest.fixture(scope="module")
def replays(tmp_path_factory):
    """(vpico outputs, CPython outputs, truths of the simulated sets, why a recording is missing)."""
    from calfwalk.files.rawfile import read_raw

    work = tmp_path_factory.mktemp("vpico_replay")
    data, truths = {}, {}
    for case, sensor in {**SIM_CASES, **ACC_CASES}.items():
        paths, truth = simulate_set(work / case, sensor=sensor, feet="left", **SIM)
        vpico.write_samples(read_raw(paths[0]), work / f"{case}.bin")
        data[f"{case}.bin"] = work / f"{case}.bin"
        truths[case] = truth["feet"]["left"]
    recs, missing = _real_recordings()
    for case, rec in recs.items():
        vpico.write_samples(rec, work / f"{case}.bin", count=CUT)
        data[f"{case}.bin"] = work / f"{case}.bin"
    image = vpico.build_image(vpico.stage(work / "romfs", data), work / "replay.img")
    names = sorted(data)
    with vpico.Board(image) as board:
        board_out = board.exec("import vp_bench; vp_bench.use_rom('/rom/fw'); "
                               f"[vp_bench.replay('/rom/data/' + p) for p in {tuple(names)!r}]", timeout=600)
    cp = subprocess.run([sys.executable, str(vpico.VP_BENCH), str(FIRMWARE)] + [str(data[n]) for n in names],
                        capture_output=True, text=True, timeout=300)
    assert cp.returncode == 0, cp.stderr
    return _parse(board_out), _parse(cp.stdout), truths, missing


def _check(replays, case, min_steps):
    on_board, on_cpython, _truths, missing = replays
    if case in missing:
        pytest.skip(missing[case])
    board = on_board[case]
    n = int(on_cpython[case][-1].split(",")[1])
    assert board[-1] == f"samples,{n},alloc_fail,0"  # no MemoryError under the heap lock: no long int
    kinds = [line.split(",")[0] for line in board[:-1]]
    assert kinds.count("step") >= min_steps, kinds  # not vacuous
    assert board == on_cpython[case]
    return kinds


@pytest.mark.parametrize("case", sorted(SIM_CASES))
def test_simulated_set_same_events_on_cortex_m0_and_cpython(replays, case):
    kinds = _check(replays, case, 8)
    truth = replays[2][case]
    assert kinds.count("step") == len(truth["steps"])
    assert kinds.count("heel_contact") == len(truth["heel_contacts"]) >= 1


@pytest.mark.parametrize("case", sorted(ACC_CASES))
def test_accelerometer_only_set_same_events_on_cortex_m0_and_cpython(replays, case):
    kinds = _check(replays, case, 0)
    assert kinds[0] == "calibrated"  # the detector ran on the accelerometer's samples (sensor code 4/5)


@pytest.mark.parametrize("case", REAL_CASES)
def test_real_recording_same_events_on_cortex_m0_and_cpython(replays, case):
    _check(replays, case, 5)


# -- the whole app in the 64 KB heap -------------------------------------------------------------------
@pytest.fixture(scope="module")
def app_board(tmp_path_factory):
    work = tmp_path_factory.mktemp("vpico_app")
    paths, truth = simulate_set(work, steps=200, sensor="imu+fsr", feet="left", rate_hz=100, long_strides=[60])
    image = vpico.build_image(vpico.stage(work / "romfs", {"set.csv": paths[0]}), work / "app.img")
    with vpico.Board(image) as board:
        yield board, truth["feet"]["left"]


@pytest.mark.parametrize("where", ["rom"])
def test_whole_app_in_64k_heap_on_cortex_m0(app_board, where):
    """Modules run in place from ROM (frozen, or a ROMFS), with the pod's log on: how a board with
    a 64 KB heap runs the pod. Modules loaded into RAM (.mpy files on littlefs) take about 50 KB of
    it before the set starts (detector 26 KB, app 15 KB, the detector's state 5 KB): the app's
    import then finds no free block of 640 bytes, so that layout needs a larger heap (a Pico's is
    about 190 KB). `make bench` reports both layouts."""
    board, truth = app_board
    log = "/flash/log" if where == "rom" else ""
    text = board.exec(f"import vp_bench; vp_bench.whole_app('/rom/fw', '{where}', '/rom/boards/unix.json', "
                      f"'/rom/data/set.csv', 0, '{log}')", timeout=600)
    r = vpico.parse_app(text)
    assert r["heap_bytes"] == 64000  # the board's heap, not a larger one
    assert r["errors"] == []
    assert r["steps"] == len(truth["steps"]) == 100
    assert r["heel_contacts"] == 1 and r["set_end"]
    if not log:
        assert r["log_files"] == 0
        return
    # with the pod's log on: the set went to flash (a boot file and the set's), in batched writes
    assert r["log_files"] == 2 and r["log_bytes"] > 100 * 100 and 0 < r["log_writes"] <= r["log_bytes"] // 512 + 8
