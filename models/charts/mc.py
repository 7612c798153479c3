"""Monte Carlo run lengths of the CUSUM and EWMA charts, vectorised over runs with numpy.

A check on :mod:`synthwatch.models.charts.arl` (and the way to get ARLs where no Markov chain is
written, e.g. EWMA with exact limits or a two-sided CUSUM's steady state). The recursions are
those of :class:`~synthwatch.models.charts.cusum.Cusum` and
:class:`~synthwatch.models.charts.ewma.Ewma` (the CUSUM step is the same function,
:func:`~synthwatch.models.charts.cusum.cusum_step`), run on standardised N(0, 1) observations
for all runs at once: each time step is one numpy operation over the runs still going. The
tests check that the run lengths equal those of the chart classes fed the same numbers one by
one. Seeded: the same arguments give the same run lengths.

``warmup`` > 0 gives the conditional steady state: the runs first see ``warmup`` in-control
observations; runs that signal during it are dropped (their count is returned), and the shift
starts after it. Run lengths count from the first shifted observation.

>>> rl = cusum_run_lengths(k=0.5, h=4.0, shift=1.0, n_runs=4000, seed=7)
>>> round(float(rl.lengths.mean()), 2), rl.n_dropped
(8.47, 0)
>>> ew = ewma_run_lengths(lam=0.2, L=2.962, shift=2.0, n_runs=4000, seed=7)
>>> round(float(ew.lengths.mean()), 2)
3.78
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from synthwatch.models.charts.cusum import cusum_step

__all__ = [
    "RunLengths",
    "cusum_block",
    "ewma_block",
    "cusum_run_lengths",
    "ewma_run_lengths",
]


@dataclass(frozen=True)
class RunLengths:
    """Simulated run lengths, and how many runs signalled during the warm-up (dropped)."""

    lengths: np.ndarray
    n_dropped: int

    @property
    def arl(self) -> float:
        """Mean run length."""
        return float(self.lengths.mean())

    @property
    def standard_error(self) -> float:
        """Standard error of :attr:`arl`."""
        return float(self.lengths.std(ddof=1) / math.sqrt(self.lengths.size))


def cusum_block(
    z: np.ndarray, s_hi: np.ndarray, s_lo: np.ndarray, k: float, h: float, sides: str = "two"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run the CUSUM over ``z`` (time × runs) from sums ``s_hi``, ``s_lo``.

    Returns the 1-based step of each run's first signal (0 when none) and the sums after the
    block (for runs that signalled: the sums at their signal).
    """
    s_hi, s_lo = s_hi.copy(), s_lo.copy()
    first = np.zeros(z.shape[1], dtype=np.int64)
    live = np.ones(z.shape[1], dtype=bool)
    for t in range(z.shape[0]):
        hi, lo = cusum_step(s_hi, s_lo, z[t], k)
        if sides == "upper":
            lo = s_lo
        elif sides == "lower":
            hi = s_hi
        s_hi = np.where(live, hi, s_hi)
        s_lo = np.where(live, lo, s_lo)
        hit = live & ((s_hi > h) | (s_lo > h))
        first[hit] = t + 1
        live &= ~hit
        if not live.any():
            break
    return first, s_hi, s_lo


def ewma_block(
    x: np.ndarray, z: np.ndarray, i0: int, lam: float, L: float, exact_limits: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Run the EWMA (``mu0 = 0``, ``sigma = 1``) over ``x`` (time × runs) from ``z``.

    ``i0`` observations came before the block (for the exact limits). Returns the first signal
    per run (1-based, 0 when none) and the EWMA after the block.
    """
    z = z.copy()
    first = np.zeros(x.shape[1], dtype=np.int64)
    live = np.ones(x.shape[1], dtype=bool)
    w_inf = L * math.sqrt(lam / (2.0 - lam))
    for t in range(x.shape[0]):
        z = np.where(live, lam * x[t] + (1.0 - lam) * z, z)
        i = i0 + t + 1
        w = w_inf * math.sqrt(1.0 - (1.0 - lam) ** (2 * i)) if exact_limits else w_inf
        hit = live & (np.abs(z) > w)
        first[hit] = t + 1
        live &= ~hit
        if not live.any():
            break
    return first, z


def _simulate(step, n_runs: int, seed: int, shift: float, warmup: int, block: int, max_len: int):
    """Drive ``step(x, state, i0) -> (first, state)`` in blocks over the runs still going."""
    if n_runs < 2:
        raise ValueError(f"n_runs: expected >= 2, got {n_runs}")
    rng = np.random.default_rng(seed)
    state = None
    keep = np.ones(n_runs, dtype=bool)
    if warmup > 0:
        first, state = step(rng.standard_normal((warmup, n_runs)), None, 0)
        keep = first == 0
        state = tuple(s[keep] for s in state)
    n = int(keep.sum())
    lengths = np.zeros(n, dtype=np.int64)
    active = np.arange(n)
    done = 0
    while active.size:
        if done >= max_len:
            raise ValueError(f"max_len: {active.size} runs still going after {max_len} steps")
        x = rng.standard_normal((block, active.size)) + shift
        sub = None if state is None else tuple(s[active] for s in state)
        first, new = step(x, sub, warmup + done)
        if state is None:
            state = tuple(np.zeros(n) for _ in new)
        for s, s_new in zip(state, new):
            s[active] = s_new
        hit = first > 0
        lengths[active[hit]] = done + first[hit]
        active = active[~hit]
        done += block
    return RunLengths(lengths, n_runs - n)


def cusum_run_lengths(
    k: float,
    h: float,
    shift: float = 0.0,
    n_runs: int = 20_000,
    seed: int = 0,
    sides: str = "two",
    head_start: float = 0.0,
    warmup: int = 0,
    block: int = 64,
    max_len: int = 10_000_000,
) -> RunLengths:
    """Run lengths of ``n_runs`` seeded CUSUM runs (k, h, head start in sigma units)."""

    def step(x, state, i0):
        n = x.shape[1]
        if state is None:
            start = np.full(n, float(head_start))
            state = (
                start if sides != "lower" else np.zeros(n),
                start if sides != "upper" else np.zeros(n),
            )
        first, s_hi, s_lo = cusum_block(x, state[0], state[1], k, h, sides)
        return first, (s_hi, s_lo)

    return _simulate(step, n_runs, seed, shift, warmup, block, max_len)


def ewma_run_lengths(
    lam: float,
    L: float,
    shift: float = 0.0,
    n_runs: int = 20_000,
    seed: int = 0,
    exact_limits: bool = False,
    warmup: int = 0,
    block: int = 64,
    max_len: int = 10_000_000,
) -> RunLengths:
    """Run lengths of ``n_runs`` seeded EWMA runs (asymptotic limits unless ``exact_limits``)."""

    def step(x, state, i0):
        z0 = np.zeros(x.shape[1]) if state is None else state[0]
        first, z = ewma_block(x, z0, i0, lam, L, exact_limits)
        return first, (z,)

    return _simulate(step, n_runs, seed, shift, warmup, block, max_len)
