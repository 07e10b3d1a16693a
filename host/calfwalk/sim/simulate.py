"""Synthetic Dumbbell Walking Calf Raise recordings with ground truth (numpy only).

One foot's motion is built at 1 kHz from a person-level timeline (stand flat,
rise onto the toes, alternate steps starting with the right foot, lower the
heels, stand flat), then turned into what a shoe pod would sample: IMU
(accelerometer = specific force, gyro = pitch rate, both in the mounting frame)
and/or three FSR pads. The truth records landings and heel contacts measured
from the simulated heel height itself, so it is what a detector should find.

Frames: foot x forward, y left, z up; heel-up pitch theta > 0 is a rotation
about +y. The foot's orientation is R = Rz(yaw) Ry(pitch) Rx(roll) about the
forefoot pivot; the sensor sits at an offset from that pivot (on the laces, the
heel counter or the side of the shoe) and is turned by the mounting M: a reading
is M^T R^T * world vector (specific force, and the body rate from R^T dR/dt).

The defaults are the original calf-walk set; the widened envelope (swing turn,
lift, swing time, sway, heel bob, stand and rise times, sensor position, rate
jitter and gaps, sensor bias and range, heel sinks) is what `calfwalk
robustness` draws from.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from dataclasses import asdict, dataclass, field

import numpy as np

from calfwalk.files import rawfile

# --- physical constants and timeline (ms unless named otherwise) -------------
G_MPS2 = 9.80665
BODY_N = 1000.0                 # body + dumbbells
# sensor relative to the forefoot pivot, foot frame (m); "side" is on the outer side (+y for the left foot)
SENSOR_OFFSETS_M = {
    "laces": (-0.10, 0.0, 0.04),
    "heel": (-0.24, 0.0, 0.04),     # the back of the heel counter
    "side": (-0.15, 0.045, 0.03),   # the outer side of the shoe
}
MOUNT_POSITIONS = ("laces", "heel", "side", "random")
STAND_MS = 2000                 # flat and still at the start (default)
RISE_MS = 500                   # rise onto the toes (default)
HOLD_MS = 1000                  # on the toes before the first step
FINAL_HOLD_MS = 1000            # after the last landing, before lowering
LOWER_MS = 600                  # deliberate final heel lowering
END_STAND_MS = 2500             # flat after the set
SETTLE_MS = 100                 # decaying wobble after a landing
PUSH_MS = 120                   # extra heel rise just before lift-off
SWING_MAX_MS = 450
SWING_HEEL_CLEARANCE_M = 0.005
TOUCH_MIN_START_MS = 150        # a heel touch starts no earlier than this after landing
CRASH_DROP_MS = 50
SOFT_DROP_MS = 120
HEEL_RISE_MS = 200              # back up to the stance pitch after a heel contact
LONG_STRIDE_FACTOR = 1.8
LONG_DROP_MS = 60
LONG_HOLD_MS = 250
LONG_IMPACT_MG = 800
CONTACT_MM = 2.0                # heel "on the floor" below this height
CRASH_MG = 1000
HOP_M = 0.01                    # forefoot hop between the two bounce landings
HOP_MIN_MS, HOP_MAX_MS = 80, 120  # time between the two bounce landing peaks
BOUNCE_WOBBLE_DEG = 0.2         # gives ~5-10 dps of continuous wobble
WEIGHT_SHIFT_MS = 400           # load moves to the left foot before the first lift-off
IMPACT_LEN_MS = 40
SINK_FLOOR_MM = 25.0            # a sinking heel's stances come down to this before the one that touches
SINK_MS = 400                   # the last sinking stance lowers the heel to the floor this slowly
BOB_MAX_CYCLES = 3

ACCEL_NOISE_MG = 15.0
GYRO_NOISE_MDPS = 2000.0
FSR_NOISE_COUNTS = 200.0
ACCEL_CLIP_MG = 16000
GYRO_CLIP_MDPS = 2_000_000
FSR_SPAN_COUNTS = 60000.0
FSR_HALF_N = (150.0, 100.0, 100.0)   # heel, fore_med, fore_lat
FSR_MAX = 65535

MAX_SETS = 20
DEFAULT_REST_S = 60.0           # standing flat, heels down, from one set's end to the next one's rise
MIN_REST_S = (END_STAND_MS + STAND_MS) / 1000.0   # every set already stands this long around it
MAX_REST_S = 3600.0

FEET_CHOICES = ("left", "right", "both")
MOUNTS = ("flat", "random", "upside")


@dataclass
class HeelTouch:
    """The heel of the foot that landed at person step `step` touches down during that stance."""

    step: int                # person step index (1-based)
    duration_ms: int = 300   # heel on the floor
    impact_mg: int = 1500    # 0..5000; a "crash" if >= 1000, ~0 for a soft touch


@dataclass
class SimConfig:
    """Everything that defines one simulated set; same config -> identical output."""

    steps: int = 30
    cadence_spm: float = 60.0
    pause_ms: int = 300
    stride_cm: float = 50.0
    heel_mm: float = 70.0
    fatigue_pct: float = 20.0
    bounce: float = 0.0
    noise: float = 1.0
    mount: str = "random"
    asym_pct: float = 0.0
    sensor: str = "imu"
    feet: str = "both"
    rate_hz: int = 100
    seed: int = 1
    heel_touches: list = field(default_factory=list)
    long_strides: list = field(default_factory=list)
    foot_mm: int = 250
    # the widened envelope; the defaults give the original set
    swing_ms: int = 0                # 0: from the cadence, min(450 ms, 0.9 step interval)
    swing_turn_deg: float = -1.0     # pitch range of a swing; < 0: drawn 18-28 deg per step
    lift_cm: float = -1.0            # forefoot lift in the swing; < 0: drawn 3-5 cm per step
    sway_deg: float = 0.0            # yaw and roll excursion in the swing (random sign per step)
    bounce_deg: float = 0.0          # 0: a bounce is a double landing; > 0: the heel bobs up this far
    bounce_hz: float = 3.0           # ... at this rate, 1-3 times, instead of the pause
    stand_ms: int = STAND_MS         # standing flat before the rise
    rise_ms: int = RISE_MS
    mount_pos: str = "laces"         # where the pod sits: laces | heel | side | random
    jitter_ms: float = 0.0           # sample instants jitter by up to this (t_ms says when)
    gaps_per_min: float = 0.0        # short link gaps (1-5 samples lost each)
    acc_bias_mg: float = 0.0         # accelerometer bias, random direction per foot
    gyro_bias_dps: float = 0.0       # gyro bias, random direction per foot
    gyro_range_dps: int = 2000       # full scale: faster turns saturate
    heel_sinks: list = field(default_factory=list)  # [(STEP, N)]: the heel sinks over N steps, touching at STEP


# --- small helpers ------------------------------------------------------------

def _min_jerk(u):
    """0 -> 1 with zero velocity and acceleration at both ends."""
    u = np.clip(u, 0.0, 1.0)
    return u ** 3 * (10.0 - 15.0 * u + 6.0 * u * u)


def _bump(u):
    """0 -> 1 -> 0 lift profile with zero velocity and acceleration at both ends."""
    u = np.clip(u, 0.0, 1.0)
    return 64.0 * u ** 3 * (1.0 - u) ** 3


def _swing_rotation_raw(tau):
    # sin(2 pi tau) shape, but with zero slope at the ends so the landing has no
    # velocity step (the impact is added explicitly as a transient).
    return np.sin(2 * np.pi * tau) * np.sin(np.pi * tau) ** 2


_SWING_ROT_PEAK = float(np.max(_swing_rotation_raw(np.linspace(0, 1, 2001))))


def _swing_rotation(tau):
    return _swing_rotation_raw(tau) / _SWING_ROT_PEAK


_IMPACT_K = np.arange(IMPACT_LEN_MS)
# Damped ~45 Hz oscillation, ~25 ms long, first peak upward (the floor stops the foot).
_IMPACT_SHAPE = np.exp(-_IMPACT_K / 7.0) * np.sin(2 * np.pi * 45.0 * _IMPACT_K / 1000.0)
_IMPACT_SHAPE /= np.max(_IMPACT_SHAPE)


def _foot_of(step: int) -> str:
    return "right" if step % 2 == 1 else "left"


def _random_rotation(rng) -> np.ndarray:
    """Uniform random 3D rotation matrix from a normalised Gaussian quaternion."""
    w, x, y, z = rng.normal(size=4)
    norm = math.sqrt(w * w + x * x + y * y + z * z)
    w, x, y, z = w / norm, x / norm, y / norm, z / norm
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


# --- input parsing and validation ----------------------------------------------

def parse_heel_touch(text: str) -> HeelTouch:
    """Parse "STEP[:DURATION_MS[:IMPACT_MG]]" into a HeelTouch."""
    parts = str(text).strip().split(":")
    if not parts[0] or len(parts) > 3:
        raise ValueError(f"heel touch {text!r}: expected STEP[:DURATION_MS[:IMPACT_MG]], e.g. 5 or 5:400:1500")
    names = ("STEP", "DURATION_MS", "IMPACT_MG")
    values = []
    for name, part in zip(names, parts):
        try:
            values.append(int(part.strip()))
        except ValueError:
            raise ValueError(f"heel touch {text!r}: {name} must be an integer, got {part!r}") from None
    touch = HeelTouch(*values)
    _check_touch(touch, where=f"heel touch {text!r}")
    return touch


def _check_touch(touch: HeelTouch, where: str) -> None:
    if touch.step < 1:
        raise ValueError(f"{where}: STEP must be >= 1 (person steps count from 1), got {touch.step}")
    if not 0 <= touch.duration_ms <= 10000:
        raise ValueError(f"{where}: DURATION_MS must be 0..10000, got {touch.duration_ms}")
    if not 0 <= touch.impact_mg <= 5000:
        raise ValueError(f"{where}: IMPACT_MG must be 0..5000, got {touch.impact_mg}")


def _normalise(cfg: SimConfig):
    """Validate cfg; return (heel touches by step, sorted long-stride steps, heel sinks by step)."""
    def need(ok, message):
        if not ok:
            raise ValueError(message)

    need(isinstance(cfg.steps, (int, np.integer)) and cfg.steps >= 1, f"steps must be an integer >= 1, got {cfg.steps!r}")
    need(0 < cfg.cadence_spm <= 200, f"cadence_spm must be in (0, 200], got {cfg.cadence_spm}")
    need(cfg.pause_ms >= 0, f"pause_ms must be >= 0, got {cfg.pause_ms}")
    need(0 < cfg.stride_cm <= 200, f"stride_cm must be in (0, 200], got {cfg.stride_cm}")
    need(cfg.foot_mm >= 100, f"foot_mm must be >= 100, got {cfg.foot_mm}")
    need(0 < cfg.heel_mm <= 0.8 * cfg.foot_mm, f"heel_mm must be in (0, {0.8 * cfg.foot_mm:g}] for foot_mm={cfg.foot_mm}, got {cfg.heel_mm}")
    need(0 <= cfg.fatigue_pct < 100, f"fatigue_pct must be in [0, 100), got {cfg.fatigue_pct}")
    need(0 <= cfg.asym_pct < 100, f"asym_pct must be in [0, 100), got {cfg.asym_pct}")
    need(0 <= cfg.bounce <= 1, f"bounce must be in [0, 1], got {cfg.bounce}")
    need(cfg.noise >= 0, f"noise must be >= 0, got {cfg.noise}")
    need(cfg.mount in MOUNTS, f"mount must be one of {', '.join(MOUNTS)}, got {cfg.mount!r}")
    need(cfg.mount_pos in MOUNT_POSITIONS, f"mount_pos must be one of {', '.join(MOUNT_POSITIONS)}, got {cfg.mount_pos!r}")
    need(cfg.sensor in rawfile.SENSORS, f"sensor must be one of {', '.join(rawfile.SENSORS)}, got {cfg.sensor!r}")
    need(cfg.feet in FEET_CHOICES, f"feet must be one of {', '.join(FEET_CHOICES)}, got {cfg.feet!r}")
    lo, hi = rawfile.RATE_RANGE_HZ
    need(lo <= cfg.rate_hz <= hi, f"rate_hz must be in {lo}..{hi}, got {cfg.rate_hz}")
    need(isinstance(cfg.seed, (int, np.integer)) and cfg.seed >= 0, f"seed must be an integer >= 0, got {cfg.seed!r}")
    need(cfg.swing_ms == 0 or 150 <= cfg.swing_ms <= 2000, f"swing_ms must be 0 (from the cadence) or 150..2000, got {cfg.swing_ms}")
    need(cfg.swing_turn_deg <= 90, f"swing_turn_deg must be <= 90 (< 0: drawn), got {cfg.swing_turn_deg}")
    need(cfg.lift_cm <= 20, f"lift_cm must be <= 20 (< 0: drawn), got {cfg.lift_cm}")
    need(0 <= cfg.sway_deg <= 30, f"sway_deg must be in 0..30, got {cfg.sway_deg}")
    need(0 <= cfg.bounce_deg <= 30, f"bounce_deg must be in 0..30, got {cfg.bounce_deg}")
    need(0.5 <= cfg.bounce_hz <= 10, f"bounce_hz must be in 0.5..10, got {cfg.bounce_hz}")
    need(100 <= cfg.stand_ms <= 60000, f"stand_ms must be in 100..60000, got {cfg.stand_ms}")
    need(100 <= cfg.rise_ms <= 5000, f"rise_ms must be in 100..5000, got {cfg.rise_ms}")
    need(0 <= cfg.jitter_ms < 500.0 / cfg.rate_hz,
         f"jitter_ms must be in 0..{500.0 / cfg.rate_hz:g} (under half a sample period), got {cfg.jitter_ms}")
    need(0 <= cfg.gaps_per_min <= 60, f"gaps_per_min must be in 0..60, got {cfg.gaps_per_min}")
    need(0 <= cfg.acc_bias_mg <= 200, f"acc_bias_mg must be in 0..200, got {cfg.acc_bias_mg}")
    need(0 <= cfg.gyro_bias_dps <= 20, f"gyro_bias_dps must be in 0..20, got {cfg.gyro_bias_dps}")
    need(100 <= cfg.gyro_range_dps <= 4000, f"gyro_range_dps must be in 100..4000, got {cfg.gyro_range_dps}")

    touches = {}
    for item in cfg.heel_touches:
        touch = HeelTouch(**item) if isinstance(item, dict) else item
        _check_touch(touch, where=f"heel touch at step {touch.step}")
        need(touch.step <= cfg.steps, f"heel touch at step {touch.step}: the set has only {cfg.steps} steps")
        need(touch.step not in touches, f"two heel touches at step {touch.step}")
        touches[touch.step] = touch
    longs = sorted({int(s) for s in cfg.long_strides})
    for step in longs:
        need(1 <= step <= cfg.steps, f"long stride at step {step}: steps are 1..{cfg.steps}")
        need(step not in touches, f"step {step} has both a heel touch and a long stride; pick one")
    sinks = {}
    for item in cfg.heel_sinks:
        step, n = (int(item["step"]), int(item["n"])) if isinstance(item, dict) else (int(item[0]), int(item[1]))
        need(1 <= step <= cfg.steps, f"heel sink at step {step}: steps are 1..{cfg.steps}")
        need(1 <= n <= 20, f"heel sink at step {step}: N must be 1..20 steps, got {n}")
        need(step not in touches and step not in longs and step not in sinks,
             f"step {step} has a heel sink and another heel fault; pick one")
        sinks[step] = n
    return touches, longs, sinks


# --- timeline --------------------------------------------------------------------

@dataclass
class _Plan:
    """Person-level timeline (integer ms on the 1 kHz grid) and per-step draws."""

    total_ms: int
    swing_ms: int
    lift_ms: np.ndarray          # [n-1] lift-off of person step n
    land_ms: np.ndarray          # [n-1] forefoot landing of person step n
    stance_end_ms: np.ndarray    # [n-1] start of that foot's next push-off, or the final lowering
    touch_start_ms: dict
    touches: dict
    long_steps: set
    bounce_steps: set
    lower_ms: int
    theta_step: np.ndarray       # [n-1] stance pitch after step n (rad)
    theta0: dict                 # on-toes pitch before the first step, per foot
    draws: dict
    stand_ms: int = STAND_MS
    rise_ms: int = RISE_MS
    sinks: dict = field(default_factory=dict)     # step -> N: the heel touches down slowly in that stance
    bob_cycles: dict = field(default_factory=dict)  # bounce step -> heel bobs (bounce_deg > 0)


def _heel_height_mm(cfg: SimConfig, step: int, foot: str) -> float:
    sag = cfg.fatigue_pct / 100.0 * (step - 1) / max(1, cfg.steps - 1)
    height = cfg.heel_mm * (1.0 - sag)
    if foot == "right":
        height *= 1.0 - cfg.asym_pct / 100.0
    return height


def _sink_height_mm(cfg: SimConfig, step: int, foot: str, sinks: dict) -> float:
    """Stance heel height after `step`, lowered where a heel sink is under way."""
    height = _heel_height_mm(cfg, step, foot)
    for end, n in sinks.items():
        # this foot's stances end..end-2(n-1) sink towards SINK_FLOOR_MM; the one at `end` reaches the floor
        k = (end - step) // 2
        if step <= end and (end - step) % 2 == 0 and k < n:
            if k == 0:
                return min(height, SINK_FLOOR_MM)  # landed low, then sinks to the floor (see _foot_motion)
            floor = min(height, SINK_FLOOR_MM)
            height = floor + (height - floor) * k / n
    return height


def _swing_ms(cfg: SimConfig, interval_ms: float) -> int:
    # the other foot is always down while this one is in the air: a walk
    nominal = cfg.swing_ms if cfg.swing_ms else SWING_MAX_MS
    return int(round(min(nominal, 0.9 * interval_ms)))


def _plan(cfg: SimConfig, touches: dict, longs: list, sinks: dict, rng_plan, rng_bounce, rng_extra) -> _Plan:
    n_steps = cfg.steps
    interval_ms = 60000.0 / cfg.cadence_spm
    swing_ms = _swing_ms(cfg, interval_ms)
    stance_nominal_ms = int(round(2 * interval_ms)) - swing_ms
    free_ms = stance_nominal_ms - PUSH_MS   # landing -> next push-off
    if n_steps > 2 and free_ms < SETTLE_MS + cfg.pause_ms:
        raise ValueError(
            f"cadence {cfg.cadence_spm:g} spm leaves {free_ms} ms between landing and the next push-off, "
            f"less than settle {SETTLE_MS} ms + pause {cfg.pause_ms} ms: lower the cadence or the pause")
    walk_start_ms = cfg.stand_ms + cfg.rise_ms + HOLD_MS

    # All per-step random draws happen up front with fixed sizes, so changing
    # faults or sensors never reshuffles the rest of the set.
    draws = {
        "lift_m": rng_plan.uniform(0.03, 0.05, n_steps),
        "swing_amp_deg": rng_plan.uniform(12.0, 18.0, n_steps),
        "push_deg": rng_plan.uniform(6.0, 10.0, n_steps),
        "land_mg": rng_plan.uniform(300.0, 600.0, n_steps),
        "land2_mg": rng_plan.uniform(300.0, 600.0, n_steps),
        "wobble_deg": rng_plan.uniform(0.8, 1.5, n_steps),
        "wobble_hz": rng_plan.uniform(12.0, 18.0, n_steps),
        "hop_ms": rng_plan.integers(HOP_MIN_MS, HOP_MAX_MS + 1, n_steps),
        "sway_hz": rng_plan.uniform([2.0, 4.0], [3.5, 6.0], (n_steps, 2)),
        "sway_phase": rng_plan.uniform(0.0, 2 * np.pi, (n_steps, 2)),
    }
    # the widened envelope draws from its own stream: the original set stays as it was
    draws["yaw_roll"] = rng_extra.uniform(-1.0, 1.0, (n_steps, 2))
    draws["bob_cycles"] = rng_extra.integers(1, BOB_MAX_CYCLES + 1, n_steps)
    draws["turn_scale"] = rng_extra.uniform(0.85, 1.15, n_steps)
    draws["lift_scale"] = rng_extra.uniform(0.85, 1.15, n_steps)
    if cfg.swing_turn_deg >= 0:
        turn = cfg.swing_turn_deg * draws["turn_scale"]
        draws["push_deg"] = 0.3 * turn
        draws["swing_amp_deg"] = 0.35 * turn
    if cfg.lift_cm >= 0:
        draws["lift_m"] = cfg.lift_cm / 100.0 * draws["lift_scale"]

    candidates = [n for n in range(1, n_steps + 1) if n not in touches and n not in longs and n not in sinks]
    n_bounce = min(len(candidates), int(round(cfg.bounce * n_steps)))
    bounce_steps = set(int(n) for n in rng_bounce.choice(candidates, n_bounce, replace=False)) if n_bounce else set()
    bob_cycles = {}
    advance_ms = 0
    if cfg.bounce_deg > 0:
        # the heel bobs instead of pausing: as many cycles as the stance holds (at least one)
        cycle_ms = 1000.0 / cfg.bounce_hz
        room = free_ms - SETTLE_MS
        if bounce_steps and room < cycle_ms:
            raise ValueError(f"cadence {cfg.cadence_spm:g} spm leaves {room} ms for a {cycle_ms:.0f} ms heel bob; "
                             "lower the cadence or raise bounce_hz")
        bob_cycles = {n: int(min(draws["bob_cycles"][n - 1], room // cycle_ms)) for n in bounce_steps}
    else:
        # A bounce cuts that stance short: the foot's next lift-off comes earlier, but
        # never before the other foot has landed, and leaving room for the hop + settle.
        bounce_room_ms = HOP_MAX_MS + SETTLE_MS + 50
        if bounce_steps and free_ms < bounce_room_ms:
            raise ValueError(f"cadence {cfg.cadence_spm:g} spm leaves no room for a bounce landing; lower the cadence")
        advance_ms = max(0, int(min(0.25 * stance_nominal_ms, 0.8 * (interval_ms - swing_ms), free_ms - bounce_room_ms)))

    lift = np.array([int(round(walk_start_ms + (n - 1) * interval_ms)) for n in range(1, n_steps + 1)], dtype=np.int64)
    for n in sorted(bounce_steps):
        if n + 2 <= n_steps and advance_ms:
            lift[n + 1] -= advance_ms
    land = lift + swing_ms

    theta_step = np.array([math.asin(_sink_height_mm(cfg, n, _foot_of(n), sinks) / cfg.foot_mm)
                           for n in range(1, n_steps + 1)])
    theta0 = {foot: math.asin(_heel_height_mm(cfg, 1, foot) / cfg.foot_mm) for foot in ("left", "right")}

    # Where each stance's fault events end, to place heel touches and the final lowering.
    stance_end = np.zeros(n_steps, dtype=np.int64)
    touch_start = {}
    events_end = {"left": cfg.stand_ms + cfg.rise_ms, "right": cfg.stand_ms + cfg.rise_ms}
    for n in range(1, n_steps + 1):
        i = n - 1
        has_next = n + 2 <= n_steps
        end = lift[i + 2] - PUSH_MS if has_next else None
        if n in longs:
            done = land[i] + LONG_DROP_MS + LONG_HOLD_MS + HEEL_RISE_MS
            if has_next and done > end:
                raise ValueError(f"long stride at step {n}: the stance ({end - land[i]} ms) is too short at "
                                 f"{cfg.cadence_spm:g} spm for drop + {LONG_HOLD_MS} ms heel down + rise; lower the cadence")
        elif n in bounce_steps:
            if n in bob_cycles:
                done = land[i] + SETTLE_MS + int(bob_cycles[n] * 1000.0 / cfg.bounce_hz)
            else:
                done = land[i] + int(draws["hop_ms"][i]) + SETTLE_MS
        elif n in sinks:
            done = land[i] + SETTLE_MS + SINK_MS
            if has_next and done + 50 > end:
                raise ValueError(f"heel sink at step {n}: the stance ({end - land[i]} ms) is too short for a "
                                 f"{SINK_MS} ms sink at {cfg.cadence_spm:g} spm; lower the cadence")
        elif n in touches:
            t = touches[n]
            needed = (CRASH_DROP_MS if t.impact_mg >= CRASH_MG else SOFT_DROP_MS) + t.duration_ms + HEEL_RISE_MS
            start = land[i] + SETTLE_MS + cfg.pause_ms
            if has_next and start + needed + 50 > end:
                start = end - 50 - needed   # touch earlier in the stance rather than shift the rhythm
                if start < land[i] + TOUCH_MIN_START_MS:
                    raise ValueError(
                        f"heel touch at step {n}: {t.duration_ms} ms on the floor does not fit in the "
                        f"{end - land[i]} ms stance at {cfg.cadence_spm:g} spm; shorten it or lower the cadence")
            touch_start[n] = int(start)
            done = start + needed
        else:
            done = land[i] + SETTLE_MS + cfg.pause_ms
        if has_next:
            stance_end[i] = end
        events_end[_foot_of(n)] = int(done)

    lower_ms = int(max(land[-1] + FINAL_HOLD_MS, max(events_end.values()) + 300))
    for n in range(max(1, n_steps - 1), n_steps + 1):   # last stance of each foot ends at the lowering
        stance_end[n - 1] = lower_ms
    total_ms = lower_ms + LOWER_MS + END_STAND_MS
    return _Plan(total_ms, swing_ms, lift, land, stance_end, touch_start, touches, set(longs), bounce_steps,
                 lower_ms, theta_step, theta0, draws, cfg.stand_ms, cfg.rise_ms, dict(sinks), bob_cycles)


def _load_share_right(plan: _Plan, n_steps: int) -> np.ndarray:
    """Fraction of body weight on the right foot, 1 kHz (left = 1 - right)."""
    # Keyframes: a foot carries nothing at its lift-off and landing; in double
    # support the load moves linearly to the foot that will stay down.
    times = [0, max(1, int(plan.lift_ms[0]) - WEIGHT_SHIFT_MS)]
    values = [0.5, 0.5]
    for n in range(1, n_steps + 1):
        on_right = 0.0 if _foot_of(n) == "right" else 1.0
        times += [int(plan.lift_ms[n - 1]), int(plan.land_ms[n - 1])]
        values += [on_right, on_right]
    times.append(int(plan.land_ms[-1]) + FINAL_HOLD_MS)   # both feet share again before lowering
    values.append(0.5)
    return np.interp(np.arange(plan.total_ms), times, values)


def _swing_rotation_scale(base_rad, lift_m, rot_rad, foot_m) -> float:
    """Largest factor <= 1 on the swing rotation keeping the heel >= 5 mm above the floor.

    Only matters for very low heels: the toes-up part of the swing would
    otherwise push the heel through the floor. Ends of the swing (small
    rotation) are ignored, there the landing/take-off pitch dominates.
    """
    floor_sin = np.clip((SWING_HEEL_CLEARANCE_M - lift_m) / foot_m, -1.0, 1.0)
    pitch_min = np.arcsin(floor_sin)
    active = rot_rad < -math.radians(1.5)
    if not active.any():
        return 1.0
    allowed = (base_rad[active] - pitch_min[active]) / -rot_rad[active]
    return float(np.clip(allowed.min(), 0.0, 1.0))


# --- one foot's kinematics -------------------------------------------------------

@dataclass
class _Motion:
    """One foot at 1 kHz: pitch/yaw/roll (rad), forefoot pivot x/y/z (m), impacts [(ms, mg)],
    landings [(step, ms)] and per-step truth figures {step: {...}}."""

    theta: np.ndarray
    yaw: np.ndarray
    roll: np.ndarray
    x_m: np.ndarray
    y_m: np.ndarray
    z_m: np.ndarray
    impacts: list
    landings: list
    step_info: dict


def _foot_motion(cfg: SimConfig, plan: _Plan, foot: str) -> _Motion:
    """One foot's motion through one set."""
    n_ms = plan.total_ms
    theta = np.zeros(n_ms)
    wobble = np.zeros(n_ms)      # additive pitch wobbles, kept apart so holds can overwrite freely
    yaw = np.zeros(n_ms)
    roll = np.zeros(n_ms)
    x_m = np.zeros(n_ms)
    z_m = np.zeros(n_ms)
    impacts = []
    step_info = {}
    d = plan.draws

    def ramp(arr, a, b, v0, v1):
        arr[a:b] = v0 + (v1 - v0) * _min_jerk(np.arange(b - a) / (b - a))

    def settle(at, i):
        # Small decaying wobble of the forefoot rocking into place; window u(1-u)^2
        # starts and ends with zero slope so no gyro step appears.
        k = np.arange(SETTLE_MS)
        u = k / SETTLE_MS
        w = 6.75 * u * (1 - u) ** 2 * np.sin(2 * np.pi * d["wobble_hz"][i] * k / 1000.0)
        wobble[at:at + SETTLE_MS] -= math.radians(d["wobble_deg"][i]) * w

    stand, rise = plan.stand_ms, plan.rise_ms
    th = plan.theta0[foot]
    ramp(theta, stand, stand + rise, 0.0, th)
    t = stand + rise            # theta is filled up to t; beyond, the held pitch follows
    x_t, pos = 0, 0.0           # x is filled up to x_t
    my_steps = [n for n in range(1, cfg.steps + 1) if _foot_of(n) == foot]
    landings = []
    for n in my_steps:
        i = n - 1
        lift, land = int(plan.lift_ms[i]), int(plan.land_ms[i])
        theta[t:lift - PUSH_MS] = th
        x_m[x_t:lift] = pos
        th_push = th + math.radians(d["push_deg"][i])
        ramp(theta, lift - PUSH_MS, lift, th, th_push)
        # Swing: min-jerk forward, lift bump, pitch blend plus the swing rotation, sway in yaw and roll.
        tau = np.arange(plan.swing_ms) / plan.swing_ms
        th_land = float(plan.theta_step[i])
        stride_m = cfg.stride_cm / 100.0 * (LONG_STRIDE_FACTOR if n in plan.long_steps else 1.0)
        base = th_push + (th_land - th_push) * _min_jerk(tau)
        lift_z = d["lift_m"][i] * _bump(tau)
        rot = math.radians(d["swing_amp_deg"][i]) * _swing_rotation(tau)
        rot *= _swing_rotation_scale(base, lift_z, rot, cfg.foot_mm / 1000.0)
        theta[lift:land] = base + rot
        if cfg.sway_deg > 0:
            yaw[lift:land] = math.radians(cfg.sway_deg) * d["yaw_roll"][i, 0] * _bump(tau)
            roll[lift:land] = math.radians(cfg.sway_deg) * d["yaw_roll"][i, 1] * _bump(tau)
        x_m[lift:land] = pos + stride_m * _min_jerk(tau)
        z_m[lift:land] = lift_z
        pos += stride_m
        x_t = land
        swing_th = theta[lift - PUSH_MS:land]
        step_info[n] = {"stride_cm": round(stride_m * 100.0, 2), "clearance_cm": round(float(d["lift_m"][i]) * 100.0, 2),
                        "turn_deg": round(math.degrees(float(swing_th.max() - swing_th.min())), 1)}
        th = th_land
        landings.append((n, land))
        impacts.append((land, float(d["land_mg"][i])))
        t = land
        if n in plan.long_steps:
            # The heel drops straight to the floor at landing, stays, comes back up.
            a = land + LONG_DROP_MS
            ramp(theta, land, a, th, 0.0)
            theta[a:a + LONG_HOLD_MS] = 0.0
            ramp(theta, a + LONG_HOLD_MS, a + LONG_HOLD_MS + HEEL_RISE_MS, 0.0, th)
            impacts.append((a, float(LONG_IMPACT_MG)))
            t = a + LONG_HOLD_MS + HEEL_RISE_MS
        elif n in plan.bounce_steps and n in plan.bob_cycles:
            # The heel bobs up and back down with the forefoot on the floor, instead of a pause.
            settle(land, i)
            a = land + SETTLE_MS
            n_bob = int(plan.bob_cycles[n] * 1000.0 / cfg.bounce_hz)
            k = np.arange(n_bob)
            theta[t:a] = th
            theta[a:a + n_bob] = th + math.radians(cfg.bounce_deg) * 0.5 * (1 - np.cos(2 * np.pi * cfg.bounce_hz * k / 1000.0))
            t = a + n_bob
        elif n in plan.bounce_steps:
            hop = int(d["hop_ms"][i])
            z_m[land:land + hop] = HOP_M * _bump(np.arange(hop) / hop)
            impacts.append((land + hop, float(d["land2_mg"][i])))
            settle(land + hop, i)
            # No still pause: a continuous small wobble until the next push-off.
            a, b = land + hop + SETTLE_MS, int(plan.stance_end_ms[i])
            if b - a > 200:
                k = np.arange(b - a)
                taper = _min_jerk(k / 100.0) * _min_jerk((b - a - 1 - k) / 100.0)
                hz, ph = d["sway_hz"][i], d["sway_phase"][i]
                sway = (np.sin(2 * np.pi * hz[0] * k / 1000.0 + ph[0])
                        + 0.6 * np.sin(2 * np.pi * hz[1] * k / 1000.0 + ph[1]))
                wobble[a:b] += math.radians(BOUNCE_WOBBLE_DEG) * taper * sway
        elif n in plan.sinks:
            # The last stance of a sinking heel: it lowers slowly to the floor and stays there.
            settle(land, i)
            a = land + SETTLE_MS
            theta[t:a] = th
            ramp(theta, a, a + SINK_MS, th, 0.0)
            th = 0.0
            t = a + SINK_MS
        else:
            settle(land, i)
            if n in plan.touches:
                touch = plan.touches[n]
                s = plan.touch_start_ms[n]
                drop = CRASH_DROP_MS if touch.impact_mg >= CRASH_MG else SOFT_DROP_MS
                theta[t:s] = th
                ramp(theta, s, s + drop, th, 0.0)
                theta[s + drop:s + drop + touch.duration_ms] = 0.0
                up = s + drop + touch.duration_ms
                ramp(theta, up, up + HEEL_RISE_MS, 0.0, th)
                if touch.impact_mg > 0:
                    impacts.append((s + drop, float(touch.impact_mg)))
                t = up + HEEL_RISE_MS
    theta[t:plan.lower_ms] = th
    x_m[x_t:] = pos
    ramp(theta, plan.lower_ms, plan.lower_ms + LOWER_MS, th, 0.0)
    theta[plan.lower_ms + LOWER_MS:] = 0.0
    return _Motion(theta + wobble, yaw, roll, x_m, np.zeros(n_ms), z_m, impacts, landings, step_info)


