"""The per-observation step of Hawkins' self-starting CUSUM, compiled when it can be.

This module is plain Python. When the package is built with Cython available (the build
requires it, ``setup.py``), Cython compiles it in its "pure Python mode": the declarations in
``charts_cusum_kernel.pxd`` make :class:`SelfStartingStep` an extension type whose state is C
doubles, and the step runs without the interpreter. Without a C compiler the build skips the
extension and this same source runs interpreted, with identical results (every operation is
an IEEE double operation in the same order; ``math.log1p`` and ``math.sqrt`` are the C
library's; ``tests/models/test_charts_cusum_kernel.py`` checks the two bit for bit).
:data:`COMPILED` says which one is running.

The mathematics is :class:`synthwatch.models.charts.cusum.SelfStartingCusum`'s (Hawkins, The
Statistician 36 (1987) 299; Hill, Comm. ACM 13 (1970) 617, Algorithm 395; Page's tabular
CUSUM, Montgomery, Introduction to Statistical Quality Control, eqs. 9.2-9.3). Below 20
degrees of freedom the step leaves the exact t-to-normal transformation to the caller:
:meth:`SelfStartingStep.step` returns :data:`EXACT` with the signed ``t`` in ``t`` and the
caller finishes with :meth:`SelfStartingStep.cusum`.

>>> s = SelfStartingStep(k_hi=0.5, k_lo=0.5, h=5.0, hs_hi=0.0, hs_lo=0.0)
>>> [s.step(v) for v in (1.0, 2.0, 1.5)]   # learning, learning, then t with 1 df
[0, 0, 2]
>>> round(s.t, 6), s.m
(0.0, 3.0)
"""

from __future__ import annotations

from math import log1p, sqrt

__all__ = ["COMPILED", "EXACT", "LEARNING", "SelfStartingStep", "STANDARDISED"]

#: :meth:`SelfStartingStep.step`'s results: no statistic yet (fewer than two observations
#: before this one, or all equal); ``u`` computed and the sums updated; the exact transform
#: is the caller's (fewer than 20 degrees of freedom).
LEARNING = 0
STANDARDISED = 1
EXACT = 2

_NAN = float("nan")


#: True when this module is the Cython-compiled extension.
COMPILED = not __file__.endswith((".py", ".pyc"))


class SelfStartingStep:
    """The state of a self-starting CUSUM and its step, as C doubles when compiled.

    ``k_hi``/``k_lo`` are the reference values of the upper/lower sums (``inf`` for a side
    that is off), ``h`` the decision interval, ``hs_hi``/``hs_lo`` the head starts the sums
    restart from after a signal. ``m`` counts the observations of the current regime, ``mean``
    and ``m2`` are Welford's running mean and sum of squared deviations of them, ``u`` the last
    standardised value (NaN while learning), ``s_hi``/``s_lo`` the sums, ``drift`` the signal
    of the last step, ``n_past`` the observations of the regimes before.
    """

    def __init__(self, k_hi: float, k_lo: float, h: float, hs_hi: float, hs_lo: float):
        self.k_hi = k_hi
        self.k_lo = k_lo
        self.h = h
        self.hs_hi = hs_hi
        self.hs_lo = hs_lo
        self.u = _NAN
        self.t = _NAN
        self.n_past = 0
        self.m = 0.0
        self._restart()

    def _restart(self) -> None:
        """A new regime: learn it afresh, the sums from the head start."""
        self.n_past += int(self.m)
        self.m = 0.0
        self.mean = 0.0
        self.m2 = 0.0
        self.s_hi = self.hs_hi
        self.s_lo = self.hs_lo
        self.drift = False

    def skip(self) -> None:
        """An observation the chart cannot use (the caller counts it): after a signal, the
        update after it starts afresh all the same."""
        if self.drift:
            self._restart()

    def step(self, x: float) -> int:
        """Feed one finite observation; :data:`LEARNING`, :data:`STANDARDISED` or :data:`EXACT`."""
        if self.drift:
            self._restart()
        m = self.m
        m2 = self.m2
        d = x - self.mean
        n = m + 1.0
        mean = self.mean + d / n
        # Welford's increment d (x - mean_n) = d^2 (n - 1) / n, so T_n^2 / nu = inc / m2
        inc = d * (x - mean)
        self.m = n
        self.mean = mean
        self.m2 = m2 + inc
        if m2 <= 0.0:  # fewer than 2 observations before this one, or all of them equal
            self.u = _NAN
            return LEARNING
        if m < 21.0:  # below 20 degrees of freedom: the caller's exact transform
            t = sqrt(inc / m2 * (m - 1.0))
            self.t = t if d >= 0.0 else -t
            return EXACT
        # Hill (1970), nu = m - 1 >= 20 degrees of freedom
        a = m - 1.5
        w2 = a * log1p(inc / m2)
        w = sqrt(w2)
        b = 48.0 * a * a
        c = w2 + 3.0
        if a < 69.0 + 15.0 * w2:  # Hill's second correction, where it is above 1e-9
            c -= (((4.0 * w2 + 33.0) * w2 + 240.0) * w2 + 855.0) / (
                8.0 * w2 * w2 + 10.0 * b + 1000.0
            )
        w += w * c / b
        self.cusum(w if d >= 0.0 else -w)
        return STANDARDISED

    def cusum(self, u: float) -> None:
        """Both sums on the standardised ``u`` (Page's tabular CUSUM); ``drift`` past ``h``."""
        self.u = u
        s_hi = self.s_hi + (u - self.k_hi)
        if s_hi > 0.0:
            self.s_hi = s_hi
            if s_hi > self.h:
                self.drift = True
        else:
            self.s_hi = 0.0
        s_lo = self.s_lo - (u + self.k_lo)
        if s_lo > 0.0:
            self.s_lo = s_lo
            if s_lo > self.h:
                self.drift = True
        else:
            self.s_lo = 0.0

    def __reduce__(self):
        state = (self.m, self.mean, self.m2, self.u, self.t, self.s_hi, self.s_lo, self.drift)
        args = (self.k_hi, self.k_lo, self.h, self.hs_hi, self.hs_lo)
        return (SelfStartingStep, args, (state, self.n_past))

    def __setstate__(self, state) -> None:
        values, self.n_past = state
        self.m, self.mean, self.m2, self.u, self.t, self.s_hi, self.s_lo, self.drift = values
