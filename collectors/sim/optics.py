"""Optics of noble-metal nanospheres for the simulators: dielectric functions and Mie extinction.

What is modelled, and where it comes from:

* **Bulk optical constants** of gold and silver: P. B. Johnson and R. W. Christy, "Optical
  constants of the noble metals", Phys. Rev. B 6 (1972) 4370, as tabulated (n, k against vacuum
  wavelength, 49 points from 188 to 1937 nm) in ``data/optical/``. Between the tabulated points,
  n and k are interpolated with monotone cubic (PCHIP) interpolation.
* **Size-dependent damping** of the free (Drude) electrons: in a particle smaller than the bulk
  mean free path the electrons also scatter off the surface, so the Drude damping rate becomes
  ``gamma(d) = gamma_bulk + A * v_F / (d / 2)`` and the bulk dielectric function is corrected by
  swapping the Drude term, ``eps(w, d) = eps_bulk(w) + wp^2 / (w^2 + i gamma_bulk w)
  - wp^2 / (w^2 + i gamma(d) w)``. Source: U. Kreibig and M. Vollmer, *Optical Properties of
  Metal Clusters*, Springer (1995), ch. 2.2; applied to gold exactly this way by W. Haiss,
  N. T. K. Thanh, J. Aveyard and D. G. Fernig, Anal. Chem. 79 (2007) 4215 (their eqs 5-9).
* **Drude constants**: plasma frequency and bulk damping from the Drude fits of M. A. Ordal et
  al., Appl. Opt. 22 (1983) 1099 (Au: wp = 72 800 cm^-1, w_tau = 215 cm^-1; Ag: 72 700 cm^-1,
  145 cm^-1, converted to rad/s with 2 pi c); Fermi velocities from N. W. Ashcroft and
  N. D. Mermin, *Solid State Physics* (1976), table 2.1 (Au 1.40e6 m/s, Ag 1.39e6 m/s); A = 1
  as in Haiss et al. (2007). For gold the bulk mean free path v_F / gamma_bulk is then 35 nm,
  close to the 42 nm Haiss et al. quote.
* **Extinction cross-sections** of homogeneous spheres in a non-absorbing medium: Mie theory
  (C. F. Bohren and D. R. Huffman, *Absorption and Scattering of Light by Small Particles*,
  Wiley 1983, ch. 4) computed with ``miepython``. ``miepython.efficiencies(m, d, lambda0,
  n_env)`` takes the *absolute* complex index of the sphere with a negative imaginary part
  (m = n - ik), the *vacuum* wavelength and the medium index, and divides both itself (relative
  index m / n_env, size parameter pi d n_env / lambda0); it returns efficiencies relative to
  the geometric cross-section pi d^2 / 4. ``tests/collectors/test_optics.py`` checks this against
  the quasi-static (dipole) limit, Bohren & Huffman eq. 5.32 / Kreibig & Vollmer eq. 2.13.

* **Ensemble of kernels** (issue 19): :func:`member_kernels` gives one kernel per published set
  of optical constants (:mod:`synthwatch.collectors.sim.constants`: Johnson & Christy, Olmon,
  McPeak, Babar & Weaver, Werner, Yakubovsky for gold; Johnson & Christy, McPeak, Babar &
  Weaver, Yang, Jiang for silver, from the refractiveindex.info database) and surface-damping
  constant A in ``DAMPING_A`` (0.5, 1, 1.5), with the same Drude correction. The reference
  kernel stays the Johnson & Christy table above with A = 1; ``dielectric_function`` and
  ``extinction_kernel_nm2`` take ``constants=`` and ``damping_A=`` for the others.

Units are in the names: ``wavelength_nm`` is the vacuum wavelength in nm, ``d_nm`` a diameter in
nm, ``sigma_ext_nm2`` a cross-section in nm^2.

Speed: miepython without numba (the default; ``MIEPYTHON_USE_JIT`` unset) costs about 30-50 us
per sphere and wavelength, so the Mie kernel is evaluated on a coarse grid of diameters ("nodes",
8 % apart) and interpolated in log-diameter (:func:`ensemble_kernel`), and every kernel is cached
on disk under ``~/.cache/synthwatch/optics/`` (or ``$SYNTHWATCH_CACHE_DIR/optics/``), keyed by a
hash of everything it depends on. Measured for 601 wavelengths and 0.5-300 nm: 1.6 s cold, 6 ms
from the cache. miepython is imported only when a kernel is computed, because with
``MIEPYTHON_USE_JIT=1`` its import alone compiles for about 5 s. The members of the ensemble are
computed with :func:`mie_qext`, miepython's algorithm over whole arrays (equal to it within a
few 1e-15, about 0.1 us per sphere), once per member on a fixed wavelength grid
(:func:`member_grid_nm`) and cached the same way, then interpolated to the sensor's axis
(within 2.2e-4 for gold, 8.5e-4 for silver except Jiang's 1 nm data, 6.6e-3; see the tests):
all 18 gold members cost about 1-2.5 s cold, 0.2-0.5 s from the cache.

>>> import numpy as np
>>> wl = np.arange(450.0, 601.0, 1.0)
>>> sigma = extinction_kernel_nm2("Au", wl, [20.0], use_cache=False)
>>> sigma.shape, float(wl[np.argmax(sigma[:, 0])])   # SPR peak of 20 nm gold in water, nm
((151, 1), 523.0)
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.resources
import io
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.interpolate import CubicSpline, PchipInterpolator
from scipy.special import ndtr

from synthwatch.collectors.sim.constants import (
    DAMPING_A,
    constants_range_nm,
    database_version,
    refractive_index,
    set_names,
    table_fingerprint,
)

__all__ = [
    "METALS",
    "DrudeConstants",
    "DRUDE",
    "SPEED_OF_LIGHT_M_PER_S",
    "optical_table",
    "wavelength_range_nm",
    "bulk_refractive_index",
    "dielectric_function",
    "damping_rate_per_s",
    "extinction_kernel_nm2",
    "quasistatic_extinction_nm2",
    "cache_dir",
    "EnsembleKernel",
    "ensemble_kernel",
    "lognormal_hat_weights",
    "mie_qext",
    "MEMBER_WINDOW_NM",
    "member_grid_nm",
    "member_name",
    "member_kernels",
]

#: Metals with optical constants in ``data/optical/``.
METALS = ("Au", "Ag")

SPEED_OF_LIGHT_M_PER_S = 299_792_458.0
_TWO_PI_C_CM_PER_S = 2.0 * np.pi * SPEED_OF_LIGHT_M_PER_S * 100.0  # wavenumber (cm^-1) -> rad/s

#: bump when anything that changes kernel values changes (part of the cache key)
_KERNEL_VERSION = "1"


@dataclass(frozen=True)
class DrudeConstants:
    """Free-electron (Drude) constants of a metal, for the size-dependent damping correction.

    ``omega_p_rad_per_s`` and ``gamma_bulk_per_s`` are the Drude fits of Ordal et al.,
    Appl. Opt. 22 (1983) 1099; ``v_fermi_m_per_s`` is from Ashcroft & Mermin (1976), table 2.1;
    ``A_damping`` is the dimensionless surface-scattering constant of Kreibig & Vollmer (1995)
    (1 here, as in Haiss et al., Anal. Chem. 79 (2007) 4215).
    """

    omega_p_rad_per_s: float
    gamma_bulk_per_s: float
    v_fermi_m_per_s: float
    A_damping: float = 1.0

    @property
    def mean_free_path_nm(self) -> float:
        """Bulk mean free path of the conduction electrons, v_F / gamma_bulk, in nm."""
        return self.v_fermi_m_per_s / self.gamma_bulk_per_s * 1e9


#: Drude constants by metal (see :class:`DrudeConstants` for the sources).
DRUDE: dict[str, DrudeConstants] = {
    "Au": DrudeConstants(
        omega_p_rad_per_s=72_800.0 * _TWO_PI_C_CM_PER_S,  # 1.371e16 rad/s (9.03 eV)
        gamma_bulk_per_s=215.0 * _TWO_PI_C_CM_PER_S,  # 4.05e13 1/s (26.7 meV)
        v_fermi_m_per_s=1.40e6,
        A_damping=1.0,
    ),
    "Ag": DrudeConstants(
        omega_p_rad_per_s=72_700.0 * _TWO_PI_C_CM_PER_S,  # 1.369e16 rad/s (9.01 eV)
        gamma_bulk_per_s=145.0 * _TWO_PI_C_CM_PER_S,  # 2.73e13 1/s (18 meV)
        v_fermi_m_per_s=1.39e6,
        A_damping=1.0,
    ),
}

_FILES = {"Au": "Au_Johnson_Christy_1972.csv", "Ag": "Ag_Johnson_Christy_1972.csv"}


def _check_metal(metal: str) -> str:
    if metal not in METALS:
        raise ValueError(f"metal: expected one of {METALS}, got {metal!r}")
    return metal


@lru_cache(maxsize=None)
def _table_bytes(metal: str) -> bytes:
    res = importlib.resources.files("synthwatch.collectors") / "data/optical" / _FILES[metal]
    return res.read_bytes()


@lru_cache(maxsize=None)
def optical_table(metal: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The Johnson & Christy (1972) table of ``metal``: (wavelength_nm, n, k), as stored."""
    data = np.loadtxt(
        io.BytesIO(_table_bytes(_check_metal(metal))), delimiter=",", skiprows=1, ndmin=2
    )
    order = np.argsort(data[:, 0])
    data = data[order]
    wavelength_nm = data[:, 0] * 1000.0
    for arr in (wavelength_nm, data[:, 1], data[:, 2]):
        arr.setflags(write=False)
    return wavelength_nm, data[:, 1], data[:, 2]


