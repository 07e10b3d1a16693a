"""`make bench-host`: what the host's analysis of a long recording costs, as figures (no pass/fail).

A one-hour two-foot recording (`calfwalk simulate --steps 2000 --cadence 33.3`, ~720k samples) is
made once under build/bench-host/, then `calfwalk analyze` runs on it in a fresh process: the wall
time and the largest resident set of that process or its workers are printed, and written to
build/bench-host.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def _calfwalk(*args):
    return [sys.executable, "-m", "calfwalk.cli", *map(str, args)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="build", help="build folder (default build)")
    ap.add_argument("--runs", type=int, default=3, help="analyses timed; the fastest is reported (default 3)")
    args = ap.parse_args(argv)
    work = Path(args.out) / "bench-host"
    work.mkdir(parents=True, exist_ok=True)
    prefix = work / "hour"
    paths = [Path(f"{prefix}_left.csv"), Path(f"{prefix}_right.csv")]
    if not all(p.exists() for p in paths):
        print("bench host: simulating a one-hour two-foot recording (once) ...", file=sys.stderr, flush=True)
        subprocess.run(_calfwalk("simulate", "-o", prefix, "--steps", 2000, "--cadence", 33.3),
                       check=True, stdout=subprocess.DEVNULL)
    rows = sum(sum(1 for line in open(p, encoding="utf-8") if line[:1].isdigit() or line[:1] == "-") for p in paths)
    size_mb = sum(p.stat().st_size for p in paths) / 1e6
    times, peaks = [], []
    for _ in range(max(1, args.runs)):
        t0 = time.perf_counter()
        with open(work / "summary.json", "w") as out_fh:
            proc = subprocess.Popen(_calfwalk("analyze", "--no-history", "--json", *paths), stdout=out_fh)
            # this analysis alone (and the workers it waited for): the largest resident set, in kB on Linux
            _pid, status, usage = os.wait4(proc.pid, 0)
        times.append(time.perf_counter() - t0)
        peaks.append(usage.ru_maxrss / 1024.0)
        if os.waitstatus_to_exitcode(status) != 0:
            return 1
    steps = json.loads((work / "summary.json").read_text())["steps"]
    peak_mb = max(peaks)
    figures = {
        "recording": {"feet": 2, "samples": rows, "megabytes": round(size_mb, 1), "steps": steps},
        "analyze_seconds": round(min(times), 2),
        "analyze_seconds_all": [round(t, 2) for t in times],
        "peak_rss_mb": round(peak_mb, 1),
        "peak_rss_mb_all": [round(p, 1) for p in peaks],
        "cpus": os.cpu_count(),
    }
    print(f"calfwalk analyze, one hour on two feet ({rows:,} samples, {size_mb:.1f} MB of raw files, {steps} steps):")
    print(f"  wall time {min(times):.2f} s (fastest of {len(times)}: {', '.join(f'{t:.2f}' for t in times)} s)"
          f"   target <= 3 s")
    print(f"  peak resident set {peak_mb:.0f} MB (the largest process)   target <= 100 MB")
    out = Path(args.out) / "bench-host.json"
    out.write_text(json.dumps(figures, indent=2))
    print(f"figures written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
