"""From a false-alarm budget ("at most one false alarm a day") to each chart's ARL0 and limit.

A chart tuned by the textbook (two-sided CUSUM k = 0.5, h = 5: ARL0 = 465 samples) raises a
false alarm every 465 samples: every 7.8 minutes on a 1 Hz stream. What a lab states instead is
a budget: ``F`` false alarms per 24 hours over all the charts it runs. With a sample every
``dt`` seconds, a day holds ``N = 86400 / dt`` samples, and the charts together may alarm with
probability ``p = F / N`` per sample. That is split over the ``m`` charts:

* Bonferroni: ``p_chart = p / m`` (simple, slightly conservative);
* Šidák: ``p_chart = 1 - (1 - p)^(1/m)`` (exact for independent charts: the probability that
  none of them alarms on a sample is ``1 - p``). Šidák, J. Amer. Statist. Assoc. 62 (1967) 626.

Each chart then needs ``ARL0 = 1 / p_chart`` samples; the false alarms of a chart that restarts
after each signal form a renewal process with that mean spacing, so it raises ``N / ARL0``
false alarms a day on average. :func:`limit_for_budget` turns the ARL0 into the chart's limit
with :func:`synthwatch.models.charts.arl.calibrate` and explains the whole chain in one string,
which an alert engine can show at start.

The ARL assumes independent observations: on an autocorrelated stream run the chart on
residuals (:mod:`synthwatch.models.charts.residuals`), or the budget will not hold.

It also assumes the in-control mean and sd are known. When they come from ``n`` phase I
values, each run's chart is off by a random error, and since the false-alarm rate is convex
in that error, the *expected* rate over runs exceeds the nominal one (Jones, Champ & Rigdon,
Technometrics 43 (2001) 156). On AR(1) residuals the dominant error is ``phi``'s, not the
sd's: with ``phi_hat != phi`` the residuals ``e_t + (phi - phi_hat)(x_{t-1} - mu)`` are
autocorrelated, and the variance of their sums (what a CUSUM or EWMA accumulates) is scaled
by about ``(1 + (phi - phi_hat) / (1 - phi))^2``; with ``sd(phi_hat) = sqrt((1 - phi^2) / n)``
that is a scale error of ``sqrt((1 + phi) / ((1 - phi) n))``: 5 % for ``phi = 0.8`` and
``n = 3600``, four times the error of ``sigma_e``. ``n_phase1`` (and ``phi``) in
:func:`limit_for_budget` widen the limit until the expected rate over these errors
(:func:`expected_alarm_rate`: Gauss-Hermite quadrature over the mean error ``N(0, 1/n)`` and a
lognormal scale error) meets the budget.

>>> b = split_budget(false_alarms_per_day=1.0, sample_interval_s=1.0, n_charts=4)
>>> round(b.arl0)
345598
>>> lim = limit_for_budget(b, "cusum", k=0.5)
>>> round(lim.limit, 2)
11.6
>>> print(lim.explanation)
budget 1 false alarm(s) per 24 h over 4 chart(s), a sample every 1 s (86400 samples a day);
Šidák split: each chart may alarm with probability 2.894e-06 per sample, i.e. ARL0 = 345598
samples (96 h) -> cusum (k = 0.5, two-sided): h = 11.60 (ARL0 by Brook & Evans' Markov chain)
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import optimize
from threadpoolctl import threadpool_limits

from synthwatch.models.charts.arl import calibrate, cusum_arl, ewma_arl, shewhart_arl, sprt_arl

__all__ = [
    "ChartBudget",
    "ChartLimit",
    "split_budget",
    "limit_for_budget",
    "expected_alarm_rate",
    "phase1_scale_sd",
]

SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True)
class ChartBudget:
    """One chart's share of a false-alarm budget (see the module docstring)."""

    false_alarms_per_day: float
    sample_interval_s: float
    n_charts: int
    split: Literal["sidak", "bonferroni"]
    samples_per_day: float
    alarm_probability: float  # per chart and sample
    arl0: float  # per chart, in samples
    explanation: str

    @property
    def arl0_hours(self) -> float:
        """The ARL0 in hours of sampling."""
        return self.arl0 * self.sample_interval_s / 3600.0


@dataclass(frozen=True)
class ChartLimit:
    """The limit of one chart for its share of the budget."""

    chart: str
    limit_name: str
    limit: float
    budget: ChartBudget
    params: dict[str, float | str] = field(default_factory=dict)
    explanation: str = ""


