"""The pod's large long-lived objects, built first (before the app's code loads) so a
small heap keeps them in one piece: the sample ring and the detector."""

import detector
from ring import SampleRing


def make_core(cfg):
    """(ring, detector) for a board config."""
    ring = SampleRing(cfg.get("ring", 64))
    params = detector.Params(rate_hz=cfg["rate_hz"], **cfg.get("params", {}))
    sensor = cfg["sensor"]
    return ring, detector.for_sensor(params, sensor)
