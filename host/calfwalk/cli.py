"""The `calfwalk` command: one handler per subcommand, heavy imports inside each."""

from __future__ import annotations

import argparse
import sys


class CliError(Exception):
    """An error to show the user as one line, exit code 2."""


def _load_recordings(paths):
    from .rawfile import read_raw

    if len(paths) > 2:
        raise CliError(f"give one or two raw files (left and right), not {len(paths)}")

    recs = [read_raw(p) for p in paths]
    feet = [r.foot for r in recs]
    if len(set(feet)) != len(feet):
        raise CliError(f"two files for the same foot ({feet[0]}): give one left and one right file")
    return recs


def _parse_params(items):
    params = {}
    for item in items or []:
        if "=" not in item:
            raise CliError(f"--param takes NAME=VALUE, got {item!r}")
        name, _, value = item.partition("=")
        if name.strip() == "rate_hz":
            raise CliError("rate_hz comes from the recording's metadata, not --param")
        params[name.strip()] = value.strip()
    return params


def analyze_recordings(recs, params=None) -> dict:
    """Summary dict for raw recordings, from the firmware detector."""
    from .detect import detect_files
    from .summary import summarise

    try:
        events = detect_files(recs, params)
    except ValueError as exc:  # bad --param
        raise CliError(str(exc)) from None
    feet = sorted((r.foot for r in recs), key=("left", "right").index)
    duration = max(r.duration_s for r in recs)
    return summarise(events, feet, {r.foot: r.sensor for r in recs}, duration)


def cmd_analyze(args) -> int:
    from .present import print_summary, to_json

    summary = analyze_recordings(_load_recordings(args.files), _parse_params(args.param))
    if args.json:
        print(to_json(summary))
    else:
        print_summary(summary)
    return 0


def cmd_simulate(args) -> int:
    from . import simulate

    return simulate.run(args)


def _opener(baud):
    from .link import open_transport

    return lambda port: open_transport(port, baud)


def _resolve_ports(ports):
    """--port values, or the one connected MicroPython board when none is given."""
    if ports:
        if len(ports) > 2:
            raise CliError("give at most two ports (left and right pod)")
        return ports
    from .ports import find_pods

    pods = find_pods()
    if len(pods) == 1:
        return [pods[0].device]
    if not pods:
        raise CliError("no pod found: plug it in, or give --port (see `calfwalk ports`)")
    raise CliError("several boards connected: choose with --port " + " or ".join(p.device for p in pods))


def _record(args, live):
    from .link import LinkLost
    from .recorder import Recorder

    ports = _resolve_ports(args.port)
    view = None
    printer = _EventPrinter() if not live else None
    if live:
        from .live import LiveView

        view = LiveView()
    rec = Recorder(ports, args.output, _opener(args.baud), reconnect_s=args.reconnect,
                   on_line=(view.on_line if view else printer.on_line),
                   on_note=(view.on_note if view else printer.on_note))
    try:
        if view:
            with view:
                rec.run(seconds=args.seconds, start=not args.no_start, stop_at_end=not args.keep_going, raw=args.raw)
        else:
            rec.run(seconds=args.seconds, start=not args.no_start, stop_at_end=not args.keep_going, raw=args.raw)
    except LinkLost as exc:
        raise CliError(str(exc)) from None
    print(f"session saved to {args.output}", file=sys.stderr)
    return _print_session(args.output, as_json=False)


def _print_session(path, as_json):
    from .present import print_summary, to_json
    from .session import read_session, summarise_session

    summary = summarise_session(read_session(path))
    if as_json:
        print(to_json(summary))
    else:
        print_summary(summary)
        _print_link(summary)
    return 0


def _print_link(summary):
    for foot, st in summary["link"].items():
        print(f"link {foot} ({st['port']}): {st['lines']} lines, {st['noise']} noise, {st['corrupt']} corrupt, "
              f"{st['gaps']} missing, {st['reboots']} reboot(s)")
    if summary.get("session_damaged_lines"):
        print(f"session file: {summary['session_damaged_lines']} damaged line(s) skipped")


class _EventPrinter:
    """Plain progress for `record`: one line per event and note."""

    def on_line(self, pod, line, event):
        if event is None or event["type"] == "calibrated":
            return
        extra = ""
        if event["type"] == "step":
            extra = f" #{event['step_no']} heel {event['heel_mm']} mm, pause {event['pause_ms']} ms"
        elif event["type"] == "heel_contact":
            extra = f" HEEL CONTACT {event['duration_ms']} ms, impact {event['impact_mg']} mg"
        print(f"  {event['foot']:>5} {event['t_ms'] / 1000:7.2f} s  {event['type']}{extra}", file=sys.stderr)

    def on_note(self, pod, text):
        print(f"  pod{pod.index} ({pod.port}): {text}", file=sys.stderr)


