"""`make bench`: the pod's budget per sensor path, under the MicroPython unix port and on vpico.

Unix port: allocation per sample and per event, heap high-water mark, CPU cost per
sample (as a ratio to a reference loop iteration, and as an x86-derived Pico
estimate), dropped samples over a 10-minute 200 Hz set, and the 64 KB heap run.
vpico (the virtual Cortex-M0 in ../shared/tools/vpico, see bench/vpico.py):
instructions per detector sample (median, worst), per event and per landing, the
RP2040 estimate, the 32-bit heap peak with the modules in RAM and in ROM, and the
whole app in the 64 KB heap. Writes the figures to build/bench.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "host"))
import vpico  # noqa: E402  (bench/vpico.py)

FIRMWARE = ROOT / "firmware"
MP_BENCH = ROOT / "bench" / "mp_bench.py"
PATHS = ("imu", "acc", "fsr", "imu+fsr", "acc+fsr")  # acc: an accelerometer alone (issue 17)
# vpico also measures an IMU pod on a heel bobbing in every stance, at 200 Hz: its motions never
# rest, and the detector cuts them where the foot stood (the costliest landing it does)
BOB = "imu bobbing"
BOB_SET = dict(steps=60, sensor="imu", rate_hz=200, bounce=1.0, bounce_deg=8, bounce_hz=4, cadence_spm=100,
               pause_ms=300, stride_cm=20, swing_ms=450)

# x86-derived Pico conversion (the vpico figures measure the M0 itself). A reference
# iteration is ~470 x86-64 instructions (callgrind, this build); on an RP2040 at 125 MHz
# (Cortex-M0+, ~0.75 instructions per cycle, a similar Thumb instruction count) that is ~5 us.
# DOMAIN.md's "100-150x slower than a desktop" puts it between 7 and 10 us: 10 us is used as
# the pessimistic bound.
PICO_REF_ITER_US = 5.0
PICO_REF_ITER_US_SLOW = 10.0
COST_LIMIT = 100


def tool(name):
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else shutil.which(name)


def mp_json(micropython, args, heap=None, cwd=None, timeout=900):
    cmd = [micropython] + (["-X", f"heapsize={heap}"] if heap else []) + [str(MP_BENCH), str(FIRMWARE)] + args
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd, stdin=subprocess.DEVNULL)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def instructions(micropython, args):
    """Instructions a micropython run executes (callgrind: the same count whatever the machine's load)."""
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", micropython, str(MP_BENCH),
           str(FIRMWARE)] + args
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
    m = re.search(r"Collected : (\d+)", out.stderr)
    if out.returncode != 0 or not m:
        raise RuntimeError(f"callgrind failed: {out.stderr[-400:]}")
    return int(m.group(1))


def cost_by_instructions(micropython, raw, n=10000, reps=100000):
    base = instructions(micropython, ["count", str(raw), "base", str(n), str(reps)])
    det = instructions(micropython, ["count", str(raw), "det", str(n), str(reps)])
    ref = instructions(micropython, ["count", str(raw), "ref", str(n), str(reps)])
    per_sample = (det - base) / n
    per_ref = (ref - base) / reps
    return {"instructions_per_sample": round(per_sample), "instructions_per_ref_iter": round(per_ref, 1),
            "cost_ref_iters_per_sample": round(per_sample / per_ref, 1)}


def heap64k(micropython, mpy_dir, raw, want_steps):
    """The whole app (compiled .mpy, as on a board) over a 200-step set in a 64 KB heap."""
    cmd = [micropython, "-X", "heapsize=64k", "-m", "main", str(ROOT / "boards" / "unix.json"), f"replay={raw}",
           "replay_speed=0", "autostart=true", "exit_at_end=true"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=str(mpy_dir), stdin=subprocess.DEVNULL)
    steps = out.stdout.count(",E,step,")
    ok = out.returncode == 0 and steps == want_steps and ",E,set_end," in out.stdout
    return {"heap64k_ok": ok, "heap64k_steps": steps, "heap64k_error": "" if ok else (out.stderr.strip()[-300:] or "wrong step count")}