# --- sensors ---------------------------------------------------------------------

def _smooth(signal: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average (edges padded with the end values)."""
    if width <= 1:
        return signal
    pad = width // 2
    padded = np.concatenate([np.full(pad, signal[0]), signal, np.full(width - 1 - pad, signal[-1])])
    return np.convolve(padded, np.ones(width) / width, mode="valid")


def _second_derivative(pos_m: np.ndarray) -> np.ndarray:
    """d2/dt2 of a 1 kHz position in m/s^2, after ~9 ms Hann smoothing against difference roughness."""
    window = np.hanning(11)[1:-1]
    window /= window.sum()
    padded = np.concatenate([np.full(4, pos_m[0]), pos_m, np.full(4, pos_m[-1])])
    smooth = np.convolve(padded, window, mode="valid")
    return np.gradient(np.gradient(smooth)) * 1e6


def _rotations(theta, yaw, roll) -> np.ndarray:
    """R = Rz(yaw) Ry(theta) Rx(roll) per sample, shape (n, 3, 3)."""
    ct, st = np.cos(theta), np.sin(theta)
    cy, sy = np.cos(yaw), np.sin(yaw)
    cr, sr = np.cos(roll), np.sin(roll)
    return np.stack([
        np.stack([cy * ct, cy * st * sr - sy * cr, cy * st * cr + sy * sr], axis=-1),
        np.stack([sy * ct, sy * st * sr + cy * cr, sy * st * cr - cy * sr], axis=-1),
        np.stack([-st, ct * sr, ct * cr], axis=-1),
    ], axis=-2)


@dataclass
class _Sensing:
    """How one foot's pod samples: where it sits, how it is turned, its clock and its errors."""

    offset_m: tuple
    mount: np.ndarray
    sample_ms: np.ndarray        # the instants sampled (1 kHz grid index)
    t_ms: np.ndarray             # what the pod's clock says for each
    acc_bias_mg: np.ndarray
    gyro_bias_mdps: np.ndarray
    gyro_clip_mdps: float


def _sampled_peak(at, width, sample_idx):
    """Peak of the unit impact transient starting at `at` (ms) as the sensor samples it: through
    its low-pass (`width` ms) and then at sample_idx."""
    lo, hi = at - width, at + IMPACT_LEN_MS + width
    unit = np.zeros(hi - lo)
    unit[width:width + IMPACT_LEN_MS] = _IMPACT_SHAPE
    idx = sample_idx[(sample_idx >= lo) & (sample_idx < hi)] - lo
    peak = float(_smooth(unit, width)[idx].max()) if len(idx) else 0.0
    return peak if peak > 0.05 else 1.0


def _imu(motion: _Motion, sensing: _Sensing, rate_hz, noise, rng, touches=()):
    """IMU columns (ax, ay, az mg; gx, gy, gz mdps) at the sampled instants, in the sensor frame.

    `touches`: (impact ms, drop ms) of each heel touch's floor impact; there the sampled peak
    of |a| - 1 g is the impact asked for (see below).
    """
    R = _rotations(motion.theta, motion.yaw, motion.roll)
    rho = np.asarray(sensing.offset_m)
    pos = np.stack([motion.x_m, motion.y_m, motion.z_m], axis=1) + R @ rho     # P + R rho
    f = np.stack([_second_derivative(pos[:, k]) for k in range(3)], axis=1) / G_MPS2 * 1000.0
    f[:, 2] += 1000.0                      # specific force, world frame, mg
    width = max(1, int(round(1000 / rate_hz)))
    # A heel touch: the accelerometer sees the heel fall and the floor stop it. The drop's own
    # smooth (min-jerk) deceleration is no floor's doing and, on a fast drop, would put ~6 g there
    # whatever impact was asked for: it is left out, and the touch's transient is scaled so that
    # its sampled peak (after the IMU's low-pass) is the impact asked for (none for 0 mg).
    drops = dict(touches)
    for at, drop_ms in touches:
        f[max(0, at - drop_ms):at + IMPACT_LEN_MS] = (0.0, 0.0, 1000.0)
    for at, amp_mg in motion.impacts:      # transients along the world vertical
        if at in drops:
            amp_mg = amp_mg / _sampled_peak(at, width, sensing.sample_ms)
        seg = f[at:at + IMPACT_LEN_MS, 2]
        seg += amp_mg * _IMPACT_SHAPE[:len(seg)]
    foot_acc = np.einsum("nji,nj->ni", R, f)                                   # R^T f
    dR = np.gradient(R, axis=0) * 1000.0
    W = np.einsum("nji,njk->nik", R, dR)                                        # R^T dR/dt
    foot_gyro = np.stack([W[:, 2, 1] - W[:, 1, 2], W[:, 0, 2] - W[:, 2, 0], W[:, 1, 0] - W[:, 0, 1]], axis=1) / 2
    foot_gyro *= (180.0 / np.pi) * 1000.0                                       # mdps
    # Sensor frame: v_s = M^T v_f, i.e. row vectors times M.
    acc = foot_acc @ sensing.mount
    gyro = foot_gyro @ sensing.mount
    # The IMU's own low-pass (DLPF) averages over about one output period (`width`); without
    # it, point-sampling a 1 kHz signal at 100 Hz would alias the impacts.
    idx = sensing.sample_ms
    acc = np.stack([_smooth(acc[:, k], width)[idx] for k in range(3)], axis=1)
    gyro = np.stack([_smooth(gyro[:, k], width)[idx] for k in range(3)], axis=1)
    draws = rng.normal(size=(len(idx), 6))
    acc = acc + draws[:, :3] * ACCEL_NOISE_MG * noise + sensing.acc_bias_mg
    gyro = gyro + draws[:, 3:] * GYRO_NOISE_MDPS * noise + sensing.gyro_bias_mdps
    acc = np.clip(np.round(acc), -ACCEL_CLIP_MG, ACCEL_CLIP_MG)
    gyro = np.clip(np.round(gyro), -sensing.gyro_clip_mdps, sensing.gyro_clip_mdps)
    return np.concatenate([acc, gyro], axis=1).astype(np.int64)


def _fsr(load_share, heel_mm, z_m, landings, sample_idx, noise, n_steps, rng):
    """FSR counts (heel, fore_med, fore_lat) at sample_idx."""
    base = rng.integers(400, 901, 3)
    medial_share = rng.uniform(0.55, 0.65, n_steps + 1)    # [0] = before the first step
    draws = rng.normal(size=(len(sample_idx), 3))
    weight_n = BODY_N * load_share
    heel_factor = np.clip((2 * CONTACT_MM - heel_mm) / CONTACT_MM, 0.0, 1.0)   # 1 below 2 mm, 0 from 4 mm
    heel_n = 0.5 * weight_n * heel_factor
    on_floor = z_m < 0.001
    fore_n = np.where(on_floor, weight_n - heel_n, 0.0)
    share = np.full(len(z_m), medial_share[0])
    for n, land in landings:
        share[land:] = medial_share[n]
    forces = np.stack([heel_n, fore_n * share, fore_n * (1 - share)], axis=1)[sample_idx]
    counts = base + FSR_SPAN_COUNTS * forces / (forces + np.array(FSR_HALF_N))
    counts = counts + draws * FSR_NOISE_COUNTS * noise
    return np.clip(np.round(counts), 0, FSR_MAX).astype(np.int64)


# --- truth -------------------------------------------------------------------------

def _runs_below(values, start, stop, threshold):
    """(first index, length) of each run with values < threshold inside [start, stop)."""
    below = (values[start:stop] < threshold).astype(np.int8)
    edges = np.diff(below, prepend=0, append=0)
    return [(start + int(a), int(b - a)) for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1))]