def split_budget(
    false_alarms_per_day: float,
    sample_interval_s: float,
    n_charts: int = 1,
    split: Literal["sidak", "bonferroni"] = "sidak",
) -> ChartBudget:
    """Each of ``n_charts`` charts' ARL0 for ``false_alarms_per_day`` over all of them."""
    f = float(false_alarms_per_day)
    dt = float(sample_interval_s)
    if not (math.isfinite(f) and f > 0):
        raise ValueError(f"false_alarms_per_day: expected a number > 0, got {false_alarms_per_day}")
    if not (math.isfinite(dt) and 0 < dt <= SECONDS_PER_DAY):
        raise ValueError(
            f"sample_interval_s: expected 0 < seconds <= 86400, got {sample_interval_s}"
        )
    if not isinstance(n_charts, int) or isinstance(n_charts, bool) or n_charts < 1:
        raise ValueError(f"n_charts: expected an integer >= 1, got {n_charts!r}")
    if split not in ("sidak", "bonferroni"):
        raise ValueError(f"split: expected 'sidak' or 'bonferroni', got {split!r}")
    n = SECONDS_PER_DAY / dt
    p_family = f / n
    if p_family >= 1.0:
        raise ValueError(
            f"false_alarms_per_day: {f:g} is at least one alarm per sample at {dt:g} s"
            f" ({n:g} samples a day); expected fewer than {n:g}"
        )
    if split == "sidak":
        p = -math.expm1(math.log1p(-p_family) / n_charts)
        name = "Šidák"
    else:
        p = p_family / n_charts
        name = "Bonferroni"
    arl0 = 1.0 / p
    text = (
        f"budget {f:g} false alarm(s) per 24 h over {n_charts} chart(s), a sample every {dt:g} s"
        f" ({n:.0f} samples a day); {name} split: each chart may alarm with probability"
        f" {p:.4g} per sample, i.e. ARL0 = {arl0:.0f} samples ({arl0 * dt / 3600:.3g} h)"
    )
    return ChartBudget(f, dt, n_charts, split, n, p, arl0, text)


def limit_for_budget(
    budget: ChartBudget,
    chart: Literal["cusum", "ewma", "shewhart", "sprt", "t2", "pca"],
    *,
    k: float = 0.5,
    sides: Literal["two", "upper", "lower"] = "two",
    lam: float = 0.2,
    n_phase1: int | None = None,
    phi: float | None = None,
    shift: float = 1.0,
    beta: float = 0.01,
) -> ChartLimit:
    """The limit giving ``budget.arl0``, explained.

    CUSUM ``h``, EWMA or Shewhart ``L``, SPRT ``alpha`` (for ``shift`` in sigma and ``beta``,
    by the Markov chain of :func:`~synthwatch.models.charts.arl.sprt_arl`); for the charts
    that judge each observation alone, the false-alarm probability per observation: Hotelling
    T² ``alpha = 1 / ARL0``, PCA monitor ``alpha`` for each of its two limits (T² and SPE,
    Šidák split). MEWMA has no entry: its limit comes from simulation
    (:func:`~synthwatch.models.charts.multivariate.mewma_h`),
    which is too costly for the ARL0 of a daily budget.

    With ``n_phase1`` (CUSUM, EWMA, Shewhart, SPRT) the limit is widened for the estimation error of
    a phase I of that many values (``phi``: of an AR(1) fit whose residuals are charted), so
    that the expected false-alarm rate over runs meets the budget (module docstring).
    """
    if chart == "cusum":
        h = calibrate("cusum", budget.arl0, k=k, sides=sides)
        params: dict[str, float | str] = {"k": k, "sides": sides}
        what = (
            f"cusum (k = {k:g}, {sides}-sided): h = {h:.2f} (ARL0 by Brook & Evans' Markov chain)"
        )
        name = "h"
    elif chart == "ewma":
        h = calibrate("ewma", budget.arl0, lam=lam)
        params = {"lam": lam}
        what = (
            f"ewma (lam = {lam:g}): L = {h:.3f} (asymptotic limits; ARL0 by the Markov chain"
            " of Lucas & Saccucci)"
        )
        name = "L"
    elif chart == "shewhart":
        h = calibrate("shewhart", budget.arl0)
        params = {}
        what = f"shewhart (one-point rule only): L = {h:.3f} sigma"
        name = "L"
    elif chart == "sprt":
        h = calibrate("sprt", budget.arl0, shift=shift, beta=beta)
        params = {"shift": shift, "beta": beta}
        what = (
            f"sprt (shift {shift:+g} sigma, beta = {beta:g}): alpha = {h:.4g} (ARL0 by the Markov"
            " chain of the restarted test, overshoot included)"
        )
        name = "alpha"
    elif chart == "t2":
        h = 1.0 / budget.arl0
        params = {}
        what = f"hotelling_t2: alpha = {h:.4g} per observation (phase II F limit)"
        name = "alpha"
    elif chart == "pca":
        h = -math.expm1(math.log1p(-1.0 / budget.arl0) / 2.0)
        params = {}
        what = f"pca_monitor: alpha = {h:.4g} for each of the T2 and SPE limits (Šidák split)"
        name = "alpha"
    else:
        raise ValueError(
            f"chart: expected 'cusum', 'ewma', 'shewhart', 't2' or 'pca', got {chart!r}"
        )
    if n_phase1 is not None and chart in ("cusum", "ewma", "shewhart", "sprt"):
        h0 = h
        if chart == "sprt":  # searched as -log(alpha), wider as it grows like the others
            h = math.exp(-_adjusted(chart, budget.arl0, n_phase1, phi, shift, "upper", beta,
                                    -math.log(h0)))  # fmt: skip
        else:
            h = _adjusted(chart, budget.arl0, n_phase1, phi, k, sides, lam, h0)
        sd = phase1_scale_sd(n_phase1, phi if chart != "shewhart" else None)
        what += (
            f"; widened to {name} = {f'{h:.4g}' if chart == 'sprt' else f'{h:.3f}'} for phase I"
            f" estimation from {n_phase1} values"
            f" (scale error {100 * sd:.1f} %{'' if phi is None else f', AR(1) phi {phi:.2f}'}):"
            " expected false-alarm rate over runs as budgeted"
        )
        params["n_phase1"] = n_phase1
    return ChartLimit(chart, name, h, budget, params, f"{budget.explanation} -> {what}")


