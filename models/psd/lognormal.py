"""Lognormal size distribution and number concentration of metal spheres from each UV-Vis spectrum.

:class:`LognormalPSD` fits the extinction of a lognormal number distribution of spheres,
computed by Mie theory (the :class:`~synthwatch.models.psd.kernel.PSDKernel`), to every
spectrum: the Mie-inversion approach of Amendola & Meneghetti, "Size evaluation of gold
nanoparticles by UV-vis spectroscopy", J. Phys. Chem. C 113 (2009) 4277, restricted to a
parametric PSD. Parameters: ``d_mean_nm`` (number-weighted arithmetic mean diameter), ``gsd``
(geometric standard deviation) and ``number_per_ml``; ln d ~ N(mu, s^2) with s = ln gsd and
mu = ln d_mean - s^2/2 (the simulator's convention), weights on the kernel's ln-d grid
integrated exactly against each grid point's "hat" function (:mod:`~synthwatch.models.psd.lut`).

Method, per spectrum:

1. Select the kernel wavelengths within ``fit_window_nm`` (the kernel axis is the sensor axis).
   Missing points (:func:`~synthwatch.models.uvvis.preprocess.invalid_mask`) and saturated ones
   (:func:`~synthwatch.models.uvvis.preprocess.saturation_mask`) are left out when they are at
   most ``max_excluded_fraction`` of the window, else there is no fit (flags ``dropout``,
   ``saturated``).
   Baseline offset: with ``baseline_offset=True`` a constant absorbance offset is a free
   parameter (data and model are fitted with their means over the kept points removed); with
   False there is none; with ``"auto"`` (the default) it is chosen per spectrum. A
   spectrometer's baseline drifts by a few mAU over hours, and on the simulator's drifting runs
   a fit without the offset is biased (median d_mean error 4.1 % against 0.9 % with it); on
   drift-free spectra the offset costs accuracy, because the absolute level carries size
   information (p95 7.6 % against 7.2 %, gsd 9.2 % against 7.0 %; benchmarks/RESULTS.md).
   ``"auto"`` starts from the previous spectrum's choice (no offset at first). Without the
   offset, a score test (Rao, Proc. Camb. Phil. Soc. 44 (1948) 50) of a constant offset on the
   residuals decides whether to refit with one. With the offset, a Wald test of the fitted
   offset decides whether to refit without. Both are chi2 with 1 dof, at p = 0.001. Steady
   spectra so cost one fit, and a change of regime costs two.
2. The window kernel is compressed once (SVD, rank r ~ 25, every diameter's spectrum kept to
   1e-7 relative), so the fit works on ``U^T y`` (r numbers) with the same least-squares cost.
3. Start: a lookup table of normalised model spectra on a 60 x 12 grid of (d_mean 2.2-145 nm,
   gsd 1.01-1.6) gives the best node with N solved in closed form; or, warm start, the previous
   fit of the run. Rule: the previous fit is the start unless its least-squares cost on the new
   spectrum (N refitted) exceeds that of the best LUT node (a jump, or noise that moved the
   optimum by more than the LUT spacing): then the fit starts again from that node. (A more
   lenient rule, e.g. 2x, made LM slower on 1 %-noise growth runs: from the previous optimum,
   displaced ~1 sd along the curved d-gsd valley, it needs more steps than from the LUT node.)
4. Levenberg-Marquardt (Levenberg, Q. Appl. Math. 2 (1944) 164; Marquardt, SIAM J. Appl. Math.
   11 (1963) 431) on (ln d_mean, ln gsd) with N eliminated by variable projection (Golub &
   Pereyra, SIAM J. Numer. Anal. 10 (1973) 413).
   Optional ``gsd_prior = (gsd0, tau)``: a Gaussian prior on ln gsd (mean ln gsd0, sd tau),
   added to the cost with the noise variance estimated from the part of the spectrum outside
   the model's span (maximum a posteriori). Off by default. Below ~20 nm the spectrum depends on
   d only through the size-dependent damping, so d_mean and gsd trade off (a smaller, broader
   PSD fits as well as a larger, narrower one); a weak prior such as (1.15, 0.1) tightens d_mean
   there (p95 error 11 % -> 7 % at 1 % noise) at the price of pulling gsd towards gsd0.
5. Uncertainties (1 sd): covariance (J^T J)^-1 s^2 in (ln d_mean, ln gsd, ln N), J the Jacobian
   of the full model, s^2 = RSS / (n - 3); propagated to the derived quantities. A fit that
   stops at a bound of gsd or d_mean is flagged ``at_bound:gsd`` / ``at_bound:d_mean_nm``; for
   gsd the 95 % interval then comes from the profile likelihood
   (:func:`~synthwatch.models.psd.ensemble.profile_width`), reported as ``lower``/``upper``.

With an ensemble (``kernel.members``: one kernel per published set of optical constants and
damping constant A; the runtime's default, issue 19) the model error is carried too:

6. The spectrum is fitted under every member at once (:func:`~synthwatch.models.psd.ensemble.
   fit_members`: batched Levenberg-Marquardt in one reduced basis of all the members, each
   started from its best node of the start table or its previous fit), the fit above (on the
   members' mean kernel) deciding the baseline offset. The members are weighted by their
   likelihood tempered by the best one's misfit (:func:`~synthwatch.models.psd.ensemble.
   member_weights`); the estimate is the weighted mean of (ln d_mean, ln gsd, ln N), its noise
   part the weighted mean of the members' covariances, its model part the rms spread of the
   members about it times the prediction factor of the number of sets
   (:mod:`~synthwatch.models.psd.uncertainty`). Each quantity carries ``uncertainty`` (total),
   ``uncertainty_noise`` and ``uncertainty_model``. ``chi2_red``, ``rel_rms_residual`` and the
   ``unexplained`` test are those of the best member.

Spectra that cannot carry a size (:mod:`~synthwatch.models.psd.plasmon`: ``too_weak``,
``no_plasmon``, ``too_broad``) get no size, width or concentration (``metal0_mM`` is kept
except for ``too_broad``). The fit window is 400-800 nm for gold and 340-800 nm for silver
(whose band peaks near 400 nm), unless ``fit_window_nm`` says otherwise.

Quantities: ``d_mean_nm``, ``gsd`` ("1"), ``number_per_ml`` ("mL^-1"),
``d_volume_weighted_mean_nm`` (E[d^4]/E[d^3] = d_mean exp(3 s^2)), ``metal0_mM`` (Au(0) or Ag(0)
in the particles: N pi/6 E[d^3] rho / M, E[d^3] = d_mean^3 exp(3 s^2); Au 19.32 g/cm^3, 196.97
g/mol; Ag 10.49 g/cm^3, 107.87 g/mol, CRC Handbook of Chemistry and Physics), ``chi2_red``
(RSS / (n - 3) / noise^2, noise from the Savitzky-Golay residual, ~1 for a good fit) and
``rel_rms_residual`` (rms residual / peak absorbance). ``distribution``: N times the fitted
number fractions, summed over groups of 7 grid points of the kernel (434 -> 62 bins, centre at
the geometric mean of the group), renormalised to sum to ``number_per_ml``.

Flags (``update`` never raises; the ones of 5, 6 and the refusals above, and):
``shape_mismatch`` (wrong length), ``sensor_mismatch``,
``dropout``, ``saturated``, ``no_signal`` (peak below ``min_signal_au``: all quantities None),
``fit_failed`` (the signal is there but the fit is not: the optimiser raised, gave non-finite
numbers or no positive concentration; all quantities None),
``at_grid_edge`` (d_mean < 2.5 nm or > 140 nm, gsd > 1.6), ``unexplained`` (chi2_red >
``max_chi2_red`` and rel_rms_residual > ``max_rel_rms``, or a positive mean residual over the
red third of the window above 2 % of the peak and 5 noise standard errors, as aggregates or rods
give); ``model_error`` (a numerical failure caught so the pipeline goes on; all quantities
None). With ``unexplained`` the numbers are kept, except that d_mean, gsd and their derived
quantities are None when rel_rms_residual > ``invalid_rel_rms`` (the fit is clearly invalid).

>>> import numpy as np
>>> from datetime import datetime, timezone
>>> from synthwatch.models.psd.kernel import PSDKernel
>>> wl = np.arange(400.0, 801.0, 10.0)
>>> d = np.exp(np.arange(np.log(2.0), np.log(150.0), 0.02))
>>> x = d[None, :] / 30.0
>>> sigma = d[None, :] ** 3 * np.exp(-((wl[:, None] - 500.0 - 40 * x) / (60 + 20 * x)) ** 2)
>>> k = PSDKernel(metal="Au", n_medium=1.333, path_length_cm=1.0, wavelengths_nm=wl,
...               diameters_nm=d, sigma_ext_nm2=sigma)
>>> model = LognormalPSD(k, sensor_id="uv1")
>>> from synthwatch.models.psd.lut import lognormal_hat_weights
>>> w = lognormal_hat_weights(np.log(d), np.log(40.0) - 0.5 * np.log(1.15) ** 2, np.log(1.15))
>>> a = k.absorbance(w, 1e10)
>>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> model.update(Reading(run_id="r1", t=t0, sensor_id="uv1", seq=0, values=list(a)))
>>> est = model.estimate
>>> round(est.get("d_mean_nm").value, 2), round(est.get("gsd").value, 3)
(40.0, 1.15)
>>> round(est.get("number_per_ml").value / 1e10, 4), est.flags
(1.0, [])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal
from weakref import WeakKeyDictionary

import numpy as np

from synthwatch.contract.messages import Estimate, Reading
from synthwatch.models.base import Model
from synthwatch.models.declare import Context, register, setting
from synthwatch.models.psd.ensemble import (
    EnsembleBasis,
    batched_model_and_grad,
    fit_members,
    member_weights,
    prediction_factor,
    profile_width,
)
from synthwatch.models.psd.kernel import (
    LN10,
    NM2_TO_CM2,
    PSDKernel,
    flagged,
    psd_estimate,
    red_excess,
)
from synthwatch.models.psd.lut import (
    FitResult,
    ReducedKernel,
    fit_shape,
    lognormal_hat_weights,
    lut_weights,
    model_and_grad,
    model_vector,
)
from synthwatch.models.psd.plasmon import (
    PLASMON_BAND_NM,
    RED_OFFSET_NM,
    kernel_max_red_ratio,
    plasmon_flags,
)
from synthwatch.models.psd.uncertainty import parts_of
from synthwatch.models.reading_values import frame_result
from synthwatch.models.uvvis.features import SYSTEM_WINDOWS_NM
from synthwatch.models.uvvis.preprocess import (
    DEFAULT_SATURATION_AU,
    savgol_plan,
    savgol_smooth,
    screen_window,
    window_noise_au,
)
from synthwatch.models.uvvis.settings import AVERAGE_S, N_MEDIUM

__all__ = ["LognormalPSD", "METALS", "FLAGS"]

#: density (g/cm^3) and molar mass (g/mol) per metal (CRC Handbook of Chemistry and Physics)
METALS = {"Au": (19.32, 196.97), "Ag": (10.49, 107.87)}
FLAGS = (
    "shape_mismatch",
    "sensor_mismatch",
    "dropout",
    "saturated",
    "no_signal",
    "fit_failed",
    "at_grid_edge",
    "unexplained",
    "model_error",
    "at_bound:d_mean_nm",
    "at_bound:gsd",
    "too_weak",
    "no_plasmon",
    "too_broad",
)
#: flags that refuse the size: the spectrum cannot carry one (models/psd/plasmon.py)
_REFUSALS = frozenset({"too_weak", "no_plasmon", "too_broad"})
UNITS = {
    "d_mean_nm": "nm",
    "gsd": "1",
    "number_per_ml": "mL^-1",
    "d_volume_weighted_mean_nm": "nm",
    "metal0_mM": "mM",
    "chi2_red": "1",
    "rel_rms_residual": "1",
}
#: fit window per metal, nm: silver's band peaks near 400 nm, so its window starts below it
#: (above the interband edge near 320 nm, Johnson & Christy 1972)
FIT_WINDOWS_NM = {"Au": (400.0, 800.0), "Ag": (340.0, 800.0)}
_LUT_D_NM = (2.2, 145.0, 60)
_LUT_GSD = (1.01, 1.6, 12)
_BOUNDS_D_NM = (2.1, 148.0)
_BOUNDS_GSD = (1.01, 1.75)
_EDGE_D_NM = (2.5, 140.0)
_EDGE_GSD = 1.6
_BIN_GROUP = 7
#: warm start unless the previous fit's cost on the new spectrum exceeds this times the LUT's
_RESET_RATIO = 1.0
#: an ensemble's members start from their previous fits without a look at the start table while
#: each one's cost on the new spectrum is within this factor of its cost on the previous one
_WARM_SLACK = 2.0
#: what the optimiser may raise on a pathological window (flag ``fit_failed``)
_SOLVER_ERRORS = (np.linalg.LinAlgError, FloatingPointError, ValueError, ZeroDivisionError)
#: with baseline_offset='auto', refit with a free offset when the score statistic of a constant
#: offset exceeds this (chi2 with 1 dof: p = 0.001)
_OFFSET_CHI2 = 10.83


@dataclass(frozen=True, eq=False)
class _Window:
    """The fit window's reduced kernel and start table, without or with a free offset."""

    red: ReducedKernel
    lut: np.ndarray  # the LUT's model spectra in the reduced space, unit columns
    offset: bool
    col_means: np.ndarray  # each diameter's mean absorbance over the window, per particle/mL
    #: the centre and the ensemble's members in a basis of their own, or None
    ens: EnsembleBasis | None = None

    @classmethod
    def build(
        cls,
        k_win: np.ndarray,
        ln_d: np.ndarray,
        lut_p: np.ndarray,
        offset: bool = False,
        members: tuple[np.ndarray, ...] = (),
        n_sets: int = 0,
    ) -> _Window:
        red = ReducedKernel.build(k_win, ln_d)
        lut = red.reduced @ lut_weights(ln_d, lut_p)
        # the centre is in the ensemble's basis too: refitted with the same steps, it is what
        # the members' shifts are measured from (the optimiser's tolerance is no model error)
        ens = EnsembleBasis.build(k_win, members, ln_d, n_sets, lut_p) if members else None
        window = cls(red, lut / np.linalg.norm(lut, axis=0), offset, k_win.mean(axis=0), ens)
        for a in (red.basis, red.reduced, red.reduced_t, window.lut, window.col_means):
            a.setflags(write=False)  # shared by the models of every run on the kernel
        return window


