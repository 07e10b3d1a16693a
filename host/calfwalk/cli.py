"""The `calfwalk` command: one handler per subcommand, heavy imports inside each."""

from __future__ import annotations

import argparse
import sys

from calfwalk.errors import CalfwalkError


class CliError(CalfwalkError):
    """An error to show the user as one line, exit code 2."""


def _load_recordings(paths):
    """The raw files as streams (rawfile.open_raw): their metadata and header checked now, their
    samples read a block at a time as they are analysed (a format error is raised then)."""
    from calfwalk.files.rawfile import open_raw

    if len(paths) > 2:
        raise CliError(f"give one or two raw files (left and right), not {len(paths)}")

    recs = [open_raw(p) for p in paths]
    feet = [r.foot for r in recs]
    if len(set(feet)) != len(feet):
        raise CliError(f"two files for the same foot ({feet[0]}): give one left and one right file")
    return recs


def _warn_raw(recs):
    """What reading repaired or dropped (a torn last line, implausible samples): one line each, on
    stderr (a stream's once it has been read)."""
    for r in recs:
        for w in r.warnings:
            print(f"calfwalk: warning: {w}", file=sys.stderr)


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


def _progress(recs, what):
    """A progress bar on stderr for long work on raw recordings (streams count bytes, recordings
    in memory samples)."""
    from calfwalk.analysis.pipeline import work
    from calfwalk.output.present import PROGRESS_MIN_BYTES, PROGRESS_MIN_SAMPLES, progress

    streamed = any(not hasattr(r, "data") for r in recs)
    return progress(work(recs), what, PROGRESS_MIN_BYTES if streamed else PROGRESS_MIN_SAMPLES)


def _analyze(recs, params=None) -> dict:
    """The pipeline's summary of raw recordings (a progress bar on stderr for a long one); a bad
    --param is the user's error."""
    from calfwalk.analysis.pipeline import analyze_recordings

    try:
        with _progress(recs, "replaying the detector") as step:
            return analyze_recordings(recs, params, progress=step)
    except ValueError as exc:  # bad --param (a RawFormatError, also a ValueError, is the file's)
        if isinstance(exc, CalfwalkError):
            raise
        raise CliError(str(exc)) from None


def cmd_analyze(args) -> int:
    from calfwalk.output.present import print_json, print_summary

    recs = _load_recordings(args.files)
    params = _parse_params(args.param)
    summary = _analyze(recs, params)
    _warn_raw(recs)
    if args.json:
        print_json(summary)
    else:
        print_summary(summary)
    _store_history(args, summary, args.files, "raw", _raw_recorded_utc(recs))
    return 0


def _raw_recorded_utc(recs):
    """A raw recording's own date if its metadata has one (else the history uses the file's time)."""
    from calfwalk.output.history import raw_recorded_utc

    return raw_recorded_utc(recs)


def _store_history(args, summary, paths, kind, recorded_utc=None, source=None):
    """Store the summary's sets in the history (unless --no-history) and say so in one line."""
    if getattr(args, "no_history", False):
        return
    from calfwalk.output.history import HistoryError, resolve_db_path, store_message, store_summary

    db = resolve_db_path(getattr(args, "db", None))
    try:
        outcome = store_summary(db, summary, [str(p) for p in paths], kind, recorded_utc)
    except HistoryError as exc:
        raise CliError(f"set not stored in the history: {exc}") from None
    print(store_message(outcome, source), file=sys.stderr if getattr(args, "json", False) else sys.stdout)


