"""Two pods, one timeline: each pod's clock mapped onto the host's, then onto a reference pod's.

Every protocol line carries the pod's time when it was written (t_ms, ms since
boot); the session file adds the host receive time. Serial/USB latency only
ever delays a line, so for one pod boot the pairs (t_ms, host_ms) lie on or
above the line host_ms = offset + (1 + drift) * t_ms (the minimum-latency
line). We fit that line as the lower envelope of the pairs: the lower convex
hull edge that is highest under the pairs' mean (the linear-programming clock
fit; a least-squares line would sit at the mean latency instead).

Event times are on the pod's sample clock; heartbeats (S lines) carry the
latest sample time `ts` with the line's own t_ms, and since a sample is never
newer than the line that reports it, the smallest t_ms - ts is the offset from
the sample clock to the boot clock.

With two pods, walking gives a second, independent check: left and right
landings alternate, so each landing of one foot falls near the middle between
two landings of the other. That timing refines the left-right offset, weighted
against the host-time uncertainty and kept within it (people do not walk
perfectly evenly, so it never overrules good host times).

Events end up on the reference clock, the sample clock of the left pod's first
boot (of the only pod with one pod), so a one-pod session without reboots keeps
its times exactly.
"""

from __future__ import annotations

import bisect
import math
import statistics
from dataclasses import dataclass

import numpy as np

MIN_DRIFT_SPAN_MS = 10_000  # shorter than this, a drift estimate is mostly latency noise: assume none
# Pod clocks run on crystals (tens of ppm); a steeper envelope is latency noise in sparse lines
MAX_DRIFT_PPM = 1000
OUTLIER_MS = 500  # a pair this far below the others' envelope is not a latency (a guard; never expected)
QUANT_MS = 1.0  # both clocks count whole milliseconds
# A clock that is not on real time (a replay faster than real time, or host times not taken live):
# spans differ by more than this share (crystals are within 100 ppm, cheap RC clocks within 2 %)
REAL_TIME_TOL = 0.05
REAL_TIME_SLACK_MS = 500
# Healthy walking is not perfectly even: one foot's landing sits off the middle of the
# other's by about this share of a stride (1 % of a stride = 2 % of a step time), 1 sigma.
GAIT_PHASE_SD = 0.01
MIN_STEP_PAIRS = 6


@dataclass
class ClockFit:
    """host_ms = offset_ms + rate * (pod_t - t_ref), for one pod boot."""

    t_ref: float
    offset_ms: float
    rate: float = 1.0
    pairs: int = 0
    outliers: int = 0
    pod_span_ms: float = 0.0
    host_span_ms: float = 0.0
    residual_median_ms: float | None = None
    residual_p95_ms: float | None = None
    floor_ms: float = QUANT_MS  # how far the envelope may sit above the true minimum-latency line

    def to_host(self, pod_t: float) -> float:
        return self.offset_ms + self.rate * (pod_t - self.t_ref)

    def to_pod(self, host_ms: float) -> float:
        return self.t_ref + (host_ms - self.offset_ms) / self.rate

    @property
    def drift_ppm(self) -> float:
        return (self.rate - 1.0) * 1e6

    @property
    def real_time(self) -> bool:
        return _same_pace(self.pod_span_ms, self.host_span_ms)


def _same_pace(a_ms, b_ms) -> bool:
    return abs(a_ms - b_ms) <= REAL_TIME_TOL * max(a_ms, b_ms) + REAL_TIME_SLACK_MS


def _cross(o, a, b):
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _envelope(points):
    """(slope, height at the mean x) of the lower-hull edge under the mean x; None if < 2 distinct x."""
    lowest = {}
    for x, y in points:
        if x not in lowest or y < lowest[x]:
            lowest[x] = y
    xs = sorted(lowest)
    if len(xs) < 2:
        return None
    hull = []
    for x in xs:
        p = (x, lowest[x])
        while len(hull) >= 2 and _cross(hull[-2], hull[-1], p) <= 0:
            hull.pop()
        hull.append(p)
    xc = statistics.fmean(x for x, _ in points)
    for a, b in zip(hull, hull[1:]):
        if a[0] <= xc <= b[0]:
            slope = (b[1] - a[1]) / (b[0] - a[0])
            return slope, a[1] + slope * (xc - a[0])
    return None  # cannot happen: the mean lies within the hull's x range


