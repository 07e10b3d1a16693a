"""Synthetic Dumbbell Walking Calf Raise recordings with ground truth (numpy only).

One foot's motion is built at 1 kHz from a person-level timeline (stand flat,
rise onto the toes, alternate steps starting with the right foot, lower the
heels, stand flat), then turned into what a shoe pod would sample: IMU
(accelerometer = specific force, gyro = pitch rate, both in the mounting frame)
and/or three FSR pads. The truth records landings and heel contacts measured
from the simulated heel height itself, so it is what a detector should find.

Frames: foot x forward, y left, z up; heel-up pitch theta > 0 is a rotation
about +y. Sensor reading = M^T * foot-frame vector (M = mounting rotation).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from dataclasses import asdict, dataclass, field

import numpy as np

from . import rawfile

# --- physical constants and timeline (ms unless named otherwise) -------------
G_MPS2 = 9.80665
BODY_N = 1000.0                 # body + dumbbells
SENSOR_OFFSET_M = (-0.10, 0.0, 0.04)  # sensor relative to the forefoot pivot, foot frame
STAND_MS = 2000                 # flat and still at the start
RISE_MS = 500                   # rise onto the toes
HOLD_MS = 1000                  # on the toes before the first step
FINAL_HOLD_MS = 1000            # after the last landing, before lowering
LOWER_MS = 600                  # deliberate final heel lowering
END_STAND_MS = 2500             # flat after the set
WALK_START_MS = STAND_MS + RISE_MS + HOLD_MS
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
MOUNTS = ("flat", "random")


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
    """Validate cfg; return (heel touches by step, sorted long-stride steps)."""
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
    need(cfg.sensor in rawfile.SENSORS, f"sensor must be one of {', '.join(rawfile.SENSORS)}, got {cfg.sensor!r}")
    need(cfg.feet in FEET_CHOICES, f"feet must be one of {', '.join(FEET_CHOICES)}, got {cfg.feet!r}")
    lo, hi = rawfile.RATE_RANGE_HZ
    need(lo <= cfg.rate_hz <= hi, f"rate_hz must be in {lo}..{hi}, got {cfg.rate_hz}")
    need(isinstance(cfg.seed, (int, np.integer)) and cfg.seed >= 0, f"seed must be an integer >= 0, got {cfg.seed!r}")

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
    return touches, longs


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


def _heel_height_mm(cfg: SimConfig, step: int, foot: str) -> float:
    sag = cfg.fatigue_pct / 100.0 * (step - 1) / max(1, cfg.steps - 1)
    height = cfg.heel_mm * (1.0 - sag)
    if foot == "right":
        height *= 1.0 - cfg.asym_pct / 100.0
    return height


def _plan(cfg: SimConfig, touches: dict, longs: list, rng_plan, rng_bounce) -> _Plan:
    n_steps = cfg.steps
    interval_ms = 60000.0 / cfg.cadence_spm
    # Swing ~min(0.45 s, 0.6 cycle), further capped at 0.9 step interval so it
    # stays a walk: the other foot is always down while this one is in the air.
    swing_ms = int(round(min(SWING_MAX_MS, 0.6 * 2 * interval_ms, 0.9 * interval_ms)))
    stance_nominal_ms = int(round(2 * interval_ms)) - swing_ms
    free_ms = stance_nominal_ms - PUSH_MS   # landing -> next push-off
    if n_steps > 2 and free_ms < SETTLE_MS + cfg.pause_ms:
        raise ValueError(
            f"cadence {cfg.cadence_spm:g} spm leaves {free_ms} ms between landing and the next push-off, "
            f"less than settle {SETTLE_MS} ms + pause {cfg.pause_ms} ms: lower the cadence or the pause")

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

    candidates = [n for n in range(1, n_steps + 1) if n not in touches and n not in longs]
    n_bounce = min(len(candidates), int(round(cfg.bounce * n_steps)))
    bounce_steps = set(int(n) for n in rng_bounce.choice(candidates, n_bounce, replace=False)) if n_bounce else set()
    # A bounce cuts that stance short: the foot's next lift-off comes earlier, but
    # never before the other foot has landed, and leaving room for the hop + settle.
    bounce_room_ms = HOP_MAX_MS + SETTLE_MS + 50
    if bounce_steps and free_ms < bounce_room_ms:
        raise ValueError(f"cadence {cfg.cadence_spm:g} spm leaves no room for a bounce landing; lower the cadence")
    advance_ms = max(0, int(min(0.25 * stance_nominal_ms, 0.8 * (interval_ms - swing_ms), free_ms - bounce_room_ms)))

    lift = np.array([int(round(WALK_START_MS + (n - 1) * interval_ms)) for n in range(1, n_steps + 1)], dtype=np.int64)
    for n in sorted(bounce_steps):
        if n + 2 <= n_steps:
            lift[n + 1] -= advance_ms
    land = lift + swing_ms

    theta_step = np.array([math.asin(_heel_height_mm(cfg, n, _foot_of(n)) / cfg.foot_mm) for n in range(1, n_steps + 1)])
    theta0 = {foot: math.asin(_heel_height_mm(cfg, 1, foot) / cfg.foot_mm) for foot in ("left", "right")}

    # Where each stance's fault events end, to place heel touches and the final lowering.
    stance_end = np.zeros(n_steps, dtype=np.int64)
    touch_start = {}
    events_end = {"left": STAND_MS + RISE_MS, "right": STAND_MS + RISE_MS}
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
            done = land[i] + int(draws["hop_ms"][i]) + SETTLE_MS
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
                 lower_ms, theta_step, theta0, draws)


def _load_share_right(plan: _Plan, n_steps: int) -> np.ndarray:
    """Fraction of body weight on the right foot, 1 kHz (left = 1 - right)."""
    # Keyframes: a foot carries nothing at its lift-off and landing; in double
    # support the load moves linearly to the foot that will stay down.
    times = [0, int(plan.lift_ms[0]) - WEIGHT_SHIFT_MS]
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

def _foot_motion(cfg: SimConfig, plan: _Plan, foot: str):
    """Pitch (rad), forefoot pivot x/z (m), impacts [(ms, mg)], medial share, landings, 1 kHz."""
    n_ms = plan.total_ms
    theta = np.zeros(n_ms)
    wobble = np.zeros(n_ms)      # additive pitch wobbles, kept apart so holds can overwrite freely
    x_m = np.zeros(n_ms)
    z_m = np.zeros(n_ms)
    impacts = []
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

    th = plan.theta0[foot]
    ramp(theta, STAND_MS, STAND_MS + RISE_MS, 0.0, th)
    t = STAND_MS + RISE_MS      # theta is filled up to t; beyond, the held pitch follows
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
        # Swing: min-jerk forward, lift bump, pitch blend plus the swing rotation.
        tau = np.arange(plan.swing_ms) / plan.swing_ms
        th_land = float(plan.theta_step[i])
        stride_m = cfg.stride_cm / 100.0 * (LONG_STRIDE_FACTOR if n in plan.long_steps else 1.0)
        base = th_push + (th_land - th_push) * _min_jerk(tau)
        lift_z = d["lift_m"][i] * _bump(tau)
        rot = math.radians(d["swing_amp_deg"][i]) * _swing_rotation(tau)
        rot *= _swing_rotation_scale(base, lift_z, rot, cfg.foot_mm / 1000.0)
        theta[lift:land] = base + rot
        x_m[lift:land] = pos + stride_m * _min_jerk(tau)
        z_m[lift:land] = lift_z
        pos += stride_m
        x_t = land
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
    return theta + wobble, x_m, z_m, impacts, landings


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


def _sampled_peak(at, width, sample_idx):
    """Peak of the unit impact transient starting at `at` (ms) as the sensor samples it: through
    its low-pass (`width` ms) and then at sample_idx."""
    lo, hi = at - width, at + IMPACT_LEN_MS + width
    unit = np.zeros(hi - lo)
    unit[width:width + IMPACT_LEN_MS] = _IMPACT_SHAPE
    idx = sample_idx[(sample_idx >= lo) & (sample_idx < hi)] - lo
    peak = float(_smooth(unit, width)[idx].max()) if len(idx) else 0.0
    return peak if peak > 0.05 else 1.0


def _imu(theta, x_m, z_m, impacts, mount, sample_idx, rate_hz, noise, rng, touches=()):
    """IMU columns (ax, ay, az mg; gx, gy, gz mdps) at sample_idx, in the sensor frame.

    `touches`: (impact ms, drop ms) of each heel touch's floor impact; there the sampled peak
    of |a| - 1 g is the impact asked for (see below).
    """
    c, s = np.cos(theta), np.sin(theta)
    rx, _, rz = SENSOR_OFFSET_M
    sx = x_m + c * rx + s * rz            # P + R(theta) r_s
    sz = z_m - s * rx + c * rz
    ax_mps2 = _second_derivative(sx)
    az_mps2 = _second_derivative(sz)
    fx = ax_mps2 / G_MPS2 * 1000.0                 # specific force, world frame, mg
    fz = (az_mps2 + G_MPS2) / G_MPS2 * 1000.0
    width = max(1, int(round(1000 / rate_hz)))
    # A heel touch: the accelerometer sees the heel fall and the floor stop it. The drop's own
    # smooth (min-jerk) deceleration is no floor's doing and, on a fast drop, would put ~6 g there
    # whatever impact was asked for: it is left out, and the touch's transient is scaled so that
    # its sampled peak (after the IMU's low-pass) is the impact asked for (none for 0 mg).
    drops = dict(touches)
    for at, drop_ms in touches:
        fx[max(0, at - drop_ms):at + IMPACT_LEN_MS] = 0.0
        fz[max(0, at - drop_ms):at + IMPACT_LEN_MS] = 1000.0
    for at, amp_mg in impacts:            # transients along the world vertical
        if at in drops:
            amp_mg = amp_mg / _sampled_peak(at, width, sample_idx)
        seg = fz[at:at + IMPACT_LEN_MS]
        seg += amp_mg * _IMPACT_SHAPE[:len(seg)]
    foot_acc = np.stack([c * fx - s * fz, np.zeros_like(fx), s * fx + c * fz], axis=1)   # R^T f
    gyro_y = np.gradient(theta) * 1000.0 * (180.0 / np.pi) * 1000.0      # mdps
    foot_gyro = np.stack([np.zeros_like(gyro_y), gyro_y, np.zeros_like(gyro_y)], axis=1)
    # Sensor frame: v_s = M^T v_f, i.e. row vectors times M.
    acc = foot_acc @ mount
    gyro = foot_gyro @ mount
    # The IMU's own low-pass (DLPF) averages over about one output period (`width`); without
    # it, point-sampling a 1 kHz signal at 100 Hz would alias the impacts.
    acc = np.stack([_smooth(acc[:, k], width)[sample_idx] for k in range(3)], axis=1)
    gyro = np.stack([_smooth(gyro[:, k], width)[sample_idx] for k in range(3)], axis=1)
    draws = rng.normal(size=(len(sample_idx), 6))
    acc = acc + draws[:, :3] * ACCEL_NOISE_MG * noise
    gyro = gyro + draws[:, 3:] * GYRO_NOISE_MDPS * noise
    acc = np.clip(np.round(acc), -ACCEL_CLIP_MG, ACCEL_CLIP_MG)
    gyro = np.clip(np.round(gyro), -GYRO_CLIP_MDPS, GYRO_CLIP_MDPS)
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


def _foot_truth(plan: _Plan, heel_mm: np.ndarray, z_m: np.ndarray, landings) -> dict:
    rise_mm = heel_mm[STAND_MS + RISE_MS]
    set_start = STAND_MS + int(np.argmax(heel_mm[STAND_MS:] >= 0.5 * rise_mm))
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
        else:
            kind, impact = "touch", 0
        contacts.append({"t_ms": t_ms, "duration_ms": length, "impact_mg": int(impact), "kind": kind, "step": step})
    return {
        "steps": [{"n": n, "t_ms": land} for n, land in landings],
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
    gap_ms = int(round(rest_s * 1000)) - (END_STAND_MS + STAND_MS)
    starts = [0]
    for plan in plans[:-1]:
        starts.append(starts[-1] + plan.total_ms + gap_ms)
    return starts


def _motion_of_sets(cfg, plans, starts, total_ms, foot):
    """One foot's 1 kHz motion over several sets, standing flat (heels down) in the rests."""
    if len(plans) == 1:
        return _foot_motion(cfg, plans[0], foot)
    theta, x_m, z_m = np.zeros(total_ms), np.zeros(total_ms), np.zeros(total_ms)
    impacts, landings, per_set = [], [], []
    pos = 0.0   # the feet stay where the last set left them
    for plan, start in zip(plans, starts):
        th, x, z, imp, lands = _foot_motion(cfg, plan, foot)
        end = start + plan.total_ms
        theta[start:end] = th
        x_m[start:end] = x + pos
        z_m[start:end] = z
        pos += float(x[-1])
        x_m[end:] = pos
        impacts += [(t + start, mg) for t, mg in imp]
        landings += [(n, t + start) for n, t in lands]
        per_set.append((th, x, z, lands))
    return theta, x_m, z_m, impacts, landings, per_set


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


