"""Lost or damaged session lines never become form verdicts (issue 12, defects 2 and 3).

A session recorded from two pods on the MicroPython unix port, then damaged the
ways files and links get damaged: a line deleted, bytes flipped, the header hit.
What was readable is read, the steps the pods counted but nobody received are
*unknown* (never a stride, never a left/right difference), and no rule fails or
warns on what the damage made.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calfwalk.analysis.detect import detect
from calfwalk.files.protocol import encode, parse
from calfwalk.files.rawfile import read_raw
from calfwalk.files.session import SessionError, read_session, record_line
from calfwalk.analysis.pipeline import summarise_session

from helpers import simulate_set

SEVERITY = {"not_measured": 0, "pass": 0, "warn": 1, "fail": 2}
EVENT_LINES: dict = {}  # the recording's event lines as written (bytes) -> (pod, type, t): `recorded` fills it
STEPS = 30


def pod_stream(rec, seq0=0):
    """The lines a pod streaming `rec` sends (hello, events, heartbeats), on a fixed timeline: (host ms,
    line, (type, t) of an event line, else None).

    The very events the firmware sends (tests/e2e/test_stream_e2e.py checks the pod's equal
    `detect`); the timing is fixed, so the damage below hits the same bytes on every run.
    """
    events = detect(rec)
    t0 = int(rec.data[0, 0])
    foot = rec.foot
    out = [(0, encode(seq0, 5, "H", f"calfwalk=0.1.0,proto=1,board=unix,foot={foot},sensor=imu,rate_hz=100"), None)]
    seq = seq0 + 1
    steps, state, k = 0, "cal", 0
    end = int(rec.data[-1, 0])
    # each event goes 40 ms after its t (a pod numbers its lines in the order it sends them)
    events = sorted(events, key=lambda e: e["t_ms"])
    for t in range(t0 + 1000, end + 1000, 1000):  # a heartbeat a second, after the events sent before it
        while k < len(events) and events[k]["t_ms"] + 40 < t + 10:
            e = events[k]
            k += 1
            fields = detect_fields()[e["type"]]
            payload = ",".join([e["type"], f"t={e['t_ms']}"] + [f"{f}={v}" for f, v in zip(fields, wire_values(e))])
            out.append((e["t_ms"] + 40, encode(seq, e["t_ms"] - t0 + 40, "E", payload), (e["type"], str(e["t_ms"]))))
            seq += 1
            if e["type"] in ("calibrated", "set_end"):
                state, steps = "ready", 0
            elif e["type"] == "set_start":
                state = "set"
            elif e["type"] == "step":
                steps = e["step_no"] + 1  # the pod counts the next step at its landing, sends it later
        out.append((t + 10, encode(seq, t - t0 + 10, "S", (
            f"state={state},run=1,raw=0,steps={steps if state == 'set' else 0},heel_mm=-1,samples={(t - t0) // 10},"
            f"dropped=0,src=live,t0={t0},ts={min(t, end)},foot={foot},bus_errors=0")), None))
        seq += 1
    return out


def detect_fields():
    from calfwalk.model import event_fields

    return event_fields()


def wire_values(ev):
    from calfwalk.model import wire_values

    return wire_values(ev)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """(session bytes, its clean summary): two pods, 30 steps, a crash at step 8; the same bytes every run."""
    tmp = tmp_path_factory.mktemp("damage")
    paths, _ = simulate_set(tmp, steps=STEPS, seed=4, heel_touches=[(8, 300, 3000)])
    lines = ["#calfwalk_session=1", "#started_utc=2026-01-05T10:00:00Z", "#pod0=/dev/ttyACM0", "#pod1=/dev/ttyACM1",
             "#records=crc32"]
    merged = sorted([(ms, i, text, ev) for i, p in enumerate(paths) for ms, text, ev in pod_stream(read_raw(p))])
    lines += [record_line("rx", ms, i, text) for ms, i, text, _ev in merged]
    EVENT_LINES.clear()
    EVENT_LINES.update({record_line("rx", ms, i, text).encode(): (i, *ev) for ms, i, text, ev in merged
                        if ev is not None and ev[0] in ("step", "heel_contact", "set_start", "set_end")})
    session = tmp / "clean.cwlog"
    session.write_text("\n".join(lines) + "\n")
    data = session.read_bytes()
    clean = summarise_session(read_session(session))
    assert clean["steps"] == STEPS and clean.get("steps_unknown", 0) == 0
    assert clean["heel_contacts"] == 1
    return data, clean


def summary_of(tmp_path, data: bytes, name="damaged.cwlog"):
    path = tmp_path / name
    path.write_bytes(data)
    s = read_session(path)
    return s, summarise_session(s)


def assert_no_false_verdict(clean, damaged):
    """No rule is worse than on the intact session: damage can hide evidence, never make it."""
    before = {r["id"]: r for r in clean["rules"]}
    for r in damaged["rules"]:
        assert SEVERITY[r["status"]] <= SEVERITY[before[r["id"]]["status"]], (
            f"{r['id']}: {before[r['id']]['status']} intact, {r['status']} damaged ({r['detail']})")


def assert_counts_agree_or_gap_marked(clean, damaged):
    """Per foot: steps seen + steps unknown is what the pod counted, or lines of that foot were lost."""
    for foot, n in clean["steps_by_foot"].items():
        n += clean["steps_unknown_by_foot"].get(foot, 0)  # (a file cut short: its own count may wait on a line)
        seen = damaged["steps_by_foot"].get(foot, 0)
        unknown = damaged["steps_unknown_by_foot"].get(foot, 0)
        assert seen + unknown <= n
        if seen + unknown < n:
            assert damaged["damage"]["lines_lost"].get(foot, 0) > 0 or damaged["session_damaged_lines"] > 0, foot


def intact_events(data: bytes):
    """The events of every rx line of the recording (EVENT_LINES, as written) still whole, byte for byte,
    in the damaged file: known from what was written, not from reading the file a second way."""
    return [EVENT_LINES[line] for line in data.split(b"\n") if line in EVENT_LINES]


def events_read(session):
    return [(pod.index, e["type"], str(e["t_ms"])) for pod in session.pods.values() for e in pod.events
            if e["type"] != "calibrated"]


# ------------------------------------------------------------------ the reproductions


def test_a_deleted_step_line_is_an_unknown_step_not_an_uneven_stride(tmp_path, recorded):
    """`sed 41d session.cwlog` once made 29 steps, stride CV 17% and "Short, even steps" WARN."""
    data, clean = recorded
    lines = data.split(b"\n")
    step_lines = [i for i, l in enumerate(lines) if b",E,step," in l]
    assert len(step_lines) == STEPS
    damaged = [(i, summary_of(tmp_path, b"\n".join(lines[:i] + lines[i + 1:]))[1]) for i in step_lines]
    for i, d in damaged:  # no stride over the lost step, no verdict from it
        assert d["step_time_cv"] == pytest.approx(clean["step_time_cv"], abs=0.01), i
        assert_no_false_verdict(clean, d)
    for i, d in damaged:  # the lost step is known: the pod counted it
        assert d["steps"] == STEPS - 1 and d["steps_unknown"] == 1
        assert_counts_agree_or_gap_marked(clean, d)
        [ghost] = d["damage"]["unknown_steps"]
        want = parse(lines[i].decode().rsplit("\t", 1)[0].split("\t", 3)[3])[1].kv()
        assert ghost["step_no"] == int(want["step_no"]) and abs(ghost["t_ms"] - int(want["t"])) <= 100
        assert "unknown" in {r["id"]: r for r in d["rules"]}["short_even_steps"]["detail"]


@pytest.mark.parametrize("seed", range(8))
def test_thirty_flipped_bytes_in_the_middle_make_no_verdict(tmp_path, recorded, seed):
    """Flipping 30 bytes in the middle once made stride CV 47.5% and "Short, even steps" FAIL."""
    data, clean = recorded
    rng = random.Random(seed)
    d = bytearray(data)
    mid = len(d) // 2
    for i in rng.sample(range(mid - len(d) // 6, mid + len(d) // 6), 30):
        d[i] ^= 1 << rng.randrange(8)
    s, summary = summary_of(tmp_path, bytes(d))
    assert_no_false_verdict(clean, summary)
    assert_counts_agree_or_gap_marked(clean, summary)
    assert set(intact_events(bytes(d))) <= set(events_read(s))  # every intact event is read
    assert summary["session_damage"], "the damage is said"


@pytest.mark.parametrize("line_no", [1, 2, 3])
def test_one_flipped_byte_in_the_header_recovers_the_rest(tmp_path, recorded, line_no):
    """One flipped byte in the header once refused the whole file."""
    data, clean = recorded
    lines = data.split(b"\n")
    assert lines[0] == b"#calfwalk_session=1"
    header = lines[line_no - 1]
    for pos in range(len(header)):
        for bit in (0, 5, 7):
            damaged = bytearray(header)
            damaged[pos] ^= 1 << bit
            if b"\n" in damaged:
                continue
            body = b"\n".join(lines[:line_no - 1] + [bytes(damaged)] + lines[line_no:])
            s, summary = summary_of(tmp_path, body)
            assert summary["steps"] == STEPS, (line_no, pos, bit)
            assert summary["rules"] == clean["rules"] or line_no != 1
            if line_no == 1:
                assert any(x.startswith("line 1: the session header is damaged") for x in s.damage)


def test_a_file_that_is_no_session_is_still_refused(tmp_path):
    p = tmp_path / "notes.cwlog"
    p.write_text("#shopping_list=1\nrx\t1\t0\tmilk\n")
    with pytest.raises(SessionError, match="not a calfwalk session file"):
        read_session(p)


# ------------------------------------------------------------------ any damage


damage_ops = st.lists(st.one_of(
    st.tuples(st.just("flip"), st.floats(0, 1, exclude_max=True), st.integers(0, 7)),
    st.tuples(st.just("delete_line"), st.floats(0, 1, exclude_max=True), st.just(0)),
    st.tuples(st.just("junk"), st.floats(0, 1, exclude_max=True), st.integers(1, 40)),
), min_size=1, max_size=12)


def streams_cut_short(data: bytes, damaged: bytes) -> bool:
    """Only whole lines deleted from `data`, each pod's the last of its own: every stream ends earlier."""
    def by_pod(blob):
        out = {}
        for line in blob.split(b"\n"):
            f = line.split(b"\t")
            out.setdefault(f[2] if f[0] == b"rx" and len(f) > 3 else None, []).append(line)
        return out

    whole, left = by_pod(data), by_pod(damaged)
    if whole.get(None) != left.get(None) or not set(left) <= set(whole):
        return False
    return all(whole[k][:len(v)] == v for k, v in left.items())