def cmd_simulate(args) -> int:
    """`calfwalk simulate`: write the files, print their paths and a summary."""
    import json

    from calfwalk.sim.simulate import DEFAULT_REST_S, SimConfig, write_simulation

    cfg = SimConfig(
        steps=args.steps, cadence_spm=args.cadence, pause_ms=args.pause_ms, stride_cm=args.stride_cm,
        heel_mm=args.heel_mm, fatigue_pct=args.fatigue_pct, bounce=args.bounce, noise=args.noise,
        mount=args.mount, asym_pct=args.asym_pct, sensor=args.sensor, feet=args.feet, rate_hz=args.rate,
        seed=args.seed, heel_touches=list(args.heel_touch or []), long_strides=list(args.long_stride or []),
        heel_sinks=list(getattr(args, "heel_sink", None) or []),
    )
    for name in ("swing_ms", "swing_turn_deg", "lift_cm", "sway_deg", "bounce_deg", "bounce_hz", "stand_ms", "rise_ms",
                 "mount_pos", "jitter_ms", "gaps_per_min", "acc_bias_mg", "gyro_bias_dps", "gyro_range_dps"):
        value = getattr(args, name, None)
        if value is not None:
            setattr(cfg, name, value)
    sets = getattr(args, "sets", 1)
    try:
        paths = write_simulation(cfg, args.out, sets, getattr(args, "rest_s", DEFAULT_REST_S))
    except ValueError as exc:   # cross-option problems (e.g. touch step > steps) read like argparse errors
        raise CliError(str(exc)) from None
    for path in paths:
        print(path)
    with open(paths[-1], encoding="utf-8") as fh:
        feet = json.load(fh)["feet"]
    per_foot = ", ".join(f"{foot} {len(feet[foot]['steps'])}" for foot in ("right", "left"))
    contacts = ", ".join(f"{foot} {len(feet[foot]['heel_contacts'])}" for foot in ("right", "left"))
    what = f"{cfg.steps} steps" if sets == 1 else f"{sets} sets of {cfg.steps} steps, {args.rest_s:g} s rest between"
    print(f"simulated {what} (steps per foot: {per_foot}; heel contacts: {contacts}) "
          f"at {cfg.cadence_spm:g} spm, sensor={cfg.sensor}, seed={cfg.seed}")
    return 0


def _opener(baud):
    from calfwalk.link.transport import open_transport

    return lambda port: open_transport(port, baud)


def _record(args, live):
    from calfwalk.link.recorder import Recorder
    from calfwalk.link.ports import resolve_ports
    from calfwalk.link.transport import LinkLost
    from calfwalk.output.present import EventPrinter

    ports = resolve_ports(args.port)
    view = None
    printer = EventPrinter() if not live else None
    if live:
        from calfwalk.output.live import LiveView

        view = LiveView()
    try:
        rec = Recorder(ports, args.output, _opener(args.baud), reconnect_s=args.reconnect,
                       on_line=(view.on_line if view else printer.on_line),
                       on_note=(view.on_note if view else printer.on_note))
    except OSError as exc:  # a folder, a read-only mount, no space: before anything is recorded
        raise CliError(f"cannot write the session to {args.output}: {exc.strerror or exc}") from None
    try:
        if view:
            with view:
                rec.run(seconds=args.seconds, start=not args.no_start, stop_at_end=not args.keep_going, raw=args.raw,
                        sets=args.sets)
        else:
            rec.run(seconds=args.seconds, start=not args.no_start, stop_at_end=not args.keep_going, raw=args.raw,
                    sets=args.sets)
    except LinkLost as exc:
        raise CliError(str(exc)) from None
    print(f"session saved to {args.output}", file=sys.stderr)
    code = _print_session(args.output, as_json=False, args=args)
    # a pod whose link went and did not come back before its set ended: the recording is cut short
    lost = [p for p in rec.pods if p.lost and not p.done]
    for p in lost:
        print(f"calfwalk {'live' if live else 'record'}: the pod on {p.port} was lost and did not come back; "
              f"everything it sent until then is in {args.output}", file=sys.stderr)
    return 1 if lost else code


def _print_session(path, as_json, args=None):
    from calfwalk.analysis.pipeline import summarise_session
    from calfwalk.files.session import read_session
    from calfwalk.output.present import print_link, print_summary, to_json

    session = read_session(path)
    summary = summarise_session(session)
    if as_json:
        print(to_json(summary))
    else:
        print_summary(summary)
        print_link(summary)
    if args is not None:
        _store_history(args, summary, [path], "session", session.meta.get("started_utc"))
    return 0


def cmd_record(args) -> int:
    return _record(args, live=False)


def cmd_live(args) -> int:
    return _record(args, live=True)


def cmd_summary(args) -> int:
    return _print_session(args.session, args.json, args=args)


