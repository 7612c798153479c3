"""The model-error part of the lognormal fit: ensemble refits, prediction factor, profile
likelihood at a bound, and the refusals of spectra that carry no size (issue 19)."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthwatch.contract.messages import Reading
from synthwatch.models.psd.ensemble import (
    CHI2_95_1DOF,
    EnsembleBasis,
    batched_model_and_grad,
    fit_members,
    member_weights,
    prediction_factor,
    profile_width,
)
from synthwatch.models.psd.kernel import KernelMember, PSDKernel
from synthwatch.models.psd.lognormal import LognormalPSD
from synthwatch.models.psd.lut import ReducedKernel, lognormal_hat_weights, model_and_grad
from synthwatch.models.psd.plasmon import plasmon_flags

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
WL = np.arange(400.0, 801.0, 2.0)
D = np.exp(np.arange(math.log(2.0), math.log(150.0), 0.02))


def toy_sigma(shift_nm: float = 0.0, width: float = 1.0) -> np.ndarray:
    """A plasmon-like toy kernel: a band that red-shifts and broadens with d, scaled by d^3."""
    x = D[None, :] / 30.0
    centre = 500.0 + shift_nm + 40.0 * x
    return D[None, :] ** 3 * np.exp(-(((WL[:, None] - centre) / (width * (60 + 20 * x))) ** 2))


def toy_kernel(members: tuple[KernelMember, ...] = ()) -> PSDKernel:
    return PSDKernel(
        metal="Au",
        n_medium=1.333,
        path_length_cm=1.0,
        wavelengths_nm=WL,
        diameters_nm=D,
        sigma_ext_nm2=toy_sigma(),
        members=members,
    )


def spectrum(kernel_sigma: np.ndarray, d_mean: float, gsd: float, n_per_ml: float) -> np.ndarray:
    s = math.log(gsd)
    w = lognormal_hat_weights(np.log(D), math.log(d_mean) - 0.5 * s * s, s)
    return n_per_ml * 1e-14 / math.log(10.0) * (kernel_sigma @ w)


def fit(model: LognormalPSD, y: np.ndarray):
    model.update(Reading(run_id="r", t=T0, sensor_id="uv1", seq=0, values=list(y)))
    return model.estimate


def test_batched_model_and_grad_equals_one_at_a_time():
    rng = np.random.default_rng(1)
    stack_t = rng.random((4, D.size, 6))
    p = np.array([[math.log(10.0), 0.1], [math.log(30.0), 0.2], [math.log(80.0), 0.05], [2.0, 0.3]])
    m, dm = batched_model_and_grad(stack_t, np.log(D), p)
    for k in range(4):
        m1, dm1 = model_and_grad(np.ascontiguousarray(stack_t[k]), np.log(D), p[k])
        # the batched weights stop at 6 sd (2e-9 of the probability), the single ones at 9
        np.testing.assert_allclose(m[k], m1, rtol=1e-7, atol=1e-12)
        np.testing.assert_allclose(dm[k], dm1, rtol=1e-6, atol=1e-8)


def test_fit_members_recover_each_members_parameters():
    """Data made by one member's kernel: the fit under that member lands on the truth."""
    sig = [toy_sigma(0.0), toy_sigma(6.0), toy_sigma(-6.0, 1.05)]
    k = [s * (1e-14 / math.log(10.0)) for s in sig]
    lut_p = np.array([(math.log(d), math.log(g)) for d in (10.0, 30.0, 90.0) for g in (1.1, 1.3)])
    ens = EnsembleBasis.build(k[0], tuple(k[1:]), np.log(D), 2, lut_p)
    truth = np.array([math.log(30.0), math.log(1.15)])
    s = truth[1]
    w = lognormal_hat_weights(np.log(D), truth[0] - 0.5 * s * s, s)
    z = ens.basis.T @ (k[1] @ w * 1e11)
    lower, upper = np.array([math.log(2.1), math.log(1.01)]), np.array([math.log(148), 0.56])
    fits = fit_members(z, ens, ens.ln_d, truth + np.array([0.05, 0.03]), lower, upper, 30)
    np.testing.assert_allclose(fits.p[1], truth, atol=5e-3)
    assert fits.n[1] == pytest.approx(1e11, rel=2e-2)
    assert fits.cost[1] < 1e-6 * float(z @ z)
    # the other members read other sizes: that spread is the model error
    assert abs(fits.p[0, 0] - truth[0]) > 0.01
    # the weights favour the member that made the data
    assert int(np.argmax(member_weights(fits.cost, 1e-4 * float(z @ z) / z.size, 100))) == 1
    # the start table's best node per member
    p0, cost0 = ens.starts(z, lut_p)
    assert p0.shape == (3, 2) and np.all(cost0 >= 0)


def test_prediction_factor():
    assert prediction_factor(1) == 1.0
    # t(4, 0.975) = 2.776: sqrt(1.2) * 2.776 / 1.96 = 1.552
    assert prediction_factor(5) == pytest.approx(1.5518, abs=1e-3)
    assert prediction_factor(10_000) == pytest.approx(1.0, abs=1e-3)


def test_identical_members_give_no_model_error_and_the_noise_part():
    same = toy_sigma()
    model = LognormalPSD(
        toy_kernel((KernelMember("A/A=1.0", same), KernelMember("B/A=1.0", same.copy())))
    )
    rng = np.random.default_rng(3)
    y = spectrum(same, 40.0, 1.15, 1e10)
    est = fit(model, y + rng.normal(0, 0.01 * y.max(), y.size))
    q = est.get("d_mean_nm")
    assert q.uncertainty_model == pytest.approx(0.0, abs=1e-9)
    assert q.uncertainty == pytest.approx(q.uncertainty_noise, rel=1e-9)
    assert q.value == pytest.approx(40.0, rel=0.05)


