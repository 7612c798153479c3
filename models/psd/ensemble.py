"""The model-error part of a lognormal fit: refits under an ensemble of kernels, profile likelihood.

A Mie inversion is only as good as the optical constants of its kernel. Published dielectric
functions of gold and silver differ by several per cent at the plasmon band (Johnson & Christy
1972, Olmon et al. 2012, McPeak et al. 2015, ...), and the size-dependent damping constant A is
known only to within a factor of a few (Kreibig & Vollmer, Optical Properties of Metal Clusters,
Springer 1995, sec. 2.2). The size the fit reads from a real spectrum is off by about the spread
that these choices give, whatever the noise.

:func:`fit_members` fits a spectrum under every member of an ensemble of kernels at once
(Levenberg-Marquardt on the variable-projection residual, batched over the members: one
evaluation of all of them per iteration, not one fit per member). The members share one reduced
basis (the eigenvectors of their summed Gram matrices), so an evaluation costs
``r x n_support`` flops per member. :func:`member_weights` weighs them by their likelihood.

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

from synthwatch.models.psd.lut import ReducedKernel, lut_weights, model_and_grad

__all__ = [
    "EnsembleBasis",
    "batched_model_and_grad",
    "fit_members",
    "member_weights",
    "prediction_factor",
    "profile_width",
    "Profile",
]

_SQRT_2PI = math.sqrt(2.0 * math.pi)
#: the members' batched evaluations keep 6 sd of each distribution (the mass beyond is 2e-9)
_BATCH_SD = 6.0
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
    computed on the union of the members' supports, each +-6 sd (the probability beyond is
    2e-9; outside that union every weight is taken as 0).
    """
    n_members, n_d, r = stack_t.shape
    u = ln_d
    u0 = float(u[0])
    step = float(u[1]) - u0
    s = np.maximum(p[:, 1], 1e-12)
    mu = p[:, 0] - 0.5 * s * s
    lo = max(int(math.floor((float((mu - _BATCH_SD * s).min()) - u0) / step)) - 1, 0)
    hi = min(int(math.ceil((float((mu + _BATCH_SD * s).max()) - u0) / step)) + 2, n_d)
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