@dataclass(frozen=True, eq=False)
class _Solution:
    """One fit of the kept points: the variant, the result, its basis and data (centred if so)."""

    window: _Window
    fit: FitResult
    basis: np.ndarray
    y: np.ndarray
    rss_out: float
    y_mean: float  # mean of the kept points before centring
    z: np.ndarray  # the data in the reduced basis
    m_red_t: np.ndarray  # the centre kernel in that basis (re-orthonormalised if points left out)
    ens: EnsembleBasis | None  # the ensemble (in a basis orthonormal on the points kept)


#: the fit windows built for each kernel (by identity; dropped with the kernel)
_WINDOWS: WeakKeyDictionary[PSDKernel, dict[tuple, tuple[_Window | None, _Window | None]]] = (
    WeakKeyDictionary()
)


SWITCH = setting(
    "psd_lognormal", True, "Lognormal size distribution by Mie inversion, every spectrum."
)


def _build(ctx: Context) -> Model:
    """Fit on the runtime's Mie kernel; co-added over ``psd_average_s`` when set."""
    desc = ctx.descriptor
    psd = LognormalPSD(
        ctx.kernel(ctx.settings[N_MEDIUM.key]),
        sensor_id=desc.sensor_id,
        saturation_au=desc.saturation_au or DEFAULT_SATURATION_AU,
    )
    return ctx.coadd(psd, ctx.settings[AVERAGE_S.key])


