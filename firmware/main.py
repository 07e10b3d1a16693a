"""Pod entry point. On a board: runs at boot with calfwalk.json. On the unix port:
micropython main.py [CONFIG.json] [key=value ...]  (e.g. replay=set_left.csv replay_speed=0)."""

import gc
import sys


def make_source(cfg):
    """The sample source named by the board config: a replayed recording or the board's sensors."""
    kind = cfg["source"]
    if kind == "replay":
        from sources import ReplaySource

        if not cfg.get("replay"):
            raise ValueError("board source is replay but no replay= file was given")
        src = ReplaySource(cfg["replay"], cfg.get("replay_speed", 1))
        # the recording says which foot, sensor and rate it holds
        cfg["foot"] = src.foot
        cfg["sensor"] = src.sensor
        cfg["rate_hz"] = src.rate_hz
        return src
    import machine
    import sensors

    return sensors.make_source(cfg, machine)


def make_cues(cfg):
    """The cue outputs (LED, buzzer) the board config names, on pins built with `machine`."""
    from cues import make_cues as make

    if cfg.get("led") is None and cfg.get("buzzer") is None:
        return make(cfg)
    import machine  # only a board with an LED or buzzer needs it

    return make(cfg, machine)


def make_log(cfg):
    """The pod's log on its flash (logbook.py), opened after a boot, or None when the board config
    turns it off ("log": "")."""
    if not cfg.get("log"):
        return None
    import logboot

    log = logboot.open_log(cfg["log"], cfg.get("log_kb", 0))
    del logboot
    sys.modules.pop("logboot", None)  # boot-time code: its RAM back
    return log


def start_timer(pod, cfg):
    """Sample from a hardware timer where the board has one; else the loop's clock paces sampling."""
    if cfg["source"] == "replay":
        return
    try:
        import machine

        timer = machine.Timer(cfg.get("timer_id", -1))
    except (ImportError, AttributeError, ValueError):
        return
    pod.attach_timer(timer)


def main(argv=None):
    import config

    argv = sys.argv[1:] if argv is None else argv
    path = config.DEFAULT_PATH
    if argv and "=" not in argv[0]:
        path = argv[0]
        argv = argv[1:]
    try:
        cfg = config.load(path, argv)
        # read once at boot: give its code's RAM back (`save` writes the file itself)
        del config
        sys.modules.pop("config", None)
        # the log first: its boot-time reading (logboot.py) comes and goes while the heap is whole
        log = make_log(cfg)
        gc.collect()
        source = make_source(cfg)
        # in a small heap the big long-lived objects go first, then the app's code
        gc.collect()
        from core import make_core

        ring, det = make_core(cfg)
        cues = make_cues(cfg)
        gc.collect()
        import app

        pod = app.App(cfg, source, det=det, ring=ring, cues=cues, log=log)
        start_timer(pod, cfg)
        gc.collect()
    except (ValueError, OSError) as exc:
        # say it on the line the host reads, then stop
        import protocol

        protocol.Encoder(sys.stdout).line(0, protocol.ERR, "config,%s" % str(exc).replace(",", ";"))
        raise
    pod.run()


main()
