"""Non-spherical gold: a longitudinal plasmon band (rods, aspect ratio by Gans) or aggregation.

:class:`ShapeCheck` reads each UV-Vis spectrum and publishes, in the ``uvvis_features``
measurement family (model ``uvvis_shape``): ``lambda_long_nm``, ``aspect_ratio``,
``a_long_over_a_spr``, ``red_tail_ratio`` and the flags ``rods_detected`` and
``aggregation_suspected``.

Method
------
Preprocessing is that of :mod:`synthwatch.models.uvvis.preprocess` (missing points, saturation,
Savitzky-Golay smoothing of ``smooth_window_nm``, robust noise). The transverse (SPR) band is the
highest local maximum of the smoothed spectrum in 480-620 nm. A **longitudinal band** is a
local maximum in 600-1100 nm (inside the axis, not on its last points), at least
``min_separation_nm`` red of the SPR band, whose height above the valley between the two bands
exceeds ``max(6 sd of a smoothed point, min_long_fraction * A_spr)`` **and**
``min_long_contrast`` of its own height, and whose half width (from the curvature at the
peak: sqrt(height / -y''/2), the HWHM of a Lorentzian of that height and curvature) is at most
``max_long_hwhm_ev`` (0.25 eV; a rod band has ~0.1-0.15 eV, an aggregation band 0.3 eV and
more). A broad monotonic tail has no maximum, and a broad aggregation band fails the contrast
or the width test: neither is a rod band.
Peak positions are refined by a least-squares cubic within +-``peak_fit_half_width_nm``, with
the uncertainty propagated from the noise (as in :mod:`synthwatch.models.uvvis.features`).

**Aspect ratio** (R. Gans, Ann. Phys. 342 (1912) 881; S. Link, M. B. Mohamed and M. A.
El-Sayed, J. Phys. Chem. B 103 (1999) 3073): a prolate spheroid of aspect ratio R resonates
where eps1(lambda_L) = -((1 - P_L)/P_L) n_m^2, with P_L = (1-e^2)/e^2 (atanh(e)/e - 1),
e^2 = 1 - 1/R^2. Inverted: eps1 by linear interpolation of the caller's eps(lambda) (the model
does no I/O), P_L = n_m^2 / (n_m^2 - eps1), R from a precomputed table of P_L(R) (R = 1-30,
monotonic). The uncertainty propagates sd(lambda_L) and ``n_medium_uncertainty`` (default 0.01:
water from 20 to 100 degC spans 1.333-1.318). Not included: the model error of Gans theory
(quasi-static, spheroids not spherocylinders, no CTAB layer), which makes it read ~30 nm bluer
than the empirical linear relation lambda ~ 95 R + 420 nm used for gold rods in water (from
discrete-dipole calculations, e.g. Brioude, Jiang & Pileni, J. Phys. Chem. B 109 (2005)
13138), i.e. R about 10-15 % higher than that relation. Bands within ~``min_separation_nm``
of the SPR (R below ~2) are not resolved.

**Aggregation**: ``red_tail_ratio`` = mean absorbance over 650-850 nm / A_spr; on an axis that
ends between 800 and 850 nm (many array spectrometers stop at 800 nm), over 650-800 nm, with its
own envelope (:data:`SHORT_SPHERE_TAIL_ENVELOPE`, the same spheres: about 1.15 times the
650-850 one) and the flag ``tail_band_650_800`` on every estimate, so the ratio is never read
against the wrong band. An axis that covers neither (it starts above 650 nm or ends below
800 nm) cannot judge aggregation: every estimate is flagged ``aggregation_unchecked`` and the
ratio is None. Spheres themselves give up to 0.10 (5 nm, damped band) and, with
their red-shifted SPR, 0.18 at 80 nm and 0.29 at 100 nm (noise-free Mie spectra, bulk
Johnson-Christy gold with the mean-free-path correction, water, d = 5-100 nm, gsd 1.05-1.3;
:data:`SPHERE_TAIL_ENVELOPE`, the largest ratio spheres with an SPR at or blue of
lambda_spr + 3 nm give). ``aggregation_suspected`` when the ratio exceeds ``tail_factor`` (1.5)
times that envelope at the fitted SPR position and no longitudinal band was found. So the rule
is relative to what spheres of the same SPR position can do; early aggregation (ratio < 0.15)
is not seen. No verdict on weak frames (``low_signal``) or on the damped bands of spheres
below ~7 nm (A_spr/A_450 < :data:`MIN_SPR_450_RATIO`, as early in a synthesis), whose tails
reach 0.29 (650-850 nm; 0.33 over 650-800 nm, :data:`DAMPED_TAIL_MAX`, Mie spectra of 2-7 nm
spheres, gsd 1.05-1.3): on them ``aggregation_suspected`` needs a ratio above ``tail_factor``
times that. **Fully aggregated gold** has a broad, flat extinction in which the SPR band has
nearly vanished: when the smoothed spectrum has no maximum in the SPR window (which alone would
be ``no_peak``) but the red band holds at least :data:`FLAT_AGGREGATE_RATIO` (0.6) of the
window's largest absorbance, ``red_tail_ratio`` is that ratio and the flag is
``aggregation_suspected`` (spheres, whose interband absorption falls to the red, give less than
0.35 there; a monotonic interband spectrum well under 0.2). A candidate rod band must also show
its red side on the axis (fall by half its prominence), or it is the axis end, not a band.

Flags: ``shape_mismatch``, ``sensor_mismatch``, ``dropout``, ``missing_interpolated``,
``saturated`` (then quantities are None), ``no_peak``, ``low_signal``, ``rods_detected``,
``gans_out_of_range``, ``aggregation_suspected``, ``aggregation_unchecked``,
``tail_band_650_800``, ``fit_failed`` (the smoothing fit gave non-finite numbers; quantities
None), ``model_error``; ``update`` never raises.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from synthwatch.contract.messages import Descriptor, Estimate, Reading
from synthwatch.models.base import Model, build_estimate
from synthwatch.models.declare import Context, register, setting
from synthwatch.models.reading_values import frame_result
from synthwatch.models.uvvis.preprocess import (
    DEFAULT_SATURATION_AU,
    fill_missing,
    invalid_mask,
    noise_au,
    peak_fit_table,
    saturation_mask,
    savgol_plan,
    savgol_smooth,
)
from synthwatch.models.uvvis.settings import AVERAGE_S, N_MEDIUM

__all__ = [
    "ShapeCheck",
    "ShapeResult",
    "gans_depolarization",
    "gans_aspect_ratio",
    "gans_resonance_nm",
    "SPHERE_TAIL_ENVELOPE",
    "SHORT_SPHERE_TAIL_ENVELOPE",
    "DAMPED_TAIL_MAX",
    "FLAT_AGGREGATE_RATIO",
    "QUANTITY_UNITS",
]

#: Where the transverse / SPR band of each supported system is searched, nm.
SPR_WINDOWS_NM = {"Au-citrate": (480.0, 620.0)}
#: Where a longitudinal band is searched, nm (clipped to the axis).
LONG_WINDOW_NM = (600.0, 1100.0)
#: Window of the red tail, nm.
TAIL_WINDOW_NM = (650.0, 850.0)
#: Window of the red tail on axes that end between 800 and 850 nm, nm.
SHORT_TAIL_WINDOW_NM = (650.0, 800.0)
#: (lambda_spr_nm, largest red_tail_ratio of sphere spectra with an SPR at or below it + 3 nm).
#: Below this A_spr/A_450 (spheres under ~7 nm, Haiss eq 11) the aggregation tail is not judged.
MIN_SPR_450_RATIO = 1.45

SPHERE_TAIL_ENVELOPE = (
    (515.0, 520.0, 525.0, 530.0, 535.0, 540.0, 545.0, 550.0, 555.0, 560.0, 565.0, 570.0),
    (0.098, 0.098, 0.098, 0.098, 0.098, 0.098, 0.131, 0.177, 0.194, 0.249, 0.291, 0.291),
)
#: The same over :data:`SHORT_TAIL_WINDOW_NM` (the same sphere spectra; the 650-800 nm mean is
#: 1.14-1.16 times the 650-850 nm one at every SPR position).
SHORT_SPHERE_TAIL_ENVELOPE = (
    SPHERE_TAIL_ENVELOPE[0],
    (0.112, 0.112, 0.112, 0.112, 0.112, 0.112, 0.152, 0.206, 0.225, 0.288, 0.335, 0.335),
)
#: Largest red_tail_ratio of damped sphere bands (2-7 nm, A_spr/A_450 < 1.45), per tail window.
DAMPED_TAIL_MAX = {TAIL_WINDOW_NM: 0.29, SHORT_TAIL_WINDOW_NM: 0.33}
#: No SPR maximum but this share of the SPR window's largest absorbance in the red band:
#: fully aggregated gold (spheres and interband absorption alone give less than 0.35).
FLAT_AGGREGATE_RATIO = 0.6
QUANTITY_UNITS = {
    "lambda_long_nm": "nm",
    "aspect_ratio": "1",
    "a_long_over_a_spr": "1",
    "red_tail_ratio": "1",
}
_R_TABLE = np.geomspace(1.0 + 1e-4, 30.0, 4000)


def gans_depolarization(aspect_ratio: float | np.ndarray) -> float | np.ndarray:
    """Gans depolarisation factor P_L of a prolate spheroid along its long axis (R > 1).

    >>> round(float(gans_depolarization(1.0001)), 4), round(float(gans_depolarization(3.0)), 4)
    (0.3333, 0.1087)
    """
    r = np.asarray(aspect_ratio, dtype=float)
    e2 = 1.0 - 1.0 / (r * r)
    e = np.sqrt(e2)
    return (1.0 - e2) / e2 * (np.arctanh(e) / e - 1.0)


_P_TABLE = gans_depolarization(_R_TABLE)[::-1]  # increasing
_R_OF_P = _R_TABLE[::-1]
_DR_DP = np.gradient(_R_OF_P, _P_TABLE)


def gans_aspect_ratio(eps1: float, n_medium: float) -> tuple[float, float]:
    """(R, dR/dP_L) solving eps1 = -((1 - P_L)/P_L) n^2; NaN outside R = 1-30."""
    p = n_medium**2 / (n_medium**2 - eps1) if eps1 < 0 else math.inf
    if not _P_TABLE[0] <= p <= _P_TABLE[-1]:
        return math.nan, math.nan
    return float(np.interp(p, _P_TABLE, _R_OF_P)), float(np.interp(p, _P_TABLE, _DR_DP))


def gans_resonance_nm(aspect_ratio, eps_wavelengths_nm, eps_real, n_medium=1.333) -> float:
    """The (first) wavelength where eps1 reaches the Gans resonance of ``aspect_ratio``, nm."""
    p = float(gans_depolarization(aspect_ratio))
    target = -(1.0 - p) / p * n_medium**2
    wl, e1 = np.asarray(eps_wavelengths_nm, float), np.asarray(eps_real, float)
    i = np.nonzero((e1[:-1] > target) & (e1[1:] <= target))[0]
    if i.size == 0:
        return math.nan
    j = int(i[0])
    return float(wl[j] + (target - e1[j]) * (wl[j + 1] - wl[j]) / (e1[j + 1] - e1[j]))


@dataclass(frozen=True)
class ShapeResult:
    """One spectrum's shape features by name (None: unknown), their sds, flags and extras."""

    values: dict[str, float | None]
    uncertainties: dict[str, float | None]
    flags: tuple[str, ...]
    lambda_spr_nm: float | None = None
    tail_threshold: float | None = None


