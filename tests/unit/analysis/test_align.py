"""Two pods, one timeline: clock fits, left-right alignment, and the report of how well it worked.

Sessions are synthesised line by line in the session file format from the
detector's events on simulated left/right recordings: each pod's clock has its
own offset and drift, each line arrives after a random positive latency, and
the lines of one pod arrive in order (a serial link is first in, first out).
"""

from __future__ import annotations

import random
import statistics

import pytest

from calfwalk.analysis.align import fit_clock, step_phase_offsets
from calfwalk.analysis.detect import detect
from calfwalk.model import event_fields, wire_values
from calfwalk.files.protocol import encode
from calfwalk.files.rawfile import read_raw
from calfwalk.files.session import MAGIC, read_session
from calfwalk.analysis.pipeline import summarise_session

from helpers import simulate_set

# emission delay of each event after its own time (the detector reports a step when its stance ends, ...)
DELAY = {"calibrated": lambda e: 0, "set_start": lambda e: 300, "step": lambda e: e["stance_ms"],
         "heel_contact": lambda e: e["duration_ms"], "set_end": lambda e: 1500}
HOST_START_MS = 2345  # the host's clock when the true time is 0
TOL_MS = 6  # left-right events after alignment (0-30 ms latency): within this of the truth


class PodClock:
    """pod_t = offset_ms + (1 + drift_ppm 1e-6) * true_ms."""

    def __init__(self, offset_ms, drift_ppm):
        self.offset_ms = offset_ms
        self.rate = 1 + drift_ppm * 1e-6

    def __call__(self, true_ms):
        return self.offset_ms + self.rate * true_ms


def _payload(ev):
    fields = event_fields()[ev["type"]]
    vals = wire_values(ev)
    return ",".join([ev["type"], f"t={ev['t_true_pod']}"] + [f"{k}={v}" for k, v in zip(fields, vals)])