def _from_history(args, read):
    """(path, read(h)) with the history h opened for reading; (path, None) when there is none yet."""
    from calfwalk.output.history import History, resolve_db_path

    path = resolve_db_path(args.db)
    h = History.open(path, write=False)
    if h is None:
        return path, None
    with h:
        return path, read(h)


def _empty_history(path, exists: bool) -> int:
    where = f"the history at {path} is empty" if exists else f"no history yet at {path}"
    print(f"{where}: sets are stored by `calfwalk analyze`, `summary` and `record`, "
          "or `calfwalk history import FILE...`")
    return 0


def cmd_history(args) -> int:
    if args.action == "import":
        return _history_import(args)
    from calfwalk.output.history import print_history

    path, got = _from_history(args, lambda h: (h.count(), h.sets(limit=args.limit or None)))
    if not got or not got[0]:
        return _empty_history(path, got is not None)
    total, rows = got
    print_history(rows, total, path)
    return 0


def _history_import(args) -> int:
    """Store old recordings; name every file that could not be, and exit 2 if there was one. Raw
    files are streamed through the pipeline as `analyze` streams them (history.import_sets)."""
    from calfwalk.output.history import import_plan, import_sets

    sources, bad = import_plan(args.files)
    for line in bad:
        print(f"history: skipped: {line}", file=sys.stderr)
    failed = total = len(bad)
    for kind, paths in sources:
        total += len(paths)
        sets, errors, warnings = import_sets(kind, paths, analyse=_analyze)
        for line in errors:
            failed += 1
            print(f"history: skipped: {line}", file=sys.stderr)
        for line in warnings:
            print(f"calfwalk: warning: {line}", file=sys.stderr)
        for summary, where, k, recorded, source in sets:
            _store_history(args, summary, where, k, recorded, source=source)
    if failed:
        raise CliError(f"{failed} of {total} file(s) not imported (named above); the others are stored")
    return 0


def cmd_trends(args) -> int:
    from calfwalk.output.history import print_trends, trend_series, write_trends_png
    from calfwalk.output.present import to_json

    path, rows = _from_history(args, lambda h: h.sets(limit=args.limit or None))
    if not rows:
        return _empty_history(path, rows is not None)
    series = trend_series(rows)
    if args.json:
        print(to_json(series))
    else:
        print_trends(series, path)
    if args.png:
        try:
            write_trends_png(series, args.png)
        except OSError as exc:
            raise CliError(f"{args.png}: cannot write: {exc.strerror or exc}") from None
        print(f"trends chart written to {args.png}", file=sys.stderr if args.json else sys.stdout)
    return 0


def cmd_export(args) -> int:
    from calfwalk.output.history import export_csv, export_json

    def export(h):
        try:
            if args.csv:
                sets_path, steps_path, (n_sets, n_steps) = export_csv(h, args.csv)
                print(f"exported {n_sets} sets to {sets_path} and {n_steps} steps to {steps_path}")
            elif args.json == "-":
                export_json(h, sys.stdout)
            else:
                with open(args.json, "w", encoding="utf-8", newline="\n") as fh:
                    n_sets, n_steps = export_json(h, fh)
                print(f"exported {n_sets} sets and {n_steps} steps to {args.json}")
        except OSError as exc:
            raise CliError(f"{exc.filename or args.csv or args.json}: cannot write: {exc.strerror or exc}") from None
        return 0

    path, done = _from_history(args, export)
    return _empty_history(path, False) if done is None else 0


def _open_pod(args):
    from calfwalk.link.podctl import PodClient
    from calfwalk.link.ports import resolve_ports
    from calfwalk.link.transport import LinkLost, open_transport

    port = resolve_ports([args.port] if args.port else None)[0]
    try:
        client = PodClient(open_transport(port, args.baud))
    except LinkLost as exc:
        raise CliError(str(exc)) from None
    return port, client