def apply_damage(data: bytes, ops) -> bytes:
    d = bytearray(data)
    for op, where, arg in ops:
        if not d:
            break
        i = int(where * len(d))
        if op == "flip":
            d[i] ^= 1 << arg
        elif op == "delete_line":
            a = d.rfind(b"\n", 0, i) + 1
            b = d.find(b"\n", i)
            del d[a:(len(d) if b < 0 else b + 1)]
        else:
            d[i:i] = bytes((i * 7 + k * 13) % 256 for k in range(arg))
    return bytes(d)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=damage_ops, cut=st.one_of(st.none(), st.floats(0.3, 1)))
def test_any_damage_hides_evidence_but_never_makes_it(tmp_path, recorded, ops, cut):
    """Flipped bytes, lost lines, junk; maybe the file ends early (a killed host: then the reference is
    the intact file ending at the same line)."""
    data, clean = recorded
    if cut is not None:
        data = data[:data.rfind(b"\n", 0, int(cut * len(data))) + 1]
        _s, clean = summary_of(tmp_path, data, "reference.cwlog")
    damaged = apply_damage(data, ops)
    try:
        s, summary = summary_of(tmp_path, damaged)
    except SessionError as exc:  # a typed refusal: the magic line or every pod line gone
        assert "Traceback" not in str(exc)
        return
    if streams_cut_short(data, damaged):
        # (only each pod's last lines deleted: its stream ends there, as an unplugged pod's or a
        # killed host's does; nothing says more was sent)
        _s, clean = summary_of(tmp_path, damaged, "reference.cwlog")
    assert set(intact_events(damaged)) <= set(events_read(s))
    assert_no_false_verdict(clean, summary)
    assert_counts_agree_or_gap_marked(clean, summary)