def wavelength_range_nm(metal: str) -> tuple[float, float]:
    """The (shortest, longest) tabulated vacuum wavelength of ``metal``, nm."""
    wl, _, _ = optical_table(metal)
    return float(wl[0]), float(wl[-1])


@lru_cache(maxsize=None)
def _nk_interpolators(metal: str) -> tuple[PchipInterpolator, PchipInterpolator]:
    wl, n, k = optical_table(metal)
    return PchipInterpolator(wl, n, extrapolate=False), PchipInterpolator(wl, k, extrapolate=False)


def _as_wavelengths_nm(
    metal: str, wavelengths_nm: object, constants: str | None = None
) -> np.ndarray:
    wl = np.atleast_1d(np.asarray(wavelengths_nm, dtype=float))
    if wl.ndim != 1 or wl.size == 0:
        raise ValueError("wavelengths_nm: expected a non-empty 1-D sequence of wavelengths in nm")
    if constants is not None:
        refractive_index(metal, constants, wl)  # ValueError naming the set and its range
        return wl
    lo, hi = wavelength_range_nm(metal)
    if not np.all(np.isfinite(wl)) or wl.min() < lo or wl.max() > hi:
        raise ValueError(
            f"wavelengths_nm: the {metal} optical constants span {lo:.0f}-{hi:.0f} nm, "
            f"got {wl.min():g}-{wl.max():g} nm"
        )
    return wl


