"""Hotelling T² and MEWMA charts on a vector of quantities (a run's estimates).

:class:`HotellingT2` (Hotelling, in Techniques of Statistical Analysis (1947) 111) estimates
the mean ``xbar`` and covariance ``S`` from ``m`` in-control reference observations (phase I:
e.g. the estimates of golden-batch runs) and charts each new observation ``x`` (phase II)::

    T2 = (x - xbar)^T S^-1 (x - xbar)
    UCL = p (m + 1) (m - 1) / (m (m - p)) * F(1 - alpha; p, m - p)

the phase II limit for individual observations of Tracy, Young & Mason, J. Quality Technology
24 (1992) 88 (Montgomery, Introduction to Statistical Quality Control, eq. 11.19), which
accounts for ``xbar`` and ``S`` being estimates. :func:`phase1_t2` screens the reference itself
with their phase I limit ``(m - 1)^2 / m * Beta(1 - alpha; p/2, (m - p - 1)/2)``.

:class:`Mewma` is the multivariate EWMA of Lowry, Woodall, Champ & Rigdon, Technometrics 34
(1992) 46::

    Z_i = lam (x_i - mu0) + (1 - lam) Z_{i-1},        T2_i = Z_i^T Sigma_Z,i^-1 Z_i
    Sigma_Z,i = lam / (2 - lam) (1 - (1 - lam)^(2 i)) Sigma       (exact; asymptotic without
                                                                    the (1 - lam)^(2i) term)

Its in-control ARL depends only on ``p`` and ``lam`` (Lowry et al. 1992), and its limit ``h``
here is **simulation-calibrated**: :func:`mewma_h` simulates seeded in-control runs (identity
covariance, vectorised over runs) and solves ARL0(h) = target on them; the Monte Carlo error of
the ARL0 is about ``1/sqrt(n_runs)`` (1.4 % for 5000 runs).

Both split the statistic into per-quantity contributions ``d_j (S^-1 d)_j`` that sum to T²
(Westerhuis, Gurden & Smilde, J. Chemometrics 14 (2000) 335), and name the largest in ``reason``.

>>> import numpy as np
>>> rng = np.random.default_rng(4)
>>> cov = np.array([[1.0, 0.8], [0.8, 1.0]])
>>> ref = rng.multivariate_normal([10.0, 5.0], cov, size=60)
>>> t2 = HotellingT2(ref, alpha=0.005, quantities=("d_mean_nm", "conc_nM"))
>>> round(t2.limit, 2)
12.02
>>> t2.update([10.5, 5.4])            # both up, as the correlation expects: in control
>>> t2.drift_detected
False
>>> t2.update([11.5, 3.6])            # each within 2 sigma, but against the correlation
>>> t2.drift_detected, t2.top_contributors(1)
(True, ('conc_nM',))
>>> print(t2.reason)
hotelling_t2: T2 = 22.28 > UCL 12.02 (phase II F limit, alpha = 0.005, m = 60, p = 2);
largest contributions: conc_nM 11.7, d_mean_nm 10.5
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import linalg, optimize, stats

from synthwatch.models.base import Model
from synthwatch.models.charts.base import (
    MultivariateChart,
    as_vector,
    check_lam,
    check_positive,
    check_probability,
    quantity_names,
)

__all__ = ["HotellingT2", "Mewma", "Phase1", "phase1_t2", "mewma_h", "reference_stats"]


def reference_stats(reference: Any, what: str = "reference") -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance of an (m, p) reference; ValueError naming the problem."""
    a = np.asarray(reference, dtype=float)
    if a.ndim != 2:
        raise ValueError(f"{what}: expected a 2-D array (observations x quantities), got {a.shape}")
    m, p = a.shape
    if m <= p + 1:
        raise ValueError(
            f"{what}: expected more than {p + 1} observations of {p} quantities, got {m}"
        )
    bad = np.argwhere(~np.isfinite(a))
    if bad.size:
        raise ValueError(f"{what}: row {bad[0][0]}, column {bad[0][1]} is not a finite number")
    cov = np.cov(a, rowvar=False).reshape(p, p)
    return a.mean(axis=0), cov


def _inverse(cov: np.ndarray, what: str) -> np.ndarray:
    eig = np.linalg.eigvalsh(cov)
    try:
        if not eig[0] > 1e-10 * eig[-1]:
            raise linalg.LinAlgError("singular")
        c = linalg.cho_factor(cov)
    except linalg.LinAlgError:
        raise ValueError(
            f"{what}: the covariance is singular (a constant or linearly dependent quantity);"
            " drop it or monitor the PCA scores instead"
        ) from None
    return linalg.cho_solve(c, np.eye(cov.shape[0]))


def _alpha(alpha: float) -> float:
    return check_probability("alpha", alpha)