def cmd_config(args) -> int:
    from calfwalk.link.podctl import PodError

    port, pod = _open_pod(args)
    try:
        if args.action == "get":
            for key in args.keys or _param_names():
                print(",".join(pod.ok(f"get {key}")))
        elif args.action == "set":
            keys = args.keys
            if len(keys) == 1 and "=" in keys[0]:
                keys = keys[0].split("=", 1)  # KEY=VALUE, e.g. cue_buzzer=0
            if len(keys) != 2 or not keys[0] or not keys[1]:
                raise CliError("config set takes KEY VALUE or KEY=VALUE (e.g. config set cue_buzzer=0)")
            print(",".join(pod.ok(f"set {keys[0]} {keys[1]}")))
            print(",".join(pod.ok("save")))
    except PodError as exc:
        raise CliError(str(exc)) from None
    finally:
        pod.t.close()
    return 0


def _param_names():
    from calfwalk import firmware

    names = [p[0] for p in firmware.load("detector").params() if p[0] != "rate_hz"]
    return names + [s[0] for s in firmware.load("cues").SETTINGS]


def cmd_calibrate(args) -> int:
    """Guided calibration: pads unloaded (FSR), stand flat, rise onto the toes, store."""
    from calfwalk.link.podctl import PodError

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
    from calfwalk.files.session import read_session, write_raw_files

    for path in write_raw_files(read_session(args.session), args.output):
        print(path)
    return 0


def cmd_ports(args) -> int:
    from calfwalk.link.ports import list_ports

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
    import signal
    import time

    from calfwalk.sim.podsim import PodProcess
    from calfwalk.files.rawfile import read_raw

    rec = read_raw(args.raw)  # a missing, empty or malformed file: its error, before any pod starts
    _warn_raw([rec])

    def stop(signum, _frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, stop)  # `kill PID`: end the pod and remove its folder, as Ctrl-C does
    try:
        with PodProcess(args.raw, speed=args.speed, flash=args.flash, unplugged=args.unplugged) as pod:
            print(pod.port, flush=True)
            print(f"firmware running on the MicroPython unix port; open {pod.port} (Ctrl-C to stop)", file=sys.stderr)
            try:
                if args.unplugged:
                    print("the pod walks its recording with no PC listening (it logs to its flash, "
                          f"{pod.flash}) ...", file=sys.stderr, flush=True)
                    pod.plug(until_replayed=True, timeout=24 * 3600)
                    print(f"recording walked; the pod is plugged in: calfwalk pull --port {pod.port}", file=sys.stderr,
                          flush=True)
                while pod.alive():
                    time.sleep(0.2)
            except KeyboardInterrupt:
                return 0
            code = pod.proc.returncode
    finally:
        signal.signal(signal.SIGTERM, old)
    raise CliError(f"the pod stopped by itself (exit code {code}); its messages went to {pod.port}")


def cmd_pull(args) -> int:
    """Copy the sets a pod logged into the history; mark them on the pod once stored."""
    from rich.console import Console
    from rich.progress import Progress

    from calfwalk.output.history import HistoryError, resolve_db_path
    from calfwalk.link.transport import LinkLost
    from calfwalk.link.podctl import PodError
    from calfwalk.device.podlog import pull_sets

    db = resolve_db_path(args.db)
    port, pod = _open_pod(args)
    bar = Progress(console=Console(stderr=True), transient=True)

    def progress(total):
        task = bar.add_task(f"pulling from {port}", total=total)
        return lambda: bar.advance(task)

    try:
        with bar:
            result = pull_sets(pod, port, db, keep=args.keep, progress=progress)
    except LinkLost as exc:
        raise CliError(f"the pod went away during the pull ({exc}): every set stored so far is in the history "
                       "and marked on the pod; run `calfwalk pull` again to get the rest") from None
    except PodError as exc:
        raise CliError(f"{exc}; nothing was marked that is not stored: run `calfwalk pull` again") from None
    except HistoryError as exc:
        raise CliError(f"not stored in the history, nothing marked on the pod: {exc}") from None
    finally:
        pod.t.close()
    for pod_set, message in result.stored:
        print(message)
    for set_id, why in result.failed:
        print(f"calfwalk pull: set {set_id} not stored, left on the pod: {why}", file=sys.stderr)
    if result.under_way:
        print(f"set {', '.join(map(str, result.under_way))} is still under way on the pod: pull again when it ends")
    totals = result.listing.totals if result.listing else {}
    n = len(result.stored)
    print(f"pulled {n} set{'s' * (n != 1)} from {port}" + (" (kept on the pod: --keep)" if args.keep else
          f", {result.marked} marked as pulled on the pod") +
          (f"; the pod's log: {totals.get('bytes', 0) / 1024:.1f} KB used, {max(0, totals.get('free', 0)) / 1024:.0f} KB free"
           if totals else ""))
    if not result.stored and not result.failed and not result.under_way:
        print("nothing new on the pod")
    for outcome in result.pairing:  # left and right pulled separately: what paired with what, and how sure
        print(outcome.text)
    if result.pairing_error:
        print(f"calfwalk pull: {result.pairing_error}", file=sys.stderr)
    return 1 if result.failed or result.pairing_error or any(o.action == "failed" for o in result.pairing) else 0


