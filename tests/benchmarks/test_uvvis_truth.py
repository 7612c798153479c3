"""The independent UV-Vis test set (benchmarks/uvvis_truth.py): its Mie code, constants and draws.

Fast: the cases here use a short axis and a coarse cross-section table (the benchmark's tables
take minutes to build); the accuracy of the production table is measured in the module's doc.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pymiecs", reason="the benchmark's independent Mie code: pip install pymiecs")

TRUTH = Path(__file__).resolve().parents[2] / "benchmarks" / "uvvis_truth.py"


def _load():
    if "uvvis_truth" in sys.modules:
        return sys.modules["uvvis_truth"]
    spec = importlib.util.spec_from_file_location("uvvis_truth", TRUTH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["uvvis_truth"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def truth(monkeypatch):
    """The module with a coarse table (5-nm grid, few nodes: about a second per set) and a test
    axis at 2.5 nm, half of it between the grid's points."""
    t = _load()
    monkeypatch.setattr(t, "TABLE_WAVELENGTHS_NM", np.arange(300.0, 901.0, 5.0))
    monkeypatch.setitem(t.AXES, "test", np.arange(300.0, 901.0, 2.5))
    monkeypatch.setattr(t, "TABLE_LN_D_STEP", 0.12)
    monkeypatch.setattr(t, "TABLE_LN_D_STEP_LARGE", 0.06)
    monkeypatch.setattr(t, "TABLE_N_A", 5)
    monkeypatch.setattr(t, "WORKERS", 1)
    return t


def test_pymiecs_agrees_with_miepython():
    import miepython

    t = _load()
    wl = np.array([400.0, 520.0, 650.0, 800.0])
    for metal, d in (("Au", 40.0), ("Ag", 80.0)):
        sigma = t.mie_sigma_ext_nm2(metal, "Johnson", wl, d, 1.0)
        m = np.sqrt(t.dielectric_function(metal, "Johnson", wl, d, 1.0))
        qext = miepython.efficiencies(np.conj(m), d, wl, t.N_MEDIUM)[0]  # miepython: n - ik
        ref = np.asarray(qext) * np.pi * d * d / 4.0
        np.testing.assert_allclose(sigma, ref, rtol=1e-6)


def test_linear_interpolation_of_the_table():
    t = _load()
    wl, n, k = t.optical_constants("Au", "Johnson")
    assert wl.size == 49 and 187.0 < wl[0] < 189.0  # Johnson & Christy's 49 points
    i = 20
    nk = t.refractive_index("Au", "Johnson", wl[i : i + 2])
    np.testing.assert_allclose(nk, n[i : i + 2] + 1j * k[i : i + 2], rtol=0, atol=1e-12)
    mid = t.refractive_index("Au", "Johnson", [0.5 * (wl[i] + wl[i + 1])])[0]
    assert mid == pytest.approx(0.5 * (n[i] + n[i + 1]) + 0.5j * (k[i] + k[i + 1]), abs=1e-12)


def test_every_member_is_read_and_covers_300_to_1000_nm():
    t = _load()
    for metal, members in t.MEMBERS.items():
        for member in members:
            wl, n, k = t.optical_constants(metal, member)
            assert np.all(np.diff(wl) > 0) and np.all(k[(wl > 300) & (wl < 1000)] > 0)
            assert t.covered(metal, member, [300.0, 1000.0]).all(), (metal, member)
    assert not t.covered("Au", "McPeak", [250.0])[0]  # McPeak starts at 300 nm


def test_bulk_damping_correction_vanishes_for_huge_spheres():
    t = _load()
    wl = [450.0, 600.0]
    bulk = t.dielectric_function("Au", "McPeak", wl, None)
    big = t.dielectric_function("Au", "McPeak", wl, 1e7, 1.0)
    small = t.dielectric_function("Au", "McPeak", wl, 5.0, 1.0)
    np.testing.assert_allclose(big, bulk, rtol=1e-6)
    assert np.all(small.imag > bulk.imag)  # surface scattering adds loss


def test_cases_are_deterministic(truth):
    a = truth.make_case("Au", "McPeak", "test", seed=123)
    b = truth.make_case("Au", "McPeak", "test", seed=123)
    c = truth.make_case("Au", "McPeak", "test", seed=124)
    np.testing.assert_array_equal(a.absorbance, b.absorbance)
    assert (a.d_mean_nm, a.gsd, a.number_per_ml, a.damping_a) == (
        b.d_mean_nm,
        b.gsd,
        b.number_per_ml,
        b.damping_a,
    )
    assert not np.array_equal(a.absorbance, c.absorbance)
    assert 5.0 <= a.d_mean_nm <= 100.0 and 1.05 <= a.gsd <= 1.35 and 0.5 <= a.damping_a <= 1.5


