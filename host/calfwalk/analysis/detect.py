"""Run the firmware detector over raw recordings and return host-side event dicts."""

from __future__ import annotations

import numpy as np

from calfwalk import firmware
from calfwalk.model import event_dict


def make_detector(sensor: str, rate_hz: int, params: dict | None = None):
    """A firmware Detector for a sensor kind and rate, with optional parameter overrides."""
    det = firmware.load("detector")
    p = det.Params(rate_hz=rate_hz)
    for name, value in (params or {}).items():
        p.set(name, value)
    return det.for_sensor(p, sensor)


def replay(rec, params: dict | None = None, on_sample=None, progress=None, on_block=None) -> tuple:
    """Run one recording through the firmware detector, exactly as the pod would.

    `rec` is a RawRecording (in memory) or a RawStream (rawfile.open_raw: read a block at a time,
    never whole); the detector sees the same samples in the same order either way. Returns
    (events, t_ms array), the array only for a RawRecording (None for a stream). `on_sample(i, det)`,
    if given, sees the detector after each sample i (for traces and per-sample states);
    `on_block(rows)` each block of samples after the detector has seen them; `progress(n)` hears
    of every block's work (rec.work in all: samples, or a stream's bytes).
    """
    det_mod = firmware.load("detector")
    det = make_detector(rec.sensor, rec.rate_hz, params)
    cols = rec.columns
    slot = firmware.load("ring").SLOT[1:]  # the pod's ring slot after t_ms: the detector's arguments
    names = det_mod.EVENT_NAMES
    width = det_mod.EV_WIDTH
    events = []
    ev = det.ev
    update = det.update
    t0 = last = None
    start = 0

    def take(count):
        for k in range(count):
            i = k * width
            events.append(event_dict(names[ev[i]], rec.foot, ev[i + 1] + t0, ev[i + 2:i + width]))

    # a block at a time: Python ints for one block, not for the recording
    for block, work in rec.blocks():
        if len(block):
            if t0 is None:
                t0 = int(block[0, 0])
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
            start += len(block)
            last = int(block[-1, 0])
            if on_block is not None:
                on_block(block)
        if progress is not None and work:
            progress(work)
    take(det.flush(last - t0))
    return events, (rec.data[:, 0] if hasattr(rec, "data") else None)


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


# a trace keeps at most this many points per foot (a 1 h recording at 100 Hz, 360k, keeps every
# sample); beyond, every other point is dropped, and again, as often as needed: bounded, whatever the length
TRACE_POINTS_MAX = 1 << 19


class Thinned:
    """(t, value) points kept at every `stride`-th sample, the stride doubling whenever more than
    `cap` points would be held."""

    def __init__(self, cap: int = TRACE_POINTS_MAX):
        self.cap, self.stride, self.seen, self.n = cap, 1, 0, 0
        self.parts: list = []

    def add(self, t, value):
        first = -self.seen % self.stride  # the first sample of these at a multiple of the stride
        self.seen += len(t)
        # (copies: a block is not kept alive by the points taken from it)
        t = np.array(t[first::self.stride], dtype=np.int64)
        value = np.array(value[first::self.stride], dtype=float)
        self.parts.append((t, value))
        self.n += len(t)
        while self.n > self.cap:
            t, value = self.arrays()
            self.parts = [(t[::2].copy(), value[::2].copy())]
            self.stride *= 2
            self.n = len(self.parts[0][0])

    def arrays(self):
        if len(self.parts) != 1:
            self.parts = [(np.concatenate([p[0] for p in self.parts]) if self.parts else np.empty(0, dtype=np.int64),
                           np.concatenate([p[1] for p in self.parts]) if self.parts else np.empty(0))]
        return self.parts[0]


def detect_trace(rec, params: dict | None = None, progress=None, cap: int = TRACE_POINTS_MAX) -> tuple:
    """Events for one recording (as `detect`) plus a per-sample trace for plots.

    Returns (events, t_ms, level, kind): t_ms is the recording's own sample time,
    kind "heel_mm" (the detector's heel height during the set, NaN outside it) for
    recordings with an accelerometer (an IMU, or one alone), or "heel_pad" (heel pad
    counts) for FSR-only ones. A recording of more than `cap` samples gives every 2nd,
    4th, ... sample's point (at most `cap` of them).
    """
    in_set = firmware.load("detector").ST_SET
    nan = float("nan")
    trace = Thinned(cap)
    level: list = []
    heel = rec.columns.index("heel") if "heel" in rec.columns else None

    def sample(_i, det):
        # the state, not heel_mm_now()'s UNKNOWN (-1), says "not in the set": -1 mm is a real height
        level.append(det.heel_mm_now() if det.state == in_set else nan)

    def block(rows):
        if rec.has_acc:
            trace.add(rows[:, 0], np.array(level, dtype=float))
            level.clear()
        else:
            trace.add(rows[:, 0], rows[:, heel])

    events, _t = replay(rec, params, sample if rec.has_acc else None, progress, block)
    t_ms, values = trace.arrays()
    return events, t_ms, values, "heel_mm" if rec.has_acc else "heel_pad"
