"""Cues while walking: the pod blinks its LED and beeps its buzzer.

Two cues while walking. HEEL: a heel came down (one long blink and beep), given as soon as the
detector confirms the contact, well before its heel_contact event (which waits
for the heel to lift again). FADE: a step's heel height sagged below
cue_fade_pct % of the set's opening steps, the calves are fading (two short
blinks and beeps). And LOG_FULL: the pod's log has no room left (three short
blinks and beeps; the pod keeps counting). Starting a cue and playing its pattern allocate nothing: the
app starts HEEL from its per-sample path with the heap locked, and `service`
plays the on/off pattern on the app's clock, never with sleep.

The output pins are built from the board config with an injected `machine`
(`make_cues`), so tests give it a fake one that records every toggle.
"""

from detector import checked

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):  # type: ignore[misc]  # CPython stand-in for micropython.const
        return x


try:
    from time import ticks_diff
except ImportError:  # CPython

    def ticks_diff(a, b):  # type: ignore[no-redef]  # CPython stand-in: no wrap
        return a - b


NONE = const(0)
HEEL = const(1)
FADE = const(2)
LOG_FULL = const(3)
KIND_NAMES = ("none", "heel", "fade", "log_full")
# per kind: on, off, on, ... durations in ms (LED and buzzer together)
PATTERNS = ((0,), (300,), (80, 120, 80), (80, 120, 80, 120, 80))
_DUTY_ON = const(32768)  # half duty: a passive piezo's loudest square wave

# name, default, min, max: the cue settings (`set`/`get`/`save`, or keys in calfwalk.json)
SETTINGS = (
    ("cue_heel", 1, 0, 1),  # cue a heel contact
    ("cue_fade", 1, 0, 1),  # cue fading calves (needs an IMU: heel height)
    ("cue_led", 1, 0, 1),  # cues blink the LED
    ("cue_buzzer", 1, 0, 1),  # cues beep the buzzer
    ("cue_fade_pct", 70, 30, 95),  # fading: a step's heel below this % of the opening steps
    ("cue_fade_open", 4, 2, 20),  # opening steps (of this foot, with a heel height) that set the reference
    ("cue_fade_every", 4, 1, 100),  # at most one fading cue per this many steps
)
BUZZER_TYPES = ("pwm", "active")


