"""The model-error part of a lognormal fit: refits under an ensemble of kernels, profile likelihood.

A Mie inversion is only as good as the optical constants of its kernel. Published dielectric
functions of gold and silver differ by several per cent at the plasmon band (Johnson & Christy
1972, Olmon et al. 2012, McPeak et al. 2015, ...), and the size-dependent damping constant A is
known only to within a factor of a few (Kreibig & Vollmer, Optical Properties of Metal Clusters,
Springer 1995, sec. 2.2). The size the fit reads from a real spectrum is off by about the spread
that these choices give, whatever the noise.

:func:`member_fits` refits a spectrum under each member of an ensemble of kernels, starting
from the fit under the ensemble's mean kernel, with all members at once (two Gauss-Newton steps
of the variable-projection residual, batched over members: a few matrix products, not one fit
per member). The members share one reduced basis (the SVD of the stacked kernels), so each step
costs ``r x n_support`` flops per member.

:func:`prediction_factor` turns the spread of the members about the centre into the standard
uncertainty of a kernel the ensemble does not hold: the sets of constants are treated as draws
from a population, so the 95 % prediction interval for a new draw is
``t_(n-1, 0.975) sqrt(1 + 1/n)`` standard deviations (Student's prediction interval; e.g.
Hahn & Meeker, Statistical Intervals, Wiley 1991, sec. 4.7), expressed here as a factor on the
sd such that +-1.96 of the scaled sd spans it.

:func:`profile_width` is the profile likelihood (Venzon & Moolgavkar, Appl. Stat. 37 (1988) 87)
of s = ln gsd for a fit that stopped at a bound of s, where the curvature (Hessian) of the cost
says nothing about the interval: s is stepped away from the bound, ln d_mean re-optimised at
each step (N by projection), until the cost has risen by the chi-squared quantile.

>>> import numpy as np
>>> round(prediction_factor(6), 3), round(prediction_factor(1000), 3)
(1.417, 1.002)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr
from scipy.stats import t as student_t

from synthwatch.models.psd.lut import model_and_grad

__all__ = [
    "batched_model_and_grad",
    "member_fits",
    "prediction_factor",
    "profile_width",
    "Profile",
]

_SQRT_2PI = math.sqrt(2.0 * math.pi)
_SUPPORT_SD = 9.0
#: chi-squared quantile of 1 dof at 95 %: the rise of the cost (in noise variances) that bounds
#: a profile-likelihood interval
CHI2_95_1DOF = 3.841458820694124


def prediction_factor(n_sets: int) -> float:
    """Factor on the sd of ``n_sets`` draws so that +-1.96 of it is the 95 % prediction interval
    of one more draw: t_(n-1, 0.975) sqrt(1 + 1/n) / 1.96 (1 for n <= 1: nothing to scale)."""
    if n_sets <= 1:
        return 1.0
    return float(student_t.ppf(0.975, n_sets - 1)) * math.sqrt(1.0 + 1.0 / n_sets) / 1.959964


def batched_model_and_grad(
    stack_t: np.ndarray, ln_d: np.ndarray, p: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`~synthwatch.models.psd.lut.model_and_grad` for many kernels and parameter pairs.

    ``stack_t`` is (M, n_d, r): each member's reduced kernel, transposed; ``p`` is (M, 2), one
    (ln d_mean, s) per member. Returns ``m`` (M, r) and ``dm`` (M, 2, r). The hat weights are
    computed on the union of the members' supports (exactly: outside its own support a
    member's weights are 0 to double precision).
    """
    n_members, n_d, r = stack_t.shape
    u = ln_d
    u0 = float(u[0])
    step = float(u[1]) - u0
    s = np.maximum(p[:, 1], 1e-12)
    mu = p[:, 0] - 0.5 * s * s
    lo = max(int(math.floor((float((mu - _SUPPORT_SD * s).min()) - u0) / step)) - 1, 0)
    hi = min(int(math.ceil((float((mu + _SUPPORT_SD * s).max()) - u0) / step)) + 2, n_d)
    if hi - lo < 2:
        return np.zeros((n_members, r)), np.zeros((n_members, 2, r))
    uu = u[lo:hi]
    z = (uu[None, :] - mu[:, None]) / s[:, None]
    cdf = ndtr(z)
    m1 = np.exp(-0.5 * z * z) * (-s / _SQRT_2PI)[:, None]
    dG = np.diff(cdf, axis=1)
    dH = np.diff(m1, axis=1)
    up = (dH + (mu[:, None] - uu[None, :-1]) * dG) / step
    rows = np.zeros((n_members, 3, hi - lo))
    rows[:, 0, 1:] = up
    rows[:, 0, :-1] += dG - up
    rows[:, 1, :-1] = -dG
    rows[:, 1, 1:] += dG
    rows[:, 2, :-1] = -dH
    rows[:, 2, 1:] += dH
    rows[:, 1] /= step
    rows[:, 2] /= s[:, None] * step
    if lo == 0:
        phi = -m1[:, 0] / (s * s)
        rows[:, 1, 0] += phi
        rows[:, 2, 0] += z[:, 0] * phi
    if hi == n_d:
        phi = -m1[:, -1] / (s * s)
        rows[:, 1, -1] -= phi
        rows[:, 2, -1] -= z[:, -1] * phi
    rows[:, 2] -= s[:, None] * rows[:, 1]
    np.maximum(rows[:, 0], 0.0, out=rows[:, 0])
    out = np.matmul(rows, stack_t[:, lo:hi])
    return out[:, 0], out[:, 1:]


