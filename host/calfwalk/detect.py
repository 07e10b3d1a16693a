"""Run the firmware detector over raw recordings and return host-side event dicts."""

from __future__ import annotations

from . import firmware


def event_fields() -> dict:
    """Field names after t_ms per event name, as the firmware defines them."""
    det = firmware.load("detector")
    return {det.EVENT_NAMES[k]: v for k, v in det.EVENT_FIELDS.items()}

# fields that may carry the detector's UNKNOWN (-1): None in host dicts (and missing from an
# older pod's lines)
OPTIONAL_FIELDS = {"heel_mm", "med_pct", "impact_mg", "load_pct", "stride_mm", "clearance_mm"}
# lengths the pod sends in mm that the host shows in cm (one decimal)
IN_CM = {"stride_mm": "stride_cm", "clearance_mm": "clearance_cm"}


def event_dict(kind: str, foot: str, t_ms: int, values) -> dict:
    """Build the host event dict for one detector event (values after t_ms, in order; None: not sent)."""
    ev = {"type": kind, "foot": foot, "t_ms": int(t_ms)}
    for name, value in zip(event_fields()[kind], values):
        value = None if value is None else int(value)
        if value is not None and name in OPTIONAL_FIELDS and value < 0:
            value = None
        if name in IN_CM:
            ev[IN_CM[name]] = None if value is None else round(value / 10.0, 1)
        else:
            ev[name] = value
    return ev


def wire_values(ev: dict) -> list:
    """The integers a pod sends after t_ms for a host event dict (the inverse of event_dict)."""
    out = []
    for name in event_fields()[ev["type"]]:
        if name in IN_CM:
            cm = ev.get(IN_CM[name])
            out.append(-1 if cm is None else int(round(cm * 10)))
        else:
            value = ev.get(name)
            out.append(-1 if value is None else int(value))
    return out


def make_detector(sensor: str, rate_hz: int, params: dict | None = None):
    """A firmware Detector for a sensor kind and rate, with optional parameter overrides."""
    det = firmware.load("detector")
    p = det.Params(rate_hz=rate_hz)
    for name, value in (params or {}).items():
        p.set(name, value)
    return det.for_sensor(p, sensor)


def replay(rec, params: dict | None = None, on_sample=None) -> tuple:
    """Run one RawRecording through the firmware detector, exactly as the pod would.

    Returns (events, t_ms list). `on_sample(i, det)`, if given, sees the detector
    after each sample i (for traces and per-sample states).
    """
    det_mod = firmware.load("detector")
    det = make_detector(rec.sensor, rec.rate_hz, params)
    cols = rec.columns
    data = rec.data
    zeros = [0] * len(data)

    def col(name):
        return data[:, cols.index(name)].tolist() if name in cols else zeros

    t = col("t_ms")
    t0 = t[0]
    series = [col(c) for c in ("ax_mg", "ay_mg", "az_mg", "gx_mdps", "gy_mdps", "gz_mdps", "heel", "fore_med", "fore_lat")]
    names = det_mod.EVENT_NAMES
    width = det_mod.EV_WIDTH
    events = []
    ev = det.ev
    update = det.update

    def take(count):
        for k in range(count):
            i = k * width
            events.append(event_dict(names[ev[i]], rec.foot, ev[i + 1] + t0, ev[i + 2:i + width]))

    for i, row in enumerate(zip(t, *series)):
        # the detector works on time since the start, as the pod does
        count = update(row[0] - t0, *row[1:])
        if count:
            take(count)
        if on_sample is not None:
            on_sample(i, det)
    take(det.flush(t[-1] - t0))
    return events, t


def detect(rec, params: dict | None = None) -> list:
    """Events for one RawRecording, exactly as the pod would emit them."""
    return replay(rec, params)[0]


def detect_files(recordings, params: dict | None = None) -> list:
    """Events of one or two feet, merged in time order."""
    events = []
    for rec in recordings:
        events.extend(detect(rec, params))
    events.sort(key=lambda e: (e["t_ms"], e["foot"]))
    return events


def detect_trace(rec, params: dict | None = None) -> tuple:
    """Events for one RawRecording (as `detect`) plus a per-sample trace for plots.

    Returns (events, t_ms, level, kind): t_ms is the recording's own sample time,
    kind "heel_mm" (the detector's heel height during the set, NaN outside it) for
    recordings with an accelerometer (an IMU, or one alone), or "heel_pad" (heel pad
    counts) for FSR-only ones.
    """
    import numpy as np

    in_set = firmware.load("detector").ST_SET
    heel_mm = np.full(len(rec.data), np.nan)

    def trace(i, det):
        # the state, not heel_mm_now()'s UNKNOWN (-1), says "not in the set": -1 mm is a real height
        if det.state == in_set:
            heel_mm[i] = det.heel_mm_now()

    events, t = replay(rec, params, trace)
    if rec.has_acc:
        return events, np.asarray(t, dtype=np.int64), heel_mm, "heel_mm"
    return events, np.asarray(t, dtype=np.int64), np.asarray(rec.column("heel"), dtype=float), "heel_pad"
