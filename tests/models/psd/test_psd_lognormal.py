"""The lognormal PSD model: accuracy on simulated spectra, warm start, flags, determinism."""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from synthwatch.collectors.sim.gold import noise_free_spectrum, number_per_ml_from_au0
from synthwatch.contract.messages import Descriptor, Estimate, Reading
from synthwatch.models.psd.lognormal import FLAGS, LognormalPSD
from synthwatch.models.psd.lut import model_and_grad, model_vector
from synthwatch.stream.runtime.kernels import kernel_for

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
WL = np.arange(300.0, 901.0)
AU0_MM = 0.25


@pytest.fixture(scope="module")
def kernel():
    desc = Descriptor(
        run_id="r1",
        t=T0,
        sensor_id="uv1",
        kind="uvvis",
        axis=list(WL),
        axis_units="nm",
        value_units="AU",
        path_length_cm=1.0,
    )
    # the single-kernel fit (the ensemble's model error has its tests in test_psd_ensemble.py)
    return kernel_for(desc, "Au-citrate", ensemble=False)


@pytest.fixture(scope="module")
def model(kernel):
    return LognormalPSD(kernel, sensor_id="uv1")


def spectrum(d_mean_nm: float, gsd: float) -> np.ndarray:
    return noise_free_spectrum(d_mean_nm, gsd, au0_mM=AU0_MM, wavelengths_nm=WL)


def reading(values, seq: int = 0) -> Reading:
    return Reading(
        run_id="r1",
        t=T0 + timedelta(seconds=2 * seq),
        sensor_id="uv1",
        seq=seq,
        values=list(np.asarray(values, dtype=float)),
    )


def fit(model: LognormalPSD, values, seq: int = 0) -> Estimate:
    model.update(reading(values, seq))
    return model.estimate


CASES = [(d, g) for d in (8.0, 15.0, 30.0, 60.0, 90.0) for g in (1.08, 1.2)]


@pytest.fixture(scope="module")
def noisy_set():
    rng = np.random.default_rng(42)
    out = []
    for d, g in CASES:
        a = spectrum(d, g)
        out.append((d, g, a + rng.normal(0.0, 0.01 * a.max(), a.size)))
    return out


def test_accuracy_on_simulated_spectra(kernel, noisy_set):
    m = LognormalPSD(kernel, sensor_id="uv1", warm_start=False)
    err_d, err_g, err_n = [], [], []
    for seq, (d, g, y) in enumerate(noisy_set):
        est = fit(m, y, seq)
        assert "unexplained" not in est.flags and "at_grid_edge" not in est.flags
        n_true = float(number_per_ml_from_au0(AU0_MM, d, g))
        err_d.append(abs(est.get("d_mean_nm").value / d - 1))
        err_g.append(abs(est.get("gsd").value / g - 1))
        err_n.append(abs(est.get("number_per_ml").value / n_true - 1))
        assert 0.3 < est.get("chi2_red").value < 3.0
        # the implied Au(0) is the simulator's (its density is 19.3, ours 19.32 g/cm^3)
        assert est.get("metal0_mM").value == pytest.approx(AU0_MM, rel=0.15)
        # the stated uncertainty of d covers the error at 4 sd
        q = est.get("d_mean_nm")
        assert abs(q.value - d) < 4 * q.uncertainty
    assert np.median(err_d) <= 0.03 and max(err_d) <= 0.12
    assert np.median(err_g) <= 0.05
    assert np.median(err_n) <= 0.10


def test_noise_free_spectrum_is_recovered(model):
    est = fit(model, spectrum(25.0, 1.15))
    assert est.get("d_mean_nm").value == pytest.approx(25.0, rel=1e-3)
    assert est.get("gsd").value == pytest.approx(1.15, rel=1e-3)
    n_true = float(number_per_ml_from_au0(AU0_MM, 25.0, 1.15))
    assert est.get("number_per_ml").value == pytest.approx(n_true, rel=1e-3)
    assert est.get("d_volume_weighted_mean_nm").value == pytest.approx(
        25.0 * np.exp(3 * np.log(1.15) ** 2), rel=1e-3
    )


def test_estimate_fields_and_distribution(model):
    est = fit(model, spectrum(40.0, 1.1), seq=7)
    assert (est.measurement, est.model, est.model_version) == ("psd", "psd_lognormal", "1")
    assert (est.sensor_id, est.seq, est.t) == ("uv1", 7, T0 + timedelta(seconds=14))
    units = {q.name: q.units for q in est.quantities}
    assert units["d_mean_nm"] == "nm" and units["gsd"] == "1"
    assert units["number_per_ml"] == "mL^-1" and units["metal0_mM"] == "mM"
    for name in ("d_mean_nm", "gsd", "number_per_ml", "metal0_mM"):
        assert est.get(name).uncertainty > 0
    dist = est.distribution
    assert dist.quantity == "number_per_ml" and dist.axis_name == "d_nm" and dist.units == "mL^-1"
    assert len(dist.axis) == 62 and dist.axis[0] >= 2.0 and dist.axis[-1] <= 150.0
    assert sum(dist.values) == pytest.approx(est.get("number_per_ml").value, rel=1e-6)
    peak_bin = dist.axis[int(np.argmax(dist.values))]
    assert 30.0 < peak_bin < 50.0


