"""Numerical core of :mod:`synthwatch.models.kinetics.model`: a bounded history and one curve fit.

* :class:`BinnedHistory` keeps a run's observations as at most ``max_bins`` time bins (sum and
  count). When the run outgrows them, neighbouring bins merge and the bin width doubles, so the
  memory and the cost of a fit stay bounded however long the run: an update at hour 24 costs
  what one at hour 1 does.
* :func:`fit_curve` fits ``y = amplitude * f(t - onset)`` of one mechanism of
  :mod:`~synthwatch.models.kinetics.curves` by weighted least squares (bin counts as weights;
  scipy's trust-region reflective solver, Branch, Coleman & Li, SIAM J. Sci. Comput. 21 (1999)
  1), with the covariance ``(J^T W J)^-1 s^2`` and the corrected Akaike criterion (AICc,
  Hurvich & Tsai, Biometrika 76 (1989) 297) for choosing between mechanisms.

>>> h = BinnedHistory(max_bins=8, bin_s=1.0)
>>> for t in range(20):
...     h.add(float(t), 2.0 * t)
>>> h.bin_s, h.arrays()[0].tolist(), h.arrays()[2].tolist()      # width doubled twice
(4.0, [1.5, 5.5, 9.5, 13.5, 17.5], [4.0, 4.0, 4.0, 4.0, 4.0])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from synthwatch.models.kinetics.curves import Mechanism

__all__ = ["BinnedHistory", "CurveFit", "fit_curve"]

_LN_BOUNDS = {"avrami_n": (math.log(0.3), math.log(8.0))}
_LN_RATE_BOUNDS = (math.log(1e-9), math.log(10.0))


class BinnedHistory:
    """Observations (t_s, y) in at most ``max_bins`` bins of equal width from t = 0.

    ``t_s`` is the time since the run's start. Bin ``k`` covers ``[k w, (k+1) w)``; its point is
    the mean time and mean value of what fell in it.
    """

    def __init__(self, max_bins: int = 240, bin_s: float = 10.0):
        if max_bins < 8 or max_bins % 2:
            raise ValueError(f"max_bins: expected an even number >= 8, got {max_bins}")
        if not bin_s > 0:
            raise ValueError(f"bin_s: expected > 0, got {bin_s}")
        self.max_bins = max_bins
        self.bin_s = float(bin_s)
        self._t = np.zeros(max_bins)
        self._y = np.zeros(max_bins)
        self._n = np.zeros(max_bins)

    def add(self, t_s: float, y: float) -> None:
        if t_s < 0:
            t_s = 0.0
        k = int(t_s // self.bin_s)
        while k >= self.max_bins:
            self._merge()
            k = int(t_s // self.bin_s)
        self._t[k] += t_s
        self._y[k] += y
        self._n[k] += 1

    def _merge(self) -> None:
        for a in (self._t, self._y, self._n):
            half = a.reshape(-1, 2).sum(axis=1)
            a[: half.size] = half
            a[half.size :] = 0.0
        self.bin_s *= 2.0

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(mean t_s, mean y, count) of the bins that hold observations."""
        used = self._n > 0
        n = self._n[used]
        return self._t[used] / n, self._y[used] / n, n

    @property
    def count(self) -> int:
        return int(self._n.sum())


