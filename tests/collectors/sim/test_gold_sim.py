"""Tests of the citrate gold synthesis simulator."""

from __future__ import annotations

import doctest
import math
import time
from datetime import datetime, timedelta, timezone
from itertools import islice

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import synthwatch.collectors.sim.gold as gold_sim
from synthwatch.collectors.sim.gold import (
    PHASES,
    GoldCitrateSimulator,
    TruthPoint,
    au0_mM_from_number,
    noise_free_spectrum,
    number_per_ml_from_au0,
)
from synthwatch.contract.messages import Descriptor, Reading, RunStart, RunStop, decode, encode

WL = gold_sim.DEFAULT_WAVELENGTHS_NM
COARSE_WL = np.arange(350.0, 801.0, 5.0)


@pytest.fixture(autouse=True, scope="module")
def _tmp_cache(tmp_path_factory):
    """Every kernel of this module is cached in a temporary directory, never in ~/.cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SYNTHWATCH_CACHE_DIR", str(tmp_path_factory.mktemp("swcache")))
        yield


@pytest.fixture(scope="module")
def default_sim():
    """The default two-hour run (the kernel on the default axis is built once here)."""
    return GoldCitrateSimulator(seed=0)


@pytest.fixture(scope="module")
def short_msgs():
    sim = GoldCitrateSimulator(
        seed=3, duration_s=1800.0, interval_s=5.0, p_saturated=0.03, p_dropout=0.03
    )
    return sim, list(sim.messages())


def _peak_nm(a):
    return float(WL[int(np.argmax(a))])


# ----------------------------------------------------------------- spectra (noise-free)


@pytest.mark.parametrize("gsd", [1.0, 1.1])
def test_gold_20nm_spr_peak_in_water_is_518_to_524nm(gsd):
    """Acceptance criterion: noise-free 20 nm gold in water peaks at 518-524 nm."""
    a = noise_free_spectrum(20.0, gsd, au0_mM=0.25)
    assert 518.0 <= _peak_nm(a) <= 524.0


def test_spr_peak_red_shifts_with_size():
    peaks = [_peak_nm(noise_free_spectrum(d, 1.0, au0_mM=0.25)) for d in (10, 20, 40, 80)]
    assert peaks == sorted(peaks)
    assert peaks[2] > peaks[1] and 540.0 <= peaks[3] <= 560.0


def test_silver_20nm_peak_near_400nm():
    wl = np.arange(330.0, 501.0, 1.0)
    a = noise_free_spectrum(20.0, 1.0, number_per_ml=1e11, metal="Ag", wavelengths_nm=wl)
    assert 380.0 <= float(wl[np.argmax(a)]) <= 410.0


def test_extinction_coefficient_at_400nm_matches_hendel_2014():
    """0.25 mM Au(0) as 15 nm spheres: A_400 about 0.6 at 1 cm (2.4 /mM/cm, Hendel et al.)."""
    a = noise_free_spectrum(15.0, 1.1, au0_mM=0.25)
    a400 = a[WL == 400.0][0]
    assert 0.5 <= a400 <= 0.7
    assert 2.0 <= a400 / 0.25 <= 2.8


def test_plateau_absorbance_at_400nm(default_sim):
    last = default_sim.truth[-1]
    assert last.phase == "plateau" and last.d_mean_nm == pytest.approx(15.0, rel=1e-3)
    a400 = default_sim.noise_free_reading(last.seq)[WL == 400.0][0]
    assert 0.5 <= a400 <= 0.7


def test_noise_free_spectrum_scales_with_amount_and_path():
    a = noise_free_spectrum(20.0, 1.1, au0_mM=0.25, wavelengths_nm=COARSE_WL)
    b = noise_free_spectrum(20.0, 1.1, au0_mM=0.5, wavelengths_nm=COARSE_WL)
    c = noise_free_spectrum(20.0, 1.1, au0_mM=0.25, wavelengths_nm=COARSE_WL, path_length_cm=0.2)
    np.testing.assert_allclose(b, 2 * a, rtol=1e-12)
    np.testing.assert_allclose(c, 0.2 * a, rtol=1e-12)
    n = float(number_per_ml_from_au0(0.25, 20.0, 1.1))
    np.testing.assert_allclose(
        noise_free_spectrum(20.0, 1.1, number_per_ml=n, wavelengths_nm=COARSE_WL), a, rtol=1e-12
    )


def test_noise_free_spectrum_wants_exactly_one_amount():
    with pytest.raises(ValueError, match="exactly one"):
        noise_free_spectrum(20.0, 1.1)
    with pytest.raises(ValueError, match="exactly one"):
        noise_free_spectrum(20.0, 1.1, au0_mM=0.1, number_per_ml=1e11)
    with pytest.raises(ValueError, match="size distribution"):
        noise_free_spectrum(250.0, 1.5, au0_mM=0.1)


def test_simulator_method_matches_the_module_function(default_sim):
    a = default_sim.noise_free_spectrum(40.0, 1.05, au0_mM=0.25)
    np.testing.assert_allclose(a, noise_free_spectrum(40.0, 1.05, au0_mM=0.25), rtol=1e-12)


@settings(max_examples=50, deadline=None)
@given(au0=st.floats(1e-3, 2.0), d=st.floats(2.0, 100.0), gsd=st.floats(1.0, 1.5))
def test_number_and_au0_conversions_are_inverse(au0, d, gsd):
    n = number_per_ml_from_au0(au0, d, gsd)
    assert float(au0_mM_from_number(n, d, gsd)) == pytest.approx(au0, rel=1e-12)


def test_number_concentration_of_15nm_gold():
    # 0.25 mM Au in 15 nm spheres: 0.25e-6 mol/mL * 196.97 g/mol / 19.3 g/cm^3 / (pi/6 (15 nm)^3)
    expected = 0.25e-6 * 196.97 / 19.3 / (math.pi / 6 * (15e-7) ** 3)
    assert float(number_per_ml_from_au0(0.25, 15.0)) == pytest.approx(expected, rel=1e-12)


# ----------------------------------------------------------------------- kinetics, truth


def test_all_phases_appear_in_order_with_sensible_time_scales(default_sim):
    truth = default_sim.truth
    assert len(truth) == 3600 and all(isinstance(p, TruthPoint) for p in truth)
    order = [PHASES.index(p.phase) for p in truth]
    assert order == sorted(order) and set(order) == {0, 1, 2, 3}
    first = {ph: next(p.seq for p in truth if p.phase == ph) * 2.0 for ph in PHASES}
    assert 60.0 <= first["nucleation"] <= 600.0  # induction: a few minutes
    assert first["plateau"] <= 45 * 60.0  # growth done within ~30-40 min
    # nucleation: many ~2-3 nm nuclei
    nuc = [p for p in truth if p.phase == "nucleation"]
    assert all(p.d_mean_nm == 2.5 and p.gsd == pytest.approx(1.3) for p in nuc)
    induction = [p for p in truth if p.phase == "induction"]
    assert all(math.isnan(p.d_mean_nm) and p.number_per_ml == 0 for p in induction)


def test_growth_is_monotone_and_focuses(default_sim):
    truth = [p for p in default_sim.truth if p.phase in ("growth", "plateau")]
    d = np.array([p.d_mean_nm for p in truth])
    gsd = np.array([p.gsd for p in truth])
    n = np.array([p.number_per_ml for p in truth])
    assert np.all(np.diff(d) >= 0) and np.all(np.diff(gsd) <= 0)
    assert gsd[0] > 1.25 and gsd[-1] == pytest.approx(1.1)
    assert np.all(n == n[0])  # no new particles after the burst


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    hau=st.floats(0.05, 1.0),
    d_final=st.floats(8.0, 40.0),
)
def test_mass_balance(seed, hau, d_final):
    sim = GoldCitrateSimulator(
        seed=seed,
        duration_s=3600.0,
        interval_s=30.0,
        HAuCl4_mM=hau,
        d_final_nm=d_final,
        wavelengths_nm=COARSE_WL,
    )
    conv = np.array([p.conversion for p in sim.truth])
    assert np.all((0 <= conv) & (conv <= 1)) and np.all(np.diff(conv) >= 0)
    for p in sim.truth:
        assert p.au0_mM <= hau * (1 + 1e-12)
        assert p.au0_mM == pytest.approx(p.conversion * hau, rel=1e-12)
        if p.number_per_ml > 0:  # particles hold exactly the reduced gold
            held = float(au0_mM_from_number(p.number_per_ml, p.d_mean_nm, p.gsd))
            assert held == pytest.approx(p.au0_mM, rel=1e-9)


# ---------------------------------------------------------------------------- messages


def test_message_sequence_and_contents(short_msgs):
    sim, msgs = short_msgs
    start, desc, *readings, stop = msgs
    assert isinstance(start, RunStart) and start.system == "Au-citrate"
    assert start.recipe["HAuCl4_mM"] == 0.25 and start.recipe["T_degC"] == 100.0
    assert "citrate_to_Au" in start.recipe
    assert isinstance(desc, Descriptor)
    assert (desc.sensor_id, desc.kind, desc.axis_units, desc.value_units) == (
        "uv1",
        "uvvis",
        "nm",
        "AU",
    )
    assert desc.axis == WL.tolist() and desc.path_length_cm == 1.0
    assert desc.expected_interval_s == 5.0 and desc.saturation_au == 3.0
    assert isinstance(stop, RunStop) and stop.status == "success"
    assert len(readings) == 360 == sim.n_readings
    for k, r in enumerate(readings):
        assert isinstance(r, Reading) and r.seq == k and r.sensor_id == "uv1"
        assert r.t == sim.start + timedelta(seconds=5.0 * k)
        assert len(r.values) == len(desc.axis) and r.flags == []
        assert r.run_id == start.run_id == stop.run_id
    assert stop.t == sim.start + timedelta(seconds=1800.0)


def test_messages_round_trip_through_the_codec(short_msgs):
    _, msgs = short_msgs
    for m in msgs:
        raw = encode(m)
        back = decode(raw)
        assert type(back) is type(m) and encode(back) == raw
    nulls = [m for m in msgs if isinstance(m, Reading) and any(math.isnan(v) for v in m.values)]
    assert nulls and b"null" in encode(nulls[0])


def test_same_seed_same_bytes_other_seed_other_bytes():
    kw = dict(duration_s=900.0, interval_s=2.0, p_saturated=0.01, p_dropout=0.01)
    a = [encode(m) for m in GoldCitrateSimulator(seed=7, **kw).messages()]
    b = [encode(m) for m in GoldCitrateSimulator(seed=7, **kw).messages()]
    c = [encode(m) for m in GoldCitrateSimulator(seed=8, **kw).messages()]
    assert a == b
    assert len(c) == len(a) and a[2:-1] != c[2:-1]
    assert GoldCitrateSimulator(seed=7).run_id != GoldCitrateSimulator(seed=8).run_id


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_reproducible_for_any_seed(seed):
    kw = dict(duration_s=120.0, interval_s=2.0, wavelengths_nm=COARSE_WL)
    first = [encode(m) for m in GoldCitrateSimulator(seed=seed, **kw).messages()]
    again = [encode(m) for m in GoldCitrateSimulator(seed=seed, **kw).messages()]
    assert first == again


def test_messages_are_lazy():
    sim = GoldCitrateSimulator(seed=0, duration_s=7 * 24 * 3600.0, interval_s=1.0)
    t0 = time.perf_counter()
    head = list(islice(sim.messages(), 3))
    assert time.perf_counter() - t0 < 1.0  # a week of readings is not built up front
    assert [type(m) for m in head] == [RunStart, Descriptor, Reading]


# ------------------------------------------------------------------ instrument effects


def test_bad_frames_are_present_marked_in_truth_and_not_flagged(short_msgs):
    sim, msgs = short_msgs
    readings = [m for m in msgs if isinstance(m, Reading)]
    truth = sim.truth
    sat = [p.seq for p in truth if p.saturated]
    drop = [p.seq for p in truth if p.dropout]
    assert sat and drop
    for p, r in zip(truth, readings):
        v = np.array(r.values)
        assert r.flags == []
        assert np.nanmax(v, initial=-np.inf) <= 3.0
        if p.dropout:
            assert np.isnan(v).sum() >= 0.3 * v.size
        else:
            assert not np.isnan(v).any()
        if p.saturated and not p.dropout:
            assert (v == 3.0).sum() >= 0.3 * v.size
        if not p.saturated and not p.dropout:
            assert v.max() < 3.0


def test_default_rates_give_a_few_bad_frames_per_hour():
    counts = []
    for seed in range(5):
        truth = GoldCitrateSimulator(seed=seed).truth  # kinetics only, no spectra
        counts.append(sum(p.saturated or p.dropout for p in truth))
    assert 1 <= np.mean(counts) / 2.0 <= 10  # per hour


def test_noise_level_and_drift(default_sim):
    quiet = GoldCitrateSimulator(seed=5, duration_s=600.0, drift=False, p_saturated=0, p_dropout=0)
    residuals = np.array([v - quiet.noise_free_reading(k) for k, v in quiet.spectra()])
    assert residuals.std() == pytest.approx(0.002, rel=0.05)
    assert abs(residuals.mean()) < 1e-4
    # with drift: the baseline moves by a few mAU at most, slowly
    offset, tilt = default_sim._baseline
    assert 1e-4 < np.abs(offset).max() < 1e-2 and np.abs(tilt).max() < 1e-2
    assert np.abs(np.diff(offset)).max() < 2e-4


def test_high_concentration_saturates_naturally_and_truth_says_so():
    sim = GoldCitrateSimulator(
        seed=1,
        duration_s=3600.0,
        interval_s=20.0,
        HAuCl4_mM=2.0,
        p_saturated=0,
        p_dropout=0,
        wavelengths_nm=COARSE_WL,
    )
    truth = sim.truth
    assert truth[-1].saturated and not truth[0].saturated
    for p, (_, v) in zip(truth, sim.spectra()):
        if not p.saturated:
            assert v.max() < 3.0


# ------------------------------------------------------------------------ construction


def test_constructor_arguments_are_kept():
    start = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
    sim = GoldCitrateSimulator(
        seed=4,
        duration_s=600.0,
        interval_s=3.0,
        run_id="run-x",
        reactor="R7",
        start=start,
        path_length_cm=0.5,
        HAuCl4_mM=0.3,
        d_final_nm=20.0,
        noise_au=0.001,
        drift=False,
        p_saturated=0.0,
        p_dropout=0.01,
        wavelengths_nm=COARSE_WL,
    )
    assert (sim.seed, sim.duration_s, sim.interval_s, sim.run_id, sim.reactor, sim.start) == (
        4,
        600.0,
        3.0,
        "run-x",
        "R7",
        start,
    )
    assert (sim.path_length_cm, sim.HAuCl4_mM, sim.d_final_nm, sim.noise_au, sim.drift) == (
        0.5,
        0.3,
        20.0,
        0.001,
        False,
    )
    assert (sim.p_saturated, sim.p_dropout) == (0.0, 0.01)
    np.testing.assert_array_equal(sim.wavelengths_nm, COARSE_WL)
    assert GoldCitrateSimulator(seed=4, wavelengths_nm=COARSE_WL).run_id == "sim-au-citrate-s4"


@pytest.mark.parametrize(
    "kw",
    [
        {"seed": -1},
        {"interval_s": 0.0},
        {"start": datetime(2026, 1, 1)},
        {"HAuCl4_mM": 0.0},
        {"p_saturated": 0.7, "p_dropout": 0.7},
        {"gsd_final": 1.4, "gsd_nucleation": 1.3},
        {"d_final_nm": 2.0},
    ],
)
def test_bad_arguments_are_refused(kw):
    with pytest.raises(ValueError):
        GoldCitrateSimulator(**{"wavelengths_nm": COARSE_WL, **kw})


# ------------------------------------------------------------------------------- docs


def test_doctests():
    result = doctest.testmod(gold_sim, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_every_model_names_its_source():
    doc = gold_sim.__doc__
    for source in ("Polte", "1296", "Watzky", "Finke", "10382", "Mie", "Johnson"):
        assert source in doc, source
    assert "number-weighted" in TruthPoint.__doc__