def _foot_truth(plan: _Plan, heel_mm: np.ndarray, motion: _Motion) -> dict:
    z_m, landings = motion.z_m, motion.landings
    rise_end = plan.stand_ms + plan.rise_ms
    rise_mm = heel_mm[rise_end]
    set_start = plan.stand_ms + int(np.argmax(heel_mm[plan.stand_ms:] >= 0.5 * rise_mm))
    after = heel_mm[plan.lower_ms:] < CONTACT_MM
    set_end = plan.lower_ms + int(np.argmax(after)) if after.any() else plan.total_ms - 1
    contacts = []
    # Measured from the heel height itself: planned faults, and any stance whose
    # sagging heel ends up on the floor (reported as an unplanned soft touch).
    # (A heel on the floor with the forefoot in the air is not a stance contact.)
    stance_heel_mm = np.where(z_m < 0.001, heel_mm, np.inf)
    for t_ms, length in _runs_below(stance_heel_mm, set_start, plan.lower_ms, CONTACT_MM):
        step = max((n for n, land in landings if land <= t_ms), default=0)
        if step in plan.long_steps:
            kind, impact = "long_stride", LONG_IMPACT_MG
        elif step in plan.touches:
            impact = plan.touches[step].impact_mg
            kind = "crash" if impact >= CRASH_MG else "touch"
        elif step in plan.sinks:
            kind, impact = "sink", 0
        else:
            kind, impact = "touch", 0
        contacts.append({"t_ms": t_ms, "duration_ms": length, "impact_mg": int(impact), "kind": kind, "step": step})
    steps = []
    for n, land in landings:
        step = {"n": n, "t_ms": land}
        step.update(motion.step_info.get(n, {}))
        if n in plan.bounce_steps:
            step["bounce"] = True
        steps.append(step)
    return {
        "steps": steps,
        "heel_contacts": contacts,
        "set_start_ms": set_start,
        "set_end_ms": set_end,
    }