def _fit_once(pts) -> ClockFit:
    t_ref = statistics.fmean(t for t, _ in pts)
    span = max(t for t, _ in pts) - min(t for t, _ in pts)
    env = _envelope(pts) if span >= MIN_DRIFT_SPAN_MS else None
    if env is None:
        # too short to see drift: the minimum-latency offset at the nominal rate
        return ClockFit(t_ref, min(h - (t - t_ref) for t, h in pts))
    slope, at_ref = env
    lo, hi = 1 - MAX_DRIFT_PPM * 1e-6, 1 + MAX_DRIFT_PPM * 1e-6
    if not lo <= slope <= hi:
        # the best line within the bounds has the bound's slope (the objective is concave in the slope)
        slope = min(hi, max(lo, slope))
        at_ref = min(h - slope * (t - t_ref) for t, h in pts)
    return ClockFit(t_ref, at_ref, slope)


def fit_clock(pairs) -> ClockFit:
    """Fit one pod boot's clock to host time from (pod_t, host_ms) pairs: robust lower envelope."""
    pts = [(float(t), float(h)) for t, h in pairs]
    if not pts:
        raise ValueError("no (pod_t, host_ms) pairs to fit")
    outliers = 0
    while True:
        fit = _fit_once(pts)
        if len(pts) <= 3:
            break
        # a support point far below the envelope of all the others is not a latency: drop it
        dropped = False
        for p in sorted(pts, key=lambda q: q[1] - fit.to_host(q[0]))[:2]:
            rest = [q for q in pts if q is not p]
            if p[1] - _fit_once(rest).to_host(p[0]) < -OUTLIER_MS:
                pts = rest
                outliers += 1
                dropped = True
                break
        if not dropped:
            break
    fit.outliers = outliers
    fit.pairs = len(pts)
    fit.pod_span_ms = max(t for t, _ in pts) - min(t for t, _ in pts)
    fit.host_span_ms = max(h for _, h in pts) - min(h for _, h in pts)
    res = [(t, max(0.0, h - fit.to_host(t))) for t, h in pts]
    ordered = sorted(r for _, r in res)
    fit.residual_median_ms = statistics.median(ordered)
    fit.residual_p95_ms = ordered[min(len(ordered) - 1, int(math.ceil(0.95 * len(ordered))) - 1)]
    fit.floor_ms = max(_floor_spacing(ordered), _quarter_floor(res))
    return fit


def _floor_spacing(ordered) -> float:
    """How far a lower envelope may sit above the true floor: the spacing of the lowest values.

    With n values spread over W above their floor, the lowest sits about W/n
    above it, which is also the spacing of the lowest values. Very few values:
    half the largest (a wide, honest bound).
    """
    if len(ordered) >= 6:
        m = min(len(ordered), 12)
        return max(QUANT_MS, (ordered[m - 1] - ordered[2]) / (m - 3))
    if ordered:
        return max(QUANT_MS, ordered[-1] / 2)
    return QUANT_MS


def _quarter_floor(res) -> float:
    """The largest gap between the fitted line and the lowest pair of each quarter of the time span.

    A line tilted by a wrong drift estimate leaves one end of the span above the
    pairs' floor; this bounds that.
    """
    if len(res) < 8:
        return QUANT_MS
    ts = [t for t, _ in res]
    lo, hi = min(ts), max(ts)
    width = (hi - lo) / 4 or 1.0
    mins = [math.inf] * 4
    for t, r in res:
        q = min(3, int((t - lo) / width))
        mins[q] = min(mins[q], r)
    return max(QUANT_MS, max(m for m in mins if m < math.inf))


@dataclass
class SampleClock:
    """boot_t = sample_t + offset_ms for one pod boot (the sample clock is the events' clock)."""

    offset_ms: float
    floor_ms: float
    real_time: bool


