"""False-alarm budget per 24 h -> each chart's ARL0 and limit; AR(1) whitening."""

from __future__ import annotations

import math

import numpy as np
import pytest

from synthwatch.models.charts.arl import cusum_arl, ewma_arl
from synthwatch.models.charts.budget import limit_for_budget, split_budget
from synthwatch.models.charts.cusum import Cusum
from synthwatch.models.charts.mc import cusum_run_lengths
from synthwatch.models.charts.residuals import Ar1Whitener, fit_ar1


def test_one_chart_one_alarm_a_day_at_1_hz():
    b = split_budget(1.0, 1.0)
    assert b.arl0 == pytest.approx(86400.0) and b.samples_per_day == 86400.0
    assert b.arl0_hours == pytest.approx(24.0)


@pytest.mark.parametrize("split", ["sidak", "bonferroni"])
def test_split_over_charts(split):
    b = split_budget(2.0, 2.0, n_charts=5, split=split)
    p_family = 2.0 / 43200.0
    # the family's probability of no alarm on a sample
    none = (1 - 1 / b.arl0) ** 5
    if split == "sidak":
        assert 1 - none == pytest.approx(p_family, rel=1e-9)
    else:
        assert b.arl0 == pytest.approx(5 / p_family)
        assert 1 - none <= p_family
    assert ("Šidák" if split == "sidak" else "Bonferroni") in b.explanation


def test_limit_for_budget_gives_the_arl0_and_explains_it():
    b = split_budget(1.0, 1.0, n_charts=3)
    cus = limit_for_budget(b, "cusum", k=0.5)
    assert cusum_arl(0.5, cus.limit) == pytest.approx(b.arl0, rel=1e-4)
    ewm = limit_for_budget(b, "ewma", lam=0.1)
    assert ewma_arl(0.1, ewm.limit) == pytest.approx(b.arl0, rel=1e-4)
    she = limit_for_budget(b, "shewhart")
    assert she.limit > 4.0
    assert (
        "h = " in cus.explanation
        and "ARL0 = " in cus.explanation
        and "3 chart(s)" in cus.explanation
    )
    # the textbook h = 5 is far from this budget
    assert cus.limit > 10.0
    t2 = limit_for_budget(b, "t2")
    assert t2.limit_name == "alpha" and t2.limit == pytest.approx(1 / b.arl0)
    pca = limit_for_budget(b, "pca")
    assert 1 - (1 - pca.limit) ** 2 == pytest.approx(1 / b.arl0)
    with pytest.raises(ValueError, match="chart"):
        limit_for_budget(b, "mewma")


def test_false_alarms_a_day_match_the_budget_by_simulation():
    """A budget of 48 alarms a day at 60 s sampling: ARL0 = 30 samples; 20000 simulated runs."""
    b = split_budget(48.0, 60.0)
    lim = limit_for_budget(b, "cusum", k=0.5)
    rl = cusum_run_lengths(k=0.5, h=lim.limit, n_runs=20_000, seed=5)
    alarms_per_day = b.samples_per_day / rl.arl
    assert alarms_per_day == pytest.approx(48.0, rel=0.03)


@pytest.mark.parametrize(
    "args, match",
    [
        ((0.0, 1.0), "false_alarms_per_day"),
        ((1.0, 0.0), "sample_interval_s"),
        ((90000.0, 1.0), "at least one alarm per sample"),
        ((1.0, 1.0, 0), "n_charts"),
        ((1.0, 1.0, 2, "holm"), "split"),
    ],
)
def test_budget_validates(args, match):
    with pytest.raises(ValueError, match=match):
        split_budget(*args)