# --- public API ----------------------------------------------------------------------

def _check_sets(sets, rest_s) -> None:
    if not (isinstance(sets, (int, np.integer)) and 1 <= sets <= MAX_SETS):
        raise ValueError(f"sets must be an integer in 1..{MAX_SETS}, got {sets!r}")
    if not MIN_REST_S <= rest_s <= MAX_REST_S:   # also rejects nan
        raise ValueError(f"rest_s must be in {MIN_REST_S:g}..{MAX_REST_S:g} s (standing between sets), got {rest_s}")


def _set_starts(plans, rest_s) -> list:
    """Start (ms) of each set's timeline; each set already stands flat before its rise and after its lowering."""
    starts = [0]
    for plan, following in zip(plans[:-1], plans[1:]):
        gap_ms = max(0, int(round(rest_s * 1000)) - (END_STAND_MS + following.stand_ms))
        starts.append(starts[-1] + plan.total_ms + gap_ms)
    return starts


def _motion_of_sets(cfg, plans, starts, total_ms, foot):
    """One foot's 1 kHz motion over several sets, standing flat (heels down) in the rests; and each set's own."""
    per_set = [_foot_motion(cfg, plan, foot) for plan in plans]
    if len(plans) == 1:
        return per_set[0], per_set
    whole = _Motion(*(np.zeros(total_ms) for _ in range(6)), [], [], {})
    pos = 0.0   # the feet stay where the last set left them
    for m, plan, start in zip(per_set, plans, starts):
        end = start + plan.total_ms
        for name in ("theta", "yaw", "roll", "y_m", "z_m"):
            getattr(whole, name)[start:end] = getattr(m, name)
        whole.x_m[start:end] = m.x_m + pos
        pos += float(m.x_m[-1])
        whole.x_m[end:] = pos
        whole.impacts += [(t + start, mg) for t, mg in m.impacts]
        whole.landings += [(n, t + start) for n, t in m.landings]
    return whole, per_set


