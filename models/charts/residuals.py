"""AR(1) whitening: charts on the residuals of autocorrelated 1 Hz streams.

Why. Every ARL, limit and false-alarm budget in :mod:`synthwatch.models.charts.arl` and
:mod:`synthwatch.models.charts.budget` assumes independent observations. A sensor read at 1 Hz
is not: temperature, a peak position or a fitted resistance wanders slowly, so each reading is
close to the last (lag-1 autocorrelation ``phi`` of 0.5-0.95 is common). On such a stream a
CUSUM or EWMA accumulates the wander as if it were a shift, and false alarms come many times
more often than the ARL0 says (Alwan & Roberts, J. Business & Economic Statistics 6 (1988) 87;
Harris & Ross, Canadian J. Chem. Eng. 69 (1991) 48; Montgomery, Introduction to Statistical
Quality Control, section 10.4). The remedy of Alwan & Roberts is to fit a time-series model to
in-control data and chart its one-step-ahead residuals, which are independent when the model
fits, so the calibration holds again. For the AR(1) model::

    x_t - mu = phi (x_{t-1} - mu) + e_t,     e_t ~ N(0, sigma_e^2)
    residual r_t = (x_t - mu - phi (x_{t-1} - mu)) / sigma_e           (N(0, 1) in control)

The price: a step of ``delta`` in the mean shows in the residuals as ``delta / sigma_e`` once
and ``(1 - phi) delta / sigma_e`` after (Wardell, Moskowitz & Plante, Technometrics 36 (1994)
3), so a strongly autocorrelated stream needs a chart tuned to the smaller residual shift
(a CUSUM with smaller k), or residuals of the kinetic model where there is one.

The parameters come from phase I: :func:`fit_ar1` on a clean stretch (conditional least
squares of ``x_t`` on ``x_{t-1}``), or :class:`Ar1Whitener` learns them from the first
``n_fit`` observations of the stream and then freezes them. They are not updated further on
purpose: a model that kept learning would absorb a shift into its mean and hide it.

>>> import numpy as np
>>> from synthwatch.models.charts.cusum import Cusum
>>> rng = np.random.default_rng(5)
>>> x = np.empty(20000); x[0] = 0.0
>>> e = rng.normal(0.0, 1.0, x.size)
>>> for t in range(1, x.size):
...     x[t] = 0.8 * x[t - 1] + e[t]
>>> fit = fit_ar1(x[:2000])
>>> round(fit.phi, 2), round(fit.sigma_e, 2)
(0.8, 0.98)
>>> raw = Cusum(mu0=fit.mu, sigma=float(np.std(x[:2000])), k=0.5, h=5.0)
>>> white = Ar1Whitener(mu=fit.mu, phi=fit.phi, sigma_e=fit.sigma_e)
>>> on_res = Cusum(k=0.5, h=5.0)
>>> n_raw = n_res = 0
>>> for xi in x[2000:]:
...     raw.update(xi)
...     white.update(xi)
...     on_res.update(white.residual)
...     n_raw += raw.drift_detected
...     n_res += on_res.drift_detected
>>> n_raw, n_res         # 18000 in-control samples; ARL0 465 means about 39 false alarms
(793, 39)
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from synthwatch.models.base import Model
from synthwatch.models.charts.base import as_float

__all__ = ["Ar1Fit", "fit_ar1", "Ar1Whitener", "phase1_check"]


@dataclass(frozen=True)
class Ar1Fit:
    """An AR(1) fit: mean, lag-1 coefficient, innovation sd, number of pairs used."""

    mu: float
    phi: float
    sigma_e: float
    n: int


def _from_sums(n: int, sx: float, sy: float, sxx: float, sxy: float, syy: float) -> Ar1Fit:
    """Conditional least squares of y = c + phi x from the sums of the (x, y) pairs."""
    if n < 10:
        raise ValueError(f"AR(1) fit: expected at least 10 pairs of observations, got {n}")
    vx = sxx - sx * sx / n
    if not vx > 0:
        raise ValueError("AR(1) fit: the observations are constant; expected some variation")
    phi = (sxy - sx * sy / n) / vx
    if not -1.0 < phi < 1.0:
        raise ValueError(f"AR(1) fit: phi = {phi:.4f} is not stationary (expected |phi| < 1)")
    c = (sy - phi * sx) / n
    sse = syy - 2 * c * sy - 2 * phi * sxy + n * c * c + 2 * c * phi * sx + phi * phi * sxx
    sigma_e = math.sqrt(max(sse, 0.0) / (n - 2))
    if not sigma_e > 0:
        raise ValueError("AR(1) fit: residual sd is 0 (a deterministic series)")
    return Ar1Fit(float(c / (1.0 - phi)), float(phi), float(sigma_e), int(n))


def fit_ar1(x: Any) -> Ar1Fit:
    """Phase I AR(1) fit of the finite values of ``x`` (a 1-D sequence, in time order).

    Non-finite values break the series: only pairs of consecutive finite values are used.
    """
    a = np.asarray(x, dtype=float)
    if a.ndim != 1:
        raise ValueError(f"x: expected a 1-D sequence, got shape {a.shape}")
    ok = np.isfinite(a[1:]) & np.isfinite(a[:-1])
    px, py = a[:-1][ok], a[1:][ok]
    return _from_sums(int(ok.sum()), px.sum(), py.sum(), px @ px, px @ py, py @ py)


class Ar1Whitener(Model):
    """Standardised one-step-ahead AR(1) residuals of a stream (see the module docstring).

    Give ``mu``, ``phi`` and ``sigma_e`` from a phase I fit, or leave all three None to learn
    them from the first ``n_fit`` finite observations (``ready`` turns True after them).
    ``residual`` is the last residual (NaN while learning, after a non-finite observation, and
    for the first observation after one, which has no predecessor); feed it to a chart, which
    counts the NaNs as invalid. ``quantity`` is the name read from an Estimate.
    """

    name = "ar1_residuals"
    version = "1"

    def __init__(
        self,
        mu: float | None = None,
        phi: float | None = None,
        sigma_e: float | None = None,
        n_fit: int = 300,
        quantity: str | None = None,
    ):
        self.mu = mu
        self.phi = phi
        self.sigma_e = sigma_e
        self.n_fit = n_fit
        self.quantity = quantity
        given = [v is not None for v in (mu, phi, sigma_e)]
        if any(given) and not all(given):
            raise ValueError("mu, phi, sigma_e: expected all three (a phase I fit) or none")
        if not isinstance(n_fit, int) or n_fit < 11:
            raise ValueError(f"n_fit: expected an integer >= 11, got {n_fit!r}")
        self._fit: Ar1Fit | None = None
        if all(given):
            if not (-1.0 < float(phi) < 1.0):
                raise ValueError(f"phi: expected -1 < phi < 1, got {phi}")
            if not (math.isfinite(float(mu)) and float(sigma_e) > 0):
                raise ValueError(
                    f"mu, sigma_e: expected finite mu and sigma_e > 0, got {mu}, {sigma_e}"
                )
            self._fit = Ar1Fit(float(mu), float(phi), float(sigma_e), 0)
        self._sums = [0, 0.0, 0.0, 0.0, 0.0, 0.0]
        self._prev = math.nan
        self._r = math.nan
        self._n_invalid = 0
        self._fit_error = ""

    def update(self, x: Any) -> None:
        if x.__class__ is not float:
            x = as_float(x, self.quantity)
        prev = self._prev
        self._prev = x
        if x - x != 0.0:
            self._n_invalid += 1
            self._r = math.nan
            return
        fit = self._fit
        if fit is None:
            self._r = math.nan
            if prev == prev:
                s = self._sums
                s[0] += 1
                s[1] += prev
                s[2] += x
                s[3] += prev * prev
                s[4] += prev * x
                s[5] += x * x
                if s[0] >= self.n_fit - 1:
                    try:
                        self._fit = _from_sums(*s)
                    except ValueError as err:  # e.g. a constant stretch: learn afresh
                        self._fit_error = str(err)
                        self._sums = [0, 0.0, 0.0, 0.0, 0.0, 0.0]
            return
        if prev != prev:
            self._r = math.nan
            return
        self._r = (x - fit.mu - fit.phi * (prev - fit.mu)) / fit.sigma_e

    @property
    def residual(self) -> float:
        """The last standardised residual (NaN when there is none)."""
        return self._r

    @property
    def ready(self) -> bool:
        """True once the AR(1) parameters are known."""
        return self._fit is not None

    @property
    def fit(self) -> Ar1Fit | None:
        """The AR(1) parameters in use (None while learning)."""
        return self._fit

    @property
    def fit_error(self) -> str:
        """Why the last attempt to learn the parameters failed ("" if none did)."""
        return self._fit_error

    @property
    def n_invalid(self) -> int:
        """Non-finite observations seen."""
        return self._n_invalid

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        return {"n_fit": 11}


def phase1_check(ref: Any, names: tuple[str, ...] = (), p_min: float = 1e-3) -> str:
    """Is phase I stationary and normal? "" if so, else what is not, for the explanation.

    Compares the two halves of the phase I values (rows in time order, one column per
    quantity; the residuals a chart will see): their variances by the two-sided F test and
    their means by Welch's t test, each at ``p_min`` after a Bonferroni factor for the
    columns. Every limit the budget gives assumes the chart's input is stationary; a warm-up
    whose spread or level changes between its halves (a reaction still in its transient, a
    model residual that shrinks as its fit settles) says the rest of the run will not look
    like it, and the false alarms will not keep to the budget (RESULTS.md, bench_chart_rules).
    Normal tails, which the limits also assume, are checked by D'Agostino & Pearson's omnibus
    test of skewness and kurtosis (Biometrika 60 (1973) 613; ``scipy.stats.normaltest``): a
    skewed statistic (an rms or a maximum) crosses a normal limit far more often.

    >>> rng = np.random.default_rng(2)
    >>> phase1_check(rng.normal(0, 1, 400))
    ''
    >>> phase1_check(np.r_[rng.normal(0, 2, 200), rng.normal(0, 1, 200)], ("noise",))
    ... # doctest: +ELLIPSIS
    'phase I: noise: sd x0.53 between its halves (p = 1.6e-17); noise: not normal (...)'
    """
    from scipy import stats

    a = np.asarray(ref, dtype=float)
    a = a[:, None] if a.ndim == 1 else a
    a = a[np.isfinite(a).all(axis=1)]
    half = a.shape[0] // 2
    if half < 10:
        return ""
    first, second = a[:half], a[half : 2 * half]
    bonferroni = a.shape[1] * 3
    out = []
    for j in range(a.shape[1]):
        v1, v2 = first[:, j].var(ddof=1), second[:, j].var(ddof=1)
        if not (v1 > 0 and v2 > 0):
            continue
        f = stats.f.cdf(v2 / v1, half - 1, half - 1)
        p_sd = min(1.0, 2 * min(f, 1 - f) * bonferroni)
        p_mean = min(1.0, stats.ttest_ind(first[:, j], second[:, j], equal_var=False).pvalue
                     * bonferroni)  # fmt: skip
        name = names[j] if j < len(names) else f"column {j}"
        if p_sd < p_min:
            out.append(f"{name}: sd x{math.sqrt(v2 / v1):.2f} between its halves (p = {p_sd:.2g})")
        if p_mean < p_min:
            shift = (second[:, j].mean() - first[:, j].mean()) / math.sqrt(v1)
            out.append(f"{name}: mean moved {shift:+.2f} sd between its halves (p = {p_mean:.2g})")
        col = a[:, j]
        with warnings.catch_warnings():  # nearly constant columns: scipy's precision warning
            warnings.simplefilter("ignore", RuntimeWarning)
            p_normal = min(1.0, float(stats.normaltest(col).pvalue) * bonferroni)
        if p_normal < p_min:
            c = col - col.mean()
            skew = float((c**3).mean() / (c**2).mean() ** 1.5)
            kurt = float((c**4).mean() / (c**2).mean() ** 2 - 3.0)
            out.append(
                f"{name}: not normal (skewness {skew:.2f}, excess kurtosis {kurt:.2f}, p ="
                f" {p_normal:.2g})"
            )
    return "phase I: " + "; ".join(out) if out else ""