def _as_damping_a(metal: str, damping_A: float | None) -> float:
    if damping_A is None:
        return DRUDE[metal].A_damping
    a = float(damping_A)
    if not (np.isfinite(a) and a >= 0):
        raise ValueError(f"damping_A: expected a finite constant >= 0, got {damping_A!r}")
    return a


def _as_diameters_nm(diameters_nm: object) -> np.ndarray:
    d = np.atleast_1d(np.asarray(diameters_nm, dtype=float))
    if d.ndim != 1 or d.size == 0 or not np.all(np.isfinite(d)) or np.any(d <= 0):
        raise ValueError("diameters_nm: expected a non-empty 1-D sequence of diameters > 0 nm")
    return d


def bulk_refractive_index(metal: str, wavelengths_nm: object) -> np.ndarray:
    """Bulk complex refractive index n + ik of ``metal`` (Johnson & Christy 1972, PCHIP).

    >>> n = bulk_refractive_index("Au", [500.0])
    >>> bool(0.8 < n.real[0] < 1.1 and 1.7 < n.imag[0] < 2.0)
    True
    """
    wl = _as_wavelengths_nm(metal, wavelengths_nm)
    fn, fk = _nk_interpolators(metal)
    return fn(wl) + 1j * fk(wl)


def damping_rate_per_s(metal: str, d_nm: object, damping_A: float | None = None) -> np.ndarray:
    """Drude damping rate in a sphere of diameter ``d_nm``: gamma_bulk + A v_F / (d/2), 1/s.

    Kreibig & Vollmer (1995), eq. 2.52; Haiss et al. (2007), eqs 7-8. ``damping_A=None`` is the
    metal's ``DRUDE[metal].A_damping`` (1).
    """
    c = DRUDE[_check_metal(metal)]
    a = _as_damping_a(metal, damping_A)
    r_m = np.asarray(d_nm, dtype=float) * 0.5e-9
    return c.gamma_bulk_per_s + a * c.v_fermi_m_per_s / r_m


def dielectric_function(
    metal: str,
    wavelengths_nm: object,
    d_nm: object = None,
    *,
    constants: str | None = None,
    damping_A: float | None = None,
) -> np.ndarray:
    """Complex dielectric function eps1 + i eps2 (eps2 > 0) of ``metal``.

    ``d_nm=None`` gives the bulk function eps = (n + ik)^2 of Johnson & Christy (1972). A scalar
    diameter gives the size-corrected function (shape ``(n_wavelengths,)``), a sequence of
    diameters a matrix ``(n_wavelengths, n_diameters)``:
    eps(w, d) = eps_bulk(w) + wp^2 / (w^2 + i gamma_bulk w) - wp^2 / (w^2 + i gamma(d) w)
    (Kreibig & Vollmer 1995, ch. 2.2; Haiss et al., Anal. Chem. 79 (2007) 4215, eqs 5-9).

    ``constants`` names another published set of bulk constants of the metal (see
    :mod:`synthwatch.collectors.sim.constants`; ``None``: the Johnson & Christy table in
    ``data/optical/``), ``damping_A`` the surface-damping constant A of gamma(d) (``None``: 1).
    The Drude constants of the correction are Ordal's (``DRUDE``) whichever the set.
    """
    wl = _as_wavelengths_nm(metal, wavelengths_nm, constants)
    if constants is None:
        eps_bulk = bulk_refractive_index(metal, wl) ** 2
    else:
        eps_bulk = refractive_index(metal, constants, wl) ** 2
    if d_nm is None:
        return eps_bulk
    scalar = np.ndim(d_nm) == 0
    d = _as_diameters_nm(d_nm)
    c = DRUDE[metal]
    omega = _TWO_PI_C_CM_PER_S * 1e7 / wl  # rad/s; 1e7 / wl_nm is the wavenumber in cm^-1
    w = omega[:, None]
    gamma_d = damping_rate_per_s(metal, d, damping_A)[None, :]
    wp2 = c.omega_p_rad_per_s**2
    eps = (
        eps_bulk[:, None]
        + wp2 / (w * w + 1j * c.gamma_bulk_per_s * w)
        - wp2 / (w * w + 1j * gamma_d * w)
    )
    return eps[:, 0] if scalar else eps


def quasistatic_extinction_nm2(
    metal: str, wavelengths_nm: object, d_nm: float, n_medium: float = 1.333
) -> np.ndarray:
    """Dipole (quasi-static) extinction cross-section of a small sphere, nm^2.

    sigma = 18 pi n_m^3 V / lambda * eps2 / ((eps1 + 2 n_m^2)^2 + eps2^2), with the
    size-corrected eps (Bohren & Huffman 1983, eq. 5.32; Kreibig & Vollmer 1995, eq. 2.13).
    Valid for d << lambda / n_m; used to check the Mie kernel.
    """
    wl = _as_wavelengths_nm(metal, wavelengths_nm)
    eps = dielectric_function(metal, wl, float(d_nm))
    volume_nm3 = np.pi / 6.0 * float(d_nm) ** 3
    nm2 = n_medium**2
    return (
        18.0
        * np.pi
        * n_medium**3
        * volume_nm3
        / wl
        * eps.imag
        / ((eps.real + 2.0 * nm2) ** 2 + eps.imag**2)
    )


# ---------------------------------------------------------------------------------- cache