def _touch_impacts(plans, starts, foot):
    """(impact ms, drop ms) of every heel touch of this foot, on the recording's timeline."""
    out = []
    for plan, start in zip(plans, starts):
        for n, touch in plan.touches.items():
            if _foot_of(n) == foot:
                drop = CRASH_DROP_MS if touch.impact_mg >= CRASH_MG else SOFT_DROP_MS
                out.append((start + plan.touch_start_ms[n] + drop, drop))
    return out


def _shift_truth(truth: dict, start_ms: int, set_no: int) -> dict:
    return {
        "steps": [dict(s, t_ms=s["t_ms"] + start_ms, set=set_no) for s in truth["steps"]],
        "heel_contacts": [dict(c, t_ms=c["t_ms"] + start_ms, set=set_no) for c in truth["heel_contacts"]],
        "set_start_ms": truth["set_start_ms"] + start_ms,
        "set_end_ms": truth["set_end_ms"] + start_ms,
    }


def _sensing(cfg: SimConfig, foot: str, total_ms: int, rngs) -> _Sensing:
    """Where and how one foot's pod samples (independent streams per foot and per aspect)."""
    mount = _random_rotation(rngs[f"mount_{foot}"])
    if cfg.mount == "flat":
        mount = np.eye(3)
    elif cfg.mount == "upside":   # turned over about the forward axis
        mount = np.diag([1.0, -1.0, -1.0])
    rng = rngs[f"pod_{foot}"]
    pos = cfg.mount_pos
    draw = rng.integers(0, 3)
    jitter_m = rng.uniform(-0.01, 0.01, 3)
    if pos == "random":
        pos = ("laces", "heel", "side")[int(draw)]
    offset = np.array(SENSOR_OFFSETS_M[pos])
    if cfg.mount_pos == "random":
        offset = offset + jitter_m
    if foot == "right":
        offset[1] = -offset[1]   # the outer side of the right shoe is on its right
    period = 1000.0 / cfg.rate_hz
    n = int(np.floor((total_ms - 1) / period)) + 1
    nominal = np.arange(n) * period
    jitter = rng.uniform(-1.0, 1.0, n) * cfg.jitter_ms
    instants = np.clip(np.round(nominal + jitter), 0, total_ms - 1).astype(np.int64)
    instants = np.maximum.accumulate(instants)
    keep = np.ones(n, dtype=bool)
    n_gaps = int(round(cfg.gaps_per_min * total_ms / 60000.0))
    for at, length in zip(rng.integers(1, max(2, n - 6), n_gaps), rng.integers(1, 6, n_gaps)):
        keep[at:at + length] = False
    instants = instants[keep]
    acc_dir, gyro_dir = rng.normal(size=3), rng.normal(size=3)
    return _Sensing(tuple(offset), mount, instants, instants.copy(),
                    acc_dir / np.linalg.norm(acc_dir) * cfg.acc_bias_mg,
                    gyro_dir / np.linalg.norm(gyro_dir) * cfg.gyro_bias_dps * 1000.0,
                    float(min(cfg.gyro_range_dps * 1000, GYRO_CLIP_MDPS)))


