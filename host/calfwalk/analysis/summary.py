"""Summarise a set's events against the exercise guide: numbers and one verdict per rule."""

from __future__ import annotations

import statistics

from calfwalk.model import Rule, Summary

# Thresholds for the verdicts, in one place. Percentages are of the set's steps.
LIMITS = {
    "contacts_warn_per100": 5.0,  # heel contacts per 100 steps: above this, fail
    # IMU: peak |a| - 1 g at heel contact that counts as a crash. A deliberate
    # lowering decelerates the heel too (~1-1.5 g on the simulator); a crash is a sudden stop.
    "crash_impact_mg": 2500,
    "stride_cv_pass": 0.10,
    "stride_cv_warn": 0.20,
    "stride_dev_pct": 20.0,  # a stride this far from the median is uneven
    "long_stride_ms": 200,  # heel contact this soon after landing: the stride was too long
    # one foot's stride (landing to landing of that foot) is two of the person's steps; the
    # guide's short steps are about 15-35 cm (DOMAIN.md), so a stride up to 70 cm is short
    "stride_long_cm": 70.0,
    "stride_too_long_cm": 90.0,
    "stride_len_cv_pass": 0.10,
    "stride_len_cv_warn": 0.20,
    "pause_min_ms": 150,
    "pause_pass_share": 0.80,
    "pause_warn_share": 0.50,
    "bounce_pause_ms": 50,
    "bounce_stance_ms": 400,
    "bounce_pass_share": 0.05,
    "bounce_warn_share": 0.15,
    "lr_steps_diff": 1,
    "lr_pass_pct": 10.0,
    "lr_warn_pct": 20.0,
    "fatigue_pass_pct": 15.0,
    "fatigue_warn_pct": 30.0,
    "fatigue_min_steps": 5,
    "med_pass_pct": 50,
    "med_warn_pct": 40,
    # steps lost or damaged on the way: above this share of a foot's steps a per-step rule is not judged
    "unknown_steps_max_share": 0.25,
}

# The guide's own words for each rule.
CUES = {
    "heels_high": "Keep the heels high during the walking portion; let the heel hover high instead of drifting down.",
    "no_heel_crash": "Shift the weight smoothly to the lead leg without letting the heel crash down.",
    "short_even_steps": "Keep the steps short; long strides usually force the heel to drop. Keep your steps even from start to finish.",
    "pause_at_top": "A brief pause at the top of each step helps you keep tension and prevents the movement from becoming a bounce.",
    "no_bounce": "Keep the motion smooth and controlled: pause briefly at the top of each step instead of bouncing.",
    "even_left_right": "If you let one heel sink more than the other, the weight is too heavy or the steps are too long.",
    "heel_height_kept": "Keep the calves loaded the whole time; if the heels sink, use a lighter load or shorten the steps.",
    "big_toe_push": "Push through the big toe and second toe so the arch stays active and the ankle does not cave inward.",
    "heels_lowered_after_set": "Keep the calves loaded the whole time, then lower the heels only after the set is finished.",
    "torso_stacked": "Keep your chest stacked over your pelvis and your gaze forward.",
    "no_dumbbell_swing": "If the dumbbells start swinging, reduce the load before the torso starts helping the movement.",
    "knees_soft": "A slight knee bend is fine, but locking the knees hard can make the step choppy and uncomfortable.",
    "smooth_breathing": "Use a smooth breathing rhythm so you do not hold your breath while balancing on the forefoot.",
    "no_pain": "Stop if the forefoot or Achilles area feels sharp pain rather than normal muscular fatigue.",
}

TITLES = {
    "heels_high": "Heels stay high",
    "no_heel_crash": "No heel crash",
    "short_even_steps": "Short, even steps",
    "pause_at_top": "Pause at the top of each step",
    "no_bounce": "No bounce",
    "even_left_right": "Even left and right",
    "heel_height_kept": "Heel height kept to the end",
    "big_toe_push": "Push through the big toe",
    "heels_lowered_after_set": "Heels lowered only after the set",
    "torso_stacked": "Torso stacked over the pelvis",
    "no_dumbbell_swing": "Dumbbells do not swing",
    "knees_soft": "Knees soft, not locked",
    "smooth_breathing": "Smooth breathing",
    "no_pain": "No sharp pain",
}

NOT_MEASURABLE = ("torso_stacked", "no_dumbbell_swing", "knees_soft", "smooth_breathing", "no_pain")
SHOE_CANNOT = "a shoe sensor cannot see this"

