"""A randomised robustness sweep (`calfwalk robustness`, part of `make accuracy`).

Sets are drawn independently across the envelope the detector must hold on:
walkers (swing turn, lift, stride, swing time, cadence, pause, stance pitch,
bounce, heel faults), set-up (standing and rise time) and pods (mounting
position and orientation, sample rate, jitter, link gaps, noise, bias, gyro
range). Set k of a sweep always comes from seed (base + k), so the sweep is the
same on every machine; nothing in the detector is tuned to a single set.
`sensor="acc"` runs the same sets as an accelerometer-only pod: the same walkers
and the very same acceleration samples, with the gyro columns dropped (and no
stride length scored: without a gyro it is not measured). `fsr`, `imu+fsr` and
`acc+fsr` run them as pods with pads under the insole.

Each foot is scored against the simulator's truth: exact step count, heel
contacts (recall, precision, onset error), false contacts on clean sets and the
stride length of every matched step. Figures are also given per bin of every
drawn dimension, so a failure shows which part of the envelope it comes from.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, field

import numpy as np

from calfwalk.sim.simulate import HeelTouch, SimConfig, simulate

BASE_SEED = 1000  # sweep set k is drawn from seed BASE_SEED + k
CONTACT_MATCH_MS = 150  # a reported contact this close to a true one is that contact
STEP_MATCH_MS = 400  # a reported landing this close to a true one is that step
RATES_HZ = (50, 52, 60, 100, 104, 119, 200, 208, 250)
GYRO_RANGES_DPS = (250, 500, 1000, 2000)
FAULTS = ("clean", "soft_touch", "drop", "sink", "long_stride", "bounce", "mixed")
FAULT_WEIGHTS = (0.30, 0.14, 0.14, 0.10, 0.10, 0.12, 0.10)
# what a sweep can be run as (the walkers and faults are the same), and how its report names it
SENSORS = {"imu": "", "acc": "accelerometer alone", "fsr": "pads alone", "imu+fsr": "IMU and pads",
           "acc+fsr": "accelerometer and pads"}


@dataclass
class Draw:
    """One sweep set: the simulator config and the drawn dimensions (for the per-bin figures)."""

    k: int
    fault: str
    cfg: SimConfig
    dims: dict


def _fits(cfg: SimConfig) -> bool:
    try:
        simulate_plan_check(cfg)
        return True
    except ValueError:
        return False


def simulate_plan_check(cfg: SimConfig) -> None:
    """Raise ValueError if the simulator cannot lay out cfg (cheap: no kinematics)."""
    from calfwalk.sim.simulate import _normalise, _plan

    touches, longs, sinks = _normalise(cfg)
    rng = np.random.default_rng(0)
    _plan(cfg, touches, longs, sinks, rng, rng, rng)


def draw(k: int, base_seed: int = BASE_SEED, sensor: str = "imu") -> Draw:
    """Sweep set k: every dimension drawn independently from its range, then made to fit one walk.

    `sensor` changes only the columns written (acc: no gyro); every draw is the same."""
    if sensor not in SENSORS:
        raise ValueError(f"sweep sensor must be one of {', '.join(SENSORS)}, got {sensor!r}")
    rng = np.random.default_rng(base_seed + k)
    fault = str(rng.choice(FAULTS, p=FAULT_WEIGHTS))
    foot_mm = int(rng.integers(220, 291))
    pitch_deg = float(rng.uniform(10.0, 45.0))
    steps_per_s = float(np.exp(rng.uniform(math.log(0.2), math.log(2.5))))
    turn = float(rng.uniform(0.0, 3.0)) if rng.random() < 0.15 else float(rng.uniform(3.0, 60.0))
    dims = {
        "swing_turn_deg": turn,
        "lift_cm": float(rng.uniform(1.0, 8.0)),
        "stride_cm": float(rng.uniform(5.0, 40.0)),
        "swing_ms": int(rng.uniform(250, 800)),
        "cadence_steps_s": steps_per_s,
        "pause_ms": int(rng.uniform(0, 2000)),
        "stance_pitch_deg": pitch_deg,
        "stand_ms": int(rng.uniform(300, 5000)),
        "rise_ms": int(rng.uniform(300, 2500)),
        "rate_hz": int(rng.choice(RATES_HZ)),
        "noise": float(rng.uniform(0.1, 1.5)),
        "acc_bias_mg": float(rng.uniform(0.0, 40.0)),
        "gyro_bias_dps": float(rng.uniform(0.0, 4.0)),
        "gyro_range_dps": int(rng.choice(GYRO_RANGES_DPS)),
        "sway_deg": float(rng.uniform(0.0, 8.0)),
        "fatigue_pct": float(rng.uniform(0.0, 40.0)),
        "mount": str(rng.choice(["random", "random", "upside", "flat"])),
        "mount_pos": str(rng.choice(["laces", "heel", "side", "random"])),
        "jitter_frac": float(rng.uniform(0.0, 0.3)),
        "gaps_per_min": float(rng.uniform(0.0, 6.0)),
        "bounce_deg": float(rng.uniform(3.0, 10.0)),
        "bounce_hz": float(rng.uniform(2.0, 5.0)),
        "steps": int(rng.integers(12, 41)),
    }
    # fault draws come after the dimensions: a set's walker does not depend on its faults
    touch_ms = int(rng.uniform(80, 300))
    touch_mg = int(rng.uniform(0, 150))
    drop_ms = int(rng.uniform(150, 600))
    drop_mg = int(rng.uniform(1000, 3000))
    sink_n = int(rng.integers(2, 5))
    bounce_share = float(rng.uniform(0.2, 0.5))
    fault_steps = [int(x) for x in rng.permutation(np.arange(3, dims["steps"] - 1))[:4]]

    interval_ms = 1000.0 / steps_per_s
    swing_ms = int(min(dims["swing_ms"], 0.9 * interval_ms))
    free_ms = int(round(2 * interval_ms)) - swing_ms - 120 - 100  # landing -> next push-off, minus the settle
    cfg = SimConfig(
        steps=dims["steps"], cadence_spm=60.0 * steps_per_s, pause_ms=max(0, min(dims["pause_ms"], free_ms - 20)),
        stride_cm=dims["stride_cm"], heel_mm=foot_mm * math.sin(math.radians(pitch_deg)),
        fatigue_pct=dims["fatigue_pct"], noise=dims["noise"], mount=dims["mount"], sensor=sensor, feet="both",
        rate_hz=dims["rate_hz"], seed=base_seed + k, foot_mm=foot_mm, swing_ms=max(150, swing_ms),
        swing_turn_deg=turn, lift_cm=dims["lift_cm"], sway_deg=dims["sway_deg"], stand_ms=dims["stand_ms"],
        rise_ms=dims["rise_ms"], mount_pos=dims["mount_pos"], jitter_ms=dims["jitter_frac"] * 1000.0 / dims["rate_hz"],
        gaps_per_min=dims["gaps_per_min"], acc_bias_mg=dims["acc_bias_mg"], gyro_bias_dps=dims["gyro_bias_dps"],
        gyro_range_dps=dims["gyro_range_dps"],
    )
    dims["swing_ms"] = cfg.swing_ms
    dims["pause_ms"] = cfg.pause_ms
    # the fatigued heel stays clear of the floor on a clean set (a sag that touches is a fault of its own)
    low = cfg.heel_mm * (1 - cfg.fatigue_pct / 100)
    if low < 25:
        cfg.fatigue_pct = max(0.0, 100.0 * (1 - 25.0 / cfg.heel_mm))
        dims["fatigue_pct"] = cfg.fatigue_pct
    want = {fault} if fault != "mixed" else {"soft_touch", "drop", "bounce"}
    placed = []
    for kind in sorted(want):
        trial = SimConfig(**{**asdict(cfg)})
        trial.heel_touches = list(cfg.heel_touches)
        step = fault_steps[len(placed)] if len(placed) < len(fault_steps) else None
        if kind == "soft_touch" and step:
            trial.heel_touches.append(HeelTouch(step, touch_ms, touch_mg))
        elif kind == "drop" and step:
            trial.heel_touches.append(HeelTouch(step, drop_ms, drop_mg))
        elif kind == "sink" and step:
            trial.heel_sinks = [(max(step, 2 * sink_n + 1), sink_n)]
        elif kind == "long_stride" and step:
            trial.long_strides = [step]
        elif kind == "bounce":
            trial.bounce, trial.bounce_deg, trial.bounce_hz = bounce_share, dims["bounce_deg"], dims["bounce_hz"]
        if _fits(trial):
            cfg = trial
            placed.append(kind)
    dims["fault"] = "+".join(placed) if placed else "clean"
    for name in ("bounce_deg", "bounce_hz"):
        if "bounce" not in placed:
            dims[name] = None
    return Draw(k, dims["fault"], cfg, dims)


@dataclass
class FootResult:
    """One foot of one sweep set, scored against the truth."""

    k: int
    foot: str
    fault: str
    true_steps: int
    steps: int
    true_contacts: int
    contacts: int
    matched: int
    onset_errors_ms: list = field(default_factory=list)
    stride_errors_pct: list = field(default_factory=list)
    landing_errors_ms: list = field(default_factory=list)  # reported landing - true landing, per matched step
    clearance_errors_cm: list = field(default_factory=list)  # |reported - true| forefoot clearance
    clean: bool = False

    @property
    def exact(self) -> bool:
        return self.steps == self.true_steps


def _recording(rec: dict):
    from calfwalk.files.rawfile import RawRecording

    return RawRecording(rec["foot"], rec["sensor"], rec["rate_hz"], rec["data"])


def run_one(d: Draw, params: dict | None = None) -> list:
    """Simulate and score one sweep set: a FootResult per foot."""
    from calfwalk.eval.matching import match
    from calfwalk.analysis.detect import detect

    sim = simulate(d.cfg)
    out = []
    for foot in ("left", "right"):
        truth = sim["truth"]["feet"][foot]
        events = detect(_recording(sim[foot]), params)
        steps = [e for e in events if e["type"] == "step"]
        contacts = np.array([e["t_ms"] for e in events if e["type"] == "heel_contact"], dtype=float)
        ref = np.array([c["t_ms"] for c in truth["heel_contacts"]], dtype=float)
        pairs = match(contacts, ref, CONTACT_MATCH_MS)
        res = FootResult(d.k, foot, d.fault, len(truth["steps"]), len(steps), len(ref), len(contacts), len(pairs),
                         [float(contacts[i] - ref[j]) for i, j in pairs], clean=not truth["heel_contacts"])
        land = np.array([s["t_ms"] for s in steps], dtype=float)
        true_land = np.array([s["t_ms"] for s in truth["steps"]], dtype=float)
        for i, j in match(land, true_land, STEP_MATCH_MS):
            res.landing_errors_ms.append(float(land[i] - true_land[j]))
            if "imu" not in d.cfg.sensor:
                continue  # an accelerometer alone measures no stride length or clearance: nothing to score
            got = steps[i].get("stride_cm")
            want = truth["steps"][j].get("stride_cm")
            if got is not None and want:
                res.stride_errors_pct.append(100.0 * abs(got - want) / want)
            got = steps[i].get("clearance_cm")
            want = truth["steps"][j].get("clearance_cm")
            if got is not None and want is not None:
                res.clearance_errors_cm.append(abs(got - want))
        out.append(res)
    return out


def _run_indexed(args):
    k, base_seed, params, sensor = args
    return run_one(draw(k, base_seed, sensor), params)


def sweep(n_sets: int, base_seed: int = BASE_SEED, params: dict | None = None, workers: int = 1, progress=None,
          sensor: str = "imu") -> tuple:
    """(draws, results) for sets 0..n_sets-1 as `sensor` pods; `progress(done, total)` is called as sets finish."""
    draws = [draw(k, base_seed, sensor) for k in range(n_sets)]
    results = []
    jobs = [(k, base_seed, params, sensor) for k in range(n_sets)]
    if workers > 1:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(workers) as pool:
            for done, res in enumerate(pool.imap(_run_indexed, jobs), 1):
                results.extend(res)
                if progress:
                    progress(done, n_sets)
    else:
        for done, job in enumerate(jobs, 1):
            results.extend(_run_indexed(job))
            if progress:
                progress(done, n_sets)
    return draws, results


def figures(results: list) -> dict:
    """Totals over FootResults."""
    feet = len(results)
    true_c = sum(r.true_contacts for r in results)
    got_c = sum(r.contacts for r in results)
    matched = sum(r.matched for r in results)
    onset = np.abs([e for r in results for e in r.onset_errors_ms])
    stride = [e for r in results for e in r.stride_errors_pct]
    landing = np.abs([e for r in results for e in r.landing_errors_ms])
    clearance = [e for r in results for e in r.clearance_errors_cm]
    clean = [r for r in results if r.clean]
    return {
        "feet": feet,
        "exact_feet": sum(r.exact for r in results),
        "exact_pct": 100.0 * sum(r.exact for r in results) / feet if feet else None,
        "true_steps": sum(r.true_steps for r in results),
        "steps": sum(r.steps for r in results),
        "step_error_pct": (100.0 * sum(abs(r.steps - r.true_steps) for r in results) / sum(r.true_steps for r in results)
                           if results else None),
        "true_contacts": true_c,
        "contacts": got_c,
        "recall_pct": 100.0 * matched / true_c if true_c else None,
        "precision_pct": 100.0 * matched / got_c if got_c else None,
        "onset_median_ms": float(np.median(onset)) if len(onset) else None,
        "onset_p95_ms": float(np.percentile(onset, 95)) if len(onset) else None,
        "clean_feet": len(clean),
        "clean_false_contacts": sum(r.contacts for r in clean),
        "stride_median_error_pct": statistics.median(stride) if stride else None,
        "stride_p95_error_pct": float(np.percentile(stride, 95)) if stride else None,
        "landing_median_ms": float(np.median(landing)) if len(landing) else None,
        "landing_p95_ms": float(np.percentile(landing, 95)) if len(landing) else None,
        "clearance_median_error_cm": statistics.median(clearance) if clearance else None,
    }


def _bins(values, n=4):
    finite = sorted(v for v in values if v is not None and not isinstance(v, str))
    if not finite:
        return []
    edges = [finite[min(len(finite) - 1, int(len(finite) * q / n))] for q in range(n)] + [finite[-1]]
    return sorted(set(edges))


def per_dimension(draws: list, results: list) -> list:
    """Rows (dimension, bin label, feet, exact %, false contacts on clean feet, recall %) per bin of each dimension."""
    by_k = {}
    for r in results:
        by_k.setdefault(r.k, []).append(r)
    rows = []
    no_gyro = "imu" not in draws[0].cfg.sensor
    for name in draws[0].dims:
        if no_gyro and name.startswith("gyro_"):
            continue  # drawn (the sets stay the same as the imu sweep's) but not in an accelerometer's samples
        values = [d.dims[name] for d in draws]
        if all(isinstance(v, str) for v in values if v is not None):
            groups = sorted({v for v in values if v is not None})
            members = {g: [d for d in draws if d.dims[name] == g] for g in groups}
            labels = {g: str(g) for g in groups}
        else:
            edges = _bins(values)
            if len(edges) < 2:
                continue
            members, labels = {}, {}
            for i in range(len(edges) - 1):
                lo, hi = edges[i], edges[i + 1]
                last = i == len(edges) - 2
                members[i] = [d for d in draws if d.dims[name] is not None
                              and lo <= d.dims[name] and (d.dims[name] < hi or (last and d.dims[name] <= hi))]
                labels[i] = f"{_num(lo)}–{_num(hi)}"
        for g, ds in members.items():
            res = [r for d in ds for r in by_k.get(d.k, [])]
            if not res:
                continue
            f = figures(res)
            rows.append((name, labels[g], f))
    return rows


def _num(v):
    return f"{v:.0f}" if abs(v) >= 10 else f"{v:.2g}"


def failures(draws: list, results: list, limit: int = 30) -> list:
    """The sets with a foot off its true count or a false/missed contact: (k, fault, foot, what)."""
    out = []
    by_k = {d.k: d for d in draws}
    for r in results:
        what = []
        if not r.exact:
            what.append(f"steps {r.steps}/{r.true_steps}")
        if r.contacts != r.matched:
            what.append(f"{r.contacts - r.matched} false contact(s)")
        if r.true_contacts != r.matched:
            what.append(f"{r.true_contacts - r.matched} missed contact(s)")
        if what:
            out.append((r.k, by_k[r.k].fault, r.foot, ", ".join(what)))
    return out[:limit]


def print_report(console, draws, results, show_bins=True) -> dict:
    """Print the sweep's totals, the bins that fall short and the failing sets; returns the totals."""
    from rich.table import Table

    tot = figures(results)
    sensor = draws[0].cfg.sensor if draws else "imu"
    kind = f", sensor {sensor} ({SENSORS[sensor]})" if SENSORS.get(sensor) else ""
    t = Table(title=f"Robustness sweep: {len(draws)} simulated sets, {tot['feet']} feet{kind} (one parameter set, defaults)")
    for col in ("feet", "exact count", "step err", "contacts", "recall", "precision", "onset med / p95",
                "clean-set false contacts", "stride len err med / p95", "landing err med / p95", "clearance err med"):
        t.add_column(col, justify="right")
    t.add_row(str(tot["feet"]), f"{tot['exact_feet']}/{tot['feet']} ({_pct(tot['exact_pct'])})", _pct(tot["step_error_pct"]),
              f"{tot['contacts']}/{tot['true_contacts']}", _pct(tot["recall_pct"]), _pct(tot["precision_pct"]),
              f"{_ms(tot['onset_median_ms'])} / {_ms(tot['onset_p95_ms'])}",
              f"{tot['clean_false_contacts']} on {tot['clean_feet']} feet",
              f"{_pct(tot['stride_median_error_pct'])} / {_pct(tot['stride_p95_error_pct'])}",
              f"{_ms(tot['landing_median_ms'])} / {_ms(tot['landing_p95_ms'])}",
              "-" if tot["clearance_median_error_cm"] is None else f"{tot['clearance_median_error_cm']:.1f} cm")
    console.print(t)
    if show_bins:
        b = Table(title="Per dimension: the bins where a figure fails (exact count < 98%, a false contact on a clean set, "
                        "recall < 98%)")
        for col in ("dimension", "bin", "feet", "exact", "clean false", "recall", "precision"):
            b.add_column(col, justify="left" if col in ("dimension", "bin") else "right")
        shown = 0
        for name, label, f in per_dimension(draws, results):
            bad = ((f["exact_pct"] or 0) < 98.0 or f["clean_false_contacts"] > 0
                   or (f["recall_pct"] is not None and f["recall_pct"] < 98.0)
                   or (f["precision_pct"] is not None and f["precision_pct"] < 98.0))
            if bad:
                b.add_row(name, label, str(f["feet"]), _pct(f["exact_pct"]), str(f["clean_false_contacts"]),
                          _pct(f["recall_pct"]), _pct(f["precision_pct"]))
                shown += 1
        if shown:
            console.print(b)
        else:
            console.print("every bin of every dimension meets the targets")
    return tot


def _pct(v):
    return "-" if v is None else f"{v:.1f}%"


def _ms(v):
    return "-" if v is None else f"{v:.1f} ms"
