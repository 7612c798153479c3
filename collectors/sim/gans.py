"""Extinction of randomly oriented metal nanorods (prolate spheroids) by Gans theory.

Model and sources:

* **Gans theory** (R. Gans, Ann. Phys. 342 (1912) 881), the quasi-static (dipole) limit for
  spheroids, written for gold rods as in S. Link, M. B. Mohamed and M. A. El-Sayed, J. Phys.
  Chem. B 103 (1999) 3073, eqs 1-3. A rod is a prolate spheroid of width (short axis) ``w`` and
  length ``L = R w`` (aspect ratio ``R >= 1``), volume ``V = pi/6 w^2 L``. Its depolarisation
  factors are ``P_L = (1 - e^2)/e^2 (1/(2e) ln((1 + e)/(1 - e)) - 1)`` along the long axis,
  ``P_T = (1 - P_L)/2`` along each short axis, ``e^2 = 1 - 1/R^2``. Averaged over random
  orientations the extinction cross-section is::

      sigma_ext = (2 pi / lambda) n_m^3 V / 3 * sum_j (1/P_j^2) eps2 /
                  ((eps1 + (1 - P_j)/P_j n_m^2)^2 + eps2^2)

  with the sum over the three axes (one longitudinal, two transverse), ``lambda`` the vacuum
  wavelength and ``n_m`` the index of the medium. For ``R -> 1`` all ``P_j -> 1/3`` and this is
  the quasi-static sphere, 18 pi n_m^3 V / lambda eps2 / ((eps1 + 2 n_m^2)^2 + eps2^2)
  (:func:`synthwatch.collectors.sim.optics.quasistatic_extinction_nm2`; Bohren & Huffman 1983,
  eq. 5.32), which the tests check.
* **Dielectric function**: Johnson & Christy (1972) with the size-dependent (surface) damping of
  Kreibig & Vollmer (1995), :func:`synthwatch.collectors.sim.optics.dielectric_function`, evaluated
  at an effective size ``d_eff_nm`` (default: the rod width, the shortest electron path).

Limits: quasi-static, so no retardation or radiation damping. Real rods longer than ~50 nm
have longitudinal bands somewhat redder and broader than Gans gives; spheroids are not the
spherocylinders of real rods, and no CTAB layer is modelled (Link et al. needed a medium
dielectric constant of ~4 to match their measured bands). In water (n = 1.333) with J&C gold and
a 10 nm width this gives the longitudinal band at 588, 672 and 768 nm for R = 2, 3 and 4 (the
transverse band at 510-514 nm), some 30-60 nm bluer than the empirical lambda ~ 95 R + 420 nm
(Brioude, Jiang & Pileni, J. Phys. Chem. B 109 (2005) 13138).

>>> import numpy as np
>>> wl = np.arange(450.0, 901.0, 1.0)
>>> s = gans_extinction_nm2("Au", wl, [2.0, 3.0], width_nm=10.0)
>>> s.shape, bool(wl[np.argmax(s[:, 1])] > wl[np.argmax(s[:, 0])] > 560)
((451, 2), True)
"""

from __future__ import annotations

import numpy as np

from synthwatch.collectors.sim.optics import dielectric_function

__all__ = [
    "depolarization_factors",
    "spheroid_volume_nm3",
    "gans_extinction_nm2",
    "gans_cross_sections_from_eps",
    "longitudinal_peak_nm",
]

_SERIES_E = 0.05  # below this eccentricity P_L comes from its power series (no cancellation)


def depolarization_factors(aspect_ratio: object) -> tuple[np.ndarray, np.ndarray]:
    """(P_L, P_T) of prolate spheroids of aspect ratio R = length / width >= 1 (Gans 1912).

    P_L = (1 - e^2)/e^2 (atanh(e)/e - 1), e^2 = 1 - 1/R^2 (Link, Mohamed & El-Sayed 1999,
    eq. 2), P_T = (1 - P_L)/2. Near R = 1 the power series atanh(e)/e - 1 = sum_k e^2k/(2k+1)
    is used, so R = 1 gives exactly 1/3.

    >>> pl, pt = depolarization_factors([1.0, 3.0])
    >>> [round(float(x), 4) for x in pl], round(float(pt[0]), 4)
    ([0.3333, 0.1087], 0.3333)
    """
    r = np.asarray(aspect_ratio, dtype=float)
    if np.any(~np.isfinite(r)) or np.any(r < 1.0):
        raise ValueError("aspect_ratio: expected R >= 1 (prolate spheroids)")
    e2 = 1.0 - 1.0 / (r * r)
    e = np.sqrt(e2)
    small = e < _SERIES_E
    with np.errstate(divide="ignore", invalid="ignore"):
        exact = (1.0 - e2) / e2 * (np.arctanh(e) / e - 1.0)
    series = np.zeros_like(e2)
    for k in range(8, 0, -1):  # (1 - e^2) sum_{k>=1} e^(2k-2) / (2k+1), Horner in e^2
        series = series * e2 + 1.0 / (2 * k + 1)
    series = (1.0 - e2) * series
    p_l = np.where(small, series, exact)
    return p_l, 0.5 * (1.0 - p_l)


