"""The gyro's bias is learned at rest, and a rest may turn: a slow rise onto the toes.

A rest's gyro mean is its bias only if the foot did not turn. What the accelerometer's tilt
turned by between the rest's start and its end is the foot's own turn, and is taken from the
mean (sweep sets 25, 29 and 69 began with a rise of about 2 s, the bias took 2 dps of it, and
the first stance's bob, integrated with that bias, travelled like a step). A tilt that turns
while the gyro, its bias known, sees nothing is an accelerometer's error and is left alone.
"""

from __future__ import annotations

import math

import pytest

from calfwalk import firmware
from calfwalk.analysis.detect import detect
from calfwalk.eval import robustness
from calfwalk.sim.simulate import simulate

HZ = 100
BIAS_MDPS = 3000  # the gyro's y axis reads 3 dps at rest


class Pod:
    """Feeds a detector a foot turning about y (the pitch axis), with a biased gyro."""

    def __init__(self):
        det = firmware.load("detector")
        self.det = det.for_sensor(det.Params(rate_hz=HZ), "imu")
        self.t = 0
        self.pitch_deg = 0.0

    def run(self, seconds, rate_dps=0.0, tilt_dps=None):
        """rate_dps: the foot's turn; tilt_dps: the accelerometer's (default: the same)."""
        tilt = rate_dps if tilt_dps is None else tilt_dps
        for _ in range(int(seconds * HZ)):
            self.pitch_deg += tilt / HZ
            th = math.radians(self.pitch_deg)
            self.det.update(self.t, int(-1000 * math.sin(th)), 0, int(1000 * math.cos(th)),
                            0, int(rate_dps * 1000) + BIAS_MDPS, 0, 0, 0, 0)
            self.t += 1000 // HZ

    @property
    def bias_mdps(self):
        return self.det.bgy * 100


@pytest.mark.parametrize("rise_dps, rise_s", [(5, 3.0), (8, 2.0), (12, 1.5)])
def test_a_slow_rise_onto_the_toes_is_no_gyro_bias(rise_dps, rise_s):
    pod = Pod()
    pod.run(1.5)  # the stand
    pod.run(rise_s, rise_dps)  # the rise: slow enough to pass for a rest
    pod.run(0.5)
    pod.run(0.3, 100)  # a motion begins: the bias is taken from the rest before it
    # (before: 6.0, 7.0 and 8.1 dps, the rise's mean turn added to the bias)
    assert abs(pod.bias_mdps - BIAS_MDPS) <= 200, pod.bias_mdps


def test_a_tilt_that_turns_while_the_gyro_sees_nothing_leaves_the_bias():
    pod = Pod()
    pod.run(1.5)
    pod.run(0.2, 100)  # a motion: the bias is learned from the stand
    pod.run(0.2, -100)
    pod.run(2.0)
    assert abs(pod.bias_mdps - BIAS_MDPS) <= 200, pod.bias_mdps
    pod.run(2.5, 0.0, tilt_dps=2.0)  # the accelerometer alone turns 5 degrees
    pod.run(0.3, 100)
    assert abs(pod.bias_mdps - BIAS_MDPS) <= 300, pod.bias_mdps


def test_calibrating_again_forgets_the_bias_and_learns_it_from_the_new_stand():
    # the pod's `calibrate` command: a stand after a stand. A motion began at the command (the
    # low-pass starts again) and its rest's tilt turn read from no rest entries made a 45 dps
    # bias, which the per-sample path kept: no stand was ever still again (no `calibrated`)
    pod = Pod()
    pod.pitch_deg = 30.0  # (the pod mounted at an angle: gravity is not its z axis)
    pod.run(1.0)
    pod.det.calibrate()
    pod.run(0.1, 80)  # (the foot moved as the command came)
    pod.run(0.1, -80)
    n = 0
    for _ in range(100):
        pod.run(0.01)
        n += sum(pod.det.ev[k * 10] == 1 for k in range(pod.det.n_ev))
    assert n == 1 and pod.det.state != 0
    pod.run(0.3, 100)
    assert abs(pod.bias_mdps - BIAS_MDPS) <= 200, pod.bias_mdps


@pytest.mark.parametrize("k, foot", [(25, "left"), (29, "right"), (69, "right")])
def test_the_first_stance_bob_after_a_slow_rise_is_no_step(k, foot):
    # bounce 3-10 degrees at 2.4-3 Hz in stance, a rise of 1.9-2.2 s: one step too many before
    d = robustness.draw(k)
    sim = simulate(d.cfg)
    events = detect(robustness._recording(sim[foot]))
    steps = sum(e["type"] == "step" for e in events)
    assert steps == len(sim["truth"]["feet"][foot]["steps"])
