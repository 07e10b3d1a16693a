"""Run the firmware detector over raw recordings and return host-side event dicts."""

from __future__ import annotations

from calfwalk import firmware
from calfwalk.model import event_dict


def make_detector(sensor: str, rate_hz: int, params: dict | None = None):
    """A firmware Detector for a sensor kind and rate, with optional parameter overrides."""
    det = firmware.load("detector")
    p = det.Params(rate_hz=rate_hz)
    for name, value in (params or {}).items():
        p.set(name, value)
    return det.for_sensor(p, sensor)


# samples handed to the detector per block: Python ints for a block at a time, not for the recording
_BLOCK_ROWS = 1 << 14


def replay(rec, params: dict | None = None, on_sample=None, progress=None) -> tuple:
    """Run one RawRecording through the firmware detector, exactly as the pod would.

    Returns (events, t_ms array). `on_sample(i, det)`, if given, sees the detector after each
    sample i (for traces and per-sample states); `progress(n)` hears of every block of n samples.
    """
    det_mod = firmware.load("detector")
    det = make_detector(rec.sensor, rec.rate_hz, params)
    cols = rec.columns
    data = rec.data
    t_col = data[:, 0]
    t0 = int(t_col[0])
    slot = firmware.load("ring").SLOT[1:]  # the pod's ring slot after t_ms: the detector's arguments
    names = det_mod.EVENT_NAMES
    width = det_mod.EV_WIDTH
    events = []
    ev = det.ev
    update = det.update

    def take(count):
        for k in range(count):
            i = k * width
            events.append(event_dict(names[ev[i]], rec.foot, ev[i + 1] + t0, ev[i + 2:i + width]))

    for start in range(0, len(data), _BLOCK_ROWS):
        block = data[start:start + _BLOCK_ROWS]
        zeros = [0] * len(block)
        # the detector works on time since the start, as the pod does
        t = (block[:, 0] - t0).tolist()
        series = [block[:, cols.index(c)].tolist() if c in cols else zeros for c in slot]
        if on_sample is None:
            for row in zip(t, *series):
                count = update(*row)
                if count:
                    take(count)
        else:
            for i, row in enumerate(zip(t, *series), start):
                count = update(*row)
                if count:
                    take(count)
                on_sample(i, det)
        if progress is not None:
            progress(len(block))
    take(det.flush(int(t_col[-1]) - t0))
    return events, t_col


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


def detect_trace(rec, params: dict | None = None, progress=None) -> tuple:
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

    events, t = replay(rec, params, trace, progress)
    if rec.has_acc:
        return events, np.asarray(t, dtype=np.int64), heel_mm, "heel_mm"
    return events, np.asarray(t, dtype=np.int64), np.asarray(rec.column("heel"), dtype=float), "heel_pad"
