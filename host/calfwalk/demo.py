"""`make demo`: a simulated set streamed by the real firmware on emulated pods, recorded and summarised."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def _say(text):
    print(f"==> {text}", file=sys.stderr, flush=True)


def run_demo(out_dir, speed=6, steps=30) -> int:
    from calfwalk.analysis.pipeline import analyze_recordings
    from calfwalk.link.transport import open_transport
    from calfwalk.sim.podsim import PodProcess
    from calfwalk.output.present import EventPrinter, print_link, print_summary
    from calfwalk.files.rawfile import read_raw
    from calfwalk.link.recorder import Recorder
    from calfwalk.files.session import read_session
    from calfwalk.analysis.pipeline import summarise_session
    from calfwalk.sim.simulate import HeelTouch, SimConfig, write_simulation

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t_begin = time.monotonic()
    cfg = SimConfig(steps=steps, cadence_spm=60, pause_ms=300, fatigue_pct=20, mount="random", noise=1.0,
                    heel_touches=[HeelTouch(step=steps // 3, duration_ms=300, impact_mg=1800),
                                  HeelTouch(step=2 * steps // 3, duration_ms=200, impact_mg=0)], seed=7)
    paths = write_simulation(cfg, str(out / "set"))
    _say(f"simulated {steps} steps with two heel drops: {', '.join(paths)}")
    raw = {read_raw(p).foot: p for p in paths[:2]}
    session = out / "session.cwlog"
    pods = [PodProcess(raw["left"], speed=speed), PodProcess(raw["right"], speed=speed)]
    try:
        _say(f"firmware on the MicroPython unix port: left pod on {pods[0].port}, right pod on {pods[1].port} "
             f"(replaying at {speed}x real time)")
        _say(f"recording: calfwalk record --port {pods[0].port} --port {pods[1].port} -o {session}")
        printer = EventPrinter()
        rec = Recorder([p.port for p in pods], str(session), open_transport, reconnect_s=0,
                       on_line=printer.on_line, on_note=printer.on_note)
        rec.run(seconds=120)
    finally:
        for p in pods:
            p.close()
    summary = summarise_session(read_session(session))
    _say(f"summary of {session} (calfwalk summary {session}):")
    print_summary(summary)
    print_link(summary)
    direct = analyze_recordings([read_raw(p) for p in paths[:2]])
    same = _comparable(summary) == _comparable(direct)
    _say(f"same as `calfwalk analyze` on the raw files: {'yes' if same else 'NO'}")
    with open(out / "summary.json", "w") as fh:
        json.dump(summary, fh, indent=2)
    _say(f"done in {time.monotonic() - t_begin:.1f} s; JSON summary in {out / 'summary.json'}")
    return 0 if same else 1


def _comparable(summary):
    """The parts of a summary that depend only on the detector's events."""
    keep = ("steps", "steps_by_foot", "cadence_spm", "step_time_cv", "heel_contacts", "heel_height_mm", "rules")
    out = {k: summary[k] for k in keep}
    out["events"] = [e for e in summary["events"] if e["type"] != "calibrated"]
    return json.loads(json.dumps(out))