# Accelerometer-only pods (sensor "acc", "acc+fsr": an LIS3DH, an ADXL345, an IMU with its gyro off).
# Every rule is judged from the detector's events, and the accelerometer-only detector emits the same
# events (steps with stance, pause, landing peaks and heel height; heel contacts with onset and
# impact; set start and end), so rule by rule:
#   heels_high, heel_height_kept, even_left_right: heel contacts and heel height come from the tilt of
#     gravity while the foot rests, which an accelerometer measures by itself: measured;
#   no_heel_crash: the impact is the accelerometer's own reading: measured;
#   pause_at_top, no_bounce: the rest test (|a| steady, no jerk), stance and landing peaks: measured;
#   heels_lowered_after_set: set_end: measured; big_toe_push: FSR pads, as before.
# What truly needs a gyroscope is the foot's travel through a turning swing: gravity can only be
# taken off the acceleration with the orientation the gyro tracks (a 10 degree error leaves 170 mg,
# centimetres within one swing). So the stride length and clearance of an accelerometer-only foot
# are not measured, whatever a step event carries: short_even_steps is judged on the stride timing
# and the heel-drop landings alone, and says so.
GYRO_ONLY = ("stride_cm", "clearance_cm")
ACC_ONLY_SENSORS = ("acc", "acc+fsr")
NO_GYRO = "stride length not measured on an accelerometer-only pod (it needs a gyroscope)"


def _rule(rule_id, status, value=None, evidence=(), detail="") -> Rule:
    return {
        "id": rule_id,
        "title": TITLES[rule_id],
        "status": status,
        "value": value,
        "evidence": sorted(set(int(n) for n in evidence)),
        "detail": detail,
        "cue": CUES[rule_id],
    }


def _grade(value, pass_limit, warn_limit):
    if value <= pass_limit:
        return "pass"
    return "warn" if value <= warn_limit else "fail"


def _pct_diff(a, b):
    mean = (a + b) / 2
    return 0.0 if mean == 0 else abs(a - b) / mean * 100.0


def summarise(events: list, feet: list, sensors: dict, duration_s: float, damage: dict | None = None) -> Summary:
    """The summary (JSON-ready) of a recording's events for the given feet.

    `sensors` maps foot -> a sensor kind ("imu", "acc", "fsr", "imu+fsr", "acc+fsr"); on an
    accelerometer-only foot what needs a gyroscope (GYRO_ONLY) is not measured. `duration_s` is
    the recording length.
    `damage` (a session whose lines were lost or damaged): {"unknown_steps": [{"foot", "t_ms",
    "step_no", "why"}] the pods counted but nobody received, "lost_set_ends": [{"foot", "t_ms"}],
    "lines_lost": {foot: n}}; see _damaged.
    The top-level figures and rules cover the whole recording; "sets" holds one
    summary per set (same keys, plus "set_no", "start_ms", "end_ms").
    """
    events = sorted(_without_gyro(events, sensors), key=lambda e: (e["t_ms"], e["foot"]))
    damage = _damage_of(damage)
    spans = set_spans(events)
    out = _summary(events, feet, sensors, duration_s, spans, damage)
    sets = []
    for k, span in enumerate(spans, 1):
        # copies: a set numbers its own steps, the whole recording keeps its numbering
        mine = [dict(e) for e in events if span["start_ms"] <= e["t_ms"] <= span["_last_ms"]]
        end = span["end_ms"] if span["end_ms"] is not None else max(e["t_ms"] for e in mine)
        one = _summary(mine, feet, sensors, (end - span["start_ms"]) / 1000.0, [span], _damage_in(damage, span))
        last = span["_last_ms"]
        one.update(set_no=k, start_ms=span["start_ms"], end_ms=span["end_ms"],
                   last_ms=None if last == float("inf") else last)
        sets.append(one)
    out["sets"] = sets
    return out


def set_no_at(summary: dict, t_ms: float):
    """The set (its set_no) a time belongs to, as the summary assigns its events: from a set's
    start to the last event that belongs to it (a set cut off by the recording's end takes every
    later one); None between sets."""
    for one in summary.get("sets") or []:
        last = one.get("last_ms")
        if one["start_ms"] <= t_ms and (last is None or t_ms <= last):
            return one["set_no"]
    return None


def _without_gyro(events, sensors):
    """Events with what needs a gyroscope (GYRO_ONLY) unknown on accelerometer-only feet: never guessed."""
    acc_feet = {f for f, kind in sensors.items() if kind in ACC_ONLY_SENSORS}
    if not acc_feet:
        return list(events)
    out = []
    for e in events:
        if e["foot"] in acc_feet and e["type"] == "step" and any(e.get(k) is not None for k in GYRO_ONLY):
            e = dict(e, **{k: None for k in GYRO_ONLY})
        out.append(e)
    return out