@dataclass
class CurveFit:
    """One mechanism fitted: log-parameters, amplitude, onset, covariance and criteria.

    ``cov`` is over (theta..., amplitude[, onset_s]); ``sigma`` the noise sd of one observation.
    """

    mechanism: Mechanism
    theta: np.ndarray
    amplitude: float
    onset_s: float
    cov: np.ndarray
    rss: float
    sigma: float
    n_bins: int
    aicc: float
    fit_onset: bool

    def conversion(self, t_s: np.ndarray) -> np.ndarray:
        return self.mechanism.conversion(np.asarray(t_s, dtype=float) - self.onset_s, self.theta)

    def time_to(self, c: float) -> float:
        """Time since the run's start (s) at which conversion ``c`` is reached."""
        return self.onset_s + self.mechanism.time_to(c, self.theta)

    def time_to_sd_ln(self, c: float) -> float:
        """sd of ln(time_to(c)) by the delta method (central differences over the parameters)."""
        p = self._params()
        grad = np.zeros(p.size)
        for j in range(p.size):
            h = 1e-5 * max(abs(p[j]), 1.0)
            hi, lo = p.copy(), p.copy()
            hi[j] += h
            lo[j] -= h
            grad[j] = (math.log(self._time_at(hi, c)) - math.log(self._time_at(lo, c))) / (2 * h)
        v = float(grad @ self.cov @ grad)
        return math.sqrt(v) if v >= 0 else math.nan

    def _params(self) -> np.ndarray:
        extra = [self.amplitude] + ([self.onset_s] if self.fit_onset else [])
        return np.concatenate([self.theta, extra])

    def _time_at(self, p: np.ndarray, c: float) -> float:
        k = self.mechanism.n_params
        onset = p[k + 1] if self.fit_onset else self.onset_s
        return onset + self.mechanism.time_to(c, p[:k])


def fit_curve(
    mech: Mechanism,
    t_s: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray,
    theta0: np.ndarray | None = None,
    amplitude0: float | None = None,
    onset0: float = 0.0,
    fit_onset: bool = False,
) -> CurveFit | None:
    """Weighted least squares of ``amplitude * f(t - onset; theta)``; None if it fails."""
    k = mech.n_params
    theta0 = np.asarray(mech.theta0 if theta0 is None else theta0, dtype=float)
    if amplitude0 is None or not math.isfinite(amplitude0) or amplitude0 == 0:
        amplitude0 = float(y[np.argmax(np.abs(y))]) or 1.0
    sw = np.sqrt(weights)
    t_end = float(t_s.max())

    def unpack(x):
        return x[:k], x[k], (x[k + 1] if fit_onset else onset0)

    def resid(x):
        theta, amp, onset = unpack(x)
        return sw * (y - amp * mech.conversion(t_s - onset, theta))

    lo = [(_LN_BOUNDS.get(n) or _LN_RATE_BOUNDS)[0] for n in mech.param_names]
    hi = [(_LN_BOUNDS.get(n) or _LN_RATE_BOUNDS)[1] for n in mech.param_names]
    lo.append(-np.inf)
    hi.append(np.inf)
    x0 = list(np.clip(theta0, lo[:k], hi[:k])) + [amplitude0]
    if fit_onset:
        lo.append(0.0)
        hi.append(max(t_end, 1.0))
        x0.append(min(max(onset0, 0.0), max(t_end, 1.0)))
    n = y.size
    p = len(x0)
    if n < p + 3:
        return None
    try:
        res = least_squares(resid, np.asarray(x0), bounds=(lo, hi), method="trf", x_scale="jac")
    except (ValueError, FloatingPointError, np.linalg.LinAlgError):
        return None
    if not res.success and res.status <= 0:
        return None
    rss = float(res.fun @ res.fun)
    dof = max(n - p, 1)
    s2 = rss / dof
    try:
        cov = np.linalg.inv(res.jac.T @ res.jac) * s2
    except np.linalg.LinAlgError:
        cov = np.full((p, p), np.nan)
    q = p + 1  # the noise variance is estimated too
    aicc = n * math.log(max(rss, 1e-300) / n) + 2 * q + (2 * q * (q + 1) / max(n - q - 1, 1))
    theta, amp, onset = unpack(res.x)
    return CurveFit(
        mech,
        np.asarray(theta, dtype=float).copy(),
        float(amp),
        float(onset),
        cov,
        rss,
        math.sqrt(s2),
        n,
        aicc,
        fit_onset,
    )
