"""Tests of the UV-Vis feature model (models/uvvis/model.py, models/uvvis/preprocess.py)."""

from __future__ import annotations

import math
import pickle
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthwatch.contract.messages import Descriptor, Estimate, Reading, decode, encode
from synthwatch.models.uvvis.model import (
    FLAGS,
    HAISS_CALIBRATION_REL,
    HAISS_EXPERIMENT,
    QUANTITY_UNITS,
    FeaturePlan,
    UVVisFeatures,
    haiss_diameter_nm,
    uvvis_features,
)
from synthwatch.models.uvvis.preprocess import (
    fill_missing,
    invalid_mask,
    noise_au,
    saturation_mask,
    savgol_plan,
    savgol_smooth,
)

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
WL = np.arange(300.0, 901.0)  # 601 points, 1 nm


def lorentz(wl, center, hwhm, height=1.0):
    return height / (1.0 + ((wl - center) / hwhm) ** 2)


def interband(wl, a400=0.45):
    """Gold-like interband absorption: rises smoothly towards the UV."""
    return a400 * np.exp(-(wl - 400.0) / 100.0)


def gold(wl, center=522.0, hwhm=40.0, height=0.6):
    return lorentz(wl, center, hwhm, height) + interband(wl)


def descriptor(wl=WL, **kw):
    return Descriptor(
        run_id="r1",
        t=T0,
        sensor_id="uv1",
        kind="uvvis",
        axis=list(wl),
        axis_units="nm",
        value_units="AU",
        path_length_cm=1.0,
        **kw,
    )


def reading(values, seq=0, sensor_id="uv1"):
    return Reading(
        run_id="r1",
        t=T0 + timedelta(seconds=seq),
        sensor_id=sensor_id,
        seq=seq,
        values=[float(v) for v in values],
    )


def run(values, wl=WL, desc_kw=None, **model_kw):
    model = UVVisFeatures(descriptor(wl, **(desc_kw or {})), **model_kw)
    model.update(reading(values))
    return model.estimate


def values(est: Estimate) -> dict:
    return {q.name: q.value for q in est.quantities}


# --- peak position and width --------------------------------------------------------------


@pytest.mark.parametrize("step_nm, tol_nm", [(1.0, 0.1), (2.0, 0.15)])
@pytest.mark.parametrize("center", [519.37, 527.5, 533.81, 560.13])
def test_peak_is_sub_pixel_on_a_lorentzian(step_nm, tol_nm, center):
    wl = np.arange(300.0, 900.0 + step_nm / 2, step_nm)
    res = uvvis_features(wl, lorentz(wl, center, 40.0))
    assert abs(res.values["lambda_spr_nm"] - center) < tol_nm


@pytest.mark.parametrize("step_nm", [1.0, 2.0])
@pytest.mark.parametrize("center", [519.37, 540.62])
def test_peak_on_interband_background_matches_the_true_maximum(step_nm, center):
    wl = np.arange(300.0, 900.0 + step_nm / 2, step_nm)
    fine = np.arange(480.0, 620.0, 0.001)
    true_max_nm = fine[np.argmax(gold(fine, center))]
    res = uvvis_features(wl, gold(wl, center))
    assert abs(res.values["lambda_spr_nm"] - true_max_nm) < 0.15
    assert res.values["a_spr_au"] == pytest.approx(
        gold(np.array([true_max_nm]), center)[0], rel=2e-3
    )


@pytest.mark.parametrize("step_nm, rel", [(1.0, 0.01), (2.0, 0.02)])
@pytest.mark.parametrize("hwhm", [30.0, 45.0])
def test_fwhm_of_a_lorentzian(step_nm, rel, hwhm):
    wl = np.arange(300.0, 900.0 + step_nm / 2, step_nm)
    res = uvvis_features(wl, lorentz(wl, 530.3, hwhm))
    assert res.values["fwhm_nm"] == pytest.approx(2 * hwhm, rel=rel)


def test_fwhm_uses_the_red_side_only():
    # a strong rise on the blue side must not change the width (red HWHM doubled)
    res = uvvis_features(WL, lorentz(WL, 530.0, 40.0) + 3.0 * np.exp(-(WL - 300.0) / 30.0))
    assert res.values["fwhm_nm"] == pytest.approx(80.0, rel=0.01)


