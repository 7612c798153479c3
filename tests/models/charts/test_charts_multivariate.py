"""Hotelling T², MEWMA and PCA monitoring (T², SPE, contributions, batch-wise unfolding)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from synthwatch.models.charts.multivariate import HotellingT2, Mewma, mewma_h, phase1_t2
from synthwatch.models.charts.pca import PcaMonitor, spe_limit, unfold_batchwise, unfolded_names

NAMES = ("d_mean_nm", "sd_nm", "conc_nM", "conversion", "peak_nm")


def reference(m: int = 80, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(5, 5))
    cov = a @ a.T / 5 + np.eye(5) * 0.2
    mean = np.array([15.0, 2.0, 3.0, 0.9, 522.0])
    return rng.multivariate_normal(mean, cov, size=m), mean, cov


def test_t2_phase2_limit_is_the_f_limit():
    ref, _, _ = reference()
    chart = HotellingT2(ref, alpha=0.01, quantities=NAMES)
    m, p = ref.shape
    ucl = p * (m + 1) * (m - 1) / (m * (m - p)) * stats.f.ppf(0.99, p, m - p)
    assert chart.limit == pytest.approx(ucl)


def test_t2_false_alarm_rate_in_phase2_is_alpha():
    """Averaged over reference sets, the phase II F limit gives the nominal alpha."""
    rates = []
    for seed in range(20):
        ref, mean, cov = reference(seed=seed)
        chart = HotellingT2(ref, alpha=0.01)
        new = np.random.default_rng(1000 + seed).multivariate_normal(mean, cov, size=2000)
        hits = 0
        for x in new:
            chart.update(x)
            hits += chart.drift_detected
        rates.append(hits / 2000)
    assert np.mean(rates) == pytest.approx(0.01, abs=0.002)


def test_t2_detects_a_shift_and_names_the_quantity():
    ref, mean, cov = reference()
    chart = HotellingT2(ref, alpha=0.001, quantities=NAMES)
    x = mean.copy()
    x[2] += 6 * np.sqrt(cov[2, 2])
    chart.update(dict(zip(NAMES, x)))
    assert chart.drift_detected and chart.top_contributors(1) == ("conc_nM",)
    assert chart.contributions.sum() == pytest.approx(chart.statistic)
    assert "conc_nM" in chart.reason and "UCL" in chart.reason
    chart.update({"d_mean_nm": 1.0})  # incomplete: counted, not used
    assert chart.n_invalid == 1 and not chart.drift_detected


def test_phase1_screening_finds_the_outliers():
    ref, mean, cov = reference(m=60)
    ref[[7, 31]] += 8 * np.sqrt(np.diag(cov))
    ph = phase1_t2(ref, alpha=0.001)
    assert {7, 31} <= set(ph.outliers.tolist()) and len(ph.outliers) <= 3


@pytest.mark.parametrize(
    "ref, match",
    [
        (np.ones((3, 5)), "more than 6"),
        (np.c_[np.arange(20.0), 2 * np.arange(20.0)], "singular"),
        (np.r_[np.ones((1, 2)) * np.nan, np.random.default_rng(0).normal(size=(20, 2))], "row 0"),
    ],
)
def test_t2_reference_is_validated(ref, match):
    with pytest.raises(ValueError, match=match):
        HotellingT2(ref)


def test_mewma_limit_by_simulation_gives_its_arl0_and_detects_small_shifts():
    p, lam = 3, 0.2
    h = mewma_h(p, lam, arl0=100.0, n_runs=3000, seed=1)
    # in-control ARL of the running chart on fresh seeds
    rng = np.random.default_rng(7)
    lengths = []
    for _ in range(400):
        chart = Mewma(np.zeros(p), np.eye(p), h=h, lam=lam)
        for i in range(5000):
            chart.update(rng.standard_normal(p))
            if chart.drift_detected:
                lengths.append(i + 1)
                break
    assert np.mean(lengths) == pytest.approx(100.0, rel=0.15)
    # a 1 sigma shift in one quantity: MEWMA is faster than T2 at the same ARL0
    delays_m, delays_t = [], []
    ref = rng.standard_normal((500, p))
    t2_alpha = 1 / 100.0
    for _ in range(100):
        m = Mewma(np.zeros(p), np.eye(p), h=h, lam=lam, quantities=("a", "b", "c"))
        t = HotellingT2(ref, alpha=t2_alpha)
        dm = dt = None
        for i in range(500):
            x = rng.standard_normal(p) + np.array([1.0, 0.0, 0.0])
            m.update(x)
            t.update(x)
            if dm is None and m.drift_detected:
                dm = i + 1
                assert m.top_contributors(1) == ("a",) or "a" in m.reason
            if dt is None and t.drift_detected:
                dt = i + 1
            if dm and dt:
                break
        delays_m.append(dm)
        delays_t.append(dt)
    assert np.mean(delays_m) < 0.5 * np.mean(delays_t)


def test_mewma_validates():
    with pytest.raises(ValueError, match="mu0, cov"):
        Mewma([0.0, 0.0], np.eye(3), h=10.0)
    with pytest.raises(ValueError, match="lam"):
        Mewma([0.0], [[1.0]], h=10.0, lam=2.0)
    with pytest.raises(ValueError, match="max_cells"):
        mewma_h(2, 0.1, arl0=1e6)


def test_spe_limit_holds_its_alpha():
    rng = np.random.default_rng(3)
    latent = rng.normal(size=(5000, 2))
    load = rng.normal(size=(2, 8))
    data = latent @ load + 0.3 * rng.normal(size=(5000, 8))
    mon = PcaMonitor(data[:1000], n_components=2, alpha=0.05)
    hits = np.array([mon.update(x) or mon.statistic > mon.limit for x in data[1000:]])
    assert hits.mean() == pytest.approx(0.05, abs=0.015)
    assert spe_limit(np.array([]), 0.05) == np.inf


def test_pca_contributions_sum_to_the_statistics_and_point_at_the_fault():
    rng = np.random.default_rng(4)
    latent = rng.normal(size=(300, 2))
    data = latent @ rng.normal(size=(2, 6)) + 0.2 * rng.normal(size=(300, 6))
    names = tuple("abcdef")
    mon = PcaMonitor(data[:200], explained=0.8, quantities=names)
    assert mon.n_components_used == 2
    x = data[250].copy()
    x[4] += 3.0
    mon.update(x)
    assert mon.drift_detected and "SPE" in mon.reason and mon.top_contributors(1) == ("e",)
    assert mon.spe_contributions.sum() == pytest.approx(mon.statistic)
    assert mon.t2_contributions.sum() == pytest.approx(mon.t2)


def test_batchwise_unfolding_layout():
    b = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)  # 2 batches, 3 times, 4 quantities
    u = unfold_batchwise(b)
    names = unfolded_names(("w", "x", "y", "z"), 3)
    assert u.shape == (2, 12) and names[5] == "x@1" and u[1, 5] == b[1, 1, 1]
    with pytest.raises(ValueError, match="batches"):
        unfold_batchwise(np.zeros((2, 3)))


def test_pca_validates():
    with pytest.raises(ValueError, match="constant"):
        PcaMonitor(np.c_[np.ones(10), np.arange(10.0)])
    with pytest.raises(ValueError, match="n_components"):
        PcaMonitor(np.random.default_rng(0).normal(size=(10, 3)), n_components=5)


def test_multivariate_charts_resume_identically_after_pickling():
    ref, mean, cov = reference()
    x = np.random.default_rng(5).multivariate_normal(mean + 0.3, cov, size=200)
    for chart in (
        HotellingT2(ref),
        Mewma(mean, cov, h=15.0),
        PcaMonitor(ref, n_components=2),
    ):
        for v in x[:100]:
            chart.update(v)
        copy = pickle.loads(pickle.dumps(chart))
        for v in x[100:]:
            chart.update(v)
            copy.update(v)
            assert (chart.statistic, chart.drift_detected, chart.reason) == (
                copy.statistic,
                copy.drift_detected,
                copy.reason,
            )


@settings(max_examples=50)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.text(max_size=3),
            st.floats(),
            st.lists(st.floats(width=32), max_size=6),
            st.dictionaries(st.sampled_from(NAMES), st.floats(width=32), max_size=5),
        ),
        max_size=20,
    )
)
def test_multivariate_charts_never_raise_on_bad_input(values):
    ref, mean, cov = reference()
    for chart in (
        HotellingT2(ref, quantities=NAMES),
        Mewma(mean, cov, h=15.0, quantities=NAMES),
        PcaMonitor(ref, n_components=2, quantities=NAMES),
    ):
        for v in values:
            assert chart.update(v) is None
        assert chart.n_seen + chart.n_invalid == len(values)