def cmd_pod(args) -> int:
    """`calfwalk pod log`: what the pod's log holds."""
    from calfwalk.link.transport import LinkLost
    from calfwalk.link.podctl import PodError
    from calfwalk.device.podlog import PullError, log_listing, print_listing

    port, pod = _open_pod(args)
    try:
        listing, clock = log_listing(pod)
    except (PodError, PullError, LinkLost) as exc:
        raise CliError(str(exc)) from None
    finally:
        pod.t.close()
    print_listing(listing, clock, port)
    return 0


def cmd_demo(args) -> int:
    from calfwalk.demo import run_demo

    return run_demo(args.out, speed=args.speed, steps=args.steps)


def cmd_report(args) -> int:
    """The HTML report (and --png) of a session file or one or two raw files."""
    import os

    from calfwalk.files.kinds import file_kind
    from calfwalk.files.rawfile import RawFormatError
    from calfwalk.files.session import SessionError, read_session
    from calfwalk.output import report

    paths = args.files
    kinds = []
    for p in paths:
        try:
            kinds.append(file_kind(p) == "session")
        except FileNotFoundError:
            raise CliError(f"{p}: no such file") from None
        except OSError as exc:
            raise CliError(f"{p}: cannot read: {exc.strerror or exc}") from None
    params = _parse_params(args.param)
    try:
        if any(kinds):
            if len(paths) != 1:
                raise CliError("give one session file, or one or two raw files (left and right)")
            data = report.from_session(read_session(paths[0]), params)
        else:
            recs = _load_recordings(paths)
            with _progress(recs, "replaying the detector") as step:
                data = report.from_raw(recs, params, step)
            _warn_raw(recs)
    except (SessionError, RawFormatError):
        raise
    except ValueError as exc:  # a bad --param
        raise CliError(str(exc)) from None
    out = args.out or report.default_output(paths[0])
    for target in filter(None, (out, args.png)):
        try:  # before drawing: a bad -o/--png fails at once
            os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
        except OSError as exc:
            raise CliError(f"cannot write the report to {target}: {exc.strerror or exc}") from None
    try:
        report.write_report(data, out, args.png)
    except OSError as exc:
        raise CliError(f"cannot write the report: {exc.strerror or exc}: {exc.filename or out}") from None
    print(f"report written to {out}" + (f" and {args.png}" if args.png else ""))
    print(report.headline(data.summary))
    return 0


def _add_report(p):
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="a session file, or raw v1 recording(s): one per foot")
    p.add_argument("-o", "--out", metavar="HTML", help="the page to write (default: INPUT_report.html beside the input)")
    p.add_argument("--png", metavar="PATH", help="also write one PNG with the rule verdicts and the plots, for sharing")
    p.add_argument("--param", action="append", metavar="NAME=VALUE",
                   help="override a detector parameter where the detector runs here (raw files; a session's heel trace)")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _add_record(p):
    p.add_argument("--port", action="append", metavar="PORT",
                   help="serial port of a pod (twice for left and right); default: the one connected pod")
    p.add_argument("-o", "--output", required=True, metavar="SESSION", help="session file to write")
    p.add_argument("--baud", type=int, default=115200)
    p.add_argument("--seconds", type=float, help="stop after this long")
    p.add_argument("--sets", type=_positive_int, default=1, metavar="N",
                   help="stop when N sets have ended (the pods find each set themselves; default 1)")
    p.add_argument("--keep-going", action="store_true",
                   help="do not stop when a set ends: record any number of sets until --seconds or Ctrl-C")
    p.add_argument("--no-start", action="store_true",
                   help="do not send `start` (not needed: a pod samples from power-up and finds each set itself)")
    p.add_argument("--raw", action="store_true", help="also record every raw sample (`calfwalk extract-raw` makes raw v1 files)")
    p.add_argument("--reconnect", type=float, default=10.0, metavar="S",
                   help="wait this long for a lost port to come back (default 10)")
    _add_history_store(p)