def t2_phase2_limit(p: int, m: int, alpha: float) -> float:
    """Phase II upper control limit of Hotelling's T² for ``p`` variables estimated from ``m``
    reference observations: ``p (m + 1)(m - 1) / (m (m - p)) F(1 - alpha; p, m - p)`` (Tracy,
    Young & Mason 1992; Montgomery, Introduction to Statistical Quality Control, eq. 11.19)."""
    return float(p * (m + 1) * (m - 1) / (m * (m - p)) * stats.f.ppf(1 - alpha, p, m - p))


@dataclass(frozen=True)
class Phase1:
    """Phase I screening of a reference: T² per row, the beta limit, the rows beyond it."""

    t2: np.ndarray
    ucl: float
    outliers: np.ndarray


def phase1_t2(reference: Any, alpha: float = 0.0027) -> Phase1:
    """T² of each reference row against the reference's own mean and covariance (phase I)."""
    mean, cov = reference_stats(reference)
    a = np.asarray(reference, dtype=float)
    m, p = a.shape
    d = a - mean
    t2 = np.einsum("ij,jk,ik->i", d, _inverse(cov, "reference"), d)
    ucl = (m - 1) ** 2 / m * stats.beta.ppf(1 - _alpha(alpha), p / 2, (m - p - 1) / 2)
    return Phase1(t2, float(ucl), np.flatnonzero(t2 > ucl))


class _Contributions(MultivariateChart):
    _names: tuple[str, ...]
    _d: np.ndarray
    _y: np.ndarray

    @property
    def contributions(self) -> np.ndarray:
        """Per-quantity parts ``d_j (S^-1 d)_j`` of the last statistic (they sum to it)."""
        return self._d * self._y

    def top_contributors(self, n: int = 3) -> tuple[str, ...]:
        """Names of the ``n`` quantities contributing most to the last statistic."""
        return tuple(self._names[j] for j in np.argsort(-self.contributions)[:n])

    def _top_text(self, n: int = 3) -> str:
        c = self.contributions
        order = np.argsort(-c)[:n]
        return ", ".join(f"{self._names[j]} {c[j]:.3g}" for j in order)


class HotellingT2(_Contributions, Model):
    """Phase II Hotelling T² against a phase I reference (see the module docstring).

    Parameters: ``reference`` an (m, p) array of in-control observations, ``alpha`` the false
    alarm probability per observation, ``quantities`` the p names (read from an Estimate or a
    mapping; also used in ``reason``).
    """

    name = "hotelling_t2"
    version = "1"

    def __init__(
        self, reference: Any, alpha: float = 0.0027, quantities: Sequence[str] | None = None
    ):
        self.reference = reference
        self.alpha = alpha
        self.quantities = quantities
        self._mean, cov = reference_stats(reference)
        self._sinv = _inverse(cov, "reference")
        m, p = np.shape(reference)
        self._m, self._p = m, p
        self._names = quantity_names(quantities, p)
        self._ucl = t2_phase2_limit(p, m, _alpha(alpha))
        self._d = np.zeros(p)
        self._y = np.zeros(p)
        self._t2 = math.nan
        self._drift = False
        self._reason = ""
        self._n = 0
        self._n_invalid = 0

    def update(self, x: Any) -> None:
        v = as_vector(x, self.quantities, self._p)
        if v is None:
            self._n_invalid += 1
            self._drift = False
            return
        self._n += 1
        self._d = d = v - self._mean
        self._y = y = self._sinv @ d
        self._t2 = t2 = float(d @ y)
        self._drift = t2 > self._ucl
        if self._drift:
            self._reason = (
                f"hotelling_t2: T2 = {t2:.4g} > UCL {self._ucl:.4g} (phase II F limit,"
                f" alpha = {self.alpha:g}, m = {self._m}, p = {self._p});"
                f" largest contributions: {self._top_text()}"
            )

    @property
    def statistic(self) -> float:
        """The last T² (NaN before the first observation)."""
        return self._t2

    @property
    def limit(self) -> float:
        """The phase II upper control limit."""
        return self._ucl

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        ref = np.random.default_rng(0).normal(0.5, 0.01, size=(30, 1))
        return {"reference": ref, "quantities": ("a_400_au",)}


