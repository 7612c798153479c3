"""PCA monitoring: Hotelling T² of the scores and SPE (Q) of the residuals, with contributions.

After MacGregor & Kourti, Control Engineering Practice 3 (1995) 403. A PCA model of ``m``
in-control reference observations of ``p`` quantities (each column centred and scaled to unit
variance) keeps ``A`` components (given, or the fewest explaining ``explained`` of the
variance). A new observation ``x`` (standardised the same way) has scores ``t = P^T x`` and
residual ``e = x - P t``:

* ``T2 = sum_a t_a^2 / lambda_a`` (variation inside the model), limited by the phase II F limit
  ``A (m + 1)(m - 1) / (m (m - A)) F(1 - alpha; A, m - A)`` (Tracy, Young & Mason 1992);
* ``SPE = Q = e^T e`` (variation the model does not know: a new kind of fault), limited by
  Jackson & Mudholkar, Technometrics 21 (1979) 341, eq. 3.4, from the discarded eigenvalues
  ``theta_i = sum_{j > A} lambda_j^i``, ``h0 = 1 - 2 theta1 theta3 / (3 theta2^2)``::

      Q_alpha = theta1 (c_alpha sqrt(2 theta2 h0^2) / theta1 + 1
                        + theta2 h0 (h0 - 1) / theta1^2) ^ (1 / h0)

Contributions say which quantities to look at: to SPE ``e_j^2``, to T²
``x_j sum_a t_a p_ja / lambda_a``; each set sums to its statistic (Westerhuis, Gurden &
Smilde, J. Chemometrics 14 (2000) 335). ``reason`` names the largest ones of the statistic that
fired.

Batch processes: :func:`unfold_batchwise` lays each batch's (times × quantities) trajectories
in one row, so the reference is ``I`` batches × ``K J`` columns, as in Nomikos & MacGregor,
Technometrics 37 (1995) 41; centring each column removes the mean trajectory, and the monitor
then scores a completed batch at its end (a batch in progress would need its future filled
in, as Nomikos & MacGregor discuss; not done here).

>>> import numpy as np
>>> rng = np.random.default_rng(6)
>>> t = np.linspace(0.0, 1.0, 20)
>>> def batch(gain, fault=0.0):
...     size = 10 + 5 * gain * t + rng.normal(0, 0.05, t.size)
...     conc = 2 - gain * t + rng.normal(0, 0.05, t.size)
...     temp = 80 + rng.normal(0, 0.05, t.size) + fault * (t > 0.5)
...     return np.c_[size, conc, temp]
>>> ref = unfold_batchwise([batch(rng.normal(1, 0.1)) for _ in range(40)])
>>> ref.shape
(40, 60)
>>> names = unfolded_names(("d_nm", "c_mM", "T_C"), 20)
>>> mon = PcaMonitor(ref, n_components=1, alpha=0.01, quantities=names)
>>> mon.update(unfold_batchwise([batch(1.05)])[0])
>>> mon.drift_detected
False
>>> mon.update(unfold_batchwise([batch(1.0, fault=0.3)])[0])
>>> mon.drift_detected, mon.top_contributors(2)
(True, ('T_C@13', 'T_C@16'))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from synthwatch.models.base import Model
from synthwatch.models.charts.base import (
    MultivariateChart,
    as_vector,
    check_probability,
    quantity_names,
)
from synthwatch.models.charts.multivariate import t2_phase2_limit

__all__ = ["PcaMonitor", "unfold_batchwise", "unfolded_names", "spe_limit"]


def unfold_batchwise(batches: Any) -> np.ndarray:
    """(I batches, K times, J quantities) → (I, K J): row i is batch i, time-major columns."""
    a = np.asarray(batches, dtype=float)
    if a.ndim != 3:
        raise ValueError(f"batches: expected (batches, times, quantities), got shape {a.shape}")
    return a.reshape(a.shape[0], a.shape[1] * a.shape[2])


def unfolded_names(quantities: Sequence[str], n_times: int) -> tuple[str, ...]:
    """Column names of :func:`unfold_batchwise`: ``"<quantity>@<time index>"``."""
    return tuple(f"{q}@{k}" for k in range(n_times) for q in quantities)


def spe_limit(residual_eigenvalues: np.ndarray, alpha: float) -> float:
    """Jackson & Mudholkar's (1979) limit of SPE from the eigenvalues the model leaves out."""
    lam = np.asarray(residual_eigenvalues, dtype=float)
    lam = lam[lam > 1e-12 * max(float(lam.max(initial=0.0)), 1e-300)]
    if lam.size == 0:
        return math.inf
    th1, th2, th3 = (float(np.sum(lam**i)) for i in (1, 2, 3))
    h0 = 1.0 - 2.0 * th1 * th3 / (3.0 * th2 * th2)
    c = float(stats.norm.ppf(1.0 - alpha))
    inner = c * math.sqrt(2.0 * th2 * h0 * h0) / th1 + 1.0 + th2 * h0 * (h0 - 1.0) / (th1 * th1)
    return th1 * inner ** (1.0 / h0)