def _add_db(p):
    p.add_argument("--db", metavar="PATH",
                   help="history file (default: $CALFWALK_DB, else calfwalk/history.sqlite3 in the user data folder)")


def _add_history_store(p):
    p.add_argument("--no-history", action="store_true", help="do not store the set in the history")
    _add_db(p)


def _add_history(p):
    p.add_argument("--limit", type=int, default=20, metavar="N", help="show the last N sets (default 20, 0 = all)")
    _add_db(p)
    sub = p.add_subparsers(dest="action", metavar="[import]")
    imp = sub.add_parser("import", help="store old recordings", description="store old recordings in the history")
    imp.add_argument("files", nargs="+", metavar="FILE",
                     help="session file(s), or raw file(s) (PREFIX_left.csv and PREFIX_right.csv make one set)")
    # SUPPRESS: a --db given before `import` is not reset by this one's default
    imp.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS, help="history file")


def _add_trends(p):
    p.add_argument("--png", metavar="FILE", help="also write a chart with one panel per metric")
    p.add_argument("--json", action="store_true", help="print the series as JSON")
    p.add_argument("--limit", type=int, default=0, metavar="N", help="only the last N sets (default all)")
    _add_db(p)


def _add_export(p):
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--csv", metavar="DIR_or_FILE", help="write DIR/sets.csv and DIR/steps.csv (or X.csv and X_steps.csv)")
    g.add_argument("--json", metavar="FILE", help="write sets (with their full summaries) and steps as JSON (- for stdout)")
    _add_db(p)


def _add_summary(p):
    p.add_argument("session", metavar="SESSION")
    p.add_argument("--json", action="store_true")
    _add_history_store(p)


def _add_flash(p):
    from calfwalk.device import flash

    flash.add_arguments(p)


def cmd_flash(args) -> int:
    from calfwalk.device import flash

    if not args.board:
        flash.board_file("")  # FlashError listing the known boards
    result = flash.flash(args.board, args.port, reset=args.reset, force=args.force, keep_params=not args.drop_params,
                         timeout=args.timeout, build_dir=args.build_dir)
    print(f"flashed {result['board']} on {result['port']} with calfwalk firmware {result['version']} "
          f"in {result['seconds']['total']:.1f} s")
    return 0


def _add_extract_raw(p):
    p.add_argument("session", metavar="SESSION")
    p.add_argument("-o", "--output", required=True, metavar="PREFIX", help="writes PREFIX_left.csv / PREFIX_right.csv")


def _add_port(p):
    p.add_argument("--port", metavar="PORT", help="the pod's serial port; default: the one connected pod")
    p.add_argument("--baud", type=int, default=115200)


def _add_config(p):
    p.add_argument("action", choices=("get", "set"),
                   help="get [KEY...] shows values and ranges; set KEY VALUE (or KEY=VALUE) stores one")
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
    p.add_argument("--flash", metavar="DIR",
                   help="the pod's flash (its log goes to DIR/log and stays there: the same DIR later is the same pod "
                        "rebooted); default: a temporary folder")
    p.add_argument("--unplugged", action="store_true",
                   help="walk the recording with no PC listening (as on a battery), then plug the pod in")


def _add_pull(p):
    _add_port(p)
    p.add_argument("--keep", action="store_true", help="leave the sets marked as not pulled on the pod")
    _add_db(p)


