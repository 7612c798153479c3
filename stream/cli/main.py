"""The ``synthwatch`` command line: one table of commands, one place that reports errors.

Each command is a module of this package with ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``; :data:`COMMANDS` lists them, and :func:`main` builds the subparsers from it
and dispatches to the chosen one. A :class:`~synthwatch.contract.errors.SynthwatchError` from
anywhere ends in one line on stderr, ``synthwatch: <message>`` (or ``synthwatch <command>:
...`` when the message names its command), and the error's ``exit_code``: 2 for a mistake the
person can fix (an option, a run, a config value), 1 for a failure outside the command (a
broker or server that does not answer). Ctrl-C keeps what was stored and exits 130.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from types import ModuleType
from typing import Sequence

from pydantic import ValidationError

from synthwatch import __version__
from synthwatch.contract.errors import SynthwatchError, UsageError, one_line
from synthwatch.stream.cli import (
    collect,
    compare,
    dashboards,
    deadletters,
    demo,
    golden,
    replay,
    report,
    runs,
    show,
    work,
)
from synthwatch.stream.cli.args import Parser, parse_duration, parse_speed

__all__ = ["COMMANDS", "UsageError", "build_parser", "main", "parse_duration", "parse_speed"]

#: every command, in the order of ``synthwatch --help``
COMMANDS: tuple[ModuleType, ...] = (
    demo,
    runs,
    show,
    deadletters,
    report,
    compare,
    replay,
    golden,
    dashboards,
    collect,
    work,
)

USAGE = "synthwatch [-h] [--version] [--config FILE] [--store PATH] [-v] COMMAND ..."
START = (
    "Start with `synthwatch demo`: a simulated gold synthesis, its models, live.\n"
    "Then `synthwatch runs` and `synthwatch show latest` read what it stored."
)


def description() -> str:
    """The top of ``synthwatch --help``: where to start, then one line per command."""
    width = max(len(c.NAME) for c in COMMANDS) + 2
    lines = [f"  {c.NAME:<{width}}{c.HELP}" for c in COMMANDS]
    return "\n".join(
        [START, "", "commands:", *lines, "", "synthwatch COMMAND --help: its options."]
    )


def build_parser() -> argparse.ArgumentParser:
    """``synthwatch``'s parser, with one subparser per entry of :data:`COMMANDS`."""
    parser = Parser(
        prog="synthwatch",
        usage=USAGE,
        description=description(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"synthwatch {__version__}")
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="TOML config file (default: $SYNTHWATCH_CONFIG, ./synthwatch.toml)",
    )
    parser.add_argument(
        "--store", metavar="PATH", type=Path, help="embedded store file (overrides store.path)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the pipeline does")
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", help=argparse.SUPPRESS, prog="synthwatch"
    )
    for command in COMMANDS:
        child = sub.add_parser(
            command.NAME,
            help=command.HELP,
            description=getattr(command, "DESCRIPTION", command.HELP),
        )
        command.add_arguments(child)
    return parser


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # kafka-python logs every failed connection attempt; the command reports what matters
    logging.getLogger("kafka").setLevel(logging.INFO if verbose else logging.ERROR)


def _say(text: str) -> None:
    """One line on stderr, prefixed with the program's name."""
    line = text if text.startswith("synthwatch") else f"synthwatch: {text}"
    print(line, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``synthwatch`` with ``argv`` (default: the command line); the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        _logging(args.verbose)
        by_name = {c.NAME: c for c in COMMANDS}
        return by_name[args.command].run(args)
    except SynthwatchError as e:
        _say(one_line(e))
        return e.exit_code
    except ValidationError as e:  # a setting assigned after loading (pydantic checks it)
        first = e.errors(include_url=False)[0]
        where = ".".join(str(x) for x in first["loc"])
        _say(f"{where}: {first['msg']}" if where else first["msg"])
        return 2
    except KeyboardInterrupt as e:  # Ctrl-C; a replay's SIGTERM too (replay.Terminated)
        _say("interrupted: what was stored up to now is kept")
        return getattr(e, "exit_status", 130)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
