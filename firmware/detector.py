"""Step and heel-contact detector for one shoe: integer-only, allocation-free.

Runs unchanged under MicroPython (on the pod) and CPython (on the host, which
replays raw recordings through this very module). Feed one sample at a time to
`Detector.update`; it returns how many events this sample produced and leaves
them in `Detector.ev`, EV_WIDTH ints each (see the EV_* kinds below).

Method (see DOMAIN.md): gravity is learned while the foot stands still and flat,
the forward tilt direction when the heel rises onto the toes, and the pitch axis
from the two. Heel height is the accelerometer's projection on the forward axis
(1000 mg * sin(pitch)), compared with integer thresholds: no trigonometry.
Steps are swings: gyro activity long enough and rotating far enough about the
pitch axis, followed by a quiet landing. FSR pads give the heel load, forefoot
load cycles (steps without an IMU) and the big-toe share of the push.
"""

from array import array

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):  # type: ignore[misc]  # CPython stand-in for micropython.const
        return x


# Event kinds; every event is EV_WIDTH ints: kind, t_ms, then kind-specific fields.
EV_CALIBRATED = const(1)  # t_ms, up_x, up_y, up_z (Q10 unit vector), heel_ref, fore_ref
EV_SET_START = const(2)  # t_ms (heels rise onto the toes)
EV_STEP = const(3)  # t_ms (landing), stance_ms, heel_mm, pause_ms, peaks, med_pct, step_no
EV_HEEL = const(4)  # t_ms (onset), duration_ms, impact_mg, load_pct
EV_SET_END = const(5)  # t_ms (heels reach the floor after the last step), steps
EV_WIDTH = const(8)
EV_SLOTS = const(4)
UNKNOWN = const(-1)  # a field the fitted sensors cannot measure

EVENT_NAMES = {
    EV_CALIBRATED: "calibrated",
    EV_SET_START: "set_start",
    EV_STEP: "step",
    EV_HEEL: "heel_contact",
    EV_SET_END: "set_end",
}
# names of the fields after t_ms, per kind (the protocol and the host use these)
EVENT_FIELDS = {
    EV_CALIBRATED: ("up_x", "up_y", "up_z", "heel_ref", "fore_ref"),
    EV_SET_START: (),
    EV_STEP: ("stance_ms", "heel_mm", "pause_ms", "peaks", "med_pct", "step_no"),
    EV_HEEL: ("duration_ms", "impact_mg", "load_pct"),
    EV_SET_END: ("steps",),
}

# Detector states
ST_CAL = const(0)  # learning gravity (stand still, feet flat)
ST_READY = const(1)  # calibrated, heels down, waiting for the rise onto the toes
ST_SET = const(2)  # walking on the toes

_ACC_MAX_MG = const(16000)  # clamp so |a|^2 stays a small int on 32-bit ports
_GYRO_MAX_CDPS = const(200000)  # 2000 dps in centi-dps
_RING = const(64)  # |a|^2 history for the impact at heel contact
_PEAKS = const(8)  # recent landing-peak times
_ROT_CAP = const(1 << 28)
_TH_CAP = const(1 << 28)  # gyro pitch sum: a long motion without rest stays a small int
_FSR_MIN_RANGE = const(2000)  # counts: thresholds need some spread before a baseline is seen

# name, default, min, max. The one place detector parameters live; `set` checks ranges.
# One flat tuple, not a tuple per row: on the pod each small tuple costs RAM (see `params`).
PARAMS = (
    "rate_hz", 100, 25, 1000,
    "foot_mm", 250, 150, 350,  # pivot length: heel height = foot_mm * sin(pitch)
    "calib_ms", 600, 200, 5000,  # still and flat this long to learn gravity
    "still_dps", 12, 2, 100,  # gyro below this and |a| ~ 1 g: the foot is still
    "still_mg", 80, 10, 300,
    "rise_mm", 30, 10, 120,  # heel this high ...
    "rise_ms", 250, 50, 3000,  # ... this long, quietly: the set starts
    "swing_on_dps", 60, 10, 1000,  # gyro above this starts a motion
    "swing_off_dps", 30, 5, 500,  # below this for quiet_ms ends it
    "quiet_ms", 40, 10, 500,
    "swing_min_ms", 150, 40, 1000,  # a motion this long ...
    "swing_min_deg", 30, 5, 180,  # ... turning this far about the pitch axis is a swing
    "heel_down_mm", 12, 2, 80,  # heel lower than this: on the floor
    "heel_up_mm", 25, 4, 100,  # higher than this: off the floor again
    "heel_confirm_ms", 40, 0, 500,
    "onset_window_ms", 150, 0, 500,  # contact onset = end of the drop within this window
    "strike_dps", 50, 10, 1000,  # heel-down rotation this fast, then reversing: a heel strike ...
    "strike_window_ms", 400, 0, 1000,  # ... that dates a contact confirmed within this window
    "lp_ms", 40, 5, 500,  # accelerometer low-pass for tilt
    "set_end_ms", 1500, 300, 10000,  # heels down this long: the set is over, not a fault
    "landing_peak_mg", 250, 50, 8000,  # |a| above 1 g by this much: an impact peak
    "fsr_heel_on_pct", 25, 5, 95,  # % of (loaded ref - unloaded base)
    "fsr_heel_off_pct", 12, 1, 90,
    "fsr_heel_touch_pct", 3, 1, 50,  # first load above this dates the contact's onset
    "fsr_fore_on_pct", 30, 5, 95,
    "fsr_fore_off_pct", 15, 1, 90,
    "fsr_pause_pct", 4, 1, 50,  # forefoot load this steady: paused
    "fsr_heel_base", 0, 0, 65535,  # unloaded counts; 0 = learn (lowest reading seen)
    "fsr_heel_ref", 0, 0, 65535,  # loaded counts; 0 = learn (standing calibration)
    "fsr_fore_base", 0, 0, 131070,  # medial + lateral pads
    "fsr_fore_ref", 0, 0, 131070,
)

