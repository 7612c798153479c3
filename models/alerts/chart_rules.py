"""Control-chart rules of the alert engine: ``shewhart``, ``cusum``, ``ewma``, ``sprt``, ``t2``,
``mewma`` and ``spe``, each with its own limit or a false-alarm budget.

A chart rule in a rule file::

    [[rule]]
    name = "au0_cusum"
    kind = "cusum"                        # shewhart | cusum | ewma | sprt | t2 | mewma | spe
    quantity = "uvvis_features.au0_mM"    # univariate charts
    residuals = "ar1"                     # chart the AR(1) residuals (phase I on the warm-up)
    warmup_s = 7200                       # phase I: the first 2 h of the run
    false_alarms_per_day = 1              # the budget ... (or the chart's own limit: h = 5)
    sample_interval_s = 30                # ... at this sampling (else: measured in the warm-up)
    k = 0.5
    advice = "compare the HAuCl4 added with the recipe"

Keys, besides ``name``, ``kind``, ``severity``, ``advice``, ``clear_s`` and ``enabled``:

* univariate charts: ``quantity``; ``mu0`` and ``sigma`` (else the mean and sd of the
  warm-up); ``residuals`` = ``"none"`` or ``"ar1"`` (then ``mu0``/``sigma`` are not given:
  the residuals are N(0, 1) in control). To chart the kinetic model's residuals instead, name
  ``kinetics.residual_z`` with ``mu0 = 0`` and ``sigma = 1``.
* ``shewhart``: ``L`` (one-point limit in sigma), ``run_rules`` = ``"none"``,
  ``"western_electric"`` (default) or ``"nelson"``; the budget calibrates the one-point rule
  only, so with a budget ``run_rules`` must be ``"none"`` (the default then).
* ``cusum``: ``h``, ``k`` (0.5), ``sides`` (``"two"``), ``head_start`` (0); ``ewma``: ``L``,
  ``lam`` (0.2); ``sprt``: ``alpha``, ``beta`` (0.01), ``shift_sigma`` (1).
* multivariate charts: ``quantities``, a list of at least two ``"<measurement>.<name>"`` of one
  measurement (each estimate of it is one observation); mean and covariance from the warm-up
  (phase I), ``residuals`` as above per quantity. ``t2``: ``alpha`` (per observation, phase II
  F limit); ``mewma``: ``h``, ``lam`` (0.1); ``spe``: ``alpha`` for both of the PCA monitor's
  limits (T² and SPE), ``n_components`` (else the fewest explaining ``explained`` = 0.9).
* ``transform = "log"``: chart the logarithm (for positive, skewed statistics such as rms or
  maximum residuals, whose right tail would break limits that assume normal tails; ``mu0``
  and ``sigma`` are then in log units; values <= 0 are not charted).
* the budget: ``false_alarms_per_day`` instead of the limit (``h``, ``L`` or ``alpha``), with
  ``sample_interval_s`` (else the median spacing of the quantity's estimates over the warm-up:
  the sensor's cadence as observed). ``warmup_s`` (default 3600) for phase I, which also
  takes at least 30 values. With a budget, the CUSUM, EWMA and Shewhart limits estimated in
  phase I are widened for the estimation error (``limit_for_budget(n_phase1=, phi=)``); the
  SPRT, T², MEWMA and SPE limits are not.

Naming: ``t2`` was already the golden-batch rule (``limit`` on the golden batch's combined
statistic). A ``t2`` rule **with** ``quantities`` is the Hotelling T² chart; without, it is the
golden-batch rule as before, so old rule files parse unchanged.

The budget. All the budgeted chart rules of an engine share one budget (a rule's
``false_alarms_per_day`` is the budget of all of them together, for each sensor: give them the
same number): with ``m`` such rules, :func:`~synthwatch.models.charts.budget.split_budget`
gives each chart the ARL0 (in samples at its own sample interval) of an ``F / m`` share (Šidák),
and the limit follows from the chart's ARL (:mod:`~synthwatch.models.charts.arl`: Markov chains
for CUSUM, EWMA, MEWMA and the SPRT, exact for Shewhart, ``alpha =
1/ARL0`` for T² and the PCA monitor). :func:`explain_chart_rules` says so in one line per rule,
at start; the engine adds the phase I figures once each chart has finished its warm-up.

Why residuals: the ARLs assume independent observations. Sensor estimates 30 s apart are
autocorrelated (a wandering baseline, a slow drift of the probe): a CUSUM on them accumulates
the wander as a shift and the budget is exceeded many times over
(:mod:`~synthwatch.models.charts.residuals`). Charting one-step-ahead AR(1) residuals (Alwan &
Roberts, J. Business & Economic Statistics 6 (1988) 87), or the kinetic model's standardised
residuals, restores the independence the limits rely on.

>>> from synthwatch.models.alerts.rules import parse_rules
>>> rules = parse_rules('''
... [[rule]]
... name = "temp"
... kind = "cusum"
... quantity = "scalar.temperature_degC"
... false_alarms_per_day = 1
... sample_interval_s = 30
... residuals = "ar1"
... ''', "rules.toml")
>>> rules[0].chart.false_alarms_per_day, rules[0].chart.residuals
(1.0, 'ar1')
>>> print(explain_chart_rules(rules)[0])
temp (cusum on scalar.temperature_degC, AR(1) residuals, phase I 3600 s): budget 1 false
alarm(s) per 24 h over 1 chart(s), a sample every 30 s (declared) (2880 samples a day); Šidák
split: each chart may alarm with probability 0.0003472 per sample, i.e. ARL0 = 2880 samples
(24 h) -> cusum (k = 0.5, two-sided): h = 6.81 (ARL0 by Brook & Evans' Markov chain)
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from synthwatch.models.charts.arl import calibrate
from synthwatch.models.charts.budget import ChartBudget, limit_for_budget, split_budget
from synthwatch.models.charts.cusum import Cusum
from synthwatch.models.charts.ewma import Ewma
from synthwatch.models.charts.multivariate import HotellingT2, Mewma, reference_stats
from synthwatch.models.charts.pca import PcaMonitor
from synthwatch.models.charts.residuals import Ar1Whitener, fit_ar1, phase1_check
from synthwatch.models.charts.univariate import RULE_SETS, Shewhart, Sprt

__all__ = [
    "CHART_KINDS",
    "ChartSpec",
    "ChartRunner",
    "is_chart_rule",
    "split_chart_keys",
    "explain_chart_rules",
]

CHART_KINDS = ("shewhart", "cusum", "ewma", "sprt", "t2", "mewma", "spe")
MULTIVARIATE = ("t2", "mewma", "spe")
#: the key holding each chart's own limit (exclusive with a budget)
LIMIT_KEY = {"shewhart": "L", "cusum": "h", "ewma": "L", "sprt": "alpha", "t2": "alpha"}
LIMIT_KEY.update({"mewma": "h", "spe": "alpha"})
#: rule keys a chart rule takes besides those of :class:`ChartSpec`
COMMON_KEYS = ("name", "kind", "quantity", "clear_s", "severity", "advice", "enabled")
#: the keys of each kind, besides the common ones and the budget's
_OWN = {
    "shewhart": ("mu0", "sigma", "L", "run_rules"),
    "cusum": ("mu0", "sigma", "h", "k", "sides", "head_start"),
    "ewma": ("mu0", "sigma", "L", "lam"),
    "sprt": ("mu0", "sigma", "alpha", "beta", "shift_sigma"),
    "t2": ("quantities", "alpha"),
    "mewma": ("quantities", "h", "lam"),
    "spe": ("quantities", "alpha", "n_components", "explained"),
}
_BUDGET_KEYS = ("false_alarms_per_day", "sample_interval_s", "warmup_s", "residuals", "transform")
_MIN_WARMUP_N = 30  # phase I needs at least this many observations, whatever warmup_s says


@dataclass(frozen=True)
class ChartSpec:
    """The chart part of a chart rule (see the module docstring for the keys)."""

    quantities: tuple[str, ...] = ()
    false_alarms_per_day: float | None = None
    sample_interval_s: float | None = None
    warmup_s: float = 3600.0
    residuals: str = "none"
    transform: str = "none"
    mu0: float | None = None
    sigma: float | None = None
    L: float | None = None
    run_rules: str | None = None
    h: float | None = None
    k: float = 0.5
    sides: str = "two"
    head_start: float = 0.0
    lam: float | None = None
    alpha: float | None = None
    beta: float = 0.01
    shift_sigma: float = 1.0
    n_components: int | None = None
    explained: float = 0.9

    @property
    def budgeted(self) -> bool:
        return self.false_alarms_per_day is not None


def is_chart_rule(d: dict) -> bool:
    """Whether a rule table is a chart rule (a ``t2`` only with ``quantities``)."""
    kind = d.get("kind")
    return kind in CHART_KINDS and (kind != "t2" or "quantities" in d)


def _number(key: str, v: Any, low: float | None = None, strict: bool = True) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValueError(f"{key}: expected a number, got {v!r}")
    if low is not None and (v <= low if strict else v < low):
        raise ValueError(f"{key}: expected {'>' if strict else '>='} {low:g}, got {v!r}")
    return float(v)


def split_chart_keys(d: dict, known: Any = None, known_names: tuple[str, ...] = ()) -> tuple:
    """(the rule's common keys, :class:`ChartSpec`) of a chart rule table.

    ValueError ``"<key>: <what was expected>"`` for a key the kind does not take or a bad value.
    """
    import difflib

    kind = d["kind"]
    own = _OWN[kind] + _BUDGET_KEYS
    allowed = COMMON_KEYS + own
    common: dict[str, Any] = {}
    chart: dict[str, Any] = {}
    for key, v in d.items():
        if key in COMMON_KEYS:
            common[key] = v
        elif key in own:
            chart[key] = v
        elif kind == "t2" and key == "limit":
            raise ValueError(
                "limit: a t2 rule with 'quantities' is the Hotelling T2 chart and takes 'alpha'"
                " or 'false_alarms_per_day'; 'limit' is for the golden-batch t2 rule (no"
                " 'quantities')"
            )
        else:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(
                f"{key}: not a key of a {kind} rule{hint}; expected some of {sorted(allowed)}"
            )
    if kind in MULTIVARIATE:
        if "quantity" in common:
            raise ValueError(f"quantity: a {kind} rule takes 'quantities' (a list), not 'quantity'")
        qs = chart.get("quantities")
        if not isinstance(qs, list) or len(qs) < 2 or not all(isinstance(q, str) for q in qs):
            raise ValueError("quantities: expected a list of at least two '<measurement>.<name>'")
        if len(set(qs)) != len(qs):
            raise ValueError(f"quantities: expected distinct names, got {qs}")
        for q in qs:
            if "." not in q or q.endswith(".*"):
                raise ValueError(f"quantities: expected '<measurement>.<quantity>', got {q!r}")
            if known is not None and not known(q):
                close = difflib.get_close_matches(q, known_names, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ValueError(f"quantities: {q!r} is not one synthwatch estimates{hint}")
        if len({q.split(".", 1)[0] for q in qs}) != 1:
            raise ValueError(
                f"quantities: expected quantities of one measurement (one estimate holds them"
                f" all), got {qs}"
            )
        chart["quantities"] = tuple(qs)
    for key in ("false_alarms_per_day", "sample_interval_s", "sigma", "L", "h", "lam"):
        if key in chart:
            chart[key] = _number(key, chart[key], 0.0)
    for key in ("warmup_s", "head_start", "k"):
        if key in chart:
            chart[key] = _number(key, chart[key], 0.0, strict=False)
    for key in ("mu0", "shift_sigma"):
        if key in chart:
            chart[key] = _number(key, chart[key])
    if chart.get("shift_sigma") == 0.0:
        raise ValueError("shift_sigma: expected a non-zero shift (its sign is the direction)")
    for key in ("alpha", "beta"):
        if key in chart:
            chart[key] = _number(key, chart[key], 0.0)
            if not chart[key] < 0.5:
                raise ValueError(f"{key}: expected a probability in (0, 0.5), got {chart[key]!r}")
    if "lam" in chart and chart["lam"] > 1.0:
        raise ValueError(f"lam: expected 0 < lam <= 1, got {chart['lam']!r}")
    if "explained" in chart:
        chart["explained"] = _number("explained", chart["explained"], 0.0)
        if chart["explained"] > 1.0:
            raise ValueError(f"explained: expected a fraction in (0, 1], got {chart['explained']}")
    if "n_components" in chart:
        n = chart["n_components"]
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n_components: expected an integer >= 1, got {n!r}")
        if n >= len(chart["quantities"]):
            raise ValueError(
                f"n_components: expected fewer than the {len(chart['quantities'])} quantities"
                f" (SPE needs what the model leaves out), got {n}"
            )
    if chart.get("transform", "none") not in ("none", "log"):
        raise ValueError(f"transform: expected 'none' or 'log', got {chart['transform']!r}")
    if chart.get("residuals", "none") not in ("none", "ar1"):
        raise ValueError(f"residuals: expected 'none' or 'ar1', got {chart['residuals']!r}")
    if chart.get("sides", "two") not in ("two", "upper", "lower"):
        raise ValueError(f"sides: expected 'two', 'upper' or 'lower', got {chart['sides']!r}")
    if "run_rules" in chart and chart["run_rules"] not in RULE_SETS:
        raise ValueError(
            f"run_rules: expected one of {sorted(RULE_SETS)}, got {chart['run_rules']!r}"
        )
    if chart.get("head_start", 0.0) and chart.get("h") and chart["head_start"] >= chart["h"]:
        raise ValueError(f"head_start: expected < h = {chart['h']:g}, got {chart['head_start']:g}")
    if chart.get("residuals") == "ar1":
        for key in ("mu0", "sigma"):
            if key in chart:
                raise ValueError(
                    f"{key}: not with residuals = 'ar1' (the AR(1) residuals are N(0, 1) in"
                    " control; the AR(1) is fitted on the warm-up)"
                )
    limit_key = LIMIT_KEY[kind]
    budget = "false_alarms_per_day" in chart
    if budget and limit_key in chart:
        raise ValueError(
            f"{limit_key}: give either '{limit_key}' or 'false_alarms_per_day' (the budget sets"
            f" {limit_key}), not both"
        )
    if not budget and limit_key not in chart:
        raise ValueError(
            f"{limit_key}: a {kind} rule needs '{limit_key}' or a budget 'false_alarms_per_day'"
        )
    if not budget and "sample_interval_s" in chart:
        raise ValueError("sample_interval_s: only used with 'false_alarms_per_day'")
    if kind == "shewhart" and budget and chart.get("run_rules", "none") != "none":
        raise ValueError(
            "run_rules: the budget calibrates the one-point rule only; with"
            " 'false_alarms_per_day' expected run_rules = 'none'"
        )
    if budget and "sample_interval_s" in chart and chart["sample_interval_s"] > 86400.0:
        raise ValueError(
            f"sample_interval_s: expected at most 86400, got {chart['sample_interval_s']:g}"
        )
    return common, ChartSpec(**chart)


# ----------------------------------------------------------------------------- the budget
def _n_budgeted(rules: Sequence[Any]) -> int:
    return sum(1 for r in rules if r.enabled and r.chart is not None and r.chart.budgeted)


def _what(rule: Any) -> str:
    spec = rule.chart
    on = ", ".join(spec.quantities) if spec.quantities else rule.quantity
    res = ", AR(1) residuals" if spec.residuals == "ar1" else ""
    if spec.transform == "log":
        on = f"log {on}"
    return f"{rule.name} ({rule.kind} on {on}{res}, phase I {spec.warmup_s:g} s)"


def _budget(rule: Any, n: int, dt: float, measured: bool) -> ChartBudget:
    b = split_budget(rule.chart.false_alarms_per_day, dt, n)
    how = "measured over the warm-up" if measured else "declared"
    text = b.explanation.replace(f"a sample every {dt:g} s", f"a sample every {dt:g} s ({how})")
    return ChartBudget(**{**{f.name: getattr(b, f.name) for f in fields(b)}, "explanation": text})


@functools.lru_cache(maxsize=512)  # an engine is built per run: the chains are solved once
def _limit(
    rule: Any, budget: ChartBudget, n_phase1: int | None = None, phi: float | None = None
) -> tuple[float, str]:
    """The chart's limit (h, L or alpha) for its share of the budget, and the explanation.

    ``n_phase1`` (and ``phi`` for AR(1) residuals): widen a CUSUM, EWMA, Shewhart or SPRT limit for
    the estimation error of phase I (:func:`~synthwatch.models.charts.budget.limit_for_budget`).
    """
    spec, kind = rule.chart, rule.kind
    if kind in ("cusum", "ewma", "shewhart", "sprt", "t2"):
        lim = limit_for_budget(
            budget, kind, k=spec.k, sides=spec.sides, lam=spec.lam or 0.2,  # type: ignore[arg-type]
            n_phase1=n_phase1 if kind != "t2" else None, phi=phi, shift=spec.shift_sigma,
            beta=spec.beta,
        )  # fmt: skip
        return lim.limit, lim.explanation
    if kind == "spe":
        lim = limit_for_budget(budget, "pca")
        return lim.limit, lim.explanation
    if kind == "mewma":
        p, lam = len(spec.quantities), spec.lam or 0.1
        with threadpool_limits(limits=1, user_api="blas"):  # many small solves
            h = calibrate("mewma", budget.arl0, p=p, lam=lam)
        return h, (
            f"{budget.explanation} -> mewma (p = {p}, lam = {lam:g}, asymptotic covariance):"
            f" h = {h:.3f} (ARL0 by Runger & Prabhu's Markov chain)"
        )
    raise ValueError(f"{rule.name}: no budgeted limit for a {kind} chart")


def explain_chart_rules(rules: Sequence[Any]) -> list[str]:
    """One line per chart rule: its chart and how its limit comes about (shown at start)."""
    n = _n_budgeted(rules)
    out = []
    for rule in rules:
        spec = getattr(rule, "chart", None)
        if spec is None or not rule.enabled:
            continue
        if not spec.budgeted:
            key = LIMIT_KEY[rule.kind]
            out.append(f"{_what(rule)}: {key} = {getattr(spec, key):g} as given (no budget)")
        elif spec.sample_interval_s is None:
            out.append(
                f"{_what(rule)}: budget {spec.false_alarms_per_day:g} false alarm(s) per 24 h"
                f" over {n} chart(s); the sample interval is measured over the warm-up, the"
                " limit follows then"
            )
        else:
            _, text = _limit(rule, _budget(rule, n, spec.sample_interval_s, False))
            out.append(f"{_what(rule)}: {text}")
    return out


# ----------------------------------------------------------------------------- the runner
class ChartRunner:
    """One chart rule on one sensor: phase I on the warm-up, then the chart on each value.

    ``update(t, x)`` takes a float (univariate) or a vector (multivariate, NaN-free); after it
    ``drift_detected`` and ``reason`` are the chart's. ``explanation`` describes phase I and
    the limit once the warm-up is over ("" before).
    """

    def __init__(self, rule: Any, n_budgeted: int):
        self.rule = rule
        self.n_budgeted = n_budgeted
        self._t: list[datetime] = []
        self._x: list[Any] = []
        self._chart: Any = None
        self._white: list[Ar1Whitener] = []
        self._centre: Any = None  # multivariate: (mean, sd) of phase I, to standardise
        self._explanation = ""
        self._phase1_check = ""
        self._drift = False

    @property
    def ready(self) -> bool:
        return self._chart is not None

    @property
    def chart(self) -> Any:
        return self._chart

    @property
    def explanation(self) -> str:
        return self._explanation

    @property
    def drift_detected(self) -> bool:
        return self._drift

    @property
    def phase1_check(self) -> str:
        """ "" when phase I looked stationary, else what moved between its halves."""
        return self._phase1_check

    def update(self, t: datetime, x: Any) -> None:
        self._drift = False
        if self.rule.chart.transform == "log":  # skewed positive statistics (rms, maxima)
            if self.rule.kind in MULTIVARIATE:
                if not (x > 0.0).all():
                    return  # not charted: a log needs positive values
                x = np.log(x)
            elif x > 0.0:
                x = math.log(x)
            else:
                return
        if self._chart is None:
            self._t.append(t)
            self._x.append(x)
            span = (t - self._t[0]).total_seconds()
            if span >= self.rule.chart.warmup_s and len(self._x) >= _MIN_WARMUP_N:
                self._phase1()
            return
        if self._white:
            if self.rule.kind in MULTIVARIATE:
                for w, v in zip(self._white, x):
                    w.update(float(v))
                x = np.array([w.residual for w in self._white])
                if not np.isfinite(x).all():
                    return
            else:
                self._white[0].update(float(x))
                x = self._white[0].residual
        elif self._centre is not None:
            x = (x - self._centre[0]) / self._centre[1]
        self._chart.update(x)
        self._drift = self._chart.drift_detected

    # phase I --------------------------------------------------------------------------
    def _phase1(self) -> None:
        rule, spec = self.rule, self.rule.chart
        xs = np.asarray(self._x, dtype=float)
        times = self._t
        gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:])]
        dt = spec.sample_interval_s or statistics.median(gaps)
        if not dt > 0:
            dt = 1.0
        notes = []
        phi = None
        if spec.residuals == "ar1":
            cols = xs[:, None] if xs.ndim == 1 else xs
            res = []
            for j in range(cols.shape[1]):
                try:
                    fit = fit_ar1(cols[:, j])
                except ValueError as e:
                    self._fail(f"AR(1) fit of phase I: {e}")
                    return
                w = Ar1Whitener(mu=fit.mu, phi=fit.phi, sigma_e=fit.sigma_e)
                r = []
                for v in cols[:, j]:
                    w.update(float(v))
                    r.append(w.residual)
                self._white.append(w)
                res.append(r)
                phi = fit.phi
                notes.append(f"phi {fit.phi:.3f}, sigma_e {fit.sigma_e:.4g}")
            ref = np.array(res).T[1:]  # the first has no predecessor
            mu0, sigma = 0.0, 1.0
            notes = ["AR(1) " + "; ".join(notes)]
        else:
            ref = xs[:, None] if xs.ndim == 1 else xs
            mu0 = spec.mu0 if spec.mu0 is not None else float(np.mean(ref))
            sigma = spec.sigma if spec.sigma is not None else float(np.std(ref, ddof=1))
            if rule.kind in MULTIVARIATE:  # units apart by 1e11 would make S look singular
                centre, sd = ref.mean(axis=0), ref.std(axis=0, ddof=1)
                if not (sd > 0).all():
                    self._fail(f"{spec.quantities[int(np.argmin(sd))]} is constant in phase I")
                    return
                self._centre = (centre, sd)
                ref = (ref - centre) / sd
        if rule.kind not in MULTIVARIATE:
            if not sigma > 0:
                self._fail("the warm-up's values are constant; give 'sigma'")
                return
            if spec.residuals != "ar1":
                notes.append(f"mu0 {mu0:.4g}, sigma {sigma:.4g}")
        if spec.budgeted:
            # estimated in phase I (not both given): widen the limit for the estimation error
            estimated = spec.residuals == "ar1" or spec.mu0 is None or spec.sigma is None
            n1 = len(ref) if estimated and rule.kind not in MULTIVARIATE else None
            budget = _budget(rule, self.n_budgeted, dt, not spec.sample_interval_s)
            limit, how = _limit(rule, budget, n1, phi if n1 else None)
        else:
            key = LIMIT_KEY[rule.kind]
            limit, how = getattr(spec, key), f"{key} = {getattr(spec, key):g} as given"
        names = tuple(q.split(".", 1)[1] for q in spec.quantities)
        try:
            self._chart = self._build(rule.kind, spec, limit, mu0, sigma, ref, names)
        except ValueError as e:
            self._fail(str(e))
            return
        n = len(self._x)
        self._phase1_check = phase1_check(ref, spec.quantities or (rule.quantity,))
        warn = (
            f"; WARNING {self._phase1_check}. The limit assumes a stationary, normal stream: expect"
            " false alarms off the budget (chart a steadier quantity, a model's residuals, or"
            " transform = 'log' for a skewed one)"
            if self._phase1_check
            else ""
        )
        self._explanation = (
            f"{_what(rule)}: phase I on {n} values ({', '.join(notes) or 'reference'}); {how}{warn}"
        )
        self._t, self._x = [], []

    def _fail(self, why: str) -> None:
        """Phase I could not set the chart up: learn again from the next values."""
        self._explanation = f"{_what(self.rule)}: phase I failed ({why}); learning again"
        self._t, self._x, self._white, self._centre = [], [], [], None

    @staticmethod
    def _build(kind, spec, limit, mu0, sigma, ref, names) -> Any:
        if kind == "shewhart":
            rules = spec.run_rules or ("none" if spec.budgeted else "western_electric")
            return Shewhart(mu0=mu0, sigma=sigma, L=limit, rules=rules)
        if kind == "cusum":
            return Cusum(mu0=mu0, sigma=sigma, k=spec.k, h=limit, sides=spec.sides,
                         head_start=spec.head_start)  # fmt: skip
        if kind == "ewma":
            return Ewma(mu0=mu0, sigma=sigma, lam=spec.lam or 0.2, L=limit,
                        exact_limits=not spec.budgeted)  # fmt: skip
        if kind == "sprt":
            return Sprt(mu0=mu0, sigma=sigma, shift_sigma=spec.shift_sigma, alpha=limit,
                        beta=spec.beta)  # fmt: skip
        if kind == "t2":
            return HotellingT2(ref, alpha=limit, quantities=names)
        if kind == "mewma":
            mean, cov = reference_stats(ref)
            return Mewma(mean, cov, h=limit, lam=spec.lam or 0.1,
                         exact_covariance=not spec.budgeted, quantities=names)  # fmt: skip
        return PcaMonitor(ref, n_components=spec.n_components, explained=spec.explained,
                          alpha=limit, quantities=names)  # fmt: skip

    # the message --------------------------------------------------------------------------
    def message(self) -> str:
        """What fired: the chart, its statistic against its limit, the rule or contributions."""
        reason = self._chart.reason if self._chart is not None else ""
        on = "AR(1) residuals of " if self.rule.chart.residuals == "ar1" else ""
        what = ", ".join(self.rule.chart.quantities) or self.rule.quantity
        if self.rule.chart.transform == "log":
            what = f"log {what}"
        return f"{self.rule.kind} chart on {on}{what}: {reason}"

    def values(self) -> dict[str, float]:
        c = self._chart
        out = {"statistic": float(c.statistic), "limit": float(c.limit)}
        return {k: v for k, v in out.items() if math.isfinite(v)}