def test_make_cases_takes_the_members_in_turn(truth, monkeypatch):
    with monkeypatch.context() as mp:  # the arguments of each case, without building it
        mp.setattr(truth, "make_case", lambda *args: args)
        cases = truth.make_cases("Au", "test", n_per_member=2, seed=7)
        again = truth.make_cases("Au", "test", n_per_member=2, seed=7)
        other = truth.make_cases("Au", "test", n_per_member=2, seed=8)
    members = truth.MEMBERS["Au"]
    assert [c[1] for c in cases] == [m for m in members for _ in range(2)]
    assert cases == again and len({c[3] for c in cases + other}) == 4 * len(members)
    rebuilt = truth.make_case(*cases[4])  # a case is its seed: McPeak's first
    assert rebuilt.member == "McPeak" and rebuilt.seed == cases[4][3]


def _replayed_noise_and_baseline(truth, case):
    """The noise and baseline of a case, replaying make_case's draws from its seed."""
    rng = np.random.default_rng(case.seed)
    rng.uniform(), rng.uniform(), rng.uniform()  # d_mean, gsd, A
    peak = rng.uniform(*truth.PEAK_AU_RANGE)
    drift = rng.uniform() < truth.DRIFT_FRACTION
    offset = rng.uniform(-truth.DRIFT_OFFSET_AU, truth.DRIFT_OFFSET_AU)
    slope = rng.uniform(-truth.DRIFT_SLOPE_AU, truth.DRIFT_SLOPE_AU)
    noise = rng.normal(0.0, truth.NOISE_REL * peak, case.wavelengths_nm.size)
    wl = case.wavelengths_nm
    baseline = offset + slope * ((wl - wl[0]) / (wl[-1] - wl[0]) - 0.5) if drift else 0.0
    assert drift == case.drift
    return noise, baseline, peak


def test_truth_reproduces_the_spectrum(truth):
    """d_mean, gsd, N and A of a case give its spectrum again, with exact Mie at every node."""
    for seed in (3, 1, 4):  # d_mean 6.5, 23 and 84 nm
        case = truth.make_case("Au", "McPeak", "test", seed)
        noise, baseline, _ = _replayed_noise_and_baseline(truth, case)
        exact = truth.exact_clean_spectrum(case)
        clean = case.absorbance - noise - baseline
        np.testing.assert_allclose(truth.clean_spectrum(case), clean, rtol=1e-9, atol=1e-12)
        # the coarse test table against exact Mie at the 48 quadrature nodes: on the table's
        # 5-nm grid, then between (interpolated between McPeak's tabulated wavelengths, where
        # the linearly interpolated n, k have kinks)
        on_grid = np.isin(case.wavelengths_nm, truth.TABLE_WAVELENGTHS_NM)
        assert on_grid.sum() == 121
        np.testing.assert_allclose(clean[on_grid], exact[on_grid], rtol=5e-4)
        np.testing.assert_allclose(clean, exact, rtol=2e-3)


def test_peak_absorbance_in_range_and_noise_is_one_percent_of_it(truth):
    resid = []
    for seed in range(8):
        case = truth.make_case("Au", "McPeak", "test", seed)
        clean = truth.clean_spectrum(case)
        noise, baseline, peak = _replayed_noise_and_baseline(truth, case)
        assert clean.max() == pytest.approx(peak, rel=1e-12)
        assert 0.3 <= clean.max() <= 1.2
        resid.append((case.absorbance - clean - baseline) / clean.max())
    r = np.concatenate(resid)
    assert abs(r.std() - 0.01) < 0.0008 and abs(r.mean()) < 0.001


def test_drift_is_a_few_mau_on_about_a_quarter(truth):
    drift = [truth.make_case("Au", "McPeak", "test", s).drift for s in range(40)]
    assert 4 <= sum(drift) <= 18


def test_recipe_is_one_member_one_damping_and_close_sizes(truth):
    cases = truth.make_recipe("Au", "McPeak", 30.0, n_spectra=5, seed=1, axis_name="test")
    assert {c.member for c in cases} == {"McPeak"} and len({c.damping_a for c in cases}) == 1
    assert all(27.0 <= c.d_mean_nm <= 33.0 for c in cases)
    gsd = [c.gsd for c in cases]
    assert max(gsd) - min(gsd) <= 0.06
    again = truth.make_recipe("Au", "McPeak", 30.0, n_spectra=5, seed=1, axis_name="test")
    np.testing.assert_array_equal(cases[4].absorbance, again[4].absorbance)


def test_wavelengths_outside_a_set_take_the_nearest_value(truth):
    wl = np.arange(280.0, 340.0, 5.0)
    inside = wl >= 300.0
    sigma = truth.mean_sigma_ext_nm2("Au", "McPeak", wl, 20.0, 1.2, 1.0)
    assert np.all(sigma[~inside] == sigma[inside][0])
    exact = truth.exact_mean_sigma_ext_nm2("Au", "McPeak", wl, 20.0, 1.2, 1.0)
    assert np.all(exact[~inside] == exact[inside][0])
