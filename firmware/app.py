"""The pod's main loop: sample -> ring -> detector -> protocol lines, host commands in between.

Sampling is paced by the clock (or a machine.Timer on boards that have one)
into a preallocated ring; the loop drains the ring through the detector, so a
slow write or a garbage collection delays processing but loses no sample. Host
commands are read a character at a time without blocking (select.poll) and are
parsed, never executed. Events, cues and drops also go into the pod's log on its
flash (logbook.py, fed by the protocol encoder), written from the loop, never from
the sampling path.
"""

import sys
import time

try:
    import select
except ImportError:  # pragma: no cover - every supported port has select
    select = None  # type: ignore[assignment]  # a port without select

try:
    from micropython import heap_lock, heap_unlock
except ImportError:  # CPython

    def heap_lock():  # type: ignore[misc]  # CPython stand-in: no heap to lock
        pass

    heap_unlock = heap_lock

import detector as det_mod
import protocol
from core import make_core
from cues import FADE, HEEL, SETTINGS as CUE_SETTINGS, Cues

# the one version of calfwalk: the pod reports it (H calfwalk=, S fw=), the host package is built with it
VERSION = "0.1.0"
_MAX_CMD = 80
# input bytes handled per pass of the loop: a burst from the host waits for the next pass
# instead of holding up the drain (the ring covers 64 samples; see tests/mpy/cmd_fuzz.py)
_MAX_READ = 64
COMMANDS = "start stop calibrate unloaded save status raw set get log pull pulled clock help"
_LOG_COMMANDS = ("log", "pull", "pulled", "clock")  # handled by logread.py
_STATE_NAMES = ("cal", "ready", "set")
# per event kind: ("step,t=%d,stance_ms=%d,...", number of fields after t), built once
_EVENT_FMT = {}
for _kind in det_mod.EVENT_NAMES:
    _names = det_mod.EVENT_FIELDS[_kind]
    _EVENT_FMT[_kind] = (det_mod.EVENT_NAMES[_kind] + ",t=%d" + "".join([",%s=%%d" % f for f in _names]), len(_names))
del _kind, _names


def ticks_ms():
    return time.ticks_ms()


def ticks_diff(a, b):
    return time.ticks_diff(a, b)