# pairs that must stay ordered: lower, higher
_ORDERED = (
    "swing_off_dps", "swing_on_dps",
    "heel_down_mm", "heel_up_mm",
    "fsr_heel_off_pct", "fsr_heel_on_pct",
    "fsr_heel_touch_pct", "fsr_heel_off_pct",
    "fsr_fore_off_pct", "fsr_fore_on_pct",
)


def params():
    """Each parameter as (name, default, min, max)."""
    for i in range(0, len(PARAMS), 4):
        yield PARAMS[i], PARAMS[i + 1], PARAMS[i + 2], PARAMS[i + 3]


def checked(name, value, rows):
    """`value` as an int within the range of the (name, default, min, max) row called `name`.

    ValueError if no row has that name, or the value is not an integer in range.
    """
    for rname, _d, lo, hi in rows:
        if rname == name:
            break
    else:
        raise ValueError("unknown parameter " + str(name))
    try:
        value = int(value)
    except (TypeError, ValueError):
        raise ValueError(name + " must be an integer")
    if value < lo or value > hi:
        raise ValueError("%s must be %d..%d" % (name, lo, hi))
    return value


class Params:
    """Detector parameters (units in the names). Use `set` to change one with range checks."""

    def __init__(self, **values):
        for name, default, _lo, _hi in params():
            setattr(self, name, default)
        for name in values:
            self.set(name, values[name])

    def set(self, name, value):
        """Set one parameter; raise ValueError (state unchanged) if unknown or out of range."""
        value = checked(name, value, params())
        old = getattr(self, name)
        setattr(self, name, value)
        for i in range(0, len(_ORDERED), 2):
            low = _ORDERED[i]
            high = _ORDERED[i + 1]
            if getattr(self, low) >= getattr(self, high):
                setattr(self, name, old)
                raise ValueError("%s must stay below %s (%d)" % (low, high, getattr(self, high)))
        return value