def compile_mpy(mpy_cross, out_dir):
    out_dir.mkdir(parents=True, exist_ok=True)
    for f in FIRMWARE.glob("*.py"):
        subprocess.run([mpy_cross, "-o", str(out_dir / (f.stem + ".mpy")), str(f)], check=True)
    return out_dir


def simulate(out_dir, name, **kw):
    sys.path.insert(0, str(ROOT / "host"))
    from calfwalk.sim.simulate import SimConfig, write_simulation

    cfg = SimConfig(feet="left", mount="random", **kw)
    paths = write_simulation(cfg, str(out_dir / name))
    truth = json.loads(Path(paths[-1]).read_text())
    return Path(paths[0]), len(truth["feet"]["left"]["steps"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=str(ROOT / "build"), help="folder for bench.json and the generated sets")
    ap.add_argument("--minutes", type=float, default=10.0, help="length of the dropped-samples set")
    ap.add_argument("--speedup", type=int, default=20, help="virtual clock speed-up for the dropped-samples run")
    ap.add_argument("--quick", action="store_true", help="short runs (tests): 1-minute drop set, no callgrind")
    ap.add_argument("--no-vpico", action="store_true", help="skip the virtual Cortex-M0 (vpico) figures")
    ap.add_argument("--vpico-only", action="store_true",
                    help="only the vpico figures (merged into an existing bench.json)")
    args = ap.parse_args(argv)
    micropython, mpy_cross = tool("micropython"), tool("mpy-cross")
    if not micropython or not mpy_cross:
        print("bench: micropython / mpy-cross not found: run `make bench` (it installs them)", file=sys.stderr)
        return 2
    use_valgrind = shutil.which("valgrind") is not None and not args.quick
    out = Path(args.out).resolve()  # the 64 KB run starts in another folder
    work = out / "bench"
    work.mkdir(parents=True, exist_ok=True)
    minutes = 1.0 if args.quick else args.minutes
    mpy_dir = compile_mpy(mpy_cross, work / "mpy")
    results = {}
    sets200 = {}
    for path in PATHS:
        tag = path.replace("+", "")
        print(f"bench {path}: simulating sets ...", file=sys.stderr, flush=True)
        sets200[path] = simulate(work, f"set200_{tag}", steps=200, sensor=path, rate_hz=100,
                                 heel_touches=[], long_strides=[60])
    for path in PATHS if not args.vpico_only else ():
        t0 = time.monotonic()
        tag = path.replace("+", "")
        set200, steps200 = sets200[path]
        long_steps = max(10, int(minutes * 60) - 8)  # 60 spm: one step a second, plus setup and end
        long_set, _ = simulate(work, f"long_{tag}", steps=long_steps, sensor=path, rate_hz=200)
        r = {}
        print(f"bench {path}: allocation (heap_lock around every sample) ...", file=sys.stderr, flush=True)
        # with the pod's log on, as on a board (firmware/logbook.py)
        a = mp_json(micropython, ["alloc", str(set200), "21000", f"log={work / ('log_alloc_' + tag)}"], heap="8m")
        r["alloc_bytes_per_sample"] = a["alloc_bytes_per_sample"]
        r["log_bytes_per_set"] = a["log_bytes"]  # the 200-step set (100 steps of this foot)
        r["log_writes_per_set"] = a["log_writes"]
        r["heap_lock_failures"] = a["locked_failures"]
        r["alloc_bytes_per_event"] = a["alloc_bytes_per_event"]
        print(f"bench {path}: heap high-water ...", file=sys.stderr, flush=True)
        pk = mp_json(micropython, ["peak", str(set200), f"log={work / ('log_peak_' + tag)}"])
        r["heap_peak_bytes"] = pk["heap_peak_bytes"]
        r["heap_peak_above_code_bytes"] = pk["heap_peak_bytes"] - pk["heap_modules_bytes"]
        print(f"bench {path}: CPU cost ...", file=sys.stderr, flush=True)
        timed = mp_json(micropython, ["cost", str(set200), "10000"])
        r["cost_timed_ref_iters_per_sample"] = timed["cost_ref_iters_per_sample"]
        if use_valgrind:
            r.update(cost_by_instructions(micropython, set200))
            r["cost_method"] = "callgrind instruction counts"
        else:
            r["cost_ref_iters_per_sample"] = timed["cost_ref_iters_per_sample"]
            r["cost_method"] = "timed (best of 3)" + ("" if args.quick else ", valgrind not found")
        c = r["cost_ref_iters_per_sample"]
        # x86-derived: the vpico figures measure the M0 itself
        r["x86_derived_pico_us_per_sample"] = round(c * PICO_REF_ITER_US)
        r["x86_derived_pico_cpu_pct_100hz"] = round(c * PICO_REF_ITER_US * 100 / 1e4, 1)
        r["x86_derived_pico_cpu_pct_200hz"] = round(c * PICO_REF_ITER_US * 200 / 1e4, 1)
        r["x86_derived_pico_cpu_pct_200hz_pessimistic"] = round(c * PICO_REF_ITER_US_SLOW * 200 / 1e4, 1)
        print(f"bench {path}: {minutes:g}-minute 200 Hz set, timer sampling, forced GCs, slow writes ...",
              file=sys.stderr, flush=True)
        d = mp_json(micropython, ["drops", str(long_set), str(args.speedup), "200", "5",
                                  f"log={work / ('log_drops_' + tag)}"])
        r["dropped_samples"] = d["dropped_samples"]
        # a set walked without a break for the whole run: the log's flash budget per hour of walking
        r["log_bytes_per_hour"] = round(d["log_bytes"] * 3600 / d["virtual_s"]) if d["virtual_s"] else None
        r["log_writes_per_hour"] = round(d["log_writes"] * 3600 / d["virtual_s"]) if d["virtual_s"] else None
        r["drop_run"] = {k: d[k] for k in ("samples", "virtual_s", "forced_gcs", "slow_write_ms")}
        print(f"bench {path}: 200-step set in a 64 KB heap ...", file=sys.stderr, flush=True)
        r.update(heap64k(micropython, mpy_dir, set200, steps200))
        r["bench_s"] = round(time.monotonic() - t0, 1)
        results[path] = r
    if args.vpico_only and (out / "bench.json").exists():
        summary = json.loads((out / "bench.json").read_text())  # today's unix figures stay beside
        summary.setdefault("paths", {})
    else:
        summary = {
            "paths": results,
            "heap64k_ok": all(r["heap64k_ok"] for r in results.values()),
            "cost_limit_ref_iters": COST_LIMIT,
            "x86_derived_pico_ref_iter_us": PICO_REF_ITER_US,
            "x86_derived_pico_ref_iter_us_pessimistic": PICO_REF_ITER_US_SLOW,
        }
    if not args.no_vpico:
        summary["vpico"] = bench_vpico(work, sets200)
        for path, r in summary["vpico"].pop("paths", {}).items():
            summary["paths"].setdefault(path, {})["vpico"] = r
    (out / "bench.json").write_text(json.dumps(summary, indent=2) + "\n")
    if not args.vpico_only:
        show(summary, minutes)
    show_vpico(summary)
    print(f"written {out / 'bench.json'}")
    return 0


def bench_vpico(work, sets200):
    """The vpico figures per path (each path on its own board, in parallel: instruction counts do
    not depend on the machine's load). {"skipped": why} when vpico cannot run here."""
    from concurrent.futures import ThreadPoolExecutor

    why = vpico.unavailable()
    if why:
        print(f"bench vpico: skipped: {why}", file=sys.stderr, flush=True)
        return {"skipped": why}

    def log(msg):
        print(f"bench {msg}", file=sys.stderr, flush=True)

    def one(path):
        if path == BOB:
            rec, _ = simulate(work, "bob_imu", **BOB_SET)
            try:
                return vpico.bench_path(rec, work / "vpico_bob", log=log, app=False)
            except vpico.VpicoError as exc:
                log(f"vpico {path}: failed: {exc}")
                return {"error": str(exc)[-600:]}
        set200, steps200 = sets200[path]
        try:
            return vpico.bench_path(set200, work / f"vpico_{path.replace('+', '')}", steps200, log=log)
        except vpico.VpicoError as exc:
            log(f"vpico {path}: failed: {exc}")
            return {"error": str(exc)[-600:]}

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=min(len(PATHS), max(2, os.cpu_count() or 2))) as pool:
        try:
            paths = dict(zip(PATHS + (BOB,), pool.map(one, PATHS + (BOB,))))
        except BaseException:  # interrupted: stop the boards, so the workers end at once
            vpico.close_all()
            raise
    return {
        "paths": paths,
        "board": "vpico: QEMU Cortex-M0 (ARMv6-M), MicroPython 1.29, 64 KB heap, 32-bit small ints",
        "method": ("instructions = virtual ns (QEMU -icount shift=0), read from SysTick (62.5-instruction "
                   "resolution); the detector alone in a tight loop, heap locked, timer cost subtracted"),
        "rp2040_conversion": vpico.CONVERSION,
        "target_instr_per_sample": vpico.TARGET_PER_SAMPLE,
        "target_instr_per_landing": vpico.TARGET_PER_LANDING,
        "ring_model": (f"the app's {vpico.RING_SLOTS}-sample ring at {vpico.RING_RATE_HZ} Hz, each sample taking "
                       f"its measured cost (and its events' lines) at {vpico.CYCLES_PER_INSTR[1]} cycles/instruction, "
                       f"{vpico.RP2040_MHZ} MHz"),
        "heap_peak_method": (f"whole app (main.py, boards/unix.json, replaying the set): live heap after a "
                             f"collection every {vpico.HEAP_PEAK_EVERY} samples, highest seen"),
        "vpico_s": round(time.monotonic() - t0, 1),
    }