class Cues:
    """Cue settings, the LED and buzzer outputs (either may be None), and the pattern playing."""

    def __init__(self, cfg=None, led=None, buzzer=None, pwm=False):
        self.led = led
        self.buzzer = buzzer
        self.pwm = pwm
        # each starts at its SETTINGS default (the loop below); named here for the type checker
        self.cue_heel = self.cue_fade = self.cue_led = self.cue_buzzer = 0
        self.cue_fade_pct = self.cue_fade_open = self.cue_fade_every = 0
        for name, default, _lo, _hi in SETTINGS:
            setattr(self, name, default)
        if cfg:
            for name, _d, _lo, _hi in SETTINGS:
                if name in cfg:
                    self.set(name, cfg[name])
        self.kind = NONE  # pattern playing
        self.idx = 0  # its current segment
        self.t_start = 0  # when it started (app clock)
        self.until_ms = 0  # when its current segment ends, ms after t_start
        self.down = False  # the detector's heel_down as last seen
        self.new_set()
        self.all_off()

    # -- settings ------------------------------------------------------
    def set(self, name, value):
        """Set one cue setting; ValueError (state unchanged) if unknown or out of range."""
        value = checked(name, value, SETTINGS)
        setattr(self, name, value)
        if name in ("cue_led", "cue_buzzer") and not value:
            self.all_off()  # an output turned off mid-pattern must not stay on
        return value

    def led_used(self):
        """1 if cues drive the LED (fitted and enabled)."""
        return 1 if self.led is not None and self.cue_led else 0

    def buzzer_used(self):
        """1 if cues drive the buzzer (fitted and enabled)."""
        return 1 if self.buzzer is not None and self.cue_buzzer else 0

    # -- triggers (no allocation) ----------------------------------------
    def heel(self, down, now_ms):
        """The detector's heel_down changed; True if a HEEL cue started."""
        self.down = down
        if down and self.cue_heel:
            self.start(HEEL, now_ms)
            return True
        return False

    def new_set(self):
        """A set started: forget the opening steps' heel height."""
        self.open_sum = 0
        self.open_n = 0
        self.open_mm = 0  # reference heel height of this set, 0 until the opening steps are in
        self.since_fade = 1 << 20  # steps since the last fading cue

    def step(self, heel_mm, now_ms):
        """One step's heel height (negative: unknown); True if a FADE cue started."""
        if heel_mm < 0:
            return False
        if self.open_n < self.cue_fade_open:
            self.open_sum += heel_mm
            self.open_n += 1
            if self.open_n == self.cue_fade_open:
                self.open_mm = self.open_sum // self.open_n
            return False
        self.since_fade += 1
        if (self.cue_fade and self.open_mm > 0 and self.since_fade >= self.cue_fade_every
                and heel_mm * 100 < self.open_mm * self.cue_fade_pct):
            self.since_fade = 0
            self.start(FADE, now_ms)
            return True
        return False

    def log_full(self, now_ms):
        """The pod's log has no room left (logbook.py): three short blinks and beeps."""
        self.start(LOG_FULL, now_ms)

    # -- outputs -------------------------------------------------------
    def start(self, kind, now_ms):
        """Play a pattern from now (a newer cue replaces one still playing)."""
        self.kind = kind
        self.idx = 0
        self.t_start = now_ms
        self.until_ms = PATTERNS[kind][0]
        self._out(1)

    def service(self, now_ms):
        """Advance the pattern playing to now_ms; call it every pass of the loop."""
        kind = self.kind
        if kind == NONE:
            return
        pat = PATTERNS[kind]
        elapsed = ticks_diff(now_ms, self.t_start)
        while elapsed >= self.until_ms:
            i = self.idx + 1
            if i >= len(pat):
                self.kind = NONE
                self._out(0)
                return
            self.idx = i
            self.until_ms += pat[i]
            self._out(0 if i & 1 else 1)

    def _out(self, v):
        if self.led is not None and self.cue_led:
            self.led.value(v)
        if self.buzzer is not None and self.cue_buzzer:
            if self.pwm:
                self.buzzer.duty_u16(_DUTY_ON if v else 0)
            else:
                self.buzzer.value(v)

    def all_off(self):
        """Every fitted output off, whatever the settings."""
        if self.led is not None:
            self.led.value(0)
        if self.buzzer is not None:
            if self.pwm:
                self.buzzer.duty_u16(0)
            else:
                self.buzzer.value(0)


def make_cues(cfg, machine=None):
    """Cues for a board config: "led" (pin number or name, or null), "buzzer" (pin or null),
    "buzzer_type" ("pwm": a passive piezo driven at "buzzer_hz"; "active": a buzzer with its
    own oscillator, switched on and off), pins built with the injected `machine`."""
    led_id = cfg.get("led")
    buzz_id = cfg.get("buzzer")
    btype = cfg.get("buzzer_type", "pwm")
    if btype not in BUZZER_TYPES:
        raise ValueError('board config: buzzer_type must be "pwm" or "active", got %r' % (btype,))
    led = buzzer = None
    if led_id is not None or buzz_id is not None:
        if machine is None or not hasattr(machine, "Pin"):
            raise ValueError("board config: led/buzzer set, but this port has no machine.Pin (use null)")
    if led_id is not None:
        try:
            led = machine.Pin(led_id, machine.Pin.OUT)
        except (ValueError, TypeError) as exc:
            raise ValueError("board config led %r: %s" % (led_id, exc))
    if buzz_id is not None:
        try:
            pin = machine.Pin(buzz_id, machine.Pin.OUT)
            if btype == "pwm":
                buzzer = machine.PWM(pin)
                buzzer.freq(cfg.get("buzzer_hz", 2700))
            else:
                buzzer = pin
        except (ValueError, TypeError, AttributeError) as exc:
            raise ValueError("board config buzzer %r (%s): %s" % (buzz_id, btype, exc))
    return Cues(cfg, led, buzzer, pwm=btype == "pwm")
