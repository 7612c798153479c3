"""Non-parametric size distribution of metal spheres from a UV-Vis spectrum (regularised NNLS).

:class:`NNLSPSD` inverts the Mie extinction kernel (:class:`~.psd_kernel.PSDKernel`)
for a number distribution of any shape, so it sees what the lognormal fit cannot (two
populations, tails, seeds). Method, per spectrum:

1. The number density in ln d is a sum of ``n_bins`` linear "hat" functions on a grid uniform in
   ln d between the kernel's smallest and largest diameters (bin centres: geometric). Each hat's
   kernel column is the fine kernel integrated against the hat (precomputed, as are the hats'
   moments of d, ln d and ln^2 d, so the moments below are those of the piecewise-linear density).
   The coefficients ``c >= 0`` give ``number_per_ml`` per bin (``c_k`` times the hat's integral),
   and the bins sum to the total.
2. Kernel rows in ``fit_window_nm`` (missing and saturated points dropped, ``dropout`` /
   ``saturated``; no fit beyond ``max_excluded_fraction``) are compressed by QR (``K = QR``), so
   ``|Kc - y|^2 = |Rc - Q^T y|^2 + const``.
3. Tikhonov regularisation (Tikhonov, Soviet Math. Dokl. 4 (1963) 1035): the second difference
   of ``c`` (zero beyond the grid ends) plus a ridge ``ridge * sqrt(median|K| / |K_k|) * c_k``
   that makes number in weakly absorbing (small) bins dearer. Without it the smoothing prior
   spreads number into a small-d tail the spectrum barely sees (a 15 nm PSD came out 10-13 %
   too small, a 90 nm one now and then with 20x its number in 2-3 nm "particles").
   Non-negative least squares (Lawson & Hanson, Solving Least Squares Problems, Prentice-Hall
   1974; ``scipy.optimize.nnls``) of the augmented system ``[R; lam L] c = [Q^T y; 0]`` for
   ``n_lambda`` values of ``lam`` in ``lambda_range`` (relative: K scaled to norm 1).
4. ``lam`` by generalised cross-validation (Golub, Heath & Wahba, Technometrics 21 (1979) 215;
   Hansen, Rank-Deficient and Discrete Ill-Posed Problems, SIAM 1998, sec. 7.4):
   ``GCV = n rss / (n - T)^2`` with rss of the NNLS solution and ``T = tr((G + lam^2 H)^-1 G)``,
   ``G = R^T R``, ``H = L^T L``, the unconstrained Tikhonov trace (the active-set trace counts
   the sparse, spiky NNLS solutions of small ``lam`` as few parameters and picked them too often).
   ``lambda_rule="discrepancy"`` instead takes the largest ``lam`` whose rss is at most
   ``n sigma^2`` (Morozov's discrepancy principle; Hansen sec. 7.2), sigma the white-noise sd
   from the Savitzky-Golay residual (:func:`~synthwatch.models.uvvis.preprocess.noise_au`); it
   over-smoothed in our trials and is not the default.
5. Uncertainty: residual bootstrap (Efron & Tibshirani, An Introduction to the Bootstrap, 1993,
   sec. 9.5) at the chosen ``lam``: ``n_bootstrap`` refits of ``K c + r*``, r* drawn with
   replacement from the centred residuals inflated by ``sqrt(n / (n - T))``, from a numpy
   Generator seeded by ``(seed, reading.seq)`` (so a replay gives identical estimates). 1-sd per
   bin and of each moment. They cover noise only, not the bias of the regularisation.

Quantities: ``d_mean_nm`` (number-weighted arithmetic mean), ``gsd`` (exp of the sd of ln d, "1"),
``number_per_ml`` ("mL^-1"), ``d_mode_nm`` (mode of dN/dln d, parabolic between bins),
``chi2_red`` (rss / (n - T) / sigma^2) and ``rel_rms_residual`` (rms residual / peak), plus
``distribution`` (number_per_ml per bin, with bootstrap sd).

Flags (``update`` never raises): ``shape_mismatch``, ``sensor_mismatch``, ``dropout``,
``saturated``, ``no_signal`` (peak below ``min_signal_au``; quantities None), ``fit_failed``
(a signal, but the solver raised or found no positive distribution; quantities None),
``unexplained``
(chi2_red > ``max_chi2_red`` and rel_rms > ``max_rel_rms``, or a positive mean residual over the
red third of the window above 2 % of the peak and 5 standard errors, as aggregates or rods give;
with rel_rms > ``invalid_rel_rms`` too the size quantities and distribution are None: no size is
forced), ``at_grid_edge`` (more than 5 % of the number in the first or last bin), ``multimodal``
(two peaks of dN/dln d, the smaller at least 10 % of the larger, with a valley below half the
smaller between them), ``model_error`` (a numerical failure caught; quantities None).

>>> import numpy as np
>>> from datetime import datetime, timezone
>>> wl = np.arange(400.0, 801.0, 5.0)
>>> d = np.exp(np.arange(np.log(2.0), np.log(150.0), 0.02))
>>> sigma = d**3 * np.exp(-(((wl[:, None] - 500.0 - d / 2) / (60 + d)) ** 2))
>>> k = PSDKernel(metal="Au", n_medium=1.333, path_length_cm=1.0, wavelengths_nm=wl,
...               diameters_nm=d, sigma_ext_nm2=sigma)
>>> w = np.exp(-0.5 * (np.log(d / 40.0) / 0.14) ** 2)
>>> model = NNLSPSD(k, n_bootstrap=5)
>>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> model.update(Reading(run_id="r1", t=t0, sensor_id="uv1", seq=0,
...                      values=list(k.absorbance(w / w.sum(), 1e10))))
>>> est = model.estimate
>>> round(est.get("d_mean_nm").value), round(est.get("number_per_ml").value / 1e10, 2)
(40, 1.0)
>>> len(est.distribution.values), est.flags
(40, [])
"""