def show(summary, minutes):
    from rich.console import Console
    from rich.table import Table

    rows = [
        ("alloc bytes / sample (heap locked)", "alloc_bytes_per_sample"),
        ("alloc bytes / event", "alloc_bytes_per_event"),
        ("heap high-water (bytes, incl. code)", "heap_peak_bytes"),
        ("  of which data, above code", "heap_peak_above_code_bytes"),
        ("cost: ref iterations / sample", "cost_ref_iters_per_sample"),
        ("  timed (noisy)", "cost_timed_ref_iters_per_sample"),
        ("Pico us / sample (x86-derived est.)", "x86_derived_pico_us_per_sample"),
        ("Pico CPU % at 100 Hz (x86-derived)", "x86_derived_pico_cpu_pct_100hz"),
        ("Pico CPU % at 200 Hz (x86-derived)", "x86_derived_pico_cpu_pct_200hz"),
        ("  pessimistic (x86-derived)", "x86_derived_pico_cpu_pct_200hz_pessimistic"),
        (f"dropped samples ({minutes:g} min, 200 Hz)", "dropped_samples"),
        ("200-step set in 64 KB heap", "heap64k_ok"),
        ("pod log: bytes for the 200-step set", "log_bytes_per_set"),
        ("pod log: flash writes for that set", "log_writes_per_set"),
        ("pod log: bytes per hour of walking", "log_bytes_per_hour"),
        ("pod log: flash writes per hour", "log_writes_per_hour"),
    ]
    t = Table(title="calfwalk pod budget (MicroPython unix port)")
    t.add_column("figure")
    for p in PATHS:
        t.add_column(p, justify="right")
    for label, key in rows:
        t.add_row(label, *[str(summary["paths"][p][key]) for p in PATHS])
    Console(width=150).print(t)
    any_path = summary["paths"][PATHS[0]]
    print(f"cost method: {any_path['cost_method']}; target <= {summary['cost_limit_ref_iters']} ref iterations/sample. "
          f"x86-derived Pico estimate: 1 ref iteration = {summary['x86_derived_pico_ref_iter_us']} us on an RP2040 "
          f"at 125 MHz (pessimistic {summary['x86_derived_pico_ref_iter_us_pessimistic']} us); the vpico figures "
          f"below measure the M0 itself.")