SWITCH = setting("shape", True, "Rod (Gans) and aggregation detection.")


def _build(ctx: Context) -> Model:
    """With the metal's dielectric function from the runtime; co-added as the lognormal PSD."""
    wl, eps_real, eps_imag = ctx.dielectric()
    check = ShapeCheck(
        ctx.descriptor,
        eps_wavelengths_nm=wl,
        eps_real=eps_real,
        eps_imag=eps_imag,
        n_medium=ctx.settings[N_MEDIUM.key],
        system=ctx.system,
    )
    return ctx.coadd(check, ctx.settings[AVERAGE_S.key])


@register(
    kinds=("uvvis",),
    systems=tuple(SPR_WINDOWS_NM),
    switch=SWITCH,
    cost="per-spectrum fit",
    build=_build,
    optional=True,
)
class ShapeCheck(Model):
    """Longitudinal plasmon band and Gans aspect ratio of gold rods; aggregation tail.

    See the module docstring for the method. ``eps_*`` is the bulk dielectric function of the
    metal (eps1 + i eps2) on ``eps_wavelengths_nm``, passed in by the caller.

    >>> from datetime import datetime, timezone
    >>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> wl = np.arange(400.0, 1001.0, 2.0)
    >>> ev = 1239.84 / wl                                 # Drude gold: 9.5, 8.95 eV, 0.07 eV
    >>> eps = 9.5 - 8.95**2 / (ev**2 + 0.07j * ev)
    >>> lam_l = gans_resonance_nm(3.0, wl, eps.real)
    >>> a = 0.4 / (1 + ((wl - 515) / 30) ** 2) + 1.0 / (1 + ((wl - lam_l) / 45) ** 2)
    >>> desc = Descriptor(run_id="r", t=t0, sensor_id="uv", kind="uvvis", axis=list(wl),
    ...                   axis_units="nm", value_units="AU", path_length_cm=1.0)
    >>> m = ShapeCheck(desc, wl, eps.real, eps.imag)
    >>> m.update(Reading(run_id="r", t=t0, sensor_id="uv", seq=0, values=list(a)))
    >>> round(lam_l), round(m.estimate.get("aspect_ratio").value, 2), m.estimate.flags
    (680, 3.0, ['rods_detected'])
    """

    name = "uvvis_shape"
    version = "1"

    def __init__(
        self,
        descriptor: Descriptor,
        eps_wavelengths_nm: Any,
        eps_real: Any,
        eps_imag: Any,
        n_medium: float = 1.333,
        system: str = "Au-citrate",
        n_medium_uncertainty: float = 0.01,
        smooth_window_nm: float = 15.0,
        peak_fit_half_width_nm: float = 20.0,
        min_separation_nm: float = 50.0,
        min_long_fraction: float = 0.15,
        min_long_contrast: float = 0.25,
        max_long_hwhm_ev: float = 0.25,
        tail_factor: float = 1.5,
        max_missing_fraction: float = 0.05,
        min_signal_au: float = 0.01,
    ):
        self.descriptor = descriptor
        self.eps_wavelengths_nm = eps_wavelengths_nm
        self.eps_real = eps_real
        self.eps_imag = eps_imag
        self.n_medium = n_medium
        self.system = system
        self.n_medium_uncertainty = n_medium_uncertainty
        self.smooth_window_nm = smooth_window_nm
        self.peak_fit_half_width_nm = peak_fit_half_width_nm
        self.min_separation_nm = min_separation_nm
        self.min_long_fraction = min_long_fraction
        self.min_long_contrast = min_long_contrast
        self.max_long_hwhm_ev = max_long_hwhm_ev
        self.tail_factor = tail_factor
        self.max_missing_fraction = max_missing_fraction
        self.min_signal_au = min_signal_au
        if descriptor.kind != "uvvis":
            raise ValueError(f"ShapeCheck needs a 'uvvis' descriptor, got {descriptor.kind!r}")
        if system not in SPR_WINDOWS_NM:
            raise ValueError(f"ShapeCheck supports {', '.join(SPR_WINDOWS_NM)}, not {system!r}")
        wl = np.asarray(descriptor.axis, dtype=float)
        self._wl, self._n = wl, wl.size
        ew = np.asarray(eps_wavelengths_nm, dtype=float)
        e1, e2 = np.asarray(eps_real, dtype=float), np.asarray(eps_imag, dtype=float)
        if ew.ndim != 1 or ew.size < 2 or e1.shape != ew.shape or e2.shape != ew.shape:
            raise ValueError("eps_wavelengths_nm, eps_real, eps_imag: expected 1-D, same length")
        if not (np.all(np.isfinite(ew)) and np.all(np.isfinite(e1)) and np.all(np.diff(ew) > 0)):
            raise ValueError("eps: expected finite values on increasing wavelengths")
        self._sg = savgol_plan(wl, smooth_window_nm)
        h = self._sg.window_points // 2
        lo_nm, hi_nm = SPR_WINDOWS_NM[system][0], LONG_WINDOW_NM[1]
        idx = np.nonzero((wl >= lo_nm) & (wl <= hi_nm))[0]
        idx = idx[(idx >= max(h, 1)) & (idx < self._n - max(h, 1))]  # no edge-smoothed maxima
        if idx.size < 3 or wl[idx[-1]] < SPR_WINDOWS_NM[system][1]:
            raise ValueError(f"the axis must cover {lo_nm:g}-{SPR_WINDOWS_NM[system][1]:g} nm")
        if ew[0] > LONG_WINDOW_NM[0] or ew[-1] < min(wl[idx[-1]], LONG_WINDOW_NM[1]):
            raise ValueError(
                f"eps_wavelengths_nm ({ew[0]:g}-{ew[-1]:g} nm) must cover the longitudinal "
                f"band search range {LONG_WINDOW_NM[0]:g}-{min(wl[idx[-1]], 1100.0):g} nm"
            )
        self._ew, self._e1 = ew, e1
        self._j0, self._j1 = int(idx[0]), int(idx[-1])
        self._spr_hi = SPR_WINDOWS_NM[system][1]
        self._spr_j1 = int(np.searchsorted(wl, self._spr_hi, side="right")) - 1
        self._saturation = float(descriptor.saturation_au or DEFAULT_SATURATION_AU)
        self._max_missing = int(math.floor(max_missing_fraction * self._n))
        self._hw = max(float(peak_fit_half_width_nm), 2.0 * float(np.median(np.diff(wl))))
        self._fits = list(peak_fit_table(tuple(wl.tolist()), self._hw, self._j0, self._j1))
        self._tail: tuple[int, int] | None = None
        self._tail_window = None
        for window in (TAIL_WINDOW_NM, SHORT_TAIL_WINDOW_NM):
            tail = np.nonzero((wl >= window[0]) & (wl <= window[1]))[0]
            if wl[0] <= window[0] and wl[-1] >= window[1] and tail.size >= 3:
                self._tail = (int(tail[0]), int(tail[-1]) + 1)
                self._tail_window = window
                break
        self._axis_flags: tuple[str, ...] = ()
        if self._tail_window is None:
            self._axis_flags = ("aggregation_unchecked",)
        elif self._tail_window == SHORT_TAIL_WINDOW_NM:
            self._axis_flags = ("tail_band_650_800",)
        self._envelope = (
            SHORT_SPHERE_TAIL_ENVELOPE
            if self._tail_window == SHORT_TAIL_WINDOW_NM
            else SPHERE_TAIL_ENVELOPE
        )
        self._last: tuple[Reading, ShapeResult] | None = None
        self._estimate: Estimate | None = None

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        from datetime import datetime, timezone

        axis = [300.0 + 2 * i for i in range(301)]
        ev = [1239.84 / w for w in np.arange(300.0, 1201.0, 5.0)]
        eps = [9.5 - 8.95**2 / (e * e + 0.07j * e) for e in ev]
        return {
            "descriptor": Descriptor(
                run_id="r1",
                t=datetime(2026, 1, 1, tzinfo=timezone.utc),
                sensor_id="uv1",
                kind="uvvis",
                axis=axis,
                axis_units="nm",
                value_units="AU",
                path_length_cm=1.0,
            ),
            "eps_wavelengths_nm": list(np.arange(300.0, 1201.0, 5.0)),
            "eps_real": [e.real for e in eps],
            "eps_imag": [e.imag for e in eps],
        }

    def update(self, message: Reading) -> None:
        """Analyse one reading (never raises on a bad frame)."""
        res = frame_result(message, self.descriptor.sensor_id, self._n, self._run, self._empty)
        self._last = (message, res)
        self._estimate = None

    @staticmethod
    def _empty(flags: list[str]) -> ShapeResult:
        return ShapeResult(dict.fromkeys(QUANTITY_UNITS), dict.fromkeys(QUANTITY_UNITS), (*flags,))

    def _run(self, x: np.ndarray) -> ShapeResult:
        flags: list[str] = []
        sat = saturation_mask(x, self._saturation)
        missing = invalid_mask(x) & ~np.isposinf(x)
        if sat.any():
            return self._empty(["saturated"])
        n_missing = int(missing.sum())
        if n_missing > self._max_missing:
            return self._empty(["dropout"])
        if n_missing:
            flags.append("missing_interpolated")
            x = fill_missing(x, missing)
        if float(x.max() - x.min()) <= 1e-9:
            return self._empty([*flags, "dropout"])
        s = savgol_smooth(x, self._sg)
        sigma = noise_au(x, s, self._sg)
        if not (np.isfinite(s).all() and math.isfinite(sigma)):
            return self._empty([*flags, "fit_failed"])  # the smoothing fit gave no numbers
        sigma_s = sigma * math.sqrt(self._sg.c0)
        v, u = dict.fromkeys(QUANTITY_UNITS), dict.fromkeys(QUANTITY_UNITS)
        j0, j1, wl = self._j0, self._j1, self._wl
        seg = s[j0 - 1 : j1 + 2]
        peaks = np.nonzero((seg[1:-1] > seg[:-2]) & (seg[1:-1] >= seg[2:]))[0] + j0
        spr = [k for k in peaks if wl[k] <= self._spr_hi]
        fit_t = None
        if spr:
            kt = max(spr, key=lambda k: s[k])
            fit_t = self._refine(s, kt, sigma)
        if fit_t is None or fit_t[2] <= 0.0:
            return self._flat(x, s, sigma, sigma_s, v, u, flags)
        lam_t, _, a_t, _ = fit_t
        if a_t < max(self.min_signal_au, 10.0 * sigma_s):
            flags.append("low_signal")
        floor = max(6.0 * sigma_s, self.min_long_fraction * a_t)
        best = None
        weak = "low_signal" in flags
        cand = peaks[wl[peaks] >= max(LONG_WINDOW_NM[0], lam_t + self.min_separation_nm)]
        if cand.size and not weak:
            # min(s[kt:k]) and min(s[k:]) for every candidate k, by running minima
            valley = np.minimum.accumulate(s[kt:])[cand - kt - 1]
            red_min = np.minimum.accumulate(s[::-1])[::-1][cand]
            height = s[cand]
            prom = height - valley
            ok = (
                (red_min <= height - 0.5 * prom)  # its red side is seen: a resolved band
                & (prom > floor)
                & (prom > self.min_long_contrast * height)
            )
            if ok.any():
                best = int(cand[ok][np.argmax(height[ok])])
        fit_l = None if best is None else self._refine(s, best, sigma)
        if fit_l is not None and 1239.84 * fit_l[3] / fit_l[0] ** 2 > self.max_long_hwhm_ev:
            fit_l = None  # too broad for a rod band: an aggregation band
        if fit_l is not None:
            lam_l, sd_l, a_l, _ = fit_l
            flags.append("rods_detected")
            v["lambda_long_nm"], u["lambda_long_nm"] = lam_l, sd_l
            r = a_l / a_t
            v["a_long_over_a_spr"] = r
            u["a_long_over_a_spr"] = r * sigma_s * math.hypot(1.0 / a_l, 1.0 / a_t)
            self._gans(lam_l, sd_l, v, u, flags)
        threshold = None
        if self._tail is not None:
            ratio = self._tail_ratio(x, a_t, sigma, sigma_s, v, u)
            threshold = self.tail_factor * float(np.interp(lam_t, *self._envelope))
            # Spheres below ~7 nm (A_spr/A_450 < 1.45, Haiss et al. 2007) have damped bands with
            # red tails larger than the envelope's: judged against their own largest tail.
            if a_t / max(float(np.interp(450.0, wl, s)), 1e-12) < MIN_SPR_450_RATIO:
                threshold = self.tail_factor * DAMPED_TAIL_MAX[self._tail_window]
            if fit_l is None and not weak and ratio > threshold:
                flags.append("aggregation_suspected")
        return ShapeResult(v, u, (*flags, *self._axis_flags), lam_t, threshold)

    def _tail_ratio(
        self, x: np.ndarray, a_ref: float, sigma: float, sigma_s: float, v: dict, u: dict
    ) -> float:
        """Mean of ``x`` over the tail window / ``a_ref``, into ``v``/``u``
        (``red_tail_ratio``)."""
        t0, t1 = self._tail
        mean = float(x[t0:t1].mean())
        v["red_tail_ratio"] = ratio = mean / a_ref
        u["red_tail_ratio"] = abs(ratio) * math.hypot(
            sigma / math.sqrt(t1 - t0) / max(abs(mean), 1e-12), sigma_s / a_ref
        )
        return ratio

    def _flat(self, x, s, sigma, sigma_s, v, u, flags) -> ShapeResult:
        """No SPR maximum: fully aggregated gold when the red band holds most of the SPR
        window's largest absorbance (:data:`FLAT_AGGREGATE_RATIO`), else ``no_peak``."""
        a_ref = float(s[self._j0 : self._spr_j1 + 1].max())
        if self._tail is None or not a_ref > max(self.min_signal_au, 10.0 * sigma_s):
            return ShapeResult(v, u, (*flags, "no_peak", *self._axis_flags))
        ratio = self._tail_ratio(x, a_ref, sigma, sigma_s, v, u)
        if ratio >= FLAT_AGGREGATE_RATIO:
            return ShapeResult(v, u, (*flags, "aggregation_suspected", *self._axis_flags))
        v["red_tail_ratio"] = u["red_tail_ratio"] = None
        return ShapeResult(v, u, (*flags, "no_peak", *self._axis_flags))

    def _refine(self, s: np.ndarray, k: int, sigma: float):
        """Cubic refinement of the maximum k: (lambda, sd(lambda), height, hwhm_nm) or None.

        hwhm_nm = sqrt(height / -curvature/2), the half width of a Lorentzian of that height
        and curvature (an upper bound when the band sits on a background).
        """
        lo, hi, pinv, cov = self._fits[k - self._j0]
        a3, a2, a1, a0 = pinv @ s[lo:hi]
        disc = a2 * a2 - 3.0 * a3 * a1
        if not (a2 < 0.0 and disc >= 0.0):
            return None
        du = a1 / (-a2 + math.sqrt(disc))  # root of y' next to u = 0, stable form
        fu = 6.0 * a3 * du + 2.0 * a2
        if not (abs(du) <= self._hw and fu < 0.0):
            return None
        g = -np.array([3.0 * du * du, 2.0 * du, 1.0, 0.0]) / fu
        sd = sigma * math.sqrt(max(float(g @ cov @ g), 0.0))
        apk = float(((a3 * du + a2) * du + a1) * du + a0)
        hwhm = math.sqrt(max(apk, 0.0) / max(-0.5 * fu, 1e-300))
        return float(self._wl[k] + du), sd, apk, hwhm

    def _gans(self, lam: float, sd_lam: float, v: dict, u: dict, flags: list[str]) -> None:
        n = self.n_medium
        e1 = float(np.interp(lam, self._ew, self._e1))
        r, dr_dp = gans_aspect_ratio(e1, n)
        if not math.isfinite(r):
            flags.append("gans_out_of_range")
            return
        de1 = float(
            np.interp(lam + 0.5, self._ew, self._e1) - np.interp(lam - 0.5, self._ew, self._e1)
        )
        q = (n * n - e1) ** 2
        dp_dlam = n * n / q * de1  # dP/d(eps1) * d(eps1)/d(lambda)
        dp_dn = -2.0 * n * e1 / q
        v["aspect_ratio"] = r
        u["aspect_ratio"] = abs(dr_dp) * math.hypot(
            dp_dlam * sd_lam, dp_dn * float(self.n_medium_uncertainty)
        )

    @property
    def result(self) -> ShapeResult | None:
        """The last reading's result as plain numbers (with lambda_spr_nm, tail threshold)."""
        return None if self._last is None else self._last[1]

    @property
    def estimate(self) -> Estimate | None:
        """The contract :class:`Estimate` for the last reading, or None before the first."""
        if self._last is None:
            return None
        if self._estimate is None:
            reading, res = self._last
            quantities = [
                (name, res.values[name], units, res.uncertainties[name])
                for name, units in QUANTITY_UNITS.items()
            ]
            self._estimate = build_estimate(reading, self, "uvvis_features", quantities, res.flags)
        return self._estimate