from __future__ import annotations

import math
from typing import Any
from weakref import WeakKeyDictionary

import numpy as np
from scipy.optimize import nnls

from synthwatch.contract.messages import Estimate, Reading
from synthwatch.models.base import Model
from synthwatch.models.declare import Context, register, setting
from synthwatch.models.psd.kernel import (
    LN10,
    NM2_TO_CM2,
    PSDKernel,
    flagged,
    psd_estimate,
    red_excess,
)
from synthwatch.models.reading_values import frame_result
from synthwatch.models.uvvis.features import SYSTEM_WINDOWS_NM
from synthwatch.models.uvvis.preprocess import (
    DEFAULT_SATURATION_AU,
    savgol_plan,
    screen_window,
    window_noise_au,
)
from synthwatch.models.uvvis.settings import N_MEDIUM

__all__ = ["NNLSPSD", "FLAGS", "UNITS"]

FLAGS = ("shape_mismatch", "sensor_mismatch", "dropout", "saturated", "no_signal", "fit_failed")
FLAGS += ("unexplained",)
FLAGS += ("at_grid_edge", "multimodal", "model_error")
UNITS = {"d_mean_nm": "nm", "gsd": "1", "number_per_ml": "mL^-1", "d_mode_nm": "nm"}
UNITS |= {"chi2_red": "1", "rel_rms_residual": "1"}
_SIZE = ("d_mean_nm", "gsd", "d_mode_nm")
_EDGE_FRACTION = 0.05
_PEAK_MIN, _VALLEY_MAX = 0.1, 0.5
#: what the solvers may raise on a pathological window (flag ``fit_failed``)
_SOLVER_ERRORS = (RuntimeError, np.linalg.LinAlgError, FloatingPointError, ValueError)


#: (scale, kernel matrix, its QR) per kernel (by identity) and (fit window, bins)
_TABLES: WeakKeyDictionary[PSDKernel, dict[tuple, tuple]] = WeakKeyDictionary()


SWITCH = setting(
    "psd_nnls_every",
    60,
    "Non-parametric distribution every n-th spectrum; 0 = off.",
    ge=0,
)