def _walk(heights_by_foot, step_ms=1000):
    """Step events of two feet, heights (mm) in order, a step every step_ms per foot."""
    events = []
    for f, (foot, heights) in enumerate(heights_by_foot.items()):
        for n, h in enumerate(heights, 1):
            events.append({"type": "step", "foot": foot, "t_ms": 1000 + n * step_ms + f * step_ms // 2,
                           "stance_ms": 600, "heel_mm": h, "pause_ms": 300, "peaks": 1, "med_pct": None,
                           "step_no": n, "stride_cm": 20.0, "clearance_cm": 3.0})
    return events


def _rule(summary, rid):
    return {r["id"]: r for r in summary["rules"]}[rid]


def test_a_lost_step_at_the_end_of_the_set_makes_no_sagging_heel():
    # the closing fifth's heights against the opening fifth's: 80 mm to 68.7 mm is 14% lower (pass,
    # the limit is 15%); with the right foot's last step lost, judged on the steps seen the closing
    # fifth is one step shorter and its mean lower (17%: warn). The lost step counts as a good one
    # (as high as any step seen), so the verdict can only get better, never worse
    from calfwalk.analysis.summary import summarise

    left = [80] * 4 + [75] * 7 + [70, 68, 66, 64]
    right = [80] * 4 + [75] * 7 + [70, 68, 66, 80]
    events = _walk({"left": left, "right": right})
    feet, sensors = ["left", "right"], {"left": "imu", "right": "imu"}
    intact = summarise(events, feet, sensors, 30.0)
    lost = [e for e in events if not (e["foot"] == "right" and e["step_no"] == 15)]
    ghost = {"foot": "right", "t_ms": 1000 + 15 * 1000 + 500, "step_no": 15, "why": "lines lost or damaged"}
    damaged = summarise(lost, feet, sensors, 30.0, {"unknown_steps": [ghost], "lost_set_ends": [],
                                                    "lines_lost": {"right": 1}})
    assert _rule(intact, "heel_height_kept")["status"] == "pass"
    assert _rule(damaged, "heel_height_kept")["status"] == "pass"
    # without the lost step's place, the same steps seen read 17% lower: a warn the loss made
    unknown = summarise(lost, feet, sensors, 30.0)
    assert _rule(unknown, "heel_height_kept")["status"] == "warn"