@dataclass(frozen=True, eq=False)
class EnsembleBasis:
    """The ensemble's kernels (the centre first, then the members) in one reduced basis.

    ``basis`` (n_wl, r) is orthonormal; ``stack_t`` is (1 + M, n_d, r), each kernel reduced and
    transposed.
    """

    basis: np.ndarray
    stack_t: np.ndarray
    n_sets: int
    #: (K, n_lut, r): each kernel's model spectra at the start table's nodes, unit rows
    lut: np.ndarray
    #: the ln-d grid of ``stack_t`` (every other point of the kernel's: 2 % steps)
    ln_d: np.ndarray

    def __post_init__(self) -> None:
        for a in (self.basis, self.stack_t, self.lut, self.ln_d):
            a.setflags(write=False)

    @classmethod
    def build(
        cls,
        centre: np.ndarray,
        members: tuple[np.ndarray, ...],
        ln_d: np.ndarray,
        n_sets: int,
        lut_p: np.ndarray,
    ) -> EnsembleBasis:
        """From window kernels (absorbance per particle/mL, (n_wl, n_d) each) and the start
        table's nodes ``lut_p`` (n_lut, 2).

        The members are kept on every other point of the kernel's ln-d grid (2 % steps): the
        cross-sections are smooth in ln d (the kernel itself is a spline through Mie nodes 8 %
        apart), the hat weights stay exact for a piecewise-linear integrand, and each batched
        evaluation costs half.
        """
        every = slice(None, None, _GRID_STEP)
        ln_d = np.ascontiguousarray(ln_d[every])
        members = tuple(np.ascontiguousarray(k[:, every]) for k in members)
        red = ReducedKernel.build(
            np.ascontiguousarray(centre[:, every]), ln_d, tol=_TOL, span=members
        )
        stack = np.ascontiguousarray(
            np.stack([red.reduced_t] + [(red.basis.T @ k).T for k in members])
        )
        weights = lut_weights(ln_d, lut_p)
        return cls(red.basis, stack, n_sets, _unit_rows(np.matmul(weights.T, stack)), ln_d)

    def on_points(self, good: np.ndarray, centred: bool) -> EnsembleBasis:
        """The same kernels in a basis orthonormal on the ``good`` points only (centred over
        them when the fit has a free offset)."""
        bg = self.basis[good]
        if centred:
            bg = bg - bg.mean(axis=0)
        q, r = np.linalg.qr(bg)
        return EnsembleBasis(
            q,
            np.ascontiguousarray(self.stack_t @ r.T),
            self.n_sets,
            _unit_rows(self.lut @ r.T),
            self.ln_d,
        )

    def starts(self, z: np.ndarray, lut_p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per kernel, the start table's best node for the reduced data ``z`` (N solved in
        closed form) and its cost: (p (K, 2), cost (K,))."""
        proj = self.lut @ z  # (K, n_lut)
        best = np.argmax(np.where(proj > 0, proj, -np.inf), axis=1)
        c = proj[np.arange(proj.shape[0]), best]
        return lut_p[best], float(z @ z) - np.maximum(c, 0.0) ** 2


def _unit_rows(a: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(a, axis=-1, keepdims=True)
    return np.ascontiguousarray(a / np.where(norms > 0, norms, 1.0))


#: relative tolerance of the ensemble's shared basis (1e-5 of a column: far below 1 % noise)
_TOL = 1e-5
#: the members' ln-d grid takes every _GRID_STEP-th point of the kernel's
_GRID_STEP = 2


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


@dataclass(frozen=True)
class MemberFits:
    """Fits of one spectrum under every kernel of an :class:`EnsembleBasis` (centre first).

    ``p`` (K, 2) = (ln d_mean, s); ``n`` (K,) the concentrations; ``cost`` (K,) the residual
    sums of squares in the reduced space; ``cov`` (K, 3, 3) the unscaled (J^T J)^-1 of
    (ln d_mean, s, ln N); ``coeffs`` (K, r) the fitted reduced spectra N m(p).
    """

    p: np.ndarray
    n: np.ndarray
    cost: np.ndarray
    cov: np.ndarray
    coeffs: np.ndarray


def _vp_system(
    z: np.ndarray, m: np.ndarray, dm: np.ndarray, n: np.ndarray, res: np.ndarray, mm: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per kernel, J^T J (2 x 2) and J^T r of the variable-projection residual."""
    safe = np.where(mm > 0, mm, 1.0)
    dn = (dm @ z - 2.0 * n[:, None] * np.einsum("mjr,mr->mj", dm, m)) / safe[:, None]
    jac = -(m[:, :, None] * dn[:, None, :] + n[:, None, None] * np.transpose(dm, (0, 2, 1)))
    return np.matmul(np.transpose(jac, (0, 2, 1)), jac), np.einsum("mrj,mr->mj", jac, res)


def _solve2_batched(a: np.ndarray, g: np.ndarray) -> np.ndarray:
    det = a[:, 0, 0] * a[:, 1, 1] - a[:, 0, 1] * a[:, 1, 0]
    ok = np.abs(det) > 1e-300
    det = np.where(ok, det, 1.0)
    x = np.stack(
        [
            (a[:, 1, 1] * g[:, 0] - a[:, 0, 1] * g[:, 1]) / det,
            (a[:, 0, 0] * g[:, 1] - a[:, 1, 0] * g[:, 0]) / det,
        ],
        axis=1,
    )
    x[~ok] = 0.0
    return x


