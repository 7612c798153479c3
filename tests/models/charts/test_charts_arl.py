"""ARL by the Markov chain against published tables and Monte Carlo; calibrate() round trip."""

from __future__ import annotations

import numpy as np
import pytest

from synthwatch.models.charts.arl import calibrate, cusum_arl, ewma_arl, shewhart_arl
from synthwatch.models.charts.mc import cusum_run_lengths, ewma_run_lengths

# Montgomery, Introduction to Statistical Quality Control, Table 9.3 (two-sided tabular CUSUM,
# k = 1/2): shift (sigma) -> ARL for h = 4 and h = 5.
MONTGOMERY_CUSUM = {
    4.0: {0.0: 168.0, 0.5: 26.6, 1.0: 8.38, 2.0: 3.34, 3.0: 2.19},
    5.0: {0.0: 465.0, 0.5: 38.0, 1.0: 10.4, 2.0: 4.01, 3.0: 2.57},
}
# Lucas & Saccucci, Technometrics 32 (1990) 1, as reprinted in Montgomery Table 9.11
# (EWMA, asymptotic limits, ARL0 = 500).
LUCAS_SACCUCCI = {
    (0.1, 2.814): {0.0: 500.0, 0.5: 31.3, 1.0: 10.3, 2.0: 4.4, 3.0: 2.9},
    (0.2, 2.962): {0.0: 500.0, 0.5: 41.8, 1.0: 10.5, 2.0: 3.7, 3.0: 2.4},
}


def rounding(published: float) -> float:
    """Half a unit of the last digit printed (the tables give 3, or 2, significant digits)."""
    digits = 2 if published < 10 and len(f"{published:g}") <= 3 else 3
    return 0.5 * 10 ** (len(str(int(published))) - digits)


@pytest.mark.parametrize("h", [4.0, 5.0])
def test_cusum_arl_reproduces_montgomery_table(h):
    for shift, published in MONTGOMERY_CUSUM[h].items():
        got = cusum_arl(k=0.5, h=h, shift=shift)
        assert abs(got - published) <= max(0.01 * published, rounding(published)), (shift, got)


@pytest.mark.parametrize("lam, L", sorted(LUCAS_SACCUCCI))
def test_ewma_arl_reproduces_lucas_saccucci(lam, L):
    for shift, published in LUCAS_SACCUCCI[(lam, L)].items():
        got = ewma_arl(lam=lam, L=L, shift=shift)
        assert abs(got - published) <= max(0.01 * published, rounding(published)), (shift, got)


def test_markov_chain_agrees_with_monte_carlo_zero_and_steady_state():
    for shift in (0.0, 1.0):
        mc = cusum_run_lengths(k=0.5, h=4.0, shift=shift, n_runs=4000, seed=1)
        assert mc.arl == pytest.approx(cusum_arl(0.5, 4.0, shift), abs=4 * mc.standard_error)
    ss = cusum_run_lengths(k=0.5, h=4.0, shift=1.0, n_runs=4000, seed=2, warmup=50)
    assert ss.n_dropped > 0
    expected = cusum_arl(0.5, 4.0, 1.0, steady_state=True)
    assert ss.arl == pytest.approx(expected, abs=4 * ss.standard_error)
    assert expected < cusum_arl(0.5, 4.0, 1.0)  # steady state is a little faster
    ew = ewma_run_lengths(lam=0.2, L=2.962, shift=1.0, n_runs=4000, seed=3, warmup=50)
    assert ew.arl == pytest.approx(
        ewma_arl(0.2, 2.962, 1.0, steady_state=True), abs=4 * ew.standard_error
    )


def test_head_start_shortens_the_out_of_control_arl():
    plain = cusum_arl(0.5, 5.0, 1.0)
    fir = cusum_arl(0.5, 5.0, 1.0, head_start=2.5)
    assert fir < 0.7 * plain
    assert cusum_arl(0.5, 5.0, head_start=2.5) > 0.9 * cusum_arl(0.5, 5.0)
    mc = cusum_run_lengths(k=0.5, h=5.0, shift=1.0, head_start=2.5, n_runs=4000, seed=4)
    assert mc.arl == pytest.approx(fir, abs=4 * mc.standard_error)


def test_one_sided_is_twice_two_sided_in_control():
    assert cusum_arl(0.5, 5.0, sides="upper") == pytest.approx(2 * cusum_arl(0.5, 5.0), rel=1e-9)
    assert cusum_arl(0.5, 5.0, 1.0, sides="lower") > 1e4