def test_lines_lost_on_one_foot_are_not_taken_for_a_foot_that_stepped_less():
    # 12 steps on the left and 14 on the right is uneven (more than one apart: fail); but when two
    # lines of the left pod were lost and its counts did not say what they were, two of its steps
    # may be among them: the counts are judged as close as that allows
    from calfwalk.analysis.summary import summarise

    events = _walk({"left": [70] * 12, "right": [70] * 14})
    feet, sensors = ["left", "right"], {"left": "imu", "right": "imu"}
    assert _rule(summarise(events, feet, sensors, 30.0), "even_left_right")["status"] == "fail"
    damage = {"unknown_steps": [], "lost_set_ends": [], "lines_lost": {"left": 2, "right": 0}}
    assert _rule(summarise(events, feet, sensors, 30.0, damage), "even_left_right")["status"] == "pass"
    damage["lines_lost"] = {"left": 0, "right": 2}  # (lost on the foot with more steps: no excuse)
    assert _rule(summarise(events, feet, sensors, 30.0, damage), "even_left_right")["status"] == "fail"


def test_a_set_end_that_may_be_among_a_foots_lost_lines_is_not_judged():
    # both feet started a set; only the right foot's set_end came. Without damage that is a warn
    # (the recording may have stopped early); with lines of the left pod lost (its set_end may be
    # one of them) it is not judged; lines lost on the right foot, which did end, excuse nothing
    from calfwalk.analysis.summary import summarise

    events = _walk({"left": [70] * 10, "right": [70] * 10})
    events += [{"type": "set_start", "foot": f, "t_ms": 900} for f in ("left", "right")]
    events.append({"type": "set_end", "foot": "right", "t_ms": 13000, "steps": 10})
    feet, sensors = ["left", "right"], {"left": "imu", "right": "imu"}
    assert _rule(summarise(events, feet, sensors, 14.0), "heels_lowered_after_set")["status"] == "warn"
    damage = {"unknown_steps": [], "lost_set_ends": [], "lines_lost": {"left": 1, "right": 0}}
    assert _rule(summarise(events, feet, sensors, 14.0, damage), "heels_lowered_after_set")["status"] == "not_measured"
    damage["lines_lost"] = {"left": 0, "right": 3}
    assert _rule(summarise(events, feet, sensors, 14.0, damage), "heels_lowered_after_set")["status"] == "warn"