def simulate(cfg: SimConfig, sets: int = 1, rest_s: float = DEFAULT_REST_S) -> dict:
    """Simulate one set, or `sets` sets with `rest_s` standing flat between them.

    Returns {"left": rec or None, "right": rec or None, "truth": dict};
    rec = {"foot", "sensor", "rate_hz", "data"} with int64 data in rawfile.columns_for(sensor) order.
    Every set repeats cfg (its faults too) with fresh random draws; the mounting stays.
    """
    touches, longs, sinks = _normalise(cfg)
    _check_sets(sets, rest_s)
    master = np.random.default_rng(cfg.seed)
    # Independent child streams in a fixed order: a foot's IMU noise does not
    # depend on which sensors or feet are written, nor on the faults chosen.
    # (New streams go at the end, so the earlier ones keep their draws.)
    names = ("plan", "bounce", "mount_left", "mount_right", "imu_left", "imu_right", "fsr_left", "fsr_right",
             "extra", "pod_left", "pod_right")
    rngs = {name: np.random.default_rng(int(master.integers(0, 2**63 - 1))) for name in names}
    # later sets draw on after the first, so set 1 is the same as a one-set simulation
    plans = [_plan(cfg, touches, longs, sinks, rngs["plan"], rngs["bounce"], rngs["extra"]) for _ in range(sets)]
    starts = _set_starts(plans, rest_s)
    total_ms = starts[-1] + plans[-1].total_ms

    if sets == 1:
        share_right = _load_share_right(plans[0], cfg.steps)
    else:
        share_right = np.full(total_ms, 0.5)   # both feet share the load while standing
        for plan, start in zip(plans, starts):
            share_right[start:start + plan.total_ms] = _load_share_right(plan, cfg.steps)

    out = {"left": None, "right": None}
    feet_truth = {}
    sets_truth = [{"set_no": k + 1, "feet": {}} for k in range(sets)]
    for foot in ("left", "right"):
        motion, per_set = _motion_of_sets(cfg, plans, starts, total_ms, foot)
        heel_mm = motion.z_m * 1000.0 + cfg.foot_mm * np.sin(motion.theta)
        if sets == 1:
            feet_truth[foot] = _foot_truth(plans[0], heel_mm, motion)
        else:
            for k, (plan, start, m) in enumerate(zip(plans, starts, per_set)):
                one = _foot_truth(plan, m.z_m * 1000.0 + cfg.foot_mm * np.sin(m.theta), m)
                sets_truth[k]["feet"][foot] = _shift_truth(one, start, k + 1)
            mine = [s["feet"][foot] for s in sets_truth]
            feet_truth[foot] = {
                "steps": [x for t in mine for x in t["steps"]],
                "heel_contacts": [x for t in mine for x in t["heel_contacts"]],
                "set_start_ms": mine[0]["set_start_ms"],
                "set_end_ms": mine[-1]["set_end_ms"],
            }
        sensing = _sensing(cfg, foot, total_ms, rngs)
        if cfg.feet not in (foot, "both"):
            continue
        columns = [sensing.t_ms[:, None]]
        if "imu" in cfg.sensor or "acc" in cfg.sensor:
            imu = _imu(motion, sensing, cfg.rate_hz, cfg.noise, rngs[f"imu_{foot}"], _touch_impacts(plans, starts, foot))
            # an accelerometer alone: the same samples with the gyro columns dropped (same seed, same acceleration)
            columns.append(imu if "imu" in cfg.sensor else imu[:, :3])
        if "fsr" in cfg.sensor:
            share = share_right if foot == "right" else 1.0 - share_right
            columns.append(_fsr(share, heel_mm, motion.z_m, motion.landings, sensing.sample_ms, cfg.noise, cfg.steps,
                                rngs[f"fsr_{foot}"]))
        data = np.concatenate(columns, axis=1).astype(np.int64)
        out[foot] = {"foot": foot, "sensor": cfg.sensor, "rate_hz": int(cfg.rate_hz), "data": data}

    out["truth"] = {
        "calfwalk_truth": 1,
        "config": _jsonable(asdict(cfg)),
        "steps_total": int(cfg.steps) * sets,
        "feet": feet_truth,
    }
    if sets > 1:
        out["truth"]["rest_s"] = rest_s
        out["truth"]["sets"] = sets_truth
    return out