def _projected(z: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per member: N (clipped at 0), the residual z - N m, and m.m."""
    mm = np.einsum("mr,mr->m", m, m)
    n = np.where(mm > 0, (m @ z) / np.where(mm > 0, mm, 1.0), 0.0)
    n = np.maximum(n, 0.0)
    return n, z[None, :] - n[:, None] * m, mm


def member_fits(
    z: np.ndarray,
    stack_t: np.ndarray,
    ln_d: np.ndarray,
    p0: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    steps: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """(p, N) of the fit of the reduced data ``z`` under each member, from ``p0`` (the centre).

    Gauss-Newton on the variable-projection residual ``z - N(p) m_k(p)`` (Golub & Pereyra, SIAM
    J. Numer. Anal. 10 (1973) 413), ``steps`` steps for all members at once; a member whose
    step raises its cost takes half the step instead; parameters kept within [lower, upper].
    Returns ``p`` (M, 2) and ``N`` (M,).
    """
    n_members = stack_t.shape[0]
    p = np.tile(np.asarray(p0, dtype=float), (n_members, 1))
    m, dm = batched_model_and_grad(stack_t, ln_d, p)
    n, res, mm = _projected(z, m)
    cost = np.einsum("mr,mr->m", res, res)
    for _ in range(steps):
        safe = np.where(mm > 0, mm, 1.0)
        dmz = dm @ z  # (M, 2)
        dmm = np.einsum("mjr,mr->mj", dm, m)
        dn = (dmz - 2.0 * n[:, None] * dmm) / safe[:, None]
        jac = -(m[:, :, None] * dn[:, None, :] + n[:, None, None] * np.transpose(dm, (0, 2, 1)))
        a = np.matmul(np.transpose(jac, (0, 2, 1)), jac)
        g = np.einsum("mrj,mr->mj", jac, res)
        det = a[:, 0, 0] * a[:, 1, 1] - a[:, 0, 1] * a[:, 1, 0]
        ok = np.abs(det) > 1e-300
        det = np.where(ok, det, 1.0)
        delta = -np.stack(
            [
                (a[:, 1, 1] * g[:, 0] - a[:, 0, 1] * g[:, 1]) / det,
                (a[:, 0, 0] * g[:, 1] - a[:, 1, 0] * g[:, 0]) / det,
            ],
            axis=1,
        )
        delta[~ok] = 0.0
        q = np.clip(p + delta, lower, upper)
        mq, dmq = batched_model_and_grad(stack_t, ln_d, q)
        nq, rq, mmq = _projected(z, mq)
        cq = np.einsum("mr,mr->m", rq, rq)
        worse = cq > cost
        if worse.any():  # half the step for those members
            q[worse] = np.clip(p[worse] + 0.5 * delta[worse], lower, upper)
            mq, dmq = batched_model_and_grad(stack_t, ln_d, q)
            nq, rq, mmq = _projected(z, mq)
            cq = np.einsum("mr,mr->m", rq, rq)
            keep = cq > cost  # still worse: stay where it was
            q[keep] = p[keep]
            if keep.any():
                mq, dmq = batched_model_and_grad(stack_t, ln_d, q)
                nq, rq, mmq = _projected(z, mq)
                cq = np.einsum("mr,mr->m", rq, rq)
        p, m, dm, n, res, mm, cost = q, mq, dmq, nq, rq, mmq, cq
    return p, n


@dataclass(frozen=True)
class Profile:
    """Profile-likelihood interval of s = ln gsd and what ln d_mean and ln N do along it.

    ``s_lo``..``s_hi`` is the 95 % interval of s; ``ln_d_lo``..``ln_d_hi`` and
    ``ln_n_lo``..``ln_n_hi`` are the ranges of the re-optimised ln d_mean and ln N over it.
    """

    s_lo: float
    s_hi: float
    ln_d_lo: float
    ln_d_hi: float
    ln_n_lo: float
    ln_n_hi: float


#: the steps of s away from its bound at which the profile is evaluated
_PROFILE_STEPS = (0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.14, 0.2, 0.28, 0.4, 0.55, 0.75)


def _best_d(
    z: np.ndarray,
    m_red_t: np.ndarray,
    ln_d: np.ndarray,
    ln_d0: float,
    s: float,
    lo: float,
    hi: float,
) -> tuple[float, float, float]:
    """(ln d_mean, N, cost) minimising the projected cost at fixed s (3 Gauss-Newton steps)."""
    x = ln_d0
    best = (x, 0.0, math.inf)
    for _ in range(4):
        m, dm = model_and_grad(m_red_t, ln_d, np.array([x, s]))
        mm = float(m @ m)
        if not mm > 0:
            break
        n = max(float(m @ z) / mm, 0.0)
        r = z - n * m
        cost = float(r @ r)
        if cost < best[2]:
            best = (x, n, cost)
        elif cost > best[2]:
            x = 0.5 * (x + best[0])  # overshot: halve back
            continue
        dn = (float(dm[0] @ z) - 2.0 * n * float(dm[0] @ m)) / mm
        j = -(m * dn + n * dm[0])
        jj = float(j @ j)
        if not jj > 0:
            break
        x = min(max(x - float(j @ r) / jj, lo), hi)
    return best


def profile_width(
    z: np.ndarray,
    m_red_t: np.ndarray,
    ln_d: np.ndarray,
    p_hat: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    noise_var: float,
) -> Profile:
    """The 95 % profile-likelihood interval of s for a fit at a bound of s (see module doc).

    ``noise_var`` is the variance of one point of ``z`` (the cost is a plain sum of squares).
    The walk goes from the bound the fit sits on towards the other; it stops where the cost
    has risen by 3.84 noise variances (interpolated linearly between steps) or at the other
    bound.
    """
    s_hat = float(p_hat[1])
    direction = 1.0 if s_hat <= float(lower[1]) + 1e-12 else -1.0
    x = float(p_hat[0])
    x0, n0, c0 = _best_d(z, m_red_t, ln_d, x, s_hat, float(lower[0]), float(upper[0]))
    limit = CHI2_95_1DOF * max(noise_var, 1e-300)
    xs, ns = [x0], [n0]
    s_end = s_hat
    prev_s, prev_rise = s_hat, 0.0
    for ds in _PROFILE_STEPS:
        s = min(max(s_hat + direction * ds, float(lower[1])), float(upper[1]))
        xk, nk, ck = _best_d(z, m_red_t, ln_d, xs[-1], s, float(lower[0]), float(upper[0]))
        rise = ck - c0
        if rise >= limit:
            frac = (limit - prev_rise) / (rise - prev_rise) if rise > prev_rise else 1.0
            s_end = prev_s + frac * (s - prev_s)
            xs.append(xs[-1] + frac * (xk - xs[-1]))
            ns.append(ns[-1] + frac * (nk - ns[-1]) if ns[-1] > 0 else nk)
            break
        xs.append(xk)
        ns.append(nk)
        s_end, prev_s, prev_rise = s, s, max(rise, 0.0)
        if s in (float(lower[1]), float(upper[1])) and s != s_hat:
            break
    ln_n = np.log(np.maximum(np.asarray(ns), 1e-300))
    return Profile(
        s_lo=min(s_hat, s_end),
        s_hi=max(s_hat, s_end),
        ln_d_lo=float(min(xs)),
        ln_d_hi=float(max(xs)),
        ln_n_lo=float(ln_n.min()),
        ln_n_hi=float(ln_n.max()),
    )