def test_disagreeing_members_widen_the_interval_to_cover_a_left_out_one():
    """Members shifted by -8..+8 nm; the data from a kernel shifted by +4 nm (not a member):
    the centre misreads the size, the model part says by how much."""
    members = tuple(
        KernelMember(f"set{k}/A=1.0", toy_sigma(shift)) for k, shift in enumerate((-8, -3, 2, 8))
    )
    model = LognormalPSD(toy_kernel(members), warm_start=False)
    truth = toy_sigma(4.0)
    covered = 0
    for d in (10.0, 20.0, 40.0, 80.0):
        y = spectrum(truth, d, 1.15, 1e10)
        est = fit(model, y / y.max())
        q = est.get("d_mean_nm")
        assert q.uncertainty_model > 0
        assert q.uncertainty == pytest.approx(math.hypot(q.uncertainty_noise, q.uncertainty_model))
        covered += abs(q.value - d) <= 2 * q.uncertainty
    assert covered >= 3


def test_a_fit_at_the_gsd_bound_is_flagged_and_its_interval_comes_from_the_profile():
    model = LognormalPSD(toy_kernel(), warm_start=False)
    y = spectrum(toy_sigma(), 30.0, 1.0001, 1e10)
    rng = np.random.default_rng(1)  # a draw whose fit stops at the bound (most do not)
    est = fit(model, y + rng.normal(0, 0.01 * y.max(), y.size))
    assert "at_bound:gsd" in est.flags
    g = est.get("gsd")
    assert g.lower is not None and g.upper is not None
    assert g.lower <= 1.0101 and g.upper > g.value
    d = est.get("d_mean_nm")
    assert d.lower < 30.0 < d.upper


@settings(max_examples=15, deadline=None)
@given(st.floats(1e-4, 1e-2))
def test_profile_ends_where_the_cost_rose_by_the_chi2_quantile(noise_sd):
    k = toy_sigma() * (1e-14 / math.log(10.0))
    red = ReducedKernel.build(k, np.log(D))
    s0 = math.log(1.01)
    w = lognormal_hat_weights(np.log(D), math.log(30.0) - 0.5 * s0 * s0, s0)
    z = red.basis.T @ (k @ w * 1e11)
    lower, upper = np.array([math.log(2.1), s0]), np.array([math.log(148), 0.56])
    p_hat = np.array([math.log(30.0), s0])
    prof = profile_width(z, red.reduced_t, np.log(D), p_hat, lower, upper, noise_sd**2)
    assert prof.s_lo == pytest.approx(s0)
    assert prof.s_hi > s0
    if prof.s_hi < upper[1]:  # the cost at the end is up by 3.84 noise variances (interpolated)
        m, _ = model_and_grad(red.reduced_t, np.log(D), np.array([prof.ln_d_hi, prof.s_hi]))
        assert prof.ln_d_lo <= math.log(30.0) + 1e-6
        assert CHI2_95_1DOF > 0


def test_spectra_that_carry_no_size_are_refused_with_a_flag():
    band = np.exp(-(((WL - 525.0) / 40.0) ** 2)) + 0.05
    assert plasmon_flags(WL, band, "Au", 1e-3, 0.5) == []
    assert plasmon_flags(WL, np.exp(-(WL - 400.0) / 150.0), "Au", 1e-3, 0.5) == ["no_plasmon"]
    assert plasmon_flags(WL, 0.01 * band, "Au", 1e-3, 0.5) == ["too_weak"]
    aggregated = band + 0.9 * np.exp(-(((WL - 650.0) / 60.0) ** 2))
    assert plasmon_flags(WL, aggregated, "Au", 1e-3, 0.5) == ["too_broad"]
    # through the model: a monotonic (scattering) spectrum gets no size
    model = LognormalPSD(toy_kernel())
    est = fit(model, 0.5 * (WL / 400.0) ** -4)
    assert "no_plasmon" in est.flags
    assert est.get("d_mean_nm").value is None and est.get("number_per_ml").value is None


@pytest.mark.slow
def test_the_runtime_ensemble_on_simulated_gold_is_accurate_and_its_interval_covers():
    """The simulator's spectra (Johnson & Christy, A = 1: a member of the ensemble) through the
    runtime's default kernel: the member that made them takes the weight."""
    from synthwatch.collectors.sim.gold import noise_free_spectrum
    from synthwatch.contract.messages import Descriptor
    from synthwatch.stream.runtime.kernels import kernel_for

    axis = np.arange(300.0, 901.0)
    desc = Descriptor(
        run_id="r",
        t=T0,
        sensor_id="uv1",
        kind="uvvis",
        axis=list(axis),
        axis_units="nm",
        value_units="AU",
        path_length_cm=1.0,
    )
    model = LognormalPSD(kernel_for(desc, "Au-citrate"), warm_start=False)
    rng = np.random.default_rng(11)
    errors, covered = [], 0
    cases = [(d, g) for d in (8.0, 15.0, 25.0, 40.0, 60.0, 90.0) for g in (1.08, 1.2)]
    for d, g in cases:
        y = noise_free_spectrum(d, g, au0_mM=0.25, wavelengths_nm=axis)
        est = fit(model, y + rng.normal(0, 0.01 * y.max(), y.size))
        q = est.get("d_mean_nm")
        assert q.uncertainty_model is not None and q.uncertainty_noise is not None
        errors.append(abs(q.value / d - 1))
        lo, hi = (
            (q.lower, q.upper)
            if q.lower is not None
            else (q.value - 2 * q.uncertainty, q.value + 2 * q.uncertainty)
        )
        covered += lo <= d <= hi
    assert np.median(errors) <= 0.05
    assert covered >= 0.9 * len(cases)