def _jsonable(value):
    """asdict() output with numpy scalars turned into plain Python numbers."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_simulation(cfg: SimConfig, prefix: str, sets: int = 1, rest_s: float = DEFAULT_REST_S) -> list:
    """Write PREFIX_left.csv / PREFIX_right.csv (per cfg.feet) and PREFIX_truth.json; return the paths."""
    result = simulate(cfg, sets, rest_s)
    prefix = os.fspath(prefix)
    folder = os.path.dirname(prefix)
    if folder:
        os.makedirs(folder, exist_ok=True)
    paths = []
    for foot in ("left", "right"):
        rec = result[foot]
        if rec is None:
            continue
        path = f"{prefix}_{foot}.csv"
        rawfile.write_raw(path, foot, rec["sensor"], rec["rate_hz"], rec["data"],
                          extra_meta={"board": "sim", "seed": cfg.seed})
        paths.append(path)
    truth_path = f"{prefix}_truth.json"
    with open(truth_path, "w", encoding="utf-8", newline="\n") as fh:
        json.dump(result["truth"], fh, indent=1)
        fh.write("\n")
    paths.append(truth_path)
    return paths


# --- command line ------------------------------------------------------------------

def _ranged(kind, lo, hi):
    """argparse type: a `kind` number within lo..hi (inclusive)."""
    def convert(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, got {text!r}") from None
        if not lo <= value <= hi:   # also rejects nan
            raise argparse.ArgumentTypeError(f"must be in {lo}..{hi}, got {text}")
        return value
    return convert


def _heel_sink_arg(text):
    parts = str(text).strip().split(":")
    try:
        step, n = (int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"heel sink {text!r}: expected STEP:N, e.g. 12:3") from None
    if step < 1 or not 1 <= n <= 20:
        raise argparse.ArgumentTypeError(f"heel sink {text!r}: STEP >= 1 and N in 1..20")
    return (step, n)


def _heel_touch_arg(text):
    try:
        return parse_heel_touch(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser) -> None:
    """Options of `calfwalk simulate`."""
    d = SimConfig()
    parser.add_argument("-o", "--out", required=True, metavar="PREFIX",
                        help="output prefix: writes PREFIX_left.csv, PREFIX_right.csv, PREFIX_truth.json")
    parser.add_argument("--steps", type=_ranged(int, 1, 2000), default=d.steps, help="person steps, right foot first (default %(default)s)")
    parser.add_argument("--cadence", type=_ranged(float, 5.0, 150.0), default=d.cadence_spm, help="person steps per minute (default %(default)s)")
    parser.add_argument("--pause-ms", type=_ranged(int, 0, 10000), default=d.pause_ms, help="still pause at the top of each stance (default %(default)s)")
    parser.add_argument("--stride-cm", type=_ranged(float, 5.0, 150.0), default=d.stride_cm, help="one foot's stride (default %(default)s)")
    parser.add_argument("--heel-mm", type=_ranged(float, 5.0, 200.0), default=d.heel_mm, help="heel height at the start (default %(default)s)")
    parser.add_argument("--fatigue-pct", type=_ranged(float, 0.0, 90.0), default=d.fatigue_pct, help="heel height loss first->last step (default %(default)s)")
    parser.add_argument("--bounce", type=_ranged(float, 0.0, 1.0), default=d.bounce, help="fraction of steps landed with a bounce (default %(default)s)")
    parser.add_argument("--noise", type=_ranged(float, 0.0, 10.0), default=d.noise, help="noise scale, 0 = noiseless (default %(default)s)")
    parser.add_argument("--mount", choices=MOUNTS, default=d.mount, help="sensor mounting on the shoe (default %(default)s)")
    parser.add_argument("--asym-pct", type=_ranged(float, 0.0, 90.0), default=d.asym_pct, help="right heel lower than left by this %% (default %(default)s)")
    parser.add_argument("--sensor", choices=rawfile.SENSORS, default=d.sensor, help="sensor columns: imu, acc (an accelerometer alone: the imu's acceleration, no gyro columns), "
                        "fsr, imu+fsr, acc+fsr (default %(default)s)")
    parser.add_argument("--feet", choices=FEET_CHOICES, default=d.feet, help="which files to write (default %(default)s)")
    parser.add_argument("--rate", type=_ranged(int, *rawfile.RATE_RANGE_HZ), default=d.rate_hz, help="sample rate in Hz (default %(default)s)")
    parser.add_argument("--seed", type=_ranged(int, 0, 2**32 - 1), default=d.seed, help="random seed (default %(default)s)")
    parser.add_argument("--heel-touch", type=_heel_touch_arg, action="append", default=[], metavar="STEP[:MS[:MG]]",
                        help="heel touches down during the stance after STEP (repeatable; default 300 ms, 1500 mg)")
    parser.add_argument("--long-stride", type=_ranged(int, 1, 2000), action="append", default=[], metavar="STEP",
                        help="STEP lands with a long stride, heel dropping to the floor (repeatable)")
    parser.add_argument("--heel-sink", type=_heel_sink_arg, action="append", default=[], metavar="STEP:N",
                        help="the heel sinks over N stances of that foot and touches down slowly after STEP (repeatable)")
    env = parser.add_argument_group("envelope", "how the walker, the pod and its link may differ (defaults: the original set)")
    env.add_argument("--swing-ms", type=_ranged(int, 150, 2000), default=None, help="swing time (default: from the cadence, at most 450)")
    env.add_argument("--swing-turn-deg", type=_ranged(float, 0.0, 90.0), default=None,
                     help="pitch range of each swing; 0 = the foot carried at a fixed angle (default: 18-28)")
    env.add_argument("--lift-cm", type=_ranged(float, 0.0, 20.0), default=None, help="forefoot lift in the swing (default: 3-5)")
    env.add_argument("--sway-deg", type=_ranged(float, 0.0, 30.0), default=d.sway_deg, help="yaw and roll in the swing (default %(default)s)")
    env.add_argument("--bounce-deg", type=_ranged(float, 0.0, 30.0), default=d.bounce_deg,
                     help="a bounce bobs the heel up this far instead of pausing; 0 = a double landing (default %(default)s)")
    env.add_argument("--bounce-hz", type=_ranged(float, 0.5, 10.0), default=d.bounce_hz, help="heel bob rate (default %(default)s)")
    env.add_argument("--stand-ms", type=_ranged(int, 100, 60000), default=d.stand_ms, help="standing flat before the rise (default %(default)s)")
    env.add_argument("--rise-ms", type=_ranged(int, 100, 5000), default=d.rise_ms, help="rise onto the toes (default %(default)s)")
    env.add_argument("--mount-pos", choices=MOUNT_POSITIONS, default=d.mount_pos, help="where the pod sits on the shoe (default %(default)s)")
    env.add_argument("--jitter-ms", type=_ranged(float, 0.0, 20.0), default=d.jitter_ms, help="sample time jitter (default %(default)s)")
    env.add_argument("--gaps-per-min", type=_ranged(float, 0.0, 60.0), default=d.gaps_per_min,
                     help="short link gaps of 1-5 samples per minute (default %(default)s)")
    env.add_argument("--acc-bias-mg", type=_ranged(float, 0.0, 200.0), default=d.acc_bias_mg, help="accelerometer bias (default %(default)s)")
    env.add_argument("--gyro-bias-dps", type=_ranged(float, 0.0, 20.0), default=d.gyro_bias_dps, help="gyro bias (default %(default)s)")
    env.add_argument("--gyro-range-dps", type=_ranged(int, 100, 4000), default=d.gyro_range_dps, help="gyro full scale (default %(default)s)")
    parser.add_argument("--sets", type=_ranged(int, 1, MAX_SETS), default=1,
                        help="sets in the recording, each repeating the options above (default %(default)s)")
    parser.add_argument("--rest-s", type=_ranged(float, MIN_REST_S, MAX_REST_S), default=DEFAULT_REST_S,
                        help="seconds standing flat between the end of one set and the rise of the next (default %(default)s)")