def cache_dir() -> Path:
    """Where kernels are cached: ``$SYNTHWATCH_CACHE_DIR`` or ``~/.cache/synthwatch``."""
    env = os.environ.get("SYNTHWATCH_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "synthwatch"


@lru_cache(maxsize=1)
def _miepython_version() -> str:
    try:
        return importlib.metadata.version("miepython")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - vendored copies
        return "unknown"


def _cache_key(
    metal: str,
    wl: np.ndarray,
    d: np.ndarray,
    n_medium: float,
    corr: bool,
    constants_set: str | None = None,
    damping_A: float | None = None,
) -> str:
    # the reference kernel (constants_set=None, damping_A None or 1) keeps the key it always had
    h = hashlib.sha256()
    c = DRUDE[metal]
    h.update(f"v{_KERNEL_VERSION}|{metal}|{n_medium!r}|{corr}|{_miepython_version()}|".encode())
    a = _as_damping_a(metal, damping_A)
    constants = (c.omega_p_rad_per_s, c.gamma_bulk_per_s, c.v_fermi_m_per_s, a)
    h.update(repr(constants).encode())
    if constants_set is None:
        h.update(_table_bytes(metal))
    else:
        h.update(f"set|{constants_set}|{table_fingerprint(metal, constants_set)}".encode())
    h.update(np.ascontiguousarray(wl, dtype="<f8").tobytes())
    h.update(b"|")
    h.update(np.ascontiguousarray(d, dtype="<f8").tobytes())
    return h.hexdigest()[:32]


def _cache_load(path: Path, shape: tuple[int, int]) -> np.ndarray | None:
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    if arr.shape != shape or arr.dtype != np.float64 or not np.all(np.isfinite(arr)):
        return None
    return arr


def _cache_store(path: Path, arr: np.ndarray) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npy")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.save(fh, arr, allow_pickle=False)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:  # a read-only or full cache is not an error: the kernel is just rebuilt
        pass


# ---------------------------------------------------------------------------------- Mie


def _mie_kernel_nm2(
    metal: str,
    wl: np.ndarray,
    d: np.ndarray,
    n_medium: float,
    size_correction: bool,
    constants: str | None = None,
    damping_A: float | None = None,
) -> np.ndarray:
    # imported here: with MIEPYTHON_USE_JIT=1 the import alone JIT-compiles for ~5 s, which a
    # start from the cache should not pay
    import miepython

    kw = {"constants": constants, "damping_A": damping_A}
    if size_correction:
        eps = dielectric_function(metal, wl, d, **kw)  # (n_wl, n_d)
    else:
        eps = np.repeat(dielectric_function(metal, wl, **kw)[:, None], d.size, axis=1)
    m = np.conj(np.sqrt(eps))  # n + ik (k > 0) -> miepython's n - ik
    out = np.empty((wl.size, d.size))
    for j, dj in enumerate(d):  # miepython loops over spheres in Python; one call per diameter
        qext, _, _, _ = miepython.efficiencies(m[:, j], dj, wl, n_medium)
        out[:, j] = np.asarray(qext, dtype=float) * (np.pi / 4.0 * dj * dj)
    return out


def extinction_kernel_nm2(
    metal: str,
    wavelengths_nm: object,
    diameters_nm: object,
    n_medium: float = 1.333,
    *,
    size_correction: bool = True,
    use_cache: bool = True,
    constants: str | None = None,
    damping_A: float | None = None,
) -> np.ndarray:
    """Mie extinction cross-sections sigma_ext (nm^2) of ``metal`` spheres in a medium.

    Returns an array of shape ``(n_wavelengths, n_diameters)``; ``wavelengths_nm`` are vacuum
    wavelengths, ``n_medium`` the (real) index of the medium (water: 1.333). The dielectric
    function is size-corrected (see :func:`dielectric_function`) unless
    ``size_correction=False``. Computed exactly at every diameter with miepython (about
    30-50 us per sphere and wavelength) and cached on disk (see :func:`cache_dir`) unless
    ``use_cache=False``; for many diameters use :func:`ensemble_kernel`, which interpolates.
    ``constants`` and ``damping_A`` choose the set of bulk constants and the damping constant A
    (see :func:`dielectric_function`; defaults: Johnson & Christy from ``data/optical/``, A = 1).
    """
    metal = _check_metal(metal)
    wl = _as_wavelengths_nm(metal, wavelengths_nm, constants)
    d = _as_diameters_nm(diameters_nm)
    n_medium = float(n_medium)
    if not (np.isfinite(n_medium) and n_medium > 0):
        raise ValueError(f"n_medium: expected a real index > 0, got {n_medium!r}")
    path = None
    if use_cache:
        key = _cache_key(metal, wl, d, n_medium, size_correction, constants, damping_A)
        path = cache_dir() / "optics" / f"sigma_ext_{metal}_{key}.npy"
        cached = _cache_load(path, (wl.size, d.size))
        if cached is not None:
            return cached
    out = _mie_kernel_nm2(metal, wl, d, n_medium, size_correction, constants, damping_A)
    if path is not None:
        _cache_store(path, out)
    return out


# ------------------------------------------------------------------------- size ensembles


def lognormal_hat_weights(
    ln_grid: np.ndarray, mu: np.ndarray | float, s: np.ndarray | float
) -> np.ndarray:
    """Weights w (shape ``(n_grid, n)``) such that sum_i w_i f(d_i) = E[f(d)] for ln d ~ N(mu, s^2).

    Exact for any f that is piecewise linear in ln d between the (uniformly spaced) grid points
    ``ln_grid``: each weight is the integral of the normal density against the "hat" function
    of its grid point. Works down to s = 0 (a single diameter: the two neighbouring grid points
    share it linearly). Probability outside the grid is dropped; columns sum to 1 when the
    distribution lies inside the grid.
    """
    u = np.asarray(ln_grid, dtype=float)
    step = u[1] - u[0]
    mu = np.atleast_1d(np.asarray(mu, dtype=float))[None, :]
    s = np.maximum(np.atleast_1d(np.asarray(s, dtype=float)), 1e-12)[None, :]
    # work in grid-step units relative to each grid point to keep cancellation small
    z = (u[:, None] - mu) / s
    cdf = ndtr(z)
    pdf = np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)
    # partial first moment of (u - mu): integral of (u' - mu) p(u') du' up to u = -s * pdf
    m1 = -s * pdf
    dG = np.diff(cdf, axis=0)  # probability in each cell [u_i, u_i+1]
    dH = np.diff(m1, axis=0)  # integral of (u - mu) p over the cell
    # integral over cell of (u - u_i)/step * p = (dH + (mu - u_i) dG) / step
    left = u[:-1, None]
    up = (dH + (mu - left) * dG) / step  # the rising part of the hat of point i+1
    w = np.zeros((u.size, mu.shape[1]))
    w[1:] += up
    w[:-1] += dG - up  # the falling part of the hat of point i
    return np.clip(w, 0.0, None)


