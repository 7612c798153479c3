"""The tables of ``synthwatch compare``: each run's trajectories (from the store) side by side
at evenly spaced times since each run's start, and the distances and similarity of every pair.

The trajectories and the score are defined in :mod:`synthwatch.stream.replay.compare`.
"""

from __future__ import annotations

import numpy as np
from rich.table import Table

from synthwatch.stream.cli.live import fmt_elapsed
from synthwatch.stream.replay.compare import (
    TRAJECTORIES,
    PairScore,
    Trajectory,
    trajectory_of,
)
from synthwatch.stream.store.embedded import Store
from synthwatch.stream.store.thinned import thinned_estimates

#: estimates read per model and run (evenly spread; a 24-h run at 1 Hz has 86,400)
MAX_ESTIMATES = 4000

#: how each trajectory is printed in the terminal table
_FORMATS = {"d_mean": "{:.1f}", "conversion": "{:.2f}", "peak": "{:.1f}", "r_ct": "{:.4g}",
            "kappa": "{:.4g}"}  # fmt: skip


def load_trajectories(store: Store, run_id: str) -> dict[str, Trajectory]:
    """Every trajectory of :data:`TRAJECTORIES` the run has."""
    summary = store.run(run_id)
    t0 = summary.t_start or summary.t_last
    out: dict[str, Trajectory] = {}
    if t0 is None:
        return out
    cache = {}
    for name, (model, _, _) in TRAJECTORIES.items():
        if model not in cache:
            cache[model] = thinned_estimates(store, run_id, model, MAX_ESTIMATES)
        tr = trajectory_of(name, cache[model], t0)
        if tr is not None:
            out[name] = tr
    return out


def side_by_side(runs: dict[str, dict[str, Trajectory]], rows: int) -> list[Table]:
    """One table per trajectory: the runs side by side at evenly spaced times since start."""
    end = max((tr.t_s[-1] for trs in runs.values() for tr in trs.values()), default=0.0)
    tables = []
    for name, (model, quantity, units) in TRAJECTORIES.items():
        if not any(name in trs for trs in runs.values()):
            continue
        table = Table(title=f"{name}: {quantity} ({units}, {model}) over time since each start")
        table.add_column("t", justify="right")
        for run_id in runs:
            table.add_column(run_id, justify="right")
        for t in np.linspace(0.0, end, rows):
            cells = [fmt_elapsed(float(t))]
            for trs in runs.values():
                v = trs[name].at(float(t)) if name in trs else None
                cells.append("–" if v is None else _FORMATS[name].format(v))
            table.add_row(*cells)
        tables.append(table)
    return tables


def pair_table(scores: list[PairScore]) -> Table:
    names = [n for n in TRAJECTORIES if any(n in s.distances for s in scores)]
    table = Table(title="similarity per pair (distance per trajectory; 1 = identical)")
    table.add_column("run A")
    table.add_column("run B")
    for n in names:
        table.add_column(f"d({n})", justify="right")
    table.add_column("similarity", justify="right")
    for s in scores:
        table.add_row(
            s.run_a,
            s.run_b,
            *(f"{s.distances[n]:.3f}" if n in s.distances else "–" for n in names),
            "–" if s.score is None else f"{s.score:.3f}",
        )
    return table