def sample_clock(heartbeats, events) -> SampleClock:
    """From (ts, line t_ms, t0) of heartbeats, else (event t, line t_ms) of events (a looser bound)."""
    src = [(t, line_t) for t, line_t, _t0 in heartbeats] or events
    if not src:
        return SampleClock(0.0, QUANT_MS, True)
    lags = sorted(line_t - t for t, line_t in src)
    # a sample clock at another pace than the boot clock is a replay faster than real time:
    # its samples cover more time since the first one than the pod has been up
    real = all(ts - t0 <= line_t * (1 + REAL_TIME_TOL) + REAL_TIME_SLACK_MS for ts, line_t, t0 in heartbeats)
    if len(heartbeats) >= 2:
        ts = [t for t, _, _ in heartbeats]
        lt = [line_t for _, line_t, _ in heartbeats]
        real = real and _same_pace(max(ts) - min(ts), max(lt) - min(lt))
    floor = _floor_spacing([x - lags[0] for x in lags]) if heartbeats else QUANT_MS
    return SampleClock(float(lags[0]), floor, real)


def step_phase_offsets(left_ms, right_ms):
    """How late each landing comes after the middle of the other foot's two around it, as 'right late' (ms).

    A right landing between two left ones gives r - mid(l1, l2); a left landing
    between two right ones gives mid(r1, r2) - l. Only consecutive landings at
    most 1.5 median strides apart, with exactly one landing of the other foot
    between them, count (the rest between two sets never does). Returns
    (offsets, median stride or None).
    """
    left_ms, right_ms = sorted(left_ms), sorted(right_ms)
    strides = [b - a for s in (left_ms, right_ms) for a, b in zip(s, s[1:])]
    if not strides:
        return [], None
    stride = statistics.median(strides)
    out = []
    for own, other, sign in ((left_ms, right_ms, 1), (right_ms, left_ms, -1)):
        for a, b in zip(own, own[1:]):
            if b - a > 1.5 * stride:
                continue
            i, j = bisect.bisect_right(other, a), bisect.bisect_left(other, b)
            if j - i == 1:
                out.append(sign * (other[i] - (a + b) / 2))
    return out, stride


def refine_offset(host_sd_ms, left_ms, right_ms) -> dict:
    """Combine the host-time left-right offset (0 +- host_sd_ms) with the step timing.

    Returns step_offset_ms (median, right late; None with too few pairs), step_pairs,
    step_sd_ms, correction_ms (to subtract from the right foot's times; at most two
    host sigmas) and sd_ms (the left-right uncertainty after, 1 sigma).
    """
    offsets, stride = step_phase_offsets(left_ms, right_ms)
    out = {"step_offset_ms": None, "step_pairs": len(offsets), "step_sd_ms": None, "correction_ms": 0.0,
           "sd_ms": host_sd_ms}
    if len(offsets) < MIN_STEP_PAIRS:
        return out
    med = statistics.median(offsets)
    mad = statistics.median(abs(d - med) for d in offsets) * 1.4826
    se = 1.2533 * mad / math.sqrt(len(offsets))
    step_sd = math.sqrt((GAIT_PHASE_SD * stride) ** 2 + se ** 2 + QUANT_MS ** 2)
    w = host_sd_ms ** 2 / (host_sd_ms ** 2 + step_sd ** 2)
    limit = 2 * host_sd_ms
    out.update(step_offset_ms=med, step_sd_ms=step_sd, correction_ms=max(-limit, min(limit, w * med)),
               sd_ms=1 / math.sqrt(1 / host_sd_ms ** 2 + 1 / step_sd ** 2))
    return out


def _r(v, nd=1):
    return None if v is None else round(v, nd)


class _PodClocks:
    """One pod's boots: boot clock -> host, sample clock -> boot clock."""

    def __init__(self, pod):
        self.pod = pod
        self.boot = {}
        self.sample = {}
        for seg in sorted({g for g, _t, _h in pod.sync}):
            self.boot[seg] = fit_clock([(t, h) for g, t, h in pod.sync if g == seg])
            self.sample[seg] = sample_clock([(t, lt, t0) for g, t, lt, t0 in pod.sample_sync if g == seg],
                                            [(t, lt) for g, t, lt in pod.event_clock if g == seg])

    def to_host(self, seg, t):
        return self.boot[seg].to_host(t + self.sample[seg].offset_ms)

    def from_host(self, seg, host_ms):
        return self.boot[seg].to_pod(host_ms) - self.sample[seg].offset_ms

    def uncertainty_ms(self):
        return max(math.hypot(self.boot[s].floor_ms, self.sample[s].floor_ms) for s in self.boot)

    def report(self):
        main = max(self.boot.values(), key=lambda f: f.pairs)
        return {
            "boots": self.pod.segments,
            "lines": sum(f.pairs for f in self.boot.values()),
            "drift_ppm": _r(main.drift_ppm),
            "residual_ms": {"median": _r(max(f.residual_median_ms for f in self.boot.values())),
                            "p95": _r(max(f.residual_p95_ms for f in self.boot.values()))},
            "uncertainty_ms": _r(self.uncertainty_ms()),
            "outliers": sum(f.outliers for f in self.boot.values()),
        }