@pytest.mark.parametrize("arl0", [50.0, 370.4, 1e4, 1e6])
def test_calibrate_round_trip(arl0):
    h = calibrate("cusum", arl0, k=0.5)
    assert cusum_arl(0.5, h) == pytest.approx(arl0, rel=1e-4)
    h1 = calibrate("cusum", arl0, k=0.25, sides="upper")
    assert cusum_arl(0.25, h1, sides="upper") == pytest.approx(arl0, rel=1e-4)
    L = calibrate("ewma", arl0, lam=0.1)
    assert ewma_arl(0.1, L) == pytest.approx(arl0, rel=1e-4)
    Ls = calibrate("shewhart", arl0)
    assert shewhart_arl(Ls) == pytest.approx(arl0, rel=1e-9)


def test_calibrate_finds_the_published_limits():
    assert calibrate("ewma", 500.0, lam=0.1) == pytest.approx(2.814, abs=0.003)
    assert calibrate("ewma", 500.0, lam=0.2) == pytest.approx(2.962, abs=0.003)
    assert calibrate("shewhart", 370.4) == pytest.approx(3.0, abs=1e-3)


def test_arguments_are_validated():
    with pytest.raises(ValueError, match="arl0"):
        calibrate("cusum", 0.5)
    with pytest.raises(ValueError, match="chart"):
        calibrate("adwin", 100.0)
    with pytest.raises(ValueError, match="head_start"):
        cusum_arl(0.5, 4.0, head_start=5.0)
    with pytest.raises(ValueError, match="n_states"):
        ewma_arl(0.1, 2.8, n_states=100)
    with pytest.raises(ValueError, match="lam"):
        ewma_arl(0.0, 2.8)


def test_mewma_chain_agrees_with_the_simulated_limit():
    """Runger & Prabhu's chain (asymptotic covariance) against mewma_h's seeded simulation."""
    from synthwatch.models.charts.arl import calibrate
    from synthwatch.models.charts.multivariate import mewma_h

    for p, lam in ((2, 0.1), (4, 0.2)):
        simulated = mewma_h(p, lam, arl0=200, n_runs=3000, exact_covariance=False)
        assert calibrate("mewma", 200, p=p, lam=lam) == pytest.approx(simulated, rel=0.01)


def test_sprt_arl0_is_wald_and_calibrates_back():
    from synthwatch.models.charts.arl import calibrate, sprt_arl, sprt_arl0

    # alpha = beta = 0.01, d = 1: A = -B = ln 99, E0[N] = 0.98 ln 99 / 0.5 = 9.006
    assert sprt_arl0(0.01, 0.01, 1.0) == pytest.approx(900.6, rel=1e-3)
    assert sprt_arl(calibrate("sprt", 5000.0, shift=1.5, beta=0.05), 0.05, 1.5) == pytest.approx(
        5000.0, rel=1e-6
    )
    with pytest.raises(ValueError, match="alpha, beta: expected probabilities"):
        sprt_arl0(0.7, 0.01, 1.0)


def test_sprt_markov_chain_agrees_with_the_running_test():
    """The chain's ARL0 and ARL1 against seeded runs of :class:`Sprt` (Wald's formula is off
    by the overshoot: about half the chain's ARL0 at d = 1)."""
    from synthwatch.models.charts.arl import sprt_arl, sprt_arl0
    from synthwatch.models.charts.univariate import Sprt

    rng = np.random.default_rng(11)
    for true_shift, n_runs in ((0.0, 600), (1.0, 2000)):
        lengths = []
        for _ in range(n_runs):
            chart, n = Sprt(alpha=0.05, beta=0.05, shift_sigma=1.0), 0
            while not chart.drift_detected:
                n += 1
                chart.update(float(rng.normal(true_shift, 1.0)))
            lengths.append(n)
        mean, se = np.mean(lengths), np.std(lengths) / np.sqrt(n_runs)
        assert abs(mean - sprt_arl(0.05, 0.05, 1.0, true_shift=true_shift)) < 3.5 * se
    assert sprt_arl(0.05, 0.05, 1.0) > 1.5 * sprt_arl0(0.05, 0.05, 1.0)
    # a shift in the other direction than the one tested for is not detected sooner
    assert sprt_arl(0.05, 0.05, -1.0, true_shift=-1.0) == pytest.approx(
        sprt_arl(0.05, 0.05, 1.0, true_shift=1.0)
    )
