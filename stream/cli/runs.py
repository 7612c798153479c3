"""``synthwatch runs``: the runs in the embedded store, one row each."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.table import Table

from synthwatch.stream.cli.common import load, stdout
from synthwatch.stream.cli.live import fmt_elapsed

NAME = "runs"
HELP = "list the runs in the store"
COLUMNS = (
    "run",
    "system",
    "reactor",
    "started (UTC)",
    "duration",
    "status",
    "readings",
    "estimates",
    "alerts",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options of its own (``--store``, ``--config`` are synthwatch's)."""


def run(args: argparse.Namespace) -> int:
    from synthwatch.stream.store.embedded import Store

    cfg = load(args)
    console = stdout()
    if not Path(cfg.store.path).exists():
        console.print(
            f"no runs yet: there is no store at {cfg.store.path}; `synthwatch demo` makes one"
        )
        return 0
    with Store(cfg.store.path, readonly=True) as store:
        runs = store.runs()
    if not runs:
        console.print(f"no runs in {cfg.store.path} yet; `synthwatch demo` makes one")
        return 0
    table = Table(title=f"runs in {cfg.store.path}")
    for col in COLUMNS:
        table.add_column(col)
    for r in runs:
        end = r.t_stop or r.t_last
        duration = fmt_elapsed((end - r.t_start).total_seconds()) if end and r.t_start else "–"
        table.add_row(
            r.run_id,
            r.system,
            r.reactor,
            r.t_start.strftime("%Y-%m-%d %H:%M:%S") if r.t_start else "–",
            duration,
            r.status or "running",
            str(r.n_readings),
            str(r.n_estimates),
            str(r.n_alerts),
        )
    console.print(table)
    return 0
