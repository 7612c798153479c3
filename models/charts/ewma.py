"""EWMA chart with exact time-varying or asymptotic limits.

Roberts, Technometrics 1 (1959) 239; limits as in Lucas & Saccucci, Technometrics 32 (1990) 1
and Montgomery, Introduction to Statistical Quality Control, section 9.2 (eqs. 9.22-9.25)::

    z_i = lam * x_i + (1 - lam) * z_{i-1},      z_0 = mu0
    limits_i = mu0 +- L * sigma * sqrt(lam / (2 - lam) * (1 - (1 - lam)^(2 i)))

``exact_limits=True`` uses the time-varying width above (narrow at first, so an early shift is
caught sooner); ``exact_limits=False`` drops the ``(1 - lam)^(2i)`` term, as in the ARL tables
of Lucas & Saccucci (1990), which :func:`synthwatch.models.charts.arl.ewma_arl` reproduces. After
a signal the chart restarts at ``z = mu0`` with its limits' clock reset.

>>> import numpy as np
>>> rng = np.random.default_rng(2)
>>> x = np.r_[rng.normal(0.0, 1.0, 100), rng.normal(1.0, 1.0, 100)]
>>> chart = Ewma(mu0=0.0, sigma=1.0, lam=0.1, L=2.814)
>>> alarms = []
>>> for i, xi in enumerate(x):
...     chart.update(xi)
...     if chart.drift_detected:
...         alarms.append((i, chart.reason))
>>> alarms[0][0]
106
>>> alarms[0][1]
'ewma: z = 0.6... beyond the upper limit 0.6... (mu0 = 0, L = 2.814, lam = 0.1, exact limits)'
>>> [round(v, 3) for v in Ewma(lam=0.1, L=3.0, exact_limits=False).limits]
[-0.688, 0.688]
"""

from __future__ import annotations

import math
from typing import Any

from synthwatch.models.base import Model
from synthwatch.models.charts.base import (
    Chart,
    as_float,
    check_finite,
    check_lam,
    check_positive,
)

__all__ = ["Ewma"]


class Ewma(Chart, Model):
    """EWMA of the observations against ``mu0 +- L sigma_z`` (see the module docstring).

    Parameters: ``mu0``, ``sigma`` (in the quantity's units), ``lam`` in (0, 1], ``L`` (limit
    width in sigma_z), ``exact_limits`` (time-varying, else asymptotic), ``quantity`` the name read
    from an Estimate. For an ``L`` from an in-control ARL use
    :func:`synthwatch.models.charts.arl.calibrate`.
    """

    name = "ewma"
    version = "1"

    def __init__(
        self,
        mu0: float = 0.0,
        sigma: float = 1.0,
        lam: float = 0.2,
        L: float = 3.0,
        exact_limits: bool = True,
        quantity: str | None = None,
    ):
        self.mu0 = mu0
        self.sigma = sigma
        self.lam = lam
        self.L = L
        self.exact_limits = exact_limits
        self.quantity = quantity
        self._mu = check_finite("mu0", mu0)
        self._sigma = check_positive("sigma", sigma)
        self._lam = check_lam(lam)
        self._L = check_positive("L", L)
        if not isinstance(exact_limits, bool):
            raise ValueError(f"exact_limits: expected True or False, got {exact_limits!r}")
        self._exact = exact_limits
        self._mode = "exact" if exact_limits else "asymptotic"
        self._w_inf = self._L * self._sigma * math.sqrt(self._lam / (2.0 - self._lam))
        self._a2 = (1.0 - self._lam) ** 2
        self._restart()
        self._n = 0
        self._n_invalid = 0
        self._reason = ""

    def _restart(self) -> None:
        self._z = self._mu
        self._f = 1.0  # (1 - lam)^(2 i)
        self._w = 0.0
        self._drift = False

    def update(self, x: Any) -> None:
        if x.__class__ is not float:
            x = as_float(x, self.quantity)
        if x - x != 0.0:
            self._n_invalid += 1
            if self._drift:  # the update after a signal starts afresh, an invalid one too
                self._restart()
            return
        self._n += 1
        if self._drift:
            self._restart()
        lam = self._lam
        self._z = z = lam * x + (1.0 - lam) * self._z
        if self._exact:
            self._f *= self._a2
            self._w = w = self._w_inf * math.sqrt(1.0 - self._f)
        else:
            self._w = w = self._w_inf
        d = z - self._mu
        if d > w or d < -w:
            self._drift = True
            side = "upper" if d > 0 else "lower"
            self._reason = (
                f"ewma: z = {z:.4g} beyond the {side} limit {self._mu + math.copysign(w, d):.4g}"
                f" (mu0 = {self.mu0:g}, L = {self._L:g}, lam = {lam:g}, {self._mode} limits)"
            )

    @property
    def statistic(self) -> float:
        """The EWMA ``z`` (the quantity's units)."""
        return self._z

    @property
    def limits(self) -> tuple[float, float]:  # type: ignore[override]
        """(lower, upper) for the next point (exact: at the last one's time step)."""
        w = self._w if (self._exact and self._w > 0.0) else self._w_inf
        if self._exact and self._w == 0.0:
            w = self._w_inf * math.sqrt(1.0 - self._a2)
        return (self._mu - w, self._mu + w)

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        return {"mu0": 0.5, "sigma": 0.01, "lam": 0.2, "L": 2.9}