def _build(ctx: Context) -> Model:
    """On the runtime's Mie kernel, every ``psd_nnls_every``-th spectrum (tens of ms a fit)."""
    psd = NNLSPSD(ctx.kernel(ctx.settings[N_MEDIUM.key]), sensor_id=ctx.descriptor.sensor_id)
    return ctx.every(psd, ctx.settings[SWITCH.key])


@register(
    kinds=("uvvis",),
    systems=tuple(SYSTEM_WINDOWS_NM),
    switch=SWITCH,
    cost="slow",
    build=_build,
    optional=True,
)
class NNLSPSD(Model):
    """Number distribution of sphere diameters by Tikhonov-regularised NNLS, per spectrum."""

    name = "psd_nnls"
    version = "1"

    def __init__(
        self,
        kernel: PSDKernel,
        sensor_id: str = "uv1",
        fit_window_nm: tuple[float, float] = (400.0, 800.0),
        n_bins: int = 40,
        lambda_rule: str = "gcv",
        lambda_range: tuple[float, float] = (1e-5, 1.0),
        n_lambda: int = 25,
        ridge: float = 0.1,
        n_bootstrap: int = 20,
        seed: int = 0,
        saturation_au: float = DEFAULT_SATURATION_AU,
        max_excluded_fraction: float = 0.1,
        min_signal_au: float = 0.01,
        max_chi2_red: float = 5.0,
        max_rel_rms: float = 0.01,
        invalid_rel_rms: float = 0.1,
        smooth_window_nm: float = 15.0,
    ):
        self.kernel = kernel
        self.sensor_id = sensor_id
        self.fit_window_nm = fit_window_nm
        self.n_bins = n_bins
        self.lambda_rule = lambda_rule
        self.lambda_range = lambda_range
        self.n_lambda = n_lambda
        self.ridge = ridge
        self.n_bootstrap = n_bootstrap
        self.seed = seed
        self.saturation_au = saturation_au
        self.max_excluded_fraction = max_excluded_fraction
        self.min_signal_au = min_signal_au
        self.max_chi2_red = max_chi2_red
        self.max_rel_rms = max_rel_rms
        self.invalid_rel_rms = invalid_rel_rms
        self.smooth_window_nm = smooth_window_nm
        if lambda_rule not in ("gcv", "discrepancy"):
            raise ValueError(f"lambda_rule: expected 'gcv' or 'discrepancy', got {lambda_rule!r}")
        if n_bins < 4:
            raise ValueError(f"n_bins: expected an integer >= 4, got {n_bins}")
        wl = kernel.wavelengths_nm
        sel = (wl >= fit_window_nm[0]) & (wl <= fit_window_nm[1])
        if sel.sum() < n_bins:
            raise ValueError(f"fit_window_nm {fit_window_nm}: fewer than n_bins wavelengths")
        self._sel = sel
        # hats on a grid uniform in ln d; fine points weighted by their ln-d cell (trapezoid)
        t = kernel.ln_d
        cell = np.gradient(t)
        cell[[0, -1]] *= 0.5
        self._t = np.linspace(t[0], t[-1], n_bins)
        hats = np.clip(
            1.0 - np.abs(t[None, :] - self._t[:, None]) / (self._t[1] - self._t[0]), 0, None
        )
        hats *= cell[None, :]  # (n_bins, n_d): number at fine point j per unit c_k
        self._hat_area = hats.sum(axis=1)
        self._moments = np.stack([np.ones_like(t), np.exp(t), t, t * t]) @ hats.T / self._hat_area
        key = (tuple(fit_window_nm), n_bins)
        per_kernel = _TABLES.setdefault(kernel, {})
        if key not in per_kernel:  # built once per kernel, shared read-only by every run
            k_win = (kernel.sigma_ext_nm2[sel] @ hats.T) * (
                kernel.path_length_cm * NM2_TO_CM2 / LN10
            )
            scale = float(np.linalg.norm(k_win, 2))  # c = u / scale keeps the numbers O(1)
            k = k_win / scale
            q, r = np.linalg.qr(k)
            for a in (k, q, r):
                a.setflags(write=False)
            per_kernel[key] = (scale, k, q, r)
        self._scale, self._k, self._q, self._r = per_kernel[key]
        lap = np.eye(n_bins, k=-1) - 2.0 * np.eye(n_bins) + np.eye(n_bins, k=1)
        cn = np.linalg.norm(self._k, axis=0)
        self._lap = np.vstack([lap / 4.0, ridge * np.diag(np.sqrt(np.median(cn) / cn))])
        self._h = self._lap.T @ self._lap
        self._lams = np.geomspace(lambda_range[0], lambda_range[1], n_lambda)
        self._plan = savgol_plan(wl[sel], smooth_window_nm)
        self._last: tuple[Reading, dict[str, Any]] | None = None
        self._estimate: Estimate | None = None
        self._lambda = math.nan

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        wl = np.arange(300.0, 901.0, 10.0)
        d = np.exp(np.arange(math.log(2.0), math.log(150.0), 0.05))
        sigma = d**3 * np.exp(-(((wl[:, None] - 500.0 - d / 2) / (60 + d)) ** 2))
        kernel = PSDKernel("Au", 1.333, 1.0, wl, d, sigma)
        return {"kernel": kernel, "sensor_id": "uv1", "n_bins": 20, "n_bootstrap": 4}

    # ----------------------------------------------------------------------------- update

    def update(self, message: Reading) -> None:
        """Invert one reading (never raises; other messages are ignored)."""
        if not isinstance(message, Reading):
            return
        res = frame_result(
            message,
            self.sensor_id,
            self.kernel.wavelengths_nm.size,
            lambda values: self._fit(
                values[self._sel], np.random.default_rng((self.seed, message.seq))
            ),
            flagged,
        )
        self._last = (message, res)
        self._estimate = None

    def _solve(self, r: np.ndarray, z: np.ndarray, lam: float) -> np.ndarray:
        a = np.vstack([r, lam * self._lap])
        return nnls(a, np.concatenate([z, np.zeros(self._lap.shape[0])]), maxiter=50 * self.n_bins)[
            0
        ]

    def _fit(self, y: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
        try:
            return self._fit_window(y, rng)
        except _SOLVER_ERRORS:  # nnls out of iterations, a singular system: a failed fit
            return {"flags": [*screen_window(y, self.saturation_au, 1.0, 0.0)[0], "fit_failed"]}

    def _fit_window(self, y: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
        flags, bad, peak = screen_window(
            y, self.saturation_au, self.max_excluded_fraction, self.min_signal_au
        )
        if bad is None:
            return {"flags": flags}
        good = ~bad
        yg = y[good]
        if bad.any():
            q, r = np.linalg.qr(self._k[good])
        else:
            q, r = self._q, self._r
        n = yg.size
        z = q.T @ yg
        rss_out = max(float(yg @ yg) - float(z @ z), 0.0)
        noise = window_noise_au(y, bad, self._plan)
        g = r.T @ r
        fits = []
        for lam in self._lams:
            u = self._solve(r, z, lam)
            rss = float(np.sum((r @ u - z) ** 2)) + rss_out
            trace = float(np.trace(np.linalg.solve(g + lam * lam * self._h, g)))
            fits.append((lam, u, rss, trace))
        rss_all = np.array([f[2] for f in fits])
        if self.lambda_rule == "gcv":
            gcv = [n * f[2] / max(n - f[3], 1.0) ** 2 for f in fits]
            lam, u, rss, trace = fits[int(np.argmin(gcv))]
        else:  # discrepancy: the largest lam with rss <= n noise^2, else the best fit
            ok = np.flatnonzero(rss_all <= n * noise * noise)
            lam, u, rss, trace = fits[int(ok[-1]) if ok.size else int(np.argmin(rss_all))]
        self._lambda = float(lam)
        if not u.sum() > 0:  # a signal but no positive distribution explains it
            return {"flags": [*flags, "fit_failed"]}
        dof = max(n - trace, 1.0)
        if not noise > 0:
            noise = math.sqrt(rss / dof)
        chi2_red = rss / dof / (noise * noise) if noise > 0 else math.nan
        rel_rms = math.sqrt(rss / n) / peak
        resid = yg - self._k[good] @ u
        unexplained = (chi2_red > self.max_chi2_red and rel_rms > self.max_rel_rms) or (
            red_excess(resid, peak, noise)
        )
        # residual bootstrap at the chosen lam, all replicates projected at once
        fitted = yg - resid
        boot = (resid - resid.mean()) * math.sqrt(n / dof)
        draws = boot[rng.integers(0, n, size=(self.n_bootstrap, n))]
        zb = (fitted[None, :] + draws) @ q
        ub = np.array([self._solve(r, zi, lam) for zi in zb]).reshape(-1, self.n_bins)
        stats = self._stats(u)
        if stats is None or not all(math.isfinite(x) for x in stats):
            return {"flags": [*flags, "fit_failed"]}
        bstats = [s for s in map(self._stats, ub) if s is not None]
        sds = np.std(np.array(bstats), axis=0, ddof=1) if len(bstats) > 1 else [math.nan] * 4
        counts = u * self._hat_area / self._scale
        counts_sd = (
            np.std(ub * self._hat_area / self._scale, axis=0, ddof=1)
            if len(ub) > 1
            else np.full(self.n_bins, math.nan)
        )
        d_mean, gsd, nml, d_mode = stats
        if max(counts[0], counts[-1]) > _EDGE_FRACTION * nml:
            flags.append("at_grid_edge")
        if _multimodal(u):
            flags.append("multimodal")
        values = {
            "d_mean_nm": (d_mean, sds[0]),
            "gsd": (gsd, sds[1]),
            "number_per_ml": (nml, sds[2]),
            "d_mode_nm": (d_mode, sds[3]),
            "chi2_red": (chi2_red, None),
            "rel_rms_residual": (rel_rms, None),
        }
        dist: tuple[np.ndarray, np.ndarray] | None = (counts, counts_sd)
        if unexplained:
            flags.append("unexplained")
            if rel_rms > self.invalid_rel_rms:
                values.update({k: (None, None) for k in _SIZE})
                dist = None
        return {"flags": flags, "values": values, "distribution": dist}

    def _stats(self, u: np.ndarray) -> tuple[float, float, float, float] | None:
        """(d_mean_nm, gsd, number_per_ml, d_mode_nm) of coefficients u; None if empty."""
        counts = u * self._hat_area
        m0, m1, ml, ml2 = self._moments @ counts
        if not m0 > 0:
            return None
        var = max(ml2 / m0 - (ml / m0) ** 2, 0.0)
        k = int(np.argmax(u))
        t_mode = float(self._t[k])
        if 0 < k < self.n_bins - 1:
            a, b, c = u[k - 1], u[k], u[k + 1]
            den = a - 2.0 * b + c
            if den < 0:
                t_mode += 0.5 * (a - c) / den * float(self._t[1] - self._t[0])
        return m1 / m0, math.exp(math.sqrt(var)), m0 / self._scale, math.exp(t_mode)

    # ------------------------------------------------------------------------- read-outs

    @property
    def regularization(self) -> float:
        """The lam chosen for the last spectrum (relative: kernel and L normalised; NaN before)."""
        return self._lambda

    @property
    def estimate(self) -> Estimate | None:
        """The ``psd`` :class:`Estimate` of the last reading, or None before the first."""
        if self._last is None:
            return None
        if self._estimate is None:
            reading, res = self._last
            dist = res.get("distribution")
            self._estimate = psd_estimate(
                reading,
                self,
                res,
                UNITS,
                np.exp(self._t),
                None if dist is None else dist[0],
                None if dist is None or not np.isfinite(dist[1]).all() else dist[1],
            )
        return self._estimate


def _multimodal(u: np.ndarray) -> bool:
    """Two peaks of u, the smaller >= _PEAK_MIN of the larger, a valley < _VALLEY_MAX between."""
    top = float(u.max())
    inner = (u[1:-1] > u[:-2]) & (u[1:-1] >= u[2:])
    peaks = [i + 1 for i in np.flatnonzero(inner) if u[i + 1] >= _PEAK_MIN * top]
    for i, j in zip(peaks, peaks[1:]):
        if float(u[i : j + 1].min()) < _VALLEY_MAX * min(u[i], u[j]):
            return True
    return False
