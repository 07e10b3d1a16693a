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


def _add_analyze(p):
    p.add_argument("files", nargs="+", metavar="FILE", help="raw v1 recording(s): one per foot")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument("--param", action="append", metavar="NAME=VALUE", help="override a detector parameter")


def _add_simulate(p):
    from . import simulate

    simulate.add_arguments(p)


COMMANDS = {
    # name: (help, add_arguments, handler)
    "analyze": ("summarise raw recording(s) against the guide", _add_analyze, cmd_analyze),
    "simulate": ("write a simulated set (raw files + ground truth)", _add_simulate, cmd_simulate),
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

    try:
        return COMMANDS[args.command][2](args) or 0
    except (CliError, RawFormatError) as exc:
        print(f"calfwalk {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"calfwalk {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
