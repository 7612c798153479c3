"""Whether a spectrum can carry a size at all: a plasmon band, strong enough, not too broad.

A Mie inversion reads the size of metal spheres from the position, width and height of their
surface-plasmon band (Kreibig & Vollmer, Optical Properties of Metal Clusters, Springer 1995,
ch. 2). Three kinds of spectrum do not carry it, and the fit refuses them with a flag rather
than report a size:

* ``too_weak``: the band's peak is below ``MIN_PEAK_SNR`` times the noise of one point;
* ``no_plasmon``: no local maximum inside the metal's plasmon band (gold 480-650 nm, silver
  360-600 nm: the dipole band of spheres of 2-150 nm in water, e.g. Link & El-Sayed, J. Phys.
  Chem. B 103 (1999) 4212): clusters of a few nm whose band is damped away, or not a plasmonic
  sample at all (silica, a dye, a turbid blank);
* ``too_broad``: the absorbance 100 nm to the red of the peak, relative to the peak, exceeds
  what any lognormal population of spheres in the kernel gives (times 1.25): aggregates, rods
  or a second band.

>>> import numpy as np
>>> wl = np.arange(400.0, 801.0, 2.0)
>>> band = np.exp(-((wl - 525.0) / 40.0) ** 2) + 0.1
>>> plasmon_flags(wl, band, "Au", noise_au=0.001, max_red_ratio=0.5)
[]
>>> plasmon_flags(wl, np.exp(-(wl - 400.0) / 100.0), "Au", noise_au=0.001, max_red_ratio=0.5)
['no_plasmon']
"""

from __future__ import annotations

import numpy as np

__all__ = ["PLASMON_BAND_NM", "MIN_PEAK_SNR", "RED_OFFSET_NM", "plasmon_flags", "red_ratio"]

#: where the dipole plasmon band of spheres lies, per metal, nm
PLASMON_BAND_NM = {"Au": (480.0, 650.0), "Ag": (360.0, 600.0)}
#: the band's peak must exceed this many noise sd (per point)
MIN_PEAK_SNR = 20.0
#: the red side of the band is read this far from the peak, nm
RED_OFFSET_NM = 100.0
#: a measured red ratio above this times the kernel's largest is "too broad"
BROAD_MARGIN = 1.25


def red_ratio(wavelengths_nm: np.ndarray, y: np.ndarray, peak_index: int) -> float:
    """A(peak + 100 nm) / A(peak), linearly interpolated; inf when the axis ends before."""
    target = float(wavelengths_nm[peak_index]) + RED_OFFSET_NM
    if target > float(wavelengths_nm[-1]) or not y[peak_index] > 0:
        return float("inf")
    return float(np.interp(target, wavelengths_nm, y)) / float(y[peak_index])


def band_peak(wavelengths_nm: np.ndarray, y: np.ndarray, metal: str) -> int | None:
    """Index of the largest local maximum of ``y`` inside the metal's band (None if none)."""
    lo, hi = PLASMON_BAND_NM.get(metal, (float("-inf"), float("inf")))
    inside = np.flatnonzero((wavelengths_nm >= lo) & (wavelengths_nm <= hi))
    if inside.size < 3:
        return None
    i = int(inside[np.argmax(y[inside])])
    if i in (int(inside[0]), int(inside[-1])) or i == 0 or i == y.size - 1:
        return None  # the maximum of the band is at its edge: a slope, not a band
    return i


def plasmon_flags(
    wavelengths_nm: np.ndarray,
    y_smooth: np.ndarray,
    metal: str,
    noise_au: float,
    max_red_ratio: float,
) -> list[str]:
    """The refusal flags of a (smoothed) window spectrum: [], or one of the three above."""
    i = band_peak(wavelengths_nm, y_smooth, metal)
    if i is None:
        return ["no_plasmon"]
    if noise_au > 0 and y_smooth[i] < MIN_PEAK_SNR * noise_au:
        return ["too_weak"]
    if red_ratio(wavelengths_nm, y_smooth, i) > BROAD_MARGIN * max_red_ratio:
        return ["too_broad"]
    return []


def kernel_max_red_ratio(wavelengths_nm: np.ndarray, spectra: np.ndarray, metal: str) -> float:
    """The largest :func:`red_ratio` over model spectra (columns of ``spectra``) with a band."""
    best = 0.0
    for col in spectra.T:
        i = band_peak(wavelengths_nm, col, metal)
        if i is not None:
            r = red_ratio(wavelengths_nm, col, i)
            if np.isfinite(r):
                best = max(best, r)
    return best if best > 0 else float("inf")