@dataclass(frozen=True, eq=False)
class EnsembleKernel:
    """Extinction of lognormal size distributions of spheres on a fixed wavelength axis.

    ``sigma_ext_nm2[i, j]`` is the cross-section at ``wavelengths_nm[i]`` of a sphere of
    diameter ``diameters_nm[j]``, on a fine grid uniform in ln d (1 % steps). Mie theory is
    evaluated on a coarse grid of nodes (8 % steps) and interpolated with a cubic spline of
    ln(sigma / d^3) in ln d, which is smooth (better than 0.2 % against exact Mie, see the
    tests). Build one with :func:`ensemble_kernel`.

    >>> import numpy as np
    >>> k = ensemble_kernel("Au", np.arange(400.0, 701.0, 5.0), d_min_nm=5.0, d_max_nm=60.0,
    ...                     use_cache=False)
    >>> s = k.mean_sigma_ext_nm2(20.0, 1.1)     # per particle, number-mean d 20 nm
    >>> s.shape, bool(515 <= k.wavelengths_nm[np.argmax(s[:, 0])] <= 525)
    ((61, 1), True)
    """

    metal: str
    n_medium: float
    wavelengths_nm: np.ndarray
    diameters_nm: np.ndarray
    sigma_ext_nm2: np.ndarray

    @property
    def ln_d(self) -> np.ndarray:
        """ln of the fine diameter grid (nm)."""
        return np.log(self.diameters_nm)

    def weights(self, d_mean_nm: object, gsd: object) -> np.ndarray:
        """Number weights on the diameter grid, ``(n_diameters, n)``, of lognormal PSDs.

        ``d_mean_nm`` is the number-weighted arithmetic mean diameter, ``gsd`` the geometric
        standard deviation (>= 1); ln d ~ N(mu, s^2) with s = ln gsd, mu = ln d_mean - s^2/2.
        """
        d_mean = np.atleast_1d(np.asarray(d_mean_nm, dtype=float))
        s = np.log(np.atleast_1d(np.asarray(gsd, dtype=float)))
        if np.any(~np.isfinite(d_mean) | (d_mean <= 0)) or np.any(~np.isfinite(s) | (s < 0)):
            raise ValueError("expected d_mean_nm > 0 and gsd >= 1")
        mu = np.log(d_mean) - 0.5 * s * s
        return lognormal_hat_weights(self.ln_d, mu, s)

    def mean_sigma_ext_nm2(self, d_mean_nm: object, gsd: object) -> np.ndarray:
        """Mean extinction cross-section per particle, nm^2, ``(n_wavelengths, n)``."""
        return self.sigma_ext_nm2 @ self.weights(d_mean_nm, gsd)

    def covers(self, d_mean_nm: float, gsd: float, n_sd: float = 5.0) -> bool:
        """Whether the grid holds the distribution to ``n_sd`` standard deviations."""
        s = np.log(gsd)
        mu = np.log(d_mean_nm) - 0.5 * s * s
        return bool(mu - n_sd * s >= self.ln_d[0] - 1e-9 and mu + n_sd * s <= self.ln_d[-1] + 1e-9)


_NODE_STEP = 0.08  # ln-d step of the Mie nodes (8 %)
_FINE_STEP = 0.01  # ln-d step of the fine grid (1 %)


def _lattice(lo: float, hi: float, step: float) -> np.ndarray:
    """Points k*step (k integer) of ln d covering [ln lo, ln hi], anchored at 1 nm."""
    k0 = int(np.floor(np.log(lo) / step + 1e-9))
    k1 = int(np.ceil(np.log(hi) / step - 1e-9))
    return np.arange(k0, k1 + 1) * step


def _node_lattice(d_min_nm: float, d_max_nm: float) -> np.ndarray:
    """ln d of the Mie nodes: the 8 % lattice over the range and one more node on each side."""
    # nodes one step beyond the fine range on each side, so the spline is never extrapolated
    u_nodes = _lattice(d_min_nm, d_max_nm, _NODE_STEP)
    return np.concatenate(([u_nodes[0] - _NODE_STEP], u_nodes, [u_nodes[-1] + _NODE_STEP]))