def set_spans(events: list) -> list:
    """The sets in a recording, in time order: [{"start_ms", "end_ms", "_last_ms"}].

    Each foot's set runs from its set_start to its set_end (the detector then waits
    for the next rise); steps seen without a set_start (the recording began mid-set)
    start one at the first of them. The feet's sets that overlap are one set, from
    the earliest start to the latest end. A set the recording cut off has end_ms None
    (and takes every later event); "_last_ms" is the last time that belongs to the set.
    """
    spans = []  # per foot: [start, last, end or None]
    for foot in sorted({e["foot"] for e in events}):
        open_span = None
        for e in events:
            if e["foot"] != foot:
                continue
            if e["type"] == "set_start":
                if open_span is not None:  # a new rise without an end: the pod restarted mid-set
                    spans.append(open_span)
                open_span = [e["t_ms"], e["t_ms"], None]
            elif open_span is None and e["type"] in ("step", "heel_contact"):
                open_span = [e["t_ms"], e["t_ms"], None]  # the recording began mid-set
            elif open_span is not None:
                open_span[1] = e["t_ms"]
                if e["type"] == "set_end":
                    open_span[2] = e["t_ms"]
                    spans.append(open_span)
                    open_span = None
        if open_span is not None:
            open_span[1] = float("inf")  # still going when the recording stopped
            spans.append(open_span)
    spans.sort(key=lambda s: s[0])
    merged: list[dict] = []
    for start, last, end in spans:
        if merged and start <= merged[-1]["_last_ms"]:
            m = merged[-1]
            m["_last_ms"] = max(m["_last_ms"], last)
            m["_cut"] = m["_cut"] or end is None
            m["end_ms"] = None if m["_cut"] else max(m["end_ms"], end)
        else:
            merged.append({"start_ms": start, "end_ms": end, "_last_ms": last, "_cut": end is None})
    for m in merged:
        del m["_cut"]
    return merged


def _set_of(t_ms, spans):
    for k, span in enumerate(spans):
        if span["start_ms"] <= t_ms <= span["_last_ms"]:
            return k
    return None


def _summary(events: list, feet: list, sensors: dict, duration_s: float, spans: list, damage=None) -> Summary:
    """One summary of time-ordered events (a whole recording or one set)."""
    damage = damage or _damage_of(None)
    steps = [e for e in events if e["type"] == "step"]
    steps.sort(key=lambda e: (e["t_ms"], e["foot"]))
    ghosts = [dict(g) for g in damage["unknown_steps"]]
    # person order counts the steps the pods counted but we never got, so the numbers stay right
    for n, st in enumerate(sorted(steps + ghosts, key=lambda e: (e["t_ms"], e["foot"])), 1):
        st["n"] = n
    contacts = [e for e in events if e["type"] == "heel_contact"]
    for c in contacts:
        c["step"] = _step_of(c, steps)
    by_foot = {f: [s for s in steps if s["foot"] == f] for f in feet}
    # same-foot intervals within a set: the rest between two sets is not a stride
    group = {id(s): _set_of(s["t_ms"], spans) for s in steps}
    strides = {f: [b["t_ms"] - a["t_ms"] for a, b in zip(s, s[1:]) if group[id(a)] == group[id(b)]
                   and not _unknown_between(a, b, ghosts)]
               for f, s in by_foot.items()}

    rel = []
    for f, iv in strides.items():
        if iv and statistics.fmean(iv) > 0:
            mean = statistics.fmean(iv)
            rel.extend(x / mean for x in iv)
    step_time_cv = statistics.pstdev(rel) if len(rel) >= 2 else None
    lengths = _stride_lengths(by_foot)
    all_iv = [x for iv in strides.values() for x in iv]
    cadence = 2 * 60000.0 / statistics.fmean(all_iv) if all_iv else None

    starts = [e["t_ms"] for e in events if e["type"] == "set_start"]
    ends = [e["t_ms"] for e in events if e["type"] == "set_end"]
    set_s = (max(ends) - min(starts)) / 1000.0 if starts and ends and max(ends) > min(starts) else None
    heights = [s["heel_mm"] for s in steps if s.get("heel_mm") is not None]
    opening, closing = _opening_closing(heights)
    figures = _lr_figures(feet, by_foot, strides, contacts, ghosts)
    asymmetry = _asymmetry(figures)
    main_asym = [asymmetry[k]["asymmetry_pct"] for k in ASYM_MAIN
                 if asymmetry and asymmetry[k]["asymmetry_pct"] is not None]

    rules = [
        _heels_high(steps, contacts),
        _no_crash(contacts),
        _even_steps(steps, by_foot, strides, contacts, step_time_cv, lengths, sensors),
        _pause(steps),
        _bounce(steps),
        _left_right(feet, by_foot, figures, damage["lines_lost"]),
        _fatigue(steps, ghosts),
        _big_toe(steps, sensors),
        _lowered_after(feet, events),
    ]
    rules = _without_steps(rules, steps)
    rules = _damaged(rules, steps, ghosts, damage, feet, events)
    rules.extend(_rule(r, "not_measured", detail=SHOE_CANNOT) for r in NOT_MEASURABLE)
    return {
        "feet": list(feet),
        "sensors": dict(sensors),
        "steps": len(steps),
        "steps_by_foot": {f: len(s) for f, s in by_foot.items()},
        "duration_s": round(duration_s, 2),
        "set_duration_s": None if set_s is None else round(set_s, 2),
        "cadence_spm": None if cadence is None else round(cadence, 1),
        "step_time_cv": None if step_time_cv is None else round(step_time_cv, 4),
        "stride_cm": lengths["figures"],
        "distance_m": lengths["distance_m"],
        "heel_contacts": len(contacts),
        "heel_contacts_per100": round(len(contacts) * 100.0 / len(steps), 2) if steps else None,
        "heel_height_mm": {
            "mean": round(statistics.fmean(heights), 1) if heights else None,
            "min": min(heights) if heights else None,
            "max": max(heights) if heights else None,
            # the heel-height rule's two ends: the mean of the first and of the last fifth of the steps
            "opening": None if opening is None else round(opening, 1),
            "closing": None if closing is None else round(closing, 1),
        },
        "events": events,
        "rules": rules,
        "one_foot_note": _one_foot_note(feet),
        "asymmetry": asymmetry,
        # the largest left/right difference of steps, step time and heel height (what the
        # even_left_right rule grades); None with one foot
        "asymmetry_pct": max(main_asym) if main_asym else None,
        # steps the pods counted that were lost or damaged on the way (0 for raw recordings)
        "steps_unknown": len(ghosts),
        "steps_unknown_by_foot": {f: sum(1 for g in ghosts if g["foot"] == f) for f in feet},
        "damage": {"unknown_steps": ghosts, "lost_set_ends": list(damage["lost_set_ends"]),
                   "lines_lost": dict(damage["lines_lost"])},
    }


