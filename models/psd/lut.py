"""Numerical core of :mod:`synthwatch.models.psd.lognormal`: lognormal weights, reduced kernel, LM.

Everything here is plain numpy on arrays, no messages:

* :func:`lognormal_hat_weights` — number fractions of a lognormal PSD on a uniform ln-d grid,
  integrated exactly against the "hat" function of each grid point (the same convention and
  algorithm as the simulator's optics, re-implemented because models do not import collectors).
* :class:`ReducedKernel` — the kernel restricted to the fit window and compressed by an SVD of
  its (column-normalised) cross-sections: the model spectra of all diameters lie within
  ``tol`` (relative) in the span of ``r`` orthonormal wavelength vectors ``U``, so the
  least-squares problem ``|y - N K w|^2`` equals ``|U^T y - N (U^T K) w|^2 + |y|^2 - |U^T y|^2``
  and every model evaluation costs ``r x n_d`` instead of ``n_wl x n_d`` (r ~ 25).
* :func:`fit_shape` — Levenberg-Marquardt (Levenberg 1944, Marquardt 1963) over
  ``p = (ln d_mean, s = ln gsd)`` with the amplitude ``N`` eliminated by variable projection
  (Golub & Pereyra, SIAM J. Numer. Anal. 10 (1973) 413): for given ``p``, ``N`` is the linear
  least-squares amplitude, and the Jacobian of the projected residual is taken by forward
  differences.

>>> u = np.log(np.geomspace(2.0, 150.0, 434))
>>> w = lognormal_hat_weights(u, np.log(20.0) - 0.5 * 0.1**2, 0.1)
>>> round(float(w.sum()), 6), round(float(np.exp(u) @ w), 3)      # mass, number-mean d (nm)
(1.0, 20.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

__all__ = [
    "lognormal_hat_weights",
    "lut_weights",
    "ReducedKernel",
    "FitResult",
    "fit_shape",
    "model_vector",
    "model_and_grad",
]

_SQRT_2PI = math.sqrt(2.0 * math.pi)
#: grid points further than this many sd from mu get no weight (ndtr is 1 - 1e-19 there)
_SUPPORT_SD = 9.0


def lognormal_hat_weights(ln_grid: np.ndarray, mu: float, s: float) -> np.ndarray:
    """Weights w with sum_i w_i f(d_i) = E[f(d)] for ln d ~ N(mu, s^2), f piecewise linear in ln d.

    ``ln_grid`` must be uniformly spaced. Probability outside the grid is dropped. Only the grid
    points within 9 sd of ``mu`` are computed (the rest are exactly 0).
    """
    w = np.zeros(ln_grid.size)
    lo, part = _hat_weights_support(ln_grid, mu, s)
    w[lo : lo + part.size] = part
    return w


def _hat_weights_support(ln_grid: np.ndarray, mu: float, s: float) -> tuple[int, np.ndarray]:
    """(lo, w[lo:hi]): the nonzero part of :func:`lognormal_hat_weights`."""
    u = ln_grid
    n = u.size
    u0 = float(u[0])
    step = float(u[1]) - u0
    s = max(float(s), 1e-12)
    lo = max(int(math.floor((mu - _SUPPORT_SD * s - u0) / step)) - 1, 0)
    hi = min(int(math.ceil((mu + _SUPPORT_SD * s - u0) / step)) + 2, n)
    if hi - lo < 2:
        return 0, np.zeros(0)
    z = (u[lo:hi] - mu) * (1.0 / s)
    cdf = ndtr(z)
    m1 = np.exp(-0.5 * z * z) * (-s / _SQRT_2PI)
    dG = cdf[1:] - cdf[:-1]
    up = (m1[1:] - m1[:-1] + (mu - u[lo : hi - 1]) * dG) * (1.0 / step)
    w = np.empty(hi - lo)
    w[0] = 0.0
    w[1:] = up
    w[:-1] += dG - up
    np.maximum(w, 0.0, out=w)
    return lo, w


#: the largest basis an ensemble's shared basis may need (checked column by column)
_MAX_SPAN_RANK = 200


def _unit_columns(k: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(k, axis=0)
    norms[norms == 0] = 1.0
    return k / norms


def lut_weights(ln_grid: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """(n_grid, n_nodes) :func:`lognormal_hat_weights` of start-table nodes (ln d_mean, s)."""
    return np.column_stack([lognormal_hat_weights(ln_grid, a - 0.5 * b * b, b) for a, b in nodes])


@dataclass(frozen=True, eq=False)
class ReducedKernel:
    """The window kernel ``K`` (absorbance per particle/mL, shape (n_wl, n_d)) and its compression.

    ``basis`` is ``U`` (n_wl, r) with orthonormal columns; ``reduced`` is ``U^T K`` (r, n_d) and
    ``reduced_t`` its transpose, C-contiguous (what :func:`model_vector` takes).
    """

    basis: np.ndarray
    reduced: np.ndarray
    ln_d: np.ndarray

    @property
    def reduced_t(self) -> np.ndarray:
        return self._reduced_t

    def __post_init__(self) -> None:
        object.__setattr__(self, "_reduced_t", np.ascontiguousarray(self.reduced.T))

    @classmethod
    def build(
        cls,
        k_window: np.ndarray,
        ln_d: np.ndarray,
        tol: float = 1e-7,
        span: tuple[np.ndarray, ...] = (),
    ) -> ReducedKernel:
        """Compress ``k_window`` so that every column is kept to ``tol`` relative (2-norm).

        With ``span`` (other kernels on the same axes, e.g. an ensemble's members), the basis
        keeps every column of ``k_window`` and of each of them to ``tol``: one basis in which
        all of them are reduced. Its vectors are the eigenvectors of the summed Gram matrices
        sum_j R_j R_j^T of the unit columns R_j (the left singular vectors of the stacked
        columns, without an SVD of that n_wl x M n_d matrix); whether each column is kept to
        ``tol`` is then checked column by column, as for one kernel.
        """
        mats = [_unit_columns(k) for k in (k_window, *span)]
        if len(mats) == 1:
            u, _, _ = np.linalg.svd(mats[0], full_matrices=False)
        else:
            gram = sum(rel @ rel.T for rel in mats)
            _, vecs = np.linalg.eigh(gram)
            u = vecs[:, ::-1][:, : min(gram.shape[0], _MAX_SPAN_RANK)]
        # squared residual of each unit column after keeping r basis vectors: 1 - sum of the
        # squares of its first r coefficients
        lost = np.zeros(u.shape[1])
        for rel in mats:
            coef2 = np.cumsum((u.T @ rel) ** 2, axis=0)
            lost = np.maximum(lost, np.sqrt(np.maximum(1.0 - coef2, 0.0)).max(axis=1))
        ok = np.flatnonzero(lost <= tol)
        r = int(ok[0]) + 1 if ok.size else u.shape[1]
        r = max(r, min(4, u.shape[1]))
        basis = np.ascontiguousarray(u[:, :r])
        return cls(basis=basis, reduced=basis.T @ k_window, ln_d=np.asarray(ln_d, dtype=float))

    @property
    def rank(self) -> int:
        return self.basis.shape[1]


def model_vector(m_red_t: np.ndarray, ln_d: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Reduced model spectrum per particle/mL for p = (ln d_mean, s): ``w(p) @ m_red_t``.

    ``m_red_t`` is the reduced kernel transposed, (n_d, r), C-contiguous, so the rows of the
    distribution's support are one contiguous block.
    """
    s = float(p[1])
    lo, w = _hat_weights_support(ln_d, float(p[0]) - 0.5 * s * s, s)
    if w.size == 0:
        return np.zeros(m_red_t.shape[1])
    return w @ m_red_t[lo : lo + w.size]


@dataclass
class FitResult:
    """Result of :func:`fit_shape`: parameters, amplitude, residual sum of squares, covariance."""

    p: np.ndarray  # (ln d_mean, s)
    number_per_ml: float
    rss: float  # in the reduced space (add the constant part for the full RSS)
    jtj_inv: np.ndarray  # (3, 3) for (ln d_mean, s, ln N), to be scaled by the variance
    iterations: int
    coeffs: np.ndarray  # reduced fitted spectrum N * m(p)
    jac: np.ndarray  # (r, 3): d(N m)/d(ln d_mean, s, ln N) in the reduced space


def model_and_grad(
    m_red_t: np.ndarray, ln_d: np.ndarray, p: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``m(p)`` and its derivatives ``(dm/d ln d_mean, dm/ds)`` (2, r), analytically.

    With p(u) the normal density of mean mu and sd s, integration by parts against the hat
    functions gives dw_i/dmu = (G_i - G_(i-1)) / step and dw_i/ds = (H_i - H_(i-1)) / (s step),
    G_i the probability and H_i the integral of (u - mu) p over cell [u_i, u_i+1] (the
    derivative of a hat is +-1/step on its two cells); mu = ln d_mean - s^2/2 adds -s dw/dmu.
    """
    u = ln_d
    n_d = u.size
    u0 = float(u[0])
    step = float(u[1]) - u0
    s = max(float(p[1]), 1e-12)
    mu = float(p[0]) - 0.5 * s * s
    lo = max(int(math.floor((mu - _SUPPORT_SD * s - u0) / step)) - 1, 0)
    hi = min(int(math.ceil((mu + _SUPPORT_SD * s - u0) / step)) + 2, n_d)
    r = m_red_t.shape[1]
    if hi - lo < 2:
        return np.zeros(r), np.zeros((2, r))
    z = (u[lo:hi] - mu) * (1.0 / s)
    cdf = ndtr(z)
    m1 = np.exp(-0.5 * z * z) * (-s / _SQRT_2PI)
    dG = cdf[1:] - cdf[:-1]
    dH = m1[1:] - m1[:-1]
    up = (dH + (mu - u[lo : hi - 1]) * dG) * (1.0 / step)
    k = hi - lo
    rows = np.zeros((3, k))
    rows[0, 1:] = up
    rows[0, :-1] += dG - up
    rows[1, :-1] = -dG  # dw/dmu * step: -G_i on the falling side, +G_(i-1) on the rising
    rows[1, 1:] += dG
    rows[2, :-1] = -dH
    rows[2, 1:] += dH
    rows[1] *= 1.0 / step
    rows[2] *= 1.0 / (s * step)
    # the end points of the grid have half hats: boundary terms of the integration by parts
    if lo == 0:
        phi = -m1[0] / (s * s)
        rows[1, 0] += phi
        rows[2, 0] += z[0] * phi
    if hi == n_d:
        phi = -m1[-1] / (s * s)
        rows[1, -1] -= phi
        rows[2, -1] -= z[-1] * phi
    rows[2] -= s * rows[1]
    np.maximum(rows[0], 0.0, out=rows[0])
    out = rows @ m_red_t[lo:hi]
    return out[0], out[1:]


def _project_grad(
    z: np.ndarray, m: np.ndarray, dm: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """N(p), the projected residual z - N m and its Jacobian (r, 2) (N clipped at 0)."""
    mm = float(m @ m)
    if mm <= 0:
        return 0.0, z.copy(), np.zeros((z.size, 2))
    n = float(m @ z) / mm
    if n <= 0:
        return 0.0, z.copy(), np.zeros((z.size, 2))
    dn = (dm @ z - 2.0 * n * (dm @ m)) / mm  # (2,)
    jac = -(np.outer(m, dn) + n * dm.T)
    return n, z - n * m, jac


def _project(z: np.ndarray, m: np.ndarray) -> tuple[float, np.ndarray]:
    mm = float(m @ m)
    n = max(float(m @ z) / mm, 0.0) if mm > 0 else 0.0
    return n, z - n * m


def _solve2(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """x with a x = b for a 2 x 2 ``a`` (Cramer's rule); None if singular."""
    a00, a01, a10, a11 = float(a[0, 0]), float(a[0, 1]), float(a[1, 0]), float(a[1, 1])
    det = a00 * a11 - a01 * a10
    if not abs(det) > 1e-300 * max(abs(a00 * a11), abs(a01 * a10), 1e-300):
        return None
    b0, b1 = float(b[0]), float(b[1])
    x = np.array([(a11 * b0 - a01 * b1) / det, (a00 * b1 - a10 * b0) / det])
    return x if np.isfinite(x).all() else None


def fit_shape(
    z: np.ndarray,
    m_red_t: np.ndarray,
    ln_d: np.ndarray,
    p0: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    max_iter: int = 40,
    cost_tol: float = 0.0,
    prior_s: tuple[float, float] | None = None,
) -> FitResult:
    """LM on the variable-projection residual ``z - N(p) m(p)``, p kept within [lower, upper].

    The Jacobian is exact (analytic derivatives of the weights, and of N(p)); the damping is
    Marquardt's (scaled by the diagonal of J^T J). Stops when the cost falls by less than 1e-7
    relative or ``cost_tol`` (absolute; e.g. 1e-3 noise variances: the parameters then move by
    a few hundredths of their sd), when the Gauss-Newton decrement ``g^T (J^T J)^-1 g`` (the
    fall the next undamped step would give on the linearised problem) is below that, or when
    the step is below 1e-6 in ln d_mean and s.

    ``prior_s = (s0, wt)`` adds the penalty ``wt^2 (s - s0)^2`` to the cost (a Gaussian prior on
    s = ln gsd of sd tau when ``wt = noise sd / tau``): maximum a posteriori instead of least
    squares. ``rss`` of the result is the data part only.
    """
    p = np.clip(np.asarray(p0, dtype=float), lower, upper)
    m, dm = model_and_grad(m_red_t, ln_d, p)
    n, r, jac = _project_grad(z, m, dm)
    s0, wt2 = (0.0, 0.0) if prior_s is None else (prior_s[0], prior_s[1] ** 2)
    cost = float(r @ r) + wt2 * (p[1] - s0) ** 2
    lam = 1e-3
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        g = jac.T @ r
        a = jac.T @ jac
        g[1] += wt2 * (p[1] - s0)
        a[1, 1] += wt2
        for j in range(2):  # a parameter on its bound, pushed outwards, is held there
            if (p[j] <= lower[j] and g[j] > 0) or (p[j] >= upper[j] and g[j] < 0):
                g[j] = 0.0
                a[j, :] = 0.0
                a[:, j] = 0.0
                a[j, j] = 1.0
        # converged when even the undamped Gauss-Newton step would lower the cost by less than
        # the tolerance (its decrement g^T A^-1 g): no trial evaluation is spent to find out
        gn = _solve2(a, g)
        if gn is not None and float(g @ gn) <= max(1e-7 * cost, cost_tol):
            break
        improved = done = False
        for _ in range(12):
            d0 = lam * max(a[0, 0], 1e-30)
            d1 = lam * max(a[1, 1], 1e-30)
            step = _solve2(a + np.array([[d0, 0.0], [0.0, d1]]), g)
            if step is None:
                lam *= 10.0
                continue
            delta = -step
            q = np.clip(p + delta, lower, upper)
            mq, dmq = model_and_grad(m_red_t, ln_d, q)
            nq, rq, jq = _project_grad(z, mq, dmq)
            cq = float(rq @ rq) + wt2 * (q[1] - s0) ** 2
            if cq <= cost:
                improved = True
                done = (cost - cq) <= max(1e-7 * cost, cost_tol) or float(
                    np.abs(q - p).max()
                ) < 1e-6
                p, m, dm, n, r, jac, cost = q, mq, dmq, nq, rq, jq, cq
                lam = max(lam * 0.2, 1e-9)
                break
            lam *= 10.0
        if not improved or done:
            break
    full = np.column_stack([n * dm[0], n * dm[1], n * m])  # d(N m)/d(ln d_mean, s, ln N)
    info = full.T @ full
    info[1, 1] += wt2
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        cov = np.full((3, 3), np.nan)
    return FitResult(p, n, float(r @ r), cov, iterations, n * m, full)
