"""The detector's path for an accelerometer alone (sensor kinds acc and acc+fsr).

Loaded only by such a pod (`Detector.__init__`), so an IMU pod's RAM holds none of it;
runs unchanged under MicroPython and CPython, integer-only, nothing allocated. Every
function takes the Detector `d` and works on its state and its motion history.

Without rates the foot's turn is known only where it reads gravity: at rest, and
wherever it is carried steadily at 1 g in between. A turn it cannot see tilts gravity
into the track by centimetres, so a step is also a foot that moved for a swing's time
and struck the floor as it stopped; the heel is seen only while the foot rests, and a
contact is dated by the strike before that rest. (Its per-sample part, the heel's height
and score while the foot moves, is inline in Detector.update: a call costs more there.)
"""

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):  # type: ignore[misc]  # CPython stand-in for micropython.const
        return x


# the detector's own (tests/firmware/test_detector_acc.py checks they agree)
_HW = const(7)  # history entry: dt, ax, ay, az, gx, gy, gz
_NEVER = const(-100000)
_GYRO_MAX = const(32000)
_STRIKE_WINDOW_MS = const(400)
_SWING_MIN_MS = const(150)  # a foot moving this long has left the floor
# this path's
_ACC_STRIKE_MS = const(250)  # a landing's strike comes this soon before the foot stops
_BRIEF_MS = const(160)  # a rest this short after a landing: the foot paused at the floor
_JOLT_MS = const(80)  # ... and a jolt this soon after it moved on: the landing's strike
_ANCHOR_MG = const(60)  # entries this steady (each side), reading 1 g, show gravity
_AXIS_MG = const(40)  # readings within this (rms) of one line: the foot turned about one axis (see axis)
_BOB_MG = const(600)  # ... and none this far from their mean: gently (a heel's bob, no strike)
_jump_top = 0  # the landing's largest jump (see strike)
_jolt_ms = 0  # motion(): how long its stretch moved before its largest |a| jump (see jolts) ...
_jolt_i = 0  # ... and the raw history entry that jump ended at
_late2 = 0  # ... the largest jump after it moved for a swing's time, squared (4 mg units)
_off2 = 0  # axis(): its readings' mean square off their line (4 mg units squared)
_top2 = 0  # jolts(): its largest jump, squared (4 mg units)
_go_t = 0  # strike(): when its first moving entry began moving (ms) ...
_stop_t = 0  # ... when its last one stopped ...
_moved = 0  # ... and how long it moved in all
_s = 0  # motion(): its raw history entries _s.._e
_e = 0


def motion(d, s, e, t, i, st):
    """A stretch of the motion, raw history entries s..e (s at time t) ending at rest i, before
    its track: its turn (see rates; `st`: begun while the rest settled) written where the
    gyro's rates go; returns its strike (see strike), also kept in d.strike_t, or _NEVER."""
    global _s, _e
    g = d._g
    g0 = 3 * i - 3
    _s = s
    _e = e
    strike_t = strike(d, s, e, t, _NEVER, _SWING_MIN_MS)
    rates(d, s, e, g[g0], g[g0 + 1], g[g0 + 2], g[g0 + 3], g[g0 + 4], g[g0 + 5], st, e)
    if strike_t != _NEVER:
        d.strike_t = strike_t
    jolts(d, s, e)
    axis(d, s, e)
    return strike_t


