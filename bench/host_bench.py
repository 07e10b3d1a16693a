"""`make bench-host`: what the host's analysis of long recordings costs, as figures (no pass/fail).

Two recordings are made once under build/bench-host/ (neither is kept in git):

- one hour on two feet (`calfwalk simulate --steps 2000 --cadence 33.3`, ~720k samples);
- one foot's file of ten million rows (~380 MB): that hour's left foot again and again, each copy's
  t_ms shifted on past the one before, written a copy at a time (--no-long, or
  CALFWALK_BENCH_LONG=0, leaves it out: it takes about a minute).

`calfwalk analyze` runs on each in a fresh process: the wall time (the median of --runs analyses of
the hour; one of the long file) and the largest resident set of that process or its workers
(os.wait4's ru_maxrss) are printed, and written to build/bench-host.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

LONG_ROWS = 10_000_000


def _calfwalk(*args):
    return [sys.executable, "-m", "calfwalk.cli", *map(str, args)]


def _analyze(paths, out_json):
    """(seconds, peak MB, exit code) of one `calfwalk analyze` of `paths`."""
    t0 = time.perf_counter()
    with open(out_json, "w") as out_fh:
        proc = subprocess.Popen(_calfwalk("analyze", "--no-history", "--json", *paths), stdout=out_fh)
        # this analysis alone (and the workers it waited for): the largest resident set, in kB on Linux
        _pid, status, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - t0, usage.ru_maxrss / 1024.0, os.waitstatus_to_exitcode(status)


def _rows(path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for line in fh if line[:1].isdigit() or line[:1] == b"-")


def make_long(source: Path, target: Path, rows: int = LONG_ROWS) -> None:
    """A raw file of `rows` samples: `source`'s samples over and over, each copy's t_ms moved on
    past the last (one sample period after it), written one copy at a time (never held whole)."""
    head, body = [], []
    with open(source, encoding="utf-8") as fh:
        for line in fh:
            (body if line[:1].isdigit() or line[:1] == "-" else head).append(line)
    t = [int(line.split(",", 1)[0]) for line in body]
    rest = [line.split(",", 1)[1] for line in body]
    period = t[1] - t[0]
    span = t[-1] - t[0] + period
    tmp = target.with_suffix(".partial")
    with open(tmp, "w", encoding="utf-8", newline="\n") as out:
        out.writelines(head)
        written, copy = 0, 0
        while written < rows:
            n = min(len(t), rows - written)
            shift = copy * span
            out.write("".join([f"{a + shift},{b}" for a, b in zip(t[:n], rest[:n])]))
            written += n
            copy += 1
    os.replace(tmp, target)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="build", help="build folder (default build)")
    ap.add_argument("--runs", type=int, default=3, help="analyses of the hour timed; the median is reported (default 3)")
    ap.add_argument("--no-long", action="store_true",
                    help=f"leave out the {LONG_ROWS:,}-row file (also: CALFWALK_BENCH_LONG=0)")
    args = ap.parse_args(argv)
    long_case = not args.no_long and os.environ.get("CALFWALK_BENCH_LONG", "1") not in ("0", "", "no")
    work = Path(args.out) / "bench-host"
    work.mkdir(parents=True, exist_ok=True)
    prefix = work / "hour"
    paths = [Path(f"{prefix}_left.csv"), Path(f"{prefix}_right.csv")]
    if not all(p.exists() for p in paths):
        print("bench host: simulating a one-hour two-foot recording (once) ...", file=sys.stderr, flush=True)
        subprocess.run(_calfwalk("simulate", "-o", prefix, "--steps", 2000, "--cadence", 33.3),
                       check=True, stdout=subprocess.DEVNULL)
    rows = sum(_rows(p) for p in paths)
    size_mb = sum(p.stat().st_size for p in paths) / 1e6
    times, peaks = [], []
    for _ in range(max(1, args.runs)):
        seconds, peak, code = _analyze(paths, work / "summary.json")
        if code != 0:
            return 1
        times.append(seconds)
        peaks.append(peak)
    steps = json.loads((work / "summary.json").read_text())["steps"]
    median = statistics.median(times)
    figures = {
        "recording": {"feet": 2, "samples": rows, "megabytes": round(size_mb, 1), "steps": steps},
        "analyze_seconds": round(median, 2),
        "analyze_seconds_all": [round(t, 2) for t in times],
        "peak_rss_mb": round(max(peaks), 1),
        "peak_rss_mb_all": [round(p, 1) for p in peaks],
        "cpus": os.cpu_count(),
    }
    print(f"calfwalk analyze, one hour on two feet ({rows:,} samples, {size_mb:.1f} MB of raw files, {steps} steps):")
    print(f"  wall time {median:.2f} s (median of {len(times)}: {', '.join(f'{t:.2f}' for t in times)} s)"
          f"   target <= 3 s")
    print(f"  peak resident set {max(peaks):.0f} MB (the largest process)   target <= 100 MB")
    if long_case:
        long_path = work / f"long{LONG_ROWS // 1_000_000}m_left.csv"
        if not long_path.exists() or _rows_cached(long_path) != LONG_ROWS:
            print(f"bench host: writing a {LONG_ROWS:,}-row raw file (once) ...", file=sys.stderr, flush=True)
            make_long(paths[0], long_path)
            _rows_cached(long_path, LONG_ROWS)
        long_mb = long_path.stat().st_size / 1e6
        seconds, peak, code = _analyze([long_path], work / "summary-long.json")
        if code != 0:
            return 1
        long_steps = json.loads((work / "summary-long.json").read_text())["steps"]
        figures["long"] = {"recording": {"feet": 1, "samples": LONG_ROWS, "megabytes": round(long_mb, 1),
                                         "steps": long_steps},
                           "analyze_seconds": round(seconds, 2), "peak_rss_mb": round(peak, 1)}
        print(f"calfwalk analyze, one foot's {LONG_ROWS:,} rows ({long_mb:.0f} MB of raw file, {long_steps} steps):")
        print(f"  wall time {seconds:.1f} s   peak resident set {peak:.0f} MB "
              "(no sample is held past its block: what grows is the events)")
    out = Path(args.out) / "bench-host.json"
    out.write_text(json.dumps(figures, indent=2))
    print(f"figures written to {out}")
    return 0


def _rows_cached(path: Path, rows: int | None = None):
    """The rows a generated file holds, noted beside it when it is written (counting 10M rows costs seconds)."""
    note = path.with_suffix(".rows")
    if rows is not None:
        note.write_text(f"{rows} {path.stat().st_size}\n")
        return rows
    try:
        n, size = map(int, note.read_text().split())
    except (OSError, ValueError):
        return None
    return n if size == path.stat().st_size else None


if __name__ == "__main__":
    sys.exit(main())
