"""``synthwatch golden``: build and list golden-batch envelopes from stored good runs.

    synthwatch golden build RECIPE RUN [RUN ...] [--align time|conversion] [--bin-width S]
    synthwatch golden list

``build`` reads the runs from the embedded store, writes ``<alerts.golden_dir>/<RECIPE>.json``
and prints, per quantity, how many bins the envelope covers. A later run whose RunStart carries
``tags["recipe"] = RECIPE`` is scored against it live (z-scores, T2, the ``envelope_*`` rules).
"""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.table import Table

from synthwatch.contract.config import Config
from synthwatch.stream.cli.common import load, stdout

NAME = "golden"
HELP = "golden-batch envelopes from stored good runs: build, list"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    gsub = parser.add_subparsers(dest="golden_command", required=True, metavar="{build,list}")
    build = gsub.add_parser("build", help="build RECIPE's envelope from stored good runs")
    build.add_argument("recipe", metavar="RECIPE", help="recipe name, e.g. Au-citrate-15nm")
    build.add_argument("runs", metavar="RUN", nargs="+", help="run ids of good runs (>= 2)")
    build.add_argument(
        "--align", choices=("time", "conversion"), default="time", help="align by (default time)"
    )
    build.add_argument(
        "--bin-width",
        type=float,
        default=None,
        help="bin width: seconds (default 60) or conversion (default 0.02)",
    )
    gsub.add_parser("list", help="the envelopes in alerts.golden_dir")


def run(args: argparse.Namespace) -> int:
    from synthwatch.stream.store.embedded import Store
    from synthwatch.stream.store.golden_files import envelope_from_store, save_envelope

    cfg, console = load(args), stdout()
    if args.golden_command == "list":
        return _list(cfg, console)
    width = args.bin_width or (60.0 if args.align == "time" else 0.02)
    with Store(cfg.store.path, readonly=True) as store:
        env = envelope_from_store(store, args.recipe, list(args.runs), args.align, width)
    path = save_envelope(env, cfg.alerts.golden_dir)
    table = Table(title=f"golden batch {env.recipe}: {len(env.run_ids)} runs, by {env.align}")
    table.add_column("quantity")
    table.add_column("bins covered", justify="right")
    for i, q in enumerate(env.quantities):
        table.add_row(q, str(int((env.runs_per_bin[i] >= 2).sum())))
    console.print(table)
    console.print(f"written: {path}")
    return 0


def _list(cfg: Config, console: Console) -> int:
    table = Table(title=f"golden batches in {cfg.alerts.golden_dir}")
    for col in ("recipe", "aligned by", "runs", "quantities"):
        table.add_column(col)
    for path in sorted(cfg.alerts.golden_dir.glob("*.json")):
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
            table.add_row(
                d["recipe"], d["align"], str(len(d["run_ids"])), str(len(d["quantities"]))
            )
        except (OSError, ValueError, KeyError, TypeError):
            table.add_row(path.stem, "unreadable", "", "")
    console.print(table)
    return 0