def spheroid_volume_nm3(width_nm: object, aspect_ratio: object) -> np.ndarray:
    """Volume of a prolate spheroid of width ``width_nm`` and length R * width, nm^3."""
    w = np.asarray(width_nm, dtype=float)
    return np.pi / 6.0 * w**3 * np.asarray(aspect_ratio, dtype=float)


def gans_cross_sections_from_eps(
    eps: np.ndarray,
    wavelengths_nm: np.ndarray,
    aspect_ratio: object,
    volume_nm3: object,
    n_medium: float = 1.333,
) -> tuple[np.ndarray, np.ndarray]:
    """Orientation-averaged (longitudinal, transverse) extinction parts, nm^2, by broadcasting.

    ``eps`` (complex, eps2 > 0), ``wavelengths_nm``, ``aspect_ratio`` and ``volume_nm3`` are
    broadcast against each other (the caller lays out the axes); the longitudinal part is the
    one term j = L of Gans' sum, the transverse part the two terms j = T. Their sum is
    sigma_ext. This is the vectorised core of :func:`gans_extinction_nm2`.
    """
    p_l, p_t = depolarization_factors(aspect_ratio)
    nm2 = n_medium * n_medium
    pref = 2.0 * np.pi / np.asarray(wavelengths_nm) * n_medium**3 * np.asarray(volume_nm3) / 3.0
    e1, e2 = eps.real, eps.imag

    def term(p):
        return e2 / (p * p * ((e1 + (1.0 - p) / p * nm2) ** 2 + e2 * e2))

    return pref * term(p_l), pref * 2.0 * term(p_t)


def gans_extinction_nm2(
    metal: str,
    wavelengths_nm: object,
    aspect_ratio: object,
    width_nm: float,
    n_medium: float = 1.333,
    *,
    d_eff_nm: float | None = None,
    components: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Extinction cross-section (nm^2) of randomly oriented ``metal`` rods by Gans theory.

    ``aspect_ratio`` a scalar gives shape ``(n_wavelengths,)``, a sequence
    ``(n_wavelengths, n_ratios)``; all rods have the width ``width_nm`` (length R * width). The
    dielectric function is size-corrected at ``d_eff_nm`` (default: the width).
    ``components=True`` returns the (longitudinal, transverse) parts instead of their sum.

    >>> import numpy as np
    >>> wl = np.arange(480.0, 561.0, 1.0)
    >>> s = gans_extinction_nm2("Au", wl, 1.0, width_nm=10.0)   # R = 1: a 10 nm sphere
    >>> int(wl[np.argmax(s)])
    522
    """
    wl = np.atleast_1d(np.asarray(wavelengths_nm, dtype=float))
    if not (width_nm > 0):
        raise ValueError("width_nm: expected > 0")
    d_eff = float(width_nm if d_eff_nm is None else d_eff_nm)
    eps = dielectric_function(metal, wl, d_eff)
    scalar = np.ndim(aspect_ratio) == 0
    r = np.atleast_1d(np.asarray(aspect_ratio, dtype=float))[None, :]
    long_, trans = gans_cross_sections_from_eps(
        eps[:, None], wl[:, None], r, spheroid_volume_nm3(width_nm, r), n_medium
    )
    if scalar:
        long_, trans = long_[:, 0], trans[:, 0]
    return (long_, trans) if components else long_ + trans


def longitudinal_peak_nm(
    metal: str,
    aspect_ratio: float,
    width_nm: float = 10.0,
    n_medium: float = 1.333,
    *,
    wavelengths_nm: object = None,
) -> float:
    """Wavelength (nm) of the maximum of the longitudinal band of rods of ``aspect_ratio``.

    Searched on ``wavelengths_nm`` (default 400-1200 nm, 0.5 nm steps), refined by a parabola
    through the three points around the maximum.
    """
    wl = np.arange(400.0, 1200.5, 0.5) if wavelengths_nm is None else np.asarray(wavelengths_nm)
    long_, _ = gans_extinction_nm2(
        metal, wl, float(aspect_ratio), width_nm, n_medium, components=True
    )
    i = int(np.argmax(long_))
    if 0 < i < wl.size - 1:
        y0, y1, y2 = long_[i - 1], long_[i], long_[i + 1]
        den = y0 - 2.0 * y1 + y2
        if den < 0:
            return float(wl[i] + 0.5 * (y0 - y2) / den * (wl[i + 1] - wl[i]))
    return float(wl[i])