# the left/right figures asymmetry_pct takes the largest of
ASYM_MAIN = ("steps", "step_time_ms", "heel_height_mm")

# rules judged step by step: with no step seen there is nothing to judge
PER_STEP = ("heels_high", "no_heel_crash", "short_even_steps", "pause_at_top", "no_bounce", "even_left_right",
            "heel_height_kept", "big_toe_push")


def _without_steps(rules, steps):
    """No step, no verdict: every per-step rule is not_measured (no PASS for a crash nobody could make)."""
    if steps:
        return rules
    return [r if r["id"] not in PER_STEP or r["status"] == "not_measured"
            else _rule(r["id"], "not_measured", detail="no steps detected") for r in rules]


def _one_foot_note(feet):
    if len(feet) != 1:
        return None
    other = "right" if feet[0] == "left" else "left"
    return (
        f"One pod, on the {feet[0]} foot: steps, heel contacts and heel height are for the {feet[0]} foot only "
        f"(the person took about twice as many steps). The {other} foot was not seen: its heel contacts and "
        f"heel height are unknown, and left/right evenness (steps, step time, heel height) cannot be judged."
    )


def _lr_figures(feet, by_foot, strides, contacts, ghosts=()):
    """Left and right figures (unrounded) for the asymmetry and the even_left_right rule; None with one foot.

    Steps count what the pod counted, the lost ones too (`ghosts`): a lost line is no uneven step."""
    if len(feet) < 2:
        return None
    figs = {"steps": {}, "step_time_ms": {}, "heel_height_mm": {}, "heel_contacts": {}, "heel_contacts_per100": {}}
    for f in ("left", "right"):
        steps = by_foot[f]
        heights = [s["heel_mm"] for s in steps if s.get("heel_mm") is not None]
        n_contacts = sum(1 for c in contacts if c["foot"] == f)
        figs["steps"][f] = len(steps) + sum(1 for g in ghosts if g["foot"] == f)
        figs["step_time_ms"][f] = statistics.fmean(strides[f]) if strides[f] else None
        figs["heel_height_mm"][f] = statistics.fmean(heights) if heights else None
        figs["heel_contacts"][f] = n_contacts
        figs["heel_contacts_per100"][f] = n_contacts * 100.0 / len(steps) if steps else None
    return figs