VPICO_ROWS = (
    ("instructions / sample, median", "instr_per_sample_median"),
    ("instructions / sample, worst", "instr_per_sample_worst"),
    ("  mean", "instr_per_sample_mean"),
    ("  samples over 40,000", "samples_over_target"),
    ("instructions / event sample, median", "instr_per_event_sample_median"),
    ("instructions / event sample, worst", "instr_per_event_sample_worst"),
    ("instructions / landing, median", "instr_per_landing_median"),
    ("instructions / landing, worst", "instr_per_landing_worst"),
    ("instructions / event line (app), median", "instr_per_event_line_median"),
    ("RP2040 us / sample, median", "rp2040_us_per_sample_median"),
    ("RP2040 us / sample, worst", "rp2040_us_per_sample_worst"),
    ("RP2040 us / landing, worst", "rp2040_us_per_landing_worst"),
    ("RP2040 CPU % at 200 Hz (mean)", "rp2040_cpu_pct_200hz"),
    ("ring at 200 Hz: most samples waiting", "ring_high_water_samples"),
    ("ring at 200 Hz: samples dropped", "ring_dropped_samples"),
    ("heap-locked samples that failed", "heap_lock_failures"),
    ("heap peak, modules in RAM (bytes)", "heap_peak_ram_bytes"),
    ("heap peak, modules in ROM (bytes)", "heap_peak_rom_bytes"),
    ("whole app, 64 KB heap, modules in RAM", "app_ram_ok"),
    ("whole app, 64 KB heap, modules in ROM", "app_rom_ok"),
)


