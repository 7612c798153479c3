"""Tests of the simulation-side optics: Johnson & Christy data, size correction, Mie kernel."""

from __future__ import annotations

import ast
import doctest
import math
from pathlib import Path

import miepython
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import synthwatch.collectors.sim.optics as optics

WL_VIS_NM = np.arange(400.0, 701.0, 1.0)


@pytest.fixture(autouse=True, scope="module")
def _tmp_cache(tmp_path_factory):
    """Every kernel of this module is cached in a temporary directory, never in ~/.cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SYNTHWATCH_CACHE_DIR", str(tmp_path_factory.mktemp("swcache")))
        yield


def _peak_nm(wl, sigma):
    return float(wl[int(np.argmax(sigma))])


# ----------------------------------------------------------------------------- data


@pytest.mark.parametrize("metal", optics.METALS)
def test_johnson_christy_table_loads_from_package_data(metal):
    wl, n, k = optics.optical_table(metal)
    assert wl.size == 49
    assert 187 < wl[0] < 189 and 1936 < wl[-1] < 1938
    assert np.all(np.diff(wl) > 0) and np.all(n > 0) and np.all(k > 0)


def test_interpolation_goes_through_the_table():
    wl, n, k = optics.optical_table("Au")
    inside = (wl >= 300) & (wl <= 900)
    nk = optics.bulk_refractive_index("Au", wl[inside])
    np.testing.assert_allclose(nk.real, n[inside], rtol=1e-12)
    np.testing.assert_allclose(nk.imag, k[inside], rtol=1e-12)


@pytest.mark.parametrize("bad", [[150.0, 500.0], [500.0, 2500.0], [np.nan], []])
def test_wavelengths_outside_the_table_are_refused(bad):
    with pytest.raises(ValueError, match="wavelengths_nm"):
        optics.bulk_refractive_index("Au", bad)


def test_unknown_metal_is_refused():
    with pytest.raises(ValueError, match="metal"):
        optics.dielectric_function("Cu", [500.0])


# ------------------------------------------------------------------- size correction


def test_drude_constants_are_the_literature_values():
    au, ag = optics.DRUDE["Au"], optics.DRUDE["Ag"]
    assert au.omega_p_rad_per_s == pytest.approx(1.37e16, rel=0.01)
    assert ag.omega_p_rad_per_s == pytest.approx(1.37e16, rel=0.01)
    assert au.gamma_bulk_per_s == pytest.approx(4.05e13, rel=0.01)
    assert ag.gamma_bulk_per_s == pytest.approx(2.73e13, rel=0.01)
    assert au.v_fermi_m_per_s == 1.40e6 and ag.v_fermi_m_per_s == 1.39e6
    assert au.A_damping == ag.A_damping == 1.0
    # Haiss et al. (2007) quote a bulk mean free path of about 42 nm for gold
    assert 30 < au.mean_free_path_nm < 45


def test_damping_rate_grows_as_particles_shrink():
    g = optics.damping_rate_per_s("Au", [2.0, 5.0, 20.0, 100.0])
    assert np.all(np.diff(g) < 0)
    # 20 nm: gamma_bulk + v_F / 10 nm
    assert g[2] == pytest.approx(4.05e13 + 1.40e6 / 10e-9, rel=0.01)


@settings(max_examples=40, deadline=None)
@given(wl=st.floats(300.0, 1500.0), d=st.floats(1.0, 60.0))
def test_size_correction_adds_absorption_and_vanishes_for_large_spheres(wl, d):
    bulk = optics.dielectric_function("Au", [wl])[0]
    small = optics.dielectric_function("Au", [wl], d)[0]
    huge = optics.dielectric_function("Au", [wl], 1e7)[0]
    assert small.imag > bulk.imag  # more damping, more absorption
    assert huge == pytest.approx(bulk, rel=1e-6, abs=1e-9)


def test_dielectric_function_shapes():
    assert optics.dielectric_function("Au", WL_VIS_NM).shape == (301,)
    assert optics.dielectric_function("Au", WL_VIS_NM, 10.0).shape == (301,)
    assert optics.dielectric_function("Au", WL_VIS_NM, [5.0, 10.0]).shape == (301, 2)


# ----------------------------------------------------------------------------- Mie


def test_miepython_takes_vacuum_wavelength_and_absolute_index():
    """efficiencies(m, d, lambda0, n_env) == efficiencies_mx(m / n_env, pi d n_env / lambda0)."""
    m, d, lam, n_env = 0.47 - 2.4j, 40.0, 520.0, 1.333
    q = miepython.efficiencies(m, d, lam, n_env)[0]
    q_mx = miepython.efficiencies_mx(m / n_env, math.pi * d * n_env / lam)[0]
    assert q == pytest.approx(q_mx, rel=1e-12)
    # and not the medium wavelength / relative index by mistake
    assert q != pytest.approx(miepython.efficiencies(m, d, lam / n_env, n_env)[0], rel=1e-3)


@pytest.mark.parametrize("metal", optics.METALS)
def test_mie_kernel_matches_the_quasistatic_limit_for_5nm(metal):
    wl = np.arange(350.0, 801.0, 5.0)
    mie = optics.extinction_kernel_nm2(metal, wl, [5.0])[:, 0]
    qs = optics.quasistatic_extinction_nm2(metal, wl, 5.0)
    np.testing.assert_allclose(mie, qs, rtol=0.02)


def test_gold_20nm_spr_peak_in_water_is_518_to_524nm():
    """Acceptance criterion: the plasmon peak of 20 nm gold in water (n = 1.333)."""
    sigma = optics.extinction_kernel_nm2("Au", WL_VIS_NM, [20.0], n_medium=1.333)[:, 0]
    assert 518.0 <= _peak_nm(WL_VIS_NM, sigma) <= 524.0


def test_gold_peak_red_shifts_with_size_and_with_the_medium():
    sigma = optics.extinction_kernel_nm2("Au", WL_VIS_NM, [20.0, 40.0, 60.0, 80.0])
    peaks = [_peak_nm(WL_VIS_NM, sigma[:, j]) for j in range(4)]
    assert peaks == sorted(peaks) and peaks[-1] - peaks[0] > 20
    assert 540 <= peaks[-1] <= 560  # 80 nm: about 550 nm (Haiss et al. 2007, eq. 11)
    in_glass = optics.extinction_kernel_nm2("Au", WL_VIS_NM, [20.0], n_medium=1.5)[:, 0]
    assert _peak_nm(WL_VIS_NM, in_glass) > peaks[0] + 5


def test_silver_20nm_peak_is_near_400nm():
    wl = np.arange(330.0, 501.0, 1.0)
    sigma = optics.extinction_kernel_nm2("Ag", wl, [20.0])[:, 0]
    assert 380.0 <= _peak_nm(wl, sigma) <= 410.0


def test_size_correction_damps_the_plasmon_of_small_particles():
    with_corr = optics.extinction_kernel_nm2("Au", WL_VIS_NM, [5.0])[:, 0]
    bulk = optics.extinction_kernel_nm2("Au", WL_VIS_NM, [5.0], size_correction=False)[:, 0]
    assert with_corr.max() < 0.9 * bulk.max()


def test_kernel_shape_and_validation():
    k = optics.extinction_kernel_nm2("Au", [400.0, 500.0, 600.0], [10.0, 20.0])
    assert k.shape == (3, 2) and np.all(k > 0)
    with pytest.raises(ValueError, match="diameters_nm"):
        optics.extinction_kernel_nm2("Au", [500.0], [0.0])
    with pytest.raises(ValueError, match="n_medium"):
        optics.extinction_kernel_nm2("Au", [500.0], [10.0], n_medium=-1.0)


# ----------------------------------------------------------------------------- cache


def test_kernel_is_cached_on_disk_under_the_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHWATCH_CACHE_DIR", str(tmp_path))
    wl, d = np.arange(450.0, 551.0, 10.0), [7.0, 30.0]
    first = optics.extinction_kernel_nm2("Au", wl, d)
    files = list((tmp_path / "optics").glob("*.npy"))
    assert len(files) == 1

    def boom(*args, **kwargs):
        raise AssertionError("the cached kernel should have been used")

    monkeypatch.setattr(optics, "_mie_kernel_nm2", boom)
    np.testing.assert_array_equal(optics.extinction_kernel_nm2("Au", wl, d), first)
    with pytest.raises(AssertionError):  # other inputs, other key
        optics.extinction_kernel_nm2("Au", wl, d, n_medium=1.4)


def test_a_corrupt_cache_entry_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHWATCH_CACHE_DIR", str(tmp_path))
    wl, d = np.arange(450.0, 551.0, 10.0), [9.0]
    first = optics.extinction_kernel_nm2("Au", wl, d)
    (path,) = (tmp_path / "optics").glob("*.npy")
    path.write_bytes(b"not a numpy file")
    np.testing.assert_array_equal(optics.extinction_kernel_nm2("Au", wl, d), first)


def test_an_unwritable_cache_is_not_an_error(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory should be")
    monkeypatch.setenv("SYNTHWATCH_CACHE_DIR", str(blocker))
    k = optics.extinction_kernel_nm2("Au", [500.0, 520.0], [10.0])
    assert k.shape == (2, 1)


def test_cache_dir_default_is_under_home(monkeypatch):
    monkeypatch.delenv("SYNTHWATCH_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert optics.cache_dir() == Path.home() / ".cache" / "synthwatch"


# ------------------------------------------------------------------- size ensembles


@pytest.fixture(scope="module")
def kernel_vis():
    return optics.ensemble_kernel("Au", np.arange(400.0, 701.0, 3.0))


def test_ensemble_kernel_interpolation_matches_exact_mie(kernel_vis):
    wl = kernel_vis.wavelengths_nm
    d = np.array([1.3, 3.7, 13.3, 33.0, 77.0, 150.0])  # between the nodes
    exact = optics.extinction_kernel_nm2("Au", wl, d)
    interp = kernel_vis.mean_sigma_ext_nm2(d, np.ones_like(d))
    np.testing.assert_allclose(interp, exact, rtol=2e-3)


def test_ensemble_kernel_does_not_freeze_the_callers_array():
    wl = np.arange(450.0, 551.0, 10.0)
    optics.ensemble_kernel("Au", wl, d_min_nm=5.0, d_max_nm=20.0)
    wl[0] = 451.0  # still writable


@settings(max_examples=60, deadline=None)
@given(d_mean=st.floats(1.5, 100.0), gsd=st.floats(1.0, 1.5))
def test_lognormal_weights_are_normalised_and_have_the_right_mean(kernel_vis, d_mean, gsd):
    assume(kernel_vis.covers(d_mean, gsd))  # inside the 0.5-300 nm grid to 5 sd
    w = kernel_vis.weights(d_mean, gsd)[:, 0]
    d = kernel_vis.diameters_nm
    assert np.all(w >= 0)
    assert w.sum() == pytest.approx(1.0, abs=1e-6)
    # hat weights are exact for functions linear in ln d, and very close for d itself
    mu = math.log(d_mean) - 0.5 * math.log(gsd) ** 2
    assert (w * np.log(d)).sum() == pytest.approx(mu, abs=1e-5)  # 5 sd tails cut off
    assert (w * d).sum() == pytest.approx(d_mean, rel=1e-4)


def test_a_single_size_falls_between_two_grid_points(kernel_vis):
    w = kernel_vis.weights(20.0, 1.0)[:, 0]
    assert np.count_nonzero(w) <= 2 and w.sum() == pytest.approx(1.0)


# ----------------------------------------------------------------------- docs, imports


def test_doctests():
    result = doctest.testmod(optics, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_every_model_names_its_source():
    doc = optics.__doc__
    for source in (
        "Johnson",
        "Christy",
        "Kreibig",
        "Vollmer",
        "Haiss",
        "4215",
        "Ordal",
        "Ashcroft",
        "Bohren",
        "Huffman",
    ):
        assert source in doc, source
    for fn in (
        optics.dielectric_function,
        optics.damping_rate_per_s,
        optics.quasistatic_extinction_nm2,
        optics.DrudeConstants,
    ):
        assert any(name in fn.__doc__ for name in ("Kreibig", "Ordal", "Bohren")), fn


@pytest.mark.parametrize("module", ["optics.py", "gold.py", "run.py"])
def test_collectors_import_only_the_contract_from_synthwatch(module):
    path = Path(optics.__file__).with_name(module)
    allowed_synthwatch = {
        "synthwatch.contract.messages",
        "synthwatch.collectors.sim.optics",
        "synthwatch.collectors.sim.run",
        "synthwatch.collectors.sim.constants",
    }
    allowed_top = {"numpy", "scipy", "miepython", "__future__"}
    import sys

    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        for name in names:
            top = name.split(".")[0]
            if top == "synthwatch":
                assert name in allowed_synthwatch, name
            else:
                assert top in allowed_top or top in sys.stdlib_module_names, name