_MEMO: dict[tuple, EnsembleKernel] = {}


def ensemble_kernel(
    metal: str,
    wavelengths_nm: object,
    n_medium: float = 1.333,
    *,
    d_min_nm: float = 0.5,
    d_max_nm: float = 300.0,
    size_correction: bool = True,
    use_cache: bool = True,
) -> EnsembleKernel:
    """Build (or load from cache) the :class:`EnsembleKernel` for a wavelength axis.

    Nodes lie on a fixed lattice of ln d (8 % apart, anchored at 1 nm) so kernels for
    the same range and axis hit the same disk cache entry; a cold build costs about 0.02 s of
    Mie per node for 600 wavelengths (1.6 s for the default 0.5-300 nm range). Kept in memory
    too, so a second simulator in the same process pays nothing.
    """
    metal = _check_metal(metal)
    wl = _as_wavelengths_nm(metal, wavelengths_nm)
    if not (0 < d_min_nm < d_max_nm):
        raise ValueError("expected 0 < d_min_nm < d_max_nm")
    memo_key = (
        metal,
        wl.tobytes(),
        float(n_medium),
        float(d_min_nm),
        float(d_max_nm),
        size_correction,
        use_cache and str(cache_dir()),
    )
    if memo_key in _MEMO:
        return _MEMO[memo_key]
    u_nodes = _node_lattice(d_min_nm, d_max_nm)
    d_nodes = np.exp(u_nodes)
    sigma_nodes = extinction_kernel_nm2(
        metal, wl, d_nodes, n_medium, size_correction=size_correction, use_cache=use_cache
    )
    u_fine = _lattice(d_min_nm, d_max_nm, _FINE_STEP)
    spline = CubicSpline(u_nodes, np.log(sigma_nodes / d_nodes**3), axis=1)
    d_fine = np.exp(u_fine)
    sigma_fine = np.exp(spline(u_fine)) * d_fine**3
    wl = wl.copy()  # may be the caller's array: freeze a copy, not theirs
    for arr in (wl, d_fine, sigma_fine):
        arr.setflags(write=False)
    kernel = EnsembleKernel(metal, float(n_medium), wl, d_fine, np.ascontiguousarray(sigma_fine))
    if len(_MEMO) > 16:
        _MEMO.clear()
    _MEMO[memo_key] = kernel
    return kernel


# ------------------------------------------------------------- ensemble of kernels (issue 19)


def mie_qext(m: object, x: object) -> np.ndarray:
    """Mie extinction efficiency Q_ext of homogeneous spheres, vectorised over all of them.

    ``m`` is the index relative to the medium (either sign of the imaginary part: absorbing),
    ``x`` the size parameter pi d n_medium / lambda0; any broadcastable shapes. The same
    algorithm as miepython 3 (``mie_nojit._single_sphere_py``), written over arrays instead of
    one sphere at a time: Wiscombe's truncation of the series after x + 4.05 x^(1/3) + 2 terms,
    psi_n(x) by Miller's downward recurrence (as ratios, anchored at the larger of psi_0 and
    psi_1), chi_n(x) upwards, the logarithmic derivative D_n(mx) by downward recurrence from 40
    orders above max(n, |mx|), and miepython's small-sphere expansion (Wiscombe) where
    |m| x < 0.1. It agrees with ``miepython.efficiencies_mx`` to a few 1e-15 (see the tests);
    where miepython costs about 40-70 us per sphere, this costs about 0.1 us, which is what makes
    an ensemble of kernels cheap to build cold. Bohren & Huffman (1983), ch. 4.
    """
    m_arr = np.asarray(m, dtype=complex)
    x_arr = np.asarray(x, dtype=float)
    shape = np.broadcast(m_arr, x_arr).shape
    mm = np.broadcast_to(m_arr, shape).ravel()
    xx = np.broadcast_to(x_arr, shape).ravel()
    mm = np.where(mm.imag > 0, np.conj(mm), mm)  # miepython's convention: m = n - ik
    if np.any(~np.isfinite(mm)) or np.any(mm.real <= 0) or np.any(~(xx > 0) | ~np.isfinite(xx)):
        raise ValueError("mie_qext: expected finite m with Re m > 0 and finite x > 0")
    qext = np.empty(xx.size)
    small = np.abs(mm) * xx < 0.1
    if small.any():
        qext[small] = _qext_small_sphere(mm[small], xx[small])
    if (~small).any():
        qext[~small] = _qext_series(mm[~small], xx[~small])
    return qext.reshape(shape)


def _qext_small_sphere(m: np.ndarray, x: np.ndarray) -> np.ndarray:
    # miepython's _small_sphere_py (Wiscombe's expansion for |m| x < 0.1), extinction only
    m2 = m * m
    x2 = x * x
    den = m2 + 2 + (1 - 0.7 * m2) * x2
    den -= (8 * m**4 - 385 * m2 + 350) * x**4 / 1400.0
    den += 2j * (m2 - 1) * x**3 * (1 - 0.1 * x2) / 3
    ahat1 = 2j * (m2 - 1) / 3 * (1 - 0.1 * x2 + (4 * m2 + 5) * x**4 / 1400) / den
    bhat1 = 1j * x2 * (m2 - 1) / 45 * (1 + (2 * m2 - 5) / 70 * x2)
    bhat1 /= 1 - (2 * m2 - 5) / 30 * x2
    ahat2 = 1j * x2 * (m2 - 1) / 15 * (1 - x2 / 14)
    ahat2 /= 2 * m2 + 3 - (2 * m2 - 7) / 14 * x2
    return 6 * x * (ahat1 + bhat1 + 5 * ahat2 / 3).real