def axis(d, a, b):
    """Raw history entries a+1..b: how far its moving entries' readings (all, if fewer than 3
    moved) stray off the line that fits them best, their mean square (_off2; 4 mg units).

    A heel bobbing with the forefoot planted turns the foot about one axis, the forefoot's, and
    nothing else: gravity's turn and the pod's push (the lever times the turn's acceleration,
    an oscillation's own tilt) both follow the one angle, so the readings run to and fro along
    one line, off it by the sensor's noise. A swing lifts the foot, carries it and turns it,
    each in its own time: its readings spread off any line. (The line's direction comes from a
    few rounds of the power method: any other direction only puts more off it.)"""
    global _off2
    h = d._hist
    _off2 = 1 << 20
    n = sx = sy = sz = 0
    # (every other entry: a bob's cycle spans 20 or more, and the M0's landing budget is tight)
    for pas in range(2):
        n = sx = sy = sz = 0
        j = (a + 1) * _HW
        for _ in range((b - a + 1) >> 1):
            if h[j] < 0 or pas:
                n += 1
                sx += h[j + 1] >> 2
                sy += h[j + 2] >> 2
                sz += h[j + 3] >> 2
            j += 2 * _HW
        if n >= 3:
            break
    if n < 3:
        return
    every = pas
    mx = sx // n
    my = sy // n
    mz = sz // n
    cxx = cyy = czz = cxy = cxz = cyz = 0
    lim = _BOB_MG >> 2
    j = (a + 1) * _HW
    for _ in range((b - a + 1) >> 1):
        if h[j] < 0 or every:
            x = (h[j + 1] >> 2) - mx
            y = (h[j + 2] >> 2) - my
            z = (h[j + 3] >> 2) - mz
            if not -lim < x < lim or not -lim < y < lim or not -lim < z < lim:
                return  # pushed hard, or struck: no heel's bob
            cxx += x * x
            cyy += y * y
            czz += z * z
            cxy += x * y
            cxz += x * z
            cyz += y * z
        j += 2 * _HW
    cxx //= n
    cyy //= n
    czz //= n
    cxy //= n
    cxz //= n
    cyz //= n
    # the line: the covariance's first axis (power method, from its largest column; Q10)
    if cxx >= cyy and cxx >= czz:
        ux = 1024
        uy = uz = 0
    elif cyy >= czz:
        uy = 1024
        ux = uz = 0
    else:
        uz = 1024
        ux = uy = 0
    lam = 0
    for _ in range(6):
        vx = cxx * ux + cxy * uy + cxz * uz
        vy = cxy * ux + cyy * uy + cyz * uz
        vz = cxz * ux + cyz * uy + czz * uz
        # (uT C u, u of length 1024: the variance along u, Q20 scaled back)
        lam = ((vx >> 10) * ux + (vy >> 10) * uy + (vz >> 10) * uz) >> 10
        while vx > 16383 or vx < -16383 or vy > 16383 or vy < -16383 or vz > 16383 or vz < -16383:
            vx >>= 1
            vy >>= 1
            vz >>= 1
        q = vx * vx + vy * vy + vz * vz
        if q == 0:
            break
        m = q  # (its square root: Newton's, small ints)
        k = (m + 1) >> 1
        while k < m:
            m = k
            k = (m + q // m) >> 1
        ux = vx * 1024 // m
        uy = vy * 1024 // m
        uz = vz * 1024 // m
    _off2 = cxx + cyy + czz - lam


def _steady(h, j, x, y, z):
    """Whether the history entries either side of the one at index j (reading x, y, z) read the
    same, within _ANCHOR_MG."""
    lim = (_ANCHOR_MG >> 2) * (_ANCHOR_MG >> 2)
    dx = (h[j - _HW + 1] - x) >> 2
    dy = (h[j - _HW + 2] - y) >> 2
    dz = (h[j - _HW + 3] - z) >> 2
    if dx * dx + dy * dy + dz * dz > lim:
        return False
    dx = (h[j + _HW + 1] - x) >> 2
    dy = (h[j + _HW + 2] - y) >> 2
    dz = (h[j + _HW + 3] - z) >> 2
    return dx * dx + dy * dy + dz * dz <= lim


def floor(d, a, k, b):
    """Whether the foot rested with the heel on the floor (an entry steady and reading 1 g, as rates'
    anchors, tilted as the heel down) in raw history entries a+1..b-1, up to _ACC_STRIKE_MS after
    entry k."""
    h = d._hist
    lo = d.g_lo2
    hi = d.g_hi2
    hx = d.hx
    hy = d.hy
    hz = d.hz
    down = d.down_mg
    t = 0
    j = (a + 1) * _HW
    for _ in range(b - a - 1):
        x = h[j + 1]
        y = h[j + 2]
        z = h[j + 3]
        if (x * hx + y * hy + z * hz) >> 10 < down and lo < x * x + y * y + z * z < hi and _steady(h, j, x, y, z):
            return True
        if j > k * _HW:
            dt = h[j]
            t += dt if dt > 0 else -dt
            if t > _ACC_STRIKE_MS:
                break
        j += _HW
    return False


def jolts(d, a, b):
    """Raw history entries a..b: how long the stretch moved before its largest |a| jump between
    entries (_jolt_ms), and the largest after it had moved for a swing's time (_late2)."""
    global _jolt_ms, _jolt_i, _late2, _top2
    h = d._hist
    j = a * _HW
    px = h[j + 1] >> 2
    py = h[j + 2] >> 2
    pz = h[j + 3] >> 2
    moving = 0
    top = 0
    top_ms = 0
    top_j = j
    late = 0
    for _ in range(b - a):
        j += _HW
        x = h[j + 1] >> 2
        y = h[j + 2] >> 2
        z = h[j + 3] >> 2
        d2 = (x - px) * (x - px) + (y - py) * (y - py) + (z - pz) * (z - pz)
        if d2 > top:
            top = d2
            top_ms = moving
            top_j = j
        if d2 > late and moving >= _SWING_MIN_MS:
            late = d2
        dt = h[j]
        if dt < 0:
            moving -= dt
        px = x
        py = y
        pz = z
    _jolt_ms = top_ms
    _jolt_i = top_j // _HW
    _late2 = late
    _top2 = top


def onset(d, t, dt):
    """When the heel reached the floor, for an accelerometer alone: the landing's strike
    (a motion's, found in its history), else where the tilt crossed floor level, else where
    the pod stopped moving."""
    if d.mv and d.landed:
        n = d.h_n + (1 if d.h_acc else 0)
        first = strike(d, 0, n - 1, d.cold.t_start, _NEVER, 0)
        if first != _NEVER:
            if first < d.cross_t <= t:
                return d.cross_t  # landed, then sank down past floor level
            return first
    elif d.strike_t != _NEVER and t - d.strike_t <= _STRIKE_WINDOW_MS:
        return d.strike_t  # (a walking set's first: see _first_strike)
    if t - d.cross_t <= _STRIKE_WINDOW_MS:
        return d.cross_t
    if t - d.t_turn <= _STRIKE_WINDOW_MS:
        return d.t_turn + dt
    return t - d.lp_delay_ms

def rates(d, a, b, g0x, g0y, g0z, g1x, g1y, g1z, st, stop):
    """An accelerometer alone: a turn for raw history entries a+1..b, written where a gyro's
    rates go (0.1 dps). Gravity is known where the foot rests (g0 at a, g1 at b) and where
    it is carried steadily, reading 1 g, in between (a heel resting on the floor for a
    moment inside a motion, a swing's glide); from one such moment to the next the foot
    turns at an even rate. Without them a turn it cannot see tilts gravity into the track.

    Runs up to entry `stop` (b: the whole). `st` (d.cold.ahr: its first 7) carries it on:
    begun at a and stopped before, it goes on from there; its state is left in st either way
    (entries before st[1] then hold their final rates).
    """
    h = d._hist
    lo = d.g_lo2
    hi = d.g_hi2
    if st is not None and st[6] == a and st[0] > a:
        i0, k, t, px, py, pz, _, _, _, _ = st
    else:
        px = g0x
        py = g0y
        pz = g0z
        t = 0
        k = a + 1  # the first entry the next turn is written to
        i0 = a + 1
    j = i0 * _HW
    for i in range(i0, stop + 1):
        dt = h[j]
        t += dt if dt > 0 else -dt
        if i == b:
            x = g1x
            y = g1y
            z = g1z
        else:
            x = h[j + 1]
            y = h[j + 2]
            z = h[j + 3]
            if not lo < x * x + y * y + z * z < hi or i == a + 1 or not _steady(h, j, x, y, z):
                j += _HW
                continue
        # the turn from the last known gravity to this one: (new x old) / g^2 rad, over t ms
        # (0.1 dps = rad/ms * 572958)
        cx = ((y >> 2) * (pz >> 2) - (z >> 2) * (py >> 2)) * 573 // 62500
        cy = ((z >> 2) * (px >> 2) - (x >> 2) * (pz >> 2)) * 573 // 62500
        cz = ((x >> 2) * (py >> 2) - (y >> 2) * (px >> 2)) * 573 // 62500
        rx = cx * 1000 // t
        ry = cy * 1000 // t
        rz = cz * 1000 // t
        if ((rx + 16384) | (ry + 16384) | (rz + 16384)) >> 15:  # (clamped inline: a call costs more)
            rx = _GYRO_MAX if rx > _GYRO_MAX else (-_GYRO_MAX if rx < -_GYRO_MAX else rx)
            ry = _GYRO_MAX if ry > _GYRO_MAX else (-_GYRO_MAX if ry < -_GYRO_MAX else ry)
            rz = _GYRO_MAX if rz > _GYRO_MAX else (-_GYRO_MAX if rz < -_GYRO_MAX else rz)
        m = k * _HW
        for _ in range(i + 1 - k):
            h[m + 4] = rx
            h[m + 5] = ry
            h[m + 6] = rz
            m += _HW
        k = i + 1
        t = 0
        px = x
        py = y
        pz = z
        j += _HW
    if st is not None:
        st[0] = stop + 1
        st[1] = k
        st[2] = t
        st[3] = px
        st[4] = py
        st[5] = pz
        st[6] = a
    if stop == b or k > a + 1:
        m = a * _HW
        h[m + 4] = h[m + _HW + 4]  # (the trapezoids start from the first rate)
        h[m + 5] = h[m + _HW + 5]
        h[m + 6] = h[m + _HW + 6]

def strike(d, a, b, t, t_end, min_ms):
    """An accelerometer alone: the strike ending the motion in raw history entries a..b (the
    first at time t): where |a| jumps most sharply in the _ACC_STRIKE_MS before the foot
    stopped moving (at t_end; _NEVER: where its last moving entry ended), if by a landing
    peak's size and after moving for min_ms. Returns its time, or _NEVER. (A swing's
    own acceleration can stay above 1 g into the strike: a jump, not a level, finds it.)"""
    global _go_t, _stop_t, _moved
    h = d._hist
    moving = 0
    j = (a + 1) * _HW
    tt = t
    n = b - a
    while n and h[j] >= 0:  # (up to where it began moving: _go_t)
        tt += h[j]
        j += _HW
        n -= 1
    go = tt
    stop = t
    for _ in range(n):
        dt = h[j]
        if dt < 0:
            moving -= dt
            tt -= dt
            stop = tt
        else:
            tt += dt
        j += _HW
    _go_t = go
    _stop_t = stop
    _moved = moving
    if moving < min_ms:
        return _NEVER
    if t_end == _NEVER:
        t_end = stop
    # the largest jump, then the first at least half as large: the heel's strike (the
    # forefoot's slap after it can be the harder)
    lim = d.p.landing_peak_mg >> 2  # (4 mg units)
    if _jump_t(d, a, b, t, t_end, lim * lim, False) == _NEVER:
        return _NEVER
    return _jump_t(d, a, b, t, t_end, _jump_top >> 2, True)

def _jump_t(d, a, b, t, t_end, lim, first):
    global _jump_top
    # the time of the largest jump above lim (or, with `first`, of the first) in a..b
    h = d._hist
    best_t = _NEVER
    # (the entries before the _ACC_STRIKE_MS window only pass on their time: skipped through)
    t0 = t_end - _ACC_STRIKE_MS
    j = a * _HW
    while a < b and t < t0:
        dt = h[j + _HW]
        t += dt if dt > 0 else -dt
        j += _HW
        a += 1
    px = h[j + 1] >> 2
    py = h[j + 2] >> 2
    pz = h[j + 3] >> 2
    j += _HW
    for _ in range(b - a):
        if t > t_end:
            break  # (past the window: time only grows)
        dt = h[j]
        if dt < 0:
            dt = -dt
        x = h[j + 1] >> 2
        y = h[j + 2] >> 2
        z = h[j + 3] >> 2
        d2 = (x - px) * (x - px) + (y - py) * (y - py) + (z - pz) * (z - pz)
        if d2 > lim:
            best_t = t  # (the entry before the jump ends here)
            if first:
                return best_t
            lim = d2
            _jump_top = d2
        t += dt
        px = x
        py = y
        pz = z
        j += _HW
    return best_t


def stepped(d, travel, need, explains, ux, uy, uz, gx, gy, gz, strike_t, gap):
    """A motion's travel as the step test takes it (`need` + `explains` or more: a step).

    The turn the accelerometer cannot see spoils the travel: a foot that moved for a swing's
    time and struck the floor as it stopped (strike_t) stepped, unless the turn between its
    rests was the heel's own (heights, not chords: a brief rest's tilt is the pod's push as
    much as gravity): a drop from high to the floor, or a rise from it onto the toes, unless it
    struck after a swing's time (a long stride landed and dropped its heel; a stance ended heel
    down, then stepped without a rest).
    `gap`: how long after the last step's landing this stretch began moving (-1: it did not
    begin a motion after one). Its jolts (see jolts) tell a landing's own strike, and a strike
    that a heel's bob carried on from.

    A heel that touched or crashed down in stance and rose straight back makes one motion
    from stance to stance (heel high at both rests) whose tilt leaks travel: it jolted hardest
    before the foot had moved for a swing's time and rested on the floor around that jolt.

    A foot lowered slowly at a swing's end can hang still above the floor for a moment (the
    accelerometer reads the pause as a rest) and strike just after: its swing is left without a
    strike, its landing without a swing's time, and neither stepped. A stretch that struck by a
    landing peak's size at once on moving, moments after a swing's time of motion that stepped
    not and struck nothing stopped, is that swing's landing: a step. (A heel's bob or settling
    after such a pause jolts by a tenth of a landing peak or less; a motion begun moments after
    a step stopped is that landing's settling, no swing.)

    A slow swing can also pause high in the air, moving on after a moment too brief for a rest
    to the accelerometer: its first part, which travelled but struck nothing (no landing peak's
    jolt after a swing's time), stepped; the motion that begins moments later and strikes is the
    same swing's landing, no step of its own.
    """
    m = d.cold.ahr  # (its last 3: when the last swing that stepped not, the last step, and the last
    # step that struck nothing, stopped)
    lim = d.p.landing_peak_mg >> 2
    if 0 <= _go_t - m[9] < _BRIEF_MS and strike_t != _NEVER:
        # the landing of a swing that paused in the air, and stepped on its travel before it: the
        # foot stands at least while the other swings, so no swing of its own begins this soon
        r = 0
    elif 0 <= _go_t - m[7] < _BRIEF_MS and _jolt_ms < _JOLT_MS and _top2 >= lim * lim:
        # the landing of a swing that stopped just short of the floor
        r = travel if travel >= need + explains else need + explains
    elif _off2 < (_AXIS_MG >> 2) * (_AXIS_MG >> 2):
        # its readings ran along one line: it turned about one axis, the planted forefoot's (a heel
        # bobbing in stance, gravity and the pod's push both following the one angle), and went
        # nowhere; a swing's lift, carry and turn spread them off it
        r = 0
    elif 0 <= gap < _BRIEF_MS and _jolt_ms < _JOLT_MS:
        # it began with its hardest jolt, moments after the last step landed: that landing's own
        # strike, after the foot had paused just above the floor (the accelerometer reads such a
        # pause as a rest), and the heel's settling or bobbing after it: no step of its own
        r = 0
    elif (_jolt_ms < _SWING_MIN_MS and (d.hx or d.hy or d.hz)
          and (ux * d.hx + uy * d.hy + uz * d.hz) >> 10 > d.up_mg and (gx * d.hx + gy * d.hy + gz * d.hz) >> 10 > d.up_mg
          and floor(d, _s, _jolt_i, _e)):
        # the heel high at both rests, and in between it jolted hardest before the foot could have
        # swung, and rested on the floor around that jolt: the heel dropped or touched down from its
        # stance and rose again, the forefoot planted (too brief a rest on the floor for the
        # motion test), no step; a swing's hardest jolt is its landing, or its push-off, off the floor
        r = 0
    elif travel >= need + explains:
        r = travel
    else:
        struck = strike_t != _NEVER or _late2 >= lim * lim
        # (struck the floor after a swing's time, and moved on without a rest: a heel bobbing in
        # stance straight after the landing keeps the foot from stopping where it struck)
        hx = d.hx
        hy = d.hy
        hz = d.hz
        if hx or hy or hz:
            h0 = (ux * hx + uy * hy + uz * hz) >> 10
            h1 = (gx * hx + gy * hy + gz * hz) >> 10
            # (the heel's own move is made in stance, the forefoot planted: a rise onto the toes ends
            # without a strike, a drop strikes as it begins moving. A motion whose strike and hardest
            # jolt came after a swing's time swung too: it rose into its swing, or landed a long
            # stride and dropped its heel after the landing: a step)
            own = strike_t == _NEVER or strike_t - _go_t < _SWING_MIN_MS or _jolt_ms < _SWING_MIN_MS
            heels = ((h0 > d.up_mg and h1 < d.down_mg) or (h0 < d.down_mg and h1 > d.up_mg)) and own
        else:
            heels = explains >= need
        r = need + explains if struck and not heels else travel
    m[7] = _NEVER
    m[9] = _NEVER
    if r >= need + explains:
        m[8] = _stop_t
        if strike_t == _NEVER and _late2 < lim * lim:
            m[9] = _stop_t  # (a swing that struck nothing: it paused in the air)
    elif strike_t == _NEVER and _moved >= _SWING_MIN_MS and _go_t - m[8] >= _BRIEF_MS:
        # (begun moments after a step stopped: the heel's settling or bob after its landing)
        m[7] = _stop_t
    return r