@register(
    kinds=("uvvis",),
    systems=tuple(SYSTEM_WINDOWS_NM),
    switch=SWITCH,
    cost="per-spectrum fit",
    build=_build,
    optional=True,
)
class LognormalPSD(Model):
    """Lognormal PSD (number-mean d, gsd) and number concentration of spheres per spectrum."""

    name = "psd_lognormal"
    version = "1"

    def __init__(
        self,
        kernel: PSDKernel,
        sensor_id: str = "uv1",
        fit_window_nm: tuple[float, float] | None = None,
        saturation_au: float = DEFAULT_SATURATION_AU,
        max_excluded_fraction: float = 0.1,
        min_signal_au: float = 0.01,
        max_chi2_red: float = 5.0,
        max_rel_rms: float = 0.01,
        invalid_rel_rms: float = 0.1,
        warm_start: bool = True,
        smooth_window_nm: float = 15.0,
        gsd_prior: tuple[float, float] | None = None,
        baseline_offset: bool | Literal["auto"] = "auto",
    ):
        self.kernel = kernel
        self.sensor_id = sensor_id
        self.fit_window_nm = fit_window_nm
        self.saturation_au = saturation_au
        self.max_excluded_fraction = max_excluded_fraction
        self.min_signal_au = min_signal_au
        self.max_chi2_red = max_chi2_red
        self.max_rel_rms = max_rel_rms
        self.invalid_rel_rms = invalid_rel_rms
        self.warm_start = warm_start
        self.smooth_window_nm = smooth_window_nm
        self.gsd_prior = gsd_prior
        self.baseline_offset = baseline_offset
        if baseline_offset not in (True, False, "auto"):
            raise ValueError(
                f"baseline_offset: expected True, False or 'auto', got {baseline_offset!r}"
            )
        wl = kernel.wavelengths_nm
        window = fit_window_nm or FIT_WINDOWS_NM.get(kernel.metal, (400.0, 800.0))
        sel = (wl >= window[0]) & (wl <= window[1])
        for member in kernel.members:  # the window where every member has optical constants
            sel &= np.isfinite(member.sigma_ext_nm2).all(axis=1)
        if sel.sum() < 8:
            raise ValueError(f"fit_window_nm {window}: fewer than 8 kernel wavelengths")
        self._sel = sel
        ln_d = kernel.ln_d
        if not np.allclose(np.diff(ln_d), ln_d[1] - ln_d[0], rtol=1e-6, atol=1e-9):
            raise ValueError("kernel.diameters_nm: expected a grid uniform in ln d")
        to_au = kernel.path_length_cm * NM2_TO_CM2 / LN10
        members = tuple(m.sigma_ext_nm2[sel] * to_au for m in kernel.members)
        n_sets = len({m.constants for m in kernel.members})
        # with an ensemble, the fit's centre is the members' mean kernel
        k_win = sum(members) / len(members) if members else kernel.sigma_ext_nm2[sel] * to_au
        self._plan = savgol_plan(wl[sel], smooth_window_nm)
        self._lower = np.array([math.log(_BOUNDS_D_NM[0]), math.log(_BOUNDS_GSD[0])])
        self._upper = np.array([math.log(_BOUNDS_D_NM[1]), math.log(_BOUNDS_GSD[1])])
        dg = np.geomspace(*_LUT_D_NM)
        sg = np.log(np.geomspace(*_LUT_GSD))
        self._lut_p = np.array([(math.log(a), b) for a in dg for b in sg])
        # the plain window (no offset) and the centred one (a free constant offset: data and
        # model fitted with their means removed), as the setting needs; built once per kernel
        # and shared, read-only, by the models of every run on that kernel
        key = (tuple(window), baseline_offset)
        per_kernel = _WINDOWS.setdefault(kernel, {})
        if key not in per_kernel:
            centred = tuple(k - k.mean(axis=0) for k in members)
            per_kernel[key] = (
                None
                if baseline_offset is True
                else _Window.build(k_win, ln_d, self._lut_p, members=members, n_sets=n_sets),
                None
                if baseline_offset is False
                else _Window.build(
                    k_win - k_win.mean(axis=0),
                    ln_d,
                    self._lut_p,
                    offset=True,
                    members=centred,
                    n_sets=n_sets,
                ),
            )
        self._plain, self._centred = per_kernel[key]
        ratio_key = ("max_red_ratio", tuple(window))
        if ratio_key not in per_kernel:
            spectra = k_win @ lut_weights(ln_d, self._lut_p)
            per_kernel[ratio_key] = kernel_max_red_ratio(wl[sel], spectra, kernel.metal)
        self._max_red_ratio = per_kernel[ratio_key]
        band = PLASMON_BAND_NM.get(kernel.metal, (wl[0], wl[-1]))
        self._check_sel = (wl >= band[0] - 30.0) & (wl <= band[1] + RED_OFFSET_NM + 30.0)
        self._check_wl = wl[self._check_sel]
        self._check_plan = (
            savgol_plan(self._check_wl, smooth_window_nm) if self._check_sel.sum() >= 8 else None
        )
        self._red = (self._plain or self._centred).red
        n_d = ln_d.size
        self._bin_edges = np.arange(0, n_d, _BIN_GROUP)
        self._bin_axis = np.exp(
            np.add.reduceat(ln_d, self._bin_edges) / np.diff(np.append(self._bin_edges, n_d))
        )
        self._prev_p: np.ndarray | None = None
        self._prev_members: np.ndarray | None = None
        self._prev_member_cost: np.ndarray | None = None
        self._last: tuple[Reading, dict[str, Any]] | None = None
        self._estimate: Estimate | None = None
        self._iterations = 0
        self._started_from = ""
        self._offset_used = False

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        wl = np.arange(300.0, 901.0, 10.0)
        d = np.exp(np.arange(math.log(2.0), math.log(150.0), 0.05))
        x = d[None, :] / 30.0
        sigma = d[None, :] ** 3 * np.exp(-(((wl[:, None] - 500.0 - 40 * x) / (60 + 20 * x)) ** 2))
        kernel = PSDKernel(
            metal="Au",
            n_medium=1.333,
            path_length_cm=1.0,
            wavelengths_nm=wl,
            diameters_nm=d,
            sigma_ext_nm2=sigma,
        )
        return {"kernel": kernel, "sensor_id": "uv1"}

    # ----------------------------------------------------------------------------- update

    def update(self, message: Reading) -> None:
        """Fit one reading (never raises; other messages are ignored)."""
        if not isinstance(message, Reading):
            return
        res = frame_result(
            message,
            self.sensor_id,
            self.kernel.wavelengths_nm.size,
            self._fit,
            flagged,
        )
        self._last = (message, res)
        self._estimate = None

    def _fit(self, values: np.ndarray) -> dict[str, Any]:
        self._iterations = 0
        y = values[self._sel]
        flags, bad, peak = screen_window(
            y, self.saturation_au, self.max_excluded_fraction, self.min_signal_au
        )
        if bad is None:
            return {"flags": flags}
        good = ~bad
        y_good = y[good]
        noise = window_noise_au(y, bad, self._plan)  # excluded points interpolated
        flags = [*flags, *self._refusals(values, noise)]
        try:
            sol = self._fit_variants(y_good, good, bad, noise)
        except _SOLVER_ERRORS:
            sol = None  # the optimiser raised: a failed fit, not a missing signal
        if sol is None or not (
            np.isfinite(sol.fit.p).all()
            and math.isfinite(sol.fit.rss)
            and math.isfinite(sol.fit.number_per_ml)
        ):
            return {"flags": [*flags, "fit_failed"]}
        return self._result(sol, flags, peak, noise)

    def _fit_variants(
        self, y_good: np.ndarray, good: np.ndarray, bad: np.ndarray, noise: float
    ) -> _Solution | None:
        """The fit with or without the offset, as ``baseline_offset`` says (None: failed)."""
        if self._plain is None or self._centred is None:  # offset always or never
            sol = self._solve(self._plain or self._centred, y_good, good, bad)
        else:  # 'auto': the previous frame's choice, kept while its test still supports it
            first, second = (
                (self._centred, self._plain)
                if self._offset_used
                else (
                    self._plain,
                    self._centred,
                )
            )
            sol = self._solve(first, y_good, good, bad)
            if sol is not None and (self._offset_chi2(sol, noise, good) > _OFFSET_CHI2) != (
                first.offset
            ):
                sol = self._solve(second, y_good, good, bad)
        return sol

    def _result(
        self, sol: _Solution, flags: list[str], peak: float, noise: float
    ) -> dict[str, Any]:
        """Quantities, flags and distribution of a successful fit."""
        if sol.ens is not None:
            return self._result_ensemble(sol, flags, peak, noise)
        self._offset_used = sol.window.offset
        fit, basis, yg, rss_out = sol.fit, sol.basis, sol.y, sol.rss_out
        n = yg.size
        dof = max(n - 3 - int(sol.window.offset), 1)
        resid = yg - basis @ fit.coeffs
        rss = float(fit.rss) + rss_out
        s2 = rss / dof
        if not noise > 0:
            noise = math.sqrt(s2)
        chi2_red = s2 / (noise * noise) if noise * noise > 0 else math.nan
        rel_rms = math.sqrt(rss / n) / peak
        ln_d_mean, s = float(fit.p[0]), float(fit.p[1])
        d_mean, gsd, nml = math.exp(ln_d_mean), math.exp(s), fit.number_per_ml
        if d_mean < _EDGE_D_NM[0] or d_mean > _EDGE_D_NM[1] or gsd > _EDGE_GSD:
            flags.append("at_grid_edge")
        unexplained = (chi2_red > self.max_chi2_red and rel_rms > self.max_rel_rms) or (
            red_excess(resid, peak, noise)
        )
        if unexplained:
            flags.append("unexplained")
        cov = fit.jtj_inv * s2
        rho, molar = METALS.get(self.kernel.metal, (math.nan, math.nan))
        # metal0 = N pi/6 E[d^3] rho / M (mM), E[d^3] = d_mean^3 exp(3 s^2): the constant part
        ln_metal0_factor = math.log(math.pi / 6.0 * 1e-21 * rho / molar * 1e6)
        p_hat = np.array([ln_d_mean, s, math.log(nml)])
        at_bound = self._at_bound(fit.p)
        flags.extend(f"at_bound:{name}" for name in at_bound)
        profile = None
        ln_d_cond_sd = 0.0
        if "gsd" in at_bound:
            profile = profile_width(
                sol.z, sol.m_red_t, self._red.ln_d, fit.p, self._lower, self._upper, s2
            )
            jd = fit.jac[:, 0]
            jj = float(jd @ jd)
            ln_d_cond_sd = math.sqrt(s2 / jj) if jj > 0 else 0.0
        parts = parts_of(p_hat, cov, None, 1.0, ln_metal0_factor, profile, ln_d_cond_sd)
        detailed = profile is not None
        values: dict[str, tuple] = {}
        for name, part in parts.items():
            v, sd, extras = part.fields()
            values[name] = (v, sd, extras) if detailed else (v, sd)
        values["chi2_red"] = (chi2_red, None)
        values["rel_rms_residual"] = (rel_rms, None)
        return self._finish(flags, values, unexplained, rel_rms, ln_d_mean, s, nml)

    def _finish(
        self,
        flags: list[str],
        values: dict[str, tuple],
        unexplained: bool,
        rel_rms: float,
        ln_d_mean: float,
        s: float,
        nml: float,
    ) -> dict[str, Any]:
        """The refusals applied to ``values``, and the distribution of (d_mean, s, N)."""
        if unexplained and rel_rms > self.invalid_rel_rms:
            for name in ("d_mean_nm", "gsd", "d_volume_weighted_mean_nm", "metal0_mM"):
                values[name] = (None, None)
        if set(flags) & _REFUSALS:  # the spectrum cannot carry a size (see plasmon.py)
            for name in ("d_mean_nm", "gsd", "d_volume_weighted_mean_nm", "number_per_ml"):
                values[name] = (None, None)
            if "too_broad" in flags:  # aggregates: the metal in them is not read either
                values["metal0_mM"] = (None, None)
        w = lognormal_hat_weights(self._red.ln_d, ln_d_mean - 0.5 * s * s, s)
        binned = np.add.reduceat(w, self._bin_edges)
        total = float(binned.sum())
        dist = binned * (nml / total) if total > 0 else None
        return {"flags": flags, "values": values, "distribution": dist}

    def _result_ensemble(
        self, sol: _Solution, flags: list[str], peak: float, noise: float
    ) -> dict[str, Any]:
        """Quantities, flags and distribution from the fits under every member (module doc)."""
        self._offset_used = sol.window.offset
        ens, yg = sol.ens, sol.y
        n = yg.size
        dof = max(n - 3 - int(sol.window.offset), 1)
        z = ens.basis.T @ yg
        rss_out = max(float(yg @ yg) - float(z @ z), 0.0)
        noise_var = noise * noise if noise > 0 else (sol.fit.rss + sol.rss_out) / dof
        starts = self._member_starts(z, ens)
        fits = fit_members(
            z,
            ens,
            ens.ln_d,
            starts,
            self._lower,
            self._upper,
            cost_tol=1e-3 * noise_var,
        )
        members = slice(1, None)  # index 0 is the centre: a start, not a member
        ok = fits.n[members] > 0
        if not ok.any():
            return {"flags": [*flags, "fit_failed"]}
        self._prev_members = fits.p.copy()
        self._prev_member_cost = fits.cost.copy()
        p_k = fits.p[members][ok]
        ln_n = np.log(fits.n[members][ok])
        cost = fits.cost[members][ok] + rss_out
        w = member_weights(cost, noise_var, dof)
        best = int(np.argmax(w))
        members_p = np.column_stack([p_k, ln_n])
        p_bar = w @ members_p
        s2_k = cost / dof
        cov = np.einsum("k,kij->ij", w * s2_k, fits.cov[members][ok])
        # the best member's residual decides how well the spheres explain the spectrum
        kb = np.flatnonzero(ok)[best] + 1
        resid = yg - ens.basis @ fits.coeffs[kb]
        rss = float(cost[best])
        chi2_red = rss / dof / noise_var if noise_var > 0 else math.nan
        rel_rms = math.sqrt(rss / n) / peak
        unexplained = (chi2_red > self.max_chi2_red and rel_rms > self.max_rel_rms) or (
            red_excess(resid, peak, math.sqrt(noise_var))
        )
        ln_d_mean, s = float(p_bar[0]), float(p_bar[1])
        d_mean, gsd = math.exp(ln_d_mean), math.exp(s)
        if d_mean < _EDGE_D_NM[0] or d_mean > _EDGE_D_NM[1] or gsd > _EDGE_GSD:
            flags.append("at_grid_edge")
        if unexplained:
            flags.append("unexplained")
        at_bound = self._at_bound(fits.p[kb])
        flags.extend(f"at_bound:{name}" for name in at_bound)
        profile, ln_d_cond_sd = None, 0.0
        if "gsd" in at_bound:
            s2 = float(s2_k[best])
            profile = profile_width(
                z, ens.stack_t[kb], ens.ln_d, fits.p[kb], self._lower, self._upper, s2
            )
            var_d = float(fits.cov[kb][0, 0]) * s2
            ln_d_cond_sd = math.sqrt(var_d) if var_d > 0 else 0.0
        rho, molar = METALS.get(self.kernel.metal, (math.nan, math.nan))
        ln_metal0_factor = math.log(math.pi / 6.0 * 1e-21 * rho / molar * 1e6)
        parts = parts_of(
            p_bar,
            cov,
            members_p,
            prediction_factor(ens.n_sets),
            ln_metal0_factor,
            profile,
            ln_d_cond_sd,
        )
        values: dict[str, tuple] = {name: part.fields() for name, part in parts.items()}
        values["chi2_red"] = (chi2_red, None)
        values["rel_rms_residual"] = (rel_rms, None)
        nml = math.exp(float(p_bar[2]))
        return self._finish(flags, values, unexplained, rel_rms, ln_d_mean, s, nml)

    def _member_starts(self, z: np.ndarray, ens: EnsembleBasis) -> np.ndarray:
        """Where each member's fit starts: its previous fit (warm start) unless the start
        table's best node costs less on this spectrum (the rule of the single fit)."""
        prev = self._prev_members
        if not (self.warm_start and prev is not None and prev.shape[0] == ens.stack_t.shape[0]):
            return ens.starts(z, self._lut_p)[0]
        m, _ = batched_model_and_grad(ens.stack_t, ens.ln_d, prev)
        mm = np.einsum("kr,kr->k", m, m)
        c = m @ z
        cost_prev = float(z @ z) - np.where((mm > 0) & (c > 0), c * c / np.where(mm > 0, mm, 1), 0)
        # the table is only consulted when a member's previous fit fits this spectrum worse than
        # its previous cost allows (a jump); then the best node where it is better
        if self._prev_member_cost is not None and np.all(
            cost_prev <= _WARM_SLACK * self._prev_member_cost
        ):
            return prev.copy()
        p0, cost0 = ens.starts(z, self._lut_p)
        keep = cost_prev <= _RESET_RATIO * cost0
        p0[keep] = prev[keep]
        return p0

    def _refusals(self, values: np.ndarray, noise: float) -> list[str]:
        """too_weak / no_plasmon / too_broad of the spectrum around the metal's band."""
        if self._check_plan is None:
            return []
        x = values[self._check_sel]
        ok = np.isfinite(x)
        if ok.sum() < 8:
            return []
        if not ok.all():
            x = np.interp(self._check_wl, self._check_wl[ok], x[ok])
        smooth = savgol_smooth(x, self._check_plan)
        return plasmon_flags(self._check_wl, smooth, self.kernel.metal, noise, self._max_red_ratio)

    def _at_bound(self, p: np.ndarray) -> list[str]:
        """The parameters the fit left on a bound of its search: ``d_mean_nm``, ``gsd``."""
        out = []
        for j, name in enumerate(("d_mean_nm", "gsd")):
            span = 1e-6 * (self._upper[j] - self._lower[j])
            if p[j] <= self._lower[j] + span or p[j] >= self._upper[j] - span:
                out.append(name)
        return out

    def _solve(
        self, win: _Window, yg: np.ndarray, good: np.ndarray, bad: np.ndarray
    ) -> _Solution | None:
        """Fit the kept points ``yg`` in window variant ``win``; None if N is not positive."""
        basis, m_red_t, lut = win.red.basis, win.red.reduced_t, win.lut
        ens = win.ens
        y_mean = float(yg.mean())
        if win.offset:
            yg = yg - y_mean
        if bad.any():  # re-orthonormalise the basis on the points kept
            bg = basis[good]
            if win.offset:  # the offset over the kept points only
                bg = bg - bg.mean(axis=0)
            q, r = np.linalg.qr(bg)
            basis, m_red_t, lut = q, np.ascontiguousarray(m_red_t @ r.T), r @ lut
            lut = lut / np.linalg.norm(lut, axis=0)
            if ens is not None:
                ens = ens.on_points(good, win.offset)
        z = basis.T @ yg
        rss_out = max(float(yg @ yg) - float(z @ z), 0.0)
        # start: the previous fit (warm), unless its cost on this spectrum (N refitted) is more
        # than _RESET_RATIO times that of the best LUT node (a jump): then that node (reset)
        proj = lut.T @ z
        k = int(np.argmax(np.where(proj > 0, proj, -np.inf)))
        p0, cost0 = self._lut_p[k], float(z @ z) - float(proj[k]) ** 2
        self._started_from = "lut"
        if self.warm_start and self._prev_p is not None:
            m = model_vector(m_red_t, win.red.ln_d, self._prev_p)
            mm = float(m @ m)
            c = float(m @ z)
            if mm > 0 and c > 0 and float(z @ z) - c * c / mm <= _RESET_RATIO * cost0:
                p0 = self._prev_p
                self._started_from = "previous"
        # the noise variance from the part of the spectrum outside the model's span sets the
        # convergence tolerance (1e-3 of it)
        var_out = rss_out / max(yg.size - z.size, 1)
        prior = None
        if self.gsd_prior is not None:
            g0, tau = self.gsd_prior
            prior = (math.log(g0), math.sqrt(var_out) / tau)
        fit = fit_shape(
            z,
            m_red_t,
            win.red.ln_d,
            p0,
            self._lower,
            self._upper,
            cost_tol=1e-3 * var_out,
            prior_s=prior,
        )
        self._iterations += fit.iterations
        if not fit.number_per_ml > 0:
            return None
        self._prev_p = fit.p.copy()
        return _Solution(win, fit, basis, yg, rss_out, y_mean, z, m_red_t, ens)

    def _offset_chi2(self, sol: _Solution, noise: float, good: np.ndarray) -> float:
        """Test statistic (chi2, 1 dof) of a constant baseline offset, from either fit.

        Without an offset, the score (Lagrange multiplier) test (Rao, Proc. Camb. Phil. Soc. 44
        (1948) 50): the sum of the residuals S = 1^T r has variance noise^2 1^T (I - P_F) 1 when
        there is no offset, P_F the projector onto the Jacobian F's columns (in the kernel's
        span, so 1^T P_F 1 = b^T F (F^T F)^-1 F^T b with b = U^T 1). With the offset, the Wald
        test of the fitted offset c = mean(y) - mean(N m(p)): var(c) = noise^2 (1 + n a) / n
        with a = f^T (F_c^T F_c)^-1 f, f the mean over the points of the uncentred Jacobian and
        F_c the centred one (the Schur complement of the offset in the information matrix, by
        Sherman-Morrison).
        """
        if not noise > 0:
            return 0.0
        fit, n = sol.fit, sol.y.size
        if not sol.window.offset:
            b1 = sol.basis.sum(axis=0)
            v = fit.jac.T @ b1
            rest = n - float(v @ fit.jtj_inv @ v)
            if not rest > 0:
                return 0.0
            score = float(sol.y.sum()) - float(b1 @ fit.coeffs)
            return score * score / (noise * noise * rest)
        plain = self._plain
        if good.all():
            means = plain.col_means
        else:
            means = (plain.red.basis[good].sum(axis=0) @ plain.red.reduced) / n
        m_bar, dm_bar = model_and_grad(means[:, None], plain.red.ln_d, fit.p)
        nml = fit.number_per_ml
        f = np.array([nml * dm_bar[0, 0], nml * dm_bar[1, 0], nml * m_bar[0]])
        a = float(f @ fit.jtj_inv @ f)
        c = sol.y_mean - nml * float(m_bar[0])
        return c * c * n / (noise * noise * (1.0 + n * a))

    # ------------------------------------------------------------------------- read-outs

    @property
    def iterations(self) -> int:
        """LM iterations of the last fit (0 before the first)."""
        return self._iterations

    @property
    def offset_used(self) -> bool:
        """Whether the last fit had a free baseline offset (always with True, never with False;
        with 'auto' when the score test asked for it)."""
        return self._offset_used

    @property
    def started_from(self) -> str:
        """Where the last fit started: 'lut' (cold or reset) or 'previous' (warm start)."""
        return self._started_from

    @property
    def estimate(self) -> Estimate | None:
        """The ``psd`` :class:`Estimate` of the last reading, or None before the first."""
        if self._last is None:
            return None
        if self._estimate is None:
            reading, res = self._last
            self._estimate = psd_estimate(
                reading, self, res, UNITS, self._bin_axis, res.get("distribution")
            )
        return self._estimate