def _asymmetry(figs):
    """Per figure: left, right and asymmetry_pct = 100 * |L - R| / mean(L, R) (None where a side is unknown)."""
    if figs is None:
        return None
    out = {}
    for name, lr in figs.items():
        left, right = lr["left"], lr["right"]
        both = left is not None and right is not None
        out[name] = {
            "left": left if isinstance(left, int) or left is None else round(left, 1),
            "right": right if isinstance(right, int) or right is None else round(right, 1),
            "asymmetry_pct": round(_pct_diff(left, right), 1) if both else None,
        }
    return out


# well under the shortest same-foot step interval (2.5 steps/s a person: 800 ms)
LAND_SLACK_MS = 200


def _step_of(contact, steps):
    """The set step (person order) in whose stance a heel contact began.

    A heel that strikes as the foot lands is felt before the pod marks the landing (the
    foot must be still first), so a contact up to LAND_SLACK_MS early belongs to that step.
    """
    best = None
    for s in steps:
        if s["foot"] != contact["foot"]:
            continue
        if s["t_ms"] <= contact["t_ms"] + LAND_SLACK_MS:
            best = s
        else:
            break
    if best is None:
        mine = [s for s in steps if s["foot"] == contact["foot"]]
        best = mine[0] if mine else None
    return best["n"] if best else 0


def _heels_high(steps, contacts):
    if not steps:
        return _rule("heels_high", "not_measured", detail="no steps detected")
    per100 = len(contacts) * 100.0 / len(steps)
    status = "pass" if not contacts else ("warn" if per100 <= LIMITS["contacts_warn_per100"] else "fail")
    return _rule("heels_high", status, len(contacts), [c["step"] for c in contacts],
                 f"{len(contacts)} heel contact(s) in {len(steps)} steps ({per100:.1f} per 100)")


def _no_crash(contacts):
    if contacts and all(c.get("impact_mg") is None for c in contacts):
        load = max(c.get("load_pct") or 0 for c in contacts)
        return _rule("no_heel_crash", "not_measured", None, [c["step"] for c in contacts],
                     f"{len(contacts)} heel contact(s), heel load up to {load}% of standing load; "
                     "how hard the heel landed needs an accelerometer")
    crashes = [c for c in contacts if c["impact_mg"] >= LIMITS["crash_impact_mg"]]
    worst = max((c["impact_mg"] for c in contacts), default=0)
    return _rule("no_heel_crash", "fail" if crashes else "pass", len(crashes), [c["step"] for c in crashes],
                 f"{len(crashes)} hard heel landing(s); largest impact {worst} mg")


def _stride_lengths(by_foot) -> dict:
    """Stride lengths the pods measured: per-foot lists, their figures and the distance walked.

    Both feet travel the whole distance: it is the mean of the feet's summed strides (one
    foot's sum with one pod). Lengths are relative to each foot's mean for the evenness (CV).
    """
    per_foot = {f: [s["stride_cm"] for s in steps if s.get("stride_cm") is not None] for f, steps in by_foot.items()}
    every = [x for v in per_foot.values() for x in v]
    rel = []
    for v in per_foot.values():
        if len(v) >= 2:
            mean = statistics.fmean(v)
            rel.extend(x / mean for x in v if mean > 0)
    sums = [sum(v) for v in per_foot.values() if v]
    return {
        "per_foot": per_foot,
        "cv": statistics.pstdev(rel) if len(rel) >= 2 else None,
        "distance_m": round(statistics.fmean(sums) / 100.0, 2) if sums else None,
        "figures": {
            "mean": round(statistics.fmean(every), 1),
            "min": min(every),
            "max": max(every),
            "cv": round(statistics.pstdev(rel), 4) if len(rel) >= 2 else None,
        } if every else None,
    }


def _worst(*statuses):
    order = ("pass", "warn", "fail")
    return max(statuses, key=order.index)