def simulate(cfg: SimConfig, sets: int = 1, rest_s: float = DEFAULT_REST_S) -> dict:
    """Simulate one set, or `sets` sets with `rest_s` standing flat between them.

    Returns {"left": rec or None, "right": rec or None, "truth": dict};
    rec = {"foot", "sensor", "rate_hz", "data"} with int64 data in rawfile.columns_for(sensor) order.
    Every set repeats cfg (its faults too) with fresh random draws; the mounting stays.
    """
    touches, longs = _normalise(cfg)
    _check_sets(sets, rest_s)
    master = np.random.default_rng(cfg.seed)
    # Independent child streams in a fixed order: a foot's IMU noise does not
    # depend on which sensors or feet are written, nor on the faults chosen.
    names = ("plan", "bounce", "mount_left", "mount_right", "imu_left", "imu_right", "fsr_left", "fsr_right")
    rngs = {name: np.random.default_rng(int(master.integers(0, 2**63 - 1))) for name in names}
    # later sets draw on after the first, so set 1 is the same as a one-set simulation
    plans = [_plan(cfg, touches, longs, rngs["plan"], rngs["bounce"]) for _ in range(sets)]
    starts = _set_starts(plans, rest_s)
    total_ms = starts[-1] + plans[-1].total_ms

    n_samples = int(np.floor((total_ms - 1) * cfg.rate_hz / 1000.0)) + 1
    sample_ms = np.round(np.arange(n_samples) * 1000.0 / cfg.rate_hz).astype(np.int64)
    sample_ms = sample_ms[sample_ms < total_ms]
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
        motion = _motion_of_sets(cfg, plans, starts, total_ms, foot)
        theta, x_m, z_m, impacts, landings = motion[:5]
        heel_mm = z_m * 1000.0 + cfg.foot_mm * np.sin(theta)
        if sets == 1:
            feet_truth[foot] = _foot_truth(plans[0], heel_mm, z_m, landings)
        else:
            for k, (plan, start, (th, _x, z, lands)) in enumerate(zip(plans, starts, motion[5])):
                one = _foot_truth(plan, z * 1000.0 + cfg.foot_mm * np.sin(th), z, lands)
                sets_truth[k]["feet"][foot] = _shift_truth(one, start, k + 1)
            mine = [s["feet"][foot] for s in sets_truth]
            feet_truth[foot] = {
                "steps": [x for t in mine for x in t["steps"]],
                "heel_contacts": [x for t in mine for x in t["heel_contacts"]],
                "set_start_ms": mine[0]["set_start_ms"],
                "set_end_ms": mine[-1]["set_end_ms"],
            }
        mount = _random_rotation(rngs[f"mount_{foot}"])
        if cfg.mount == "flat":
            mount = np.eye(3)
        if cfg.feet not in (foot, "both"):
            continue
        columns = [sample_ms[:, None]]
        if "imu" in cfg.sensor:
            columns.append(_imu(theta, x_m, z_m, impacts, mount, sample_ms, cfg.rate_hz, cfg.noise, rngs[f"imu_{foot}"],
                                _touch_impacts(plans, starts, foot)))
        if "fsr" in cfg.sensor:
            share = share_right if foot == "right" else 1.0 - share_right
            columns.append(_fsr(share, heel_mm, z_m, landings, sample_ms, cfg.noise, cfg.steps, rngs[f"fsr_{foot}"]))
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
    parser.add_argument("--heel-mm", type=_ranged(float, 5.0, 150.0), default=d.heel_mm, help="heel height at the start (default %(default)s)")
    parser.add_argument("--fatigue-pct", type=_ranged(float, 0.0, 90.0), default=d.fatigue_pct, help="heel height loss first->last step (default %(default)s)")
    parser.add_argument("--bounce", type=_ranged(float, 0.0, 1.0), default=d.bounce, help="fraction of steps landed with a bounce (default %(default)s)")
    parser.add_argument("--noise", type=_ranged(float, 0.0, 10.0), default=d.noise, help="noise scale, 0 = noiseless (default %(default)s)")
    parser.add_argument("--mount", choices=MOUNTS, default=d.mount, help="sensor mounting on the shoe (default %(default)s)")
    parser.add_argument("--asym-pct", type=_ranged(float, 0.0, 90.0), default=d.asym_pct, help="right heel lower than left by this %% (default %(default)s)")
    parser.add_argument("--sensor", choices=rawfile.SENSORS, default=d.sensor, help="sensor columns (default %(default)s)")
    parser.add_argument("--feet", choices=FEET_CHOICES, default=d.feet, help="which files to write (default %(default)s)")
    parser.add_argument("--rate", type=_ranged(int, *rawfile.RATE_RANGE_HZ), default=d.rate_hz, help="sample rate in Hz (default %(default)s)")
    parser.add_argument("--seed", type=_ranged(int, 0, 2**32 - 1), default=d.seed, help="random seed (default %(default)s)")
    parser.add_argument("--heel-touch", type=_heel_touch_arg, action="append", default=[], metavar="STEP[:MS[:MG]]",
                        help="heel touches down during the stance after STEP (repeatable; default 300 ms, 1500 mg)")
    parser.add_argument("--long-stride", type=_ranged(int, 1, 2000), action="append", default=[], metavar="STEP",
                        help="STEP lands with a long stride, heel dropping to the floor (repeatable)")
    parser.add_argument("--sets", type=_ranged(int, 1, MAX_SETS), default=1,
                        help="sets in the recording, each repeating the options above (default %(default)s)")
    parser.add_argument("--rest-s", type=_ranged(float, MIN_REST_S, MAX_REST_S), default=DEFAULT_REST_S,
                        help="seconds standing flat between the end of one set and the rise of the next (default %(default)s)")