def test_analytic_jacobian_matches_finite_differences(model):
    red = model._red
    for p in ([np.log(2.2), 0.15], [np.log(20.0), 0.1], [np.log(120.0), 0.3]):
        p = np.array(p)
        m, dm = model_and_grad(red.reduced_t, red.ln_d, p)
        assert np.allclose(m, model_vector(red.reduced_t, red.ln_d, p))
        for j in range(2):
            q = p.copy()
            q[j] += 1e-6
            fd = (model_vector(red.reduced_t, red.ln_d, q) - m) / 1e-6
            assert np.abs(fd - dm[j]).max() <= 1e-3 * np.abs(dm[j]).max()


def test_warm_start_same_answer_fewer_iterations(kernel, noisy_set):
    warm = LognormalPSD(kernel, sensor_id="uv1")
    cold = LognormalPSD(kernel, sensor_id="uv1", warm_start=False)
    rng = np.random.default_rng(1)
    y0 = noisy_set[2][2]  # 15 nm, gsd 1.08
    warm_its, cold_its = [], []
    for seq in range(6):
        y = y0 + rng.normal(0.0, 0.001 * y0.max(), y0.size)
        ew, ec = fit(warm, y, seq), fit(cold, y, seq)
        if seq:
            assert warm.started_from == "previous"
            warm_its.append(warm.iterations)
            cold_its.append(cold.iterations)
        assert cold.started_from == "lut"
        for name in ("d_mean_nm", "gsd", "number_per_ml"):
            assert ew.get(name).value == pytest.approx(ec.get(name).value, rel=2e-3)
    assert sum(warm_its) < sum(cold_its)


def test_gsd_prior_pulls_gsd(kernel, noisy_set):
    y = noisy_set[0][2]  # 8 nm, gsd 1.08: d and gsd only weakly identifiable
    free = fit(LognormalPSD(kernel, sensor_id="uv1"), y)
    tight = fit(LognormalPSD(kernel, sensor_id="uv1", gsd_prior=(1.15, 1e-4)), y)
    assert tight.get("gsd").value == pytest.approx(1.15, rel=1e-3)
    assert tight.get("gsd").uncertainty < free.get("gsd").uncertainty
    # chi2 is the data's alone: the prior costs fit quality, never hides it
    assert tight.get("chi2_red").value >= free.get("chi2_red").value * 0.999


def test_reset_to_lut_on_jump(kernel):
    m = LognormalPSD(kernel, sensor_id="uv1")
    fit(m, spectrum(15.0, 1.1), 0)
    est = fit(m, spectrum(80.0, 1.1), 1)
    assert m.started_from == "lut"
    assert est.get("d_mean_nm").value == pytest.approx(80.0, rel=1e-3)
    fit(m, spectrum(80.0, 1.1), 2)
    assert m.started_from == "previous"


def test_clone_pickle_and_determinism(kernel, noisy_set):
    a = LognormalPSD(kernel, sensor_id="uv1")
    b = pickle.loads(pickle.dumps(a.clone()))
    for seq, (_, _, y) in enumerate(noisy_set[:4]):
        ea, eb = fit(a, y, seq), fit(b, y, seq)
        assert ea == eb
    copy = pickle.loads(pickle.dumps(a))
    assert copy.estimate == a.estimate
    fresh = a.clone()
    assert fresh.estimate is None and fresh.iterations == 0
    assert np.array_equal(fresh.kernel.sigma_ext_nm2, a.kernel.sigma_ext_nm2)


def _flags_only(est: Estimate) -> bool:
    return all(q.value is None for q in est.quantities) and est.distribution is None


def test_bad_spectra_are_flagged_not_raised(kernel):
    m = LognormalPSD(kernel, sensor_id="uv1")
    good = spectrum(20.0, 1.1)
    est = fit(m, np.full(WL.size, np.nan))
    assert "dropout" in est.flags and _flags_only(est)
    est = fit(m, np.zeros(WL.size))
    assert "no_signal" in est.flags and _flags_only(est)
    est = fit(m, -good)
    assert "no_signal" in est.flags and _flags_only(est)
    m.update(reading(good[:100]))
    assert m.estimate.flags == ["shape_mismatch"] and _flags_only(m.estimate)
    m.update(reading(good).model_copy(update={"sensor_id": "uv2"}))
    assert m.estimate.flags == ["sensor_mismatch"]
    # saturated: many points in the window → no fit; a few → excluded, fit kept
    est = fit(m, np.minimum(good * 10.0, 3.5))
    assert "saturated" in est.flags and _flags_only(est)
    few = good.copy()
    few[(WL >= 500) & (WL < 510)] = 4.0
    est = fit(m, few)
    assert est.flags == ["saturated"]
    assert est.get("d_mean_nm").value == pytest.approx(20.0, rel=1e-3)
    holes = good.copy()
    holes[[150, 250, 260, 400]] = np.nan
    est = fit(m, holes)
    assert est.flags == ["dropout"]
    assert est.get("gsd").value == pytest.approx(1.1, rel=1e-3)


