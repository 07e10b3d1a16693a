"""The pod's log survives power cuts: fault injection under the MicroPython unix port.

tests/mpy/power_cut.py drives firmware/logbook.py as the app does, through a VFS shim that
cuts the power after a seeded number of bytes (the write under way keeps a prefix, then
nothing, erased flash or garbage), for CUTS seeds; then reboots every flash folder in a new
process. Every record written whole before the cut must come back (unless the log deleted its
file to make room, which only happens to pulled sets and files outside sets), the torn
record must not, nothing else may appear, and the rebooted pod must log again under the
next boot number. The figures go to build/power-cut.json and the README.
"""

from __future__ import annotations

import json
import subprocess

from calfwalk.device.podlog import read_log_dir

from helpers import FIRMWARE, ROOT

SCRIPT = ROOT / "tests" / "mpy" / "power_cut.py"
CUTS = 600


def _run(micropython, work, mode):
    out = subprocess.run([micropython, str(SCRIPT), str(FIRMWARE), str(work), mode, "0", str(CUTS)],
                         capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = {}
    for line in out.stdout.splitlines():
        f = line.split(",", 7 if mode == "cut" else 5)
        rows[int(f[1])] = f
    assert sorted(rows) == list(range(CUTS))
    return rows


def test_power_cuts_lose_only_the_torn_record(micropython, tmp_path):
    cut = _run(micropython, tmp_path, "cut")
    boot = _run(micropython, tmp_path, "boot")
    figures = {"cuts": CUTS, "records_whole_before_cut": 0, "records_recovered": 0, "records_lost": 0,
               "torn_records_dropped": 0, "deleted_for_room": 0, "cuts_in_boot": {}}
    for seed in range(CUTS):
        _s, _seed, _b, boots, _t, torn, _d, deleted_and_whole = cut[seed]
        deleted_text, _w, whole_text = deleted_and_whole.split(",", 2)
        deleted = set(filter(None, deleted_text.split("/")))
        whole = [tuple(w.split(":")) for w in whole_text.split()]
        expected = {(name, int(seq), crc) for name, seq, crc in whole if name not in deleted}
        figures["records_whole_before_cut"] += len(whole)
        figures["deleted_for_room"] += len(whole) - len(expected)
        figures["cuts_in_boot"][boots] = figures["cuts_in_boot"].get(boots, 0) + 1
        _s, _seed, _b, new_boot, _r, rec_text = boot[seed]
        recs = [r.split(":") for r in rec_text.split()]
        old = {(name, int(seq), crc) for name, seq, b, crc in recs if int(b) != int(new_boot)}
        new = [(name, int(seq)) for name, seq, b, crc in recs if int(b) == int(new_boot)]
        lost = expected - old
        figures["records_lost"] += len(lost)
        figures["records_recovered"] += len(expected & old)
        assert not lost, f"seed {seed}: records written whole before the cut are gone: {sorted(lost)[:5]}"
        # nothing appears that was not written whole (a torn or garbage tail never reads as a record)
        assert old <= expected, f"seed {seed}: records read back that were never written whole: {sorted(old - expected)[:5]}"
        if int(torn) >= 0:
            figures["torn_records_dropped"] += 1
            assert all(seq != int(torn) for _n, seq, _c in old), f"seed {seed}: the torn record {torn} came back"
        # the pod booted again: the next boot number, a new file, its records after every old one
        olds = [int(b) for _n, _s2, b, _c in recs if int(b) != int(new_boot)]
        assert int(new_boot) == (max(olds) + 1 if olds else 0) or not olds
        assert len(new) == 4, f"seed {seed}: the rebooted pod did not log its boot and 3 records: {new}"
        assert all(seq > max((s for _n, s, _c in old), default=-1) for _n, seq in new)
        assert len({n for n, _s2 in new}) == 1 and all(n > max((o[0] for o in old), default="") for n, _s2 in new)
        # the host's own reader sees the same records, and nothing after a torn tail
        host = {(name, r.seq, f"{r.crc:08x}") for name, (rs, _torn) in read_log_dir(tmp_path / f"s{seed}" / "log").items()
                for r in rs}
        assert host == old | {(n, s, c) for n, s, b, c in ((r[0], int(r[1]), r[2], r[3]) for r in recs)
                              if int(b) == int(new_boot)}
    figures["cuts_in_boot"] = {str(k): v for k, v in sorted(figures["cuts_in_boot"].items())}
    assert figures["torn_records_dropped"] >= CUTS // 2  # most cuts land inside a write: the check is not vacuous
    assert figures["deleted_for_room"] > 0 and len(figures["cuts_in_boot"]) >= 2
    (ROOT / "build").mkdir(exist_ok=True)
    (ROOT / "build" / "power-cut.json").write_text(json.dumps(figures, indent=1))
    print(f"\npower cuts: {CUTS} tried, {figures['records_recovered']} records recovered, "
          f"{figures['records_lost']} lost, {figures['torn_records_dropped']} torn records dropped")