def phase1_scale_sd(n: int, phi: float | None = None) -> float:
    """sd of the log of a chart's scale error after a phase I of ``n`` values.

    The sd's own error, ``1 / sqrt(2 (n - 2))``, and for AR(1) residuals (``phi``) the error
    of ``phi`` in the long-run variance, ``sqrt((1 + phi) / ((1 - phi) n))`` (module docstring).
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 10:
        raise ValueError(f"n_phase1: expected an integer >= 10, got {n!r}")
    v = 1.0 / (2.0 * (n - 2))
    if phi is not None:
        if not -1.0 < phi < 1.0:
            raise ValueError(f"phi: expected -1 < phi < 1, got {phi}")
        v += (1.0 + phi) / ((1.0 - phi) * n)
    return math.sqrt(v)


def _arl(chart: str, limit: float, k: float, sides: str, lam: float, s: float, d: float) -> float:
    """ARL of a chart on N(d, s^2) observations (its limits set for N(0, 1)); inf if beyond."""
    try:
        return _arl_or_raise(chart, limit, k, sides, lam, s, d)
    except ValueError:  # beyond double precision: no false alarms to speak of
        return math.inf


def _arl_or_raise(chart, limit, k, sides, lam, s, d) -> float:
    if chart == "sprt":  # limit = -log(alpha), k = the shift tested for, lam = beta
        return sprt_arl(math.exp(-limit), lam, k, true_shift=d, scale=s, n_states=100)
    if chart == "cusum":
        return cusum_arl(k / s, limit / s, shift=d / s, sides=sides, n_states=100)  # type: ignore[arg-type]
    if chart == "ewma":
        return ewma_arl(lam, limit / s, shift=d / s, n_states=151)
    return shewhart_arl(limit / s, shift=d / s)


def expected_alarm_rate(
    chart: Literal["cusum", "ewma", "shewhart"],
    limit: float,
    n_phase1: int,
    phi: float | None = None,
    *,
    k: float = 0.5,
    sides: Literal["two", "upper", "lower"] = "two",
    lam: float = 0.2,
    nodes: int = 5,
) -> float:
    """Expected false alarms per sample over the phase I estimation error (module docstring).

    The mean error ``N(0, 1/n)`` and the log scale error ``N(0, phase1_scale_sd^2)`` (without
    the ``phi`` term for Shewhart, which judges single points), by Gauss-Hermite quadrature.
    """
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    sd = phase1_scale_sd(n_phase1, phi if chart != "shewhart" else None)
    total = 0.0
    for ud, wd in zip(x, w):
        for us, ws in zip(x, w):
            total += (
                wd
                * ws
                / _arl(chart, limit, k, sides, lam, math.exp(us * sd), ud / math.sqrt(n_phase1))
            )
    return float(total)


@functools.lru_cache(maxsize=256)
def _adjusted_cached(chart, arl0, n, phi, k, sides, lam, h0) -> float:
    # hundreds of small Markov-chain solves: one BLAS thread (on shared cores OpenBLAS's
    # threads made them 25 times slower)
    with threadpool_limits(limits=1, user_api="blas"):
        return _adjusted_search(chart, arl0, n, phi, k, sides, lam, h0)


def _adjusted_search(chart, arl0, n, phi, k, sides, lam, h0) -> float:
    target = math.log(1.0 / arl0)

    def f(h: float) -> float:
        rate = expected_alarm_rate(chart, h, n, phi, k=k, sides=sides, lam=lam)
        return math.log(rate) - target

    hi = h0 * 1.1
    while f(hi) > 0 and hi < 4 * h0:
        hi *= 1.2
    if f(h0) <= 0:
        return h0
    return float(optimize.brentq(f, h0, hi, xtol=1e-3 * h0))


def _adjusted(chart, arl0, n, phi, k, sides, lam, h0) -> float:
    """The limit whose expected rate is ``1 / arl0`` (arguments rounded for the cache)."""
    return _adjusted_cached(
        chart, float(f"{arl0:.4g}"), int(n), None if phi is None else round(float(phi), 2),
        float(k), sides, float(lam), round(float(h0), 4),
    )  # fmt: skip
