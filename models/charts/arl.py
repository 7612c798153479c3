"""Average run length (ARL) of CUSUM, EWMA and Shewhart charts, and limits for a wanted ARL.

The ARL is the mean number of observations until a chart signals: its in-control value ARL0 is
the mean spacing of false alarms, ARL1 (under a shift of ``shift`` sigma) the mean delay.

Method: the Markov chain of Brook & Evans, Biometrika 59 (1972) 539. The chart's statistic is
discretised into ``n`` states between its reset value and its limit; ``Q[i, j]`` is the
probability of moving from state i to state j for N(shift, 1) observations, and the ARLs from
each starting state solve ``(I - Q) arl = 1`` (Brook & Evans, eq. 2.3). States are intervals of
width ``w``, represented by their midpoints:

* one-sided CUSUM, ``w = 2h / (2n - 1)``: state 0 is ``[0, w/2)`` and takes every step below
  it (the reflecting barrier at 0). The two-sided ARL combines the one-sided ARLs as
  ``1/ARL = 1/ARL_hi + 1/ARL_lo`` (Kemp 1971; Lucas & Crosier, Technometrics 24 (1982) 199,
  eq. 3), exact for the zero-state chart when the two sides cannot both be away from 0 and
  very close otherwise; it is how Montgomery's Table 9.3 is computed.
* EWMA, ``w = 2 h_z / (2m + 1)`` over the asymptotic limits ``+-h_z``, ``h_z = L sqrt(lam /
  (2 - lam))``: the chain of Lucas & Saccucci, Technometrics 32 (1990) 1, section 3.

Zero-state ARL starts at the reset value (0, or the head start); the steady-state ARL starts
from the conditional steady state: the in-control chain's quasi-stationary distribution (the
left eigenvector of the in-control ``Q`` for its largest eigenvalue), i.e. a shift that comes
after the chart has run in control for a long time without signalling (Lucas & Saccucci 1990).
For a two-sided CUSUM the steady-state ARL is combined from the one-sided ones with the same
formula (an approximation; the benchmark checks it by Monte Carlo). EWMA ARLs are for the
asymptotic limits (the exact limits differ only in the first ~``3/lam`` observations).

:func:`calibrate` inverts these: the ``h`` (CUSUM), ``L`` (EWMA) or ``L`` (Shewhart, one-point
rule) that gives a requested ARL0, found with Brent's method on ``log ARL0``.

>>> round(cusum_arl(k=0.5, h=5.0), 1), round(cusum_arl(k=0.5, h=5.0, shift=1.0), 2)
(465.4, 10.38)
>>> round(ewma_arl(lam=0.1, L=2.814), 1), round(ewma_arl(lam=0.1, L=2.814, shift=1.0), 2)
(499.4, 10.33)
>>> h = calibrate("cusum", arl0=1000.0, k=0.5)
>>> round(h, 3), round(cusum_arl(k=0.5, h=h), 1)
(5.758, 1000.0)
>>> round(calibrate("shewhart", arl0=370.4), 3)
3.0
"""

from __future__ import annotations

import math
import warnings
from typing import Literal

import numpy as np
from scipy import linalg, optimize
from scipy.special import ndtr, ndtri

__all__ = [
    "cusum_arl",
    "ewma_arl",
    "shewhart_arl",
    "mewma_arl",
    "sprt_arl",
    "sprt_arl0",
    "calibrate",
]

Sides = Literal["two", "upper", "lower"]


def _check(name: str, value: float, low: float, high: float) -> float:
    v = float(value)
    if not (low < v < high) or not math.isfinite(v):
        raise ValueError(f"{name}: expected {low} < {name} < {high}, got {value!r}")
    return v


def _cusum_matrix(k: float, h: float, shift: float, n: int) -> tuple[np.ndarray, float]:
    """Brook & Evans' transition matrix of the upper CUSUM, and the state width."""
    w = 2.0 * h / (2 * n - 1)
    c = np.arange(n) * w
    d = k - shift - c[:, None]  # next = c_i + x - k,  x ~ N(shift, 1)
    upper = ndtr(c[None, :] + w / 2 + d)
    lower = ndtr(c[None, :] - w / 2 + d)
    q = upper - lower
    q[:, 0] = upper[:, 0]  # everything below w/2, including the barrier at 0
    return q, w