def _even_steps(steps, by_foot, strides, contacts, cv, lengths, sensors=None):
    """Short, even steps: stride length measured by the pods (where they can: not an accelerometer
    alone), stride timing, and landings whose heel dropped (a long stride's sign)."""
    lcv = lengths["cv"]
    no_gyro = sorted(f for f in by_foot if (sensors or {}).get(f) in ACC_ONLY_SENSORS)
    if cv is None and lcv is None:
        detail = "too few steps per foot to time strides"
        if no_gyro:
            detail += "; " + NO_GYRO
        return _rule("short_even_steps", "not_measured", detail=detail)
    statuses = []
    parts = []
    if no_gyro:
        parts.append(NO_GYRO + (f" ({', '.join(no_gyro)})" if len(by_foot) > 1 else ""))
    evidence = []
    if lcv is not None:
        fig = lengths["figures"]
        statuses.append(_grade(lcv, LIMITS["stride_len_cv_pass"], LIMITS["stride_len_cv_warn"]))
        long_ = [s for s in steps if s.get("stride_cm") is not None and s["stride_cm"] > LIMITS["stride_long_cm"]]
        too_long = [s for s in long_ if s["stride_cm"] > LIMITS["stride_too_long_cm"]]
        if long_:
            share = len(long_) / max(1, len(steps))
            statuses.append("fail" if too_long or share > LIMITS["bounce_warn_share"] else "warn")
            evidence += [s["n"] for s in long_]
        parts.append(f"stride length {fig['mean']:.0f} cm on average ({fig['min']:.0f}-{fig['max']:.0f} cm, CV "
                     f"{lcv * 100:.1f}%), {len(long_)} longer than {LIMITS['stride_long_cm']:.0f} cm")
        for f, v in lengths["per_foot"].items():
            if len(v) >= 2:
                med = statistics.median(v)
                evidence += [s["n"] for s in by_foot[f] if s.get("stride_cm") is not None
                             and abs(s["stride_cm"] - med) > med * LIMITS["stride_dev_pct"] / 100]
    if cv is not None:
        statuses.append(_grade(cv, LIMITS["stride_cv_pass"], LIMITS["stride_cv_warn"]))
        parts.append(f"stride time CV {cv * 100:.1f}%")
    status = _worst(*statuses)
    uneven = evidence
    for f, iv in strides.items():
        if not iv:
            continue
        med = statistics.median(iv)
        for st, x in zip(by_foot[f][1:], iv):
            if abs(x - med) > med * LIMITS["stride_dev_pct"] / 100:
                uneven.append(st["n"])
    long_steps = []
    for c in contacts:
        for st in by_foot.get(c["foot"], []):
            if 0 <= c["t_ms"] - st["t_ms"] <= LIMITS["long_stride_ms"]:
                long_steps.append(st["n"])
    if long_steps:
        share = len(long_steps) / max(1, len(steps))
        status = "fail" if share > LIMITS["bounce_pass_share"] else ("warn" if status == "pass" else status)
    parts.append(f"{len(long_steps)} landing(s) with the heel dropping (stride too long)")
    value = round(lcv if lcv is not None else cv, 4)
    return _rule("short_even_steps", status, value, uneven + long_steps, "; ".join(parts))


def _pause(steps):
    if not steps:
        return _rule("pause_at_top", "not_measured", detail="no steps detected")
    short = [s for s in steps if s["pause_ms"] < LIMITS["pause_min_ms"]]
    share = 1 - len(short) / len(steps)
    status = "pass" if share >= LIMITS["pause_pass_share"] else ("warn" if share >= LIMITS["pause_warn_share"] else "fail")
    med = statistics.median(s["pause_ms"] for s in steps)
    return _rule("pause_at_top", status, med, [s["n"] for s in short],
                 f"median pause {med:.0f} ms; {len(short)} step(s) paused less than {LIMITS['pause_min_ms']} ms")


def _bounce(steps):
    if not steps:
        return _rule("no_bounce", "not_measured", detail="no steps detected")
    # a double landing peak alone can be impact ringing; with no pause after it, it is a bounce
    bounced = [s for s in steps if (s["peaks"] >= 2 and s["pause_ms"] < LIMITS["pause_min_ms"]) or (
        s["pause_ms"] < LIMITS["bounce_pause_ms"] and s["stance_ms"] < LIMITS["bounce_stance_ms"])]
    share = len(bounced) / len(steps)
    status = _grade(share, LIMITS["bounce_pass_share"], LIMITS["bounce_warn_share"])
    return _rule("no_bounce", status, len(bounced), [s["n"] for s in bounced],
                 f"{len(bounced)} bouncy landing(s) (double impact peak or no pause)")


def _left_right(feet, by_foot, figs, lost=None):
    """Even left and right; `lost`: per foot, lines lost that the pod's counts do not account for
    (each may have been a step: the counts are judged as close as those allow)."""
    if figs is None:
        return _rule("even_left_right", "not_measured", detail="one pod: the other foot was not seen")
    left, right = by_foot["left"], by_foot["right"]
    if not left or not right:
        return _rule("even_left_right", "not_measured", detail="no steps on one foot")
    parts = []
    worst = 0.0
    n_left, n_right = figs["steps"]["left"], figs["steps"]["right"]  # as the pods counted them
    lost = lost or {}
    if n_left < n_right:
        diff = max(0, n_right - n_left - lost.get("left", 0))
    else:
        diff = max(0, n_left - n_right - lost.get("right", 0))
    status = "pass" if diff <= LIMITS["lr_steps_diff"] else "fail"
    parts.append(f"steps L{n_left}/R{n_right}")
    st = figs["step_time_ms"]
    if st["left"] is not None and st["right"] is not None:
        d = _pct_diff(st["left"], st["right"])
        worst = max(worst, d)
        parts.append(f"stride time {d:.1f}% apart")
    hh = figs["heel_height_mm"]
    evidence = []
    if hh["left"] is not None and hh["right"] is not None:
        ml, mr = hh["left"], hh["right"]
        d = _pct_diff(ml, mr)
        worst = max(worst, d)
        parts.append(f"heel height L{ml:.0f}/R{mr:.0f} mm ({d:.1f}% apart)")
        low = left if ml < mr else right
        ref = max(ml, mr)
        evidence = [s["n"] for s in low if s.get("heel_mm") is not None and s["heel_mm"] < ref * 0.85]
    cl, cr = figs["heel_contacts"]["left"], figs["heel_contacts"]["right"]
    parts.append(f"heel contacts L{cl}/R{cr}")
    if status == "pass":
        status = _grade(worst, LIMITS["lr_pass_pct"], LIMITS["lr_warn_pct"])
        if abs(cl - cr) >= 2 and status == "pass":
            status = "warn"
    return _rule("even_left_right", status, round(worst, 1), evidence, "; ".join(parts))


