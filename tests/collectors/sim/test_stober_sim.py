"""The Stöber simulator: seeded, ordered contract messages, physics trends, events, labels."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthwatch.collectors.sim.stober import StoberSimulator, randles_cpe
from synthwatch.contract.messages import Descriptor, Label, Reading, RunStart, RunStop, encode

SHORT = dict(duration_s=12 * 3600.0, interval_s=300.0)


@pytest.fixture(scope="module")
def sim():
    return StoberSimulator(seed=2, p_bubble=0.05, p_spike=0.05, **SHORT)


@pytest.fixture(scope="module")
def msgs(sim):
    return list(sim.messages())


def test_message_sequence_and_contract(sim, msgs):
    assert isinstance(msgs[0], RunStart) and msgs[0].system == "SiO2-Stober"
    desc = msgs[1]
    assert isinstance(desc, Descriptor) and desc.kind == "impedance"
    assert desc.axis_units == "Hz" and len(desc.axis) == 60 and desc.cell_constant_per_cm == 0.5
    assert isinstance(msgs[-1], RunStop) and msgs[-1].status == "success"
    readings = [m for m in msgs if isinstance(m, Reading)]
    assert [r.seq for r in readings] == list(range(sim.n_readings)) == list(range(144))
    times = [m.t for m in msgs]
    assert times == sorted(times), "messages come in event-time order"
    for r in readings:
        assert len(r.values) == len(r.values_imag) == 60


def test_sign_convention_capacitive_z_imag_negative(msgs):
    r = next(m for m in msgs if isinstance(m, Reading) and m.seq == 10)
    mid = np.asarray(r.values_imag)[10:50]
    assert (mid < 0).all()
    assert np.asarray(r.values).min() > 0


def test_same_seed_same_bytes_other_seed_differs(sim, msgs):
    again = [encode(m) for m in StoberSimulator(seed=2, p_bubble=0.05, p_spike=0.05, **SHORT)]
    assert again == [encode(m) for m in msgs]
    other = [encode(m) for m in StoberSimulator(seed=3, p_bubble=0.05, p_spike=0.05, **SHORT)]
    assert other[5] != again[5]


def test_truth_trends(sim):
    truth = sim.truth
    d = np.array([p.d_mean_nm for p in truth])
    assert np.isnan(d[0]), "no particles before the induction time"
    grown = d[~np.isnan(d)]
    assert np.all(np.diff(grown) >= 0) and grown[-1] > 150
    r_ct = np.array([p.r_ct_ohm for p in truth])
    assert np.all(np.diff(r_ct) >= 0) and r_ct[-1] > 1.5 * r_ct[0]
    kappa = np.array([p.conductivity_s_per_m for p in truth])
    assert kappa[-1] < kappa[0]
    r_s = np.array([p.r_s_ohm for p in truth])
    np.testing.assert_allclose(r_s * kappa, 50.0)  # R_s = K / kappa, K = 0.5 /cm = 50 /m


def test_noise_is_one_percent_proportional(sim):
    quiet = StoberSimulator(seed=2, p_bubble=0.0, p_spike=0.0, **SHORT)
    rel = []
    for k, z in quiet.sweeps():
        z0 = quiet.impedance(k)
        rel.append(np.concatenate([(z - z0).real, (z - z0).imag]) / np.tile(np.abs(z0), 2))
    assert np.std(np.concatenate(rel)) == pytest.approx(0.01, rel=0.05)


def test_events_change_the_sweep(sim):
    truth = sim.truth
    hit = [p.seq for p in truth if p.bubble or p.spike]
    assert hit, "5 % + 5 % of 144 sweeps"
    for k in hit:
        p = truth[k]
        clean = randles_cpe(sim.frequencies_hz, p.r_s_ohm, p.r_ct_ohm, p.cpe_q_s_alpha, p.cpe_alpha)
        assert np.max(np.abs(sim.impedance(k) / clean - 1)) > 0.2


def test_labels_are_delayed_and_sampled_every_two_hours(sim, msgs):
    labels = [m for m in msgs if isinstance(m, Label)]
    assert labels and all(lab.quantity == "d_mean_nm" and lab.units == "nm" for lab in labels)
    for lab in labels:
        delay = lab.t - lab.sample_t
        assert timedelta(hours=3) <= delay <= timedelta(hours=4)
        assert (lab.sample_t - sim.start).total_seconds() % 7200 == 0
        assert lab.t <= sim.start + timedelta(seconds=sim.duration_s)
    truth = {p.t: p.d_mean_nm for p in sim.truth}
    for lab in labels:
        assert lab.value == pytest.approx(truth[lab.sample_t], rel=0.12)
    late = sim.late_labels
    assert late and all(lab.t > sim.start + timedelta(seconds=sim.duration_s) for lab in late)


@pytest.mark.parametrize(
    "kw",
    [
        {"seed": -1},
        {"interval_s": 0.0},
        {"noise_rel": -0.1},
        {"p_bubble": 0.7, "p_spike": 0.7},
        {"k_h_per_s": 1e-4, "k_c_per_s": 1e-4},
        {"d_nucleus_nm": 300.0},
        {"alpha0": 1.5},
        {"frequencies_hz": [1.0, 2.0]},
        {"frequencies_hz": [10.0, 5.0, 20.0]},
    ],
)
def test_bad_arguments_are_refused(kw):
    with pytest.raises(ValueError):
        StoberSimulator(**{"duration_s": 3600.0, **kw})


@settings(max_examples=15)
@given(st.integers(0, 2**31), st.floats(0.0, 0.3), st.floats(0.0, 0.3))
def test_any_seed_gives_ordered_finite_valid_messages(seed, p_bubble, p_spike):
    sim = StoberSimulator(
        seed=seed, duration_s=4 * 3600.0, interval_s=900.0, p_bubble=p_bubble, p_spike=p_spike
    )
    msgs = list(sim.messages())
    assert [m.t for m in msgs] == sorted(m.t for m in msgs)
    for m in msgs:
        if isinstance(m, Reading):
            z = np.asarray(m.values) + 1j * np.asarray(m.values_imag)
            assert np.isfinite(z).all() and (z.real > 0).all()
        if isinstance(m, Label):
            assert m.value > 0 and m.sample_t < m.t