def _arls(q: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():  # cond(I - Q) grows like the ARL; checked below instead
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        arl = linalg.solve(np.eye(q.shape[0]) - q, np.ones(q.shape[0]))
    if not (np.isfinite(arl).all() and (arl >= 1.0 - 1e-9).all()):
        raise ValueError("ARL beyond double precision for these parameters (limit too wide)")
    return arl


def _quasi_stationary(q0: np.ndarray) -> np.ndarray:
    """Left Perron vector of the in-control chain, normalised to sum 1."""
    vals, vecs = linalg.eig(q0.T)
    v = np.abs(np.real(vecs[:, np.argmax(np.real(vals))]))
    return v / v.sum()


def _one_sided_cusum(
    k: float, h: float, shift: float, head_start: float, steady_state: bool, n: int
) -> float:
    q, w = _cusum_matrix(k, h, shift, n)
    arl = _arls(q)
    if steady_state:
        q0 = q if shift == 0.0 else _cusum_matrix(k, h, 0.0, n)[0]
        return float(_quasi_stationary(q0) @ arl)
    return float(arl[min(int(round(head_start / w)), n - 1)])


def cusum_arl(
    k: float,
    h: float,
    shift: float = 0.0,
    sides: Sides = "two",
    head_start: float = 0.0,
    steady_state: bool = False,
    n_states: int = 200,
) -> float:
    """ARL of the tabular CUSUM (k, h, head start in sigma units) under a ``shift`` in sigma.

    Zero-state by default (starting at ``head_start``); ``steady_state=True`` for the
    conditional steady-state ARL. ``sides`` as in :class:`~synthwatch.models.charts.cusum.Cusum`.
    """
    k = _check("k", k, -1e-300, 1e3)
    h = _check("h", h, 0.0, 1e3)
    if not 0.0 <= head_start < h:
        raise ValueError(f"head_start: expected 0 <= head_start < h = {h}, got {head_start}")
    if sides not in ("two", "upper", "lower"):
        raise ValueError(f"sides: expected 'two', 'upper' or 'lower', got {sides!r}")
    if n_states < 10:
        raise ValueError(f"n_states: expected >= 10, got {n_states}")
    hi = lo = math.inf
    if sides != "lower":
        hi = _one_sided_cusum(k, h, shift, head_start, steady_state, n_states)
    if sides != "upper":
        lo = _one_sided_cusum(k, h, -shift, head_start, steady_state, n_states)
    return 1.0 / (1.0 / hi + 1.0 / lo)


def _ewma_matrix(lam: float, L: float, shift: float, m: int) -> np.ndarray:
    hz = L * math.sqrt(lam / (2.0 - lam))
    n = 2 * m + 1
    w = 2.0 * hz / n
    c = -hz + w / 2 + np.arange(n) * w
    d = (1.0 - lam) * c[:, None]  # next = (1 - lam) c_i + lam x
    return ndtr((c[None, :] + w / 2 - d) / lam - shift) - ndtr(
        (c[None, :] - w / 2 - d) / lam - shift
    )


def ewma_arl(
    lam: float,
    L: float,
    shift: float = 0.0,
    steady_state: bool = False,
    n_states: int = 301,
) -> float:
    """ARL of the two-sided EWMA (asymptotic limits ``+-L sigma_z``) under ``shift`` sigma.

    Zero-state (starting at ``mu0``) by default; ``steady_state=True`` for the conditional
    steady-state ARL. ``n_states`` is odd (``2m + 1``; 301 is within 0.05 % of the limit of
    many states).
    """
    lam = _check("lam", lam, 0.0, 1.0 + 1e-12)
    L = _check("L", L, 0.0, 50.0)
    if n_states < 11 or n_states % 2 == 0:
        raise ValueError(f"n_states: expected an odd number >= 11, got {n_states}")
    m = n_states // 2
    q = _ewma_matrix(lam, L, shift, m)
    arl = _arls(q)
    if steady_state:
        q0 = q if shift == 0.0 else _ewma_matrix(lam, L, 0.0, m)
        return float(_quasi_stationary(q0) @ arl)
    return float(arl[m])


def shewhart_arl(L: float, shift: float = 0.0) -> float:
    """ARL of the individuals chart with the one-point rule at ``+-L`` sigma (no run rules)."""
    L = _check("L", L, 0.0, 50.0)
    p = ndtr(-L - shift) + ndtr(-L + shift)
    return math.inf if p == 0.0 else 1.0 / float(p)


def mewma_arl(p: int, lam: float, h: float, n_states: int = 300) -> float:
    """In-control zero-state ARL of the MEWMA with asymptotic covariance, by a Markov chain.

    Runger & Prabhu, J. Amer. Statist. Assoc. 91 (1996) 1701: in control (``Sigma = I`` without
    loss of generality) the chart depends on ``Z`` only through ``r = |Z|^2``, and given ``r``
    the next ``|Z|^2 / lam^2`` is noncentral chi-squared with ``p`` degrees of freedom and
    noncentrality ``(1 - lam)^2 r / lam^2``. ``r`` in ``[0, h lam / (2 - lam))`` is cut into
    ``n_states`` intervals represented by their midpoints; the chart starts at ``r = 0``.
    """
    if not isinstance(p, int) or isinstance(p, bool) or p < 1:
        raise ValueError(f"p: expected an integer >= 1, got {p!r}")
    lam = _check("lam", lam, 0.0, 1.0 + 1e-12)
    h = _check("h", h, 0.0, 1e4)
    from scipy.stats import chi2, ncx2

    r_max = h * lam / (2.0 - lam)
    w = r_max / n_states
    edges = np.arange(n_states + 1) * w / (lam * lam)
    mid = (np.arange(n_states) + 0.5) * w
    mid[0] = 0.0  # the start (Z = 0) and its neighbourhood
    nc = (1.0 - lam) ** 2 * mid / (lam * lam)
    cdf = np.empty((n_states, n_states + 1))
    cdf[0] = chi2.cdf(edges, p)
    cdf[1:] = ncx2.cdf(edges[None, :], p, nc[1:, None])
    q = np.diff(cdf, axis=1)
    return float(_arls(q)[0])


def sprt_arl0(alpha: float, beta: float, shift: float) -> float:
    """In-control ARL of Wald's SPRT restarted after each acceptance of ``mu0`` (Wald 1945).

    Each test ends in a false alarm with probability ``alpha`` and lasts on average
    ``E0[N] = ((1 - alpha) B + alpha A) / (-shift^2 / 2)`` observations (Wald's approximation,
    which neglects the overshoot of the limits; the true ``alpha`` is a little smaller, so the
    ARL0 a little longer), so ``ARL0 = E0[N] / alpha``.
    """
    if not (0.0 < alpha < 0.5 and 0.0 < beta < 0.5):
        raise ValueError(f"alpha, beta: expected probabilities in (0, 0.5), got {alpha}, {beta}")
    if not (math.isfinite(shift) and shift != 0.0):
        raise ValueError(f"shift: expected a finite non-zero number, got {shift}")
    a = math.log((1.0 - beta) / alpha)
    b = math.log(beta / (1.0 - alpha))
    n0 = ((1.0 - alpha) * b + alpha * a) / (-0.5 * shift * shift)
    return max(n0, 1.0) / alpha


def sprt_arl(
    alpha: float,
    beta: float,
    shift: float,
    true_shift: float = 0.0,
    n_states: int = 200,
    scale: float = 1.0,
) -> float:
    """ARL of Wald's SPRT restarted at 0 after each acceptance, by a Markov chain (no overshoot
    approximation): the in-control ARL for ``true_shift = 0``, the mean delay under a shift.

    The log likelihood ratio of one observation, ``d (z - d/2)`` for ``z ~ N(true_shift, 1)``,
    (``scale``: the observations' sd, 1 when the chart's sigma is right) moves the statistic
    between ``B = log(beta / (1 - alpha))`` and ``A = log((1 - beta) /
    alpha)``; a step at or below B accepts ``mu0`` and restarts the test at 0, a step at or
    above A signals. As in Brook & Evans, Biometrika 59 (1972) 539, (B, A) is cut into
    ``n_states`` intervals represented by their midpoints, plus the exact restart state 0; the
    ARLs solve ``(I - Q) arl = 1``. Wald's approximation (:func:`sprt_arl0`) neglects the
    overshoot of A: the true alpha of each test is smaller than the nominal one, about
    ``exp(-0.583 d)`` times it (Siegmund, Sequential Analysis (1985), eq. 3.31), so the ARL0 is
    about twice Wald's at ``d = 1``, and a limit set by Wald's formula gives half the false
    alarms budgeted. :func:`calibrate` uses this chain.

    >>> round(sprt_arl(0.01, 0.01, 1.0)), round(sprt_arl0(0.01, 0.01, 1.0))
    (1866, 901)
    """
    if not (0.0 < alpha < 0.5 and 0.0 < beta < 0.5):
        raise ValueError(f"alpha, beta: expected probabilities in (0, 0.5), got {alpha}, {beta}")
    if not (math.isfinite(shift) and shift != 0.0):
        raise ValueError(f"shift: expected a finite non-zero number, got {shift}")
    if n_states < 10:
        raise ValueError(f"n_states: expected >= 10, got {n_states}")
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale: expected a positive sd, got {scale}")
    d = abs(shift)
    mean = d * (math.copysign(1.0, shift) * true_shift - 0.5 * d)  # the step's mean
    sd = d * scale
    a = math.log((1.0 - beta) / alpha)
    b = math.log(beta / (1.0 - alpha))
    w = (a - b) / n_states
    c = np.concatenate(([0.0], b + (np.arange(n_states) + 0.5) * w))  # state 0: the restart
    edges = b + np.arange(n_states + 1) * w
    cdf = ndtr((edges[None, :] - c[:, None] - mean) / sd)  # P(next <= edge) from each state
    q = np.zeros((n_states + 1, n_states + 1))
    q[:, 1:] = cdf[:, 1:] - cdf[:, :-1]
    q[:, 0] += cdf[:, 0]  # at or below B: accepted, the test restarts at 0
    return float(_arls(q)[0])


def calibrate(
    chart: Literal["cusum", "ewma", "shewhart", "mewma", "sprt"],
    arl0: float,
    *,
    k: float = 0.5,
    sides: Sides = "two",
    head_start: float = 0.0,
    lam: float = 0.2,
    p: int = 2,
    shift: float = 1.0,
    beta: float = 0.01,
    rtol: float = 1e-6,
) -> float:
    """The limit giving the in-control ARL ``arl0``: CUSUM ``h``, EWMA or Shewhart ``L``.

    Also MEWMA ``h`` (``p`` quantities, ``lam``; :func:`mewma_arl`) and SPRT ``alpha`` (for
    ``shift`` in sigma and ``beta``; :func:`sprt_arl`, the Markov chain).

    ``k``, ``sides`` and ``head_start`` (CUSUM; a head start given as a fraction of h is not
    supported, it is fixed in sigma units) and ``lam`` (EWMA) are the other parameters of the
    chart. Raises ValueError when ``arl0`` is outside what the chart can give.
    """
    arl0 = _check("arl0", arl0, 1.0, 1e10)
    target = math.log(arl0)
    if chart == "shewhart":
        return float(-ndtri(0.5 / arl0))
    if chart == "cusum":

        def f(h: float) -> float:
            return math.log(cusum_arl(k, h, 0.0, sides, head_start)) - target

        lo, hi, cap = head_start + 1e-3, max(2.0 * head_start, 1.0), 40.0
    elif chart == "ewma":

        def f(h: float) -> float:
            return math.log(ewma_arl(lam, h)) - target

        lo, hi, cap = 0.05, 1.0, 8.0
    elif chart == "mewma":

        def f(h: float) -> float:
            return math.log(mewma_arl(p, lam, h)) - target

        lo, hi, cap = 0.5, float(p) + 2.0, 400.0
    elif chart == "sprt":

        def f_alpha(log_alpha: float) -> float:
            return target - math.log(sprt_arl(math.exp(log_alpha), beta, shift))

        return float(math.exp(optimize.brentq(f_alpha, math.log(1e-15), math.log(0.49))))
    else:
        raise ValueError(
            f"chart: expected 'cusum', 'ewma', 'shewhart', 'mewma' or 'sprt', got {chart!r}"
        )
    f_lo = f(lo)
    f_hi = f(hi)
    while f_hi < 0 and hi < cap:  # widen the bracket until it holds the answer
        lo, f_lo, hi = hi, f_hi, min(2.0 * hi, cap)
        f_hi = f(hi)
    if f_lo > 0 or f_hi < 0:
        raise ValueError(
            f"arl0: {arl0:g} is outside what a {chart} chart with these parameters gives"
            f" ({math.exp(f_lo + target):.3g} to {math.exp(f_hi + target):.3g})"
        )
    return float(optimize.brentq(f, lo, hi, rtol=rtol))