def _qext_series(m: np.ndarray, x: np.ndarray) -> np.ndarray:
    # miepython's _an_bn_py and _single_sphere_py, over arrays
    n_terms = (x + 4.05 * x**0.33333 + 2.0).astype(int)
    n_max = int(n_terms.max())
    z = m * x
    # psi_n(x): ratios r_n = psi_{n+1} / psi_n by Miller's downward recurrence
    n_start = int(max(n_max, x.max())) + 25 + int(1.5 * np.sqrt(x.max()))
    ratios = np.empty((n_max, x.size))
    r = np.zeros(x.size)
    for n in range(n_start, 0, -1):
        r = 1.0 / ((2 * n + 1) / x - r)  # r_{n-1}
        if n - 1 < n_max:
            ratios[n - 1] = r
    sin_x, cos_x = np.sin(x), np.cos(x)
    psi0, psi1 = sin_x, sin_x / x - cos_x
    from_1 = np.abs(psi1) > np.abs(psi0)
    psi = np.empty((n_max + 1, x.size))
    psi[0] = np.where(from_1, psi1 / ratios[0], psi0)
    psi[1] = np.where(from_1, psi1, psi0 * ratios[0])
    for n in range(2, n_max + 1):
        psi[n] = psi[n - 1] * ratios[n - 1]
    # D_n(mx) by downward recurrence, started high enough to have forgotten its start
    d_log = np.zeros(x.size, dtype=complex)
    dn = np.empty((n_max + 1, x.size), dtype=complex)
    for n in range(int(max(n_max, np.abs(z).max())) + 40, 0, -1):
        d_log = n / z - 1.0 / (d_log + n / z)  # D_{n-1}
        if n - 1 <= n_max:
            dn[n - 1] = d_log
    inv_x = 1.0 / x
    chi_nm1 = cos_x
    chi_n = cos_x * inv_x + sin_x
    total = np.zeros(x.size)
    for n in range(1, n_max + 1):
        n_over_x = n * inv_x
        xi_nm1 = psi[n - 1] + 1j * chi_nm1
        xi_n = psi[n] + 1j * chi_n
        temp = dn[n] / m + n_over_x
        a = (temp * psi[n] - psi[n - 1]) / (temp * xi_n - xi_nm1)
        temp = dn[n] * m + n_over_x
        b = (temp * psi[n] - psi[n - 1]) / (temp * xi_n - xi_nm1)
        total += np.where(n <= n_terms, (2 * n + 1) * (a.real + b.real), 0.0)
        chi = (2 * n + 1) * inv_x * chi_n - chi_nm1
        chi_nm1, chi_n = chi_n, chi
    return 2.0 * total / (x * x)


#: The window of vacuum wavelengths (nm) the members' Mie grid spans, within each set's range:
#: the span of silicon-detector spectrometers.
MEMBER_WINDOW_NM = (190.0, 1100.0)
#: steps of the members' Mie grid: 1 nm below 450 nm (silver's interband edge near 320 nm and its
#: plasmon near 400 nm change fast), 2 nm beyond
_MEMBER_FINE_BELOW_NM = 450.0
_MEMBER_STEPS_NM = (1.0, 2.0)
#: bump when anything that changes member values changes (part of their cache key)
_MEMBER_VERSION = "1"


def member_name(set_name: str, damping_A: float) -> str:
    """``"<set>/A=<A>"``, e.g. ``"McPeak/A=1.0"``."""
    return f"{set_name}/A={float(damping_A)!r}"


def member_grid_nm(metal: str, set_name: str) -> np.ndarray:
    """The fixed wavelength grid (nm) a member's Mie is computed on, whatever the sensor axis.

    Every 1 nm (whole nm) below 450 nm and every 2 nm (even nm) above, inside the set's range
    intersected with :data:`MEMBER_WINDOW_NM`, plus the two ends of that intersection, so every
    wavelength in it lies between grid points.
    """
    lo, hi = constants_range_nm(_check_metal(metal), set_name)
    lo, hi = max(lo, MEMBER_WINDOW_NM[0]), min(hi, MEMBER_WINDOW_NM[1])
    fine, coarse = _MEMBER_STEPS_NM
    split = _MEMBER_FINE_BELOW_NM
    inner = np.concatenate(
        (
            np.arange(np.ceil(MEMBER_WINDOW_NM[0] / fine), split / fine) * fine,
            np.arange(split / coarse, np.floor(MEMBER_WINDOW_NM[1] / coarse) + 1) * coarse,
        )
    )
    inner = inner[(inner > lo + 0.25) & (inner < hi - 0.25)]
    return np.concatenate(([lo], inner, [hi]))


_MEMBER_NODES: dict[tuple, np.ndarray] = {}