def align_session(session):
    """(events of every identified pod on one timeline, the "alignment" report for the summary)."""
    order = {"left": 0, "right": 1}
    pods = sorted((p for p in session.pods.values() if p.foot is not None),
                  key=lambda p: (order.get(p.foot, 2), p.index))
    if session.meta.get("pair_method") and len(pods) == 2:
        return align_pulled_pair(session.meta, pods)
    clocks = {p.index: _PodClocks(p) for p in pods}
    report = {
        "method": None,
        "reference": None,
        "pods": {p.foot: clocks[p.index].report() for p in pods if clocks[p.index].boot},
        "residual_spread_ms": None,
        "lr_host_uncertainty_ms": None,
        "lr_step_offset_ms": None,
        "lr_step_pairs": 0,
        "lr_correction_ms": None,
        "lr_uncertainty_ms": None,
        "note": "",
    }
    p95 = [r["residual_ms"]["p95"] for r in report["pods"].values()]
    report["residual_spread_ms"] = max(p95) if p95 else None
    fast = [p.foot for p in pods if not all(s.real_time for s in clocks[p.index].sample.values())]
    offline = [p.foot for p in pods if not all(f.real_time for f in clocks[p.index].boot.values())]
    if fast or offline or not any(clocks[p.index].boot for p in pods):
        report["method"] = "pod_clocks"
        if fast:
            why = (f"the {' and '.join(fast)} pod's sample clock did not run at real time (a replay faster than "
                   "real time?)")
        elif offline:
            why = "the host receive times were not taken live (a file played back?)"
        else:
            why = "no timed lines"
        report["note"] = why + ": events stay on the pods' own clocks"
        return [e for p in pods for e in p.events], report

    ref_pod = next(p for p in pods if clocks[p.index].boot)
    ref_clock = clocks[ref_pod.index]
    ref_seg = min(ref_clock.boot)
    report["reference"] = f"{ref_pod.foot} pod clock" + (f" (boot {ref_seg + 1})" if ref_seg else "")
    mapped = {}
    for pod in pods:
        c = clocks[pod.index]
        evs = []
        for ev, (seg, t, _line_t) in zip(pod.events, pod.event_clock):
            e = dict(ev)
            e["t_ms"] = t if (pod is ref_pod and seg == ref_seg) else ref_clock.from_host(ref_seg, c.to_host(seg, t))
            evs.append(e)
        mapped[pod.foot] = evs
    if len(pods) == 1:
        report["method"] = "one_pod"
        report["note"] = (f"one pod ({pods[0].foot}): its events are on its own clock"
                          + ("; its later boots are mapped onto the first through host receive times"
                             if pods[0].segments > 1 else ""))
        return _rounded(mapped[pods[0].foot]), report

    host_sd = math.sqrt(sum(clocks[p.index].uncertainty_ms() ** 2 for p in pods[:2]) + QUANT_MS ** 2)
    other = pods[1]
    lands = {p.foot: [e["t_ms"] for e in mapped[p.foot] if e["type"] == "step"] for p in pods[:2]}
    ref_is_left = ref_pod.foot == "left"
    left, right = (lands[ref_pod.foot], lands[other.foot]) if ref_is_left else (lands[other.foot], lands[ref_pod.foot])
    info = refine_offset(host_sd, left, right)
    # the correction is "right late": move the non-reference pod's events by it
    shift = info["correction_ms"] if ref_is_left else -info["correction_ms"]
    for e in mapped[other.foot]:
        e["t_ms"] -= shift
    report.update(
        method="host_time+step_timing" if info["step_offset_ms"] is not None else "host_time",
        lr_host_uncertainty_ms=_r(host_sd),
        lr_step_offset_ms=_r(info["step_offset_ms"]),
        lr_step_pairs=info["step_pairs"],
        lr_correction_ms=_r(info["correction_ms"]),
        lr_uncertainty_ms=_r(info["sd_ms"]),
    )
    note = f"left and right aligned through host receive times to about ±{info['sd_ms']:.0f} ms (1 sigma)"
    if info["step_offset_ms"] is not None:
        note += (f"; right landings fall {info['step_offset_ms']:+.0f} ms from the middle of the left ones "
                 f"({info['step_pairs']} landings)")
        if abs(info["step_offset_ms"]) > 2 * host_sd + 2 * info["step_sd_ms"]:
            note += ": uneven step timing, or links with different latencies"
    report["note"] = note
    return _rounded([e for p in pods for e in mapped[p.foot]]), report