def test_peak_fit_with_noise_is_unbiased_and_uncertainty_is_honest():
    rng = np.random.default_rng(1)
    est = [uvvis_features(WL, gold(WL, 530.4) + rng.normal(0, 0.003, WL.size)) for _ in range(40)]
    lam = np.array([e.values["lambda_spr_nm"] for e in est])
    truth = uvvis_features(WL, gold(WL, 530.4)).values["lambda_spr_nm"]
    assert abs(lam.mean() - truth) < 0.3
    sd_reported = np.mean([e.uncertainties["lambda_spr_nm"] for e in est])
    assert 0.3 < lam.std() / sd_reported < 3.0


# --- absorbances, ratio, Haiss ------------------------------------------------------------


def test_haiss_formula_values():
    # default: Haiss's Mie-based coefficients; the TEM-fitted pair on request
    assert haiss_diameter_nm(1.8) == pytest.approx(math.exp(3.55 * 1.8 - 3.11))
    assert haiss_diameter_nm(2.0) == pytest.approx(math.exp(3.55 * 2.0 - 3.11))
    assert haiss_diameter_nm(1.8, *HAISS_EXPERIMENT) == pytest.approx(math.exp(3.0 * 1.8 - 2.2))
    assert haiss_diameter_nm(1.5, 3.00, 2.20) == pytest.approx(math.exp(3.0 * 1.5 - 2.2))


def test_absorbances_ratio_and_diameter_from_a_noise_free_spectrum():
    a = gold(WL)
    res = uvvis_features(WL, a)
    v = res.values
    assert v["a_450_au"] == pytest.approx(a[WL == 450.0][0], rel=1e-3)
    assert v["a_400_au"] == pytest.approx(a[WL == 400.0][0], rel=1e-3)
    assert v["ratio_spr_450"] == pytest.approx(v["a_spr_au"] / v["a_450_au"])
    assert v["d_haiss_nm"] == pytest.approx(haiss_diameter_nm(v["ratio_spr_450"]))
    # noise-free: the uncertainty is the method's calibration uncertainty alone
    assert res.uncertainties["d_haiss_nm"] == pytest.approx(
        HAISS_CALIBRATION_REL * v["d_haiss_nm"], rel=0.02
    )
    assert res.flags == ()


def test_absorbance_between_grid_points_is_interpolated():
    wl = np.arange(301.0, 900.0, 2.0)  # 400 and 450 nm fall between points
    a = 0.2 + 0.001 * (wl - 300.0) + lorentz(wl, 530.0, 40.0, 0.5)
    res = uvvis_features(wl, a)
    exact = 0.2 + 0.001 * 150.0 + lorentz(np.array([450.0]), 530.0, 40.0, 0.5)[0]
    assert res.values["a_450_au"] == pytest.approx(exact, rel=2e-3)


def test_diameter_uncertainty_grows_with_noise():
    rng = np.random.default_rng(2)
    quiet = uvvis_features(WL, gold(WL))
    noisy = uvvis_features(WL, gold(WL) + rng.normal(0, 0.01, WL.size))
    rel_quiet = quiet.uncertainties["d_haiss_nm"] / quiet.values["d_haiss_nm"]
    rel_noisy = noisy.uncertainties["d_haiss_nm"] / noisy.values["d_haiss_nm"]
    assert rel_noisy > rel_quiet
    assert noisy.values["noise_au"] == pytest.approx(0.01, rel=0.2)


def test_haiss_out_of_range_is_flagged_but_reported():
    res = uvvis_features(WL, lorentz(WL, 530.0, 40.0) + 0.05)  # A_spr/A_450 ~ 3.5
    assert "haiss_out_of_range" in res.flags
    assert res.values["d_haiss_nm"] > 80.0


def test_silver_peak_without_haiss():
    res = uvvis_features(WL, lorentz(WL, 402.3, 25.0, 0.8) + 0.05, system="Ag-citrate")
    assert res.values["lambda_spr_nm"] == pytest.approx(402.3, abs=0.15)
    assert res.values["d_haiss_nm"] is None
    assert res.values["ratio_spr_450"] is not None
    assert "haiss_not_applicable" in res.flags


def test_baseline_window_removes_a_constant_offset_and_default_does_not():
    a = gold(WL) + 0.05
    plain = uvvis_features(WL, a).values
    corrected = uvvis_features(WL, a, baseline_window_nm=(850.0, 900.0)).values
    expected = uvvis_features(WL, gold(WL)).values
    # the synthetic gold spectrum itself absorbs a little at 850-900 nm (~0.01 AU)
    assert corrected["a_spr_au"] == pytest.approx(expected["a_spr_au"], abs=0.015)
    assert plain["a_spr_au"] == pytest.approx(expected["a_spr_au"] + 0.05, abs=1e-3)