def _member_nodes_nm2(
    metal: str,
    set_name: str,
    damping_a: float,
    n_medium: float,
    u_nodes: np.ndarray,
    use_cache: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Mie cross-sections of one member on its grid and the diameter nodes: (grid_nm, sigma)."""
    grid = member_grid_nm(metal, set_name)
    c = DRUDE[metal]
    h = hashlib.sha256()
    h.update(
        f"member|v{_MEMBER_VERSION}|{metal}|{set_name}|{damping_a!r}|{n_medium!r}|"
        f"{database_version()}|{table_fingerprint(metal, set_name)}|{_miepython_version()}|"
        f"{(c.omega_p_rad_per_s, c.gamma_bulk_per_s, c.v_fermi_m_per_s)!r}|".encode()
    )
    h.update(np.ascontiguousarray(grid, dtype="<f8").tobytes())
    h.update(b"|")
    h.update(np.ascontiguousarray(u_nodes, dtype="<f8").tobytes())
    key = h.hexdigest()[:32]
    memo_key = (key, use_cache and str(cache_dir()))
    if memo_key in _MEMBER_NODES:
        return grid, _MEMBER_NODES[memo_key]
    path = None
    sigma = None
    if use_cache:
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in set_name)
        path = cache_dir() / "optics" / f"member_{metal}_{safe}_{key}.npy"
        sigma = _cache_load(path, (grid.size, u_nodes.size))
    if sigma is None:
        d_nodes = np.exp(u_nodes)
        eps = dielectric_function(metal, grid, d_nodes, constants=set_name, damping_A=damping_a)
        m = np.conj(np.sqrt(eps)) / n_medium
        x = np.pi * d_nodes[None, :] / (grid[:, None] / n_medium)
        sigma = mie_qext(m, x) * (np.pi / 4.0 * d_nodes * d_nodes)
        if path is not None:
            _cache_store(path, sigma)
    sigma.setflags(write=False)
    if len(_MEMBER_NODES) > 256:
        _MEMBER_NODES.clear()
    _MEMBER_NODES[memo_key] = sigma
    return grid, sigma


_MEMBERS_MEMO: dict[tuple, list[tuple[str, np.ndarray]]] = {}


def member_kernels(
    metal: str,
    wavelengths_nm: object,
    n_medium: float = 1.333,
    *,
    d_min_nm: float,
    d_max_nm: float,
    exclude: tuple[str, ...] | list[str] = (),
    use_cache: bool = True,
) -> list[tuple[str, np.ndarray]]:
    """The ensemble of kernels of ``metal``: one per (set of optical constants, damping A).

    Returns ``[(name, sigma_ext_nm2), ...]`` with names ``"<set>/A=<A>"`` (sets in the order of
    :mod:`synthwatch.collectors.sim.constants`, A in ``DAMPING_A``) and each ``sigma_ext_nm2`` of
    shape ``(n_wavelengths, n_diameters)`` on the same fine diameter grid as
    :func:`ensemble_kernel` with the same ``d_min_nm``/``d_max_nm`` (its ``diameters_nm``).
    Rows are NaN at wavelengths outside the set's tabulated range or outside
    :data:`MEMBER_WINDOW_NM`. ``exclude`` names sets to leave out (all their A).

    Each member's Mie is computed once on a fixed grid (:func:`member_grid_nm`, 1-2 nm) at the
    8 % diameter nodes, cached on disk (keyed by the database version, the set's data, A,
    ``n_medium``, the nodes, the grid) and in memory, then interpolated to the axis (a cubic
    spline of ln sigma in wavelength) and to the fine diameters (a cubic spline of
    ln(sigma / d^3) in ln d, as :func:`ensemble_kernel`). Arrays are read-only.
    """
    metal = _check_metal(metal)
    axis = np.atleast_1d(np.asarray(wavelengths_nm, dtype=float))
    if axis.ndim != 1 or axis.size == 0 or not np.all(np.isfinite(axis) & (axis > 0)):
        raise ValueError("wavelengths_nm: expected a non-empty 1-D sequence of wavelengths in nm")
    if not (0 < d_min_nm < d_max_nm):
        raise ValueError("expected 0 < d_min_nm < d_max_nm")
    n_medium = float(n_medium)
    if not (np.isfinite(n_medium) and n_medium > 0):
        raise ValueError(f"n_medium: expected a real index > 0, got {n_medium!r}")
    if isinstance(exclude, str):
        exclude = (exclude,)
    known = set_names(metal)
    unknown = [e for e in exclude if e not in known]
    if unknown:
        raise ValueError(
            f"exclude: no set {', '.join(map(repr, unknown))} for {metal}; expected some of "
            f"{', '.join(known)}"
        )
    keep = tuple(s for s in known if s not in set(exclude))
    memo_key = (
        metal,
        axis.tobytes(),
        n_medium,
        float(d_min_nm),
        float(d_max_nm),
        keep,
        use_cache and str(cache_dir()),
    )
    if memo_key in _MEMBERS_MEMO:
        return list(_MEMBERS_MEMO[memo_key])
    u_nodes = _node_lattice(d_min_nm, d_max_nm)
    u_fine = _lattice(d_min_nm, d_max_nm, _FINE_STEP)
    d_fine = np.exp(u_fine)
    out: list[tuple[str, np.ndarray]] = []
    for set_name in keep:
        for a in DAMPING_A:
            grid, sigma_nodes = _member_nodes_nm2(metal, set_name, a, n_medium, u_nodes, use_cache)
            inside = (axis >= grid[0]) & (axis <= grid[-1])
            sigma = np.full((axis.size, d_fine.size), np.nan)
            if inside.any():
                ln_sigma = CubicSpline(grid, np.log(sigma_nodes), axis=0)(axis[inside])
                spline = CubicSpline(u_nodes, ln_sigma - 3.0 * u_nodes, axis=1)
                sigma[inside] = np.exp(spline(u_fine)) * d_fine**3
            sigma.setflags(write=False)
            out.append((member_name(set_name, a), sigma))
    if len(_MEMBERS_MEMO) > 4:
        _MEMBERS_MEMO.clear()
    _MEMBERS_MEMO[memo_key] = out
    return list(out)
