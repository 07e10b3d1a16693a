"""Cues while walking: the pod's LED/buzzer timing under the MicroPython unix port (fake pins that
record every toggle), the cue settings, the C protocol line, and the live view showing the cues."""

from __future__ import annotations

import io
import json
import subprocess
from types import SimpleNamespace

import pytest

from calfwalk import firmware
from calfwalk.files.protocol import StreamChecker, cue_from_line, encode, event_from_line
from calfwalk.files.rawfile import read_raw

from helpers import BOARDS, FIRMWARE, ROOT, simulate_set

CUE_REPLAY = ROOT / "tests" / "mpy" / "cue_replay.py"
TESTS = ROOT / "tests"
PINS = ("led=LED", "buzzer=15")  # a Pico's LED and a piezo on GP15, as boards/pico-fsr.json
HEEL_MS = 300  # the heel pattern: one 300 ms blink/beep
FADE_MS = (80, 120, 80)  # the fading pattern: two 80 ms blinks/beeps 120 ms apart
LATENCY_LIMIT_MS = 100

# heel touches (a crash, a soft touch) and a long stride: the heel contacts the pod must cue
TOUCH_SET = dict(steps=16, cadence_spm=50, seed=11, heel_touches=[(4, 300, 1500), (7, 200, 0)], long_strides=[11])
# heels sag by half over the set: the calves fade
FADE_SET = dict(steps=24, seed=5, fatigue_pct=50)
# both in one set, for the on/off settings
BOTH_SET = dict(steps=24, seed=5, fatigue_pct=50, heel_touches=[(5, 300, 1500)])
# a clean set: no heel touch, the default gentle sag (20 %)
CLEAN_SET = dict(steps=16, seed=3)


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    """(name, sensor) -> {foot: (raw path, that foot's truth)}, made on first use."""
    cache = {}
    specs = {"touch": TOUCH_SET, "fade": FADE_SET, "both": BOTH_SET, "clean": CLEAN_SET}

    def get(name, sensor):
        key = (name, sensor)
        if key not in cache:
            folder = tmp_path_factory.mktemp(f"{name}_{sensor.replace('+', '_')}")
            paths, truth = simulate_set(folder, sensor=sensor, **specs[name])
            cache[key] = {read_raw(p).foot: (p, truth["feet"][read_raw(p).foot]) for p in paths}
        return cache[key]

    return get