# --- preprocessing ------------------------------------------------------------------------


def test_savgol_keeps_quadratics_and_edges():
    plan = savgol_plan(WL, 15.0)
    a = 0.3 + 1e-3 * (WL - 500) - 2e-6 * (WL - 500) ** 2
    assert np.allclose(savgol_smooth(a, plan), a)


def test_noise_estimate_from_the_smoothing_residual():
    rng = np.random.default_rng(3)
    plan = savgol_plan(WL, 15.0)
    a = gold(WL) + rng.normal(0, 0.004, WL.size)
    assert noise_au(a, savgol_smooth(a, plan), plan) == pytest.approx(0.004, rel=0.15)


def test_missing_and_saturation_masks():
    x = np.array([0.1, np.nan, np.inf, -np.inf, -5.0, 0.2, 4.0])
    assert invalid_mask(x).tolist() == [False, True, True, True, True, False, False]
    assert fill_missing(np.array([0.0, np.nan, 2.0]), np.array([0, 1, 0], bool)).tolist() == [
        0.0,
        1.0,
        2.0,
    ]
    assert saturation_mask(x).tolist() == [False, False, True, False, False, False, True]
    assert saturation_mask(np.array([0.1, 1.5, 1.5, 1.5, 0.1])).tolist() == [
        False,
        True,
        True,
        True,
        False,
    ]
    assert not saturation_mask(np.array([0.1, 0.5, 0.5, 0.5, 0.1])).any()


# --- bad frames: flags, never raising ------------------------------------------------------


def test_saturated_peak_nulls_the_peak_quantities():
    est = run(gold(WL, height=5.0))
    v = values(est)
    assert "saturated" in est.flags
    assert v["lambda_spr_nm"] is None and v["d_haiss_nm"] is None and v["a_spr_au"] is None


def test_descriptor_saturation_level_is_used():
    est = run(gold(WL), desc_kw={"saturation_au": 0.7})
    assert "saturated" in est.flags and values(est)["lambda_spr_nm"] is None


def test_clipped_plateau_is_saturation():
    a = np.minimum(gold(WL, height=1.5), 1.4)
    est = run(a)
    assert "saturated" in est.flags and values(est)["lambda_spr_nm"] is None


@pytest.fixture(scope="module")
def dense_gold():
    """A noise-free Mie spectrum of 20 nm citrate gold on a 0.25 nm axis (spline of the
    simulator's 1 nm one), scaled to a peak of 1.8 AU."""
    from scipy.interpolate import CubicSpline

    from synthwatch.collectors.sim.gold import noise_free_spectrum

    a1 = noise_free_spectrum(20.0, 1.1, au0_mM=0.25, wavelengths_nm=WL)
    wl = np.arange(300.0, 900.0 + 1e-9, 0.25)
    a = CubicSpline(WL, a1)(wl)
    return wl, a * (1.8 / a[(wl > 480) & (wl < 620)].max())


@pytest.mark.parametrize("step", [1, 2])  # 0.25 and 0.5 nm
def test_rounding_on_a_dense_axis_is_not_saturation(dense_gold, step):
    wl, a = dense_gold[0][::step], dense_gold[1][::step]
    rounded = np.round(a, 3)
    assert not saturation_mask(rounded).any()
    est = run(rounded, wl)
    v = values(est)
    assert "saturated" not in est.flags and "no_peak" not in est.flags, est.flags
    exact = values(run(a, wl))
    assert v["lambda_spr_nm"] == pytest.approx(exact["lambda_spr_nm"], abs=0.2)
    assert v["d_haiss_nm"] == pytest.approx(exact["d_haiss_nm"], rel=0.01)


def test_a_truly_clipped_dense_spectrum_is_saturated(dense_gold):
    wl, a = dense_gold
    clipped = np.round(np.minimum(a * (2.2 / 1.8), 2.0), 3)
    width_nm = 0.25 * int(np.sum(clipped >= 2.0))
    assert width_nm >= 20.0
    est = run(clipped, wl)
    assert "saturated" in est.flags and values(est)["lambda_spr_nm"] is None
    assert saturation_mask(clipped).sum() * 0.25 >= width_nm