class Mewma(_Contributions, Model):
    """MEWMA of Lowry et al. (1992) (see the module docstring).

    Parameters: ``mu0`` (p,) and ``cov`` (p, p) of the in-control process, ``lam`` in (0, 1],
    ``h`` the limit of T² (from :func:`mewma_h`, or a published table), ``exact_covariance``
    (time-varying Sigma_Z, else asymptotic), ``quantities`` the p names.
    """

    name = "mewma"
    version = "1"

    def __init__(
        self,
        mu0: Any,
        cov: Any,
        h: float,
        lam: float = 0.1,
        exact_covariance: bool = True,
        quantities: Sequence[str] | None = None,
    ):
        self.mu0 = mu0
        self.cov = cov
        self.h = h
        self.lam = lam
        self.exact_covariance = exact_covariance
        self.quantities = quantities
        self._mu = np.asarray(mu0, dtype=float).ravel()
        p = self._mu.size
        c = np.asarray(cov, dtype=float)
        if c.shape != (p, p) or not np.isfinite(c).all() or not np.isfinite(self._mu).all():
            raise ValueError(f"mu0, cov: expected finite arrays of shapes ({p},) and ({p}, {p})")
        self._p = p
        self._sinv = _inverse(c, "cov")
        self._lam = check_lam(lam)
        self._h = check_positive("h", h)
        self._c_inf = self._lam / (2.0 - self._lam)
        self._a2 = (1.0 - self._lam) ** 2
        self._names = quantity_names(quantities, p)
        self._restart()
        self._t2 = math.nan
        self._reason = ""
        self._n = 0
        self._n_invalid = 0

    def _restart(self) -> None:
        self._z = np.zeros(self._p)
        self._f = 1.0
        self._d = np.zeros(self._p)
        self._y = np.zeros(self._p)
        self._drift = False

    def update(self, x: Any) -> None:
        v = as_vector(x, self.quantities, self._p)
        if v is None:
            self._n_invalid += 1
            if self._drift:  # the update after a signal starts afresh, an invalid one too
                self._restart()
            return
        self._n += 1
        if self._drift:
            self._restart()
        lam = self._lam
        self._z = z = lam * (v - self._mu) + (1.0 - lam) * self._z
        if self.exact_covariance:
            self._f *= self._a2
            c = self._c_inf * (1.0 - self._f)
        else:
            c = self._c_inf
        self._d = z
        self._y = y = (self._sinv @ z) / c
        self._t2 = t2 = float(z @ y)
        if t2 > self._h:
            self._drift = True
            self._reason = (
                f"mewma: T2 = {t2:.4g} > h = {self._h:.4g} (lam = {lam:g}, p = {self._p});"
                f" largest contributions: {self._top_text()}"
            )

    @property
    def statistic(self) -> float:
        """The last MEWMA T² (NaN before the first observation)."""
        return self._t2

    @property
    def limit(self) -> float:
        return self._h

    @property
    def z(self) -> np.ndarray:
        """The MEWMA vector Z (deviation from ``mu0``)."""
        return self._z

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        return {"mu0": [0.5], "cov": [[1e-4]], "lam": 0.2, "h": 7.0, "quantities": ("a_400_au",)}


def mewma_h(
    p: int,
    lam: float,
    arl0: float = 200.0,
    n_runs: int = 5000,
    seed: int = 0,
    exact_covariance: bool = True,
    max_cells: int = 60_000_000,
) -> float:
    """Simulation-calibrated MEWMA limit ``h`` for the in-control ARL ``arl0``.

    Simulates ``n_runs`` seeded in-control runs of ``8 * arl0`` steps (identity covariance:
    the ARL depends only on ``p`` and ``lam``), keeps each run's running maximum of T², and
    solves mean(first passage of h) = arl0. Runs that never pass h count with their full length
    (a bias of about exp(-8) of the ARL0). ``max_cells`` caps n_runs * steps (memory).
    """
    if not isinstance(p, int) or p < 1:
        raise ValueError(f"p: expected an integer >= 1, got {p!r}")
    lam = check_positive("lam", lam)
    arl0 = check_positive("arl0", arl0)
    steps = int(math.ceil(8 * arl0))
    if n_runs * steps > max_cells:
        raise ValueError(
            f"arl0: {arl0:g} needs {n_runs} x {steps} simulated steps, over max_cells ="
            f" {max_cells}; lower n_runs or raise max_cells"
        )
    rng = np.random.default_rng(seed)
    z = np.zeros((n_runs, p))
    run_max = np.empty((steps, n_runs), dtype=np.float32)
    best = np.zeros(n_runs)
    c_inf = lam / (2.0 - lam)
    for i in range(steps):
        z = lam * rng.standard_normal((n_runs, p)) + (1.0 - lam) * z
        c = c_inf * (1.0 - (1.0 - lam) ** (2 * (i + 1))) if exact_covariance else c_inf
        np.maximum(best, np.einsum("ij,ij->i", z, z) / c, out=best)
        run_max[i] = best

    def arl(h: float) -> float:
        passed = run_max > h
        first = np.where(passed.any(axis=0), passed.argmax(axis=0) + 1, steps)
        return float(first.mean())

    lo, hi = 0.0, float(run_max[-1].max())
    if arl(hi * 0.999999) < arl0:
        raise ValueError(f"arl0: {arl0:g} not reached within {steps} steps")
    return float(optimize.bisect(lambda h: arl(h) - arl0, lo, hi, xtol=1e-4))
