"""Preprocessing of UV-Vis spectra: missing points, saturation, smoothing, baseline, noise.

Pure functions on numpy arrays (``wavelengths_nm``, ``absorbance`` in AU). Everything that
depends only on the wavelength axis (Savitzky-Golay coefficients, edge matrices) is computed
once by :func:`savgol_plan`, so a model can smooth many spectra on the same axis quickly.

Smoothing is the Savitzky-Golay filter (A. Savitzky and M. J. E. Golay, Anal. Chem. 36 (1964)
1627), with the window given in nm and converted to an odd number of points from the median
spacing of the axis (an approximation on slightly non-uniform spectrometer axes). The edges are
smoothed by evaluating the same local polynomial fitted to the first and last windows, like
``scipy.signal.savgol_filter(mode="interp")``.

Noise is estimated from the smoothing residual: for white noise of standard deviation sigma,
the residual of a Savitzky-Golay filter with central coefficient ``c0`` has variance
``sigma**2 * (1 - c0)`` (the filter is a symmetric projection, so ``sum(c**2) == c0``), and a
smoothed point has variance ``sigma**2 * c0``. sigma is estimated robustly as
``1.4826 * median(|residual|) / sqrt(1 - c0)`` over the interior points.

>>> wl = np.arange(400.0, 701.0)
>>> plan = savgol_plan(wl, window_nm=15.0)
>>> plan.window_points, round(plan.c0, 3)
(15, 0.151)
>>> a = 1.0 - ((wl - 550.0) / 100.0) ** 2          # a parabola passes unchanged
>>> bool(np.allclose(savgol_smooth(a, plan), a))
True
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.signal import savgol_coeffs

__all__ = [
    "DEFAULT_SATURATION_AU",
    "MIN_VALID_AU",
    "SavgolPlan",
    "savgol_plan",
    "savgol_smooth",
    "invalid_mask",
    "fill_missing",
    "saturation_mask",
    "baseline_offset_au",
    "noise_au",
    "screen_window",
    "window_noise_au",
    "peak_fit_table",
]

#: Saturation level used when the descriptor gives none, AU (typical of array spectrometers).
DEFAULT_SATURATION_AU = 3.5
#: Points below this absorbance are physically meaningless (10x more light than the reference)
#: and are treated as missing, AU.
MIN_VALID_AU = -1.0


@dataclass(frozen=True)
class SavgolPlan:
    """Savitzky-Golay coefficients for one axis: interior kernel and the two edge matrices."""

    window_points: int
    polyorder: int
    kernel: np.ndarray  # (w,) convolution kernel for interior points
    left: np.ndarray  # (h, w) evaluates the first window's polynomial at points 0..h-1
    right: np.ndarray  # (h, w) evaluates the last window's polynomial at points n-h..n-1
    c0: float  # central coefficient: smoothed-point variance / sigma**2


def savgol_plan(wavelengths_nm: np.ndarray, window_nm: float, polyorder: int = 2) -> SavgolPlan:
    """Coefficients for a Savitzky-Golay filter of about ``window_nm`` on this axis.

    The window is rounded to an odd number of points, at least ``polyorder + 3`` (so the filter
    smooths and the residual carries noise); ValueError if the axis is shorter than that.
    """
    wl = np.asarray(wavelengths_nm, dtype=float)
    n = wl.size
    step = float(np.median(np.diff(wl))) if n > 1 else 1.0
    w = int(round(window_nm / step))
    w = max(w | 1, (polyorder + 3) | 1)
    if w > n:
        raise ValueError(
            f"smoothing window of {window_nm} nm needs {w} points but the axis has {n}; "
            "use a smaller smooth_window_nm"
        )
    return _plan(w, polyorder)


@lru_cache(maxsize=64)
def _plan(w: int, polyorder: int) -> SavgolPlan:
    """The coefficients depend on the window and the order only: computed once, shared
    (read-only arrays) by every model of every run."""
    h = w // 2
    kernel = savgol_coeffs(w, polyorder)
    left = np.array([savgol_coeffs(w, polyorder, pos=k, use="dot") for k in range(h)])
    right = np.array([savgol_coeffs(w, polyorder, pos=h + 1 + k, use="dot") for k in range(h)])
    left, right = left.reshape(h, w), right.reshape(h, w)
    for a in (kernel, left, right):
        a.setflags(write=False)
    return SavgolPlan(w, polyorder, kernel, left, right, float(kernel[h]))


def savgol_smooth(absorbance: np.ndarray, plan: SavgolPlan) -> np.ndarray:
    """Smooth a finite spectrum with a precomputed :class:`SavgolPlan` (same length as its axis)."""
    x = np.asarray(absorbance, dtype=float)
    w, h = plan.window_points, plan.window_points // 2
    out = np.empty_like(x)
    out[h : x.size - h] = np.convolve(x, plan.kernel, mode="valid")
    if h:
        out[:h] = plan.left @ x[:w]
        out[x.size - h :] = plan.right @ x[x.size - w :]
    return out


def invalid_mask(absorbance: np.ndarray) -> np.ndarray:
    """Points that carry no usable value: not finite, or below :data:`MIN_VALID_AU`."""
    x = np.asarray(absorbance, dtype=float)
    with np.errstate(invalid="ignore"):
        return ~np.isfinite(x) | (x < MIN_VALID_AU)


def fill_missing(absorbance: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Replace missing points by linear interpolation over the point index (edges: nearest).

    Returns a new array; all-missing input returns zeros.

    >>> fill_missing(np.array([np.nan, 1.0, np.nan, 3.0]), np.array([True, False, True, False]))
    array([1., 1., 2., 3.])
    """
    x = np.array(absorbance, dtype=float)
    if not missing.any():
        return x
    good = ~missing
    if not good.any():
        return np.zeros_like(x)
    idx = np.arange(x.size)
    x[missing] = np.interp(idx[missing], idx[good], x[good])
    return x


