"""The one analysis pipeline: raw recordings or a recorded session become a summary.

    raw files --detect (the firmware detector, replayed)--> events --summary--> summary dict
    session   --align (the pods' clocks on one timeline)---> events --summary--> summary dict

`calfwalk analyze`, `summary`, `report`, the demo, the history and the pod-log pull
all come through here, so that every one of them shows the same figures. With
`trace`, the heel height (or heel pad) per sample comes along for the report's plots.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
from dataclasses import dataclass

import numpy as np

from calfwalk.analysis.align import align_session, clock_map
from calfwalk.analysis.detect import detect_trace, make_detector, replay
from calfwalk.analysis.summary import summarise
from calfwalk.files.rawfile import RawFormatError, open_raw
from calfwalk.files.session import Session, SessionError, write_raw_files

FEET = ("left", "right")


@dataclass
class Trace:
    """One foot's per-sample line: kind "heel_mm" (heel height, NaN outside the set) or "heel_pad"
    (pad counts, FSR-only pods); t_ms on the summary's clock."""

    foot: str
    kind: str
    t_ms: np.ndarray
    level: np.ndarray


def analyze_recordings(recs, params: dict | None = None, trace: bool = False, progress=None):
    """The summary of one or two feet's raw recordings, from the firmware detector.

    `recs` are RawRecordings (in memory) or RawStreams (rawfile.open_raw): a stream is read a block
    at a time and dropped as the detector goes, so that memory does not grow with the recording's
    length (only the events, and with `trace` a trace of at most detect.TRACE_POINTS_MAX points a
    foot, are kept); its format errors (RawFormatError, naming the line) are raised on the way.
    With `trace`, (summary, {foot: Trace}). `progress(n)` hears of every block's work (`work(recs)`
    in all). ValueError for a bad detector parameter.
    """
    feet = sorted((r.foot for r in recs), key=FEET.index)
    sensors = {r.foot: r.sensor for r in recs}
    if not trace:
        events = detect_feet(recs, params, progress)
        return summarise(events, feet, sensors, max(r.duration_s for r in recs))
    events, traces = [], {}
    for rec in recs:
        evs, t_ms, level, kind = detect_trace(rec, params, progress)
        events.extend(evs)
        traces[rec.foot] = Trace(rec.foot, kind, t_ms, level)
    events.sort(key=lambda e: (e["t_ms"], e["foot"]))
    return summarise(events, feet, sensors, max(r.duration_s for r in recs)), traces


def work(recs) -> int:
    """The work analyze_recordings reports progress on: samples of recordings in memory, bytes of
    streamed files."""
    return sum(r.work for r in recs)


def _samples(rec) -> int:
    """A recording's samples (a stream's, estimated before it is read)."""
    return len(rec.data) if hasattr(rec, "data") else rec.samples_estimate


# two feet this long between them run side by side, one process each (shorter: a process costs more)
PARALLEL_SAMPLES = 200_000


def detect_feet(recs, params: dict | None = None, progress=None) -> list:
    """Events of one or two feet, in time order; two long recordings are replayed side by side, one
    process each, where processes can fork (the same detector code, the same events). Each worker
    reads its own stream (nothing but the events comes back, and what the stream found)."""
    if params and recs:
        make_detector(recs[0].sensor, recs[0].rate_hz, params)  # a bad parameter raises here, not in a worker
    if len(recs) < 2 or sum(map(_samples, recs)) < PARALLEL_SAMPLES or (os.cpu_count() or 1) < 2 or \
            "fork" not in multiprocessing.get_all_start_methods():
        return _detect_each(recs, params, progress)
    ctx = multiprocessing.get_context("fork")
    queue = ctx.SimpleQueue()
    # the workers fork before anything here starts a thread (a progress bar's): nothing is held locked in them
    # (forked, the workers share recordings already read: nothing is copied to them)
    with ctx.Pool(len(recs), initializer=_worker_init, initargs=(recs, params, queue if progress else None)) as pool:
        results = [pool.apply_async(_worker_replay, (i,)) for i in range(len(recs))]
        pending = results
        while pending:
            pending[0].wait(0.1)
            pending = [r for r in pending if not r.ready()]
            while progress is not None and not queue.empty():
                progress(queue.get())
        # a file's error (a stream's RawFormatError) is the first file's, as one after the other would meet it
        per_foot = [r.get() for r in results]
    while progress is not None and not queue.empty():
        progress(queue.get())
    for rec, (_evs, found) in zip(recs, per_foot):
        if found is not None:
            vars(rec).update(found)
    events = [e for evs, _found in per_foot for e in evs]
    events.sort(key=lambda e: (e["t_ms"], e["foot"]))
    return events


def _detect_each(recs, params, progress):
    events = []
    for rec in recs:
        events.extend(replay(rec, params, progress=progress)[0])
    events.sort(key=lambda e: (e["t_ms"], e["foot"]))
    return events


_job = {}
_FOUND = ("samples", "t_first", "t_last", "warnings")  # what a stream learns as it is read