class App:
    """One pod: board config, a sample source, an output stream and an input stream.

    `cues` (see cues.py) carries the LED and buzzer, built by main.py from the board
    config; without it the pod still reports its cues (C lines) but drives no pin.
    """

    def __init__(self, cfg, source, out=None, inp=None, clock=None, det=None, ring=None, cues=None, log=None):
        self.cfg = cfg
        self.source = source
        self.out = out or sys.stdout
        self.inp = inp or sys.stdin
        self.clock = clock or ticks_ms
        # main.py builds the big long-lived pieces before loading this module (see make_core)
        self.ring, self.det = (ring, det) if det is not None else make_core(cfg)
        self.det_update = self.det.update  # bound once: a lookup on the detector per sample is slow
        self.params = self.det.p
        self.cues = cues if cues is not None else Cues(cfg)
        # the log on flash (or None) goes with the encoder: no App attribute (RAM: the instance's dict)
        self.enc = protocol.Encoder(self.out, log)
        self.running = bool(cfg.get("autostart", True))
        self.raw = False
        self.samples = 0
        self.t0 = None  # first sample's time: the detector sees time since then
        self.t_last = 0
        self.src_state = "live"
        self.boot = self.clock()
        self.t_run = self.boot
        self.last_hb = self.boot
        self.reported_drops = 0
        self.quit = False
        self.timer = None
        self._base_left = 0  # samples still to average for the FSR unloaded baseline
        self._base_h = self._base_f = 0
        # the command being typed: bytes, never decoded text (line noise or a Latin-1 terminal
        # sends bytes that are not UTF-8); anything but printable ASCII is kept as "?"
        self._cmd = bytearray(_MAX_CMD)
        self._cmd_n = 0  # bytes in _cmd; _MAX_CMD + 1: the line is too long (no more attributes: RAM)
        self._poll = None
        if log is not None:  # the log on the pod's flash (logbook.Log, built by main.py): the encoder feeds it
            log.head = self._hello()
            log.start(".evt", self.now())  # the boot, in a file of its own
        if select is not None and self.inp is not None:
            try:
                self._poll = select.poll()
                self._poll.register(self.inp, select.POLLIN)
            except (OSError, TypeError, AttributeError):
                self._poll = None

    # -- output --------------------------------------------------------
    def now(self):
        return ticks_diff(self.clock(), self.boot)

    def send(self, kind, payload):
        self.enc.line(self.now(), kind, payload)

    def _hello(self):
        c = self.cfg
        log = self.enc.log
        return "calfwalk=%s,proto=1,board=%s,foot=%s,sensor=%s,rate_hz=%d,boot=%d" % (
            VERSION, c["board"], c["foot"], c["sensor"], c["rate_hz"], log.boot if log is not None else -1)

    def hello(self):
        self.send(protocol.HELLO, self._hello())

    def status(self):
        d = self.det
        self.send(protocol.STATUS, "state=%s,run=%d,raw=%d,steps=%d,heel_mm=%d,samples=%d,dropped=%d,src=%s,t0=%d,ts=%d,foot=%s,bus_errors=%d,fw=%s,log=%s" % (
            _STATE_NAMES[d.state], 1 if self.running else 0, 1 if self.raw else 0, d.steps,
            d.heel_mm_now(), self.samples, self.ring.dropped, self.src_state,
            self.t0 if self.t0 is not None else 0, self.t_last, self.cfg["foot"], getattr(self.source, "errors", 0),
            VERSION, "off" if self.enc.log is None else ("full" if self.enc.log.full else "on")))

    def _events(self, n):
        ev = self.det.ev
        fmt = _EVENT_FMT
        t0 = self.t0
        cues = self.cues
        log = self.enc.log
        for k in range(n):
            i = k * det_mod.EV_WIDTH
            ev[i + 1] += t0  # event time on the samples' clock
            kind = ev[i]
            f = fmt[kind]
            if kind == det_mod.EV_SET_START and log is not None:
                log.start(".set", self.now())  # each set in a file of its own
            self.send(protocol.EVENT, f[0] % tuple(ev[i + 1:i + 2 + f[1]]))
            if kind == det_mod.EV_SET_END and log is not None:
                log.end_set()  # the whole set on flash now
            if kind == det_mod.EV_STEP:
                if cues.step(ev[i + 3], self.clock()):
                    self._cue_line(FADE, ev[i + 7], ev[i + 3])
            elif kind == det_mod.EV_SET_START:
                cues.new_set()

    def _cue_line(self, kind, a, b=0):
        """Report a cue the pod just gave: the host's live view shows the same."""
        c = self.cues
        if kind == HEEL:
            payload = "heel,t=%d,onset=%d" % (self.t_last, a)
        else:
            payload = "fade,t=%d,step_no=%d,heel_mm=%d,open_mm=%d" % (self.t_last, a, b, c.open_mm)
        self.send(protocol.CUE, payload + ",led=%d,buzzer=%d" % (c.led_used(), c.buzzer_used()))

    def _raw_line(self, buf, i):
        # the raw v1 columns of this sensor kind, so a recording can be rebuilt from the stream
        sensor = self.cfg["sensor"]
        if sensor == "imu":
            cols = buf[i:i + 7]
        elif sensor == "fsr":
            cols = (buf[i], buf[i + 7], buf[i + 8], buf[i + 9])
        elif sensor == "acc":  # an accelerometer alone: no gyro columns (the slot's are zero)
            cols = buf[i:i + 4]
        elif sensor == "acc+fsr":
            cols = (buf[i], buf[i + 1], buf[i + 2], buf[i + 3], buf[i + 7], buf[i + 8], buf[i + 9])
        else:
            cols = buf[i:i + 10]
        self.send(protocol.RAW, ",".join([str(v) for v in cols]))

    # -- sampling ------------------------------------------------------
    def attach_timer(self, timer):
        """Sample from a periodic timer (machine.Timer on a board) instead of the loop's clock."""
        self.timer = timer
        timer.init(freq=self.cfg["rate_hz"], mode=timer.PERIODIC, callback=self.tick)

    def tick(self, _timer=None):
        """Timer callback: one sample into the ring; a full ring drops it (counted, never blocks)."""
        if not self.running or self.source.done:
            return
        i = self.ring.slot()
        if i < 0:
            return
        heap_lock()  # a timer callback must not allocate; this also proves it does not
        try:
            self.source.read_into(self.ring.buf, i)
        finally:
            heap_unlock()
        if not self.source.done:  # a finished replay has nothing more to give
            self.ring.commit()

    def sample_due(self):
        """Move every sample that is due from the source into the ring (unix / replay pacing)."""
        src = self.source
        ring = self.ring
        elapsed = ticks_diff(self.clock(), self.t_run)
        moved = 0
        while moved < 64 and src.due(elapsed):
            if ring.count >= ring.capacity:
                break  # a replay waits for room; nothing is lost
            i = ring.slot()
            src.read_into(ring.buf, i)
            ring.commit()
            moved += 1
        return moved

    def drain(self):
        """Run every buffered sample through the detector; emit its events."""
        ring = self.ring
        buf = ring.buf
        det = self.det
        update = self.det_update
        cues = self.cues
        while True:
            i = ring.peek()
            if i < 0:
                return
            t = buf[i]
            if self.t0 is None:
                self.t0 = t
            cue = False
            # Heap locked: the detector and the heel cue allocate nothing, and MicroPython then
            # puts call frames on the C stack instead of the heap, so no sample pays for gc_alloc.
            heap_lock()
            try:
                n = update(t - self.t0, buf[i + 1], buf[i + 2], buf[i + 3], buf[i + 4], buf[i + 5],
                               buf[i + 6], buf[i + 7], buf[i + 8], buf[i + 9])
                # heel_down turns on when the contact is confirmed, long before its event
                # (sent when the heel lifts): the cue starts here, within the 100 ms budget
                if det.heel_down != cues.down:
                    cue = cues.heel(det.heel_down, self.clock())
            finally:
                heap_unlock()
            if self.raw:
                self._raw_line(buf, i)
            if self._base_left:
                self._base_sample(buf, i)
            ring.pop()
            self.samples += 1
            self.t_last = t
            if cue:
                self._cue_line(HEEL, det.onset_t + self.t0)
            if n:
                self._events(n)

    def _check_drops(self):
        if self.ring.dropped != self.reported_drops:
            self.send(protocol.DROP, "dropped=%d,total=%d" % (self.ring.dropped - self.reported_drops, self.ring.dropped))
            self.reported_drops = self.ring.dropped

    # -- commands ------------------------------------------------------
    def poll_input(self):
        """Read whatever the host typed, without blocking; handle complete lines.

        Bytes, not text: any byte value is taken (a non-ASCII one becomes "?", so the
        command is refused like any unknown one), and at most _MAX_READ a pass.
        """
        if self._poll is None:
            return
        inb = getattr(self.inp, "buffer", self.inp)  # the byte stream under a text stdin
        for _ in range(_MAX_READ):
            ready = self._poll.poll(0)
            if not ready:
                return
            data = inb.read(1) if ready[0][1] & select.POLLIN else None
            if not data:
                # no host on the other end (unix port: /dev/null or a closed pty): keep
                # sampling and sending, just stop listening
                self._poll = None
                return
            c = data[0]
            if not isinstance(c, int):  # a text stream with no byte buffer under it
                c = ord(c)
            if c == 10 or c == 13:  # \n or \r ends a line
                if self._cmd_n > _MAX_CMD:
                    self.send(protocol.ERR, "line,too long (max %d characters)" % _MAX_CMD)
                elif self._cmd_n:
                    self.command(bytes(self._cmd[:self._cmd_n]).decode())
                self._cmd_n = 0
            elif self._cmd_n >= _MAX_CMD:
                self._cmd_n = _MAX_CMD + 1
            else:
                self._cmd[self._cmd_n] = 32 if c == 9 else (c if 32 <= c < 127 else 63)
                self._cmd_n += 1

    def command(self, text):
        """Handle one command line; reply OK or ERR. Unknown input changes nothing."""
        words = text.strip().split()
        if not words:
            return
        name = words[0].lower()
        args = words[1:]
        handler = _HANDLERS.get(name)
        if handler is None and name not in _LOG_COMMANDS:
            safe = "".join([c if 32 <= ord(c) < 127 and c not in ",*$" else "?" for c in name[:16]])
            self.send(protocol.ERR, "%s,unknown command (try: %s)" % (safe, COMMANDS))
            return
        try:
            if handler is None:
                if self.enc.log is None:
                    raise ValueError("this pod keeps no log (board config: log)")
                import logread  # only when a PC asks: its code stays out of the walking pod's RAM

                reply = logread.command(self, name, args)
            else:
                reply = handler(self, args)
        except ValueError as exc:
            self.send(protocol.ERR, "%s,%s" % (name, str(exc).replace(",", ";")))
            return
        if reply is not None:  # None: the command replies later
            self.send(protocol.OK, name + ("," + reply if reply else ""))

    def _no_args(self, args):
        if args:
            raise ValueError("takes no arguments")

    def cmd_start(self, args):
        self._no_args(args)
        if self.running:
            return "already running"
        self.running = True
        # resume a replay where it stopped instead of rushing the missed time
        speed = self.cfg.get("replay_speed", 1) or 1
        behind = (self.t_last - self.t0) // speed if self.t0 is not None else 0
        self.t_run = time.ticks_add(self.clock(), -behind)
        return "running"

    def cmd_stop(self, args):
        self._no_args(args)
        if not self.running:
            return "already stopped"
        self.running = False
        self.drain()
        return "stopped"

    def cmd_calibrate(self, args):
        self._no_args(args)
        self.det.calibrate()
        return "stand still with the feet flat"

    def cmd_unloaded(self, args):
        """Measure the FSR pads' unloaded baseline over the next second (foot lifted)."""
        self._no_args(args)
        if "fsr" not in self.cfg["sensor"]:
            raise ValueError("this pod has no FSR pads")
        if not self.running:
            raise ValueError("start the pod first")
        self._base_left = self.cfg["rate_hz"]
        self._base_h = self._base_f = 0
        return None  # the reply comes when the second is over

    def _base_sample(self, buf, i):
        self._base_h += buf[i + 7]
        self._base_f += buf[i + 8] + buf[i + 9]
        self._base_left -= 1
        if self._base_left == 0:
            n = self.cfg["rate_hz"]
            h = self.params.set("fsr_heel_base", max(1, self._base_h // n))
            f = self.params.set("fsr_fore_base", max(1, self._base_f // n))
            self.det.configure()
            self.send(protocol.OK, "unloaded,fsr_heel_base=%d,fsr_fore_base=%d" % (h, f))

    def cmd_save(self, args):
        """Store the parameters (and the FSR references of the last calibration) in the board config."""
        self._no_args(args)
        det = self.det
        if det.fsr and det.h_ref:
            # the loaded references measured by the last standing calibration
            self.params.set("fsr_heel_ref", det.h_ref)
            self.params.set("fsr_fore_ref", det.f_ref)
        changed = {}
        for name, default, _lo, _hi in det_mod.params():
            v = getattr(self.params, name)
            if v != default and name != "rate_hz":
                changed[name] = v
        path = self.cfg.get("config_path", "calfwalk.json")
        import json

        try:
            with open(path) as f:
                stored = json.load(f)
        except (OSError, ValueError):
            raise ValueError("cannot read " + path)
        stored["params"] = changed
        n = len(changed)
        # cue settings are top-level board config keys; a default one is left out
        for name, default, _lo, _hi in CUE_SETTINGS:
            v = getattr(self.cues, name)
            if v != default:
                stored[name] = v
                n += 1
            elif name in stored:
                del stored[name]
        with open(path, "w") as f:
            json.dump(stored, f)
        return "%d parameters stored in %s" % (n, path)

    def cmd_status(self, args):
        self._no_args(args)
        self.hello()
        self.status()
        return ""

    def cmd_raw(self, args):
        if len(args) != 1 or args[0] not in ("on", "off"):
            raise ValueError("usage: raw on|off")
        self.raw = args[0] == "on"
        return "raw " + args[0]

    def cmd_set(self, args):
        if len(args) != 2:
            raise ValueError("usage: set KEY VALUE")
        key = args[0]
        if key == "rate_hz":
            raise ValueError("rate_hz comes from the board config")
        if key.startswith("cue_"):
            return "%s=%d" % (key, self.cues.set(key, args[1]))
        old_k = self.det.lp_k
        value = self.params.set(key, args[1])
        self.det.configure()
        if self.det.lp_k != old_k:
            self.det.calibrate()  # the tilt filter's scale changed: learn gravity again
        return "%s=%d" % (key, value)

    def cmd_get(self, args):
        if len(args) != 1:
            raise ValueError("usage: get KEY")
        for name, _d, lo, hi in det_mod.params():
            if name == args[0]:
                return "%s=%d,range=%d..%d" % (name, getattr(self.params, name), lo, hi)
        for name, _d, lo, hi in CUE_SETTINGS:
            if name == args[0]:
                return "%s=%d,range=%d..%d" % (name, getattr(self.cues, name), lo, hi)
        raise ValueError("unknown parameter " + args[0][:24])

    def cmd_help(self, args):
        return COMMANDS

    # -- loop ----------------------------------------------------------
    def step(self):
        """One pass of the loop; returns True if it did any work."""
        busy = False
        lines = self.enc.lines
        if self.running and not self.source.done:
            if self.timer is None and self.sample_due():
                busy = True
            self.drain()
            if self.source.done:
                self._source_finished()
        self._check_drops()
        self.poll_input()
        now = self.clock()
        self.cues.service(now)
        log = self.enc.log
        # a pass that sent lines (each stalls the loop, the samples waiting in the ring) leaves its
        # log write and heartbeat to the next: one pass's stalls stay within what the ring covers
        quiet = self.enc.lines == lines
        if log is not None and log.service(self, quiet):
            busy = True
        if quiet and ticks_diff(now, self.last_hb) >= self.cfg.get("heartbeat_ms", 1000):
            self.last_hb = now
            self.status()
        return busy

    def _source_finished(self):
        n = self.det.flush(self.t_last - (self.t0 or 0))
        if n:
            self._events(n)
        self.src_state = "end"
        log = self.enc.log
        if log is not None and log.ending:
            log.service(self)  # (the recording is over: the set's end goes to flash now)
        self.status()
        if self.cfg.get("exit_at_end"):
            self.quit = True

    def run(self):
        self.hello()
        self.status()
        idle_ms = 2
        while not self.quit:
            if not self.step():
                time.sleep_ms(idle_ms) if hasattr(time, "sleep_ms") else time.sleep(idle_ms / 1000)


_HANDLERS = {
    "start": App.cmd_start,
    "stop": App.cmd_stop,
    "calibrate": App.cmd_calibrate,
    "unloaded": App.cmd_unloaded,
    "save": App.cmd_save,
    "status": App.cmd_status,
    "raw": App.cmd_raw,
    "set": App.cmd_set,
    "get": App.cmd_get,
    "help": App.cmd_help,
}