def saturation_mask(
    absorbance: np.ndarray,
    saturation_au: float = DEFAULT_SATURATION_AU,
    plateau_min_au: float = 1.0,
    plateau_points: int = 3,
    near_saturation: float = 0.9,
) -> np.ndarray:
    """Points at or above ``saturation_au``, plus flat clipped plateaus.

    A detector clipping at full well gives a constant absorbance over the clipped band, cut out
    of a band that would have risen above it. A **plateau** is a run of ``plateau_points`` or
    more consecutive equal values (within 1e-9 AU: exactly the same number once rounded) at or
    above ``plateau_min_au`` that is the top of its neighbourhood (the points on both sides are
    lower, or it ends the axis), and that is either near the saturation level (at or above
    ``near_saturation * saturation_au``) or **cut**: the slope of the spectrum just outside it,
    carried over half its width, rises above it by more than ``max(5 q, 0.01 AU)``, q the
    quantisation step of the values (their smallest non-zero difference, at most 0.01 AU). A
    smooth maximum rounded to q gives runs of equal values too, on a dense axis tens of points
    wide, but there the slope outside only reaches about q over half the run's width (its curvature
    made the run), so rounding is not saturation: a 1.8 AU gold band rounded to 3 decimals on
    a 0.2 nm axis is not clipped, the same band capped at 1.7 AU is. Non-finite points are not
    marked (they are missing, see :func:`invalid_mask`), except +inf.

    >>> saturation_mask(np.array([0.5, 2.0, 2.0, 2.0, 0.5])).astype(int)
    array([0, 1, 1, 1, 0])
    >>> u = np.linspace(-1.0, 1.0, 401)
    >>> saturation_mask(np.round(1.8 - 0.05 * u**2, 3)).any()      # a rounded, flat maximum
    np.False_
    >>> saturation_mask(np.minimum(1.8 - 0.5 * u**2, 1.75)).sum()  # the same, cut at 1.75
    np.int64(127)
    """
    x = np.asarray(absorbance, dtype=float)
    with np.errstate(invalid="ignore"):
        sat = x >= saturation_au
        if plateau_points < 2 or x.size < plateau_points:
            return sat
        high = x >= plateau_min_au
        if not high.any():
            return sat
        d = np.diff(x)
        flat = (np.abs(d) <= 1e-9) & high[:-1]
        if not flat.any():
            return sat
        steps = np.abs(d[np.isfinite(d)])
        steps = steps[steps > 1e-9]
        quantum = min(float(steps.min()), 0.01) if steps.size else 0.0  # 0.01: 2 decimals
        cut = max(5.0 * quantum, 0.01)
        near = near_saturation * saturation_au
        edges = np.diff(np.concatenate(([0], flat.astype(np.int8), [0])))
        for i, j in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
            # flat[i:j] are the differences of points i..j: a run of j - i + 1 equal values
            width = j - i + 1
            if width < plateau_points:
                continue
            v = x[i]
            left = x[i - 1] if i > 0 else -np.inf
            right = x[j + 1] if j + 1 < x.size else -np.inf
            if not (left < v and right < v):
                continue  # higher values beside it: a shoulder, not a cap
            if v >= near or _cut_plateau(x, i, j, cut):
                sat[i : j + 1] = True
    return sat


