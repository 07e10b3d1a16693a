"""The event model: what a pod reports, as the host holds it.

An event is a dict: "type" (one of the firmware detector's EVENT_NAMES), "foot",
"t_ms", then the fields the firmware's EVENT_FIELDS names for that type, with
lengths in cm where the host shows them so (IN_CM) and None for a value the pod's
sensors cannot measure. The TypedDicts below spell out the shapes the summary,
reports and history read; `event_dict` builds them and `wire_values` undoes it.
Every layer above (files, link, analysis, output) takes its events from here.
"""

from __future__ import annotations

from typing import Optional, TypedDict

from calfwalk import firmware


class Event(TypedDict, total=False):
    """Fields every event has."""

    type: str
    foot: str
    t_ms: int


class StepEvent(Event, total=False):
    """A step landed (t_ms: the landing)."""

    stance_ms: int
    heel_mm: Optional[int]
    pause_ms: int
    peaks: int
    med_pct: Optional[int]
    step_no: int
    stride_cm: Optional[float]
    clearance_cm: Optional[float]


class HeelContactEvent(Event, total=False):
    """The heel touched the floor (t_ms: its onset)."""

    duration_ms: int
    impact_mg: Optional[int]
    load_pct: Optional[int]


class SetEndEvent(Event, total=False):
    """The heels were lowered after the last step (t_ms: when they reached the floor)."""

    steps: int


class CueEvent(TypedDict, total=False):
    """A cue the pod gave (LED, buzzer): "kind" is "heel" or "fade"."""

    type: str
    kind: str
    foot: str
    t_ms: int


class Rule(TypedDict):
    """One rule of the guide, judged: status "pass", "warn", "fail" or "not_measured"."""

    id: str
    title: str
    status: str
    value: Optional[float]
    evidence: list  # the step numbers (person order) that show it
    detail: str
    cue: str


class Summary(TypedDict, total=False):
    """A recording's summary (analysis/summary.py `summarise`); "sets" holds one per set, with the
    same keys plus set_no, start_ms, end_ms and last_ms. Figures are computed here once: the
    history, the report and the terminal read them."""

    feet: list
    sensors: dict
    steps: int
    steps_by_foot: dict
    duration_s: float
    set_duration_s: Optional[float]
    cadence_spm: Optional[float]
    step_time_cv: Optional[float]
    stride_cm: Optional[dict]
    distance_m: Optional[float]
    heel_contacts: int
    heel_contacts_per100: Optional[float]
    heel_height_mm: dict  # mean, min, max, opening, closing
    events: list
    rules: list  # of Rule
    one_foot_note: Optional[str]
    asymmetry: Optional[dict]  # figure -> {left, right, asymmetry_pct}
    asymmetry_pct: Optional[float]
    steps_unknown: int
    steps_unknown_by_foot: dict
    damage: dict
    sets: list  # of Summary
    set_no: int
    start_ms: int
    end_ms: Optional[int]
    last_ms: Optional[int]


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
