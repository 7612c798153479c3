"""Tests of the Gans-theory forward model of gold rods."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

import synthwatch.collectors.sim.gans as gans
from synthwatch.collectors.sim import optics
from synthwatch.collectors.sim.gans import (
    depolarization_factors,
    gans_extinction_nm2,
    longitudinal_peak_nm,
    spheroid_volume_nm3,
)

WL = np.arange(400.0, 1100.5, 0.5)


def _peak_nm(y, wl=WL):
    return float(wl[int(np.argmax(y))])


def test_depolarization_factors_sphere_and_limits():
    pl, pt = depolarization_factors([1.0, 1.0 + 1e-6, 1.2, 3.0, 30.0])
    assert pl[0] == pytest.approx(1.0 / 3.0, abs=1e-15)
    assert pl[1] == pytest.approx(1.0 / 3.0, abs=1e-6)
    np.testing.assert_allclose(pl + 2.0 * pt, 1.0)  # sum rule
    assert np.all(np.diff(pl) < 0) and pl[-1] < 0.01
    # the series (used for e < 0.05) agrees with the closed form there
    for e in (0.0499, 0.02):
        closed = (1 - e * e) / (e * e) * (np.arctanh(e) / e - 1.0)
        got = depolarization_factors(1.0 / np.sqrt(1.0 - e * e))[0]
        assert got == pytest.approx(closed, rel=1e-9)


def test_depolarization_factor_of_r3_matches_closed_form():
    e = np.sqrt(1.0 - 1.0 / 9.0)
    expected = (1 - e * e) / (e * e) * (1.0 / (2 * e) * np.log((1 + e) / (1 - e)) - 1.0)
    assert depolarization_factors(3.0)[0] == pytest.approx(expected, rel=1e-12)


def test_oblate_ratios_are_refused():
    with pytest.raises(ValueError):
        depolarization_factors(0.9)


@pytest.mark.parametrize("width", [5.0, 10.0, 20.0])
def test_r_to_1_gives_the_quasistatic_sphere(width):
    qs = optics.quasistatic_extinction_nm2("Au", WL, width)
    for r in (1.0, 1.0 + 1e-4):
        np.testing.assert_allclose(gans_extinction_nm2("Au", WL, r, width), qs, rtol=0.01)
    np.testing.assert_allclose(gans_extinction_nm2("Au", WL, 1.0, width), qs, rtol=1e-12)


def test_silver_sphere_limit_too():
    wl = np.arange(300.0, 700.0, 1.0)
    qs = optics.quasistatic_extinction_nm2("Ag", wl, 10.0)
    np.testing.assert_allclose(gans_extinction_nm2("Ag", wl, 1.0, 10.0), qs, rtol=1e-12)


def test_longitudinal_peak_red_shifts_monotonically_with_aspect_ratio():
    ratios = [1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0]
    peaks = [longitudinal_peak_nm("Au", r, 10.0) for r in ratios]
    assert np.all(np.diff(peaks) > 0)
    # measured: R = 2 -> 588 nm, 3 -> 672 nm, 4 -> 768 nm (gold, water, 10 nm wide)
    assert 570.0 <= peaks[1] <= 610.0
    assert 650.0 <= peaks[3] <= 700.0
    assert 745.0 <= peaks[5] <= 800.0


@pytest.mark.parametrize("r", [2.0, 3.0, 4.0])
def test_transverse_band_stays_near_510_to_520nm(r):
    _, trans = gans_extinction_nm2("Au", WL, r, 10.0, components=True)
    assert 505.0 <= _peak_nm(trans) <= 520.0


def test_components_add_up_and_shapes():
    s = gans_extinction_nm2("Au", WL, [2.0, 3.0], 10.0)
    lo, tr = gans_extinction_nm2("Au", WL, [2.0, 3.0], 10.0, components=True)
    assert s.shape == lo.shape == tr.shape == (WL.size, 2)
    np.testing.assert_allclose(lo + tr, s)
    assert gans_extinction_nm2("Au", WL, 3.0, 10.0).shape == (WL.size,)


def test_cross_section_scales_with_volume_and_is_larger_for_rods():
    # quasi-static: sigma / V depends on the shape and eps only; eps depends on d_eff
    a = gans_extinction_nm2("Au", WL, 3.0, 10.0, d_eff_nm=10.0)
    b = gans_extinction_nm2("Au", WL, 3.0, 20.0, d_eff_nm=10.0)
    np.testing.assert_allclose(b / a, 8.0)
    assert spheroid_volume_nm3(10.0, 3.0) == pytest.approx(np.pi / 6 * 100 * 30)
    # per volume, the longitudinal band of a rod is stronger than the SPR of a sphere
    rod = gans_extinction_nm2("Au", WL, 3.0, 10.0).max() / spheroid_volume_nm3(10.0, 3.0)
    sph = gans_extinction_nm2("Au", WL, 1.0, 10.0).max() / spheroid_volume_nm3(10.0, 1.0)
    assert rod > 2.0 * sph  # measured: 2.65x


def test_smaller_effective_size_damps_the_band():
    sharp = gans_extinction_nm2("Au", WL, 3.0, 10.0, d_eff_nm=30.0)
    damped = gans_extinction_nm2("Au", WL, 3.0, 10.0, d_eff_nm=5.0)
    assert damped.max() < sharp.max()


def test_doctests_and_sources():
    result = doctest.testmod(gans, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
    for source in ("Gans", "Ann. Phys. 342", "Link", "3073", "Johnson", "Kreibig"):
        assert source in gans.__doc__, source