def _add_pod(p):
    p.add_argument("action", choices=("log",), help="log: list the sets (and boots) in the pod's log")
    _add_port(p)


def _add_demo(p):
    p.add_argument("--out", default="build/demo", help="folder for the demo's files")
    p.add_argument("--speed", type=int, default=6, help="replay speed of the simulated pods")
    p.add_argument("--steps", type=int, default=30)


def _add_analyze(p):
    p.add_argument("files", nargs="+", metavar="FILE", help="raw v1 recording(s): one per foot")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument("--param", action="append", metavar="NAME=VALUE", help="override a detector parameter")
    _add_history_store(p)


def cmd_accuracy(args) -> int:
    from calfwalk.eval import accuracy, datasets

    try:
        accuracy.run(args.data, args.dataset, _parse_params(args.param), with_acc=not args.no_acc,
                      verbose=args.verbose, sweep=args.sweep, sweep_sensors=args.sweep_sensor, json_path=args.json)
    except datasets.DatasetError as exc:
        raise CliError(str(exc)) from None
    return 0


def _add_accuracy(p):
    from calfwalk.eval.datasets import LOADERS

    p.add_argument("--data", metavar="DIR", help="folder of the public recordings (default: ../shared/data)")
    p.add_argument("--dataset", action="append", choices=sorted(LOADERS), help="only this dataset (repeatable)")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    p.add_argument("-v", "--verbose", action="store_true", help="list the feet that miss")
    p.add_argument("--param", action="append", metavar="NAME=VALUE", help="override a detector parameter")
    p.add_argument("--sweep", type=int, default=200, metavar="N",
                   help="also run the randomised robustness sweep over N simulated sets (0: skip; default %(default)s)")
    p.add_argument("--sweep-sensor", action="append", choices=("imu", "acc"),
                   help="run the sweep as these pods (repeatable; default: imu and acc)")
    p.add_argument("--no-acc", action="store_true",
                   help="skip the accelerometer-only rows (the IMU recordings with the gyro columns dropped)")


def cmd_robustness(args) -> int:
    import json
    import os
    from pathlib import Path

    from rich.console import Console
    from rich.progress import Progress

    from calfwalk.eval import robustness

    params = _parse_params(args.param)
    console = Console(width=max(Console().width, 160))
    workers = args.workers or min(2, os.cpu_count() or 1)
    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(f"{args.sets} simulated sets", total=args.sets)
        seed = robustness.BASE_SEED if args.seed is None else args.seed
        draws, results = robustness.sweep(args.sets, seed, params, workers,
                                          lambda done, total: bar.update(task, completed=done), sensor=args.sensor)
    tot = robustness.print_report(console, draws, results)
    if args.verbose:
        for k, fault, foot, what in robustness.failures(draws, results, limit=200):
            console.print(f"  set {k} ({fault}) {foot}: {what}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"sets": args.sets, "seed": seed, "sensor": args.sensor, "totals": tot},
                                              indent=2))
    return 0


def _add_robustness(p):
    p.add_argument("--sets", type=_positive_int, default=200, help="simulated sets (default %(default)s)")
    p.add_argument("--seed", type=int, default=None, help="set k is drawn from seed + k (default 1000)")
    p.add_argument("--workers", type=_positive_int, default=0, help="processes (default: up to 2)")
    p.add_argument("--sensor", choices=("imu", "acc", "fsr", "imu+fsr", "acc+fsr"), default="imu",
                   help="the pods' sensor: imu; acc (the same sets as an accelerometer alone, gyro columns "
                        "dropped); fsr, imu+fsr, acc+fsr (with pads under the insole) (default %(default)s)")
    p.add_argument("--json", metavar="FILE", help="also write the totals as JSON")
    p.add_argument("--param", action="append", metavar="NAME=VALUE", help="override a detector parameter")
    p.add_argument("-v", "--verbose", action="store_true", help="list the sets that miss")


def _add_simulate(p):
    from calfwalk.sim import simulate

    simulate.add_arguments(p)