def test_aggregation_band_is_unexplained(model):
    a = spectrum(20.0, 1.1)
    rng = np.random.default_rng(3)
    aggregated = a + 0.4 * a.max() * np.exp(-(((WL - 680.0) / 60.0) ** 2))
    est = fit(model, aggregated + rng.normal(0.0, 0.005 * a.max(), a.size))
    assert "unexplained" in est.flags


def test_small_particles_at_grid_edge(model):
    est = fit(model, spectrum(2.3, 1.05))
    assert "at_grid_edge" in est.flags


def test_non_reading_messages_are_ignored(model):
    model.update(reading(spectrum(20.0, 1.1)))
    before = model.estimate
    model.update("not a reading")
    assert model.estimate is before


@settings(max_examples=40)
@given(
    arrays(
        np.float64,
        WL.size,
        elements=st.one_of(
            st.floats(allow_nan=True, allow_infinity=True),
            st.floats(-0.1, 3.0),
        ),
    )
)
def test_any_array_gives_a_valid_estimate(model, values):
    model.update(reading(values))
    est = model.estimate
    assert isinstance(est, Estimate)
    assert set(est.flags) <= set(FLAGS)
    Estimate.model_validate_json(est.model_dump_json(by_alias=True))


def test_auto_offset_follows_the_baseline(kernel):
    """'auto' fits no offset on a clean spectrum, one on a shifted baseline, and goes back."""
    rng = np.random.default_rng(7)
    clean = spectrum(15.0, 1.1)
    noise = 0.002
    m = LognormalPSD(kernel, sensor_id="uv1")  # baseline_offset="auto" is the default
    never = LognormalPSD(kernel, sensor_id="uv1", baseline_offset=False)
    est = fit(m, clean + rng.normal(0.0, noise, clean.size), 0)
    assert not m.offset_used
    assert est.get("d_mean_nm").value == pytest.approx(15.0, rel=0.03)
    shifted = clean + 0.01 + rng.normal(0.0, noise, clean.size)  # 10 mAU of baseline drift
    est = fit(m, shifted, 1)
    assert m.offset_used
    assert est.get("d_mean_nm").value == pytest.approx(15.0, rel=0.03)
    biased = fit(never, shifted, 1).get("d_mean_nm").value
    assert abs(biased / 15.0 - 1) > 2 * abs(est.get("d_mean_nm").value / 15.0 - 1)
    # the baseline comes back: the Wald test of the fitted offset sends the fit back
    fit(m, clean + rng.normal(0.0, noise, clean.size), 2)
    assert not m.offset_used


def test_auto_offset_is_deterministic_and_pickles(kernel):
    rng = np.random.default_rng(3)
    frames = [spectrum(20.0, 1.15) + rng.normal(0.0, 0.003, WL.size) + 0.004 * k for k in range(4)]
    a = LognormalPSD(kernel, sensor_id="uv1")
    outs = [fit(a, y, k).model_dump() for k, y in enumerate(frames[:2])]
    b = pickle.loads(pickle.dumps(a))
    outs_b = [fit(b, y, k + 2).model_dump() for k, y in enumerate(frames[2:])]
    outs_a = [fit(a, y, k + 2).model_dump() for k, y in enumerate(frames[2:])]
    assert outs_a == outs_b and len(outs) == 2


def test_baseline_offset_setting_is_checked(kernel):
    with pytest.raises(ValueError, match="baseline_offset"):
        LognormalPSD(kernel, baseline_offset="sometimes")


def test_a_failed_fit_is_fit_failed_not_no_signal(kernel, monkeypatch):
    """Issue 18: a spectrum with a signal whose fit fails says so."""
    import synthwatch.models.psd.lognormal as lognormal

    a = spectrum(20.0, 1.1)

    def raises(*args, **kwargs):
        raise np.linalg.LinAlgError("singular matrix")

    monkeypatch.setattr(lognormal, "fit_shape", raises)
    est = fit(LognormalPSD(kernel, sensor_id="uv1"), a)
    assert "fit_failed" in est.flags and "no_signal" not in est.flags
    assert all(q.value is None for q in est.quantities) and est.distribution is None
    assert set(est.flags) <= set(FLAGS)
    monkeypatch.undo()
    real = lognormal.fit_shape

    def nan_fit(*args, **kwargs):
        res = real(*args, **kwargs)
        return type(res)(**{**res.__dict__, "p": np.full(2, np.nan)})

    monkeypatch.setattr(lognormal, "fit_shape", nan_fit)
    est = fit(LognormalPSD(kernel, sensor_id="uv1"), a)
    assert est.flags == ["fit_failed"]
    monkeypatch.undo()
    assert fit(LognormalPSD(kernel, sensor_id="uv1"), a).flags == []
