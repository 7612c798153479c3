"""Tests of the scenario simulators: silver, gold rods, aggregating gold."""

from __future__ import annotations

import doctest
from itertools import islice

import numpy as np
import pytest
from scipy.signal import find_peaks

import synthwatch.collectors.sim.scenarios as scenarios
from synthwatch.collectors.sim.gold import GoldCitrateSimulator, TruthPoint, noise_free_spectrum
from synthwatch.collectors.sim.scenarios import (
    AGGREGATED_THRESHOLD,
    SCENARIOS,
    GoldAggregatingSimulator,
    GoldRodsSimulator,
    ScenarioTruthPoint,
    SilverCitrateSimulator,
    simulate,
)
from synthwatch.contract.messages import Reading, RunStart, RunStop, decode, encode

WL = np.arange(300.0, 901.0, 2.0)
SHORT = dict(duration_s=1800.0, interval_s=30.0, wavelengths_nm=WL)


@pytest.fixture(autouse=True, scope="module")
def _tmp_cache(tmp_path_factory):
    """Every kernel of this module is cached in a temporary directory, never in ~/.cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SYNTHWATCH_CACHE_DIR", str(tmp_path_factory.mktemp("swcache")))
        yield


def _at(a, nm):
    return float(a[int(np.argmin(np.abs(WL - nm)))])


# ------------------------------------------------------------------------------ silver


@pytest.mark.parametrize("d_nm, lo, hi", [(20.0, 383.0, 400.0), (40.0, 392.0, 410.0)])
def test_silver_spr_in_water(d_nm, lo, hi):
    """Measured (Mie, J&C silver, water): 387 nm at 20 nm, 399 nm at 40 nm."""
    a = noise_free_spectrum(d_nm, 1.1, number_per_ml=1e10, metal="Ag", wavelengths_nm=WL)
    assert lo <= float(WL[np.argmax(a)]) <= hi


def test_silver_run_messages_recipe_and_truth():
    sim = simulate("silver", seed=1, duration_s=3600.0, interval_s=20.0, wavelengths_nm=WL)
    assert isinstance(sim, SilverCitrateSimulator) and isinstance(sim, GoldCitrateSimulator)
    rs = sim.run_start()
    assert rs.system == "Ag-citrate" and rs.tags["scenario"] == "silver"
    assert set(rs.recipe) == {"AgNO3_mM", "T_degC", "citrate_to_Ag", "d_target_nm"}
    assert sim.run_id == "sim-ag-citrate-s1" and sim.AgNO3_mM == 0.1
    assert not hasattr(sim, "HAuCl4_mM")
    truth = sim.truth
    assert all(isinstance(p, ScenarioTruthPoint) and p.metal == "Ag" for p in truth)
    last = truth[-1]
    assert last.phase == "plateau" and last.d_mean_nm == pytest.approx(40.0, rel=0.01)
    assert last.au0_mM == pytest.approx(0.1, rel=0.01)
    a = sim.noise_free_reading(sim.n_readings - 1)
    assert 392.0 <= float(WL[np.argmax(a)]) <= 410.0 and 0.5 < a.max() < 3.0


def test_silver_mass_balance_uses_silver_constants():
    sim = SilverCitrateSimulator(seed=0, **SHORT)
    p = sim.truth[-1]
    v_particle_cm3 = np.pi / 6 * p.d_mean_nm**3 * np.exp(3 * np.log(p.gsd) ** 2) * 1e-21
    ag_mM = p.number_per_ml * v_particle_cm3 * 10.49 / 107.87 * 1e6
    assert ag_mM == pytest.approx(p.au0_mM, rel=1e-9)


# -------------------------------------------------------------------------------- rods


@pytest.fixture(scope="module")
def rods():
    return GoldRodsSimulator(seed=2, duration_s=3600.0, interval_s=30.0, wavelengths_nm=WL)


def test_rods_final_spectrum_has_two_bands(rods):
    a = rods.noise_free_reading(rods.n_readings - 1)
    peaks, _ = find_peaks(a, prominence=0.01)
    bands = WL[peaks[WL[peaks] > 450.0]]
    assert bands.size == 2
    assert 505.0 <= bands[0] <= 530.0 and 650.0 <= bands[1] <= 710.0  # measured 518, 676
    assert a[peaks][-1] > a[peaks][-2]  # 80 % rods: the longitudinal band is the stronger


def test_rods_truth_and_growth(rods):
    truth = rods.truth
    r = np.array([p.aspect_ratio_mean for p in truth])
    assert np.all(np.diff(r) >= 0) and r[0] == 1.0 and r[-1] == pytest.approx(3.0, abs=0.01)
    assert {p.rod_fraction for p in truth} == {0.8}
    last = truth[-1]
    assert last.rod_width_nm == pytest.approx(12.0, rel=0.01)
    assert last.aspect_ratio_sd == pytest.approx(0.3, rel=0.01)
    assert last.metal == "Au" and last.phase == "plateau"
    # the longitudinal band red-shifts as the rods grow longer
    pos = []
    for k in range(0, rods.n_readings, 10):
        a = rods.noise_free_reading(k)
        if truth[k].aspect_ratio_mean > 2.3:
            pos.append(float(WL[np.argmax(a * (WL > 560))]))
    assert len(pos) >= 3 and pos == sorted(pos)


def test_rods_longitudinal_band_follows_aspect_ratio():
    kw = dict(duration_s=7200.0, interval_s=3600.0, wavelengths_nm=WL, noise_au=0.0)
    pos = []
    for r in (2.5, 3.0, 4.0):
        sim = GoldRodsSimulator(seed=0, aspect_ratio_final=r, **kw)
        a = sim.noise_free_reading(sim.n_readings - 1)
        pos.append(float(WL[np.argmax(a * (WL > 560))]))
    assert pos == sorted(pos) and 740.0 <= pos[-1] <= 800.0  # measured 773 at R = 4


def test_rods_without_rods_is_a_sphere_run():
    sim = GoldRodsSimulator(
        seed=0, rod_fraction=0.0, duration_s=1800.0, interval_s=900.0, wavelengths_nm=WL
    )
    a = sim.noise_free_reading(sim.n_readings - 1)
    assert 515.0 <= float(WL[np.argmax(a)]) <= 530.0 and _at(a, 700.0) < 0.2 * a.max()


# --------------------------------------------------------------------------- aggregation


@pytest.fixture(scope="module")
def agg():
    return GoldAggregatingSimulator(seed=5, duration_s=7200.0, interval_s=60.0, wavelengths_nm=WL)


def test_aggregation_grows_a_red_tail_after_onset_and_truth_marks_it(agg):
    truth = agg.truth
    onset = agg.aggregation_["onset_s"]
    t_s = np.arange(agg.n_readings) * agg.interval_s
    ratio = []
    for k in range(agg.n_readings):
        a = agg.noise_free_reading(k)
        spr = a[(WL >= 480) & (WL <= 560)].max() if truth[k].number_per_ml > 0 else np.nan
        ratio.append(_at(a, 700.0) / spr if spr > 0.05 else np.nan)
    ratio = np.array(ratio)
    frac = np.array([p.aggregated_fraction for p in truth])
    flag = np.array([p.aggregated for p in truth])
    before, after = t_s < onset, t_s > onset
    assert np.all(frac[before] == 0) and not flag[before].any()
    assert np.all(np.diff(frac[after]) >= 0) and frac[-1] == pytest.approx(0.6, abs=0.05)
    np.testing.assert_array_equal(flag, frac > AGGREGATED_THRESHOLD)
    late_before = ratio[before][-5:]
    assert np.all(late_before < 0.06)  # measured ~0.04 for 15 nm spheres
    assert np.all(np.diff(ratio[after]) > 0) and ratio[-1] > 0.25  # measured ~0.37
    # the primary SPR drops as particles go into clusters
    a0, a1 = (
        agg.noise_free_reading(int(onset // 60) - 1),
        agg.noise_free_reading(agg.n_readings - 1),
    )
    assert _at(a1, 520.0) < 0.9 * _at(a0, 520.0)
    d_c = [p.cluster_d_mean_nm for p in truth]
    assert np.isnan(d_c[0]) and 60.0 <= d_c[-1] <= 120.0


def test_aggregation_onset_can_be_set():
    sim = GoldAggregatingSimulator(seed=0, onset_s=900.0, **SHORT)
    assert abs(sim.aggregation_["onset_s"] - 900.0) <= 0.1 * sim.duration_s + 1e-9
    assert sim.truth[-1].aggregated


# ------------------------------------------------------------------------ shared API


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_reproducible_round_trip_and_lazy(name):
    kw = dict(SHORT, p_saturated=0.02, p_dropout=0.02)
    if name == "gold-aggregating":
        kw["onset_s"] = 900.0
    a = [encode(m) for m in simulate(name, seed=7, **kw).messages()]
    b = [encode(m) for m in simulate(name, seed=7, **kw).messages()]
    c = [encode(m) for m in simulate(name, seed=8, **kw).messages()]
    assert a == b and a != c
    msgs = [decode(x) for x in a]
    assert isinstance(msgs[0], RunStart) and isinstance(msgs[-1], RunStop)
    assert [encode(m) for m in msgs] == a
    readings = [m for m in msgs if isinstance(m, Reading)]
    sim = simulate(name, seed=7, **kw)
    assert len(readings) == sim.n_readings == len(sim.truth)
    assert [r.seq for r in readings] == list(range(sim.n_readings))
    assert len(list(islice(sim.messages(), 3))) == 3
    assert all(isinstance(p, TruthPoint) for p in sim.truth)


def test_unknown_scenario_is_refused():
    with pytest.raises(ValueError, match="scenario"):
        simulate("platinum", seed=0)


@pytest.mark.parametrize(
    "cls, kw",
    [
        (GoldRodsSimulator, {"aspect_ratio_final": 0.5}),
        (GoldRodsSimulator, {"rod_fraction": 1.5}),
        (GoldAggregatingSimulator, {"aggregated_fraction_max": 2.0}),
        (GoldAggregatingSimulator, {"cluster_d_final_nm": 500.0}),
    ],
)
def test_bad_arguments_are_refused(cls, kw):
    with pytest.raises(ValueError):
        cls(seed=0, wavelengths_nm=WL, **kw)


def test_doctests_and_sources():
    result = doctest.testmod(scenarios, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
    for source in ("Lee", "Meisel", "Gans", "Link", "Ghosh", "4797", "Nikoobakht"):
        assert source in scenarios.__doc__, source
