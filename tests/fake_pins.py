"""Fake output pins for the cue tests: a `machine` with Pin and PWM that record every change.

Runs under CPython and MicroPython alike. Each output keeps (t_ms, value) pairs,
t_ms from the clock it is given, in a preallocated array: recording allocates
nothing, so a cue started with the heap locked can be recorded.
`allocating=True` records into a growing list instead, to show that a heap-locked
path which allocates is caught (MemoryError).
"""

from array import array

_CAP = 4000  # changes kept per output


class _Recorder:
    def __init__(self, name, clock, allocating=False):
        self.name = name
        self.clock = clock
        self.allocating = allocating
        self.log = array("i", range(2 * _CAP))  # t_ms, value pairs (sized up front, no temporary list)
        self.n = 0
        self.state = 0
        self.junk = []

    def _record(self, v):
        if v == self.state:
            return  # not a toggle
        self.state = v
        if self.allocating:
            self.junk.append((v,))
        if self.n < _CAP:
            self.log[2 * self.n] = self.clock()
            self.log[2 * self.n + 1] = v
            self.n += 1

    def changes(self):
        """[(t_ms, value), ...] in order."""
        return [(self.log[2 * k], self.log[2 * k + 1]) for k in range(self.n)]


class FakeOutPin(_Recorder):
    """machine.Pin stand-in: value(v) records a toggle; value() reads it back."""

    OUT = 1
    IN = 0

    def __init__(self, id, mode=None, clock=None, allocating=False):
        _Recorder.__init__(self, "pin %s" % (id,), clock, allocating)
        self.id = id
        self.mode = mode

    def value(self, v=None):
        if v is None:
            return self.state
        self._record(1 if v else 0)
        return None


class FakePWM(_Recorder):
    """machine.PWM stand-in: the recorded value is 1 while the duty is above 0."""

    def __init__(self, pin, clock=None, allocating=False):
        _Recorder.__init__(self, "pwm %s" % (pin.id,), clock, allocating)
        self.pin = pin
        self.hz = 0
        self.duty = 0

    def freq(self, hz=None):
        if hz is None:
            return self.hz
        self.hz = hz
        return None

    def duty_u16(self, d=None):
        if d is None:
            return self.duty
        self.duty = d
        self._record(1 if d > 0 else 0)
        return None


class _PinClass:
    """Callable like machine.Pin, with Pin.OUT; keeps every pin made."""

    OUT = FakeOutPin.OUT
    IN = FakeOutPin.IN

    def __init__(self, machine):
        self.machine = machine

    def __call__(self, id, mode=None):
        m = self.machine
        pin = FakeOutPin(id, mode, m.clock, m.allocating)
        m.pins[id] = pin
        return pin


class FakeOutputMachine:
    """A `machine` module for make_cues: Pin and (unless pwm=False) PWM, recording on `clock`."""

    def __init__(self, clock, pwm=True, allocating=False):
        self.clock = clock
        self.allocating = allocating
        self.pins = {}  # id -> FakeOutPin
        self.pwms = {}  # id -> FakePWM
        self.Pin = _PinClass(self)
        if pwm:
            self.PWM = self._pwm

    def _pwm(self, pin):
        out = FakePWM(pin, self.clock, self.allocating)
        self.pwms[pin.id] = out
        return out