def pod_lines(foot, events, clock, end_ms, rng, jitter_ms, hb_ms=1000, reboot_at_ms=None, clock2=None, speed=1):
    """(host_ms, text) of one pod's lines: hello, a heartbeat every hb_ms, its events; FIFO arrival.

    Times are the recording's (true) times. speed > 1: a replay that plays the
    recording that much faster than real time (its sample clock is the file's).
    """
    out = []  # (true emit time, kind, payload)
    hello = f"calfwalk=0.1.0,proto=1,board=sim,foot={foot},sensor=imu,rate_hz=100"
    out.append((0.0, "H", hello, clock))
    if reboot_at_ms is not None:
        out.append((reboot_at_ms, "H", hello, clock2))
    for k in range(int(end_ms // hb_ms) + 1):
        t = k * hb_ms + rng.uniform(0, hb_ms / 10)
        c = clock if reboot_at_ms is None or t < reboot_at_ms else clock2
        lag = rng.uniform(0, 10)  # the latest processed sample is a little older than the line
        ts = int((c(t - lag) if speed == 1 else t - lag) // 10 * 10)
        t0 = int(c(0 if c is clock else reboot_at_ms)) if speed == 1 else 0
        out.append((t, "S", f"state=set,run=1,raw=0,steps=0,heel_mm=-1,samples={k + 1},dropped=0,src=live,"
                            f"t0={t0},ts={ts},foot={foot},bus_errors=0", c))
    for ev in events:
        c = clock if reboot_at_ms is None or ev["t_ms"] < reboot_at_ms else clock2
        emit = ev["t_ms"] + DELAY[ev["type"]](ev) + rng.uniform(0, 10)
        if reboot_at_ms is not None and ev["t_ms"] < reboot_at_ms <= emit:
            continue  # lost in the reboot
        t_sample = c(ev["t_ms"]) if speed == 1 else ev["t_ms"]
        out.append((emit, "E", _payload(dict(ev, t_true_pod=int(round(t_sample)))), c))
    out.sort(key=lambda x: (x[0], x[1] != "H"))
    lines, seq, last_host = [], 0, 0
    for emit, kind, payload, c in out:
        if kind == "H" and emit > 0:
            seq = 0  # a reboot restarts the sequence
        real = emit / speed
        boot_t = int(c(real) - c(0 if c is clock else reboot_at_ms))
        host = max(last_host, int(HOST_START_MS + real + rng.uniform(0, jitter_ms)))
        last_host = host
        lines.append((host, encode(seq, boot_t, kind, payload)))
        seq += 1
    return lines


def write_session(path, pods):
    """pods: [(index, lines)]; writes the records in host-time order as a recorder would."""
    rows = sorted((h, i, text) for i, lines in pods for h, text in lines)
    with open(path, "w") as fh:
        fh.write(MAGIC + "\n#started_utc=2025-01-01T00:00:00Z\n")
        for i, _ in pods:
            fh.write(f"#pod{i}=/dev/sim{i}\n")
        for h, i, text in rows:
            fh.write(f"rx\t{h}\t{i}\t{text}\n")


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    """Detector events of a simulated two-foot set (true time = the recordings' clock)."""
    paths, truth = simulate_set(tmp_path_factory.mktemp("walk"), steps=40, cadence_spm=60, seed=13,
                                heel_touches=[(9, 300, 1500)])
    recs = {read_raw(p).foot: read_raw(p) for p in paths}
    events = {f: detect(r) for f, r in recs.items()}
    end_ms = max(int(r.data[-1, 0]) for r in recs.values())
    return events, end_ms


def _errors(summary, foot, clock_ref, events_true):
    """Event time errors (ms) of one foot on the summary's timeline vs the truth on the reference pod clock."""
    got = [e for e in summary["events"] if e["foot"] == foot]
    events_true = sorted(events_true, key=lambda e: e["t_ms"])  # the summary is in time order
    assert [e["type"] for e in got] == [e["type"] for e in events_true]
    return [g["t_ms"] - clock_ref(t["t_ms"]) for g, t in zip(got, events_true)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_two_pods_with_offset_and_drift_are_aligned(tmp_path, walk, seed):
    events, end_ms = walk
    rng = random.Random(seed)
    left = PodClock(offset_ms=rng.uniform(1000, 9000), drift_ppm=+200)
    right = PodClock(offset_ms=rng.uniform(20000, 90000), drift_ppm=-200)
    session = tmp_path / "two.cwlog"
    write_session(session, [(0, pod_lines("left", events["left"], left, end_ms, rng, 30)),
                            (1, pod_lines("right", events["right"], right, end_ms, rng, 30))])
    s = summarise_session(read_session(session))
    al = s["alignment"]
    assert al["method"] in ("host_time", "host_time+step_timing")
    assert al["reference"] == "left pod clock"
    # the left pod is the reference: its events keep their own times exactly
    assert all(e == 0 for e in _errors(s, "left", lambda t: int(round(left(t))), events["left"]))
    err = _errors(s, "right", left, events["right"])
    worst = max(abs(e) for e in err)
    print(f"seed {seed}: right events vs truth on the left clock: worst {worst:.1f} ms, "
          f"mean {statistics.fmean(err):+.1f} ms; reported ±{al['lr_uncertainty_ms']} ms; "
          f"drift L {al['pods']['left']['drift_ppm']} R {al['pods']['right']['drift_ppm']} ppm; "
          f"p95 residual {al['residual_spread_ms']} ms; step offset {al['lr_step_offset_ms']} ms")
    assert worst <= TOL_MS
    # the reported uncertainty is honest (covers the error) and useful (a few ms, not the jitter)
    assert abs(statistics.fmean(err)) <= 3 * al["lr_uncertainty_ms"] + 1
    assert al["lr_uncertainty_ms"] <= 10
    # host = offset + (1 + drift) * pod_t: a pod clock 200 ppm fast has drift -200 ppm; over a
    # 47 s set with 1 s heartbeats the estimate is good to tens of ppm (a few ms at the ends)
    assert al["pods"]["left"]["drift_ppm"] == pytest.approx(-200, abs=80)
    assert al["pods"]["right"]["drift_ppm"] == pytest.approx(200, abs=80)
    assert 20 <= al["residual_spread_ms"] <= 40  # the 0-30 ms arrival jitter (+ up to 10 ms writing)
    # without alignment the right pod's own clock is seconds off the left's
    raw = [int(right(t["t_ms"])) - left(t["t_ms"]) for t in events["right"]]
    assert min(abs(x) for x in raw) > 1000
    # and one offset without the drifts (matched at the first event) would be off by the last one
    first, last = events["right"][0]["t_ms"], events["right"][-1]["t_ms"]
    assert abs((right(last) - right(first)) - (left(last) - left(first))) > 2 * TOL_MS


def test_alignment_feeds_the_left_right_figures(tmp_path, walk):
    """Step time and order on the aligned timeline match the recordings analysed directly."""
    from calfwalk.analysis.summary import summarise

    events, end_ms = walk
    rng = random.Random(7)
    left, right = PodClock(500, 150), PodClock(60000, -180)
    session = tmp_path / "lr.cwlog"
    write_session(session, [(0, pod_lines("left", events["left"], left, end_ms, rng, 30)),
                            (1, pod_lines("right", events["right"], right, end_ms, rng, 30))])
    s = summarise_session(read_session(session))
    direct = summarise([dict(e) for f in ("left", "right") for e in events[f]], ["left", "right"],
                       {"left": "imu", "right": "imu"}, end_ms / 1000)
    assert s["steps"] == direct["steps"] and s["heel_contacts"] == direct["heel_contacts"]
    order = [(e["foot"], e["type"]) for e in s["events"] if e["type"] == "step"]
    assert order == [(e["foot"], e["type"]) for e in direct["events"] if e["type"] == "step"]
    for foot in ("left", "right"):
        # same-foot step times scale with the left clock's rate (+150 ppm): well under a ms per step
        assert s["asymmetry"]["step_time_ms"][foot] == pytest.approx(direct["asymmetry"]["step_time_ms"][foot], abs=1)
    assert s["asymmetry"]["steps"] == direct["asymmetry"]["steps"]


def test_step_timing_refines_a_poor_host_alignment(tmp_path, walk):
    """Bluetooth-like latency (0-400 ms): the alternating landings pull the left-right offset in."""
    events, end_ms = walk
    rng = random.Random(11)
    left, right = PodClock(3000, 100), PodClock(45000, -100)
    session = tmp_path / "bt.cwlog"
    write_session(session, [(0, pod_lines("left", events["left"], left, end_ms, rng, 400)),
                            (1, pod_lines("right", events["right"], right, end_ms, rng, 400))])
    s = summarise_session(read_session(session))
    al = s["alignment"]
    assert al["method"] == "host_time+step_timing"
    err = statistics.fmean(_errors(s, "right", left, events["right"]))
    before = err + al["lr_correction_ms"]  # the right events' error with the host fit alone
    print(f"host only {before:+.1f} ms, with step timing {err:+.1f} ms, reported ±{al['lr_uncertainty_ms']} ms "
          f"(host ±{al['lr_host_uncertainty_ms']} ms)")
    assert al["lr_host_uncertainty_ms"] > 10  # it knows the host times are poor
    assert al["lr_uncertainty_ms"] < al["lr_host_uncertainty_ms"]
    assert abs(err) <= 3 * al["lr_uncertainty_ms"]
    assert abs(err) < abs(before) or abs(before) < 5


def test_one_pod_rebooted_gets_one_timeline(tmp_path, walk):
    events, end_ms = walk
    rng = random.Random(5)
    boot1, boot2 = PodClock(100, 80), PodClock(-30000, 80)  # after the reboot the clock restarts
    reboot = events["left"][len(events["left"]) // 2]["t_ms"] + 200
    session = tmp_path / "reboot.cwlog"
    write_session(session, [(0, pod_lines("left", events["left"], boot1, end_ms, rng, 30,
                                          reboot_at_ms=reboot, clock2=boot2))])
    sess = read_session(session)
    assert sess.pods[0].segments == 2
    s = summarise_session(sess)
    al = s["alignment"]
    assert al["method"] == "one_pod" and al["lr_uncertainty_ms"] is None and al["pods"]["left"]["boots"] == 2
    got = [e for e in s["events"]]
    kept = [e for e in sorted(events["left"], key=lambda e: e["t_ms"]) if e["t_ms"] > reboot or e["t_ms"] + DELAY[e["type"]](e) + 10 < reboot]
    assert len(got) == len(kept)
    err = [g["t_ms"] - boot1(t["t_ms"]) for g, t in zip(got, kept)]
    # the first boot is the reference; the second (23 s, 36 lines, 0-30 ms latency) maps onto it
    # through two clock fits: within 10 ms, and within twice the reported uncertainty
    worst = max(abs(x) for x in err)
    print(f"rebooted pod: worst {worst:.1f} ms, reported ±{al['pods']['left']['uncertainty_ms']} ms")
    assert worst <= 10 and worst <= 2 * al["pods"]["left"]["uncertainty_ms"] + 1, err
    # without the host times the second boot's events would be on a clock 30 s off
    assert min(abs(boot2(t["t_ms"]) - boot1(t["t_ms"])) for t in kept if t["t_ms"] > reboot) > 1000


@pytest.mark.parametrize("case", ["fast_replay", "host_times_not_live"])
def test_no_real_time_clock_keeps_the_pod_clocks(tmp_path, walk, case):
    """A replay faster than real time (or a session whose host times were not taken live) has
    nothing to align by: the events stay on the pods' clocks, and the report says why."""
    events, end_ms = walk
    rng = random.Random(3)
    same = PodClock(0, 0)
    if case == "fast_replay":
        lines = {f: pod_lines(f, events[f], same, end_ms, rng, 5, speed=10) for f in ("left", "right")}
    else:
        lines = {f: pod_lines(f, events[f], same, end_ms, rng, 5) for f in ("left", "right")}
        for f in lines:  # all read back at once, as from a file
            lines[f] = [(HOST_START_MS + (h - HOST_START_MS) // 100, text) for h, text in lines[f]]
    session = tmp_path / "fast.cwlog"
    write_session(session, [(0, lines["left"]), (1, lines["right"])])
    s = summarise_session(read_session(session))
    assert s["alignment"]["method"] == "pod_clocks"
    assert ("real time" if case == "fast_replay" else "not taken live") in s["alignment"]["note"]
    got = sorted((e["foot"], e["t_ms"]) for e in s["events"])
    assert got == sorted((f, e["t_ms"]) for f in events for e in events[f])


# ------------------------------------------------------------------ the pieces

def test_fit_clock_lower_envelope_recovers_offset_and_drift():
    rng = random.Random(2)
    pairs = []
    for k in range(300):
        t = k * 1000 + rng.uniform(0, 50)
        pairs.append((t, 5000 + (1 + 150e-6) * t + rng.expovariate(1 / 8)))
    fit = fit_clock(pairs)
    assert fit.drift_ppm == pytest.approx(150, abs=5)
    assert fit.to_host(150_000) == pytest.approx(5000 + (1 + 150e-6) * 150_000, abs=1.5)
    # a least-squares line would sit at the mean latency instead (~8 ms late)
    assert all(h >= fit.to_host(t) - 1e-6 for t, h in pairs)


def test_fit_clock_drops_a_pair_far_below_the_others():
    pairs = [(k * 1000.0, 100 + k * 1000.0 + (k * 7) % 13) for k in range(60)]
    pairs.append((30500.0, 100 + 30500.0 - 5000))  # cannot be a latency: 5 s early
    fit = fit_clock(pairs)
    assert fit.outliers == 1
    assert fit.to_host(30500) == pytest.approx(100 + 30500, abs=2)


def test_step_phase_offsets_measure_how_late_the_right_foot_is():
    left = [k * 2000 for k in range(10)]
    right = [k * 2000 + 1000 + 40 for k in range(10)]  # 40 ms late
    offs, stride = step_phase_offsets(left, right)
    assert stride == 2000
    assert len(offs) == 18 and all(o == pytest.approx(40) for o in offs)
    # a rest between sets is not a stride: no pair spans it
    offs2, _ = step_phase_offsets(left + [60000 + k * 2000 for k in range(5)],
                                  right + [61000 + 40 + k * 2000 for k in range(5)])
    assert len(offs2) == 18 + 8
