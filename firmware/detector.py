"""Step and heel-contact detector for one shoe: integer-only, allocation-free.

Runs unchanged under MicroPython (on the pod) and CPython (on the host, which
replays raw recordings through this very module). Feed one sample at a time to
`Detector.update`; it returns how many events this sample produced and leaves
them in `Detector.ev`, EV_WIDTH ints each (see the EV_* kinds below).

A step is the foot travelling somewhere. Every sample, a cheap test says
whether the foot rests (gyro energy and the change of the acceleration both
small: a zero-velocity stance); the samples of each motion between two rests
are kept in a preallocated history. When the foot rests again (the landing),
the motion is integrated once, as foot-mounted inertial navigation does:
orientation from the gyro starting at the rest's gravity, acceleration turned
into that frame, gravity removed, integrated twice, and the velocity left at
the landing (which must be zero) removed as a linear drift. What it gives is
the motion's track: a step travels its stride (5-40 cm); a bounce, a heel
drop or a weight shift in place turns the foot about the forefoot and travels
almost nothing. Rotation alone is never the judge.

Where each decision is made:
  - the foot rests or moves ............ update (quiet test, `zupt_*` parameters)
  - gravity and the flat foot .......... _calibrating (still and flat, `calib_ms`)
  - the set starts ..................... _ready (rise onto the toes) or _track (a first step)
  - a motion was a step, its stride .... _track (travel along the track, `step_min_mm`);
                                         _steps_in (steps inside one long motion)
  - the landing's work, spread ......... _ahead_start / _ahead (the track while the rest settles),
                                         _cut (a motion that never rests: where the foot stood)
  - a brief stillness is no rest ....... _brief (mid-swing) and _jolt (a landing's shake)
  - heel height ........................ update (accelerometer tilt at rest, gyro in motion:
                                         heel_now_mg = heel_base_mg + turn_e4deg / 573)
  - the pitch axis and its sign ........ _ready (the rise) and _track (the direction of travel)
  - heel contact ....................... update scores each sensor 0..2 (IMU: heel height against
                                         heel_down_mm / heel_up_mm, the strike; pads: _fsr_levels),
                                         _heel confirms the summed score for `heel_confirm_ms`
                                         and dates the onset (the earliest sure sensor's: on_imu),
                                         _heel_up ends it (duration, impact from the |a| ring);
                                         _track / _first_strike date a contact a first step made
  - the set ends ....................... _heel (heels down `set_end_ms` after the last step)
  - FSR pads ........................... update, _fsr_steps, _stance

Units: names end in theirs (`_ms`, `_mm`, `_mg`, `_e4deg` = 1e-4 degree = 0.1 dps x 1 ms); gyro
rates are in 0.1 dps, quaternions in Q14, unit vectors in Q10; a `2` ends a squared quantity
(`zg2`: dps^2) and `_n` a count of samples. Tunables are PARAMS (below) or named constants.
"""

from array import array

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):  # type: ignore[misc]  # CPython stand-in for micropython.const
        return x


# Event kinds; every event is EV_WIDTH ints: kind, t_ms, then kind-specific fields.
EV_CALIBRATED = const(1)  # t_ms, up_x, up_y, up_z (Q10 unit vector), heel_ref, fore_ref
EV_SET_START = const(2)  # t_ms (heels rise onto the toes, or the first step lifts off)
EV_STEP = const(3)  # t_ms (landing), stance_ms, heel_mm, pause_ms, peaks, med_pct, step_no, stride_mm, clearance_mm
EV_HEEL = const(4)  # t_ms (onset), duration_ms, impact_mg, load_pct
EV_SET_END = const(5)  # t_ms (heels reach the floor after the last step), steps
EV_WIDTH = const(10)
EV_SLOTS = const(8)
UNKNOWN = const(-1)  # a field the fitted sensors cannot measure
ACC = None  # the accelerometer-alone path (detector_acc): a pod imports it when it needs it; the host sets it
TRACE = None  # host-side tools may set a function(t_in_motion_ms, travel_mm, turn_explains_mm) to see each hold

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
    EV_STEP: ("stance_ms", "heel_mm", "pause_ms", "peaks", "med_pct", "step_no", "stride_mm", "clearance_mm"),
    EV_HEEL: ("duration_ms", "impact_mg", "load_pct"),
    EV_SET_END: ("steps",),
}

# Detector states
ST_CAL = const(0)  # learning gravity (stand still, feet flat)
ST_READY = const(1)  # calibrated, heels down, waiting for the rise onto the toes or a first step
ST_SET = const(2)  # walking on the toes

_ACC_MAX_MG = const(12000)  # clamp: every product of the integration stays a small int on 32-bit ports
_GYRO_MAX = const(32000)  # 0.1 dps units (3200 dps), fits the int16 history
_DT_MAX_MS = const(100)  # a longer gap between samples counts as this long
_NEVER = const(-100000)  # a time long before any sample (ms)
_RING = const(64)  # |a|^2 history for the impact at heel contact
_PEAKS = const(8)  # recent landing-peak times
_SUM_CAP = const(1 << 28)  # running sums (the pitch turn in 1e-4 degrees, pad loads) stay small ints on 32-bit ports
_FSR_MIN_RANGE = const(2000)  # counts: thresholds need some spread before a baseline is seen
_STRIKE_WINDOW_MS = const(400)  # a heel strike dates a contact confirmed this soon after it
_SWING_MIN_MS = const(150)  # an accelerometer alone: a foot moving this long has left the floor
_IMPACT_MS = const(160)  # the impact is the largest |a| this long before and after the onset
_PEAK_GAP_MS = const(80)  # landing peaks closer than this are one peak (ringing)
_PEAK_SPAN_MS = const(300)  # landing peaks up to this long after the landing count for it
_LULL_MS = const(150)  # pads: a shorter unload in stance is a bounce, not a swing
# The motion history: one entry per sample (dt_ms, ax, ay, az in mg, gx, gy, gz in 0.1 dps).
_HW = const(7)
_PW = const(7)  # the track per entry (Detector._pos): its position (mm), then its rotation (Q14)
_HN = const(160)  # entries; a longer motion is kept at half the time resolution, and again
_PRE = const(8)  # rest samples kept before a motion: its start (the test sees it a few samples late)
_FLOOR_MM = const(3)  # a heel this low has reached the floor (the shoe's sole gives a little)
_TOES_UP = const(3)  # pitch below -3 floors (toes up 9 mm): the forefoot is off the floor
_FAST_G2 = const(10000)  # a turn faster than 100 dps (its energy in dps^2)
_BIAS_W = const(256)  # the gyro bias is a running mean over about this many rest samples
_MOTION_MAX_MS = const(8000)  # a motion this long without a rest is cut here and judged
_Q = const(16384)  # quaternion unit (Q14)
_HALF_ANGLE = const(183)  # Q14 half-angle per 0.1 dps * ms is 183 / 12800 (pi / 180 / 10000 / 2 * 16384)
_ANGLE_SAFE = const(570000)  # 0.1 dps * ms: up to here the rounded half-angle stays exact and small
_TILT_OK_Q10 = const(20)  # the gyro's turn and the accelerometer's tilt agree within ~1.1 degrees
_TILT_FIX_Q10 = const(215)  # a gyro is put right by up to 12 degrees (it saturated), not more
_BOB_Q2 = const(127000)  # a turn of 2.5 degrees: |q_xyz|^2 in Q28 (sin(1.25 deg) * 16384, squared)
_PIVOT_CHORD = const(160)  # a rise (or lowering) in place of 9 degrees or more tells where the pivot is (see _pivot)
_BOB_CHORD = const(25)  # ... that comes back to within 1.4 degrees (Q10 chord between the tilts)
_AXIS_ROSE = const(99)  # the pitch axis came from a rise onto the toes (else: steps that taught it)
_STEP_MAX_MS = const(1500)  # one step's motion (push-off, swing, landing) takes no longer
_REST_G_PCT = const(10)  # a foot at rest reads 1 g within this (its low-pass): a steady push does not
_CLIP_MIN = const(1000)  # 0.1 dps: a gyro held this fast or faster may be at full scale (100 dps and up)
_UP_CONFIRM_MS = const(60)  # the heel held up this long: it has left the floor
_ONE_G_PCT = const(5)  # |a| within this of 1 g: the pod is not pushed (a rest, a fast turn's end)
_CAL_G2_MIN = const(700 * 700)  # mg^2: the stand reads 0.7 .. 1.3 g (an accelerometer's scale can be
_CAL_G2_MAX = const(1300 * 1300)  # ... that far off; it is learned there)
_CAL_D2_CAP = const(64)  # the stand's noise: one sample counts up to this many rest limits (a jolt)
_FSR_STILL_COUNTS = const(200)  # pads: a stand's reading varies less than this (ADC counts) plus 1/32
_GAP_HALF_PERIODS = const(5)  # a sample this many half periods after the last: samples went missing
_SETTLE_ZUPTS = const(3)  # a rest this many zupt_ms long is settled: its gravity can be read
_NOISE_X = const(4)  # rest limits: this many times the noise the stand measured
_BIAS_N_MAX = const(4096)  # rest samples summed for the gyro bias at most (the sums stay small ints)
_ST_N_MAX = const(30000)  # stance samples summed for the heel height at most (likewise)
_RAISE_MAX = const(16)  # rest limits rise up to this many times (4x the rate) after a hard swing
_V_MAX = const(20000000)  # um/s: a velocity stays a small int on 32-bit ports
_HIST_HZ = const(100)  # (200 Hz and up are kept at half rate or less)
_RESTS = const(8)  # rests looked for in one motion (the first, up to six inside it, the last)
_POD_HIGH_MM = const(100)  # a pod sits at most this high above the forefoot's contact (heel counter)
_BIAS_TURN_MS = const(500)  # a rest this long: its tilt's turn is measured well enough to take from the bias
_BIAS_TURN2 = const(100)  # ... if it turned by a degree or more (in 0.1 degree, squared): else noise
_BIAS_RATE_MAX = const(8000)  # ... if slower than 80 dps (0.01 dps; a rest turns slower still: the products stay small ints)
_BIAS_G0_TC = const(3)  # ... from its tilt low-pass this many of its time constants in (settled),
_BIAS_G0_MIN = const(8)  # ... and this many samples at least
_CUT_RETRY_MS = const(250)  # a long motion not cut is tried again this much later
_CUT_ENTRIES = const(8)  # history entries a cut's track integrates per sample, at least (see _cut)
_CUT_MIN_N = const(32)  # history entries a motion needs before a cut is tried
_CUT_LEAD_MS = const(150)  # ... begun this long before the motion is longer than a step: judged by then
_STILL_MMS = const(150)  # mm/s: between two quiet moments a foot that stood gains less (a swing gains more)
_SPLITS = const(6)  # steps found in one motion, at most (each is an event: see EV_SLOTS)
_STOP_MM = const(10)  # a foot advancing less than this ...
_STOP_MS = const(200)  # ... for this long has stopped (a heel bobbing in stance travels ~0)
_FORE_MS = const(30)  # a stretch that is one step is looked at this often (see _steps_in)
_LAND_MS = const(300)  # a landing's impact comes this soon after the foot is over the spot it stops at
_WALKER_MS = const(4500)  # a heel that touched this recently: a walker's (see update)
_FAST_MS = const(50)  # advancing _STOP_MM this fast (20 cm/s) is a swing: a bob or drift creeps
# the per-sample low-passes and counters (Detector._lp: one unpacking per sample, see calibrate)
_LP_T = const(0)
_LP_X = const(1)
_LP_Y = const(2)
_LP_Z = const(3)
_LP_G2 = const(4)
_LP_SX = const(5)
_LP_SY = const(6)
_LP_SZ = const(7)
_LP_SN = const(8)
_LP_GQ = const(9)
_LP_Q = const(10)
_LP_RING = const(11)
_LP_PRE = const(12)
_LP_PRE_N = const(13)
_LP_W = const(14)
_LP_UP = const(15)
_LP_N = const(16)
# an integration's state (Detector._integrate's `st`): the entry it ended at, then its
# locals (rates and acceleration before, rotation, velocity, position, largest turn, ms, count)
_IS_A = const(0)
_IS_T = const(18)  # (its ms; a turn alone's: the weight)
_IS_N = const(20)
# ... and the landing's, run ahead (Detector._ahead, its own list): its start, the last
# rest's first entry, the gravity and gyro bias it began with
_AH_S = const(0)
_AH_LAST = const(1)
_AH_G0X = const(2)
_AH_G0Y = const(3)
_AH_G0Z = const(4)
_AH_BX = const(5)
_AH_BY = const(6)
_AH_BZ = const(7)
_AH_STAGE = const(8)  # what it runs: the track (_AHS_TRACK), or first the turn alone (_AHS_TURN)
_AH_L = const(9)  # ... to this entry: where the foot landed, for a clipped gyro's tilt fix
_AH_W = const(10)  # the tilt fix's weight (0: none; see _attitude)
_AHS_TRACK = const(0)
_AHS_TURN = const(1)
# one stance's counts (Detector._stn, see _new_stance)
_ST_RUN = const(0)
_ST_BEST = const(1)
_ST_HSUM = const(2)
_ST_HN = const(3)
_ST_MED = const(4)
_ST_LAT = const(5)
_ST_AIR = const(6)  # pads: the heel pad was clear in the forefoot's unload under way (see _fsr_steps)
_ST_N = const(7)

# name, default, min, max. The one place detector parameters live; `set` checks ranges.
# One flat tuple, not a tuple per row: on the pod each small tuple costs RAM (see `params`).
PARAMS = (
    "rate_hz", 100, 25, 1000,
    "foot_mm", 250, 150, 350,  # pivot length: heel height = foot_mm * sin(pitch)
    "calib_ms", 250, 100, 5000,  # still and flat this long to learn gravity
    "zupt_dps", 15, 2, 200,  # the foot rests: gyro below this ...
    "zupt_mg", 40, 5, 500,  # ... and its acceleration steadier than this ...
    "zupt_ms", 80, 20, 1000,  # ... for this long (a landing ends the motion before it)
    "step_min_mm", 25, 5, 500,  # the forefoot travels this far: a step (a bounce travels ~0)
    "lever_mm", 280, 0, 500,  # farthest a pod sits from the forefoot (pivot) it turns about
    "rise_mm", 30, 10, 120,  # heel this high ...
    "rise_ms", 250, 50, 3000,  # ... this long, at rest: the set starts
    "heel_down_mm", 12, 2, 80,  # heel lower than this: on the floor
    "heel_up_mm", 25, 4, 100,  # higher than this: off the floor again
    "heel_confirm_ms", 40, 0, 500,
    "strike_dps", 50, 10, 1000,  # heel-down rotation this fast, then reversing: a heel strike
    "lp_ms", 40, 5, 500,  # accelerometer low-pass for tilt and steadiness
    "set_end_ms", 1500, 300, 10000,  # heels down this long: the set is over, not a fault
    "landing_peak_mg", 250, 50, 8000,  # |a| above 1 g by this much: an impact peak
    "fsr_heel_on_pct", 25, 5, 95,  # % of (loaded ref - unloaded base)
    "fsr_heel_off_pct", 12, 1, 90,
    "fsr_heel_touch_pct", 3, 1, 50,  # first load above this dates the contact's onset
    "fsr_fore_on_pct", 30, 5, 95,
    "fsr_fore_off_pct", 15, 1, 90,
    "fsr_pause_pct", 4, 1, 50,  # forefoot load this steady: paused
    "fsr_swing_ms", 150, 40, 1000,  # pads: the whole sole off the floor this long is a swing
    "fsr_heel_base", 0, 0, 65535,  # unloaded counts; 0 = learn (lowest reading seen)
    "fsr_heel_ref", 0, 0, 65535,  # loaded counts; 0 = learn (standing calibration)
    "fsr_fore_base", 0, 0, 131070,  # medial + lateral pads
    "fsr_fore_ref", 0, 0, 131070,
)