COMMANDS = {
    # name: (help, add_arguments, handler)
    "analyze": ("summarise raw recording(s) against the guide", _add_analyze, cmd_analyze),
    "simulate": ("write a simulated set (raw files + ground truth)", _add_simulate, cmd_simulate),
    "record": ("record a set from pod(s) to a session file", _add_record, cmd_record),
    "live": ("record with a live view of the set", _add_record, cmd_live),
    "summary": ("summarise a recorded session against the guide", _add_summary, cmd_summary),
    "report": ("one self-contained HTML page (and --png) reviewing a set against the guide", _add_report, cmd_report),
    "flash": ("build the firmware, copy it and a board config to a pod, reset it, check it answers",
              _add_flash, cmd_flash),
    "config": ("show or change a pod's detector parameters and cue settings (stored on the pod)", _add_config,
               cmd_config),
    "calibrate": ("guided calibration of a pod: pads, standing flat, on the toes", _add_calibrate, cmd_calibrate),
    "extract-raw": ("rebuild raw v1 files from a session recorded with --raw", _add_extract_raw, cmd_extract_raw),
    "ports": ("list serial ports, marking likely MicroPython boards", _add_nothing, cmd_ports),
    "podsim": ("run the firmware on the MicroPython unix port behind a pty", _add_podsim, cmd_podsim),
    "pull": ("copy the sets a pod logged on its own (no PC attached) into the history", _add_pull, cmd_pull),
    "pod": ("`pod log`: list the sets a pod holds in its log", _add_pod, cmd_pod),
    "demo": ("simulate a set, stream it from emulated pods, record and summarise it", _add_demo, cmd_demo),
    "history": ("list the stored sets; `history import FILE...` stores old recordings", _add_history, cmd_history),
    "trends": ("steps, heel contacts, heel height, asymmetry and cadence over time (--png for a chart)",
               _add_trends, cmd_trends),
    "export": ("write the stored sets and their steps as CSV or JSON", _add_export, cmd_export),
    "accuracy": ("measure the detector on the public gait recordings and a simulated suite",
                 _add_accuracy, cmd_accuracy),
    "robustness": ("a randomised sweep of simulated sets across walkers, mountings and pods, scored per dimension",
                   _add_robustness, cmd_robustness),
}


def version_lines() -> list:
    """`calfwalk --version`: the package's version, and the firmware it carries (and where that comes from).

    Raises FirmwareError when the firmware is missing or damaged."""
    import calfwalk

    from calfwalk import firmware

    src = firmware.source()
    host, fw = calfwalk.__version__, firmware.version(src.firmware)
    lines = [f"calfwalk {host}", f"firmware {fw} ({src.origin}: {src.firmware})"]
    if fw != host:
        lines.append(f"note: the firmware's version differs from the package's ({host}): "
                     + ("the firmware comes from $CALFWALK_FIRMWARE" if src.origin.startswith("$")
                        else "reinstall the package (make install)"))
    return lines


class _VersionAction(argparse.Action):
    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from calfwalk.firmware import FirmwareError

        try:
            lines = version_lines()
        except FirmwareError as exc:
            import calfwalk

            print(f"calfwalk {calfwalk.__version__}")
            print(f"calfwalk: error: {exc}", file=sys.stderr)
            parser.exit(2)
        print("\n".join(lines))
        parser.exit(0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="calfwalk", description="Shoe pod for the Dumbbell Walking Calf Raise.")
    parser.add_argument("--version", action=_VersionAction,
                        help="show the version of calfwalk and of the firmware it carries, and exit")
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
    try:
        code = COMMANDS[args.command][2](args) or 0
        sys.stdout.flush()  # here, where a reader that went away is caught, not at the interpreter's exit
        return code
    except KeyboardInterrupt:
        print(f"calfwalk {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `calfwalk analyze ... | head`: the reader has gone, which is fine
        _quiet_stdout()
        return 0
    except Exception as exc:
        if not isinstance(exc, (CalfwalkError, FileNotFoundError)):
            raise
        print(f"calfwalk {args.command}: error: {exc}", file=sys.stderr)
        return 2


def _quiet_stdout():
    """Point stdout at /dev/null, so the interpreter's final flush into the closed pipe says nothing."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is no real file (a test's capture): nothing to flush into
        pass


if __name__ == "__main__":
    sys.exit(main())