def _cut_plateau(x: np.ndarray, i: int, j: int, cut: float) -> bool:
    """Whether the slope beside the run x[i..j] (over up to half its width of points on each
    side) carried over half its width rises above it by more than ``cut``."""
    half = 0.5 * (j - i)
    m = max(1, (j - i + 1) // 2)
    for end, step in ((i, -1), (j, 1)):
        k = end + step * m
        k = min(max(k, 0), x.size - 1)
        if k == end or not np.isfinite(x[k]):
            continue
        slope = (x[end] - x[k]) / abs(k - end)
        if slope * half > cut:
            return True
    return False


def baseline_offset_au(
    wavelengths_nm: np.ndarray, absorbance: np.ndarray, window_nm: tuple[float, float]
) -> float:
    """Constant offset: median absorbance in ``window_nm`` (a far-red window); NaN if empty.

    >>> wl = np.arange(800.0, 901.0)
    >>> baseline_offset_au(wl, np.full(wl.size, 0.02), (850.0, 900.0))
    0.02
    """
    wl = np.asarray(wavelengths_nm, dtype=float)
    sel = (wl >= window_nm[0]) & (wl <= window_nm[1])
    vals = np.asarray(absorbance, dtype=float)[sel]
    vals = vals[np.isfinite(vals)]
    return float(np.median(vals)) if vals.size else float("nan")


def noise_au(absorbance: np.ndarray, smoothed: np.ndarray, plan: SavgolPlan) -> float:
    """Robust standard deviation of the white noise of one spectrum, AU (see module docstring)."""
    h = plan.window_points // 2
    resid = np.asarray(absorbance)[h : len(absorbance) - h] - smoothed[h : len(smoothed) - h]
    if resid.size == 0:
        return float("nan")
    return float(1.4826 * _median(np.abs(resid)) / np.sqrt(1.0 - plan.c0))


def screen_window(
    absorbance: np.ndarray,
    saturation_au: float,
    max_excluded_fraction: float,
    min_signal_au: float,
) -> tuple[list[str], np.ndarray | None, float]:
    """``(flags, bad, peak)`` of a fit window's absorbances before a size-distribution fit.

    Missing points (:func:`invalid_mask`, +inf excepted: no light is saturation) flag
    ``dropout``, saturated ones (:func:`saturation_mask`) ``saturated``; ``bad`` marks both, to
    be left out of the fit. ``bad`` is None when no fit is to be made: more than
    ``max_excluded_fraction`` of the window left out, or a peak of the points kept below
    ``min_signal_au`` (``flags`` then ends with ``no_signal``).

    >>> flags, bad, peak = screen_window(np.array([0.2, np.nan, 0.4, 0.3]), 3.5, 0.3, 0.01)
    >>> flags, bad.astype(int).tolist(), peak
    (['dropout'], [0, 1, 0, 0], 0.4)
    >>> screen_window(np.array([0.001, 0.002]), 3.5, 0.1, 0.01)[::2]
    (['no_signal'], 0.002)
    """
    flags: list[str] = []
    missing = invalid_mask(absorbance) & ~np.isposinf(absorbance)
    sat = saturation_mask(absorbance, saturation_au)
    if missing.any():
        flags.append("dropout")
    if sat.any():
        flags.append("saturated")
    bad = missing | sat
    if bad.sum() > max_excluded_fraction * absorbance.size:
        return flags, None, float("nan")
    kept = absorbance[~bad]
    peak = float(kept.max()) if kept.size else 0.0
    if not peak >= min_signal_au:
        return [*flags, "no_signal"], None, peak
    return flags, bad, peak


def window_noise_au(absorbance: np.ndarray, bad: np.ndarray, plan: SavgolPlan) -> float:
    """:func:`noise_au` of a window whose ``bad`` points are interpolated (:func:`fill_missing`)."""
    x = fill_missing(absorbance, bad) if bad.any() else absorbance
    return noise_au(x, savgol_smooth(x, plan), plan)


def _median(a: np.ndarray) -> float:
    """np.median by partial sort (half the time of np.median on a few hundred points).

    >>> _median(np.array([3.0, 1.0, 2.0])), _median(np.array([4.0, 1.0, 3.0, 2.0]))
    (2.0, 2.5)
    """
    n = a.size
    m = n // 2
    if n % 2:
        return float(np.partition(a, m)[m])
    part = np.partition(a, (m - 1, m))
    return float(0.5 * (part[m - 1] + part[m]))


@lru_cache(maxsize=16)
def peak_fit_table(
    axis_nm: tuple[float, ...], half_width_nm: float, j0: int, j1: int
) -> tuple[tuple[int, int, np.ndarray, np.ndarray], ...]:
    """Per axis point k in [j0, j1]: (start, stop, pinv, pinv pinv^T) of the local cubic fit
    over the points within ``half_width_nm`` (a peak's position and height by least squares);
    computed once per axis and shared, read-only, by the features and the shape check of every
    run."""
    wl = np.asarray(axis_nm, dtype=float)
    out = []
    for k in range(j0, j1 + 1):
        sel = np.nonzero(np.abs(wl - wl[k]) <= half_width_nm + 1e-9)[0]
        u = wl[sel[0] : sel[-1] + 1] - wl[k]
        pinv = np.linalg.pinv(np.vstack([u**3, u * u, u, np.ones_like(u)]).T)
        cov = pinv @ pinv.T
        pinv.setflags(write=False)
        cov.setflags(write=False)
        out.append((int(sel[0]), int(sel[-1]) + 1, pinv, cov))
    return tuple(out)