class PcaMonitor(MultivariateChart, Model):
    """T² and SPE of a PCA model of a reference (see the module docstring).

    Parameters: ``reference`` (m, p) in-control observations (batch-wise unfolded batches, or
    a run's estimates), ``n_components`` (None: the fewest explaining ``explained`` of the
    variance), ``alpha`` the false alarm probability of each limit, ``quantities`` the p
    names. ``statistic``/``limit`` are SPE's; ``t2``/``t2_limit`` the scores'. It signals when
    either is beyond its limit.
    """

    name = "pca_monitor"
    version = "1"

    def __init__(
        self,
        reference: Any,
        n_components: int | None = None,
        explained: float = 0.9,
        alpha: float = 0.01,
        quantities: Sequence[str] | None = None,
    ):
        self.reference = reference
        self.n_components = n_components
        self.explained = explained
        self.alpha = alpha
        self.quantities = quantities
        a = np.asarray(reference, dtype=float)
        if a.ndim != 2 or a.shape[0] < 3:
            raise ValueError(f"reference: expected (m >= 3, p) observations, got {a.shape}")
        bad = np.argwhere(~np.isfinite(a))
        if bad.size:
            raise ValueError(f"reference: row {bad[0][0]}, column {bad[0][1]} is not finite")
        check_probability("alpha", alpha)
        m, p = a.shape
        self._m, self._p = m, p
        self._mean = a.mean(axis=0)
        sd = a.std(axis=0, ddof=1)
        flat = np.flatnonzero(~(sd > 0))
        if flat.size:
            raise ValueError(f"reference: column {flat[0]} is constant; drop it")
        self._inv_sd = 1.0 / sd
        xs = (a - self._mean) * self._inv_sd
        _, s, vt = np.linalg.svd(xs, full_matrices=False)
        eig = s**2 / (m - 1)
        rank = int(np.sum(eig > 1e-12 * eig[0]))
        if n_components is None:
            if not 0.0 < explained <= 1.0:
                raise ValueError(f"explained: expected a fraction in (0, 1], got {explained}")
            frac = np.cumsum(eig) / eig.sum()
            n_a = int(np.searchsorted(frac, explained - 1e-12) + 1)
        else:
            n_a = n_components
        if not (isinstance(n_a, int) and 1 <= n_a <= min(rank, m - 2)):
            raise ValueError(
                f"n_components: expected an integer from 1 to {min(rank, m - 2)}, got {n_a!r}"
            )
        self._a = n_a
        self._p_load = vt[:n_a].T.copy()  # (p, A)
        self._eig = eig
        self._inv_eig = 1.0 / eig[:n_a]
        self._t2_lim = t2_phase2_limit(n_a, m, alpha)
        self._spe_lim = spe_limit(eig[n_a:], alpha)
        self._names = quantity_names(quantities, p)
        self._x = np.zeros(p)
        self._t = np.zeros(n_a)
        self._e = np.zeros(p)
        self._t2 = math.nan
        self._spe = math.nan
        self._which = ""
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
        self._x = xs = (v - self._mean) * self._inv_sd
        self._t = t = xs @ self._p_load
        self._e = e = xs - self._p_load @ t
        self._t2 = t2 = float(t @ (t * self._inv_eig))
        self._spe = spe = float(e @ e)
        fired = [
            w for w, s, lim in (("SPE", spe, self._spe_lim), ("T2", t2, self._t2_lim)) if s > lim
        ]
        self._drift = bool(fired)
        if fired:
            self._which = fired[0]
            parts = [
                f"SPE = {spe:.4g} (limit {self._spe_lim:.4g})",
                f"T2 = {t2:.4g} (limit {self._t2_lim:.4g})",
            ]
            top = self.contributions
            order = np.argsort(-top)[:3]
            self._reason = (
                f"pca_monitor: {' and '.join(fired)} beyond limit: {', '.join(parts)};"
                f" {self._a} of {self._p} components, alpha = {self.alpha:g};"
                f" largest {self._which} contributions: "
                + ", ".join(f"{self._names[j]} {top[j]:.3g}" for j in order)
            )

    @property
    def statistic(self) -> float:
        """The last SPE (Q)."""
        return self._spe

    @property
    def limit(self) -> float:
        """Jackson & Mudholkar's limit of SPE."""
        return self._spe_lim

    @property
    def t2(self) -> float:
        """The last T² of the scores."""
        return self._t2

    @property
    def t2_limit(self) -> float:
        """The phase II F limit of the scores' T²."""
        return self._t2_lim

    @property
    def n_components_used(self) -> int:
        """A, the components kept."""
        return self._a

    @property
    def spe_contributions(self) -> np.ndarray:
        """``e_j^2`` of the last observation (sum to SPE)."""
        return self._e * self._e

    @property
    def t2_contributions(self) -> np.ndarray:
        """``x_j sum_a t_a p_ja / lambda_a`` of the last observation (sum to T²)."""
        return self._x * (self._p_load @ (self._t * self._inv_eig))

    @property
    def contributions(self) -> np.ndarray:
        """Contributions to the statistic that fired last (SPE's by default)."""
        return self.t2_contributions if self._which == "T2" else self.spe_contributions

    def top_contributors(self, n: int = 3) -> tuple[str, ...]:
        """Names of the ``n`` quantities contributing most (see :attr:`contributions`)."""
        return tuple(self._names[j] for j in np.argsort(-self.contributions)[:n])

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        ref = np.random.default_rng(0).normal(0.5, 0.01, size=(30, 3))
        return {"reference": ref, "n_components": 1, "quantities": ("a_400_au", "b", "c")}
