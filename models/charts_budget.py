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
with :func:`synthwatch.models.charts_arl.calibrate` and explains the whole chain in one string,
which an alert engine can show at start.

The ARL assumes independent observations: on an autocorrelated stream run the chart on
residuals (:mod:`synthwatch.models.charts_residuals`), or the budget will not hold.

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

import math
from dataclasses import dataclass, field
from typing import Literal

from synthwatch.models.charts_arl import calibrate

__all__ = ["ChartBudget", "ChartLimit", "split_budget", "limit_for_budget"]

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
    chart: Literal["cusum", "ewma", "shewhart", "t2", "pca"],
    *,
    k: float = 0.5,
    sides: Literal["two", "upper", "lower"] = "two",
    lam: float = 0.2,
) -> ChartLimit:
    """The limit giving ``budget.arl0``, explained.

    CUSUM ``h``, EWMA or Shewhart ``L``; for the charts that judge each observation alone, the
    false-alarm probability per observation: Hotelling T² ``alpha = 1 / ARL0``, PCA monitor
    ``alpha`` for each of its two limits (T² and SPE, Šidák split). MEWMA has no entry: its
    limit comes from simulation (:func:`~synthwatch.models.charts_multivariate.mewma_h`),
    which is too costly for the ARL0 of a daily budget.
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
    return ChartLimit(chart, name, h, budget, params, f"{budget.explanation} -> {what}")