def align_pulled_pair(meta, pods):
    """Two sets pulled from a left and a right pod and paired (pairing.py): no host receive times, but the
    left-right offset their dates give (`#pair_offset_ms`, right onto left, ±`#pair_sd_ms`), refined by
    the step timing as a live session's; `#pair_method=pod_clocks` (a pod that did not sample in real
    time): both stay on their own clocks."""
    by_foot = {p.foot: p for p in pods}
    left, right = by_foot.get("left"), by_foot.get("right")
    if left is None or right is None:
        raise ValueError("a paired set needs a left and a right pod")
    method = meta.get("pair_method")
    try:
        offset = float(meta.get("pair_offset_ms", 0.0))
        sd = float(meta["pair_sd_ms"]) if meta.get("pair_sd_ms") else None
    except ValueError:
        offset, sd = 0.0, None
    report = {"method": None, "reference": "left pod clock", "pods": {}, "residual_spread_ms": None,
              "lr_host_uncertainty_ms": None, "lr_step_offset_ms": None, "lr_step_pairs": 0,
              "lr_correction_ms": None, "lr_uncertainty_ms": None, "lr_clock_offset_ms": None, "note": ""}
    lefts = [dict(e) for e in left.events]
    if method != "pod_dates" or sd is None:
        report["method"] = "pulled_pod_clocks"
        report["note"] = ("pulled separately, and a pod did not sample in real time (a replay faster than real "
                          "time?): events stay on the pods' own clocks")
        return _rounded(lefts + [dict(e) for e in right.events]), report
    rights = [dict(e, t_ms=e["t_ms"] + offset) for e in right.events]
    info = refine_offset(sd, [e["t_ms"] for e in lefts if e["type"] == "step"],
                         [e["t_ms"] for e in rights if e["type"] == "step"])
    for e in rights:
        e["t_ms"] -= info["correction_ms"]
    report.update(method="pod_dates+step_timing" if info["step_offset_ms"] is not None else "pod_dates",
                  lr_host_uncertainty_ms=_r(sd), lr_step_offset_ms=_r(info["step_offset_ms"]),
                  lr_step_pairs=info["step_pairs"], lr_correction_ms=_r(info["correction_ms"]),
                  lr_uncertainty_ms=_r(info["sd_ms"]), lr_clock_offset_ms=_r(offset))
    note = (f"pulled separately: left and right aligned through the pods' dates to about ±{info['sd_ms']:.0f} ms "
            "(1 sigma)")
    if info["step_offset_ms"] is not None:
        note += (f"; right landings fall {info['step_offset_ms']:+.0f} ms from the middle of the left ones "
                 f"({info['step_pairs']} landings)")
    report["note"] = note
    return _rounded(lefts + rights), report


def _rounded(events):
    for e in events:
        e["t_ms"] = int(round(e["t_ms"]))
    return events


def clock_map(own_ms, summary_ms):
    """(scale, offset) taking one pod's own event times onto the summary's (t' = scale * t + offset).

    The session summary may put both pods' events on one timeline; raw samples carry the
    pod's own clock, so the heel trace is moved the same way, fitted on the pod's events.
    """
    if not own_ms or len(own_ms) != len(summary_ms):
        return 1.0, 0.0
    own = np.asarray(own_ms, float)
    new = np.asarray(summary_ms, float)
    if own.max() - own.min() >= 1000:
        scale, offset = np.polyfit(own, new, 1)
        if abs(scale - 1) < 0.01:  # a clock drift is ppm; anything else is a mismatch
            return float(scale), float(offset)
    return 1.0, float(np.median(new - own))