class PodRun:
    """What one cue_replay.py run printed: protocol lines, events, cues and pin toggles."""

    def __init__(self, stdout):
        checker = StreamChecker()
        self.lines, self.toggles, self.end, self.memory_error = [], {"led": [], "buzzer": []}, None, None
        for text in stdout.splitlines():
            if text.startswith("T "):
                _, name, t, v = text.split()
                self.toggles[name].append((int(t), int(v)))
            elif text.startswith("END "):
                self.end = text
            elif text.startswith("MEMORYERROR"):
                self.memory_error = text
            else:
                line = checker.feed(text)
                assert line is not None, f"not a good protocol line: {text!r}"
                self.lines.append(line)
        assert checker.stats.corrupt == 0 and checker.stats.noise == 0 and checker.stats.gaps == 0
        foot = next(l.kv()["foot"] for l in self.lines if l.kind == "H")
        self.events = [e for e in (event_from_line(l, foot) for l in self.lines if l.kind == "E") if e]
        self.cues = [c for c in (cue_from_line(l, foot) for l in self.lines if l.kind == "C") if c]
        assert len(self.cues) == sum(1 for l in self.lines if l.kind == "C")  # every C line parses

    def of(self, kind):
        return [e for e in self.events if e["type"] == kind]

    def cues_of(self, kind):
        return [c for c in self.cues if c["kind"] == kind]

    def pulses(self, name):
        """[(on_ms, off_ms)] of one output, on the samples' clock."""
        t = self.toggles[name]
        assert [v for _, v in t] == [1, 0] * (len(t) // 2) and len(t) % 2 == 0, f"{name} toggles {t}"
        return [(t[k][0], t[k + 1][0]) for k in range(0, len(t), 2)]


def run_pod(micropython, raw, *args):
    proc = subprocess.run([micropython, str(CUE_REPLAY), str(FIRMWARE), str(TESTS), str(BOARDS / "unix.json"), str(raw),
                           *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    run = PodRun(proc.stdout)
    if run.memory_error is None:
        assert run.end == f"END samples={len(read_raw(raw).data)}"
    return run


@pytest.fixture(scope="module")
def pod(micropython, sets):
    """Cached run of the pod over a set: (set name, sensor, foot, *config overrides) -> PodRun."""
    cache = {}

    def get(name, sensor, foot, *args):
        key = (name, sensor, foot) + args
        if key not in cache:
            cache[key] = run_pod(micropython, sets(name, sensor)[foot][0], *args)
        return cache[key]

    return get


def fade_pattern(on_ms):
    a, gap, b = FADE_MS
    return [(on_ms, on_ms + a), (on_ms + a + gap, on_ms + a + gap + b)]


def expected_fade_steps(steps, opening=4, pct=70, every=4):
    """The documented fading rule, applied to the pod's step events (heel_mm per step)."""
    heights = [(s["step_no"], s["heel_mm"]) for s in steps if s["heel_mm"] is not None]
    if len(heights) <= opening:
        return []
    open_mm = sum(h for _, h in heights[:opening]) // opening
    out, since = [], every
    for n, h in heights[opening:]:
        since += 1
        if h * 100 < open_mm * pct and since >= every:
            out.append(n)
            since = 0
    return out


LATENCIES = []


# ------------------------------------------------------------------ heel contact cue timing

@pytest.mark.parametrize("sensor", ["imu", "fsr", "imu+fsr"])
@pytest.mark.parametrize("foot", ["left", "right"])
def test_heel_cue_within_100_ms_of_the_contact(pod, sets, sensor, foot):
    run = pod("touch", sensor, foot, *PINS)
    truth = sets("touch", sensor)[foot][1]
    contacts = run.of("heel_contact")
    # not vacuous: this foot has heel contacts, and the pod found each one
    assert len(contacts) == len(truth["heel_contacts"]) >= 1
    led, buzzer = run.pulses("led"), run.pulses("buzzer")
    assert buzzer == led  # the buzzer beeps with the LED
    heel_cues = run.cues_of("heel")
    for contact, real in zip(contacts, truth["heel_contacts"]):
        onset = contact["t_ms"]
        on = [p for p in led if onset <= p[0] <= onset + LATENCY_LIMIT_MS]
        assert len(on) == 1, f"no LED within {LATENCY_LIMIT_MS} ms of the contact at {onset} ms: {led}"
        on_ms, off_ms = on[0]
        assert off_ms - on_ms == HEEL_MS  # one long blink
        # and against the simulated heel itself, not only the detector's dating of it
        assert 0 <= on_ms - real["t_ms"] <= LATENCY_LIMIT_MS
        cue = [c for c in heel_cues if c["onset_ms"] == onset]
        assert len(cue) == 1 and cue[0]["t_ms"] == on_ms and cue[0]["led"] == 1 and cue[0]["buzzer"] == 1
        LATENCIES.append((sensor, foot, on_ms - onset, on_ms - real["t_ms"]))
    # the only other heel cue is the heels lowering at the end (no event: it becomes set_end)
    end = run.of("set_end")[0]["t_ms"]
    assert sorted(c["onset_ms"] for c in heel_cues) == sorted([c["t_ms"] for c in contacts] + [end])
    assert len(led) == len(heel_cues)
    assert not run.cues_of("fade")


def test_report_latencies():
    """Prints the measured cue latencies (pytest -s); runs after the timing tests."""
    if not LATENCIES:
        pytest.skip("the timing tests did not run")
    worst = max(l[2] for l in LATENCIES)
    worst_truth = max(l[3] for l in LATENCIES)
    print(f"\nheel cue latency over {len(LATENCIES)} contacts: max {worst} ms after the detected onset, "
          f"max {worst_truth} ms after the simulated onset; all: {[l[2] for l in LATENCIES]}")
    assert worst <= LATENCY_LIMIT_MS


# ------------------------------------------------------------------ fading calves

@pytest.mark.parametrize("sensor", ["imu", "imu+fsr"])
@pytest.mark.parametrize("foot", ["left", "right"])
def test_fading_cue_when_the_heels_sag(pod, sensor, foot):
    run = pod("fade", sensor, foot, *PINS)
    steps = run.of("step")
    fades = run.cues_of("fade")
    want = expected_fade_steps(steps)
    assert want, "the sagging set should sag below 70 % of its opening steps"
    assert [c["step_no"] for c in fades] == want
    heights = [s["heel_mm"] for s in steps]
    for c in fades:
        assert c["open_mm"] == sum(heights[:4]) // 4
        assert c["heel_mm"] * 100 < c["open_mm"] * 70
        assert c["led"] == 1 and c["buzzer"] == 1
    # two short blinks and beeps per fading cue; the one heel cue is the final lowering
    led = run.pulses("led")
    assert run.pulses("buzzer") == led
    end = run.of("set_end")[0]["t_ms"]
    heel = run.cues_of("heel")
    assert [c["onset_ms"] for c in heel] == [end]
    want_pulses = []
    for c in fades:
        want_pulses += fade_pattern(c["t_ms"])
    want_pulses.append((heel[0]["t_ms"], heel[0]["t_ms"] + HEEL_MS))
    assert led == want_pulses


def test_fading_and_heel_patterns_are_distinct(pod):
    run = pod("both", "imu", "right", *PINS)
    heel = [c for c in run.cues_of("heel") if c["onset_ms"] in {e["t_ms"] for e in run.of("heel_contact")}]
    fades = run.cues_of("fade")
    assert heel and fades
    led = run.pulses("led")
    heel_pulses = [p for p in led if p[0] in {c["t_ms"] for c in heel}]
    fade_pulses = [p for c in fades for p in led if c["t_ms"] <= p[0] <= c["t_ms"] + sum(FADE_MS)]
    assert all(off - on == HEEL_MS for on, off in heel_pulses) and len(heel_pulses) == len(heel)
    assert len(fade_pulses) == 2 * len(fades)  # two blinks per fading cue, one per heel cue
    assert all(off - on == FADE_MS[0] for on, off in fade_pulses)


def test_no_fading_cue_without_heel_height(pod):
    # FSR pads alone cannot measure heel height: no fading cue, heel cues as usual
    run = pod("fade", "fsr", "right", *PINS)
    assert all(s["heel_mm"] is None for s in run.of("step"))
    assert not run.cues_of("fade")


@pytest.mark.parametrize("sensor", ["imu", "imu+fsr"])
@pytest.mark.parametrize("foot", ["left", "right"])
def test_clean_set_gives_no_cue_while_walking(pod, sensor, foot):
    run = pod("clean", sensor, foot, *PINS)
    assert len(run.of("step")) == 8 and not run.of("heel_contact")
    assert not run.cues_of("fade")
    end = run.of("set_end")[0]["t_ms"]
    # the heels lowering at the end is the only heel cue: nothing blinks during the walk
    assert [c["onset_ms"] for c in run.cues_of("heel")] == [end]
    assert all(on >= end for on, _ in run.pulses("led"))
    assert len(run.pulses("led")) == 1


# ------------------------------------------------------------------ settings: off means off

def test_cues_turned_off_toggle_nothing(pod):
    on = pod("both", "imu", "right", *PINS)
    assert on.cues_of("heel") and on.cues_of("fade") and on.toggles["led"] and on.toggles["buzzer"]
    off = pod("both", "imu", "right", *PINS, "cue_heel=0", "cue_fade=0")
    assert off.toggles == {"led": [], "buzzer": []}
    assert off.cues == []
    assert off.events == on.events  # detection itself is untouched


def test_outputs_off_still_report_the_cue(pod):
    on = pod("both", "imu", "right", *PINS)
    quiet = pod("both", "imu", "right", *PINS, "cue_led=0", "cue_buzzer=0")
    assert quiet.toggles == {"led": [], "buzzer": []}
    assert [dict(c, led=1, buzzer=1) for c in quiet.cues] == on.cues
    assert all(c["led"] == 0 and c["buzzer"] == 0 for c in quiet.cues)


def test_buzzer_off_keeps_the_led(pod):
    on = pod("both", "imu", "right", *PINS)
    run = pod("both", "imu", "right", *PINS, "cue_buzzer=0")
    assert run.toggles["buzzer"] == [] and run.toggles["led"] == on.toggles["led"]
    assert all(c["led"] == 1 and c["buzzer"] == 0 for c in run.cues)


@pytest.mark.parametrize("off,kept", [("cue_heel", "fade"), ("cue_fade", "heel")])
def test_one_kind_off(pod, off, kept):
    on = pod("both", "imu", "right", *PINS)
    run = pod("both", "imu", "right", *PINS, f"{off}=0")
    assert run.cues == on.cues_of(kept) and run.cues
    starts = {c["t_ms"] for c in run.cues}
    assert {on_ms for on_ms, _ in run.pulses("led")} <= {t for t in starts} | {t + 200 for t in starts}


def test_active_buzzer_is_a_plain_pin(pod):
    # a port without machine.PWM, and a buzzer with its own oscillator: switched like the LED
    pwm = pod("touch", "imu", "right", *PINS)
    run = pod("touch", "imu", "right", *PINS, "buzzer_type=active", "nopwm")
    assert run.toggles["buzzer"] == pwm.toggles["buzzer"] and run.toggles["buzzer"]


def test_no_pins_on_the_unix_board_still_reports_cues(pod):
    run = pod("touch", "imu", "right")  # boards/unix.json: led and buzzer null
    assert run.toggles == {"led": [], "buzzer": []}
    assert run.cues_of("heel") and all(c["led"] == 0 and c["buzzer"] == 0 for c in run.cues)


def test_heel_cue_runs_with_the_heap_locked(pod):
    """The check can fail: a pin that allocates when toggled breaks the per-sample path."""
    run = pod("touch", "imu", "right", *PINS, "allocating")
    first = pod("touch", "imu", "right", *PINS).cues_of("heel")[0]
    # raised while processing the sample that confirmed the contact: the last finished one is 10 ms before
    assert run.memory_error == f"MEMORYERROR t={first['t_ms'] - 10}"


def test_bad_cue_config_is_refused_on_the_line(micropython, sets):
    """firmware/main.py says what is wrong in an ERR config line, as for any bad board config."""
    raw = sets("touch", "imu")["right"][0]
    for args, msg in [(("cue_fade_pct=10",), "cue_fade_pct must be 30..95"),
                      (("buzzer=15",), "board config: led/buzzer set; but this port has no machine.Pin (use null)")]:
        proc = subprocess.run([micropython, str(FIRMWARE / "main.py"), str(BOARDS / "unix.json"), f"replay={raw}",
                               *args], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert proc.returncode != 0
        line = StreamChecker().feed(proc.stdout.splitlines()[0])
        assert line.kind == "ERR" and ",".join(line.fields) == "config," + msg


def test_make_cues_under_cpython_and_errors():
    cues = firmware.load("cues")
    import fake_pins

    m = fake_pins.FakeOutputMachine(lambda: 0, pwm=False)
    with pytest.raises(ValueError, match="buzzer 15 \\(pwm\\)"):
        cues.make_cues({"led": "LED", "buzzer": 15}, m)  # a passive piezo needs machine.PWM
    with pytest.raises(ValueError, match="no machine.Pin"):
        cues.make_cues({"led": 2})
    c = cues.make_cues({"led": 2, "buzzer": 4, "buzzer_type": "active", "cue_fade_pct": 60}, m)
    assert c.led_used() == 1 and c.buzzer_used() == 1 and c.cue_fade_pct == 60 and not c.pwm
    with pytest.raises(ValueError, match="cue_led must be 0..1"):
        c.set("cue_led", 2)
    with pytest.raises(ValueError, match="unknown parameter"):
        c.set("cue_volume", 1)


# ------------------------------------------------------------------ host: protocol, session, live view

def _lines(*items):
    return [encode(seq, 1000 + seq, kind, payload) for seq, (kind, payload) in enumerate(items)]


CUE_STREAM = _lines(
    ("H", "calfwalk=0.1.0,proto=1,board=pico-fsr,foot=left,sensor=imu,rate_hz=100"),
    ("C", "heel,t=11690,onset=11660,led=1,buzzer=1"),
    ("E", "heel_contact,t=11660,duration_ms=350,impact_mg=1058,load_pct=-1"),
    ("C", "fade,t=24050,step_no=10,heel_mm=43,open_mm=65,led=1,buzzer=0"),
    ("C", "heel,t=28380,onset=28320,led=1,buzzer=0"),
    ("E", "set_end,t=28320,steps=12"),
)


def test_cue_lines_parse_and_count_as_good():
    checker = StreamChecker()
    lines = [checker.feed(t) for t in CUE_STREAM]
    assert all(lines) and checker.stats.corrupt == 0 and checker.stats.lines == len(CUE_STREAM)
    cues = [cue_from_line(l, "left") for l in lines if l.kind == "C"]
    assert cues[0] == {"type": "cue", "kind": "heel", "foot": "left", "t_ms": 11690, "onset_ms": 11660,
                       "led": 1, "buzzer": 1}
    assert cues[1]["kind"] == "fade" and cues[1]["heel_mm"] == 43 and cues[1]["open_mm"] == 65
    # events are parsed as before; a cue is not an event and an unknown cue kind is skipped
    assert event_from_line(lines[2], "left")["type"] == "heel_contact"
    assert event_from_line(lines[1], "left") is None
    odd = checker.feed(encode(6, 2000, "C", "sparkle,t=5"))
    assert odd is not None and cue_from_line(odd, "left") is None


def _view(lines):
    from rich.console import Console

    from calfwalk.output.live import LiveView

    console = Console(file=io.StringIO(), width=200, record=True)
    view = LiveView(console=console)
    pod = SimpleNamespace(foot="left", index=0, checker=StreamChecker())
    for text in lines:
        line = pod.checker.feed(text)
        view.on_line(pod, line, event_from_line(line, "left") if line.kind == "E" else None)
        console.print(view.render())
    return view, console.export_text()


def test_live_view_flashes_and_logs_the_cues():
    view, screen = _view(CUE_STREAM[:2])
    assert "HEEL DOWN" in screen
    assert any("cue HEEL DOWN (30 ms after the heel touched; led+buzzer) at 11.7 s" in l for l in view.log)
    view, screen = _view(CUE_STREAM[:4])
    assert "HEELS SAGGING — calves fading" in screen
    assert any("HEELS SAGGING — calves fading (step 10: heel 43 mm, opening steps 65 mm; led)" in l for l in view.log)
    view, _ = _view(CUE_STREAM)
    assert view.log[-1] == "left: (the last HEEL DOWN cue was the heels lowering to end the set)"


def test_live_view_without_cues_is_unchanged():
    view, screen = _view(CUE_STREAM[:1] + CUE_STREAM[2:3])
    assert "HEEL DOWN" not in screen and "SAGGING" not in screen and not any("cue" in l for l in view.log)


def test_pod_on_a_pty_streams_its_cues_to_the_live_view(tmp_path, pod, sets):
    """The firmware (unix port, behind a pty) -> Recorder -> LiveView and the session file."""
    from rich.console import Console

    from calfwalk.link.transport import open_transport
    from calfwalk.output.live import LiveView
    from calfwalk.sim.podsim import PodProcess
    from calfwalk.link.recorder import Recorder
    from calfwalk.files.session import read_session
    from calfwalk.analysis.pipeline import summarise_session

    raw = sets("both", "imu")["right"][0]
    view = LiveView(console=Console(file=io.StringIO(), width=200))
    session = tmp_path / "cues.cwlog"
    with PodProcess(str(raw), speed=0) as proc:
        Recorder([proc.port], str(session), open_transport, reconnect_s=0, on_line=view.on_line).run(seconds=60)
    logged = "\n".join(view.log)
    assert "cue HEEL DOWN" in logged and "cue HEELS SAGGING — calves fading" in logged
    s = read_session(session)
    got = s.pods[0].cues
    # exactly the cues of the pod run with fake pins (same firmware, same samples), minus the pins
    want = [dict(c, led=0, buzzer=0) for c in pod("both", "imu", "right", *PINS).cues]
    assert got == want
    summary = summarise_session(s)
    assert summary["pod_cues"] == {"right": {"heel": len([c for c in got if c["kind"] == "heel"]),
                                             "fade": len([c for c in got if c["kind"] == "fade"])}}
    assert summary["link"]["right"]["corrupt"] == 0


# ------------------------------------------------------------------ settings from the host

def test_config_set_cue_setting_is_stored_on_the_pod(tmp_path, sets, capsys):
    from calfwalk.cli import main
    from calfwalk.sim.podsim import PodProcess

    raw = sets("touch", "imu")["right"][0]
    with PodProcess(str(raw), speed=1) as proc:
        assert main(["config", "get", "cue_buzzer", "--port", proc.port]) == 0
        assert "cue_buzzer=1,range=0..1" in capsys.readouterr().out
        assert main(["config", "set", "cue_buzzer=0", "--port", proc.port]) == 0
        out = capsys.readouterr().out
        assert "cue_buzzer=0" in out and "1 parameters stored" in out
        with open(proc.config_path) as fh:
            stored = json.load(fh)
        assert stored["cue_buzzer"] == 0 and stored["params"] == {}
        assert main(["config", "set", "cue_fade_pct", "10", "--port", proc.port]) == 2
        assert "cue_fade_pct must be 30..95" in capsys.readouterr().err
        saved = tmp_path / "saved.json"
        saved.write_text(open(proc.config_path).read())
        # back to the default: the key leaves the stored config
        assert main(["config", "set", "cue_buzzer", "1", "--port", proc.port]) == 0
        capsys.readouterr()
        with open(proc.config_path) as fh:
            assert "cue_buzzer" not in json.load(fh)
    # a pod booting with the stored setting has its buzzer cues off
    with PodProcess(str(raw), speed=1, board=str(saved)) as proc:
        assert main(["config", "get", "cue_buzzer", "--port", proc.port]) == 0
        assert "cue_buzzer=0,range=0..1" in capsys.readouterr().out


def test_record_prints_the_cues(tmp_path, sets, capsys):
    from calfwalk.cli import main
    from calfwalk.sim.podsim import PodProcess

    raw = sets("touch", "imu")["right"][0]
    with PodProcess(str(raw), speed=0) as proc:
        assert main(["record", "--port", proc.port, "-o", str(tmp_path / "r.cwlog")]) == 0
    err = capsys.readouterr().err
    assert err.count("cue: HEEL DOWN") == 3  # two heel contacts and the final lowering