def fit_members(
    z: np.ndarray,
    ens: EnsembleBasis,
    ln_d: np.ndarray,
    p0: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    max_iter: int = 10,
    cost_tol: float = 0.0,
    step_tol: float = 5e-3,
) -> MemberFits:
    """Levenberg-Marquardt (Marquardt, SIAM J. Appl. Math. 11 (1963) 431) on the variable-
    projection residual under every kernel at once, from ``p0`` (rows: one start per kernel, or
    one start for all). Each iteration is one batched evaluation of all the kernels; a kernel's
    damping falls after a successful step and rises after a failed one; it stops when no kernel
    lowered its cost by more than ``cost_tol`` (or 1e-7 relative), or when no kernel's
    parameters moved by more than ``step_tol`` (in ln d_mean and ln gsd: 0.5 %)."""
    stack_t = ens.stack_t
    k = stack_t.shape[0]
    p = np.array(np.broadcast_to(np.asarray(p0, dtype=float), (k, 2)))
    p = np.clip(p, lower, upper)
    m, dm = batched_model_and_grad(stack_t, ln_d, p)
    n, res, mm = _projected(z, m)
    cost = np.einsum("mr,mr->m", res, res)
    lam = np.full(k, 1e-3)
    for _ in range(max_iter):
        a, g = _vp_system(z, m, dm, n, res, mm)
        # a parameter on its bound, pushed outwards, is held there
        for j in range(2):
            held = ((p[:, j] <= lower[j]) & (g[:, j] > 0)) | ((p[:, j] >= upper[j]) & (g[:, j] < 0))
            g[held, j] = 0.0
            a[held, j, :] = 0.0
            a[held, :, j] = 0.0
            a[held, j, j] = 1.0
        damped = a.copy()
        damped[:, 0, 0] += lam * np.maximum(a[:, 0, 0], 1e-30)
        damped[:, 1, 1] += lam * np.maximum(a[:, 1, 1], 1e-30)
        q = np.clip(p - _solve2_batched(damped, g), lower, upper)
        mq, dmq = batched_model_and_grad(stack_t, ln_d, q)
        nq, rq, mmq = _projected(z, mq)
        cq = np.einsum("mr,mr->m", rq, rq)
        better = cq <= cost
        gain = np.where(better, cost - cq, 0.0)
        moved = float(np.abs(q[better] - p[better]).max()) if better.any() else 0.0
        p[better], m[better], dm[better] = q[better], mq[better], dmq[better]
        n[better], res[better], mm[better] = nq[better], rq[better], mmq[better]
        cost = np.where(better, cq, cost)
        lam = np.where(better, np.maximum(lam * 0.2, 1e-9), lam * 10.0)
        gained = (gain > np.maximum(1e-7 * cost, cost_tol)).any()
        # done when no kernel gained, or none moved by more than STEP_TOL: the members' spread
        # is tens of per cent, so a member walking a flat valley further changes nothing
        if not gained or moved < step_tol:
            break
    full = np.concatenate(
        [n[:, None, None] * dm, n[:, None, None] * m[:, None, :]], axis=1
    )  # (K, 3, r): d(N m)/d(ln d_mean, s, ln N)
    info = np.matmul(full, np.transpose(full, (0, 2, 1)))
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        cov = np.stack([np.linalg.pinv(x) for x in info])
    return MemberFits(p, n, cost, cov, n[:, None] * m)


def member_weights(cost: np.ndarray, noise_var: float, dof: int) -> np.ndarray:
    """Weights of the kernels by their likelihood, tempered by the best one's misfit.

    exp(-(RSS_k - RSS_min) / (2 T noise^2)) with T = max(1, RSS_min / (dof noise^2)): a kernel
    that explains the spectrum as well as the best one counts as much; the temperature T (the
    Birge ratio of the best fit; R. T. Birge, Phys. Rev. 40 (1932) 207) keeps a model error
    larger than the noise from making one kernel take all the weight by chance.
    """
    best = float(cost.min())
    t = max(1.0, best / (max(dof, 1) * noise_var)) if noise_var > 0 else 1.0
    w = np.exp(-(cost - best) / (2.0 * t * max(noise_var, 1e-300)))
    return w / w.sum()
