"""``synthwatch deadletters RUN``: the dead letters of a run, with their reasons.

What a run refused instead of dropping it: the files of a folder replay that did not parse
(source: the file's name), and what the worker dead-lettered (source ``worker``: a late reading,
a message of a stopped run, the input of a model that raised...). One line each, oldest first:
the time it was stored (UTC), the source and the reason; then the count. ``RUN`` may be
``latest``; ``--limit N`` shows the last N.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from synthwatch.collectors.folder.tally import refusal
from synthwatch.contract.errors import UsageError
from synthwatch.stream.cli.common import load, resolve_run, stdout

NAME = "deadletters"
HELP = "what a run refused (files, records), with the reasons"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """RUN and ``--limit``."""
    parser.add_argument(
        "run_id", metavar="RUN", help="a run id from `synthwatch runs`, or 'latest'"
    )
    parser.add_argument("--limit", type=int, metavar="N", help="only the last N (default: all)")


def run(args: argparse.Namespace) -> int:
    """Print the run's dead letters and their count."""
    from synthwatch.stream.store.embedded import Store

    cfg = load(args)
    if args.limit is not None and args.limit < 1:
        raise UsageError(f"synthwatch deadletters: --limit: expected 1 or more, got {args.limit}")
    if not Path(cfg.store.path).exists():
        raise UsageError(
            f"synthwatch deadletters: no store at {cfg.store.path}; `--store PATH` names another"
        )
    console = stdout()
    with Store(cfg.store.path, readonly=True) as store:
        run_id = resolve_run(store, args.run_id)
        total = len(store.run_deadletters(run_id))
        letters = store.run_deadletters(run_id, limit=args.limit)
    for d in letters:
        when = d.time.strftime("%Y-%m-%d %H:%M:%S")
        console.print(f"{when}  {_what(d.source, d.reason)}", markup=False, highlight=False)
    shown = f" (the last {len(letters)} shown)" if len(letters) < total else ""
    noun = "dead letter" if total == 1 else "dead letters"
    console.print(f"{total} {noun} of run {run_id}{shown}", markup=False, highlight=False)
    return 0


def _what(source: str, reason: str) -> str:
    """``NAME:LINE: why`` for a refused file (its reason names it), else ``source: reason``."""
    item = refusal(source, reason)
    return str(item) if item.reason != " ".join(reason.split()) else f"{source}: {item.reason}"