def test_saturation_in_the_uv_only_keeps_the_peak():
    a = gold(WL) + 5.0 * np.exp(-(WL - 300.0) / 5.0)  # saturates below ~305 nm
    est = run(a)
    v = values(est)
    assert "saturated" in est.flags
    assert v["lambda_spr_nm"] is not None and v["d_haiss_nm"] is not None


def test_few_nans_are_interpolated_many_are_dropout():
    a = gold(WL)
    few = a.copy()
    few[[100, 250, 400]] = np.nan
    est = run(few)
    assert "missing_interpolated" in est.flags
    assert values(est)["d_haiss_nm"] == pytest.approx(values(run(a))["d_haiss_nm"], rel=1e-3)
    many = a.copy()
    many[::10] = np.nan  # 10 %
    est = run(many)
    assert "dropout" in est.flags
    assert all(q.value is None for q in est.quantities)
    est = run(np.full(WL.size, np.nan))
    assert "dropout" in est.flags


@pytest.mark.parametrize("level", [0.0, 0.4])
def test_flat_frames(level):
    est = run(np.full(WL.size, level))
    assert "dropout" in est.flags and all(q.value is None for q in est.quantities)
    rng = np.random.default_rng(4)
    est = run(level + rng.normal(0, 0.002, WL.size))
    assert "no_peak" in est.flags or "low_signal" in est.flags


def test_monotonic_spectrum_has_no_peak():
    est = run(interband(WL))
    assert "no_peak" in est.flags
    v = values(est)
    assert v["lambda_spr_nm"] is None and v["d_haiss_nm"] is None
    assert v["a_450_au"] is not None


@pytest.mark.parametrize("n", [1, 600, 602, 1200])
def test_wrong_length_is_flagged(n):
    est = run(np.full(n, 0.3))
    assert est.flags == ["shape_mismatch"]
    assert all(q.value is None for q in est.quantities)


def test_reading_of_another_sensor_is_flagged():
    model = UVVisFeatures(descriptor())
    model.update(reading(gold(WL), sensor_id="uv2"))
    assert model.estimate.flags == ["sensor_mismatch"]


# --- construction --------------------------------------------------------------------------


def test_unsupported_system_raises_an_actionable_error():
    with pytest.raises(ValueError, match="supports Au-citrate, Ag-citrate"):
        UVVisFeatures(descriptor(), system="SiO2-Stober")


def test_axis_that_misses_the_window_raises():
    with pytest.raises(ValueError, match="SPR window"):
        UVVisFeatures(descriptor(np.arange(300.0, 560.0)))
    with pytest.raises(ValueError, match="baseline_window_nm"):
        UVVisFeatures(descriptor(np.arange(300.0, 800.0)), baseline_window_nm=(850.0, 900.0))
    with pytest.raises(ValueError, match="uvvis"):
        UVVisFeatures(
            Descriptor(
                run_id="r1",
                t=T0,
                sensor_id="z",
                kind="impedance",
                axis=[1.0, 10.0, 100.0],
                axis_units="Hz",
                value_units="ohm",
            )
        )


def test_feature_plan_reuse_equals_one_shot():
    plan = FeaturePlan(WL)
    assert plan.run(gold(WL)) == uvvis_features(WL, gold(WL))


# --- the estimate --------------------------------------------------------------------------


def test_estimate_quantities_units_and_identity():
    model = UVVisFeatures(descriptor())
    assert model.estimate is None
    model.update(reading(gold(WL), seq=7))
    est = model.estimate
    assert isinstance(est, Estimate)
    assert (est.model, est.model_version, est.measurement) == (
        "uvvis_features",
        "1",
        "uvvis_features",
    )
    t7 = T0 + timedelta(seconds=7)
    assert (est.run_id, est.sensor_id, est.seq, est.t) == ("r1", "uv1", 7, t7)
    assert {q.name: q.units for q in est.quantities} == {**QUANTITY_UNITS, "au0_mM": "mM"}
    # Au(0) from A_400, Hendel et al. (2014): 2.4 per mM per cm
    a400 = est.get("a_400_au")
    assert est.get("au0_mM").value == pytest.approx(a400.value / 2.4)
    assert est.get("au0_mM").uncertainty == pytest.approx(0.05 * a400.value / 2.4, rel=0.1)
    assert QUANTITY_UNITS == {
        "lambda_spr_nm": "nm",
        "fwhm_nm": "nm",
        "a_spr_au": "AU",
        "a_450_au": "AU",
        "a_400_au": "AU",
        "ratio_spr_450": "1",
        "d_haiss_nm": "nm",
        "noise_au": "AU",
    }
    assert est.get("d_haiss_nm").uncertainty > 0
    assert all(isinstance(q.value, float) for q in est.quantities)
    assert decode(encode(est)) == est


