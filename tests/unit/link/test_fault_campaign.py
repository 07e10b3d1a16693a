"""Fault campaign (issue 12): unplug the port and plug it back, reboot the pod mid-set (killing
`record`, the pod and podsim by PID: tests/e2e/test_fault_campaign_cli.py).

Afterwards the session file is readable (the package's read_session), and holds what the pod sent
(helpers.check_fault_session): every step it counted is in the summary, or marked as an unknown step
where lines were lost. The moments are counted in lines the pod sent, not in seconds, so the
machine's load changes nothing but how long a run takes. Each run appends a line to
build/fault-campaign.jsonl (what was lost).
"""

from __future__ import annotations

import random

import pytest

from calfwalk.link.transport import LinkLost, SerialTransport, Transport
from calfwalk.sim.podsim import PodProcess
from calfwalk.link.recorder import Recorder

from helpers import FAULT_SEEDS as SEEDS, FAULT_SPEED as SPEED, check_fault_session

# ------------------------------------------------------------------ unplug the port; reboot the pod


class FaultyPort(Transport):
    """The pod's port, which the test can pull out (bytes sent meanwhile are lost, as on a cable
    pulled out) and plug back, to the same pod or to a pod that has just rebooted."""

    def __init__(self, pod):
        self.pod = pod
        self.name = "faulty"
        self.serial = SerialTransport(pod.port)
        self.lines = 0
        self.unplug_at = None
        self.unplugged = False
        self.on_unplug = None

    def read(self, timeout):
        if self.unplugged:
            raise LinkLost("faulty: unplugged")
        data = self.serial.read(timeout)
        self.lines += data.count(b"\n")
        if self.unplug_at is not None and self.lines >= self.unplug_at:
            self.unplug_at = None
            self.unplugged = True
            if self.on_unplug:
                self.on_unplug(self)
            raise LinkLost("faulty: unplugged")
        return data

    def write(self, data):
        if self.unplugged:
            raise LinkLost("faulty: unplugged")
        self.serial.write(data)

    def replug(self):
        """What the pod sent while the cable was out is gone."""
        self.serial.read(0.05)
        while self.serial.read(0.02):
            pass
        self.unplugged = False

    def close(self):
        pass  # the test closes the real port at the end


def run_with_faults(tmp_path, raw, at, reboot):
    """Record while the port is pulled out after `at` lines for a while (and the pod reboots if asked)."""
    session = tmp_path / "s.cwlog"
    pods = [PodProcess(raw, speed=SPEED)]
    port = FaultyPort(pods[0])
    port.unplug_at = at
    opens = {"n": 0}

    def unplugged(p):
        if reboot:  # the pod restarts while away: a new boot, its sequence from 0, the set cut
            p.serial.close()
            pods[0].close()
            # a real pod samples from power-up (the unix board waits for `start`: say autostart)
            pods.append(PodProcess(raw, speed=SPEED, extra=("autostart=true",)))
            p.pod = pods[-1]
            p.serial = SerialTransport(pods[-1].port)

    port.on_unplug = unplugged

    def opener(_name):
        opens["n"] += 1
        if opens["n"] == 1:
            return port
        if opens["n"] < 3:  # still out: the first attempt to reopen fails
            raise LinkLost("faulty: no such port")
        port.replug()
        return port

    try:
        stats = Recorder(["faulty"], str(session), opener, reconnect_s=30).run(seconds=60)
    finally:
        port.serial.close()
        for p in pods:
            p.close()
    return session, list(stats.values())[0]


@pytest.mark.parametrize("seed", SEEDS)
def test_unplug_and_plug_back(tmp_path, clean_set, seed, micropython):
    at = random.Random(300 + seed).randrange(8, 20)
    session, st = run_with_faults(tmp_path, clean_set[0], at, reboot=False)
    text = session.read_text()
    assert "link lost" in text and "link back" in text
    s = check_fault_session(session, "unplug and plug back", seed, clean_set[1], {"unplugged_after_lines": at, "gap_lines": st.gaps})
    # the set ended after the port came back: the pod's own count is the truth, every step seen or unknown
    assert s["steps"] + s["steps_unknown"] == len(clean_set[1]["feet"]["left"]["steps"])


@pytest.mark.parametrize("seed", SEEDS)
def test_reboot_mid_set(tmp_path, clean_set, seed, micropython):
    at = random.Random(400 + seed).randrange(8, 20)
    session, st = run_with_faults(tmp_path, clean_set[0], at, reboot=True)
    s = check_fault_session(session, "reboot mid-set", seed, clean_set[1], {"rebooted_after_lines": at})
    assert st.reboots == 1
    rules = {r["id"]: r for r in s["rules"]}
    # the rebooted pod replays the set from the start: its second set is whole
    assert s["steps"] >= len(clean_set[1]["feet"]["left"]["steps"])
    cut = [x for x in s["sets"] if x["end_ms"] is None]
    for x in cut:  # the set the reboot cut is not judged on how it ended
        r = {r["id"]: r for r in x["rules"]}["heels_lowered_after_set"]
        assert r["status"] in ("not_measured", "pass"), r
    assert rules["heels_lowered_after_set"]["status"] in ("pass", "not_measured")
