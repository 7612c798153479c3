"""Compare runs: their trajectories on a common time axis and a similarity score per pair.

A run's *signature* is a few trajectories (estimates over time since the run's start):

============  =================  ====================  ========================================
trajectory    model              quantity              meaning
============  =================  ====================  ========================================
d_mean        psd_lognormal      ``d_mean_nm``         number-mean diameter (UV-Vis, Mie)
conversion    kinetics           ``conversion``        fitted conversion of the precursor
peak          uvvis_features     ``lambda_spr_nm``     SPR peak position
r_ct          impedance_fit      ``r_ct_ohm``          charge-transfer resistance (Stöber cell)
kappa         impedance_fit      ``conductivity_s_per_m``  conductivity of the mixture
============  =================  ====================  ========================================

Similarity of runs A and B, per trajectory both have (only estimates with a value count):

1. **Common axis**: ``n_grid`` (200) points evenly spaced over the time both runs cover,
   ``[max(first_A, first_B), min(last_A, last_B)]`` in seconds since each run's start.
2. **Resample**: each run's values are averaged in the bins around the grid points (a median
   would do too; the mean keeps it linear), empty bins linearly interpolated.
3. **Normalise** by the pooled range ``R = P95 - P5`` of both runs' resampled values (floored
   at 1e-12 times their magnitude, so a flat trajectory does not divide by zero).
4. **Distance** ``d = sqrt(mean(((A - B) / R)^2))``: the RMS difference in units of the range
   the trajectories span (0 = identical; 0.1 = they differ by 10 % of their range, RMS).
5. **Similarity** ``s = max(0, 1 - d)`` per trajectory; the pair's score is the mean of its
   trajectories' similarities (1 = the same run again, 0 = nothing in common).

Trajectories are aligned on time since start, not on an event such as the onset of growth: a
run whose induction period is longer scores lower, which is what a reproducibility check
should see.

>>> import numpy as np
>>> t = np.linspace(0, 3600, 100)
>>> a = Trajectory("d_mean", "nm", t, 15 * (1 - np.exp(-t / 600)))
>>> b = Trajectory("d_mean", "nm", t, 15 * (1 - np.exp(-t / 660)))
>>> round(distance(a, a), 6), round(distance(a, b), 3)
(0.0, 0.026)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from synthwatch.contract.messages import Estimate

__all__ = ["TRAJECTORIES", "Trajectory", "PairScore", "trajectory_of", "distance", "score_pair"]

#: trajectory name -> (model, quantity, units)
TRAJECTORIES: dict[str, tuple[str, str, str]] = {
    "d_mean": ("psd_lognormal", "d_mean_nm", "nm"),
    "conversion": ("kinetics", "conversion", "1"),
    "peak": ("uvvis_features", "lambda_spr_nm", "nm"),
    "r_ct": ("impedance_fit", "r_ct_ohm", "ohm"),
    "kappa": ("impedance_fit", "conductivity_s_per_m", "S/m"),
}
N_GRID = 200


@dataclass(frozen=True)
class Trajectory:
    """One quantity of one run over time: ``t_s`` seconds since the start, increasing."""

    name: str
    units: str
    t_s: np.ndarray
    values: np.ndarray

    def at(self, t_s: float) -> float | None:
        """The last value at or before ``t_s`` (None before the first)."""
        k = int(np.searchsorted(self.t_s, t_s, side="right")) - 1
        return None if k < 0 else float(self.values[k])


@dataclass(frozen=True)
class PairScore:
    """Similarity of two runs: per trajectory the distance, and the pair's score."""

    run_a: str
    run_b: str
    distances: dict[str, float]
    score: float | None


def trajectory_of(name: str, estimates: list[Estimate], t0: datetime) -> Trajectory | None:
    """The trajectory ``name`` from a run's estimates of its model (None if no value)."""
    _, quantity, units = TRAJECTORIES[name]
    t, v = [], []
    for e in estimates:
        for q in e.quantities:
            if q.name == quantity:
                if q.value is not None and math.isfinite(q.value):
                    t.append((e.t - t0).total_seconds())
                    v.append(q.value)
                break
    if not t:
        return None
    order = np.argsort(t, kind="stable")
    return Trajectory(name, units, np.asarray(t)[order], np.asarray(v, dtype=float)[order])


def _resample(tr: Trajectory, grid: np.ndarray) -> np.ndarray:
    edges = np.concatenate([[grid[0]], (grid[1:] + grid[:-1]) / 2, [grid[-1]]])
    idx = np.clip(np.searchsorted(edges, tr.t_s, side="right") - 1, 0, grid.size - 1)
    inside = (tr.t_s >= grid[0]) & (tr.t_s <= grid[-1])
    sums = np.bincount(idx[inside], tr.values[inside], minlength=grid.size)
    counts = np.bincount(idx[inside], minlength=grid.size)
    out = np.full(grid.size, np.nan)
    have = counts > 0
    out[have] = sums[have] / counts[have]
    if not have.all():
        if have.sum() >= 2:
            out = np.interp(grid, grid[have], out[have])
        else:
            out = np.interp(grid, tr.t_s, tr.values)
    return out


def distance(a: Trajectory, b: Trajectory, n_grid: int = N_GRID) -> float | None:
    """Normalised RMS difference of two trajectories on their common time (module doc).

    None when they share less than two distinct times.
    """
    lo, hi = max(a.t_s[0], b.t_s[0]), min(a.t_s[-1], b.t_s[-1])
    if not hi > lo:
        return None
    grid = np.linspace(lo, hi, n_grid)
    ra, rb = _resample(a, grid), _resample(b, grid)
    pooled = np.concatenate([ra, rb])
    p5, p95 = np.percentile(pooled, [5, 95])
    scale = max(p95 - p5, 1e-12 * max(float(np.max(np.abs(pooled))), 1e-300))
    return float(np.sqrt(np.mean(((ra - rb) / scale) ** 2)))


def score_pair(
    run_a: str, a: dict[str, Trajectory], run_b: str, b: dict[str, Trajectory]
) -> PairScore:
    """Distances of the trajectories both runs have, and the pair's similarity score."""
    distances = {}
    for name in TRAJECTORIES:
        if name in a and name in b:
            d = distance(a[name], b[name])
            if d is not None:
                distances[name] = d
    score = float(np.mean([max(0.0, 1.0 - d) for d in distances.values()])) if distances else None
    return PairScore(run_a, run_b, distances, score)
