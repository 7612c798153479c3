"""Tabular CUSUM with a fixed reference, and Hawkins' self-starting CUSUM.

:class:`Cusum` is Page's tabular CUSUM (Page, Biometrika 41 (1954) 100) on the standardised
observation ``z = (x - mu0) / sigma``, as in Montgomery, Introduction to Statistical Quality
Control, section 9.1 (eqs. 9.2-9.3)::

    S_hi = max(0, S_hi + z - k)        S_lo = max(0, S_lo - z - k)

signalling when a sum exceeds ``h`` (both are in sigma units). ``k`` is half the shift to detect
fastest (0.5 for a 1 sigma shift). ``sides`` chooses one- or two-sided. ``head_start`` is the
fast initial response of Lucas & Crosier, Technometrics 24 (1982) 199: the sums start (and
restart after a signal) at ``head_start`` instead of 0, typically ``h / 2``, so a process that is
out of control from the start is caught sooner, while an in-control one soon drops back to 0.

:class:`SelfStartingCusum` needs no ``mu0`` or ``sigma``: Hawkins, The Statistician 36 (1987) 299.
Each observation is standardised by the mean and sd of the ones before it, turned into a
Student t with ``n - 2`` degrees of freedom and mapped to a standard normal::

    T_n = (x_n - mean_{n-1}) / s_{n-1} * sqrt((n - 1) / n)
    U_n = Phi^-1( F_t(T_n; n - 2) )

From 20 degrees of freedom on, ``Phi^-1(F_t)`` is Hill's normalising transformation (Comm.
ACM 13 (1970) 617, Algorithm 395): with ``a = nu - 1/2``, ``b = 48 a^2``,
``w = sqrt(a ln(1 + t^2 / nu))``, ``U = w + (w^3 + 3w) / b - (4w^7 + 33w^5 + 240w^3 + 855w) /
(10 b (b + 0.8 w^4 + 100))``, within 1e-7 of the exact value for ``|U| < 6`` (tested) and
ten times cheaper than scipy's ``ndtri(stdtr(nu, t))``. Below 20 the exact value is taken:
``F_t`` from its finite series (Abramowitz & Stegun 26.7.3) and scipy's ``ndtri``, or scipy's
``stdtr`` where ``P(|T| <= |t|) > 0.99`` (the series would lose digits there). ``t^2 / nu`` is
Welford's increment of the sum of squares over that sum, ``d (x_n - mean_n) / M2_{n-1}``, so
no square root is taken for ``t``; the second correction is added where it exceeds 1e-9, i.e.
where ``a < 69 + 15 w^2`` (a bound fitted over ``w^2`` in [0, 100] and tested against the full
formula: U within 1e-9 of Hill's, from 20 degrees of freedom).
The ``U_n`` of an in-control normal process are independent N(0, 1) (Hawkins 1987, eq. 2), so
the CUSUM on them has the ARL of the fixed-reference chart with the same k and h, from the
third observation on. After a signal the chart starts learning afresh (a new regime). The step
(Welford's mean and sd, Hill's transformation, both sums) runs in
:mod:`synthwatch.models.charts.cusum_kernel`, compiled by Cython where the package was built
with a C compiler, interpreted (same results) elsewhere.

>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> x = np.r_[rng.normal(5.0, 0.2, 200), rng.normal(5.2, 0.2, 200)]   # a 1 sigma shift at 200
>>> c = Cusum(mu0=5.0, sigma=0.2, k=0.5, h=5.0)
>>> alarms = []
>>> for i, xi in enumerate(x):
...     c.update(xi)
...     if c.drift_detected:
...         alarms.append(i)
>>> alarms[:1], c.limits
([203], (0.0, 5.0))
>>> ss = SelfStartingCusum(k=0.5, h=5.0)
>>> first = None
>>> for i, xi in enumerate(x):
...     ss.update(xi)
...     if ss.drift_detected and first is None:
...         first = i
>>> first
201
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from scipy import special

from synthwatch.models.base import Model
from synthwatch.models.charts.base import Chart, as_float, check_finite, check_positive
from synthwatch.models.charts.cusum_kernel import EXACT, SelfStartingStep

__all__ = ["Cusum", "SelfStartingCusum", "cusum_step"]

_sqrt = math.sqrt
_atan = math.atan
_ndtri = special.ndtri


def _central_coefficients(nu: int) -> tuple[float, ...]:
    """Coefficients, highest power first, of the finite series of A(t | nu) in cos^2 theta
    (Abramowitz & Stegun 26.7.3): even nu, 1 + x/2 + 1*3 x^2/(2*4) + ... up to x^(nu/2 - 1);
    odd nu, 1 + 2x/3 + 2*4 x^2/(3*5) + ... up to x^((nu - 3)/2) (none for nu = 1)."""
    c, out = 1.0, [1.0]
    for j in range(1, nu // 2 if nu % 2 == 0 else (nu - 1) // 2):
        c *= (2 * j - 1) / (2 * j) if nu % 2 == 0 else (2 * j) / (2 * j + 1)
        out.append(c)
    return tuple(reversed(out)) if nu > 1 else ()


#: nu (as a float: the chart counts in floats) -> (odd, coefficients), for 1 <= nu < 20
_CENTRAL = {float(nu): (nu % 2 == 1, _central_coefficients(nu)) for nu in range(1, 20)}


def _t_to_normal(t: float, nu: float) -> float:
    """``Phi^-1(F_t(t; nu))`` for an integer ``1 <= nu < 20``, exact to rounding.

    Where ``A = P(|T| <= |t|) <= 0.99`` it is the finite series of Abramowitz & Stegun
    26.7.3 (``theta = atan(|t| / sqrt(nu))``; even nu: ``A = sin theta * S(cos^2 theta)``;
    odd nu: ``A = 2 / pi * (theta + sin theta cos theta S(cos^2 theta))``) and scipy's
    ``ndtri``: several times cheaper than ``stdtr``; beyond, where ``1 - A`` would lose digits,
    scipy's ``ndtri(stdtr(nu, t))``. Tested against the latter to 1e-12.
    """
    if -64.0 < t < 64.0:  # A > 0.99 beyond, for every nu >= 1
        odd, coefficients = _CENTRAL[nu]
        r2 = nu + t * t
        x = nu / r2  # cos^2 theta
        sin = abs(t) / _sqrt(r2)
        series = 0.0
        for c in coefficients:
            series = series * x + c
        if odd:
            a = 0.6366197723675814 * (_atan(abs(t) / _sqrt(nu)) + sin * _sqrt(x) * series)
        else:
            a = sin * series
        if a <= 0.99:
            return float(_ndtri(0.5 + 0.5 * a if t >= 0.0 else 0.5 - 0.5 * a))
    u = float(_ndtri(special.stdtr(nu, t)))
    if u - u != 0.0:  # t beyond the t distribution's double precision tail
        u = 8.3 if t > 0.0 else -8.3
    return u


Sides = Literal["two", "upper", "lower"]


def cusum_step(s_hi, s_lo, z, k: float):
    """One step of both sums; works on floats and on numpy arrays (vectorised Monte Carlo)."""
    return np.maximum(0.0, s_hi + z - k), np.maximum(0.0, s_lo - z - k)


def _check_sides(sides: str) -> None:
    if sides not in ("two", "upper", "lower"):
        raise ValueError(f"sides: expected 'two', 'upper' or 'lower', got {sides!r}")


class _CusumCore(Chart):
    """The two sums, the signal and the reset, shared by both CUSUMs."""

    k: float
    h: float
    sides: Sides
    head_start: float

    def _setup(self) -> None:
        self._check()
        self._restart()
        self._reason = ""
        self._n = 0
        self._n_invalid = 0

    def _restart(self) -> None:
        """A new regime: both sums from the head start, no signal."""
        self._s_hi = self._hs if self._up else 0.0
        self._s_lo = self._hs if self._down else 0.0
        self._drift = False

    def _check(self) -> None:
        """Validate k, h, sides and head_start into their private copies."""
        _check_sides(self.sides)
        self._k = check_positive("k", self.k, strict=False)
        self._h = check_positive("h", self.h)
        self._hs = check_positive("head_start", self.head_start, strict=False)
        if self._hs >= self._h:
            raise ValueError(f"head_start: expected < h = {self._h}, got {self._hs}")
        self._up = self.sides != "lower"
        self._down = self.sides != "upper"

    def _why(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def _side(self) -> tuple[str, float]:
        s_hi, s_lo = self.s_hi, self.s_lo
        return ("upper", s_hi) if s_hi >= s_lo else ("lower", s_lo)

    @property
    def s_hi(self) -> float:
        """The upper sum (sigma units)."""
        return self._s_hi

    @property
    def s_lo(self) -> float:
        """The lower sum (sigma units), shown as a positive number."""
        return self._s_lo

    @property
    def statistic(self) -> float:
        """The larger of the two sums (sigma units)."""
        return max(self.s_hi, self.s_lo)

    @property
    def limits(self) -> tuple[float, float]:
        return (0.0, self._h)


class Cusum(_CusumCore, Model):
    """Tabular CUSUM with fixed reference ``mu0``, ``sigma`` (see the module docstring).

    Parameters: ``k`` and ``h`` in sigma units; ``sides`` ``"two"``, ``"upper"`` or
    ``"lower"``; ``head_start`` (FIR, Lucas & Crosier 1982) in sigma units, ``0 <= hs < h``;
    ``quantity`` the name read from an Estimate. For an ``h`` from an in-control ARL use
    :func:`synthwatch.models.charts.arl.calibrate`.
    """

    name = "cusum"
    version = "1"

    def __init__(
        self,
        mu0: float = 0.0,
        sigma: float = 1.0,
        k: float = 0.5,
        h: float = 5.0,
        sides: Sides = "two",
        head_start: float = 0.0,
        quantity: str | None = None,
    ):
        self.mu0 = mu0
        self.sigma = sigma
        self.k = k
        self.h = h
        self.sides = sides
        self.head_start = head_start
        self.quantity = quantity
        self._mu = check_finite("mu0", mu0)
        self._inv_sigma = 1.0 / check_positive("sigma", sigma)
        self._setup()

    def update(self, x: Any) -> None:
        if x.__class__ is not float:
            x = as_float(x, self.quantity)
        z = (x - self._mu) * self._inv_sigma
        if z - z != 0.0:
            self._n_invalid += 1
            if self._drift:  # the update after a signal starts afresh, an invalid one too
                self._restart()
            return
        self._n += 1
        # the sums inlined: this is the hot path of a 1 Hz stream
        if self._drift:
            self._restart()
        k = self._k
        h = self._h
        if self._up:
            s = self._s_hi + z - k
            if s > 0.0:
                self._s_hi = s
                if s > h:
                    self._drift = True
            else:
                self._s_hi = 0.0
        if self._down:
            s = self._s_lo - z - k
            if s > 0.0:
                self._s_lo = s
                if s > h:
                    self._drift = True
            else:
                self._s_lo = 0.0
        if self._drift:
            self._reason = self._why()

    def _why(self) -> str:
        side, s = self._side()
        return (
            f"cusum: {side} CUSUM {s:.2f} > h = {self._h:.2f} (sigma units; k = {self._k:.2f},"
            f" mu0 = {self.mu0:g}, sigma = {self.sigma:g})"
        )

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        return {"mu0": 0.5, "sigma": 0.01, "k": 0.5, "h": 4.0, "head_start": 2.0}


class SelfStartingCusum(_CusumCore, Model):
    """Hawkins' (1987) self-starting CUSUM: no ``mu0`` or ``sigma`` needed.

    ``k``, ``h``, ``sides``, ``head_start`` as for :class:`Cusum`. The first two observations
    (three for a constant start) only teach the running mean and sd; ``u`` is the last
    standardised value ``U_n``.
    """

    name = "self_starting_cusum"
    version = "1"

    def __init__(
        self,
        k: float = 0.5,
        h: float = 5.0,
        sides: Sides = "two",
        head_start: float = 0.0,
        quantity: str | None = None,
    ):
        self.k = k
        self.h = h
        self.sides = sides
        self.head_start = head_start
        self.quantity = quantity
        self._check()
        self._n_invalid = 0
        self._core = self._new_core()

    def _new_core(self) -> SelfStartingStep:
        # a side that is off has k = inf: its sum stays 0 without a test per point
        return SelfStartingStep(
            k_hi=self._k if self._up else math.inf,
            k_lo=self._k if self._down else math.inf,
            h=self._h,
            hs_hi=self._hs if self._up else 0.0,
            hs_lo=self._hs if self._down else 0.0,
        )

    def update(self, x: Any) -> None:
        if x.__class__ is not float:
            x = as_float(x, self.quantity)
        if x - x != 0.0:
            self._n_invalid += 1
            self._core.skip()
            return
        # the hot path of a 1 Hz stream is the kernel's step (compiled where it could be built)
        if self._core.step(x) == EXACT:
            core = self._core
            core.cusum(_t_to_normal(core.t, core.m - 2.0))

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "_core" in state:
            self.__dict__.update(state)
            return
        # pickled by an older version, which kept the state in attributes
        legacy = ("_m", "_mean", "_m2", "_u", "_s_hi", "_s_lo", "_drift", "_n_past", "_n")
        derived = ("_reason", "_k_hi", "_k_lo", "_hs_hi", "_hs_lo")  # rebuilt in the core
        self.__dict__.update({k: v for k, v in state.items() if k not in legacy + derived})
        self._check()
        self._core = core = self._new_core()
        core.m = state.get("_m", 0.0)
        core.mean = state.get("_mean", 0.0)
        core.m2 = state.get("_m2", 0.0)
        core.u = state.get("_u", math.nan)
        core.s_hi = state.get("_s_hi", core.hs_hi)
        core.s_lo = state.get("_s_lo", core.hs_lo)
        core.drift = state.get("_drift", False)
        core.n_past = state.get("_n_past", state.get("_n", 0) - int(core.m))

    def _why(self) -> str:
        side, s = self._side()
        core = self._core
        return (
            f"self_starting_cusum: {side} CUSUM {s:.2f} > h = {self._h:.2f} after"
            f" {core.m:.0f} observations (k = {self._k:.2f}, running mean {core.mean:.4g})"
        )

    @property
    def drift_detected(self) -> bool:
        """True right after the update that signalled."""
        return self._core.drift

    @property
    def reason(self) -> str:
        """One line naming the chart, the side, the sum and h after a signal; "" otherwise."""
        return self._why() if self._core.drift else ""

    @property
    def s_hi(self) -> float:
        """The upper sum (sigma units)."""
        return self._core.s_hi

    @property
    def s_lo(self) -> float:
        """The lower sum (sigma units), shown as a positive number."""
        return self._core.s_lo

    @property
    def u(self) -> float:
        """The last standardised observation U_n (NaN while learning)."""
        return self._core.u

    @property
    def n_seen(self) -> int:
        """Valid observations fed so far."""
        return self._core.n_past + int(self._core.m)

    @property
    def running_mean(self) -> float:
        """Mean of the observations since the start or the last signal."""
        core = self._core
        return core.mean if core.m else math.nan

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        return {"k": 0.5, "h": 4.0}