def _opening_closing(heights):
    """Mean heel height of the opening and of the closing fifth of the steps (None, None: too few)."""
    if len(heights) < LIMITS["fatigue_min_steps"]:
        return None, None
    k = max(1, len(heights) // 5)
    return statistics.fmean(heights[:k]), statistics.fmean(heights[-k:])


def _fatigue(steps, ghosts=()):
    """Heel height kept: the closing fifth of the steps against the opening fifth. A step the pod
    counted but nobody received (`ghosts`) counts as a good one: in the opening steps as low as a
    heel goes, at the end as high as any step seen (a lost step must not make a drop)."""
    with_h = [s for s in steps if s.get("heel_mm") is not None]
    if len(with_h) < LIMITS["fatigue_min_steps"]:
        has_imu = any(s.get("heel_mm") is not None for s in steps) or not steps
        why = "too few steps" if with_h or (has_imu and not steps) else "no heel height without an accelerometer"
        return _rule("heel_height_kept", "not_measured", detail=why)
    measured = {s["foot"] for s in with_h}
    lost = [g for g in ghosts if g["foot"] in measured]
    if lost:
        seq = sorted(with_h + lost, key=lambda e: (e["t_ms"], e["foot"]))
        k = max(1, len(seq) // 5)
        high = max(s["heel_mm"] for s in with_h)
        first = statistics.fmean(s["heel_mm"] if "heel_mm" in s else 0 for s in seq[:k])
        last = statistics.fmean(s["heel_mm"] if "heel_mm" in s else high for s in seq[-k:])
    else:
        first, last = _opening_closing([s["heel_mm"] for s in with_h])
    drop = 0.0 if first <= 0 else max(0.0, (first - last) / first * 100)
    status = _grade(drop, LIMITS["fatigue_pass_pct"], LIMITS["fatigue_warn_pct"])
    sagged = [s["n"] for s in with_h if s["heel_mm"] < first * (1 - LIMITS["fatigue_pass_pct"] / 100)]
    return _rule("heel_height_kept", status, round(drop, 1), sagged,
                 f"heel height {first:.0f} mm in the opening steps, {last:.0f} mm at the end ({drop:.0f}% lower)")


def _big_toe(steps, sensors):
    shares = [s["med_pct"] for s in steps if s.get("med_pct") is not None]
    if not any("fsr" in v for v in sensors.values()) or not shares:
        return _rule("big_toe_push", "not_measured", detail="needs FSR pads under the forefoot")
    med = statistics.median(shares)
    status = "pass" if med >= LIMITS["med_pass_pct"] else ("warn" if med >= LIMITS["med_warn_pct"] else "fail")
    low = [s["n"] for s in steps if s.get("med_pct") is not None and s["med_pct"] < LIMITS["med_warn_pct"]]
    return _rule("big_toe_push", status, med, low, f"median {med:.0f}% of the forefoot load on the big-toe side")


def _lowered_after(feet, events):
    ended = {e["foot"] for e in events if e["type"] == "set_end"}
    started = {e["foot"] for e in events if e["type"] == "set_start"}
    if not started:
        return _rule("heels_lowered_after_set", "not_measured", detail="the rise onto the toes was not seen")
    missing = [f for f in feet if f not in ended]
    if missing:
        return _rule("heels_lowered_after_set", "warn", 0, (),
                     f"no deliberate heel lowering seen at the end ({', '.join(missing)}): the recording may have stopped early")
    return _rule("heels_lowered_after_set", "pass", 1, (), "heels lowered after the last step")


# ------------------------------------------------------------------ lost and damaged lines


def _damage_of(damage):
    """A complete damage dict (see summarise), empty for a recording with nothing lost."""
    damage = damage or {}
    return {"unknown_steps": sorted((dict(g) for g in damage.get("unknown_steps", ())), key=lambda g: g["t_ms"]),
            "lost_set_ends": list(damage.get("lost_set_ends", ())),
            "lines_lost": dict(damage.get("lines_lost", {}))}


def _damage_in(damage, span):
    """The part of the damage inside one set."""
    inside = [g for g in damage["unknown_steps"] if span["start_ms"] <= g["t_ms"] <= span["_last_ms"]]
    ends = [e for e in damage["lost_set_ends"] if span["start_ms"] <= e["t_ms"] <= span["_last_ms"]]
    return {"unknown_steps": inside, "lost_set_ends": ends, "lines_lost": damage["lines_lost"]}


def _unknown_between(a, b, ghosts):
    """True if a - b is no stride the pod saw: it counted a step of this foot between them that never
    arrived, or b is not the step it counted next (a reboot or a lost set end came between)."""
    na, nb = a.get("step_no"), b.get("step_no")
    if isinstance(na, int) and isinstance(nb, int) and na > 0 and nb > 0 and nb != na + 1:  # pods count from 1
        return True
    return any(g["foot"] == a["foot"] and a["t_ms"] < g["t_ms"] < b["t_ms"] for g in ghosts)


def _damaged(rules, steps, ghosts, damage, feet, events):
    """No rule fails or warns on what lost or damaged lines made: their steps are unknown.

    Steps the pods counted but nobody received make no stride (see _unknown_between) and no
    left/right difference (see _lr_figures); a rule says how many steps it could not see,
    and with more than unknown_steps_max_share of a foot's steps unknown it is not judged.
    A set whose set_end line was lost is not judged on how it ended.
    """
    lost_lines = sum(damage["lines_lost"].get(f, 0) for f in feet)
    if not ghosts and not damage["lost_set_ends"] and not lost_lines:
        return rules
    worst = 0.0
    for f in feet:
        unknown = sum(1 for g in ghosts if g["foot"] == f)
        known = sum(1 for s in steps if s["foot"] == f)
        if unknown:
            worst = max(worst, unknown / (known + unknown))
    n_unknown = len(ghosts)
    out = []
    for r in rules:
        rid = r["id"]
        if rid == "heels_lowered_after_set" and r["status"] in ("warn", "fail"):
            lost_end = {e["foot"] for e in damage["lost_set_ends"]}
            ended = {e["foot"] for e in events if e["type"] == "set_end"}
            # (a foot whose set end did not come, and some of whose lines were lost: it may be one)
            if any(f not in ended and (f in lost_end or damage["lines_lost"].get(f, 0)) for f in feet):
                r = _rule(rid, "not_measured", detail="the set's end was lost with damaged or missing lines")
        elif rid in PER_STEP and r["status"] != "not_measured":
            if n_unknown or lost_lines:
                # (a lost line the pods' counts do not account for may have been a step too)
                r = _regraded(r, len(steps) + max(n_unknown, lost_lines))
            if worst > LIMITS["unknown_steps_max_share"] and r["status"] == "pass":
                # too much unseen to vouch for the set (a warn or fail stands: the steps seen showed it)
                r = _rule(rid, "not_measured", detail=(
                    f"{n_unknown} of {len(steps) + n_unknown} steps unknown (lines lost or damaged): "
                    "too few seen to judge"))
            elif n_unknown:
                r = dict(r, detail=f"{r['detail']}; {n_unknown} step(s) unknown (lines lost or damaged), "
                                   "judged on the steps seen")
            elif rid in ("heels_high", "no_heel_crash") and lost_lines:
                r = dict(r, detail=f"{r['detail']}; {lost_lines} line(s) lost: a heel contact may be missing")
        out.append(r)
    return out


def _regraded(r, total):
    """A share-based verdict with the unknown steps counted as good ones (`total`: seen + unknown):
    a step that went missing must not push a share over its limit."""
    rid, status = r["id"], r["status"]
    if status not in ("warn", "fail"):
        return r
    if rid == "heels_high":
        per100 = r["value"] * 100.0 / total
        status = "pass" if not r["value"] else ("warn" if per100 <= LIMITS["contacts_warn_per100"] else "fail")
    elif rid == "pause_at_top":
        share = 1 - len(r["evidence"]) / total
        status = "pass" if share >= LIMITS["pause_pass_share"] else ("warn" if share >= LIMITS["pause_warn_share"] else "fail")
    elif rid == "no_bounce":
        status = _grade(r["value"] / total, LIMITS["bounce_pass_share"], LIMITS["bounce_warn_share"])
    return r if status == r["status"] else dict(r, status=status)
