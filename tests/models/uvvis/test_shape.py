"""ShapeCheck: longitudinal band and Gans aspect ratio of rods, aggregation tail, bad frames."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

from synthwatch.collectors.sim.gold import noise_free_spectrum
from synthwatch.collectors.sim.optics import dielectric_function
from synthwatch.contract.messages import Descriptor, Reading
from synthwatch.models.uvvis.shape import (
    ShapeCheck,
    gans_aspect_ratio,
    gans_depolarization,
    gans_resonance_nm,
)

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
WL = np.arange(300.0, 901.0)  # the simulator's axis
EPS_WL = np.arange(300.0, 1201.0, 2.0)
EPS = dielectric_function("Au", EPS_WL)


def make_model(wl=WL, **kw) -> ShapeCheck:
    desc = Descriptor(
        run_id="r1",
        t=T0,
        sensor_id="uv1",
        kind="uvvis",
        axis=list(wl),
        axis_units="nm",
        value_units="AU",
        path_length_cm=1.0,
    )
    return ShapeCheck(desc, EPS_WL, EPS.real, EPS.imag, **kw)


def run(model: ShapeCheck, a, seq=0):
    model.update(Reading(run_id="r1", t=T0, sensor_id="uv1", seq=seq, values=list(a)))
    return model.estimate


def lorentz(wl, center, hwhm):
    return 1.0 / (1.0 + ((wl - center) / hwhm) ** 2)


def rod_spectrum(wl, r, n=1.333):
    lam_l = gans_resonance_nm(r, EPS_WL, EPS.real, n)
    interband = 0.3 * np.exp(-(wl - 300.0) / 80.0)
    return 0.35 * lorentz(wl, 515.0, 35.0) + 1.0 * lorentz(wl, lam_l, 50.0) + interband, lam_l


def test_gans_inversion_matches_brentq_and_forward():
    for r in (1.5, 2.0, 3.0, 5.0, 12.0):
        p = float(gans_depolarization(r))
        eps1 = -(1.0 - p) / p * 1.333**2
        r_back, _ = gans_aspect_ratio(eps1, 1.333)
        r_ref = brentq(lambda x, p=p: float(gans_depolarization(x)) - p, 1.0001, 30.0, xtol=1e-12)
        assert r_back == pytest.approx(r_ref, rel=1e-5)
        assert r_back == pytest.approx(r, rel=1e-5)
    assert math.isnan(gans_aspect_ratio(-1.0, 1.333)[0])  # eps1 > -2 n^2: no prolate solution
    assert gans_depolarization(1.0001) == pytest.approx(1.0 / 3.0, abs=1e-4)


@pytest.mark.parametrize("r", [2.5, 3.5])
def test_rods_recovered(r):
    a, lam_l = rod_spectrum(WL, r)
    rng = np.random.default_rng(1)
    model = make_model()
    est = run(model, a + rng.normal(0, 0.002, WL.size))
    assert "rods_detected" in est.flags and "aggregation_suspected" not in est.flags
    assert est.get("lambda_long_nm").value == pytest.approx(lam_l, abs=2.0)
    ar = est.get("aspect_ratio")
    assert ar.value == pytest.approx(r, rel=0.05)
    assert 0 < ar.uncertainty < 0.2 * r
    assert est.get("a_long_over_a_spr").value > 1.5
    # loose sanity check against the linear relation lambda ~ 95 R + 420 nm (water)
    assert ar.value == pytest.approx((lam_l - 420.0) / 95.0, rel=0.2)


def test_rods_on_long_axis_and_medium_index():
    wl = np.arange(400.0, 1101.0, 2.0)
    for r in (2.5, 5.0):
        a, _ = rod_spectrum(wl, r, n=1.40)
        est = run(make_model(wl, n_medium=1.40), a)
        assert est.get("aspect_ratio").value == pytest.approx(r, rel=0.05)
        # the wrong medium index biases R: a higher n_m needs a less elongated rod
        assert run(make_model(wl, n_medium=1.333), a).get("aspect_ratio").value > r


SPHERES = [(d, g) for d in (5, 10, 20, 40, 60, 80, 90, 95, 100) for g in (1.05, 1.1, 1.2, 1.3)]


@pytest.fixture(scope="module")
def sphere_spectra():
    out = {}
    for d, g in SPHERES:
        try:
            out[d, g] = noise_free_spectrum(d, g, au0_mM=0.25, wavelengths_nm=WL)
        except ValueError:  # the distribution reaches beyond the simulator's kernel
            pass
    assert len(out) >= 30
    return out


def test_spheres_raise_no_flags(sphere_spectra):
    model = make_model()
    rng = np.random.default_rng(2)
    for (d, g), a in sphere_spectra.items():
        for noise in (0.0, 0.003):
            est = run(model, a + rng.normal(0, noise, WL.size))
            assert "rods_detected" not in est.flags, (d, g)
            assert "aggregation_suspected" not in est.flags, (d, g)
            res = model.result
            assert est.get("red_tail_ratio").value < res.tail_threshold / 1.3, (d, g)


def test_aggregation_tail(sphere_spectra):
    a = sphere_spectra[20, 1.1]
    tail = 0.35 * a.max() * np.exp(-(((WL - 800.0) / 180.0) ** 2))
    est = run(make_model(), a + tail)
    assert "aggregation_suspected" in est.flags and "rods_detected" not in est.flags
    assert est.get("lambda_long_nm").value is None and est.get("aspect_ratio").value is None
    # monotonic tail rising to the end of the axis
    ramp = 0.4 * a.max() * np.clip((WL - 560.0) / 340.0, 0, None) ** 1.5
    est = run(make_model(), a + ramp)
    assert "aggregation_suspected" in est.flags and "rods_detected" not in est.flags


def test_deterministic():
    """Speed is measured in benchmarks/, not asserted here."""
    a, _ = rod_spectrum(WL, 3.0)
    a = a + np.random.default_rng(3).normal(0, 0.002, WL.size)
    m1, m2 = make_model(), make_model()
    assert run(m1, a) == run(m2, a)


def test_bad_frames_are_flagged():
    model = make_model()
    a, _ = rod_spectrum(WL, 3.0)
    assert run(model, a[:10]).flags == ["shape_mismatch"]
    assert run(model, np.full(WL.size, np.nan)).flags == ["dropout"]
    assert run(model, np.where(WL > 600, 4.0, a)).flags == ["saturated"]
    assert run(model, np.zeros(WL.size)).flags == ["dropout"]


@settings(max_examples=40, suppress_health_check=list(HealthCheck))
@given(
    st.lists(
        st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(0.5)),
        min_size=WL.size,
        max_size=WL.size,
    )
)
def test_never_raises(values):
    model = make_model()
    model.update(Reading(run_id="r1", t=T0, sensor_id="uv1", seq=0, values=values))
    assert model.estimate is not None


# --- issue 18: aggregation on short axes and on flat, fully aggregated gold -------------------


def test_aggregation_on_an_axis_that_ends_at_800_nm():
    from synthwatch.collectors.sim.scenarios import simulate

    sim = simulate("gold-aggregating", seed=1)
    wl = sim.wavelengths_nm
    keep = wl <= 800.0
    short, full = make_model(wl[keep]), make_model(wl)
    rng = np.random.default_rng(5)
    truth = sim.truth
    heavy = clean = 0
    for seq in range(0, sim.n_readings, 60):
        a = sim.noise_free_reading(seq) + rng.normal(0, 0.002, wl.size)
        est = run(short, a[keep], seq)
        assert "tail_band_650_800" in est.flags and "aggregation_unchecked" not in est.flags
        if truth[seq].aggregated_fraction > 0.45:
            heavy += 1
            assert "aggregation_suspected" in est.flags, seq
            assert "aggregation_suspected" in run(full, a, seq).flags, seq
        elif truth[seq].aggregated_fraction == 0.0 and truth[seq].d_mean_nm > 5.0:
            clean += 1
            assert "aggregation_suspected" not in est.flags, seq
        assert "tail_band_650_800" not in run(full, a, seq).flags
    assert heavy >= 5 and clean >= 10


def test_aggregation_unchecked_when_the_axis_misses_the_red_band():
    wl = np.arange(400.0, 751.0)
    est = run(make_model(wl), lorentz(wl, 520.0, 40.0))
    assert "aggregation_unchecked" in est.flags and est.get("red_tail_ratio").value is None


def test_flat_fully_aggregated_gold_is_flagged(sphere_spectra):
    primaries = sphere_spectra[20, 1.1]
    for wl_end in (900.0, 800.0):
        wl = WL[WL <= wl_end]
        keep = WL <= wl_end
        # the SPR band nearly gone, a broad, flat extinction over the visible and the red
        broad = 0.5 * (0.9 + 0.1 * np.exp(-(((WL - 700.0) / 200.0) ** 2)))
        vestige = (0.08 * primaries + broad)[keep]
        est = run(make_model(wl), vestige)
        assert "aggregation_suspected" in est.flags and "no_peak" not in est.flags, est.flags
        assert est.get("red_tail_ratio").value > 0.8
        # no maximum at all: extinction rising into the red
        rising = (0.3 + 0.4 * np.clip((WL - 450.0) / 350.0, 0, 1))[keep]
        est = run(make_model(wl), rising)
        assert "aggregation_suspected" in est.flags and "no_peak" not in est.flags, est.flags
        assert est.get("red_tail_ratio").value > 1.0
    # an interband absorption alone (no particles' band, nothing red) stays no_peak
    est = run(make_model(), 0.6 * np.exp(-(WL - 300.0) / 120.0))
    assert "no_peak" in est.flags and "aggregation_suspected" not in est.flags