def show_vpico(summary):
    from rich.console import Console
    from rich.table import Table

    v = summary.get("vpico")
    if not v:
        return
    if "skipped" in v:
        print(f"vpico: not measured: {v['skipped']}")
        return
    cols = PATHS + ((BOB,) if BOB in summary["paths"] else ())
    per = {p: summary["paths"].get(p, {}).get("vpico", {}) for p in cols}
    t = Table(title="calfwalk pod budget on vpico (virtual Cortex-M0, MicroPython 1.29, 64 KB heap)")
    t.add_column("figure")
    for p in cols:
        t.add_column(p, justify="right")
    for label, key in VPICO_ROWS:
        cells = []
        for p in cols:
            val = per[p].get(key, "error" if "error" in per[p] else "-")
            cells.append(f"{val:,}" if isinstance(val, int) and not isinstance(val, bool) else str(val))
        t.add_row(label, *cells)
    Console(width=160).print(t)
    for p in cols:
        if "error" in per[p]:
            print(f"vpico {p}: {per[p]['error']}")
        for where in ("ram", "rom"):
            if per[p].get(f"app_{where}_error"):
                print(f"vpico {p}: whole app, modules in {where.upper()}: {per[p][f'app_{where}_error']}")
    print(f"vpico: {v['method']}. Per landing: the worst sample of each stride (step event to step event). "
          f"{v['rp2040_conversion']}. Targets: <= {v['target_instr_per_sample']:,} instructions/sample, "
          f"<= {v['target_instr_per_landing']:,} per landing. Heap peak: {v['heap_peak_method']}; "
          f"the heap holds 64,000 bytes. Ring: {v.get('ring_model', '-')}. {BOB}: {BOB_SET['steps']} steps at "
          f"{BOB_SET['rate_hz']} Hz, the heel bobbing {BOB_SET['bounce_deg']} deg at {BOB_SET['bounce_hz']} Hz in "
          f"every stance (its motions are cut where the foot stood); the detector alone.")


if __name__ == "__main__":
    sys.exit(main())
