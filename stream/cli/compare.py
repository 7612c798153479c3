"""``synthwatch compare RUN RUN... [--html FILE]``: trajectories side by side, similarity per pair.

The trajectories and the score are defined in :mod:`synthwatch.stream.replay.compare`. The
terminal gets two rich tables (the trajectories at evenly spaced times since each run's start,
and the distances and similarity of every pair); ``--html`` also writes them as one
self-contained HTML file with interactive plots (:mod:`synthwatch.dashboards.reports.compare`).
"""

from __future__ import annotations

import argparse
from itertools import combinations
from pathlib import Path

from synthwatch.contract.errors import UsageError
from synthwatch.stream.cli.common import load, need_store, resolve_run, stdout

NAME = "compare"
HELP = "trajectories of runs side by side, similarity per pair"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_ids", metavar="RUN", nargs="+", help="two or more run ids")
    parser.add_argument("--html", type=Path, help="also write the comparison as an HTML file")
    parser.add_argument("--rows", type=int, default=12, help="rows of the side-by-side table")


def run(args: argparse.Namespace) -> int:
    from synthwatch.dashboards.reports.compare import PairRow, TrajectoryPanel, render_compare
    from synthwatch.stream.cli.compare_tables import load_trajectories, pair_table, side_by_side
    from synthwatch.stream.replay.compare import TRAJECTORIES, score_pair
    from synthwatch.stream.store.embedded import Store

    cfg, console = load(args), stdout()
    if len(args.run_ids) < 2:
        raise UsageError("synthwatch compare: give two or more runs")
    if args.rows < 2:
        raise UsageError(f"synthwatch compare: --rows: expected 2 or more, got {args.rows}")
    need_store(cfg, "compare")
    with Store(cfg.store.path, readonly=True) as store:
        ids = [resolve_run(store, r) for r in args.run_ids]
        if len(set(ids)) < len(ids):
            raise UsageError("synthwatch compare: a run is named twice")
        runs = {r: load_trajectories(store, r) for r in ids}
    empty = [r for r, trs in runs.items() if not trs]
    if empty:
        raise UsageError(
            f"synthwatch compare: run {empty[0]!r} has no estimates of "
            f"{', '.join(sorted({m for m, _, _ in TRAJECTORIES.values()}))}"
        )
    scores = [score_pair(a, runs[a], b, runs[b]) for a, b in combinations(ids, 2)]
    for table in side_by_side(runs, args.rows):
        console.print(table)
    console.print(pair_table(scores))
    if args.html is not None:
        panels = [
            TrajectoryPanel(
                name,
                units,
                [
                    (r, trs[name].t_s / 3600.0, trs[name].values)
                    for r, trs in runs.items()
                    if name in trs
                ],  # fmt: skip
            )
            for name, (_, _, units) in TRAJECTORIES.items()
            if any(name in trs for trs in runs.values())
        ]
        pairs = [PairRow(s.run_a, s.run_b, s.distances, s.score) for s in scores]
        try:
            args.html.write_text(
                render_compare(f"synthwatch: {' vs '.join(ids)}", panels, pairs), encoding="utf-8"
            )
        except OSError as err:
            raise UsageError(
                f"synthwatch compare: cannot write {args.html}: {err.strerror}"
            ) from None
        console.print(f"comparison written to {args.html}")
    return 0