# pairs that must stay ordered: lower, higher
_ORDERED = (
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
    """Integer square root (floor), small ints only: used at landings and calibration."""
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


def _unit(out, x, y, z, scale):
    """Store (x, y, z) scaled to length `scale` in out[0..2] (zeros for a null vector); return its length.

    Results go to a preallocated array: a returned tuple would be allocated, and the
    pod runs the detector with the heap locked.
    """
    # shrink first: the squares of large components must stay small ints
    s = 0
    while x > 16000 or x < -16000 or y > 16000 or y < -16000 or z > 16000 or z < -16000:
        x >>= 1
        y >>= 1
        z >>= 1
        s += 1
    m = isqrt(x * x + y * y + z * z)
    if m == 0:
        out[0] = out[1] = out[2] = 0
        return 0
    out[0] = x * scale // m
    out[1] = y * scale // m
    out[2] = z * scale // m
    return m << s


def _roomy(obj, k):
    """Make obj's attribute table roomier: k * 28 names set and removed again.

    MicroPython grows an instance's table only once it is full, so a large one sits nearly full
    and a look-up probes long runs of slots, a software modulo each on an M0. The extra names
    (the parameters', and those with a '_' before them) make it grow past its attributes; removed,
    they leave it one to two thirds empty: fewer instructions per sample on vpico. (CPython: a no-op.)
    """
    for j in range(k):
        for i in range(0, len(PARAMS), 4):
            setattr(obj, "_" * j + str(PARAMS[i]), 0)
    for j in range(k):
        for i in range(0, len(PARAMS), 4):
            delattr(obj, "_" * j + str(PARAMS[i]))


def _reverse(h, a, b):
    """Reverse the order of history entries a..b-1 in place."""
    b -= 1
    while a < b:
        i = a * _HW
        j = b * _HW
        for k in range(_HW):
            v = h[i + k]
            h[i + k] = h[j + k]
            h[j + k] = v
        a += 1
        b -= 1


class _Cold:
    """State used at landings, calibration and set start, not per sample.

    Kept out of the Detector: the fewer attributes an instance has, the faster
    MicroPython looks them up on the per-sample path.
    """

    def __init__(self):
        self.cal_n = self.cal_wait = 0
        self.cal_x = self.cal_y = self.cal_z = self.cal_h = self.cal_f = 0
        self.cal_d2 = self.cal_g2 = 0  # the sensor's noise while standing
        self.air_n = 0  # pads: samples with the whole sole off the floor
        self.was_loaded = False
        self.f_peak = 0  # pads: the highest load seen while the stand is awaited (whole sole), then in a stance (forefoot)
        self.f_lrn = 0  # pads: the forefoot's loaded level learned from stances (no stand calibrated)
        self.rise_cnt = self.rise_t = 0  # the rise onto the toes, so far
        self.axis_n = 0  # steps that taught the pitch axis (0: none yet)
        self.flip_votes = 0  # steps in a row whose travel says the axis is upside down
        self.ax_x = self.ax_y = self.ax_z = 0  # pitch axis a walked set taught, summed (kept across sets)
        # the motion being integrated (see Detector._track)
        self.g0x = self.g0y = self.g0z = 0  # gravity at its start (mg, start frame)
        self.t_lift = 0  # when it started (its first moving sample)
        self.t_lift0 = 0  # the same, for the motion being judged
        self.t_start = 0  # its track's time origin (the rest samples before it)
        self.t_rest = 0  # when the rest that ended it began
        self.cut0 = False  # it began where a longer motion was cut (see _cut), not at a rest
        self.t_strike = _NEVER  # when the last strike was seen
        self.touch_t = _NEVER  # when a walk began from a stand (heels down: a touch, see update)
        self.flat_mg = 0  # the heel's tilt at rest in the last contact (see update: a walker's)
        self.w_rest = 0  # a landing's rest turned this fast (dps^2) where it settled (see _lift)
        self.v_cut = 0  # ... where the pod moved up to this fast (mm/s; or from a rest it may not have stood in)
        self.t_trust = 0  # when the last motion that began at a rest began (cuts carry it on)
        self.t_cut = 0  # a cut is tried from here on
        self.cut_q = -1  # the cut being judged: at this history entry (-1: none) ...
        self.cut_p = 0  # ... against the quiet moment here (-1: judged, the foot stood)
        self.cut_s = 0  # ... on the track from here (the middle of the rest before the motion)
        self.cut_e = 0  # ... to here (the middle of the rest it would be cut at)
        self.cut_f = -1  # the last quiet moment a cut was judged at, and the foot had not stood
        self.cut_gx = self.cut_gy = self.cut_gz = 0  # gravity where it stood (mg, the pod's frame there)
        self.dc = False  # the history was mended for a clipped gyro already (a cut's, see _cut)
        self.bias_w = 0  # rest samples the bias is the mean of (up to _BIAS_W)
        self.first_t = _NEVER  # a walking set's first strike, from the history (see _first_strike)
        self.strike_mg = 0  # the heel's height at the strike (a heel that goes on down was not struck)
        self.w_cut = 0  # the entries a tilt correction is spread over turned this fast (see _attitude)
        self.clip = False  # the motion's gyro clipped, and its history was mended (see _declip)
        self.ah = [0] * _IS_N  # the landing's integration, run ahead while its rest settles
        self.ahs = [-1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]  # ... where it began (see _AH_*; -1: none)
        # ... and an accelerometer alone's turn (see detector_acc.rates), and the swing, the step and
        # the step that struck nothing its last stretches stopped at (see detector_acc.stepped)
        self.ahr = [0, 0, 0, 0, 0, 0, -1, _NEVER, _NEVER, _NEVER]
        _roomy(self, 1)


SENSORS = ("imu", "acc", "fsr", "imu+fsr", "acc+fsr")  # sensor kinds: acc is an accelerometer alone


def for_sensor(params, sensor):
    """The detector for a sensor kind (one of SENSORS)."""
    if sensor not in SENSORS:
        raise ValueError("sensor must be one of %s, got %r" % (", ".join(SENSORS), sensor))
    return Detector(params, imu="imu" in sensor or "acc" in sensor, fsr="fsr" in sensor, gyro="imu" in sensor)


class Detector:
    """One foot's detector. `imu`/`fsr` say which sensors feed it; both may. An IMU without
    `gyro` is an accelerometer alone: its gyro arguments are ignored."""

    def __init__(self, params, imu=True, fsr=False, gyro=True):
        if not imu and not fsr:
            raise ValueError("detector needs an IMU, FSR pads, or both")
        self.p = params
        self.imu = imu
        self.fsr = fsr
        self.gyro = imu and gyro
        self._acc = None  # (the calls into it say ignore[union-attr]: they run only when not gyro)
        if self.imu and not gyro:
            # an accelerometer alone: its own path, loaded only by such a pod (an IMU pod's RAM
            # holds none of it)
            if ACC is None:
                import detector_acc

                self._acc = detector_acc
            else:
                self._acc = ACC
        self.ev = array("i", [0] * (EV_WIDTH * EV_SLOTS))
        self.n_ev = 0
        self._ring = array("i", [0] * _RING)
        self._peak_t = array("i", [0] * _PEAKS)
        # the motion history (empty on an FSR-only pod: one type for the checker) and the splits of
        # a motion into steps (t_ms, stride, clearance per step)
        self._hist = array("h", [0] * (_HW * _HN)) if imu else array("h")
        self._pos = array("h", [0] * (_PW * _HN)) if imu else array("h")  # the track per entry (_PW)
        self._split = array("i", [0] * (3 * _SPLITS))
        self._u = array("i", [0] * 3)  # scratch vector for _unit and _tilt
        self._q = array("i", [0] * 4)  # the rotation being integrated (Q14)
        self._k = array("i", [0] * 3)  # the tilt correction of a motion (Q10 rad)
        self._piv = array("i", [0] * 3)  # where the forefoot the foot turns about is, from the pod (mm, its frame; 0: not known)
        self._rest = array("h", [0] * (2 * _RESTS))  # the rests in a motion: first, last entry + 1
        self._g = array("h", [0] * (3 * _RESTS))  # gravity at each rest (mg)
        # the settings the per-sample paths read, each in one unpacking (see _sync, _fsr_sync)
        self._cfg = [0] * 27
        self._cfgf = [0] * 9
        self._lp = [0] * _LP_N  # (see calibrate)
        self._stn = [0] * _ST_N  # (see _new_stance)
        self._bias = [0, 0, 0, 0, 0, 0, 0, 0, 0]  # rest samples since the last motion, their gyro sums, for the bias;
        # ... the tilt low-pass (mg) and the time where the rest had settled, and that many samples in
        self.configure()
        self.calibrate()
        _roomy(self, 2)

    # -- configuration -------------------------------------------------
    def _n(self, ms):
        # samples in ms, rounded: a count's time must not shrink at low rates
        n = (ms * self.p.rate_hz + 500) // 1000
        return n if n > 0 else 1

    def _shift(self, ms):
        # a low-pass over about ms: the power of two nearest its sample count
        n = ms * self.p.rate_hz // 1000
        k = 0
        while (3 << k) <= 2 * n and k < 10:
            k += 1
        return k

    def configure(self):
        """Derive sample counts and squared thresholds from the parameters."""
        p = self.p
        self.dt_ms = 1000 // p.rate_hz
        self.gap_ms = _GAP_HALF_PERIODS * 1000 // (2 * p.rate_hz)  # samples went missing
        # a motion is kept at about _HIST_HZ: its landing integrates that many entries a second
        self.dec0 = p.rate_hz // _HIST_HZ if p.rate_hz >= 3 * _HIST_HZ // 2 else 1
        self.calib_n = self._n(p.calib_ms)
        self.rise_n = self._n(p.rise_ms)
        self.zupt_n = self._n(p.zupt_ms)
        self.settle_n = _SETTLE_ZUPTS * self.zupt_n  # a rest this long is settled: its gravity can be read
        self.confirm_n = self._n(p.heel_confirm_ms) if p.heel_confirm_ms else 1
        self.zg2_p = p.zupt_dps * p.zupt_dps
        # a rest needs 1 g on the pod unless the motion turned fast; an accelerometer alone cannot
        # tell a fast turn (its stand-in energy is not a turn's): it always needs 1 g
        self.fast2 = _FAST_G2 if self.gyro else 1 << 29
        za = p.zupt_mg >> 2  # deviations are compared in 4 mg units (squares stay small ints)
        self.za2_p = za * za if za > 0 else 1
        self.rise_mg = p.rise_mm * 1000 // p.foot_mm
        self.rise2 = self.rise_mg * self.rise_mg
        self.down_mg = p.heel_down_mm * 1000 // p.foot_mm
        self.floor_mg = _FLOOR_MM * 1000 // p.foot_mm
        self.up_mg = p.heel_up_mm * 1000 // p.foot_mm
        self.strike = p.strike_dps * 10
        self.up_confirm_n = self._n(_UP_CONFIRM_MS)
        pk = 1000 + p.landing_peak_mg
        self.pk_hi2 = pk * pk
        pk = 1000 + p.landing_peak_mg // 2
        self.pk_lo2 = pk * pk
        self.lp_k = self._shift(p.lp_ms)
        self.lp_delay_ms = ((1 << self.lp_k) - 1) * 1000 // p.rate_hz
        n = _BIAS_G0_TC << self.lp_k
        self._bias[8] = n if n > _BIAS_G0_MIN else _BIAS_G0_MIN
        n = p.rate_hz * _IMPACT_MS // 1000
        self.ring_n = n if n < _RING else _RING
        self.swing_n = self._n(p.fsr_swing_ms)
        self.lull_n = self._n(_LULL_MS)
        # with two sensors one must be sure and the other at least unsure
        both = self.imu and self.fsr
        self.down_at = 3 if both else 2
        self.up_at = 1 if both else 0
        if hasattr(self, "h_min"):  # a parameter changed after start-up
            self._fsr_levels()
            Detector._sync(self)

    def calibrate(self):
        """Forget gravity and the set; learn again from the next still, flat stand."""
        self.state = ST_CAL
        self.n_ev = 0
        self.ux = self.uy = 0
        self.uz = 1024
        self.hx = self.hy = self.hz = 0  # heel-up tilt direction (Q10); 0: not known yet
        self.px = self.py = self.pz = 0  # pitch axis (Q10), heel rising positive
        # the sample time before, the tilt low-pass (mg << lp_k), the gyro energy's, a slower tilt
        # low-pass while the gyro is quiet (mg << lp_k + 1) and the samples it has run (0: it starts
        # at the next), samples in a row with the gyro quiet, rest samples in a row, the next
        # slot of the |a|^2 ring, the next pre-roll slot while resting and the rest samples in the
        # pre-roll (up to _PRE), the turn about the pitch axis on the sample before, samples in a
        # row with the heel up (see _LP_*)
        lp = self._lp
        for i in range(_LP_N):
            lp[i] = 0
        lp[_LP_Z] = 1000 << self.lp_k
        # the rest limits; the still stand raises them above the sensor's own noise
        self.za2 = self.za2_p
        self.zg2 = self.zg2_p
        self.g_lo2 = (10 * (100 - _ONE_G_PCT)) ** 2  # 1 g within _ONE_G_PCT (what the stand measures replaces it)
        self.g_hi2 = (10 * (100 + _ONE_G_PCT)) ** 2
        self.r_lo2 = (1000 - 10 * _REST_G_PCT) ** 2
        self.r_hi2 = (1000 + 10 * _REST_G_PCT) ** 2
        self.za2_m = self.za2  # the limits now: raised during a hard motion
        self.zg2_m = self.zg2
        self.pk_g2 = 0  # the motion's peak gyro energy
        self.fresh = True  # no sample yet: the low-pass starts at the first one
        self.h_ref = self.f_ref = 0
        self.h_min = self.f_min = self.m_min = self.l_min = 1 << 20  # above any ADC count
        self.h_lp = self.f_lp = 0
        self.bgx = self.bgy = self.bgz = 0  # gyro bias (0.1 dps)
        k = self._cfg
        k[4] = k[5] = k[6] = 0  # (the per-sample path's copy: the next stand learns it again)
        b = self._bias
        b[0] = b[1] = b[2] = b[3] = 0
        self.gap_t = _NEVER  # the last gap in the samples during a motion
        self.mv = False  # in a motion (its samples go to the history)
        self.landed = False  # the motion has come to rest (it is judged when the rest settles)
        self.h_n = 0  # history entries of the motion so far
        self.h_dec = 1  # samples per history entry (a long motion halves its resolution)
        self.h_acc = 0  # samples summed into the current entry
        self.pitch_mg = 0
        # heel height as the pitch's projection (mg: 1000 is the heel a foot length up): now, and at
        # the last rest; the gyro's turn about the pitch axis since that rest (1e-4 degrees: 0.1
        # dps * ms)
        self.heel_now_mg = 0
        self.heel_base_mg = 0
        self.turn_e4deg = 0
        self.struck = False
        self.dn_seen = 0
        self.strike_t = _NEVER
        self.cross_t = _NEVER
        self.up_t = _NEVER  # a contact's heel up since (not confirmed up yet; see _heel)
        self.cross_slow = 0  # the heel crossed slowly (an accelerometer alone: 0..2, see _acc_heel)
        self.rested = False  # the heel's height came from the tilt at rest on the last sample (a gyro)
        self.cold = _Cold()
        self.h_base = self.h_rng = self.f_rng = 0
        self.h_clear_t = 0
        self.t_turn = _NEVER  # the last sample the gyro was not quiet
        for i in range(_RING):
            self._ring[i] = 1000000
        self.pk_above = False
        self.pk_last = _NEVER
        self.pk_i = 0
        for i in range(_PEAKS):
            self._peak_t[i] = _NEVER
        self.s_imu = self.s_fsr = 0
        self.on_imu = 0
        self.fore_on = False
        self.steps = 0
        self._fsr_levels()
        Detector._sync(self)
        self._new_set_state()

    def _new_set_state(self):
        self.cold.rise_cnt = 0
        self.cold.rise_t = 0
        self.unload_t0 = 0
        self.unload_cnt = 0
        self.in_step = False
        self.land_t = 0
        self.stride_mm = UNKNOWN
        self.clear_mm = UNKNOWN
        self.heel_down = False
        self.up_t = _NEVER
        self.cand_n = 0
        self.onset_t = 0
        # heels down this long after a step: the set is over. A slow walker's stance (the heel
        # sinking onto the floor in it) can last longer than set_end_ms: it lengthens with them
        self.end_ms = self.p.set_end_ms
        self.impact2 = 0
        self.load_peak = 0
        self._new_stance()

    def _new_stance(self):
        # the still samples in a row, the most of them, heel heights summed (and how many), the
        # forefoot loads on the big-toe side and the other, summed (see _ST_*)
        sn = self._stn
        for i in range(_ST_N):
            sn[i] = 0
        self.rebounds = 0

    # -- events --------------------------------------------------------
    def _emit(self, kind, t, a, b, c, d, e, f, g, h):
        if self.n_ev >= EV_SLOTS:
            return  # a motion splits into at most 4 steps: never overrun
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
        ev[i + 8] = g
        ev[i + 9] = h
        self.n_ev += 1

    # -- per sample ----------------------------------------------------
    def update(self, t, ax, ay, az, gx, gy, gz, heel, med, lat):
        """Process one sample (t in ms; mg, mdps, ADC counts). Returns the number of new events."""
        # One method, the IMU's and the pads' parts inline: on the pod a call costs more than
        # most of what it would do. Methods are called through the class: looking them up on
        # the instance first costs a full miss in its large attribute table.
        self.n_ev = 0
        imu = self.imu
        quiet = False
        d2 = mag2 = 0  # (the steadiness, for the calibration; |a|^2, for the impact)
        if imu:
            # -- the IMU: the settings in one unpacking (see _sync), locals instead of repeated
            # attribute look-ups, clamps inline
            (k, pk_hi2, pk_lo2, gyro, bgx, bgy, bgz, fast2, r_lo2, r_hi2, zupt_n, settle_n, px, py, pz, hx, hy, hz,
             floor_mg, up_mg, strike, down_mg, up_confirm_n, g_lo2, g_hi2, zg2, za2) = self._cfg
            # (one test first: every axis well inside its clamp, as nearly always)
            if ((ax + 8192) | (ay + 8192) | (az + 8192)) >> 14:
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
            if gyro:
                gx //= 100  # 0.1 dps
                gy //= 100
                gz //= 100
                if ((gx + 16384) | (gy + 16384) | (gz + 16384)) >> 15:
                    if gx > _GYRO_MAX:
                        gx = _GYRO_MAX
                    elif gx < -_GYRO_MAX:
                        gx = -_GYRO_MAX
                    if gy > _GYRO_MAX:
                        gy = _GYRO_MAX
                    elif gy < -_GYRO_MAX:
                        gy = -_GYRO_MAX
                    if gz > _GYRO_MAX:
                        gz = _GYRO_MAX
                    elif gz < -_GYRO_MAX:
                        gz = -_GYRO_MAX
            else:  # an accelerometer alone (its slots hold zeros): nothing to scale or clamp
                gx = gy = gz = 0
            # the low-passes and the rest test's counters: one unpacking, written back one by one
            lp = self._lp
            t_prev, lx, ly, lz, g2_lp, sx, sy, sz, n, gq_n, q_n, i, pre, pre_n, w_prev, up_n = lp
            dt = t - t_prev
            lp[_LP_T] = t
            if dt > _DT_MAX_MS:
                dt = _DT_MAX_MS
            elif dt < 1:
                dt = 1
            lx += ax - (lx >> k)
            ly += ay - (ly >> k)
            lz += az - (lz >> k)
            lp[_LP_X] = lx
            lp[_LP_Y] = ly
            lp[_LP_Z] = lz
            x = lx >> k
            y = ly >> k
            z = lz >> k
            mag2 = ax * ax + ay * ay + az * az
            self._ring[i] = mag2
            lp[_LP_RING] = (i + 1) & (_RING - 1)
            # landing impact peaks, with a refractory gap so ringing counts once
            if mag2 > pk_hi2:
                if not self.pk_above:
                    self.pk_above = True
                    if t - self.pk_last >= _PEAK_GAP_MS:
                        self._peak_t[self.pk_i] = t
                        self.pk_i = (self.pk_i + 1) % _PEAKS
                    self.pk_last = t
            elif self.pk_above and mag2 < pk_lo2:
                self.pk_above = False
            # the zero-velocity test: gyro energy (bias removed, dps^2) low, and the tilt low-pass
            # steady since the rest began (a slow tilt or a gentle push moves it as surely as a jolt)
            if gyro:
                wx = (gx - bgx) // 10
                wy = (gy - bgy) // 10
                wz = (gz - bgz) // 10
            else:
                # an accelerometer alone: its deviation from the tilt low-pass stands in for the
                # gyro (4 mg units: the rest limit zupt_dps reads as 4 * zupt_dps mg)
                wx = (ax - x) >> 2
                wy = (ay - y) >> 2
                wz = (az - z) >> 2
            g2_lp += (wx * wx + wy * wy + wz * wz - g2_lp) >> 1  # short: a jolt's energy must not linger
            lp[_LP_G2] = g2_lp
            quiet = False
            mv = self.mv
            if mv and g2_lp > self.pk_g2:
                # a foot that swung hard rests less quietly (ordinary walking's stance rolls and
                # jolts): the rest limits rise with the motion's peak, a rate of 1/8 of it, up to 4x
                self.pk_g2 = g2_lp
                f = g2_lp >> 6
                if f > self.zg2_m:
                    if f > _RAISE_MAX * zg2:
                        f = _RAISE_MAX * zg2
                    self.zg2_m = f
                    self.za2_m = za2 * f // zg2
            if g2_lp < self.zg2_m:
                # steady: the tilt low-pass keeps up with a slower one, started where the gyro fell
                # quiet (a swing's acceleration changes slowly, but far: the slower one lags behind)
                gq_n += 1
                lp[_LP_GQ] = gq_n
                k += 1
                if n:
                    sx += x - (sx >> k)
                    sy += y - (sy >> k)
                    sz += z - (sz >> k)
                else:
                    sx = x << k
                    sy = y << k
                    sz = z << k
                lp[_LP_SX] = sx
                lp[_LP_SY] = sy
                lp[_LP_SZ] = sz
                dx = (x - (sx >> k)) >> 2
                dy = (y - (sy >> k)) >> 2
                dz = (z - (sz >> k)) >> 2
                d2 = dx * dx + dy * dy + dz * dz
                # (and 1 g on the pod: a swing's steady push is no rest, though steady)
                quiet = d2 < self.za2_m and (self.pk_g2 >= fast2 or r_lo2 < x * x + y * y + z * z < r_hi2)
                # not settling down for zupt_ms: the slower one starts again from here (a strike's
                # jolt, or a slow drift, must not keep the foot from a rest for long)
                lp[_LP_SN] = 0 if not quiet and n >= zupt_n else n + 1
            else:
                gq_n = 0
                lp[_LP_GQ] = 0
                lp[_LP_SN] = 0
                self.t_turn = t
            if quiet:
                q_n += 1
            else:
                q_n = 0
            lp[_LP_Q] = q_n
            # the motion history: every sample of a motion, and a few rest samples before it
            h = self._hist
            tracked = False
            if mv:
                if self.h_acc == 0 and self.h_dec == 1:
                    # at full resolution the sample is an entry (_keep's common case, inline)
                    i = self.h_n
                    j = i * _HW
                    h[j] = dt if quiet else -dt
                    h[j + 1] = ax
                    h[j + 2] = ay
                    h[j + 3] = az
                    h[j + 4] = gx
                    h[j + 5] = gy
                    h[j + 6] = gz
                    i += 1
                    self.h_n = i
                    if i >= _HN:
                        Detector._halve(self)
                else:
                    Detector._keep(self, h, dt if quiet else -dt, ax, ay, az, gx, gy, gz)
                if self.landed:
                    # landed: the motion is judged once the rest settles (a landing still shakes
                    # the pod for a while), or as soon as the foot moves on
                    if not quiet:
                        if Detector._jolt(self):
                            self.landed = False  # (one motion still: it starts from the rest before the jolt)
                            self.cold.ahs[_AH_S] = -1
                        elif Detector._brief(self, t):
                            self.landed = False  # (one motion still, through the stillness)
                        else:
                            Detector._track(self, t, True)
                            tracked = True
                    elif q_n >= settle_n:
                        Detector._track(self, t, False)
                        tracked = True
                    else:
                        b = self._bias
                        if b[0] == b[8]:
                            b[4] = x
                            b[5] = y
                            b[6] = z
                            b[7] = t
                        b[0] += 1
                        b[1] += gx
                        b[2] += gy
                        b[3] += gz
                        if self.cold.ahs[_AH_S] >= 0:
                            # (done within half of zupt_ms more, if it can be: a foot in ordinary
                            # walking moves on before its rest has settled)
                            Detector._ahead(self, (3 * zupt_n >> 1) - q_n if (3 * zupt_n >> 1) - q_n > 1 else 1)
                elif quiet and q_n >= zupt_n:
                    self.landed = True
                    self.cold.t_rest = t - (q_n - 1) * dt
                    if self.pitch_mg > (up_mg if self.struck and self.cold.strike_mg < -_TOES_UP * self.floor_mg
                                        else down_mg):
                        # landed with the heel resting clear of the floor: a strike before this rest
                        # touched nothing (a heel that sinks later reaches the floor on its own)
                        self.strike_t = _NEVER
                    if self.state != ST_CAL:
                        Detector._ahead_start(self, True)
                elif t - self.cold.t_lift >= _STEP_MAX_MS - _CUT_LEAD_MS:
                    # longer than a step without a rest: cut it where the foot stood (a heel bobbing
                    # in stance), trying again a little later if it did not; judged as it is at last
                    c = self.cold
                    if t - c.t_lift >= _MOTION_MAX_MS:
                        Detector._track(self, t, False)
                        tracked = True
                    elif gyro and (t >= c.t_cut or c.cut_q >= 0) and self.state != ST_CAL:
                        if Detector._cut(self, t):
                            tracked = True
                if (quiet and not self.landed and not tracked and q_n + q_n >= zupt_n and self.state != ST_CAL
                        and self.cold.cut_q < 0):
                    # still for half of zupt_ms: the landing's integration may begin (see _ahead_start;
                    # a cut being judged integrates the same track already)
                    if q_n == (zupt_n + 1) >> 1:
                        Detector._ahead_start(self, False)
                    elif self.cold.ahs[_AH_S] >= 0:
                        Detector._ahead(self, 2 * zupt_n - q_n)
            elif quiet:
                j = pre * _HW
                h[j] = dt
                h[j + 1] = ax
                h[j + 2] = ay
                h[j + 3] = az
                h[j + 4] = gx
                h[j + 5] = gy
                h[j + 6] = gz
                lp[_LP_PRE] = (pre + 1) & (_PRE - 1)
                if pre_n < _PRE:
                    lp[_LP_PRE_N] = pre_n + 1
                b = self._bias
                bn = b[0]
                if bn < _BIAS_N_MAX:
                    if bn == b[8]:
                        b[4] = x
                        b[5] = y
                        b[6] = z
                        b[7] = t
                    b[0] = bn + 1
                    b[1] += gx
                    b[2] += gy
                    b[3] += gz
            else:
                Detector._lift(self, t, dt, ax, ay, az, gx, gy, gz)
            if tracked:
                # (a landing above may have taught the pitch axis, or turned it round)
                px = self.px
                py = self.py
                pz = self.pz
                hx = self.hx
                hy = self.hy
                hz = self.hz
            if px or py or pz:  # (no pitch axis yet: no heel height)
                # rotation rate about the learned pitch axis (0.1 dps), positive = heel rising
                w = (gx * px + gy * py + gz * pz) >> 10 if gyro else 0
                pitch = (x * hx + y * hy + z * hz) >> 10
                self.pitch_mg = pitch
                # heel height: the accelerometer's tilt at rest, carried through motion by the gyro
                # (no low-pass lag when the heel lifts, no swing accelerations in it: a foot carried
                # at a fixed angle can look quiet for a moment in mid-swing)
                mv = self.mv  # (the history above may have ended the motion, or begun one)
                if not gyro:
                    # an accelerometer alone: its tilt wherever the pod is steady and reads 1 g (at
                    # rest; a heel lowered or sinking slowly), else the last seen (no gyro carries it)
                    if mv and not self.landed and not (gq_n >= zupt_n and g_lo2 < x * x + y * y + z * z < g_hi2):
                        self.cross_slow = 0
                        heel_now = self.heel_now_mg
                    else:
                        old = self.heel_now_mg
                        self.heel_now_mg = pitch
                        heel_now = pitch
                        cs = self.cross_slow
                        if pitch < floor_mg <= old and cs == 2:
                            # the tilt low-pass, seen all the way down from above heel_down_mm, came
                            # down through floor level: the heel did (sinking, or lowered slowly), its
                            # delay before. (A tilt held through a motion and read again at its landing
                            # crosses nothing: the strike dates that; a heel resting on the floor
                            # crosses it back and forth.)
                            self.cross_t = t - self.lp_delay_ms - dt * (floor_mg - pitch) // (old - pitch)
                        # (1: the tilt is seen on this sample; 2, and was seen above heel_down_mm
                        # since it was last not)
                        self.cross_slow = 2 if pitch > down_mg or cs == 2 else 1
                elif not mv or self.landed or (
                        gq_n >= zupt_n and self.pk_g2 >= _FAST_G2 and g_lo2 < x * x + y * y + z * z < g_hi2
                        and pitch < self.heel_now_mg):
                    # at rest; or after a fast turn (a drop, which can saturate the gyro), not turning
                    # any more with 1 g on the pod: the accelerometer tells the heel if it reads it
                    # lower than the gyro carried it (a saturated gyro reads a drop short), not higher
                    # (before the rest the tilt low-pass still lags the landing by tens of ms)
                    old = self.heel_now_mg
                    self.heel_base_mg = pitch
                    self.turn_e4deg = 0
                    self.heel_now_mg = pitch
                    heel_now = pitch
                    if pitch < floor_mg <= old and self.rested:
                        # a heel sinking slowly enough to pass for a rest came down through floor
                        # level, as its tilt shows (its delay before): it reached the floor there
                        self.cross_t = t - self.lp_delay_ms - dt * (floor_mg - pitch) // (old - pitch)
                        self.cross_slow = False
                    self.rested = True
                else:
                    self.rested = False
                    turn = self.turn_e4deg + w * dt
                    if -_SUM_CAP < turn < _SUM_CAP:
                        self.turn_e4deg = turn
                    else:
                        turn = self.turn_e4deg
                    if dt > self.gap_ms:
                        self.gap_t = t  # a link's gap hid part of the turn: the height is a guess till the rest
                    # 0.1 dps * ms -> mg of the heel-height projection (1000 mg per rad): / 573
                    heel_now = self.heel_base_mg + turn // 573
                    # the heel turning down through floor level (3 mm): where it reached the floor
                    old = self.heel_now_mg
                    self.heel_now_mg = heel_now
                    if heel_now < floor_mg <= old:
                        self.cross_t = t - dt * (floor_mg - heel_now) // (old - heel_now)
                        self.cross_slow = w > -(strike >> 2)
                    elif heel_now < -_TOES_UP * floor_mg:
                        # toes up, beyond what a heel on the floor allows: the forefoot is in the air, the
                        # "heel height" a pitch says is no height (walking: the strike dates the contact)
                        self.cross_t = _NEVER
                # a heel strike: the heel-down turn of the late swing (or a drop) reverses, heel low
                # (dated where the fast turn ends: a heel stopped by the floor need not rebound)
                if w < -strike:
                    self.dn_seen = 1
                    if self.struck is True and heel_now < self.cold.strike_mg - down_mg:
                        # ... or fast again (see below): the strike is where this turn ends
                        self.struck = False
                elif self.dn_seen and w > (-(strike >> 1) if self.dn_seen == 1 else 0):
                    if heel_now < up_mg and not self.struck:
                        # the first reversal is the strike; the foot's ringing after it is not
                        half = strike >> 1 if self.dn_seen == 1 else 0
                        self.strike_t = t - dt * (w + half) // (w - w_prev)
                        self.struck = True
                        self.cold.strike_mg = heel_now
                        self.cold.t_strike = t
                    self.dn_seen = 0
                elif self.struck is True and w < 0 and heel_now < self.cold.strike_mg - down_mg:
                    # the heel went on down, slower, further than a floor allows: the fast turn ended
                    # in the air (a walker's late swing); the strike is where this turn stops
                    self.struck = False
                    self.dn_seen = 2
                lp[_LP_W] = w
                hi = up_mg
                if (self.landed and (self.pk_last > self.cold.t_lift or self.cold.t_strike > self.cold.t_lift)
                        and (t - self.onset_t < _WALKER_MS or t - self.cold.touch_t < _WALKER_MS)
                        and not (gyro and self.onset_t > self.cold.t_lift)):
                    # a foot landing on an impact (or a gyro's strike, though the heel rests high)
                    # soon after its heel touched, or it walked off a stand, is down again while
                    # lower than up_mg, or than its last touch rested (a walker's foot-flat can read
                    # a few degrees off the stand's; an accelerometer alone sees no strike, a gyro's
                    # can end in the air). With a gyro, a touch in an earlier stance: one in this
                    # landing that rose again left the floor (a heel hovering just above it)
                    hi = self.cold.flat_mg + down_mg
                    if hi < up_mg:
                        hi = up_mg
                    elif hi > 2 * up_mg:
                        hi = 2 * up_mg
                    walker = True
                else:
                    walker = False
                if heel_now > hi or (w > strike and heel_now > down_mg):
                    # (the heel rolling up off the floor at heel-off is up already)
                    s = 0
                    # the heel is up again (resting up there, or up a while: longer than the gyro's
                    # drift lifts it between a strike and the foot settling): that strike dates no contact
                    up_n += 1
                    lp[_LP_UP] = up_n
                    if quiet or (up_n >= up_confirm_n and gyro):
                        self.strike_t = _NEVER
                        self.cross_t = _NEVER
                        self.struck = False
                else:
                    if up_n:
                        lp[_LP_UP] = 0
                    # (the gyro at rest, the heel not sinking on: it has stopped)
                    # (a heel that struck with the toes up, past what a heel on the floor allows,
                    # landed heel first: it is down while lower than up_mg, as a walker's foot-flat
                    # reads a few degrees off the stand's; if the accelerometer's tilt agrees: the
                    # gyro carries the height through a long motion with its drift)
                    lo = down_mg
                    if self.struck and self.cold.strike_mg < -_TOES_UP * floor_mg and pitch < up_mg:
                        lo = up_mg
                    elif walker:
                        lo = hi
                    if self.heel_down and (not mv or self.landed):
                        self.cold.flat_mg = pitch
                    s = 2 if heel_now < lo and gq_n and w > -(strike >> 2) else 1
                    if s == 2 and mv and pitch >= up_mg:
                        c = self.cold
                        if t - c.t_trust > _STEP_MAX_MS or self.gap_t >= c.t_trust:
                            # the gyro carried the height through a motion longer than a step without
                            # a rest (a heel bobbing in stance: its drift adds up), or across a gap in
                            # the samples: the accelerometer's tilt must agree that the heel is low
                            s = 1
                    if mv and not gyro and not self.landed:
                        # an accelerometer alone does not see the heel move: a foot moving for a
                        # swing's time (now, and since it lifted or rested for a moment, on a
                        # landing's shake) has left the floor; a heel down in a stance stays still,
                        # or shifts briefly (a foot carried steadily in mid-swing reads a tilt, yet
                        # is not down)
                        c = self.cold
                        s = 0 if gq_n == 0 and t - (c.t_lift if c.t_lift > c.t_rest else c.t_rest) >= _SWING_MIN_MS else 1
                if s == 2 and self.s_imu != 2:
                    # date the onset where the heel reached the floor: its height crossing floor level
                    # on the way down, else the strike (the heel-down turn reversing), else where it
                    # stopped turning
                    if self.cold.first_t != _NEVER:
                        # the first contact of a set begun by walking: its strike, found in the history.
                        # It is confirmed at once: the heel was down from the strike to this landing's
                        # rest (ordinary walking's foot-flat can end within heel_confirm_ms of it)
                        self.on_imu = self.cold.first_t
                        self.cold.first_t = _NEVER
                        self.cand_n = self.confirm_n - 1
                    elif not gyro:
                        self.on_imu = self._acc.onset(self, t, dt)  # type: ignore[union-attr]
                    elif t - self.cross_t <= _STRIKE_WINDOW_MS:
                        self.on_imu = self.cross_t
                        if self.cross_slow and self.t_turn + dt > self.cross_t:
                            # sinking slowly past floor level (as a heel height from a tilt, it is a
                            # few mm uncertain): it touched where it stopped
                            self.on_imu = self.t_turn + dt
                    elif t - self.strike_t <= _STRIKE_WINDOW_MS:
                        self.on_imu = self.strike_t
                    else:
                        if t - self.t_turn <= _STRIKE_WINDOW_MS:
                            self.on_imu = self.t_turn + dt
                        else:
                            self.on_imu = t - self.lp_delay_ms
                self.s_imu = s
        st = self.state  # (the pads change no state)
        sf = 0
        if self.fsr:
            # -- the pads
            fore = med + lat
            h_min, f_min, m_min, l_min, h_touch, h_on, h_off, f_on, f_off = self._cfgf  # (see _fsr_sync)
            if heel < h_min or fore < f_min or med < m_min or lat < l_min:
                # the lowest reading seen is the unloaded baseline until one is calibrated
                if heel < h_min or fore < f_min:
                    if heel < h_min:
                        self.h_min = heel
                    if fore < f_min:
                        self.f_min = fore
                    Detector._fsr_levels(self)
                if med < m_min:
                    self.m_min = med
                if lat < l_min:
                    self.l_min = lat
                Detector._fsr_sync(self)
                h_min, f_min, m_min, l_min, h_touch, h_on, h_off, f_on, f_off = self._cfgf
            if not imu:  # steadiness of the loads: the calibration and pause without an IMU
                self.h_lp += (heel - self.h_lp) >> 2
                self.f_lp += (fore - self.f_lp) >> 2
            if heel <= h_touch:
                self.h_clear_t = t  # the heel pad was clear of the floor here
            on = self.fore_on
            if on:
                if fore < f_off:
                    self.fore_on = on = False
            elif fore > f_on:
                self.fore_on = on = True
            if heel > h_on:
                s = 2
            elif heel < h_off:
                s = 0
            else:
                s = 1
            self.s_fsr = s
            sf = s
            if on and imu and st == ST_SET:
                # forefoot share on the big-toe side, scaled down to stay a small int (an FSR-only
                # pod's: _push_share, after its steps)
                sn = self._stn
                m = med - m_min
                if m > 0:
                    v = sn[_ST_MED]
                    if v < _SUM_CAP:
                        sn[_ST_MED] = v + (m >> 4)
                m = lat - l_min
                if m > 0:
                    v = sn[_ST_LAT]
                    if v < _SUM_CAP:
                        sn[_ST_LAT] = v + (m >> 4)
        if st == ST_SET:
            if not imu:
                Detector._fsr_steps(self, t, med + lat)
                if self.fore_on:
                    Detector._push_share(self, med, lat)  # (an IMU pod's: with the pads, above)
            elif self.in_step:
                # one stance sample: the longest still pause, heel height at the top (inline: a
                # call costs more than its body; _stance counts an FSR-only pod's)
                sn = self._stn
                if self.heel_down or not quiet:
                    sn[_ST_RUN] = 0
                else:
                    run = sn[_ST_RUN] + 1
                    sn[_ST_RUN] = run
                    if run > sn[_ST_BEST]:
                        sn[_ST_BEST] = run
                    n = sn[_ST_HN]
                    if n < _ST_N_MAX:
                        sn[_ST_HSUM] += self.pitch_mg
                        sn[_ST_HN] = n + 1
            # an absent sensor's score stays 0; most samples: heel up, nothing to do
            score = self.s_imu + sf
            if self.heel_down or score >= self.down_at:
                Detector._heel(self, t, score, heel, mag2)
            else:
                self.cand_n = 0
        elif st == ST_READY:
            Detector._ready(self, t, quiet)
        else:
            Detector._calibrating(self, t, ax, ay, az, heel, med + lat, d2)
        return self.n_ev

    def _sync(self):
        """The settings the per-sample path reads, into self._cfg (one unpacking there, not a look-up
        each): after any of them changes."""
        k = self._cfg
        k[0] = self.lp_k
        k[1] = self.pk_hi2
        k[2] = self.pk_lo2
        k[3] = self.gyro
        k[4] = self.bgx
        k[5] = self.bgy
        k[6] = self.bgz
        k[7] = self.fast2
        k[8] = self.r_lo2
        k[9] = self.r_hi2
        k[10] = self.zupt_n
        k[11] = self.settle_n
        k[12] = self.px
        k[13] = self.py
        k[14] = self.pz
        k[15] = self.hx
        k[16] = self.hy
        k[17] = self.hz
        k[18] = self.floor_mg
        k[19] = self.up_mg
        k[20] = self.strike
        k[21] = self.down_mg
        k[22] = self.up_confirm_n
        k[23] = self.g_lo2
        k[24] = self.g_hi2
        k[25] = self.zg2
        k[26] = self.za2

    # -- the motion history ----------------------------------------------
    def _lift(self, t, dt, ax, ay, az, gx, gy, gz):
        """A motion starts: keep the rest samples before it, in time order, as its first entries."""
        h = self._hist
        lp = self._lp
        n = lp[_LP_PRE_N]
        if n >= _PRE:
            n = _PRE
            s = lp[_LP_PRE]
            if s:
                # rotate the full pre-roll ring so its oldest entry comes first: three reversals
                _reverse(h, 0, s)
                _reverse(h, s, _PRE)
                _reverse(h, 0, _PRE)
        lp[_LP_PRE] = 0
        lp[_LP_PRE_N] = 0
        self.h_n = n
        self.h_dec = self.dec0
        self.h_acc = 0
        w = self.cold.w_rest
        Detector._begin(self, t, n)
        if n == 0 and w and self.gyro:
            # straight on from a landing's rest that settled turning (see _go_on): as fast as
            # that turn, beyond zupt_dps, carries the pod about the forefoot
            w = isqrt(w) - self.p.zupt_dps
            if w > 0:
                self.cold.v_cut = 10 * w * self.p.lever_mm // 573
        Detector._keep(self, h, -dt, ax, ay, az, gx, gy, gz)  # (negative: not a rest sample)

    def _begin(self, t, n):
        """A motion begins at t, after the n rest entries at the front of the history."""
        h = self._hist
        c = self.cold
        self.mv = True
        self.landed = False
        self.cold.ahs[_AH_S] = -1
        c.clip = False
        self.pk_g2 = 0
        # gravity at its start: the mean of the older half of those rest entries (the newer
        # ones may already hold the start of the motion, and so may the low-pass)
        m = (n + 1) >> 1
        if m:
            Detector._mean_acc(self, 0, m)
            u = self._u
            c.g0x = u[0]
            c.g0y = u[1]
            c.g0z = u[2]
        else:
            k = self.lp_k
            lp = self._lp
            c.g0x = lp[_LP_X] >> k
            c.g0y = lp[_LP_Y] >> k
            c.g0z = lp[_LP_Z] >> k
        c.t_lift = t
        c.t_trust = t
        c.t_cut = 0
        c.cut_q = -1
        c.cut_f = -1
        c.dc = False
        c.cut0 = False
        c.v_cut = 0
        c.w_rest = 0
        ms = 0
        j = _HW
        for _ in range(n - 1):
            dt = h[j]
            ms += dt if dt > 0 else -dt  # (not abs(): a builtin call costs ten times as much on the pod)
            j += _HW
        c.t_start = t - ms - self.dt_ms  # the track's time origin: its first (rest) entry
        b = self._bias
        # the gyro's bias: a running mean over the last rests (a short rest alone is too noisy)
        m = b[0]
        if m >= 4 and self.gyro:
            # (a rest that turned on average faster than zupt_dps was a heel's bob turning over)
            x = b[1] // m - self.bgx
            y = b[2] // m - self.bgy
            z = b[3] // m - self.bgz
            if x * x + y * y + z * z > 100 * self.p.zupt_dps * self.p.zupt_dps:
                m = 0
        if m >= 4:
            w = c.bias_w
            T = t - self.dt_ms - b[7]
            if T >= _BIAS_TURN_MS and 4 * T <= 5 * (m - b[8]) * self.dt_ms and self.gyro and n > 1 and self.state != ST_CAL:
                # one rest, unbroken (not rests inside a motion), may have turned as slowly as a
                # rise onto the toes: what the accelerometer's tilt turned by (new x old / g^2,
                # 0.1 degree) is the foot's turn, not the gyro's bias (its end read from rest
                # entries; a stand being learned has no tilt to go by yet)
                x0 = b[4] >> 2
                y0 = b[5] >> 2
                z0 = b[6] >> 2
                x1 = c.g0x >> 2
                y1 = c.g0y >> 2
                z1 = c.g0z >> 2
                tx = (y1 * z0 - z1 * y0) * 573 // 62500
                ty = (z1 * x0 - x1 * z0) * 573 // 62500
                tz = (x1 * y0 - y1 * x0) * 573 // 62500
                if tx * tx + ty * ty + tz * tz >= _BIAS_TURN2:
                    # its rate (0.01 dps: rounded to 0.1 dps, a long rest's bias would be off) ...
                    tx = tx * 10000 // T
                    ty = ty * 10000 // T
                    tz = tz * 10000 // T
                    ok = (-_BIAS_RATE_MAX < tx < _BIAS_RATE_MAX and -_BIAS_RATE_MAX < ty < _BIAS_RATE_MAX
                          and -_BIAS_RATE_MAX < tz < _BIAS_RATE_MAX)
                    if ok and w:
                        # ... which the gyro saw as well, once its bias is known: a tilt that turns
                        # on its own is the accelerometer's error, not the foot's turn
                        ok = 20 * ((b[1] // m - self.bgx) * tx + (b[2] // m - self.bgy) * ty
                                   + (b[3] // m - self.bgz) * tz) >= tx * tx + ty * ty + tz * tz
                    if ok:
                        b[1] -= tx * m // 10
                        b[2] -= ty * m // 10
                        b[3] -= tz * m // 10
            self.bgx = (self.bgx * w + b[1]) // (w + m)
            self.bgy = (self.bgy * w + b[2]) // (w + m)
            self.bgz = (self.bgz * w + b[3]) // (w + m)
            c.bias_w = w + m if w + m < _BIAS_W else _BIAS_W
            k = self._cfg
            k[4] = self.bgx
            k[5] = self.bgy
            k[6] = self.bgz
        b[0] = b[1] = b[2] = b[3] = 0

    def _go_on(self, t, a, n_all, landing, still=-1):
        """A motion begins at t from a rest the last one ended in: history entries a..n_all-1
        (that rest's later half, then the sample at t) become its first entries. `landing`: the
        motion that ended in that rest landed a step. `still` (>= 0): the (new) entry where the
        foot stood still; the rest ends there, and the motion begins after it."""
        h = self._hist
        m = n_all - a
        if a > 0:
            i = 0
            j = a * _HW
            for _ in range(m * _HW):
                h[i] = h[j]
                i += 1
                j += 1
        self.h_n = m  # (at full resolution again: a long motion before may have halved it)
        self.h_dec = self.dec0
        self.h_acc = 0
        if still >= 0:
            j = (still + 1) * _HW
            for _ in range(still + 1, m - 1):
                if h[j] > 0:
                    h[j] = -h[j]  # (moving: no rest entry)
                j += _HW
        Detector._begin(self, t, m - 1)
        if still >= 0:
            # gravity at the start: where the foot stood still (not the moving entries after it)
            Detector._mean_acc(self, 0, still + 1)
            u = self._u
            c = self.cold
            c.g0x = u[0]
            c.g0y = u[1]
            c.g0z = u[2]
        if landing and self.gyro:
            # that rest passed the raised limits of a hard swing's landing (see update), and it may
            # have been a heel's bob turning over: the pod may have been moving as fast as the
            # fastest turn in it, beyond zupt_dps, carries it about the forefoot (a walker's foot
            # flat on the floor rolls that fast, and does not travel); up to where it stood still,
            # if it did
            bx = self.bgx
            by = self.bgy
            bz = self.bgz
            w2 = 0
            j = 0
            for _ in range(m - 1 if still < 0 else still + 1):
                x = h[j + 4] - bx
                y = h[j + 5] - by
                z = h[j + 6] - bz
                x = x * x + y * y + z * z
                if x > w2:
                    w2 = x
                j += _HW
            w = isqrt(w2) - 10 * self.p.zupt_dps
            if w > 0:
                self.cold.v_cut = w * self.p.lever_mm // 573

    def _keep(self, h, dt, ax, ay, az, gx, gy, gz):
        # one sample into the motion history (or into its current entry, at reduced resolution);
        # dt is negative for a sample the rest test did not pass: the landing looks for rests
        j = self.h_n * _HW
        if self.h_acc:
            # time-weighted mean with what the entry holds (a rest only if both were)
            d0 = h[j]
            neg = d0 < 0 or dt < 0
            if d0 < 0:
                d0 = -d0
            if dt < 0:
                dt = -dt
            d1 = d0 + dt
            h[j] = -d1 if neg else d1
            if d0 == dt:
                # two samples as long: the mean, exactly as below, without a division (the M0 has none)
                h[j + 1] = (h[j + 1] + ax) >> 1
                h[j + 2] = (h[j + 2] + ay) >> 1
                h[j + 3] = (h[j + 3] + az) >> 1
                h[j + 4] = (h[j + 4] + gx) >> 1
                h[j + 5] = (h[j + 5] + gy) >> 1
                h[j + 6] = (h[j + 6] + gz) >> 1
            else:
                h[j + 1] = (h[j + 1] * d0 + ax * dt) // d1
                h[j + 2] = (h[j + 2] * d0 + ay * dt) // d1
                h[j + 3] = (h[j + 3] * d0 + az * dt) // d1
                h[j + 4] = (h[j + 4] * d0 + gx * dt) // d1
                h[j + 5] = (h[j + 5] * d0 + gy * dt) // d1
                h[j + 6] = (h[j + 6] * d0 + gz * dt) // d1
        else:
            h[j] = dt
            h[j + 1] = ax
            h[j + 2] = ay
            h[j + 3] = az
            h[j + 4] = gx
            h[j + 5] = gy
            h[j + 6] = gz
        self.h_acc += 1
        if self.h_acc >= self.h_dec:
            self.h_acc = 0
            self.h_n += 1
            if self.h_n >= _HN:
                self._halve()

    def _halve(self):
        """The history is full: merge pairs of entries (half the time resolution) to make room."""
        h = self._hist
        c = self.cold
        c.ahs[_AH_S] = -1
        c.cut_q = -1  # (a cut being judged begins again)
        c.cut_f >>= 1  # (-1 stays -1)
        n = self.h_n // 2
        for i in range(n):
            a = 2 * i * _HW
            b = a + _HW
            o = i * _HW
            d0 = h[a]
            d1 = h[b]
            neg = d0 < 0 or d1 < 0
            if d0 < 0:
                d0 = -d0
            if d1 < 0:
                d1 = -d1
            for k in range(1, _HW):
                h[o + k] = (h[a + k] * d0 + h[b + k] * d1) // (d0 + d1)
            d = d0 + d1
            if d > 30000:
                d = 30000
            h[o] = -d if neg else d
        self.h_n = n
        self.h_dec *= 2

    def _quietest(self, a, b):
        """The history entry in a..b-1 where the gyro turned slowest (-1 if none)."""
        h = self._hist
        bx = self.bgx
        by = self.bgy
        bz = self.bgz
        q = -1
        best = 1 << 30
        j = a * _HW
        for i in range(a, b):
            x = h[j + 4] - bx
            y = h[j + 5] - by
            z = h[j + 6] - bz
            w = (x if x > 0 else -x) + (y if y > 0 else -y) + (z if z > 0 else -z)
            if w < best:
                best = w
                q = i
            j += _HW
        return q

    def _cut(self, t):
        """A motion filled the history without a rest: cut it where the foot stood, if it did.

        A heel bobbing in stance keeps the gyro too busy for the rest test, and the motion runs
        on over the next steps. But a foot turning about its planted forefoot does not move
        while it does not turn: between two moments where the gyro is quietest, a foot that
        stood gains no velocity, while one that swung gains or loses the swing's. Where that
        holds in the history's later half, the motion is judged as if it rested there, and the
        rest of it goes on as a new one.

        The judgement is spread over the samples that follow the try (a landing's work, see
        _ahead): the track the cut would judge is integrated _CUT_ENTRIES entries per sample,
        and its rotations tell gravity at the two quiet moments. Returns whether it cut.
        """
        c = self.cold
        a = c.ahs
        st = c.ah
        h = self._hist
        q = c.cut_q
        s = c.cut_s
        if q < 0 or c.cut_p >= 0 and (a[_AH_S] != s or a[_AH_STAGE] != _AHS_TRACK or st[_IS_A] > c.cut_e):
            # (a try begins; or what it integrated was taken: the history halved, or a stillness
            # began a landing's integration of its own)
            if t < c.t_cut:
                c.cut_q = -1
                return False
            c.t_cut = t + _CUT_RETRY_MS  # (tried again this much later, if it does not cut)
            n = self.h_n
            if n < _CUT_MIN_N:
                c.cut_q = -1
                return False
            # (after the quiet moment a try before this one judged: that one did not stand)
            q = Detector._quietest(self, n >> 1 if n >> 1 > c.cut_f else c.cut_f + 1, n - 2)
            if q < 0:
                c.cut_q = -1
                return False
            c.cut_p = Detector._quietest(self, q - (n >> 2), q - 1 - (n >> 4))
            i = 0
            j = 0
            while i < n and h[j] > 0:  # (the rest before the motion: its pre-roll)
                i += 1
                j += _HW
            s = i >> 1
            # the track ends at the middle of the rest it is cut at: entries q-1..q+1 and the run
            # of rest entries before them (see _rests); integrated ahead up to two entries short
            # of it (those are rewritten at the cut)
            m = q - 2
            j = m * _HW
            while m > i and h[j] > 0:
                m -= 1
                j -= _HW
            c.cut_e = (m + 1 + q + 2) >> 1
            c.cut_q = q
            c.cut_s = s
            a[_AH_LAST] = q
            _ahead_begin(self, s, _AHS_TRACK)
            return False
        e = c.cut_e
        if e > q - 2:
            e = q - 2
        i = st[_IS_A]
        if i < s:
            i = s
        if i < e:
            # (done before the history is full: halving it would take what was integrated)
            k = (_HN - 1 - self.h_n) * self.h_dec - self.h_acc
            if k <= 0:
                b = e
            elif (e - i) // k < _CUT_ENTRIES:
                b = i + _CUT_ENTRIES
            else:
                b = i + (e - i) // k + 1
            if b > e:
                b = e
            Detector._integrate(self, i, b, a[_AH_G0X], a[_AH_G0Y], a[_AH_G0Z], 0, st)
            if b < e:
                return False
        if e < s:
            e = s
        p = c.cut_p
        u = self._u
        if p >= 0:
            if t - c.t_lift < _STEP_MAX_MS:
                return False  # (not yet longer than a step: it may still land)
            # integrated: judged in this sample, cut in the next (each is about a landing's work)
            # by gravity in the pod's frame at p: the start's, turned by the track's rotation
            # there (on from the track's end by the gyro's turn alone, if it ends before p)
            _gravity_to(self, s, e, p)
            if not Detector._still_at(self, p, q, u[0], u[1], u[2]):
                c.cut_f = q
                c.cut_q = -1
                return False
            if not c.clip and Detector._declip(self, q + 2):
                c.clip = True  # (a gyro that clipped: the track, cut from a bob, is not put right by the tilt)
            c.cut_p = -1
            # gravity at q, for the cut
            _gravity_to(self, s, e, q)
            c.cut_gx = u[0]
            c.cut_gy = u[1]
            c.cut_gz = u[2]
            return False
        c.cut_q = -1
        j = q * _HW
        x = h[j + 4] - self.bgx
        y = h[j + 5] - self.bgy
        z = h[j + 6] - self.bgz
        w = (x if x > 0 else -x) + (y if y > 0 else -y) + (z if z > 0 else -z)  # 0.1 dps, at most 1.7x its length
        # entries q-1..q+1 are the rest it ended at (and the next motion's start); what they
        # read beside gravity there is the bob's turning round, not a motion of the foot
        ms = 0
        n = self.h_n
        j = (q + 1) * _HW
        for i in range(q + 1, n):
            d = h[j]
            ms += d if d > 0 else -d
            j += _HW
        gx = c.cut_gx
        gy = c.cut_gy
        gz = c.cut_gz
        for i in range(q - 1, q + 2):
            j = i * _HW
            if h[j] < 0:
                h[j] = -h[j]
            h[j + 1] = gx
            h[j + 2] = gy
            h[j + 3] = gz
        self.h_n = q + 2
        self.h_acc = 0
        self.landed = True
        c.t_rest = t - ms - self.dt_ms
        c.dc = True  # (its entries up to q+1 were mended for a clipped gyro when it was judged)
        Detector._track(self, t, False)  # (on from the track integrated so far: see its `ahead`)
        # the rest of the motion goes on, from the rest at q
        m = n - (q - 1)
        i = 0
        j = (q - 1) * _HW
        for _ in range(m * _HW):
            h[i] = h[j]
            i += 1
            j += 1
        self.h_n = m
        self.h_dec = self.dec0
        self.h_acc = 0
        t_trust = c.t_trust
        Detector._begin(self, t, m)
        c.t_trust = t_trust  # (the heel height the gyro carries still comes from that rest)
        # (its start's gravity: the rest's, not the mean over its motion, which the bob pushed)
        c.g0x = gx
        c.g0y = gy
        c.g0z = gz
        for i in range(3):
            j = i * _HW
            h[j + 1] = gx
            h[j + 2] = gy
            h[j + 3] = gz
        c.t_lift = c.t_start + 3 * self.dt_ms
        c.cut0 = True
        c.v_cut = w * self.p.lever_mm // 573  # (0.1 dps / 573: rad/s; times the lever: mm/s)
        return True

    def _still_at(self, s, q, g0x, g0y, g0z):
        """Whether the foot gained under _STILL_MMS of velocity from history entry s to entry q
        (strapdown, as _integrate, with gravity g0 at s). Writes nothing."""
        h = self._hist
        bx = self.bgx
        by = self.bgy
        bz = self.bgz
        qw = _Q
        qx = qy = qz = 0
        vx = vy = vz = 0  # um/s
        j = s * _HW
        px = h[j + 4] - bx
        py = h[j + 5] - by
        pz = h[j + 6] - bz
        fx = h[j + 1] - g0x
        fy = h[j + 2] - g0y
        fz = h[j + 3] - g0z
        j += _HW
        for k in range(q - s):
            dt = h[j]
            if dt < 0:
                dt = -dt
            rx = h[j + 4] - bx
            ry = h[j + 5] - by
            rz = h[j + 6] - bz
            ex = _clamp(((rx + px) * dt >> 7) * _HALF_ANGLE // 100, 8192)
            ey = _clamp(((ry + py) * dt >> 7) * _HALF_ANGLE // 100, 8192)
            ez = _clamp(((rz + pz) * dt >> 7) * _HALF_ANGLE // 100, 8192)
            px = rx
            py = ry
            pz = rz
            w = qw + ((8192 - qx * ex - qy * ey - qz * ez) >> 14)
            x = qx + ((8192 + qw * ex + qy * ez - qz * ey) >> 14)
            y = qy + ((8192 + qw * ey - qx * ez + qz * ex) >> 14)
            z = qz + ((8192 + qw * ez + qx * ey - qy * ex) >> 14)
            f = 24576 - ((w * w + x * x + y * y + z * z) >> 15)
            qw = (w * f + 8192) >> 14
            qx = (x * f + 8192) >> 14
            qy = (y * f + 8192) >> 14
            qz = (z * f + 8192) >> 14
            ax = h[j + 1]
            ay = h[j + 2]
            az = h[j + 3]
            cx = (qy * az - qz * ay) >> 13
            cy = (qz * ax - qx * az) >> 13
            cz = (qx * ay - qy * ax) >> 13
            ax += ((qw * cx) >> 14) + ((qy * cz - qz * cy) >> 14) - g0x
            ay += ((qw * cy) >> 14) + ((qz * cx - qx * cz) >> 14) - g0y
            az += ((qw * cz) >> 14) + ((qx * cy - qy * cx) >> 14) - g0z
            vx = _clamp(vx + (ax + fx) * dt // 10 * 49, _V_MAX)
            vy = _clamp(vy + (ay + fy) * dt // 10 * 49, _V_MAX)
            vz = _clamp(vz + (az + fz) * dt // 10 * 49, _V_MAX)
            fx = ax
            fy = ay
            fz = az
            j += _HW
        lim = _STILL_MMS * 1000
        return -lim < vx < lim and -lim < vy < lim and -lim < vz < lim

    # -- landing: the motion's track -------------------------------------
    # Done once per motion, not per sample: everything here runs on the history's entries.
    # Units: half-angle increments and quaternions in Q14, gravity directions in Q10,
    # velocity in um/s (mm/s at the end), position in um (stored in mm).

    def _tilt(self, ux, uy, uz):
        """Gravity's direction (Q10) in the pod's frame after rotation self._q from the start, into self._u.

        The start's up (ux, uy, uz) turned by the conjugate rotation.
        """
        _turn(self._u, self._q, 0, ux, uy, uz, True)

    def _rests(self, n):
        """The rests in the motion's history; their (start, end) entries go to self._rest.
        Returns how many.

        The first is the rest before the motion (its pre-roll), or entry 0 alone if it has none;
        the last, the rest that ended it. Inside a motion longer than one step can take
        (_STEP_MAX_MS), a run of entries the rest test passed, at least half of zupt_ms long, is
        a rest too: the foot stood briefly (ordinary walking's stance can be as short and
        unsteady), too briefly to end the motion. A single swing is never cut this way: a foot
        carried at a fixed angle can pass the test for a moment in mid-swing.
        """
        h = self._hist
        r = self._rest
        ms = 0
        j = 0
        for _ in range(n):
            dt = h[j]
            ms += dt if dt > 0 else -dt  # (not abs(): see _begin)
            j += _HW
        hold_ms = self.p.zupt_ms >> 1 if ms > _STEP_MAX_MS else 1 << 30
        k = 0
        a = -1  # the current run of rest entries began here
        run_ms = 0
        j = 0
        for i in range(n):
            dt = h[j]
            j += _HW
            if dt > 0:
                if a < 0:
                    a = i
                    run_ms = 0
                run_ms += dt
                if i < n - 1:
                    continue
                i += 1
            if a >= 0:
                # a run ended before entry i: a rest if long enough, with 1 g on the pod (the
                # first and last always count)
                if a == 0 or i == n or (run_ms >= hold_ms and Detector._one_g(self, a, i)):
                    if k == 0 and a > 0:
                        r[0] = 0  # the motion began without a rest before it: its first entry
                        r[1] = 1
                        k = 1
                    if k < _RESTS:
                        r[2 * k] = a
                        r[2 * k + 1] = i
                        k += 1
                a = -1
        if k == 0:
            r[0] = 0
            r[1] = 1
            k = 1
        if k == 1 or r[2 * k - 1] < n:
            if k == _RESTS:
                k -= 1
            r[2 * k] = n - 1  # the motion was cut before it rested: its last entry
            r[2 * k + 1] = n
            k += 1
        return k

    def _one_g(self, a, b):
        # the mean acceleration of entries a..b-1 is 1 g: the foot stood (a landing's jolt or a
        # heel's bob turning round is as brief, but pushes the pod)
        Detector._mean_acc(self, a, b)
        u = self._u
        m2 = u[0] * u[0] + u[1] * u[1] + u[2] * u[2]
        return self.r_lo2 < m2 < self.r_hi2

    def _mean_acc(self, a, b):
        """The mean acceleration (mg) of history entries a..b-1, into self._u; returns its length."""
        h = self._hist
        sx = sy = sz = 0
        j = a * _HW
        for _ in range(b - a):
            sx += h[j + 1]
            sy += h[j + 2]
            sz += h[j + 3]
            j += _HW
        m = b - a
        u = self._u
        u[0] = sx // m
        u[1] = sy // m
        u[2] = sz // m
        return m

    def _attitude(self, a, b, ux, uy, uz, gx, gy, gz):
        """The gyro's turn over entries a+1..b against the tilt the accelerometer sees at b.

        Leaves the body-frame correction (Q10 rad) that brings them together in self._k and
        returns the weight to spread it by: the entries that turned nearly as fast as the
        fastest (a gyro errs there: it saturates, or its scale is off). 0 when they agree.
        """
        _fastest(self, a, b)
        # the turn alone (no track), and the weight of the entries it is spread over
        weight = Detector._integrate(self, a, b, 0, 0, 0, -1, None)
        return _fix(self, weight, ux, uy, uz, gx, gy, gz)

    def _integrate(self, a, b, g0x, g0y, g0z, weight, st):
        """Integrate history entries a+1..b (strapdown, in the pod's frame at entry a). Returns ms.

        Leaves the velocity at b (mm/s: the residual to remove) in self.v*_end, the largest
        turn in self.turn_q2 and the rotation from a to b in self._q. The position (mm, not
        yet de-drifted) of entry i goes to self._pos[7i..7i+2], its rotation to 7i+3..7i+6. With a `weight`, self._k's tilt
        correction is spread over the entries (see _attitude); a weight of -1 turns only (no
        track) and returns the weight of the entries turning at w_cut or faster.

        `st` (a list, see _IS_*) carries an integration on: one that ended at entry a goes on
        from there (the ms are the whole track's), else one begins at a; its state at b is left
        in st either way. None: begins at a, and keeps nothing.
        """
        h = self._hist
        bx = self.bgx
        by = self.bgy
        bz = self.bgz
        w_cut = self.cold.w_cut
        k = self._k
        kx = k[0] * 8  # Q10 rad -> Q14 half-angle
        ky = k[1] * 8
        kz = k[2] * 8
        j = a * _HW
        if st is not None and st[_IS_A] == a:
            (_, px, py, pz, fx, fy, fz, qw, qx, qy, qz, vx, vy, vz, sx, sy, sz, q2max, t_ms, n_q) = st
        else:
            qw = _Q
            qx = qy = qz = 0
            vx = vy = vz = 0  # um/s
            sx = sy = sz = 0  # um
            q2max = 0
            t_ms = 0
            n_q = 0
            # trapezoids: each entry's sample and the one before it (time stamps jitter, and a
            # link's gap leaves a long entry)
            px = h[j + 4] - bx
            py = h[j + 5] - by
            pz = h[j + 6] - bz
            fx = h[j + 1] - g0x
            fy = h[j + 2] - g0y
            fz = h[j + 3] - g0z
        j += _HW
        pos = self._pos
        o = _PW * a + _PW
        for _ in range(b - a):
            dt = h[j]
            if dt < 0:
                dt = -dt
            rx = h[j + 4] - bx
            ry = h[j + 5] - by
            rz = h[j + 6] - bz
            ex = (rx + px) * dt >> 1
            ey = (ry + py) * dt >> 1
            ez = (rz + pz) * dt >> 1
            px = rx
            py = ry
            pz = rz
            # (one test first: every axis within 2^19 < _ANGLE_SAFE, as nearly always; then pairs of
            # tests, not chained ones: those cost more bytecode on the pod)
            if not ((ex + 524288) | (ey + 524288) | (ez + 524288)) >> 20 or (
                    ex < _ANGLE_SAFE and ex > -_ANGLE_SAFE and ey < _ANGLE_SAFE and ey > -_ANGLE_SAFE
                    and ez < _ANGLE_SAFE and ez > -_ANGLE_SAFE):
                ex = (ex * _HALF_ANGLE + 6400) // 12800  # rounded: a floor's bias would turn the track
                ey = (ey * _HALF_ANGLE + 6400) // 12800
                ez = (ez * _HALF_ANGLE + 6400) // 12800
            else:  # a long entry turning fast: divide first, and cap the turn
                ex = _clamp((ex >> 6) * _HALF_ANGLE // 200, 8192)
                ey = _clamp((ey >> 6) * _HALF_ANGLE // 200, 8192)
                ez = _clamp((ez >> 6) * _HALF_ANGLE // 200, 8192)
            if weight and ((rx if rx > 0 else -rx) + (ry if ry > 0 else -ry) + (rz if rz > 0 else -rz)) >= w_cut:
                wi = (ex if ex > 0 else -ex) + (ey if ey > 0 else -ey) + (ez if ez > 0 else -ez)
                if weight < 0:
                    t_ms += wi  # (the turn alone: the weight of the entries turning fast, summed)
                else:
                    ex += kx * wi // weight
                    ey += ky * wi // weight
                    ez += kz * wi // weight
            # q := q * (rotation by half-angles e), renormalised to first order; every product
            # rounded, not floored (a bias of half a unit per entry turns the track)
            # the cosine of the half angle is _Q - d, to second order; q * _Q >> 14 is q, so each
            # component is its old value plus the rest of the product (exactly: _Q is 1 << 14),
            # and d is 0 for most entries (turns slower than ~130 dps): four products fewer
            d = (ex * ex + ey * ey + ez * ez) >> 15
            if d:
                w = qw + ((8192 - qw * d - qx * ex - qy * ey - qz * ez) >> 14)
                x = qx + ((8192 + qw * ex - qx * d + qy * ez - qz * ey) >> 14)
                y = qy + ((8192 + qw * ey - qx * ez - qy * d + qz * ex) >> 14)
                z = qz + ((8192 + qw * ez + qx * ey - qy * ex - qz * d) >> 14)
            else:
                w = qw + ((8192 - qx * ex - qy * ey - qz * ez) >> 14)
                x = qx + ((8192 + qw * ex + qy * ez - qz * ey) >> 14)
                y = qy + ((8192 + qw * ey - qx * ez + qz * ex) >> 14)
                z = qz + ((8192 + qw * ez + qx * ey - qy * ex) >> 14)
            n_q += 1
            if n_q & 3:
                qw = w
                qx = x
                qy = y
                qz = z
            else:
                # renormalised every fourth entry (the second-order cosine keeps the norm to
                # within |e|^4 per entry), and the largest turn looked for there
                f = 24576 - ((w * w + x * x + y * y + z * z) >> 15)
                qw = (w * f + 8192) >> 14
                qx = (x * f + 8192) >> 14
                qy = (y * f + 8192) >> 14
                qz = (z * f + 8192) >> 14
                m = qx * qx + qy * qy + qz * qz
                if m > q2max:
                    q2max = m
            if weight < 0:
                j += _HW
                continue
            ax = h[j + 1]
            ay = h[j + 2]
            az = h[j + 3]
            # the sample's acceleration turned into the start frame: a + 2w(q x a) + 2 q x (q x a)
            cx = (qy * az - qz * ay) >> 13
            cy = (qz * ax - qx * az) >> 13
            cz = (qx * ay - qy * ax) >> 13
            ax += ((qw * cx) >> 14) + ((qy * cz - qz * cy) >> 14) - g0x
            ay += ((qw * cy) >> 14) + ((qz * cx - qx * cz) >> 14) - g0y
            az += ((qw * cz) >> 14) + ((qx * cy - qy * cx) >> 14) - g0z
            # 1 mg for 1 ms is 9.8 um/s (49 / 5); the mean with the sample before
            wx = vx
            wy = vy
            wz = vz
            vx += (ax + fx) * dt // 10 * 49
            vy += (ay + fy) * dt // 10 * 49
            vz += (az + fz) * dt // 10 * 49
            fx = ax
            fy = ay
            fz = az
            if ((vx + 16777216) | (vy + 16777216) | (vz + 16777216)) >> 25 and (
                    vx > _V_MAX or vx < -_V_MAX or vy > _V_MAX or vy < -_V_MAX or vz > _V_MAX or vz < -_V_MAX):
                vx = _clamp(vx, _V_MAX)
                vy = _clamp(vy, _V_MAX)
                vz = _clamp(vz, _V_MAX)
            sx += ((vx + wx) // 2000) * dt
            sy += ((vy + wy) // 2000) * dt
            sz += ((vz + wz) // 2000) * dt
            x = sx // 1000
            y = sy // 1000
            z = sz // 1000
            if ((x + 16384) | (y + 16384) | (z + 16384)) >> 15 and (
                    x > 32000 or x < -32000 or y > 32000 or y < -32000 or z > 32000 or z < -32000):
                x = _clamp(x, 32000)
                y = _clamp(y, 32000)
                z = _clamp(z, 32000)
            pos[o] = x
            pos[o + 1] = y
            pos[o + 2] = z
            pos[o + 3] = qw
            pos[o + 4] = qx
            pos[o + 5] = qy
            pos[o + 6] = qz
            o += _PW
            t_ms += dt
            j += _HW
        if st is not None:
            st[_IS_A] = b
            st[1] = px
            st[2] = py
            st[3] = pz
            st[4] = fx
            st[5] = fy
            st[6] = fz
            st[7] = qw
            st[8] = qx
            st[9] = qy
            st[10] = qz
            st[11] = vx
            st[12] = vy
            st[13] = vz
            st[14] = sx
            st[15] = sy
            st[16] = sz
            st[17] = q2max
            st[18] = t_ms
            st[19] = n_q
        q = self._q
        q[0] = qw
        q[1] = qx
        q[2] = qy
        q[3] = qz
        self.turn_q2 = q2max
        self.vx_end = vx // 1000
        self.vy_end = vy // 1000
        self.vz_end = vz // 1000
        return t_ms

    def _ahead_start(self, landed):
        """The foot is still (half of zupt_ms), or `landed` (all of it): the landing's
        integration may begin while its rest settles.

        The motion's track is integrated from the middle of the rest before it (as _rests finds
        that rest) a few entries per sample (_ahead), never past the middle of the rest it
        stands in so far: the landing then has only the last entry or two left to do. Nothing
        changes in what it finds; _track checks that the stretch it integrates is the same. A
        foot that moves on again soon stood still in mid-motion: what was integrated is the
        same track's first part, and goes on at the next stillness.
        """
        h = self._hist
        c = self.cold
        n = self.h_n
        i = 0
        j = 0
        while i < n and h[j] > 0:  # (the rest before the motion: its pre-roll)
            i += 1
            j += _HW
        m = n if self.h_acc else n - 1  # (the entry being filled: part of the rest too, if quiet)
        j = m * _HW
        while m > i and h[j] > 0:  # the run of rest entries the foot landed in
            m -= 1
            j -= _HW
        a = c.ahs
        st = c.ah
        a[_AH_LAST] = m + 1
        if self.gyro and not c.clip and Detector._declip(self, n + (1 if self.h_acc else 0)):
            c.clip = True
        if c.clip:
            # the gyro clipped in the swing: its turn is put right by the tilt (see _attitude),
            # judged where the foot landed (its turn alone first, up to the rest's middle so far;
            # by the gravity from there on, once it has landed)
            b = (m + 1 + n) >> 1
            if b > n - 1:
                b = n - 1
            w = c.w_cut
            _fastest(self, i >> 1, b)
            a[_AH_L] = b
            if a[_AH_S] == i >> 1 and a[_AH_STAGE] == _AHS_TURN and c.w_cut == w:
                return  # (begun at a stillness before, as fast a turn the fastest: on from there)
            _ahead_begin(self, i >> 1, _AHS_TURN)
        elif a[_AH_S] == i >> 1 and a[_AH_STAGE] == _AHS_TRACK and st[_IS_A] >= 0:
            return  # (begun at a stillness before: on from there)
        else:
            _ahead_begin(self, i >> 1, _AHS_TRACK)
        r = c.ahr
        r[0] = 0  # (nothing of its turn yet: no entry's is final)
        r[1] = i >> 1
        r[6] = -1

    def _ahead(self, left):
        """Integrate the landing's next entries: what is left, spread over the `left` samples
        before the rest settles (see _ahead_start)."""
        a = self.cold.ahs
        st = self.cold.ah
        n = self.h_n
        s = a[_AH_S]
        i = st[_IS_A]
        if i < 0:
            i = s
        if a[_AH_STAGE] == _AHS_TURN:
            # the turn alone first (an entry of it costs about half one of the track's, which
            # comes after it)
            b = a[_AH_L]
            b = i + ((b - i) + 2 * (b - s) + left - 1) // left
            if b > a[_AH_L]:
                b = a[_AH_L]
            if b > i:
                Detector._integrate(self, i, b, 0, 0, 0, -1, st)
            if b == a[_AH_L] and self.landed:
                u = self._u
                # gravity at the start and at the landing, as directions (Q10)
                _unit(u, a[_AH_G0X], a[_AH_G0Y], a[_AH_G0Z], 1024)
                ux = u[0]
                uy = u[1]
                uz = u[2]
                Detector._mean_acc(self, b, n)
                _unit(u, u[0], u[1], u[2], 1024)
                a[_AH_W] = _fix(self, st[_IS_T], ux, uy, uz, u[0], u[1], u[2])
                a[_AH_STAGE] = _AHS_TRACK
                st[_IS_A] = -1
            return
        b = (a[_AH_LAST] + n) >> 1  # (the rest's middle can only move later)
        if b > n - 1:
            b = n - 1
        if not self.gyro:
            # an accelerometer alone: its turn first, as far as the entries read so far tell it
            # (an entry's needs the one after it), and not past the rest's middle (where a foot
            # moving on ends its track); the track up to where that is final
            r = self.cold.ahr
            if r[0] < b:
                g = a[_AH_G0X]
                self._acc.rates(self, s, 1 << 20, g, a[_AH_G0Y], a[_AH_G0Z], g, g, g, r, b - 1)  # type: ignore[union-attr]
            b = r[1] - 1
        if b <= i:
            return
        b = i + (b - i + left - 1) // left
        Detector._integrate(self, i, b, a[_AH_G0X], a[_AH_G0Y], a[_AH_G0Z], a[_AH_W], st)

    def _brief(self, t):
        """The foot moves on from a brief rest, short of a step from the last one, not for a turn:
        it stood still in mid-step, not on the floor (a short swing carried at a fixed angle reads
        1 g and no turn for a moment, as a foot at rest does). The motion goes on through it: a
        rest there would take the step's velocity away. Judged on the landing's integration, if
        it ran ahead to where this rest's track would end (else: a rest)."""
        c = self.cold
        a = c.ahs
        st = c.ah
        if (not self.gyro or a[_AH_S] < 0 or a[_AH_STAGE] != _AHS_TRACK or a[_AH_W] != 0
                or t - c.t_lift >= _STEP_MAX_MS):
            return False
        n = self.h_n + (1 if self.h_acc else 0) - 1  # (the sample at t moves on)
        e = (a[_AH_LAST] + n) >> 1
        i = st[_IS_A]
        if i < a[_AH_S] or i > e or e - i > 16:
            return False
        if i < e:
            # (the last few entries: the same work _track would do next, on from there)
            Detector._integrate(self, i, e, a[_AH_G0X], a[_AH_G0Y], a[_AH_G0Z], 0, st)
        t_ms = st[_IS_T]
        if t_ms <= 0 or st[17] >= _BOB_Q2:
            return False  # (it turned a few degrees: a heel bobbing in stance, its forefoot down)
        pos = self._pos
        j = _PW * e
        # de-drifted as in _track, and over the floor: gravity's direction at the start off
        dx = pos[j] - st[11] // 1000 * t_ms // 2000
        dy = pos[j + 1] - st[12] // 1000 * t_ms // 2000
        dz = pos[j + 2] - st[13] // 1000 * t_ms // 2000
        u = self._u
        _unit(u, a[_AH_G0X], a[_AH_G0Y], a[_AH_G0Z], 1024)
        ux = u[0]
        uy = u[1]
        uz = u[2]
        up = (dx * ux + dy * uy + dz * uz) >> 10
        need = self.p.step_min_mm
        if _unit(u, dx - (up * ux >> 10), dy - (up * uy >> 10), dz - (up * uz >> 10), 1024) >= need:
            return False
        # the turn since the start: the tilt now against gravity there (as _track's explains)
        k = self.lp_k
        lp = self._lp
        _unit(u, lp[_LP_X] >> k, lp[_LP_Y] >> k, lp[_LP_Z] >> k, 1024)
        cx = u[0] - ux
        cy = u[1] - uy
        cz = u[2] - uz
        chord = isqrt(cx * cx + cy * cy + cz * cz)
        return _arc_mm(self.p.lever_mm, chord) < need

    def _jolt(self):
        # the motion so far moved for less than zupt_ms before this rest: a jolt in a stand
        # (a knock, a sample's glitch), not a step; its rest, too brief to start from
        h = self._hist
        ms = 0
        j = 0
        for _ in range(self.h_n):
            dt = h[j]
            if dt < 0:
                ms -= dt
            j += _HW
        return ms < self.p.zupt_ms

    def _declip(self, n):
        """Entries 0..n-1: a gyro axis held at full scale for two entries or more turned faster
        than it could read. Each such run is raised to where the lines of the rate rising into
        it and falling out of it meet (a 250 dps gyro clips a brisk swing)."""
        h = self._hist
        raised = False
        last = n - 2
        k = 4
        while k < 7:
            i = 2
            j = 2 * _HW + k  # (entry i's slot, stepped along with i: no product per entry)
            while i < last:
                v = h[j]
                if (v >= _CLIP_MIN or v <= -_CLIP_MIN) and h[j + _HW] == v and h[j - _HW] != v:
                    b = i + 1
                    while b < n - 2 and h[b * _HW + _HW + k] == v:
                        b += 1
                    if b < n - 2:
                        sg = 1 if v > 0 else -1
                        r1 = h[j - _HW] * sg  # the rate rising into the run ...
                        r0 = h[j - 2 * _HW] * sg
                        dt = abs(h[j - _HW - k])
                        s_in = (r1 - r0) * 16 // dt if dt else 0  # (1/16 per ms)
                        jb = b * _HW + k
                        r3 = h[jb + _HW] * sg  # ... and falling out of it
                        r4 = h[jb + 2 * _HW] * sg
                        dt = abs(h[jb + 2 * _HW - k])
                        s_out = (r3 - r4) * 16 // dt if dt else 0
                        if s_in > 0 and s_out > 0:
                            span = 0  # ms from entry i-1 to entry b+1
                            m = i
                            while m <= b + 1:
                                span += abs(h[m * _HW])
                                m += 1
                            tt = 0
                            m = i
                            while m <= b:
                                tt += abs(h[m * _HW])
                                up = r1 + s_in * tt // 16
                                dn = r3 + s_out * (span - tt) // 16
                                est = up if up < dn else dn
                                if est > 32000:
                                    est = 32000
                                if est > v * sg:
                                    h[m * _HW + k] = est * sg
                                    raised = True
                                m += 1
                    i = b + 1
                    j = i * _HW + k
                else:
                    i += 1
                    j += _HW
            k += 1
        return raised

    def _track(self, t, moved_on):
        """The foot rests again: integrate the motion between its rests, find its steps, emit them.

        `moved_on`: the foot moved again before the rest settled; the sample at t, the last
        in the history, begins the next motion, which goes on with this rest's later half.

        From rest to rest the foot made a step if it travelled `step_min_mm` horizontally beyond
        what turning about the forefoot explains: a pod up to `lever_mm` from the pivot moves
        by at most lever_mm times the chord between its tilts at the two rests (a heel drop,
        a rise, a bounce: no step). Each stretch between two rests is integrated on its own,
        from zero velocity to zero velocity.
        """
        n_all = self.h_n + (1 if self.h_acc else 0)
        n = n_all - 1 if moved_on else n_all
        c = self.cold
        settled = self.landed and not moved_on
        if not self.landed:
            c.t_rest = t  # cut short, or the data ended: no rest to date the landing by
        c.t_lift0 = c.t_lift  # (a motion going on from this rest takes t_lift over)
        self.mv = False
        self.landed = False
        self.zg2_m = self.zg2  # back to the rest limits
        self.za2_m = self.za2
        lp = self._lp
        lp[_LP_PRE] = 0
        lp[_LP_PRE_N] = 0
        self.h_n = 0
        if n <= 2 or self.state == ST_CAL:
            if moved_on:
                Detector._go_on(self, t, 0, n_all, False)
            return  # a blip, not a motion; or no gravity to integrate against yet
        h = self._hist
        pos = self._pos
        r = self._rest
        g = self._g
        u = self._u
        # (an accelerometer alone: no rates yet; the history may have been mended already, see
        # _ahead_start: mended again, nothing changes)
        raised = self.gyro and not c.dc and Detector._declip(self, n)
        c.dc = False
        clipped = raised or c.clip
        k_rests = Detector._rests(self, n)
        # each rest's gravity (mg, in the pod's frame): the low-passes at the first and the last,
        # the mean of an inner one's samples
        g[0] = c.g0x
        g[1] = c.g0y
        g[2] = c.g0z
        for i in range(1, k_rests):
            a = r[2 * i]
            b = r[2 * i + 1]
            if i == k_rests - 1:
                a = (a + b) >> 1  # the later half of the last rest: the landing's shaking has died down
            Detector._mean_acc(self, a, b)
            g[3 * i] = u[0]
            g[3 * i + 1] = u[1]
            g[3 * i + 2] = u[2]
        p = self.p
        need = p.step_min_mm
        if self.onset_t > c.t_lift and not self.heel_down and self.state == ST_SET:
            # the heel touched the floor inside this motion and rose again: the foot stood planted
            # there, heel and forefoot down (a crash, a touch), and what the track travelled
            # around it is mostly the turn's error; a step needs to have gone far
            need *= 4
        split = self._split
        n_split = 0
        bob = False
        fx = fy = fz = 0  # the last step's direction (Q10)
        ms = 0  # time at entry s since the history's first entry
        s = (r[0] + r[1]) >> 1  # each stretch runs from the middle of one rest to the middle of the next
        j = _HW
        for i in range(s):  # entries 1..s
            dt = h[j]
            ms += dt if dt > 0 else -dt
            j += _HW
        for i in range(1, k_rests):
            e = (r[2 * i] + r[2 * i + 1]) >> 1
            if i == k_rests - 1 and not moved_on and not self.gyro:
                # an accelerometer alone: on to the end of the last rest (its turn, from the tilts,
                # needs it; moved on: the later half stays raw, the next motion's start). With a
                # gyro the track ends at the rest's middle too: as exact a zero velocity there, and
                # a quarter fewer entries to integrate at the landing
                e = r[2 * i + 1] - 1
            if e <= s:
                continue
            g0x = g[3 * i - 3]
            g0y = g[3 * i - 2]
            g0z = g[3 * i - 1]
            _unit(u, g0x, g0y, g0z, 1024)
            ux = u[0]
            uy = u[1]
            uz = u[2]
            _unit(u, g[3 * i], g[3 * i + 1], g[3 * i + 2], 1024)
            gx = u[0]
            gy = u[1]
            gz = u[2]
            # a settled rest's tilt puts the gyro right; a brief one's may be off (the pod still
            # pushed: a heel's bob turning round), so there the gyro's own turn tells the tilt
            settled = i == k_rests - 1 and not moved_on
            ah = c.ahs
            st = c.ah
            # the landing's integration, begun while the rest settled (_ahead): on from where that
            # got to, if it ran on this stretch, from this start, with nothing changed since
            ahead = (k_rests == 2 and ah[_AH_S] == s and ah[_AH_STAGE] == _AHS_TRACK and s <= st[_IS_A] <= e
                     and not raised and (self.gyro or c.ahr[0] <= e)
                     and ah[_AH_G0X] == g0x and ah[_AH_G0Y] == g0y and ah[_AH_G0Z] == g0z
                     and ah[_AH_BX] == self.bgx and ah[_AH_BY] == self.bgy and ah[_AH_BZ] == self.bgz)
            if not self.gyro:
                # an accelerometer alone: its tilts at the two rests are all it knows of the turn
                strike_t = self._acc.motion(self, s, e, c.t_start + ms, i,  # type: ignore[union-attr]
                                            c.ahr if ahead else None)
                weight = 0
                settled = True
            elif ahead:
                weight = ah[_AH_W]  # (a clipped gyro's tilt fix, judged at the landing)
            elif settled and clipped:
                weight = Detector._attitude(self, s, e, ux, uy, uz, gx, gy, gz)
            else:
                weight = 0
            if ahead:
                t_ms = Detector._integrate(self, st[_IS_A], e, g0x, g0y, g0z, weight, st)
            else:
                t_ms = Detector._integrate(self, s, e, g0x, g0y, g0z, weight, None)
            if not settled:
                Detector._tilt(self, ux, uy, uz)
                _unit(u, u[0], u[1], u[2], 1024)
                gx = u[0]
                gy = u[1]
                gz = u[2]
            # de-drifted: the velocity error grows linearly from rest to rest, so the position's
            # at the end is v T / 2; the highest point on the way, above the line from rest to rest
            vex = self.vx_end
            vey = self.vy_end
            vez = self.vz_end
            j = _PW * e
            dx = pos[j] - vex * t_ms // 2000
            dy = pos[j + 1] - vey * t_ms // 2000
            dz = pos[j + 2] - vez * t_ms // 2000
            up = (dx * ux + dy * uy + dz * uz) >> 10
            d = _unit(u, dx - (up * ux >> 10), dy - (up * uy >> 10), dz - (up * uz >> 10), 1024)
            cx = gx - ux
            cy = gy - uy
            cz = gz - uz
            chord = isqrt(cx * cx + cy * cy + cz * cz)
            # turning by the chord's angle about the forefoot moves the pod over the floor by at most
            # lever (1 - cos) (its distance from the pivot) plus its height over the pivot times
            # sin: the rest of the turn's arc is up or down, which the travel leaves out
            # (an accelerometer alone does not turn its track: the whole arc, and the tilt it leaks
            # into the track, can pass for travel)
            if self.gyro:
                explains = _arc_mm(p.lever_mm, chord)
            else:
                explains = p.lever_mm * chord // 1024
            if explains and ((gx - ux) * self.hx + (gy - uy) * self.hy + (gz - uz) * self.hz) < 0:
                # the heel came down: turning about the forefoot carries the pod back, towards
                # the heel, never forwards (forward is -h): travel forwards is the foot's own
                fwd = -((u[0] * self.hx + u[1] * self.hy + u[2] * self.hz) >> 10) * d >> 10
                if fwd >= need:
                    explains = 0
            elif explains and self.gyro and (self.hx or self.hy or self.hz):
                # the heel rose: a pod behind the forefoot comes forwards by lever (1 - cos) at
                # most, and its height over the forefoot takes it back (sin): travel forwards
                # beyond the first is the foot's own
                arc = p.lever_mm * chord * chord >> 21
                if -((u[0] * self.hx + u[1] * self.hy + u[2] * self.hz) >> 10) * d >> 10 >= need + arc:
                    explains = arc
            if not self.gyro:
                acc = self._acc
                gap = c.t_lift0 - self.land_t if i == 1 and self.in_step and not c.cut0 else -1
                d = acc.stepped(self, d, need, explains, ux, uy, uz, gx, gy, gz, strike_t, gap)  # type: ignore[union-attr]
            if TRACE is not None:
                TRACE(ms + t_ms, d, explains)
            if i == 1 and c.cut0:
                # from where a motion was cut, not from a rest: the pod moved there as fast as its
                # turn about the forefoot carried it (the drift's removal leaves half of it in the
                # track), and the heel's bobbing on from there is in the track too: a step must
                # travel twice as far
                explains += c.v_cut * t_ms // 2000 + need
            elif i == 1:
                # (from a rest the foot may not have stood still in: see _go_on)
                explains += c.v_cut * t_ms // 2000
            if d >= need + explains:
                fx = u[0]
                fy = u[1]
                fz = u[2]
                if n_split < _SPLITS and self.gyro:
                    # its length and clearance; and when it is long enough for two steps, the
                    # steps on its track (a heel bobbing in stance keeps the foot from a rest)
                    n_split = Detector._steps_in(self, s, e, t_ms, ms, n_split, ux, uy, uz, up, d,
                                                 d >= 2 * need and t_ms > _STEP_MAX_MS and n_split < _SPLITS - 1)
                elif n_split < _SPLITS:
                    # (an accelerometer alone measures no length: the swing's turn it cannot see
                    # tilts gravity into the track by centimetres)
                    o = n_split * 3
                    split[o] = ms + t_ms  # landing: the middle of the next rest
                    split[o + 1] = UNKNOWN
                    split[o + 2] = UNKNOWN
                    n_split += 1
            elif chord < _BOB_CHORD and (self.turn_q2 >= _BOB_Q2 or not self.gyro):
                bob = True  # turned a few degrees and came back: the heel bobbed
            elif chord >= _PIVOT_CHORD and self.state == ST_READY and k_rests == 2 and self.gyro:
                # the rise onto the toes (no step): the foot turned about its planted forefoot
                Detector._pivot(self, dx, dy, dz, e)
            ms += t_ms
            s = e
        if n_split:
            # the direction of travel signs the pitch axis: up x forward points to the foot's left
            self._learn_axis((uy * fz - uz * fy) >> 10, (uz * fx - ux * fz) >> 10, (ux * fy - uy * fx) >> 10)
            if self.state != ST_SET:
                Detector._first_strike(self, r[2 * k_rests - 2])
        t0 = c.t_start  # (the next motion's _go_on below moves it)
        if moved_on:
            # the next motion goes on from the later half of this rest (kept raw above)
            a = r[2 * k_rests - 2]
            b = (a + n) >> 1
            if b < n - _PRE:
                b = n - _PRE
            still = -1
            if self.gyro:
                # unless that half turned faster than zupt_dps (it passed the raised limits of a
                # hard swing's landing: a heel's bob beginning, the pod moving about the
                # forefoot) where an entry before it did not: the foot stood still there, and
                # the next motion begins from that stillest entry (from the half's middle the
                # track would start at the bob's speed, and lose the step's travel to it)
                if a < n - _PRE:
                    a = n - _PRE
                lim = 100 * p.zupt_dps * p.zupt_dps
                w_lo = -1
                w_hi = 0
                bx = self.bgx
                by = self.bgy
                bz = self.bgz
                j = a * _HW
                for i in range(a, n):
                    x = h[j + 4] - bx
                    y = h[j + 5] - by
                    z = h[j + 6] - bz
                    x = x * x + y * y + z * z
                    if x < w_lo or w_lo < 0:
                        w_lo = x
                        still = i
                    if i >= b and x > w_hi:
                        w_hi = x
                    j += _HW
                if w_hi > lim and w_lo < lim:
                    b = still - 1 if still > a else still
                    still -= b
                else:
                    still = -1
            Detector._go_on(self, t, b, n_all, n_split > 0, still)
        if n_split == 0:
            if bob and self.state == ST_SET and self.in_step:
                self.rebounds += 1
            return
        t_lift = c.t_lift0
        for i in range(n_split):
            o = i * 3
            # (a track cut short at t: no later than that)
            t_land = t0 + split[o]
            if t_land > c.t_rest:
                t_land = c.t_rest
            if self.state != ST_SET:
                self._walk_start(t_lift)
            self._landing(t_land, t_lift, split[o + 1], split[o + 2])
            t_lift = t_land
        if settled:
            c.w_rest = self._lp[_LP_G2]  # (how fast the landing's rest turned where it settled: see _lift)
        if self.cold.first_t != _NEVER and (moved_on or self.heel_now_mg >= self.down_mg):
            # a set begun by walking: a heel resting low now is confirmed down at once, from the
            # strike (see _heel); if its rest is over already (ordinary walking's foot-flat is
            # brief), the heel is down from the strike on here, till it rises (a single contact:
            # the heel seen low on the next samples is this one); a heel resting high touched nothing
            if self.heel_now_mg < self.down_mg and not self.heel_down:
                m = 0
                if self.imu:
                    for j in range(_RING):
                        if self._ring[j] > m:
                            m = self._ring[j]
                self.heel_down = True
                self.cand_n = 0
                self.onset_t = self.cold.first_t
                self.impact2 = m
                self.load_peak = 0
                self.strike_t = _NEVER  # (its strike is this contact's onset already)
                self.struck = False
            self.cold.first_t = _NEVER

    def _pivot(self, px, py, pz, e):
        """Where the forefoot is from the pod, from a turn about it in place (px..pz: the pod's
        travel, mm; the track's rotation at entry e).

        A point r fixed on the foot (in the pod's frame) that stood still while the foot turned by
        R and the pod moved by p: r - R r = p. Across the turn's axis that is r = p / 2 +
        cos(a/2) (v x p) / (2 sin^2(a/2)), v the rotation's vector part (a: its angle); along the
        axis r is not seen (and moves nothing that turns about it). A pivot farther than lever_mm
        from the pod is no forefoot the foot stood on: not kept.
        """
        pos = self._pos
        j = _PW * e + 3
        w = pos[j] >> 4  # Q10
        vx = pos[j + 1] >> 4
        vy = pos[j + 2] >> 4
        vz = pos[j + 3] >> 4
        v2 = vx * vx + vy * vy + vz * vz  # Q20
        lim = self.p.lever_mm
        if v2 == 0 or px > lim or px < -lim or py > lim or py < -lim or pz > lim or pz < -lim:
            return
        # across the axis only
        k = (vx * px + vy * py + vz * pz) * 256 // v2
        px -= (vx * k) >> 8
        py -= (vy * k) >> 8
        pz -= (vz * k) >> 8
        v2 *= 2
        rx = (px >> 1) + w * (vy * pz - vz * py) // v2
        ry = (py >> 1) + w * (vz * px - vx * pz) // v2
        rz = (pz >> 1) + w * (vx * py - vy * px) // v2
        if rx * rx + ry * ry + rz * rz > lim * lim:
            return
        r = self._piv
        r[0] = rx
        r[1] = ry
        r[2] = rz

    def _steps_in(self, s, e, t_ms, ms, n, ux, uy, uz, up, d, search):
        """The step or steps on a stretch of track (entries s..e, integrated, t_ms long, d mm
        over the floor) that is a step: each one's landing, length and clearance (the highest
        point above the line from rest to rest) go to self._split from slot n; returns the new
        count. With `search` (a stretch two steps long or more), a step is the foot advancing
        `step_min_mm` along the direction of travel (self._u), beyond what turning about the
        forefoot explains between where it stood and where it stops (see _arc), and then
        stopping: advancing less than _STOP_MM for _STOP_MS (a heel bobbing in stance, or a
        weight shift, moves the pod but does not carry it forwards); without, the stretch is
        one step.
        """
        h = self._hist
        u = self._u
        tx = u[0]
        ty = u[1]
        tz = u[2]
        vex = self.vx_end
        vey = self.vy_end
        vez = self.vz_end
        need = self.p.step_min_mm
        split = self._split
        a0 = 0  # where the step under way began (mm along the direction of travel)
        mark = 0  # the farthest it advanced, and when
        t_mark = 0
        on = False  # advanced a step's length
        fast = False  # ... and at a swing's speed, not creeping (a heel's bob, or drift)
        top = 0
        tt = 0
        pos = self._pos
        lever = self.p.lever_mm
        # a stretch that is one step: where the pod knows the forefoot (see _pivot), the landing and
        # the clearance are the forefoot's (turning about it moves a heel pod by centimetres, as the
        # heel bobs or settles, not the forefoot). Its length stays the pod's: rest to rest at about
        # the same tilt, that is exact, where the forefoot's adds the pivot's error. (A stretch
        # searched for steps keeps to the pod's track: its drift is as large as the difference.)
        r = self._piv
        rx = r[0]
        ry = r[1]
        rz = r[2]
        piv = (rx or ry or rz) and not search
        if piv:
            j = _PW * e
            _turn(u, pos, j + 3, rx, ry, rz, False)
            x = pos[j] - vex * t_ms // 2000 + u[0] - rx
            y = pos[j + 1] - vey * t_ms // 2000 + u[1] - ry
            z = pos[j + 2] - vez * t_ms // 2000 + u[2] - rz
            df = (x * tx + y * ty + z * tz) >> 10
            up = (x * ux + y * uy + z * uz) >> 10
        else:
            df = d
        t_out = 0  # the last time the foot was not yet (or no longer) over where it stops
        j_out = (s + 1) * _HW  # ... and the history entry after it
        tol = _STOP_MM + (d >> 4)
        j = (s + 1) * _HW
        k = _PW * s + _PW  # (the track's entry)
        k0 = -1  # ... where the step under way began (-1: the stretch's start)
        km = -1  # ... and where it advanced farthest
        t_ev = -_FORE_MS
        for _ in range(e - s):
            dt = h[j]
            tt += dt if dt > 0 else -dt
            j += _HW
            k += _PW
            if not search:
                # (one step: an entry every _FORE_MS at most, the M0's landing budget; a swing's
                # highest point, and where the foot comes over its spot, are seen as well)
                if tt - t_ev < _FORE_MS and j <= e * _HW:
                    continue
                t_ev = tt
            f = (tt << 10) // t_ms
            # de-drifted as in _track: the velocity's error grew linearly from rest to rest
            o = k - _PW
            x = pos[o] - ((vex * tt // 2000) * f >> 10)
            y = pos[o + 1] - ((vey * tt // 2000) * f >> 10)
            z = pos[o + 2] - ((vez * tt // 2000) * f >> 10)
            if piv:
                # the forefoot: R r - r = w c + v x c, c = 2 v x r (see _turn; inline, once per entry)
                qw = pos[o + 3]
                qx = pos[o + 4]
                qy = pos[o + 5]
                qz = pos[o + 6]
                cx = (qy * rz - qz * ry) >> 13
                cy = (qz * rx - qx * rz) >> 13
                cz = (qx * ry - qy * rx) >> 13
                x += ((qw * cx) >> 14) + ((qy * cz - qz * cy) >> 14)
                y += ((qw * cy) >> 14) + ((qz * cx - qx * cz) >> 14)
                z += ((qw * cz) >> 14) + ((qx * cy - qy * cx) >> 14)
            c = ((x * ux + y * uy + z * uz) >> 10) - up * tt // t_ms
            if c > top:
                top = c
            a = (x * tx + y * ty + z * tz) >> 10
            if a < df - tol or a > df + tol:
                t_out = tt  # (not yet where it stops)
                j_out = j
            if not search:
                continue
            if a > mark + _STOP_MM:
                if tt - t_mark <= _FAST_MS:
                    fast = True
                mark = a
                t_mark = tt
                km = k - _PW
                if not on and mark - a0 >= need and mark - a0 >= need + _arc(u, pos, k0, km, ux, uy, uz, lever):
                    on = True
            elif on and fast and tt - t_mark >= _STOP_MS and c < top >> 1 and n < _SPLITS - 1:
                # (down from the swing's highest point: a swing carried at a fixed angle can
                # hang still in mid-air for a moment)
                o = n * 3
                split[o] = ms + t_mark  # landed where it stopped advancing
                split[o + 1] = mark - a0
                split[o + 2] = top
                n += 1
                a0 = mark
                k0 = km
                on = False
                fast = False
                top = 0
        # the rest of the stretch, up to the rest that ended it (all of it when no stop was found)
        a = d - a0
        if a0 == 0 or a >= need and fast and a >= need + _arc(u, pos, k0, _PW * e, ux, uy, uz, lever):
            o = n * 3
            # landed where it came over the spot it stops at, not at the rest after it: a heel bobbing
            # about the planted forefoot keeps the foot from its rest but moves the pod over the floor
            # by a few mm at most (tolerance: more on a longer track, whose end is less exact)
            if t_out >= t_mark:
                # at its impact: the forefoot comes down slowing, over the last centimetres, and
                # the floor stops it: the sharpest change of acceleration soon after (a heel's bob
                # after it pushes the pod as hard, but smoothly)
                j = j_out
                tt = t_out
                t_mark = t_out
                m = 0
                while j <= e * _HW and tt < t_out + _LAND_MS:
                    dt = h[j]
                    tt += dt if dt > 0 else -dt
                    x = h[j + 1] - h[j - _HW + 1]
                    y = h[j + 2] - h[j - _HW + 2]
                    z = h[j + 3] - h[j - _HW + 3]
                    x = x * x + y * y + z * z
                    if x > m:
                        m = x
                        t_mark = tt - (dt if dt > 0 else -dt)  # (between the two entries)
                    j += _HW
            split[o] = ms + t_mark
            split[o + 1] = a
            split[o + 2] = top
            n += 1
        return n

    def _first_strike(self, e):
        """A set begun by walking: the heel strike of its first step, from the history (entries
        0..e-1, the gyro kept raw), turned about the pitch axis that step has just taught.

        Per sample the heel is followed only once the axis is known: without this, the first
        contact would be dated late. The strike is the reversal of the fastest heel-down turn
        (the late swing's), not the foot's ringing after it, nor a smaller turn before it.
        """
        h = self._hist
        px = self.px
        py = self.py
        pz = self.pz
        strike = self.strike
        t = self.cold.t_start
        prev = 0
        dn = 0  # the fastest heel-down rate of the turn under way (0: none fast enough)
        best = 0
        self.cold.first_t = _NEVER
        if not self.gyro:
            e = 0  # (no turn to look through: the landing's strike, found before the track, dates it)
            self.cold.first_t = self.strike_t
        j = 0
        for _ in range(e):
            dt = h[j]
            if dt < 0:
                dt = -dt
            t += dt
            w = (h[j + 4] * px + h[j + 5] * py + h[j + 6] * pz) >> 10
            if w < -strike:
                if w < dn:
                    dn = w
            elif w >= 0 and dn:
                if dn < best:
                    best = dn
                    self.strike_t = t - dt * w // (w - prev)
                    self.struck = True
                    self.cold.first_t = self.strike_t
                dn = 0
            prev = w
            j += _HW
        # the heel as it rests now: the accelerometer's tilt
        k = self.lp_k
        lp = self._lp
        pitch = ((lp[_LP_X] >> k) * self.hx + (lp[_LP_Y] >> k) * self.hy + (lp[_LP_Z] >> k) * self.hz) >> 10
        self.heel_base_mg = pitch
        self.heel_now_mg = pitch
        self.turn_e4deg = 0

    def _learn_axis(self, ax, ay, az):
        """A step's pitch axis (Q10, from its travel): teaches the axis, or checks its sign."""
        c = self.cold
        if self.px == 0 and self.py == 0 and self.pz == 0:
            self._set_axis(ax, ay, az)
            c.axis_n = 1
            c.flip_votes = 0
            return
        if c.axis_n == _AXIS_ROSE and not self.gyro:
            return  # a rise onto the toes showed the axis (an accelerometer's travel cannot gainsay it)
        if ax * self.px + ay * self.py + az * self.pz < 0:
            # two steps in a row travelling backwards along the axis: it was learned upside down
            # (a rise's too, on a gyro's travel: a tilted rest in a turn on the spot can pass for one)
            c.flip_votes += 1
            # (a foot resting with its heel well up, turned round, would rest toes up by as much,
            # which a foot on the floor cannot: the travel saying so needs twice the steps; a
            # short swing's track at a low rate with jittered samples can point backwards)
            if c.flip_votes >= (4 if self.heel_now_mg > 4 * self.up_mg else 2):
                c.flip_votes = 0
                if c.axis_n == _AXIS_ROSE:
                    c.axis_n = 1  # (the steps refine it from here)
                self._set_axis(-self.px, -self.py, -self.pz)
                self.heel_base_mg = -self.heel_base_mg
                self.turn_e4deg = -self.turn_e4deg
                self.heel_now_mg = -self.heel_now_mg
            return
        c.flip_votes = 0
        if c.axis_n < 8:  # (a rise's axis is left alone: heel up is up)
            # steps refine the axis (a few of them, then it is left alone)
            n = c.axis_n
            self._set_axis(self.px * n + ax, self.py * n + ay, self.pz * n + az)
            c.axis_n = n + 1

    def _set_axis(self, ax, ay, az):
        # the pitch axis without its vertical part; heel-up tilt direction = up x axis
        ux = self.ux
        uy = self.uy
        uz = self.uz
        up = (ax * ux + ay * uy + az * uz) >> 10
        ax -= up * ux >> 10
        ay -= up * uy >> 10
        az -= up * uz >> 10
        u = self._u
        if _unit(u, ax, ay, az, 1024) == 0:
            return
        ax = u[0]
        ay = u[1]
        az = u[2]
        self.px = ax
        self.py = ay
        self.pz = az
        self.hx = (uy * az - uz * ay) >> 10
        self.hy = (uz * ax - ux * az) >> 10
        self.hz = (ux * ay - uy * ax) >> 10
        Detector._sync(self)

    def _walk_start(self, t_lift):
        # a first step from standing starts the set too
        if self.state == ST_READY:
            # (from a stand, heels down: the walker's last touch, its foot-flat the floor's)
            self.cold.touch_t = t_lift
            self.cold.flat_mg = 0
        self.state = ST_SET
        self._new_set_state()
        self.s_imu = 0
        self._emit(EV_SET_START, t_lift, 0, 0, 0, 0, 0, 0, 0, 0)

    # -- FSR levels ------------------------------------------------------
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
        rng = (p.fsr_fore_ref if p.fsr_fore_ref else (self.f_ref if self.f_ref else self.cold.f_lrn)) - base
        if rng < _FSR_MIN_RANGE:
            rng = _FSR_MIN_RANGE
        self.f_rng = rng
        self.f_on = base + rng * p.fsr_fore_on_pct // 100
        self.f_off = base + rng * p.fsr_fore_off_pct // 100
        Detector._fsr_sync(self)

    def _fsr_sync(self):
        k = self._cfgf
        k[0] = self.h_min
        k[1] = self.f_min
        k[2] = self.m_min
        k[3] = self.l_min
        k[4] = self.h_touch
        k[5] = self.h_on
        k[6] = self.h_off
        k[7] = self.f_on
        k[8] = self.f_off

    # -- calibration and set start ---------------------------------------
    def _calibrating(self, t, ax, ay, az, heel, fore, d2):
        c = self.cold
        if self.imu:
            k = self.lp_k
            if self.fresh:
                # start the low-pass at the first sample: a short stand is enough
                self.fresh = False
                lp = self._lp
                lp[_LP_X] = _clamp(ax, _ACC_MAX_MG) << k
                lp[_LP_Y] = _clamp(ay, _ACC_MAX_MG) << k
                lp[_LP_Z] = _clamp(az, _ACC_MAX_MG) << k
                lp[_LP_SN] = 0  # the steadiness reference restarts from the settled low-pass
                if not self.gyro:
                    # (an accelerometer alone: its steadiness is its deviation from the low-pass,
                    # which starts here, not from the 1 g on z it was reset to: a pod mounted any
                    # other way read 2 g off, and the stand's first 150 ms were lost to it)
                    lp[_LP_G2] = 0
                return
            # still: not turning, |a| about 1 g (the steadiness limit is not known before the stand)
            lp = self._lp
            x = lp[_LP_X] >> k
            y = lp[_LP_Y] >> k
            z = lp[_LP_Z] >> k
            m2 = x * x + y * y + z * z
            # (0.7..1.3 g: an accelerometer's scale can be that far off; it is learned here)
            steady = lp[_LP_G2] < self.zg2_p and _CAL_G2_MIN < m2 < _CAL_G2_MAX
        else:
            # walking from the start: the sole's swing is followed while the stand is awaited, so
            # the first landing is not lost to the wait. The unloaded baseline is not known yet
            # (the levels start at the first reading), so the sole is off the floor when its load
            # fell under a quarter of the highest seen: a stand's sway never does that.
            load = heel + fore
            if 4 * load < c.f_peak:
                c.air_n += 1
            elif c.air_n >= self.swing_n and (self.s_fsr or self.fore_on):
                c.cal_wait = self.p.rate_hz  # a landing after a swing: walking, no stand to wait for
            else:
                c.air_n = 0
            if load > c.f_peak:  # (after the landing's judgement: its own load is not one before)
                c.f_peak = load
            d = heel - self.h_lp
            e = fore - self.f_lp
            lim = (self.h_lp >> 5) + _FSR_STILL_COUNTS
            steady = -lim < d < lim and -lim < e < lim and heel > 0
        if not steady:
            c.cal_n = 0
            c.cal_x = c.cal_y = c.cal_z = c.cal_h = c.cal_f = 0
            c.cal_d2 = c.cal_g2 = 0
            c.cal_wait += 1
            if not self.imu:
                # pads need no gravity: walking from the start, go on with the default ranges
                if c.cal_wait >= self.p.rate_hz // 2:
                    # (off the floor only after a load a quarter of it: see above)
                    c.was_loaded = c.air_n > 0 or self.s_fsr == 2 or self.fore_on
                    c.f_peak = 0  # (from here on: a stance's forefoot, see _fsr_steps)
                    self.state = ST_READY
                    self._new_set_state()
                    # (in a swing, or landing from one: the wait ended where the swing began, so the
                    # set that starts there does not start before it)
                    self._emit(EV_CALIBRATED, t - c.air_n * self.dt_ms, 0, 0, 0, self.h_ref, self.f_ref, 0, 0, 0)
                    if c.air_n >= self.swing_n and (self.s_fsr or self.fore_on):
                        Detector._ready(self, t, False)  # this sample's landing starts the set
            return
        c.cal_n += 1
        if self.imu:
            c.cal_x += _clamp(ax, _ACC_MAX_MG)
            c.cal_y += _clamp(ay, _ACC_MAX_MG)
            c.cal_z += _clamp(az, _ACC_MAX_MG)
            # (capped: one jolt must not make every later rest look still)
            # (d2 is this sample's: still, the gyro was quiet enough for update to reckon it)
            c.cal_d2 += d2 if d2 < _CAL_D2_CAP * self.za2_p else _CAL_D2_CAP * self.za2_p
            c.cal_g2 += self._lp[_LP_G2]
        if self.fsr:
            c.cal_h += heel >> 4
            c.cal_f += fore >> 4
        if c.cal_n < self.calib_n:
            return
        n = c.cal_n
        if self.imu:
            x = _clamp(c.cal_x // n, _ACC_MAX_MG)
            y = _clamp(c.cal_y // n, _ACC_MAX_MG)
            z = _clamp(c.cal_z // n, _ACC_MAX_MG)
            u = self._u
            m = _unit(u, x, y, z, 1024)
            if m == 0:
                return
            self.ux = u[0]
            self.uy = u[1]
            self.uz = u[2]
            # 1 g as this accelerometer reads it, within _ONE_G_PCT
            self.g_lo2 = (m * (100 - _ONE_G_PCT) // 100) ** 2
            self.g_hi2 = (m * (100 + _ONE_G_PCT) // 100) ** 2
            # a rest: within _REST_G_PCT (an accelerometer's scale errs per axis: a foot at
            # rest at another tilt reads a few % off the standing 1 g)
            self.r_lo2 = (m * (100 - _REST_G_PCT) // 100) ** 2
            self.r_hi2 = (m * (100 + _REST_G_PCT) // 100) ** 2
            # rest limits above this sensor's noise: 4x its mean (a rest sample rarely passes that)
            f = _NOISE_X * c.cal_d2 // n
            if f > self.za2_p:
                self.za2 = f
            f = 4 * c.cal_g2 // n
            if f > self.zg2_p:
                self.zg2 = f
            self.za2_m = self.za2
            self.zg2_m = self.zg2
            Detector._sync(self)
        c.air_n = 0  # (a pads-only pod's air while it waited: a stand, not a swing)
        if self.fsr:
            self.h_ref = (c.cal_h // n) << 4
            self.f_ref = (c.cal_f // n) << 4
            self._fsr_levels()
        self.state = ST_READY
        self._new_set_state()
        if self.imu and (c.ax_x or c.ax_y or c.ax_z):
            self._set_axis(c.ax_x, c.ax_y, c.ax_z)  # what an earlier set taught
        self._emit(EV_CALIBRATED, t, self.ux, self.uy, self.uz, self.h_ref, self.f_ref, 0, 0, 0)

    def _ready(self, t, quiet):
        c = self.cold
        if self.imu:
            k = self.lp_k
            lp = self._lp
            x = lp[_LP_X] >> k
            y = lp[_LP_Y] >> k
            z = lp[_LP_Z] >> k
            risen = False
            if quiet:  # (at rest |a| is about 1 g: its square stays a small int)
                up = (x * self.ux + y * self.uy + z * self.uz) >> 10
                risen = x * x + y * y + z * z - up * up > self.rise2 and up > 0
        else:
            risen = self.s_fsr == 0 and self.fore_on
            # a walking swing (the whole sole off the floor, then down again) starts the set too
            if self.s_fsr == 0 and not self.fore_on:
                if c.was_loaded:  # off the floor after a load: not a stand below the levels
                    c.air_n += 1
            else:
                c.was_loaded = self.s_fsr == 2 or self.fore_on
                if c.air_n >= self.swing_n:
                    t0 = t - c.air_n * self.dt_ms
                    c.air_n = 0
                    self.state = ST_SET
                    self._new_set_state()
                    self._emit(EV_SET_START, t0, 0, 0, 0, 0, 0, 0, 0, 0)
                    self._landing(t, t0, UNKNOWN, UNKNOWN)
                    return
                c.air_n = 0
        if not risen:
            c.rise_cnt = 0
            return
        if c.rise_cnt == 0:
            c.rise_t = t
        c.rise_cnt += 1
        if c.rise_cnt < self.rise_n:
            return
        if self.imu:
            # heel-up tilt direction: the part of gravity that left the flat "up"
            ux = self.ux
            uy = self.uy
            uz = self.uz
            vx = x - (up * ux >> 10)
            vy = y - (up * uy >> 10)
            vz = z - (up * uz >> 10)
            u = self._u
            if _unit(u, vx, vy, vz, 1024) == 0:
                return
            vx = u[0]
            vy = u[1]
            vz = u[2]
            # pitch axis = heel-up direction x up (the foot's left); steps check its sign later
            self._set_axis((vy * uz - vz * uy) >> 10, (vz * ux - vx * uz) >> 10, (vx * uy - vy * ux) >> 10)
            c.axis_n = _AXIS_ROSE
            c.flip_votes = 0
            self.s_imu = 0
        t_rise = c.rise_t
        self.state = ST_SET
        self._new_set_state()
        self._emit(EV_SET_START, t_rise, 0, 0, 0, 0, 0, 0, 0, 0)

    # -- walking (per sample: keep it lean) ------------------------------
    def _push_share(self, med, lat):
        # forefoot share on the big-toe side, scaled down to stay a small int
        m = med - self.m_min
        l = lat - self.l_min
        sn = self._stn
        if m > 0 and sn[_ST_MED] < _SUM_CAP:
            sn[_ST_MED] += m >> 4
        if l > 0 and sn[_ST_LAT] < _SUM_CAP:
            sn[_ST_LAT] += l >> 4

    def _stance(self, fore):
        """One stance sample of an FSR-only pod: the pause at the top of the step (an IMU's
        stance sample is counted inline in update)."""
        sn = self._stn
        if self.heel_down:
            sn[_ST_RUN] = 0  # a heel on the floor is neither the top of the step nor a pause there
            return
        d = fore - self.f_lp
        lim = self.f_rng * self.p.fsr_pause_pct // 100
        if self.fore_on and -lim < d < lim:
            sn[_ST_RUN] += 1
            if sn[_ST_RUN] > sn[_ST_BEST]:
                sn[_ST_BEST] = sn[_ST_RUN]
        else:
            sn[_ST_RUN] = 0

    def _fsr_steps(self, t, fore):
        if self.fore_on or self.s_fsr == 2:
            if self.unload_cnt:
                if self.unload_cnt >= self.swing_n:
                    # a swing: the heel pad was clear in it too (a forefoot unloaded onto a heel that
                    # stays loaded, a turn pivoting on the heel, is no step)
                    if self._stn[_ST_AIR]:
                        self._landing(t, self.unload_t0, UNKNOWN, UNKNOWN)
                elif self.in_step:
                    self.rebounds += 1  # a brief unload in stance: a bounce
                self.unload_cnt = 0
            c = self.cold
            if fore > c.f_peak:
                c.f_peak = fore
            Detector._stance(self, fore)
        else:
            sn = self._stn
            if self.unload_cnt == 0:
                self.unload_t0 = t
                sn[_ST_AIR] = 0
                c = self.cold
                if not self.f_ref and c.f_peak > self.f_on:
                    # no stand was calibrated (walking from the start): the forefoot's loaded
                    # level is learned from the stances' peaks, so a toe that drags through a
                    # swing, far below a stance's load, is not read as a foot on the floor
                    c.f_lrn = c.f_peak if not c.f_lrn else c.f_lrn + (c.f_peak - c.f_lrn) // 4
                    Detector._fsr_levels(self)
                c.f_peak = 0
            if self.s_fsr == 0:
                sn[_ST_AIR] = 1
            self.unload_cnt += 1
            sn[_ST_RUN] = 0

    def _landing(self, t_land, t_liftoff, stride_mm, clear_mm):
        if self.heel_down and self.onset_t < t_liftoff:
            self._heel_up(t_liftoff)  # a swing lifted the heel even if its height was not seen
            if self.imu:
                self.s_imu = 1  # (a pads-only pod has no IMU score: it stays 0)
                # the contact it landed in (if the heel rests low: see _track) is dated as a walk's
                # first: by its strike, else by the landing (a foot swung flat lands flat)
                self.cold.first_t = self.strike_t if self.strike_t > t_liftoff else t_land
        if self.in_step:
            self._emit_step(t_liftoff)
            d = (t_liftoff - self.land_t) * 3 // 2
            if d > self.end_ms:
                self.end_ms = d
        self.in_step = True
        self.land_t = t_land
        self.stride_mm = stride_mm
        self.clear_mm = clear_mm
        self.steps += 1
        self._new_stance()

    def _emit_step(self, t_end):
        p = self.p
        heel_mm = UNKNOWN
        sn = self._stn
        if self.imu and sn[_ST_HN]:
            heel_mm = sn[_ST_HSUM] // sn[_ST_HN] * p.foot_mm // 1000
        med_pct = UNKNOWN
        med = sn[_ST_MED]
        tot = med + sn[_ST_LAT]
        if self.fsr and tot > 0:
            # divide first: med * 100 could pass a 32-bit port's small-int range
            d = tot // 100
            med_pct = med // d if d else med * 100 // tot
        peaks = 1 + self.rebounds
        if self.imu:
            n = 0
            lo = self.land_t - 100
            hi = self.land_t + _PEAK_SPAN_MS
            for i in range(_PEAKS):
                pt = self._peak_t[i]
                if lo <= pt <= hi:
                    n += 1
            if n + self.rebounds > peaks:
                peaks = n + self.rebounds
        stance = t_end - self.land_t
        if stance < 0:
            stance = 0
        self._emit(
            EV_STEP, self.land_t, stance, heel_mm, sn[_ST_BEST] * 1000 // p.rate_hz, peaks, med_pct, self.steps,
            self.stride_mm, self.clear_mm,
        )

    def _heel(self, t, s, heel, mag2):
        """Heel state machine on the summed sensor score s (0..2 per sensor); heel: the pad's reading."""
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
            self.onset_t = onset
            self.impact2 = 0
            if self.imu:
                # the samples from _IMPACT_MS before the onset on (a strike dates a contact it
                # confirms up to _STRIKE_WINDOW_MS later; a walk's first, at its rest): those more
                # than _IMPACT_MS after it are no part of its impact
                dt = self.dt_ms
                skip = (t - onset - _IMPACT_MS) // dt
                if skip < 0:
                    skip = 0
                n = (t - onset) // dt + self.ring_n
                if n > _RING:
                    n = _RING
                j = self._lp[_LP_RING] - skip
                for _ in range(n - skip):
                    j = (j - 1) % _RING
                    if self._ring[j] > self.impact2:
                        self.impact2 = self._ring[j]
            self.load_peak = 0
            return
        if self.imu:
            if t - self.onset_t < _IMPACT_MS and mag2 > self.impact2:
                self.impact2 = mag2
        if self.fsr and heel > self.load_peak:
            self.load_peak = heel
        if s <= self.up_at:
            t_up = t
            if self.gyro and not self.fsr:
                # the heel up a while (as long as a strike is kept for, see update), or not down
                # again since: a heel that rose past heel_up_mm for a sample or two, and is down
                # again, is the same contact
                if self.up_t == _NEVER:
                    self.up_t = t
                if t - self.up_t < _UP_CONFIRM_MS:
                    return
                t_up = self.up_t
            # (an accelerometer alone sees the heel leave when the foot has moved for a while:
            # it left when the motion began)
            self._heel_up(self.cold.t_lift if self.mv and not self.gyro and self.cold.t_lift > self.onset_t else t_up)
        elif self.up_t != _NEVER:
            if s >= self.down_at:
                self.up_t = _NEVER  # down again: the same contact
            elif t - self.up_t >= _UP_CONFIRM_MS:
                self._heel_up(self.up_t)
        elif t - self.onset_t >= self.end_ms and (not self.mv or self.cold.t_lift - self.onset_t >= self.end_ms):
            # (a motion begun before that may be a step whose swing kept the foot flat, the heel
            # too low to be seen leaving: the set goes on if it is, see _landing)
            self._end_set()

    def _heel_up(self, t):
        """The heel left the floor at t: the contact is over, report it."""
        self.heel_down = False
        self.up_t = _NEVER
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
        self._emit(EV_HEEL, self.onset_t, t - self.onset_t, impact, load, 0, 0, 0, 0, 0)

    def _end_set(self):
        # heels lowered and kept down: the set is over (not a heel-contact fault)
        c = self.cold
        if self.imu and self.steps >= 4 and c.flip_votes == 0:
            c.ax_x = self.px
            c.ax_y = self.py
            c.ax_z = self.pz
        if self.in_step:
            self._emit_step(self.onset_t)
        self._emit(EV_SET_END, self.onset_t, self.steps, 0, 0, 0, 0, 0, 0, 0)
        self.state = ST_READY
        self.steps = 0
        self._new_set_state()

    def flush(self, t):
        """End of data mid-set: emit the heel contact and step under way (no set_end). Returns events."""
        self.n_ev = 0
        if self.imu and self.mv and self.state != ST_CAL:
            self._track(t, False)  # the motion under way when the data stopped
        if self.state == ST_SET:
            if self.heel_down and t - self.onset_t >= self.p.set_end_ms and self.in_step:
                self._end_set()  # heels lowered after the last step, and the data ended
                return self.n_ev
            if self.heel_down:
                # the contact under way when the data stopped (or the heel up since, not yet confirmed)
                self._heel_up(self.up_t if self.up_t != _NEVER else t)
            if self.in_step:
                self._emit_step(t)
                self.in_step = False
        return self.n_ev

    def heel_mm_now(self):
        """Current heel height in mm (UNKNOWN before the set starts or without an IMU)."""
        if not self.imu or self.state != ST_SET:
            return UNKNOWN
        return self.pitch_mg * self.p.foot_mm // 1000


def _turn(out, q, o, x, y, z, back):
    # (x, y, z) turned by the rotation q[o..o+3] (Q14), into out: a vector in the pod's frame after
    # that rotation, in the start's frame; `back`: by its conjugate (a direction in the start's
    # frame, as the pod sees it after that rotation)
    qw = q[o]
    qx = q[o + 1]
    qy = q[o + 2]
    qz = q[o + 3]
    if back:
        qx = -qx
        qy = -qy
        qz = -qz
    cx = (qy * z - qz * y) >> 13
    cy = (qz * x - qx * z) >> 13
    cz = (qx * y - qy * x) >> 13
    out[0] = x + ((qw * cx) >> 14) + ((qy * cz - qz * cy) >> 14)
    out[1] = y + ((qw * cy) >> 14) + ((qz * cx - qx * cz) >> 14)
    out[2] = z + ((qw * cz) >> 14) + ((qx * cy - qy * cx) >> 14)


def _arc_mm(lever, chord):
    # how far turning by a chord (Q10) about the forefoot moves a pod over the floor, at most:
    # lever (1 - cos), its distance from the pivot, plus its height over the pivot times sin
    return (lever * chord * chord >> 21) + _POD_HIGH_MM * chord // 1024


def _arc(u, pos, ka, kb, ux, uy, uz, lever):
    # what turning about the forefoot explains of the pod's travel between two entries of a track
    # (their indices in it; -1: its start): gravity's direction (ux, uy, uz at the start, Q10) at
    # each, turned back by the rotation there (u: scratch)
    _gravity_at(u, pos, ka, ux, uy, uz)
    ax = u[0]
    ay = u[1]
    az = u[2]
    _gravity_at(u, pos, kb, ux, uy, uz)
    x = u[0] - ax
    y = u[1] - ay
    z = u[2] - az
    return _arc_mm(lever, isqrt(x * x + y * y + z * z))


def _gravity_at(u, pos, k, ux, uy, uz):
    # gravity's direction at entry k of a track (-1: its start, where it is ux, uy, uz), into u
    if k < 0:
        u[0] = ux
        u[1] = uy
        u[2] = uz
    else:
        _turn(u, pos, k + 3, ux, uy, uz, True)


def _ahead_begin(d, s, stage):
    # a landing's (or a cut's) integration run ahead begins at history entry s, with `stage`
    # (_AHS_*): from the motion's start gravity and the gyro's bias, no tilt fix yet
    c = d.cold
    a = c.ahs
    a[_AH_S] = s
    a[_AH_STAGE] = stage
    a[_AH_G0X] = c.g0x
    a[_AH_G0Y] = c.g0y
    a[_AH_G0Z] = c.g0z
    a[_AH_BX] = d.bgx
    a[_AH_BY] = d.bgy
    a[_AH_BZ] = d.bgz
    a[_AH_W] = 0
    c.ah[_IS_A] = -1


def _gravity_to(d, s, e, k):
    """Gravity (mg) in the pod's frame at history entry k, into d._u: the motion's start's,
    turned by the track integrated from s to e (its rotation at k, or at e and on by the
    gyro's turn alone from there)."""
    c = d.cold
    u = d._u
    m = k if k < e else e
    if m > s:
        _turn(u, d._pos, _PW * m + 3, c.g0x, c.g0y, c.g0z, True)
    else:
        u[0] = c.g0x
        u[1] = c.g0y
        u[2] = c.g0z
    if k > m:
        gx = u[0]
        gy = u[1]
        gz = u[2]
        Detector._integrate(d, m, k, 0, 0, 0, -1, None)
        Detector._tilt(d, gx, gy, gz)


# The tilt fix's two halves (see Detector._attitude), called by _ahead too. Functions, not
# methods: the class's table of names, looked up per sample, stays as roomy as it was.

def _fastest(d, a, b):
    # the entries a tilt correction is spread over: those turning nearly as fast as the
    # fastest in a+1..b (cold.w_cut)
    h = d._hist
    bx = d.bgx
    by = d.bgy
    bz = d.bgz
    top = 0  # the fastest turn (sum over the axes, 0.1 dps)
    j = (a + 1) * _HW
    for _ in range(b - a):
        # |rate - bias| summed (not abs(): see _begin)
        x = h[j + 4] - bx
        y = h[j + 5] - by
        z = h[j + 6] - bz
        w = (x if x > 0 else -x) + (y if y > 0 else -y) + (z if z > 0 else -z)
        if w > top:
            top = w
        j += _HW
    d.cold.w_cut = top - (top >> 3)

def _fix(d, weight, ux, uy, uz, gx, gy, gz):
    # the tilt correction (d._k) for the turn d._q from gravity u to gravity g, and
    # its weight (0: none needed, or none possible)
    if weight == 0:
        return 0
    Detector._tilt(d, ux, uy, uz)
    u = d._u
    # the small rotation (end frame) taking the integrated tilt to the measured one: g1 x g_int
    k = d._k
    k[0] = (gy * u[2] - gz * u[1]) >> 10
    k[1] = (gz * u[0] - gx * u[2]) >> 10
    k[2] = (gx * u[1] - gy * u[0]) >> 10
    m = k[0] * k[0] + k[1] * k[1] + k[2] * k[2]
    if m < _TILT_OK_Q10 * _TILT_OK_Q10 or m > _TILT_FIX_Q10 * _TILT_FIX_Q10:
        return 0  # they agree; or so far apart that the rest was none (the foot still moved)
    return weight