def run(args) -> int:
    """`calfwalk simulate`: write the files, print their paths and a summary."""
    cfg = SimConfig(
        steps=args.steps, cadence_spm=args.cadence, pause_ms=args.pause_ms, stride_cm=args.stride_cm,
        heel_mm=args.heel_mm, fatigue_pct=args.fatigue_pct, bounce=args.bounce, noise=args.noise,
        mount=args.mount, asym_pct=args.asym_pct, sensor=args.sensor, feet=args.feet, rate_hz=args.rate,
        seed=args.seed, heel_touches=list(args.heel_touch or []), long_strides=list(args.long_stride or []),
    )
    sets = getattr(args, "sets", 1)
    try:
        paths = write_simulation(cfg, args.out, sets, getattr(args, "rest_s", DEFAULT_REST_S))
    except ValueError as exc:   # cross-option problems (e.g. touch step > steps) read like argparse errors
        print(f"calfwalk simulate: error: {exc}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    with open(paths[-1], encoding="utf-8") as fh:
        feet = json.load(fh)["feet"]
    per_foot = ", ".join(f"{foot} {len(feet[foot]['steps'])}" for foot in ("right", "left"))
    contacts = ", ".join(f"{foot} {len(feet[foot]['heel_contacts'])}" for foot in ("right", "left"))
    what = f"{cfg.steps} steps" if sets == 1 else f"{sets} sets of {cfg.steps} steps, {args.rest_s:g} s rest between"
    print(f"simulated {what} (steps per foot: {per_foot}; heel contacts: {contacts}) "
          f"at {cfg.cadence_spm:g} spm, sensor={cfg.sensor}, seed={cfg.seed}")
    return 0