def cmd_record(args) -> int:
    return _record(args, live=False)


def cmd_live(args) -> int:
    return _record(args, live=True)


def cmd_summary(args) -> int:
    return _print_session(args.session, args.json)


def _open_pod(args):
    from .link import LinkLost, open_transport
    from .podctl import PodClient

    port = _resolve_ports([args.port] if args.port else None)[0]
    try:
        client = PodClient(open_transport(port, args.baud))
    except LinkLost as exc:
        raise CliError(str(exc)) from None
    return port, client


def cmd_config(args) -> int:
    from .podctl import PodError

    port, pod = _open_pod(args)
    try:
        if args.action == "get":
            for key in args.keys or _param_names():
                print(",".join(pod.ok(f"get {key}")))
        elif args.action == "set":
            if len(args.keys) != 2:
                raise CliError("config set takes KEY VALUE")
            print(",".join(pod.ok(f"set {args.keys[0]} {args.keys[1]}")))
            print(",".join(pod.ok("save")))
    except PodError as exc:
        raise CliError(str(exc)) from None
    finally:
        pod.t.close()
    return 0


def _param_names():
    from . import firmware

    return [p[0] for p in firmware.load("detector").PARAMS if p[0] != "rate_hz"]


def cmd_calibrate(args) -> int:
    """Guided calibration: pads unloaded (FSR), stand flat, rise onto the toes, store."""
    from .podctl import PodError

    port, pod = _open_pod(args)

    def step(text):
        if args.yes:
            print(text)
        else:
            input(f"{text} Press Enter when ready.")

    try:
        hello, st = pod.status()
        sensor = hello.get("sensor", "imu")
        print(f"pod on {port}: {hello.get('board')} board, {st.get('foot')} foot, sensor {sensor}")
        pod.ok("start")
        if "fsr" in sensor:
            step("1. Lift this foot off the floor and keep it still (pads unloaded).")
            print("   " + ",".join(pod.ok("unloaded", timeout=10)))
        step("2. Stand still with both feet flat on the floor.")
        pod.ok("calibrate")
        ev = pod.wait_event("calibrated", timeout=args.timeout)
        print(f"   gravity learned (up = {ev['up_x']}, {ev['up_y']}, {ev['up_z']})"
              + (f", pads loaded: heel {ev['heel_ref']}, forefoot {ev['fore_ref']}" if "fsr" in sensor else ""))
        step("3. Rise onto the balls of both feet and hold still.")
        pod.wait_event("set_start", timeout=args.timeout)
        print("   forward tilt learned: the pod knows how it is mounted")
        print("4. Lower your heels. " + ",".join(pod.ok("save")))
    except PodError as exc:
        raise CliError(str(exc)) from None
    finally:
        pod.t.close()
    return 0


def cmd_extract_raw(args) -> int:
    from .session import read_session, write_raw_files

    for path in write_raw_files(read_session(args.session), args.output):
        print(path)
    return 0


def cmd_ports(args) -> int:
    from .ports import list_ports

    rows = list_ports()
    if not rows:
        print("no serial ports found")
        return 0
    for p in rows:
        mark = "pod?" if p.micropython else "    "
        vidpid = f"{p.vid:04x}:{p.pid:04x}" if p.vid is not None else "-"
        print(f"{mark} {p.device:<20} {vidpid:<10} {p.description}")
    return 0


def cmd_podsim(args) -> int:
    import time

    from .podsim import PodProcess

    with PodProcess(args.raw, speed=args.speed) as pod:
        print(pod.port, flush=True)
        print(f"firmware running on the MicroPython unix port; open {pod.port} (Ctrl-C to stop)", file=sys.stderr)
        try:
            while pod.alive():
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
    return 0


def cmd_demo(args) -> int:
    from .demo import run_demo

    return run_demo(args.out, speed=args.speed, steps=args.steps)


def _add_record(p):
    p.add_argument("--port", action="append", metavar="PORT",
                   help="serial port of a pod (twice for left and right); default: the one connected pod")
    p.add_argument("-o", "--output", required=True, metavar="SESSION", help="session file to write")
    p.add_argument("--baud", type=int, default=115200)
    p.add_argument("--seconds", type=float, help="stop after this long")
    p.add_argument("--keep-going", action="store_true", help="do not stop when the set ends")
    p.add_argument("--no-start", action="store_true", help="do not send `start` to the pod")
    p.add_argument("--raw", action="store_true", help="also record every raw sample (`calfwalk extract-raw` makes raw v1 files)")
    p.add_argument("--reconnect", type=float, default=10.0, metavar="S",
                   help="wait this long for a lost port to come back (default 10)")