def _worker_init(recs, params, queue):
    _job.update(recs=recs, params=params, queue=queue)


def _worker_replay(i):
    queue = _job["queue"]
    rec = _job["recs"][i]
    events = replay(rec, _job["params"], progress=queue.put if queue is not None else None)[0]
    return events, ({k: getattr(rec, k) for k in _FOUND} if not hasattr(rec, "data") else None)


def summarise_session(session: Session) -> dict:
    """The same summary `calfwalk analyze` gives, from what the pods reported, plus link health.

    The pods' events are first put on one timeline (align.py); "alignment" says how well.
    """
    feet, sensors = [], {}
    durations = []
    for pod in session.pods.values():
        if pod.foot is None:
            continue
        feet.append(pod.foot)
        sensors[pod.foot] = pod.sensor or "imu"
        if pod.t0 is not None and pod.ts is not None:
            durations.append((pod.ts - pod.t0) / 1000.0)
    if not feet:
        raise SessionError(f"{session.path}: no pod identified itself (no H or S line received)")
    if len(set(feet)) != len(feet):
        raise SessionError(f"{session.path}: two pods report the same foot ({feet[0]}): set foot= in their board configs")
    feet.sort(key=("left", "right").index)
    duration = max(durations) if durations else session.host_ms_last / 1000.0
    # tag each event, so that what was lost near it moves with it onto the common timeline
    for pod in session.pods.values():
        for k, ev in enumerate(pod.events):
            ev["_k"] = (pod.index, k)
    events, alignment = align_session(session)
    moved = {e.pop("_k"): e["t_ms"] for e in events if "_k" in e}
    for pod in session.pods.values():
        for ev in pod.events:
            ev.pop("_k", None)
    out = summarise(events, feet, sensors, duration, _damage(session, moved))
    out["alignment"] = alignment
    out["link"] = {
        pod.foot or f"pod{pod.index}": dict(pod.checker.stats.as_dict(), port=pod.port, boots=pod.segments)
        for pod in session.pods.values()
    }
    out["session_damaged_lines"] = session.damaged_lines
    out["session_damage"] = list(session.damage)
    # what the pods cued during the set (LED/buzzer): counts per kind
    out["pod_cues"] = {
        pod.foot: {kind: sum(1 for c in pod.cues if c["kind"] == kind) for kind in ("heel", "fade")}
        for pod in session.pods.values() if pod.foot is not None
    }
    return out


def _damage(session: Session, moved: dict) -> dict:
    """What the pods counted or sent that did not arrive intact, on the events' common timeline
    (`moved`: (pod index, event index) -> that event's time there); for summary.summarise."""
    out = {"unknown_steps": [], "lost_set_ends": [], "lines_lost": {}}
    for pod in session.pods.values():
        if pod.foot is None:
            continue

        def place(t_ms, near):
            if near is None or (pod.index, near) not in moved:
                return int(t_ms)
            return int(round(t_ms + moved[(pod.index, near)] - pod.events[near]["t_ms"]))

        for m in pod.missing_steps:
            out["unknown_steps"].append({"foot": pod.foot, "t_ms": place(m["t_ms"], m["near"]),
                                         "step_no": m["step_no"], "why": m["why"]})
        for e in pod.lost_set_ends:
            out["lost_set_ends"].append({"foot": pod.foot, "t_ms": place(e["t_ms"], e["near"])})
        out["lines_lost"][pod.foot] = pod.lines_lost
    return out


def session_traces(session: Session, summary: dict, params: dict | None = None) -> tuple:
    """Per-sample traces from a session's raw samples (recorded with --raw), on the summary's clock.

    Each pod's own clock is fitted onto the summary's by its events (align.clock_map).
    Returns ({foot: Trace}, notes, {foot: (scale, offset)}): no traces and a note when the samples
    cannot be used.
    """
    events = summary["events"]
    maps = {}
    for pod in session.pods.values():
        if pod.foot is None:
            continue
        # both in time order (a pod sends a step after the heel contact in its stance)
        mine = sorted((e for e in events if e["foot"] == pod.foot), key=lambda e: e["t_ms"])
        own = sorted(pod.events, key=lambda e: e["t_ms"])
        same = [e["type"] for e in mine] == [e["type"] for e in own]
        maps[pod.foot] = clock_map([e["t_ms"] for e in own] if same else [], [e["t_ms"] for e in mine])
    traces, notes = {}, []
    if any(p.raw_rows for p in session.pods.values()):
        try:
            with tempfile.TemporaryDirectory(prefix="calfwalk-trace-") as tmp:
                for path in write_raw_files(session, os.path.join(tmp, "raw")):
                    rec = open_raw(path)
                    _evs, t_ms, level, kind = detect_trace(rec, params)
                    scale, offset = maps.get(rec.foot, (1.0, 0.0))
                    traces[rec.foot] = Trace(rec.foot, kind, t_ms * scale + offset, level)
        except (SessionError, RawFormatError) as exc:
            traces = {}
            notes.append(f"the raw samples could not be used for the heel trace ({exc})")
    return traces, notes, maps