def isqrt(n):
    """Integer square root (floor), small ints only: used at events and calibration."""
    if n <= 0:
        return 0
    x = n
    y = (x + 1) >> 1
    while y < x:
        x = y
        y = (x + n // x) >> 1
    return x


def _clamp(v, lim):
    if v > lim:
        return lim
    if v < -lim:
        return -lim
    return v


class _Waiting:
    """The detector's state while it waits: calibration sums, the swing that may start
    the set (Detector._walk), and what a walked set taught about the pitch axis.

    Kept out of the Detector: the fewer attributes an instance has, the faster
    MicroPython looks them up on the per-sample path.
    """

    def __init__(self):
        self.kx = self.ky = self.kz = 0  # the pitch axis a walked set taught (0: none yet)
        self.flip_votes = 0  # swings in a row that say the axis is upside down
        self.cal_n = self.cal_wait = 0
        self.cal_x = self.cal_y = self.cal_z = self.cal_h = self.cal_f = 0
        self.air_n = 0  # pads: samples with the whole sole off the floor
        self.was_loaded = False
        self.rise_cnt = self.rise_t = 0  # the rise onto the toes, so far
        self.sw_hi = self.sw_lo = self.sw_pf0 = 0  # a walking swing's heel excursions
        self.had_heel = False  # a heel contact since the last landing
        self.heel_steps = 0  # landings in a row that had one
        self.reset(0)

    def reset(self, t):
        self.act = False
        self.t0 = t
        self.qt0 = 0
        self.n = self.quiet = 0
        self.vx = self.vy = self.vz = 0
        self.ox = self.oy = self.oz = 0
        self.mx = self.my = self.mz = 0
        self.m2 = 0
        self.sign = 0
        self.d = 0
        self.t_up = self.t_dn = -100000


class Detector:
    """One foot's detector. `imu`/`fsr` say which sensors feed it; both may."""

    def __init__(self, params, imu=True, fsr=False):
        if not imu and not fsr:
            raise ValueError("detector needs an IMU, FSR pads, or both")
        self.p = params
        self.imu = imu
        self.fsr = fsr
        self.ev = array("i", [0] * (EV_WIDTH * EV_SLOTS))
        self.n_ev = 0
        self._ring = array("i", [0] * _RING)
        self._peak_t = array("i", [0] * _PEAKS)
        self.configure()
        self.calibrate()

    # -- configuration -------------------------------------------------
    def _n(self, ms):
        n = ms * self.p.rate_hz // 1000
        return n if n > 0 else 1

    def configure(self):
        """Derive sample counts and squared thresholds from the parameters."""
        p = self.p
        self.dt_ms = 1000 // p.rate_hz
        self.calib_n = self._n(p.calib_ms)
        self.rise_n = self._n(p.rise_ms)
        self.quiet_n_min = self._n(p.quiet_ms)
        self.swing_n = self._n(p.swing_min_ms)
        # rotation is summed in centi-dps per sample
        self.swing_rot = p.swing_min_deg * 100 * p.rate_hz
        self.confirm_n = self._n(p.heel_confirm_ms) if p.heel_confirm_ms else 1
        self.still2 = p.still_dps * p.still_dps
        self.on2 = p.swing_on_dps * p.swing_on_dps
        self.off2 = p.swing_off_dps * p.swing_off_dps
        lo = 1000 - p.still_mg
        hi = 1000 + p.still_mg
        self.g_lo2 = lo * lo
        self.g_hi2 = hi * hi
        self.rise_mg = p.rise_mm * 1000 // p.foot_mm
        self.rise2 = self.rise_mg * self.rise_mg
        self.down_mg = p.heel_down_mm * 1000 // p.foot_mm
        self.strike_cdps = p.strike_dps * 100
        self.up_confirm_n = self._n(60)
        self.lull_n = self._n(150)
        # gyro pitch: centi-dps summed per sample -> mg of the heel-height projection (1000 mg per rad)
        self.th_per_mg = 10000 * p.rate_hz // 1745
        self.up_mg = p.heel_up_mm * 1000 // p.foot_mm
        pk = 1000 + p.landing_peak_mg
        self.pk_hi2 = pk * pk
        pk = 1000 + p.landing_peak_mg // 2
        self.pk_lo2 = pk * pk
        self.pk_gap_ms = 80
        k = 0
        while (2 << k) <= p.lp_ms * p.rate_hz // 1000 and k < 6:
            k += 1
        self.lp_k = k
        self.lp_delay_ms = ((1 << k) - 1) * 1000 // p.rate_hz
        n = p.rate_hz * 160 // 1000
        self.ring_n = n if n < _RING else _RING
        # with two sensors one must be sure and the other at least unsure
        both = self.imu and self.fsr
        self.down_at = 3 if both else 2
        self.up_at = 1 if both else 0
        if hasattr(self, "h_min"):  # a parameter changed after start-up
            self._fsr_levels()

    def calibrate(self):
        """Forget gravity and the set; learn again from the next still, flat stand."""
        self.state = ST_CAL
        self.n_ev = 0
        self.ux = self.uy = 0
        self.uz = 1024
        self.fx = self.fy = self.fz = 0
        self.px = self.py = self.pz = 0
        self.lx = self.ly = 0
        self.lz = 1000 << self.lp_k
        self.h_ref = self.f_ref = 0
        self.h_min = self.f_min = self.m_min = self.l_min = 1 << 20  # above any ADC count
        self.h_lp = self.f_lp = 0
        self.mag2 = 1000000
        self.g2 = 0
        self.g2_lp = 0
        self.pitch_mg = 0
        self.pf = 0
        self.w_pitch = 0
        self.w_prev = 0
        self.pf_base = 0
        self.th = 0
        self.rest_n = 0
        self.track_axis = False
        self.up_n = 0
        self.struck = False
        self.walk_axis = False
        self.dn_seen = False
        self.strike_t = -100000
        self.wk = _Waiting()
        self.h_base = self.h_rng = self.f_rng = 0
        self.heel_raw = self.fore_raw = 0
        self.h_clear_t = 0
        self.moving = False
        self.still = False
        self.t_moving = -100000
        self.ring_i = 0
        for i in range(_RING):
            self._ring[i] = 1000000
        self.pk_above = False
        self.pk_last = -100000
        self.pk_i = 0
        for i in range(_PEAKS):
            self._peak_t[i] = -100000
        self.s_imu = self.s_fsr = 0
        self.on_imu = 0
        self.fore_on = False
        self.steps = 0
        self._fsr_levels()
        self._new_set_state()

    def _walk(self, t, gx, gy, gz, g2, moving):
        """Waiting for the set: a walking swing starts it too, and teaches the pitch axis.

        The swing's gyro axis (sign-aligned sum) is the pitch axis; its largest
        excursion from the resting foot, normally the heel rising before toe-off,
        signs it (checked again on the next swings: a first step can differ).
        The last reversal of the turn dates the strike.
        """
        wk = self.wk
        if not wk.act:
            if g2 < self.on2:
                return
            wk.reset(t)
            wk.act = True
        wk.n += 1
        d = gx * wk.vx + gy * wk.vy + gz * wk.vz
        if d >= 0:
            vx = wk.vx + gx
            vy = wk.vy + gy
            vz = wk.vz + gz
        else:
            vx = wk.vx - gx
            vy = wk.vy - gy
            vz = wk.vz - gz
        if vx > 16384 or vx < -16384 or vy > 16384 or vy < -16384 or vz > 16384 or vz < -16384:
            vx //= 2
            vy //= 2
            vz //= 2
        wk.vx = vx
        wk.vy = vy
        wk.vz = vz
        d = gx * vx + gy * vy + gz * vz
        # reversals of a fast turn: strike candidates of either sign until the sign is known
        sg = 1 if d > 0 else (-1 if d < 0 else 0)
        if wk.sign and sg and sg != wk.sign:
            at = t - self.dt_ms * d // (d - wk.d)
            if sg > 0:
                wk.t_up = at
            else:
                wk.t_dn = at
            wk.sign = 0
        if g2 >= self.on2 and sg:
            wk.sign = sg
        wk.d = d
        ox = wk.ox + gx
        oy = wk.oy + gy
        oz = wk.oz + gz
        if -_ROT_CAP < ox < _ROT_CAP and -_ROT_CAP < oy < _ROT_CAP and -_ROT_CAP < oz < _ROT_CAP:
            wk.ox = ox
            wk.oy = oy
            wk.oz = oz
        r = self.p.rate_hz
        ex = ox // r
        ey = oy // r
        ez = oz // r
        if ex < 30000 and ey < 30000 and ez < 30000 and ex > -30000 and ey > -30000 and ez > -30000:
            m2 = ex * ex + ey * ey + ez * ez
            if m2 > wk.m2:
                wk.m2 = m2
                wk.mx = ex
                wk.my = ey
                wk.mz = ez
        # the swing is over when the turning drops below a walking pace (a stance may still
        # roll and twist more than `swing_off_dps` about the other axes)
        if g2 >= self.on2:
            wk.quiet = 0
            return
        if wk.quiet == 0:
            wk.qt0 = t
        wk.quiet += 1
        if wk.quiet < self.quiet_n_min:
            return
        wk.act = False
        # a first step from standing turns the foot less than the steps that follow
        deg = self.p.swing_min_deg * 2 // 3
        if wk.n - wk.quiet >= self.swing_n and wk.m2 >= deg * deg:
            self._walk_start()

    def _walk_start(self):
        # pitch axis: the swing axis without its vertical part, signed so the heel rises positive
        wk = self.wk
        ux = self.ux
        uy = self.uy
        uz = self.uz
        vx = wk.vx
        vy = wk.vy
        vz = wk.vz
        up = (vx * ux + vy * uy + vz * uz) >> 10
        vx -= up * ux >> 10
        vy -= up * uy >> 10
        vz -= up * uz >> 10
        m = isqrt(vx * vx + vy * vy + vz * vz)
        if m == 0:
            return
        # three cues for the sign, each right in ordinary walking; a first step can fool one:
        # the first fast turn lifts the heel (v starts along it), the largest excursion is the
        # heel up at toe-off, and the last reversal (the strike) turns the heel up (the slap)
        vote = 1
        vote += 1 if wk.mx * vx + wk.my * vy + wk.mz * vz >= 0 else -1
        vote += 1 if wk.t_up >= wk.t_dn else -1
        if wk.kx or wk.ky or wk.kz:
            # a set walked before taught the axis on many steps: the shoe has not turned over
            vote = 1 if wk.kx * vx + wk.ky * vy + wk.kz * vz >= 0 else -1
        if vote < 0:
            m = -m
        self.px = vx * 1024 // m
        self.py = vy * 1024 // m
        self.pz = vz * 1024 // m
        # forward (heel-up tilt direction) = up x pitch axis
        self.fx = (uy * self.pz - uz * self.py) >> 10
        self.fy = (uz * self.px - ux * self.pz) >> 10
        self.fz = (ux * self.py - uy * self.px) >> 10
        strike = wk.t_up if m > 0 else wk.t_dn
        t0 = wk.t0
        t_land = wk.qt0
        self.state = ST_SET
        self._new_set_state()
        self.s_imu = 0
        self.th = 0
        self.pf_base = 0
        self.strike_t = strike
        self.struck = strike > -100000
        self.walk_axis = True
        self.track_axis = True
        self._emit(EV_SET_START, t0, 0, 0, 0, 0, 0, 0)
        self._landing(t_land, t0)

    def _new_set_state(self):
        self.wk.rise_cnt = 0
        self.wk.rise_t = 0
        self.phase_active = False
        self.act_t0 = 0
        self.act_n = 0
        self.rot = 0
        self.quiet_cnt = 0
        self.quiet_t0 = 0
        self.unload_t0 = 0
        self.unload_cnt = 0
        self.in_step = False
        self.land_t = 0
        self.heel_down = False
        self.cand_n = 0
        self.onset_t = 0
        self.impact2 = 0
        self.load_peak = 0
        self._new_stance()

    def _new_stance(self):
        self.run_n = 0
        self.best_run = 0
        self.hsum = 0
        self.hn = 0
        self.qsum = 0
        self.qn = 0
        self.med_sum = 0
        self.lat_sum = 0
        self.rebounds = 0

    # -- events --------------------------------------------------------
    def _emit(self, kind, t, a, b, c, d, e, f):
        if self.n_ev >= EV_SLOTS:
            return  # cannot happen with the current state machine; never overrun
        i = self.n_ev * EV_WIDTH
        ev = self.ev
        ev[i] = kind
        ev[i + 1] = t
        ev[i + 2] = a
        ev[i + 3] = b
        ev[i + 4] = c
        ev[i + 5] = d
        ev[i + 6] = e
        ev[i + 7] = f
        self.n_ev += 1

    # -- per sample ----------------------------------------------------
    def update(self, t, ax, ay, az, gx, gy, gz, heel, med, lat):
        """Process one sample (t in ms; mg, mdps, ADC counts). Returns the number of new events."""
        # methods called through the class: looking them up on the instance first costs a
        # full miss in its large attribute table, on every sample
        self.n_ev = 0
        if self.imu:
            Detector._imu_in(self, t, ax, ay, az, gx, gy, gz)
        if self.fsr:
            Detector._fsr_in(self, t, heel, med, lat)
        st = self.state
        if st == ST_SET:
            if self.imu:
                Detector._imu_steps(self, t)
            else:
                Detector._fsr_steps(self, t)
            if self.fsr and self.fore_on:
                Detector._push_share(self, med, lat)
            # an absent sensor's score stays 0; most samples: heel up, nothing to do
            score = self.s_imu + self.s_fsr
            if self.heel_down or score >= self.down_at:
                Detector._heel(self, t, score)
            else:
                self.cand_n = 0
        elif st == ST_READY:
            self._ready(t)
        else:
            self._calibrating(t, ax, ay, az, heel, med + lat)
        return self.n_ev

    def _imu_in(self, t, ax, ay, az, gx, gy, gz):
        # the hot path: locals instead of repeated attribute look-ups, clamps inline
        if ax > _ACC_MAX_MG:
            ax = _ACC_MAX_MG
        elif ax < -_ACC_MAX_MG:
            ax = -_ACC_MAX_MG
        if ay > _ACC_MAX_MG:
            ay = _ACC_MAX_MG
        elif ay < -_ACC_MAX_MG:
            ay = -_ACC_MAX_MG
        if az > _ACC_MAX_MG:
            az = _ACC_MAX_MG
        elif az < -_ACC_MAX_MG:
            az = -_ACC_MAX_MG
        k = self.lp_k
        lx = self.lx
        ly = self.ly
        lz = self.lz
        lx += ax - (lx >> k)
        ly += ay - (ly >> k)
        lz += az - (lz >> k)
        self.lx = lx
        self.ly = ly
        self.lz = lz
        x = lx >> k
        y = ly >> k
        z = lz >> k
        mag2 = ax * ax + ay * ay + az * az
        self.mag2 = mag2
        i = self.ring_i
        self._ring[i] = mag2
        self.ring_i = (i + 1) & (_RING - 1)
        # landing impact peaks, with a refractory gap so ringing counts once
        if mag2 > self.pk_hi2:
            if not self.pk_above:
                self.pk_above = True
                if t - self.pk_last >= self.pk_gap_ms:
                    self._peak_t[self.pk_i] = t
                    self.pk_i = (self.pk_i + 1) % _PEAKS
                self.pk_last = t
        elif mag2 < self.pk_lo2:
            self.pk_above = False
        gx //= 10
        gy //= 10
        gz //= 10
        if gx > _GYRO_MAX_CDPS:
            gx = _GYRO_MAX_CDPS
        elif gx < -_GYRO_MAX_CDPS:
            gx = -_GYRO_MAX_CDPS
        if gy > _GYRO_MAX_CDPS:
            gy = _GYRO_MAX_CDPS
        elif gy < -_GYRO_MAX_CDPS:
            gy = -_GYRO_MAX_CDPS
        if gz > _GYRO_MAX_CDPS:
            gz = _GYRO_MAX_CDPS
        elif gz < -_GYRO_MAX_CDPS:
            gz = -_GYRO_MAX_CDPS
        gxd = gx // 100
        gyd = gy // 100
        gzd = gz // 100
        g2 = gxd * gxd + gyd * gyd + gzd * gzd
        self.g2 = g2
        moving = g2 >= self.off2
        self.moving = moving
        if moving:
            self.t_moving = t
        # stillness from smoothed gyro energy and smoothed |a|: sensor noise must not break a pause
        g2_lp = self.g2_lp
        g2_lp += (g2 - g2_lp) >> 3
        self.g2_lp = g2_lp
        m2 = x * x + y * y + z * z
        one_g = self.g_lo2 <= m2 <= self.g_hi2
        still = g2_lp < self.still2 and one_g
        self.still = still
        st = self.state
        if st != ST_SET:
            if st == ST_READY:
                self._walk(t, gxd, gyd, gzd, g2, moving)
            return
        # rotation rate about the learned pitch axis (centi-dps), positive = heel rising
        w = (gx * self.px + gy * self.py + gz * self.pz) >> 10
        aw = w if w >= 0 else -w
        self.w_pitch = aw
        walking = self.walk_axis
        if walking:
            # walking: the sole rolls and twists in stance; steps are the pitch turns
            wd = aw // 100
            g2 = wd * wd
            self.g2 = g2
            moving = g2 >= self.off2
            self.moving = moving
        pitch = (x * self.fx + y * self.fy + z * self.fz) >> 10
        self.pitch_mg = pitch
        # heel height: the accelerometer's tilt while still, carried through motion by the gyro
        # (no low-pass lag when the heel lifts, no swing accelerations in it)
        if moving or not one_g:
            self.rest_n = 0
            resting = still
        else:
            n = self.rest_n + 1
            self.rest_n = n
            resting = still or n >= self.quiet_n_min
        if resting:
            # the foot rests: its tilt is the accelerometer's, and the gyro sum starts again
            self.pf_base = pitch
            self.th = 0
            resting = True
            pf = pitch
        else:
            th = self.th + w
            if -_TH_CAP < th < _TH_CAP:
                self.th = th
            pf = self.pf_base + self.th // self.th_per_mg
        self.pf = pf
        up_mg = self.up_mg
        strike = self.strike_cdps
        # a heel strike: the heel-down turn of the late swing (or a drop) reverses, heel low
        if w < -strike:
            self.dn_seen = True
        elif w >= 0 and self.dn_seen:
            self.dn_seen = False
            if pf < up_mg and not self.struck:
                # the first reversal is the strike; the foot's ringing after it is not
                self.strike_t = t - self.dt_ms * w // (w - self.w_prev)
                self.struck = True
        self.w_prev = w
        if pf > up_mg or (walking and w > strike and pf > self.down_mg):
            # (walking: the heel rolling up off the floor at heel-off is up already)
            s = 0
            # the heel is up again (resting up there, or up a while: longer than the gyro's
            # drift lifts it between a strike and the foot settling): that strike dates no contact
            self.up_n += 1
            if resting or self.up_n >= self.up_confirm_n:
                self.strike_t = -100000
                self.struck = False
        else:
            if self.up_n:
                self.up_n = 0
            s = 2 if pf < self.down_mg and not moving else 1
        if s == 2 and self.s_imu != 2:
            # date the onset where the heel hit the floor: the strike, else where it stopped turning
            if t - self.strike_t <= self.p.strike_window_ms:
                self.on_imu = self.strike_t
            elif t - self.t_moving <= self.p.onset_window_ms:
                self.on_imu = self.t_moving + self.dt_ms
            else:
                self.on_imu = t - self.lp_delay_ms
        self.s_imu = s

    def _fsr_in(self, t, heel, med, lat):
        fore = med + lat
        # the lowest reading seen is the unloaded baseline until one is calibrated
        if heel < self.h_min or fore < self.f_min:
            if heel < self.h_min:
                self.h_min = heel
            if fore < self.f_min:
                self.f_min = fore
            self._fsr_levels()
        if med < self.m_min:
            self.m_min = med
        if lat < self.l_min:
            self.l_min = lat
        if not self.imu:  # steadiness of the loads: the calibration and pause without an IMU
            self.h_lp += (heel - self.h_lp) >> 2
            self.f_lp += (fore - self.f_lp) >> 2
        if heel <= self.h_touch:
            self.h_clear_t = t  # the heel pad was clear of the floor here
        self.heel_raw = heel
        self.fore_raw = fore
        if self.fore_on:
            if fore < self.f_off:
                self.fore_on = False
        elif fore > self.f_on:
            self.fore_on = True
        if heel > self.h_on:
            s = 2
        elif heel < self.h_off:
            s = 0
        else:
            s = 1
        self.s_fsr = s

    def _fsr_levels(self):
        """Pad thresholds from the baselines and references; only when one of them changes."""
        p = self.p
        base = p.fsr_heel_base if p.fsr_heel_base else self.h_min
        rng = (p.fsr_heel_ref if p.fsr_heel_ref else self.h_ref) - base
        if rng < _FSR_MIN_RANGE:
            rng = _FSR_MIN_RANGE
        self.h_base = base
        self.h_rng = rng
        self.h_on = base + rng * p.fsr_heel_on_pct // 100
        self.h_off = base + rng * p.fsr_heel_off_pct // 100
        self.h_touch = base + rng * p.fsr_heel_touch_pct // 100
        base = p.fsr_fore_base if p.fsr_fore_base else self.f_min
        rng = (p.fsr_fore_ref if p.fsr_fore_ref else self.f_ref) - base
        if rng < _FSR_MIN_RANGE:
            rng = _FSR_MIN_RANGE
        self.f_rng = rng
        self.f_on = base + rng * p.fsr_fore_on_pct // 100
        self.f_off = base + rng * p.fsr_fore_off_pct // 100

    # -- calibration and set start ---------------------------------------
    def _calibrating(self, t, ax, ay, az, heel, fore):
        need = self.calib_n
        if self.imu:
            steady = self.still
            if not steady and self.wk.cal_wait >= self.p.rate_hz * 2:
                # never still for long (walking from the start): a foot flat in stance will do
                k = self.lp_k
                x = self.lx >> k
                y = self.ly >> k
                z = self.lz >> k
                steady = not self.moving and self.g_lo2 <= x * x + y * y + z * z <= self.g_hi2
                need = self.quiet_n_min * 2
        else:
            d = heel - self.h_lp
            e = fore - self.f_lp
            lim = (self.h_lp >> 5) + 200
            steady = -lim < d < lim and -lim < e < lim and heel > 0
        if not steady:
            self.wk.cal_n = 0
            self.wk.cal_x = self.wk.cal_y = self.wk.cal_z = self.wk.cal_h = self.wk.cal_f = 0
            self.wk.cal_wait += 1
            if not self.imu:
                # pads need no gravity: walking from the start, go on with the default ranges
                if self.wk.cal_wait >= self.p.rate_hz // 2:
                    self.state = ST_READY
                    self._new_set_state()
                    self._emit(EV_CALIBRATED, t, 0, 0, 0, self.h_ref, self.f_ref, 0)
            return
        self.wk.cal_n += 1
        if self.imu:
            self.wk.cal_x += _clamp(ax, _ACC_MAX_MG)
            self.wk.cal_y += _clamp(ay, _ACC_MAX_MG)
            self.wk.cal_z += _clamp(az, _ACC_MAX_MG)
        if self.fsr:
            self.wk.cal_h += heel >> 4
            self.wk.cal_f += fore >> 4
        if self.wk.cal_n < need:
            return
        n = self.wk.cal_n
        if self.imu:
            x = self.wk.cal_x // n
            y = self.wk.cal_y // n
            z = self.wk.cal_z // n
            m = isqrt(x * x + y * y + z * z)
            self.ux = x * 1024 // m
            self.uy = y * 1024 // m
            self.uz = z * 1024 // m
        if self.fsr:
            self.h_ref = (self.wk.cal_h // n) << 4
            self.f_ref = (self.wk.cal_f // n) << 4
            self._fsr_levels()
        self.state = ST_READY
        self._new_set_state()
        self._emit(EV_CALIBRATED, t, self.ux, self.uy, self.uz, self.h_ref, self.f_ref, 0)

    def _ready(self, t):
        if self.imu:
            k = self.lp_k
            x = self.lx >> k
            y = self.ly >> k
            z = self.lz >> k
            up = (x * self.ux + y * self.uy + z * self.uz) >> 10
            tilt2 = x * x + y * y + z * z - up * up
            risen = tilt2 > self.rise2 and not self.moving and up > 0
        else:
            risen = self.s_fsr == 0 and self.fore_on
            # a walking swing (the whole sole off the floor, then down again) starts the set too
            if self.s_fsr == 0 and not self.fore_on:
                if self.wk.was_loaded:  # off the floor after a load: not a stand below the levels
                    self.wk.air_n += 1
            else:
                self.wk.was_loaded = self.s_fsr == 2 or self.fore_on
                if self.wk.air_n >= self.swing_n:
                    t0 = t - self.wk.air_n * self.dt_ms
                    self.wk.air_n = 0
                    self.state = ST_SET
                    self._new_set_state()
                    self._emit(EV_SET_START, t0, 0, 0, 0, 0, 0, 0)
                    self._landing(t, t0)
                    return
                self.wk.air_n = 0
        if not risen:
            self.wk.rise_cnt = 0
            return
        if self.wk.rise_cnt == 0:
            self.wk.rise_t = t
        self.wk.rise_cnt += 1
        if self.wk.rise_cnt < self.rise_n:
            return
        if self.imu:
            # forward tilt direction: the part of gravity that left the flat "up"
            vx = x - (up * self.ux >> 10)
            vy = y - (up * self.uy >> 10)
            vz = z - (up * self.uz >> 10)
            m = isqrt(vx * vx + vy * vy + vz * vz)
            if m == 0:
                return
            self.fx = vx * 1024 // m
            self.fy = vy * 1024 // m
            self.fz = vz * 1024 // m
            # pitch axis = forward x up (mediolateral)
            self.px = (self.fy * self.uz - self.fz * self.uy) >> 10
            self.py = (self.fz * self.ux - self.fx * self.uz) >> 10
            self.pz = (self.fx * self.uy - self.fy * self.ux) >> 10
            self.s_imu = 0
        t_rise = self.wk.rise_t
        self.walk_axis = False  # the rise gave the axis: checked only if the steps look like walking
        self.track_axis = False
        self.state = ST_SET
        self._new_set_state()
        self._emit(EV_SET_START, t_rise, 0, 0, 0, 0, 0, 0)

    # -- walking (per sample: keep it lean) ------------------------------
    def _push_share(self, med, lat):
        # forefoot share on the big-toe side, scaled down to stay a small int
        m = med - self.m_min
        l = lat - self.l_min
        if m > 0 and self.med_sum < _ROT_CAP:
            self.med_sum += m >> 4
        if l > 0 and self.lat_sum < _ROT_CAP:
            self.lat_sum += l >> 4

    def _fsr_stance(self):
        """One stance sample without an IMU: a steady forefoot load is the pause."""
        if self.heel_down:
            self.run_n = 0  # a heel on the floor is neither the top of the step nor a pause there
            return
        d = self.fore_raw - self.f_lp
        lim = self.f_rng * self.p.fsr_pause_pct // 100
        if self.fore_on and -lim < d < lim:
            self.run_n += 1
            if self.run_n > self.best_run:
                self.best_run = self.run_n
        else:
            self.run_n = 0

    def _imu_steps(self, t):
        if not self.phase_active:
            if self.g2 >= self.on2:
                self.phase_active = True
                self.act_t0 = t
                self.act_n = 0
                self.rot = 0
                self.quiet_cnt = 0
                if self.track_axis:
                    wk = self.wk
                    wk.sw_hi = wk.sw_lo = 0
                    wk.sw_pf0 = self.pf
                self.struck = False  # a new swing: its own strike is still to come
            else:
                # a stance sample: pause length and heel height at the top of the step
                if self.heel_down:
                    self.run_n = 0  # a heel on the floor is neither the top of the step nor a pause there
                    return
                if self.still:
                    run = self.run_n + 1
                    self.run_n = run
                    if run > self.best_run:
                        self.best_run = run
                    if self.hn < 30000:
                        self.hsum += self.pitch_mg
                        self.hn += 1
                else:
                    self.run_n = 0
                if not self.moving and self.qn < 30000:
                    self.qsum += self.pitch_mg
                    self.qn += 1
                return
        self.act_n += 1
        if self.rot < _ROT_CAP:
            self.rot += self.w_pitch
        if self.track_axis:
            wk = self.wk
            pf = self.pf - wk.sw_pf0
            if pf > wk.sw_hi:
                wk.sw_hi = pf
            elif pf < wk.sw_lo:
                wk.sw_lo = pf
        if self.moving:
            self.quiet_cnt = 0
            return
        if self.quiet_cnt == 0:
            self.quiet_t0 = t
        self.quiet_cnt += 1
        if self.quiet_cnt < self.quiet_n_min:
            return
        if self.walk_axis and not self.struck and self.pf > self.up_mg and self.quiet_cnt < self.lull_n:
            return  # walking: a lull between toe-off and the swing, heel still up: not landed yet
        self.phase_active = False
        if self.act_n - self.quiet_cnt >= self.swing_n and self.rot >= self.swing_rot:
            # heel strikes step after step: ordinary walking, whatever started the set
            self.wk.heel_steps = self.wk.heel_steps + 1 if self.wk.had_heel else 0
            self.wk.had_heel = False
            if self.track_axis:
                self._check_axis()
            self.track_axis = self.walk_axis or self.wk.heel_steps >= 2
            self._landing(self.quiet_t0, self.act_t0)
        else:
            self.run_n = 0  # an in-stance motion (heel drop, wobble) breaks the pause

    def _fsr_steps(self, t):
        if self.fore_on:
            if self.unload_cnt:
                if self.unload_cnt >= self.swing_n:
                    self._landing(t, self.unload_t0)
                elif self.in_step:
                    self.rebounds += 1  # a brief unload in stance: a bounce
                self.unload_cnt = 0
            self._fsr_stance()
        else:
            if self.unload_cnt == 0:
                self.unload_t0 = t
            self.unload_cnt += 1
            self.run_n = 0

    def _check_axis(self):
        # walking swings tilt the heel up (toe-off) further than the toes up (strike):
        # two swings in a row the other way round mean the axis was learned upside down
        if -self.wk.sw_lo > self.wk.sw_hi:
            self.wk.flip_votes += 1
            if self.wk.flip_votes >= 2:
                self.wk.flip_votes = 0
                self.px = -self.px
                self.py = -self.py
                self.pz = -self.pz
                self.fx = -self.fx
                self.fy = -self.fy
                self.fz = -self.fz
                self.pf_base = -self.pf_base
                self.th = -self.th
                self.pf = -self.pf
        else:
            self.wk.flip_votes = 0

    def _landing(self, t_land, t_liftoff):
        if self.heel_down and self.onset_t < t_liftoff:
            self._heel_up(t_liftoff)  # a swing lifted the heel even if its height was not seen
            self.s_imu = 1
        if self.in_step:
            self._emit_step(t_liftoff)
        self.in_step = True
        self.land_t = t_land
        self.steps += 1
        self._new_stance()

    def _emit_step(self, t_end):
        p = self.p
        heel_mm = UNKNOWN
        if self.imu:
            if self.hn:
                heel_mm = self.hsum // self.hn * p.foot_mm // 1000
            elif self.qn:
                heel_mm = self.qsum // self.qn * p.foot_mm // 1000
        med_pct = UNKNOWN
        tot = self.med_sum + self.lat_sum
        if self.fsr and tot > 0:
            # divide first: med_sum * 100 could pass a 32-bit port's small-int range
            d = tot // 100
            med_pct = self.med_sum // d if d else self.med_sum * 100 // tot
        peaks = 1 + self.rebounds
        if self.imu:
            n = 0
            lo = self.land_t - 100
            hi = self.land_t + 300
            for i in range(_PEAKS):
                pt = self._peak_t[i]
                if lo <= pt <= hi:
                    n += 1
            if n > peaks:
                peaks = n
        self._emit(
            EV_STEP, self.land_t, t_end - self.land_t, heel_mm,
            self.best_run * 1000 // p.rate_hz, peaks, med_pct, self.steps,
        )

    def _heel(self, t, s):
        """Heel state machine on the summed sensor score s (0..2 per sensor)."""
        if not self.heel_down:
            if s < self.down_at:
                self.cand_n = 0
                return
            self.cand_n += 1
            if self.cand_n < self.confirm_n:
                return
            # earliest onset among the sensors that are sure the heel is down
            onset = t
            if self.imu and self.s_imu == 2 and self.on_imu < onset:
                onset = self.on_imu
            if self.fsr and self.s_fsr == 2:
                fo = self.h_clear_t + self.dt_ms
                if fo < onset:
                    onset = fo
            self.heel_down = True
            self.wk.had_heel = True
            self.onset_t = onset
            self.impact2 = 0
            if self.imu:
                n = self.ring_n
                j = self.ring_i
                for _ in range(n):
                    j = (j - 1) % _RING
                    if self._ring[j] > self.impact2:
                        self.impact2 = self._ring[j]
            self.load_peak = 0
            return
        if self.imu and t - self.onset_t < 150 and self.mag2 > self.impact2:
            self.impact2 = self.mag2
        if self.fsr and self.heel_raw > self.load_peak:
            self.load_peak = self.heel_raw
        if s <= self.up_at:
            self._heel_up(t)
        elif t - self.onset_t >= self.p.set_end_ms:
            self._end_set()

    def _heel_up(self, t):
        """The heel left the floor at t: the contact is over, report it."""
        self.heel_down = False
        self.cand_n = 0
        impact = UNKNOWN
        if self.imu:
            impact = isqrt(self.impact2) - 1000
            if impact < 0:
                impact = 0
        load = UNKNOWN
        if self.fsr:
            load = (self.load_peak - self.h_base) * 100 // self.h_rng
            if load < 0:
                load = 0
        self._emit(EV_HEEL, self.onset_t, t - self.onset_t, impact, load, 0, 0, 0)

    def _end_set(self):
        # heels lowered and kept down: the set is over (not a heel-contact fault)
        if self.imu and self.steps >= 4 and self.wk.flip_votes == 0:
            self.wk.kx = self.px
            self.wk.ky = self.py
            self.wk.kz = self.pz
        if self.in_step:
            self._emit_step(self.onset_t)
        self._emit(EV_SET_END, self.onset_t, self.steps, 0, 0, 0, 0, 0)
        self.state = ST_READY
        self.steps = 0
        self._new_set_state()

    def flush(self, t):
        """End of data mid-set: emit the heel contact and step under way (no set_end). Returns events."""
        self.n_ev = 0
        if self.state == ST_SET:
            if self.heel_down:
                self._heel_up(t)  # the contact under way when the data stopped
            if self.in_step:
                self._emit_step(t)
                self.in_step = False
        return self.n_ev

    def heel_mm_now(self):
        """Current heel height in mm (UNKNOWN before the set starts or without an IMU)."""
        if not self.imu or self.state != ST_SET:
            return UNKNOWN
        return self.pitch_mg * self.p.foot_mm // 1000