def test_pickle_and_clone():
    model = UVVisFeatures(descriptor(), system="Au-citrate", smooth_window_nm=11.0)
    model.update(reading(gold(WL)))
    back = pickle.loads(pickle.dumps(model))
    assert back.estimate == model.estimate
    fresh = model.clone()
    assert fresh.estimate is None and fresh.smooth_window_nm == 11.0
    assert fresh.descriptor == model.descriptor
    fresh.update(reading(gold(WL)))
    assert fresh.estimate == model.estimate


def test_determinism():
    rng = np.random.default_rng(5)
    r = reading(gold(WL) + rng.normal(0, 0.003, WL.size))
    a, b = UVVisFeatures(descriptor()), UVVisFeatures(descriptor())
    a.update(r)
    b.update(r)
    first = a.estimate
    a.update(r)
    assert a.estimate == first == b.estimate
    assert encode(a.estimate) == encode(b.estimate)


# --- property: arbitrary input never raises ------------------------------------------------

WL_COARSE = np.arange(300.0, 901.0, 5.0)
_MODELS = {
    "fine": UVVisFeatures(descriptor(WL)),
    "coarse": UVVisFeatures(descriptor(WL_COARSE)),
    "silver": UVVisFeatures(descriptor(WL), system="Ag-citrate", baseline_window_nm=(850.0, 900.0)),
}
_SPECIAL = st.sampled_from([np.nan, np.inf, -np.inf, 1e308, -1e308, 0.0, 3.5, 5e-324, -0.0])
_ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True) | _SPECIAL


def _check(est: Estimate) -> None:
    assert isinstance(est, Estimate)
    assert set(est.flags) <= set(FLAGS)
    assert "model_error" not in est.flags
    assert len(est.flags) == len(set(est.flags))
    for q in est.quantities:
        assert q.value is None or math.isfinite(q.value)
        assert q.uncertainty is None or (math.isfinite(q.uncertainty) and q.uncertainty >= 0)
    if {"dropout", "shape_mismatch"} & set(est.flags):
        assert all(q.name == "noise_au" or q.value is None for q in est.quantities)
    encode(est)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), which=st.sampled_from(sorted(_MODELS)))
def test_arbitrary_arrays_never_raise(data, which):
    model = _MODELS[which]
    n = len(model.descriptor.axis)
    length = data.draw(st.sampled_from([n, n, n, 1, n - 1, n + 3]))
    vals = data.draw(st.lists(_ANY_FLOAT, min_size=length, max_size=length))
    model.update(reading(vals))
    _check(model.estimate)


@settings(max_examples=150, deadline=None)
@given(
    idx=st.lists(st.integers(0, WL.size - 1), max_size=60),
    bad=st.lists(_ANY_FLOAT, min_size=1, max_size=60),
    scale=st.floats(-1e3, 1e3, allow_nan=False),
    offset=st.floats(-2.0, 5.0, allow_nan=False),
)
def test_corrupted_spectra_never_raise(idx, bad, scale, offset):
    a = scale * gold(WL) + offset
    for i, v in zip(idx, bad * (len(idx) // len(bad) + 1)):
        a[i] = v
    model = _MODELS["fine"]
    model.update(reading(a))
    _check(model.estimate)


def test_a_failed_fit_is_fit_failed(monkeypatch):
    """Issue 18: a fit that gives no numbers says so (not no_peak, not no_signal)."""
    import synthwatch.models.uvvis.features as features
    import synthwatch.models.uvvis.shape as shape
    from synthwatch.collectors.sim.optics import dielectric_function
    from synthwatch.models.uvvis.shape import ShapeCheck

    def nan_smooth(x, plan):
        return np.full_like(np.asarray(x, dtype=float), np.nan)

    monkeypatch.setattr(features, "savgol_smooth", nan_smooth)
    est = run(gold(WL))
    assert est.flags == ["fit_failed"] and all(q.value is None for q in est.quantities)
    eps_wl = np.arange(300.0, 1201.0, 2.0)
    eps = dielectric_function("Au", eps_wl)
    monkeypatch.setattr(shape, "savgol_smooth", nan_smooth)
    model = ShapeCheck(descriptor(), eps_wl, eps.real, eps.imag)
    model.update(reading(gold(WL)))
    assert model.estimate.flags == ["fit_failed"]