def _add_summary(p):
    p.add_argument("session", metavar="SESSION")
    p.add_argument("--json", action="store_true")


def _add_flash(p):
    from . import flash

    flash.add_arguments(p)


def cmd_flash(args) -> int:
    from . import flash

    return flash.run(args)


def _add_extract_raw(p):
    p.add_argument("session", metavar="SESSION")
    p.add_argument("-o", "--output", required=True, metavar="PREFIX", help="writes PREFIX_left.csv / PREFIX_right.csv")


def _add_port(p):
    p.add_argument("--port", metavar="PORT", help="the pod's serial port; default: the one connected pod")
    p.add_argument("--baud", type=int, default=115200)


def _add_config(p):
    p.add_argument("action", choices=("get", "set"), help="get [KEY...] shows values and ranges; set KEY VALUE stores one")
    p.add_argument("keys", nargs="*", metavar="KEY [VALUE]")
    _add_port(p)


def _add_calibrate(p):
    _add_port(p)
    p.add_argument("--yes", action="store_true", help="do not wait for Enter between the steps")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for each step")


def _add_nothing(p):
    pass


def _add_podsim(p):
    p.add_argument("raw", metavar="RAW", help="raw v1 file the simulated pod replays")
    p.add_argument("--speed", type=int, default=1, help="replay speed (1 = real time)")


def _add_demo(p):
    p.add_argument("--out", default="build/demo", help="folder for the demo's files")
    p.add_argument("--speed", type=int, default=6, help="replay speed of the simulated pods")
    p.add_argument("--steps", type=int, default=30)


def _add_analyze(p):
    p.add_argument("files", nargs="+", metavar="FILE", help="raw v1 recording(s): one per foot")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument("--param", action="append", metavar="NAME=VALUE", help="override a detector parameter")


def cmd_accuracy(args) -> int:
    from . import accuracy, datasets

    try:
        return accuracy.run(args)
    except datasets.DatasetError as exc:
        raise CliError(str(exc)) from None


def _add_accuracy(p):
    from .datasets import LOADERS

    p.add_argument("--data", metavar="DIR", help="folder of the public recordings (default: ../shared/data)")
    p.add_argument("--dataset", action="append", choices=sorted(LOADERS), help="only this dataset (repeatable)")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    p.add_argument("-v", "--verbose", action="store_true", help="list the feet that miss")


def _add_simulate(p):
    from . import simulate

    simulate.add_arguments(p)


COMMANDS = {
    # name: (help, add_arguments, handler)
    "analyze": ("summarise raw recording(s) against the guide", _add_analyze, cmd_analyze),
    "simulate": ("write a simulated set (raw files + ground truth)", _add_simulate, cmd_simulate),
    "record": ("record a set from pod(s) to a session file", _add_record, cmd_record),
    "live": ("record with a live view of the set", _add_record, cmd_live),
    "summary": ("summarise a recorded session against the guide", _add_summary, cmd_summary),
    "flash": ("build the firmware, copy it and a board config to a pod, reset it, check it answers",
              _add_flash, cmd_flash),
    "config": ("show or change a pod's detector parameters (stored on the pod)", _add_config, cmd_config),
    "calibrate": ("guided calibration of a pod: pads, standing flat, on the toes", _add_calibrate, cmd_calibrate),
    "extract-raw": ("rebuild raw v1 files from a session recorded with --raw", _add_extract_raw, cmd_extract_raw),
    "ports": ("list serial ports, marking likely MicroPython boards", _add_nothing, cmd_ports),
    "podsim": ("run the firmware on the MicroPython unix port behind a pty", _add_podsim, cmd_podsim),
    "demo": ("simulate a set, stream it from emulated pods, record and summarise it", _add_demo, cmd_demo),
    "accuracy": ("measure the detector on the public gait recordings and a simulated suite",
                 _add_accuracy, cmd_accuracy),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="calfwalk", description="Shoe pod for the Dumbbell Walking Calf Raise.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (help_text, add, _handler) in COMMANDS.items():
        add(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    if argv is None:
        argv = sys.argv[1:]
    args = parser.parse_args(argv)
    from .rawfile import RawFormatError
    from .session import SessionError

    try:
        return COMMANDS[args.command][2](args) or 0
    except (CliError, RawFormatError, SessionError, FileNotFoundError) as exc:
        print(f"calfwalk {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"calfwalk {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `calfwalk analyze ... | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
