"""UV-Vis features of plasmonic nanoparticles, and size by Haiss et al. (2007): the computation.

From one absorbance spectrum: the surface plasmon resonance (SPR) peak position
``lambda_spr_nm`` (sub-pixel fit), its width ``fwhm_nm``, the absorbances
``a_spr_au``, ``a_450_au``, ``a_400_au``, the ratio ``ratio_spr_450`` and, for gold, the mean
diameter ``d_haiss_nm``. :class:`FeaturePlan` does the work on plain arrays; the streaming model
around it is :class:`~synthwatch.models.uvvis.model.UVVisFeatures`.

Sources
-------
* Size: W. Haiss, N. T. K. Thanh, J. Aveyard and D. G. Fernig, "Determination of size and
  concentration of gold nanoparticles from UV-vis spectra", Anal. Chem. 79 (2007) 4215-4221,
  eq 11: ``d = exp(B1 * A_spr / A_450 - B2)``, fitted for d = 5-80 nm (outside that the
  estimate is still reported, flagged ``haiss_out_of_range``). Haiss give two coefficient
  pairs: B1 = 3.55, B2 = 3.11 from their Mie calculations (:data:`HAISS_THEORY`, the default)
  and B1 = 3.00, B2 = 2.20 fitted to their TEM-sized samples (:data:`HAISS_EXPERIMENT`).
  The default is the Mie-based pair because it is the calibration of the ideal, spherical
  ensemble that Mie theory describes; on noise-free Mie spectra (Johnson-Christy with the
  mean-free-path correction, water, gsd 1.1) it is within -14 % .. +6 % for 10-80 nm, whereas
  the experimental pair is -24 % at 40 nm and -27 % at 80 nm (the ratio flattens above
  ~40 nm, so a 0.1 difference in ratio is a 30 % difference in size). Pass
  ``haiss_coefficients=HAISS_EXPERIMENT`` for samples like Haiss's own. Haiss report an average
  deviation of 11 % from TEM; it is used as a 1-sd relative calibration uncertainty, added in
  quadrature to the propagated measurement noise.
* A_400: T. Hendel, M. Wuithschick, F. Kettemann, A. Birnbaum, K. Rademann and J. Polte,
  "In situ determination of colloidal gold concentrations with UV-Vis spectroscopy:
  limitations and perspectives", Anal. Chem. 86 (2014) 11114-11124: the absorbance at 400 nm
  measures the Au(0) concentration nearly independently of particle size.
* Width: gold's SPR sits on the interband absorption that rises towards the UV, so its blue
  half-maximum is not defined by the plasmon alone. The width is twice the half width at half
  maximum on the red (low-energy) side, as S. Link and M. A. El-Sayed, J. Phys. Chem. B 103
  (1999) 4212-4217 did for the plasmon bandwidth of gold colloids. The same definition is
  used for silver for consistency.

Peak position
-------------
The maximum of the Savitzky-Golay smoothed spectrum inside the system's window, refined by a
least-squares **cubic** fitted within +-``peak_fit_half_width_nm`` (15 nm) of it; the peak is
the root of the cubic's derivative next to the grid maximum. A cubic, not a quadratic, because
gold's band sits on the sloping interband absorption and is asymmetric: on a synthetic band
(Lorentzian on an exponential interband term) a quadratic was biased by -0.3 nm, the cubic by
at most 0.12 nm (at most 0.07 nm on a pure Lorentzian, 1 and 2 nm grids). Its uncertainty is
propagated from the fit with the estimated noise (treating the points as independent).

Baseline
--------
The default is **no** baseline correction (``baseline_window_nm=None``). Subtracting the median
of 850-900 nm was checked on noise-free Mie spectra of gold (Johnson-Christy with the
mean-free-path correction, 10 % polydisperse, water): the particles themselves absorb there
(1-6 % of the SPR peak), and because the offset is subtracted from both A_spr and A_450 the
Haiss diameter is biased upwards by +4 % (20 nm), +5 % (40 nm) and +21 % (80 nm), more than the
method's own 11 %. Spectra referenced to a blank need no offset; for instruments that drift,
pass a far-red window and accept that bias for large particles.

Flags
-----
``shape_mismatch``, ``sensor_mismatch``, ``dropout`` (more than ``max_missing_fraction`` of the
points missing, or a constant frame), ``missing_interpolated``, ``saturated``, ``no_peak``,
``low_signal``, ``fwhm_undefined``, ``haiss_out_of_range``, ``haiss_not_applicable``,
``baseline_undefined``, ``fit_failed`` (the smoothing and peak fits gave non-finite numbers:
all quantities None; not ``no_peak``), ``model_error`` (an unexpected failure, caught so a
frame never stops the pipeline). Quantities that cannot be estimated are None.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

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

__all__ = [
    "FeaturePlan",
    "UVVisResult",
    "uvvis_features",
    "haiss_diameter_nm",
    "SYSTEM_WINDOWS_NM",
    "QUANTITY_UNITS",
    "HENDEL_EPS400_PER_MM_PER_CM",
    "hendel_au0_mM",
    "HAISS_B1",
    "HAISS_B2",
    "HAISS_THEORY",
    "HAISS_EXPERIMENT",
    "HAISS_RANGE_NM",
    "HAISS_CALIBRATION_REL",
    "FLAGS",
]


#: Coefficients (B1, B2) of Haiss et al. (2007) eq 11 fitted to their Mie calculations.
HAISS_THEORY = (3.55, 3.11)
#: Coefficients (B1, B2) of Haiss et al. (2007) eq 11 fitted to their TEM-sized samples.
HAISS_EXPERIMENT = (3.00, 2.20)
#: The default pair (see the module docstring for why).
HAISS_B1, HAISS_B2 = HAISS_THEORY
#: Diameter range over which Haiss et al. fitted eq 11, nm.
HAISS_RANGE_NM = (5.0, 80.0)
#: Average deviation from TEM reported by Haiss et al. with B1, B2 above, used as 1 sd.
HAISS_CALIBRATION_REL = 0.11

#: Supported chemistry systems: where the SPR maximum is searched, nm; is Haiss eq 11 valid.
SYSTEM_WINDOWS_NM: dict[str, tuple[float, float]] = {
    "Au-citrate": (480.0, 620.0),
    "Ag-citrate": (370.0, 480.0),
}
_HAISS_SYSTEMS = ("Au-citrate",)

#: Published quantities, in order, with their units.
QUANTITY_UNITS: dict[str, str] = {
    "lambda_spr_nm": "nm",
    "fwhm_nm": "nm",
    "a_spr_au": "AU",
    "a_450_au": "AU",
    "a_400_au": "AU",
    "ratio_spr_450": "1",
    "d_haiss_nm": "nm",
    "noise_au": "AU",
}

FLAGS = (
    "shape_mismatch",
    "sensor_mismatch",
    "dropout",
    "missing_interpolated",
    "saturated",
    "no_peak",
    "low_signal",
    "fwhm_undefined",
    "haiss_out_of_range",
    "haiss_not_applicable",
    "baseline_undefined",
    "fit_failed",
    "model_error",
)


def haiss_diameter_nm(ratio_spr_450: float, b1: float = HAISS_B1, b2: float = HAISS_B2) -> float:
    """Mean gold particle diameter from A_spr/A_450, Haiss et al. (2007) eq 11, nm.

    >>> round(haiss_diameter_nm(1.8), 3)          # exp(3.55 * 1.8 - 3.11)
    26.576
    >>> round(haiss_diameter_nm(1.8, *HAISS_EXPERIMENT), 3)   # exp(3.00 * 1.8 - 2.20)
    24.533
    """
    return math.exp(b1 * ratio_spr_450 - b2)


@dataclass(frozen=True)
class UVVisResult:
    """Features of one spectrum: values and standard uncertainties by name (None: unknown)."""

    values: dict[str, float | None]
    uncertainties: dict[str, float | None]
    flags: tuple[str, ...]


def _interp_weights(wl: np.ndarray, at_nm: float) -> tuple[int, float] | None:
    if not wl[0] <= at_nm <= wl[-1]:
        return None
    i = int(min(max(np.searchsorted(wl, at_nm, side="right") - 1, 0), wl.size - 2))
    return i, float((at_nm - wl[i]) / (wl[i + 1] - wl[i]))


#: Hendel et al. (2014): A_400 = 1.2 in a 1 cm cell for 0.5 mM Au(0) in particles larger than
#: ~2 nm, i.e. an extinction coefficient of 2.4 per mM per cm, nearly independent of size.
HENDEL_EPS400_PER_MM_PER_CM = 2.4
#: Relative 1-sd uncertainty of that coefficient (its spread over size and surface chemistry).
HENDEL_EPS400_REL = 0.05


def hendel_au0_mM(
    a_400_au: float, sigma_a_400_au: float, path_length_cm: float
) -> tuple[float, float]:
    """Au(0) concentration (mM) and its 1-sd uncertainty from A_400, Hendel et al. (2014).

    c = A_400 / (eps_400 · L); the uncertainty adds the absorbance noise and the coefficient's
    own spread (:data:`HENDEL_EPS400_REL`) in quadrature.

    >>> c, u = hendel_au0_mM(1.2, 0.0, 1.0)
    >>> round(c, 3), round(u, 3)
    (0.5, 0.025)
    """
    c = a_400_au / (HENDEL_EPS400_PER_MM_PER_CM * path_length_cm)
    u_noise = sigma_a_400_au / (HENDEL_EPS400_PER_MM_PER_CM * path_length_cm)
    return c, math.hypot(u_noise, HENDEL_EPS400_REL * c)


class FeaturePlan:
    """Everything that depends only on the wavelength axis, computed once; :meth:`run` is fast.

    ValueError (with what to change) for an unsupported system or an axis that does not cover
    the SPR window, 450 nm (gold) or the baseline window.
    """

    def __init__(
        self,
        wavelengths_nm: np.ndarray,
        system: str = "Au-citrate",
        smooth_window_nm: float = 15.0,
        baseline_window_nm: tuple[float, float] | None = None,
        saturation_au: float | None = None,
        peak_fit_half_width_nm: float = 15.0,
        max_missing_fraction: float = 0.05,
        min_signal_au: float = 0.01,
        haiss_coefficients: tuple[float, float] = (HAISS_B1, HAISS_B2),
        haiss_calibration_rel: float = HAISS_CALIBRATION_REL,
    ):
        if system not in SYSTEM_WINDOWS_NM:
            raise ValueError(
                f"uvvis_features does not support system {system!r}; it supports "
                f"{', '.join(SYSTEM_WINDOWS_NM)} (plasmonic particles). Attach it only to runs "
                "of those systems (silica, 'SiO2-Stober', is watched by the impedance models)."
            )
        wl = np.asarray(wavelengths_nm, dtype=float)
        if wl.ndim != 1 or wl.size < 8 or not np.all(np.isfinite(wl)) or np.any(np.diff(wl) <= 0):
            raise ValueError("wavelengths_nm: expected at least 8 finite, increasing values in nm")
        self.wl, self.n, self.system = wl, wl.size, system
        self.haiss = system in _HAISS_SYSTEMS
        self.b1, self.b2 = (float(c) for c in haiss_coefficients)
        self.calib_rel = float(haiss_calibration_rel)
        self.max_missing = int(math.floor(max_missing_fraction * wl.size))
        self.min_signal_au = float(min_signal_au)
        self.saturation_au = float(saturation_au or DEFAULT_SATURATION_AU)
        self.sg = savgol_plan(wl, smooth_window_nm)
        h = self.sg.window_points // 2
        axis_text = f"the axis ({wl[0]:g}-{wl[-1]:g} nm)"
        lo_nm, hi_nm = SYSTEM_WINDOWS_NM[system]
        idx = np.nonzero((wl >= lo_nm) & (wl <= hi_nm))[0]
        if idx.size < 3 or idx[0] == 0 or idx[-1] == wl.size - 1:
            raise ValueError(
                f"{axis_text} must extend beyond the {system} SPR window {lo_nm:g}-{hi_nm:g} nm "
                "on both sides; use a spectrometer range that covers it"
            )
        self.i0, self.i1 = int(idx[0]), int(idx[-1])
        step = float(np.median(np.diff(wl)))
        hw = max(float(peak_fit_half_width_nm), 2.0 * step)
        self.fit_half_width_nm = hw
        # per candidate maximum k in [i0, i1]: (lo, hi, pinv (4, L), cov (4, 4)), shared
        self.fits = list(peak_fit_table(tuple(wl.tolist()), hw, self.i0, self.i1))
        self.peak_support = (max(0, self.fits[0][0] - h), min(wl.size, self.fits[-1][1] + h))
        self.at = {}  # name -> (i, weight, support lo, support hi)
        for name, at_nm in (("a_450_au", 450.0), ("a_400_au", 400.0)):
            iw = _interp_weights(wl, at_nm)
            if iw is not None:
                self.at[name] = (iw[0], iw[1], max(0, iw[0] - h), min(wl.size, iw[0] + h + 2))
        if self.haiss and "a_450_au" not in self.at:
            raise ValueError(f"{axis_text} must include 450 nm for the Haiss diameter of gold")
        self.baseline = None
        if baseline_window_nm is not None:
            sel = np.nonzero((wl >= baseline_window_nm[0]) & (wl <= baseline_window_nm[1]))[0]
            if sel.size < 3:
                raise ValueError(
                    f"baseline_window_nm={tuple(baseline_window_nm)} holds {sel.size} points of "
                    f"{axis_text}; need at least 3: choose a window inside the axis, or "
                    "baseline_window_nm=None"
                )
            self.baseline = (int(sel[0]), int(sel[-1]) + 1)

    def empty(self, flags: list[str]) -> UVVisResult:
        """A result with every quantity unknown."""
        none = dict.fromkeys(QUANTITY_UNITS)
        return UVVisResult(none, dict(none), tuple(flags))

    def run(self, absorbance: np.ndarray) -> UVVisResult:
        """Features of one spectrum on this axis (same length); never raises on bad values."""
        x = np.asarray(absorbance, dtype=float)
        if x.shape != (self.n,):
            return self.empty(["shape_mismatch"])
        with np.errstate(all="ignore"):
            return self._run(x)

    def _run(self, x: np.ndarray) -> UVVisResult:
        flags: list[str] = []
        sat = saturation_mask(x, self.saturation_au)
        missing = invalid_mask(x) & ~np.isposinf(x)  # +inf absorbance: no light, i.e. saturated
        if sat.any():
            flags.append("saturated")
            x = np.where(sat, np.minimum(x, self.saturation_au), x)
        n_missing = int(missing.sum())
        if n_missing > self.max_missing:
            return self.empty([*flags, "dropout"])
        if n_missing:
            flags.append("missing_interpolated")
            x = fill_missing(x, missing)
        if float(x.max() - x.min()) <= 1e-9:  # constant frame: no signal
            return self.empty([*flags, "dropout"])
        sg = self.sg
        s = savgol_smooth(x, sg)
        sigma = noise_au(x, s, sg)
        if not (np.isfinite(s).all() and math.isfinite(sigma)):
            return self.empty([*flags, "fit_failed"])  # the smoothing fit gave no numbers
        sigma_s = sigma * math.sqrt(sg.c0)  # sd of one smoothed point
        v: dict[str, float | None] = dict.fromkeys(QUANTITY_UNITS)
        u: dict[str, float | None] = dict.fromkeys(QUANTITY_UNITS)
        v["noise_au"] = sigma
        base, sigma_b = 0.0, 0.0
        if self.baseline is not None:
            b0, b1 = self.baseline
            if sat[b0:b1].any():
                return UVVisResult(v, u, (*flags, "baseline_undefined"))
            base = float(np.median(x[b0:b1]))
            sigma_b = 1.2533 * sigma / math.sqrt(b1 - b0)  # sd of a median of normal noise
        sigma_a = math.hypot(sigma_s, sigma_b)
        for name, (i, w, lo, hi) in self.at.items():
            if not sat[lo:hi].any():
                v[name] = float((1.0 - w) * s[i] + w * s[i + 1]) - base
                u[name] = sigma_a
        p0, p1 = self.peak_support
        peak = None if sat[p0:p1].any() else self._peak(s, sigma, sigma_s)
        if peak is None:
            flags.append("no_peak")
        else:
            k, lam, sigma_lam, apk = peak
            a_spr = apk - base
            if a_spr <= 0.0:
                flags.append("no_peak")
            else:
                v["lambda_spr_nm"], u["lambda_spr_nm"] = lam, sigma_lam
                v["a_spr_au"], u["a_spr_au"] = a_spr, sigma_a
                if a_spr < max(self.min_signal_au, 10.0 * sigma_s):
                    flags.append("low_signal")
                v["fwhm_nm"] = self._fwhm_red(s, k, lam, base + 0.5 * a_spr)
                if v["fwhm_nm"] is None:
                    flags.append("fwhm_undefined")
                self._haiss(v, u, flags, a_spr, sigma_s, sigma_b)
        if not self.haiss:
            flags.append("haiss_not_applicable")
        return UVVisResult(v, u, tuple(flags))

    def _peak(self, s: np.ndarray, sigma: float, sigma_s: float):
        k = self.i0 + int(np.argmax(s[self.i0 : self.i1 + 1]))
        if k == self.i0 or k == self.i1:
            return None  # the maximum is on the window's edge: no band inside it
        lo, hi, pinv, cov = self.fits[k - self.i0]
        a3, a2, a1, a0 = pinv @ s[lo:hi]  # y = a3 u^3 + a2 u^2 + a1 u + a0, u = wl - wl[k]
        disc = a2 * a2 - 3.0 * a3 * a1
        if not (a2 < 0.0 and disc >= 0.0):
            return None
        q = -a2 + math.sqrt(disc)  # > 0; y' = 3 a3 u^2 + 2 a2 u + a1 has its root near 0 at
        du = a1 / q  # a1 / q (the numerically stable form), where y'' = 6 a3 u + 2 a2 < 0
        if not (abs(du) <= self.fit_half_width_nm and 6.0 * a3 * du + 2.0 * a2 < 0.0):
            return None
        apk = ((a3 * du + a2) * du + a1) * du + a0
        prominence = apk - max(float(s[:k].min()), float(s[k + 1 :].min()))
        if not prominence > max(4.0 * sigma_s, 1e-9):
            return None
        # du is the root of F(u, a) = 3 a3 u^2 + 2 a2 u + a1: d(du)/da = -(dF/da) / (dF/du)
        fu = 6.0 * a3 * du + 2.0 * a2
        g = -np.array([3.0 * du * du, 2.0 * du, 1.0, 0.0]) / fu
        sigma_lam = sigma * math.sqrt(max(float(g @ cov @ g), 0.0))
        return k, float(self.wl[k] + du), sigma_lam, float(apk)

    def _fwhm_red(self, s: np.ndarray, k: int, lam: float, half: float) -> float | None:
        below = s[k:] < half
        j = int(np.argmax(below))
        if not below[j] or j == 0:
            return None
        i = k + j
        x1, x2, y1, y2 = self.wl[i - 1], self.wl[i], s[i - 1], s[i]
        return float(2.0 * (x1 + (half - y1) * (x2 - x1) / (y2 - y1) - lam))

    def _haiss(self, v, u, flags, a_spr, sigma_s, sigma_b) -> None:
        a450 = v["a_450_au"]
        if a450 is None:
            return
        if not a450 > max(3.0 * sigma_s, 1e-6):
            if "low_signal" not in flags:
                flags.append("low_signal")
            return
        r = a_spr / a450
        v["ratio_spr_450"] = r
        u["ratio_spr_450"] = sigma_r = (
            math.sqrt(sigma_s**2 * (1.0 + r * r) + (r - 1.0) ** 2 * sigma_b**2) / a450
        )
        if not self.haiss:
            return
        expo = self.b1 * r - self.b2
        if expo > 700.0:  # exp would overflow: far outside any physical size
            flags.append("haiss_out_of_range")
            return
        d = math.exp(expo)
        v["d_haiss_nm"] = d
        u["d_haiss_nm"] = d * math.hypot(self.b1 * sigma_r, self.calib_rel)
        if not HAISS_RANGE_NM[0] <= d <= HAISS_RANGE_NM[1]:
            flags.append("haiss_out_of_range")


def uvvis_features(
    wavelengths_nm: np.ndarray, absorbance: np.ndarray, system: str = "Au-citrate", **options: Any
) -> UVVisResult:
    """Features of one spectrum (builds a :class:`FeaturePlan`; reuse one for many spectra).

    ``options`` are those of :class:`FeaturePlan` (``smooth_window_nm``, ``baseline_window_nm``,
    ``saturation_au``, ...).

    >>> wl = np.arange(400.0, 701.0, 2.0)
    >>> res = uvvis_features(wl, 1.0 / (1 + ((wl - 530.4) / 45.0) ** 2))
    >>> round(res.values["lambda_spr_nm"], 1), round(res.values["fwhm_nm"], 1)
    (530.4, 90.0)
    """
    return FeaturePlan(np.asarray(wavelengths_nm, dtype=float), system, **options).run(absorbance)