def ar1(phi: float, n: int, seed: int, mu: float = 0.0, sigma_e: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    e = rng.normal(0.0, sigma_e, n)
    x = np.empty(n)
    x[0] = e[0] / math.sqrt(1 - phi**2)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + e[t]
    return x + mu


def test_fit_ar1_recovers_the_parameters():
    fit = fit_ar1(ar1(0.9, 20000, 1, mu=300.0, sigma_e=0.5))
    assert fit.phi == pytest.approx(0.9, abs=0.01)
    assert fit.mu == pytest.approx(300.0, abs=0.1)
    assert fit.sigma_e == pytest.approx(0.5, rel=0.02)
    with pytest.raises(ValueError, match="constant"):
        fit_ar1(np.ones(50))
    with pytest.raises(ValueError, match="at least 10"):
        fit_ar1([1.0, 2.0, 3.0])


def test_whitener_learns_online_then_freezes_and_residuals_are_white():
    x = ar1(0.8, 6000, 2, mu=5.0)
    w = Ar1Whitener(n_fit=1000)
    res = []
    for v in x:
        w.update(v)
        res.append(w.residual)
    r = np.array(res)
    assert np.isnan(r[:1000]).all() and w.ready
    r = r[1000:]
    assert abs(np.corrcoef(r[1:], r[:-1])[0, 1]) < 0.05
    assert r.std() == pytest.approx(1.0, abs=0.05)
    assert w.fit.phi == pytest.approx(0.8, abs=0.05)


def test_cusum_on_residuals_keeps_its_false_alarm_rate_where_raw_does_not():
    x = ar1(0.7, 40000, 3)
    fit = fit_ar1(x[:5000])
    raw = Cusum(mu0=fit.mu, sigma=float(x[:5000].std()), h=5.0)
    w = Ar1Whitener(mu=fit.mu, phi=fit.phi, sigma_e=fit.sigma_e)
    res = Cusum(h=5.0)
    n_raw = n_res = 0
    for v in x[5000:]:
        raw.update(v)
        w.update(v)
        res.update(w.residual)
        n_raw += raw.drift_detected
        n_res += res.drift_detected
    expected = 35000 / cusum_arl(0.5, 5.0)  # ~75
    assert n_res == pytest.approx(expected, rel=0.3)
    assert n_raw > 5 * expected


def test_whitener_survives_bad_and_constant_input():
    w = Ar1Whitener(n_fit=11)
    for v in [1.0] * 30 + [None, float("nan")]:
        w.update(v)
    assert not w.ready and "constant" in w.fit_error and w.n_invalid == 2
    with pytest.raises(ValueError, match="all three"):
        Ar1Whitener(mu=1.0)
    with pytest.raises(ValueError, match="phi"):
        Ar1Whitener(mu=0.0, phi=1.0, sigma_e=1.0)


def test_phase1_widening_meets_the_budget_in_expectation():
    from synthwatch.models.charts.budget import expected_alarm_rate, phase1_scale_sd

    b = split_budget(1.0, 30.0, n_charts=5)
    nominal = limit_for_budget(b, "cusum", k=0.5)
    iid = limit_for_budget(b, "cusum", k=0.5, n_phase1=480)
    ar1 = limit_for_budget(b, "cusum", k=0.5, n_phase1=480, phi=0.8)
    assert nominal.limit < iid.limit < ar1.limit
    # at the widened limit, the expected rate over the phase I errors is the budgeted one
    rate = expected_alarm_rate("cusum", ar1.limit, 480, 0.8, k=0.5)
    assert rate == pytest.approx(1.0 / b.arl0, rel=0.02)
    # without widening it is well above it
    assert expected_alarm_rate("cusum", nominal.limit, 480, 0.8, k=0.5) > 1.5 / b.arl0
    assert "widened to h = " in ar1.explanation and "AR(1) phi 0.80" in ar1.explanation
    # phi's error dominates: sqrt((1 + phi) / ((1 - phi) n)) against 1 / sqrt(2 (n - 2))
    assert phase1_scale_sd(3600, 0.8) == pytest.approx(math.hypot(0.05, 1 / math.sqrt(7196)))
    sh = limit_for_budget(b, "shewhart", n_phase1=480, phi=0.8)
    assert sh.limit == pytest.approx(limit_for_budget(b, "shewhart", n_phase1=480).limit)
    with pytest.raises(ValueError, match="n_phase1: expected an integer >= 10"):
        limit_for_budget(b, "cusum", n_phase1=3)


def test_sprt_budget_limit_is_widened_for_phase_i():
    """The SPRT's alpha comes from the Markov chain, and a phase I of 480 values makes it
    smaller: the expected false-alarm rate over the sigma estimate's error is the budget's."""
    from synthwatch.models.charts.arl import sprt_arl
    from synthwatch.models.charts.budget import limit_for_budget, split_budget

    budget = split_budget(1.0, 30.0, 5)
    plain = limit_for_budget(budget, "sprt", shift=1.0, beta=0.01)
    assert sprt_arl(plain.limit, 0.01, 1.0) == pytest.approx(budget.arl0, rel=1e-3)
    wide = limit_for_budget(budget, "sprt", shift=1.0, beta=0.01, n_phase1=480, phi=0.0)
    assert 0.4 * plain.limit < wide.limit < 0.9 * plain.limit
    assert "widened to alpha = " in wide.explanation
    # a 5 % larger sd than phase I saw doubles the false alarms of the unwidened test
    assert sprt_arl(plain.limit, 0.01, 1.0, scale=1.05) < 0.6 * budget.arl0
