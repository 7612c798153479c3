"""Tabular CUSUM (fixed reference, FIR head start) and Hawkins' self-starting CUSUM."""

from __future__ import annotations

import math
import pickle
from datetime import datetime, timezone

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from synthwatch.contract.messages import Estimate, Quantity
from synthwatch.models.charts.cusum import Cusum, SelfStartingCusum
from synthwatch.models.charts.mc import cusum_block


def first_alarm(chart, x, start: int = 0) -> int | None:
    """Index of the first signal at or after ``start`` (earlier false alarms are ignored)."""
    for i, v in enumerate(x):
        chart.update(float(v))
        if chart.drift_detected and i >= start:
            return i
    return None


def shifted(seed: int, shift_sigma: float, n0: int = 300, n1: int = 300) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.r_[rng.normal(20.0, 2.0, n0), rng.normal(20.0 + 2.0 * shift_sigma, 2.0, n1)]


@pytest.mark.parametrize("shift", [1.0, -1.0, 2.0])
def test_two_sided_cusum_catches_a_known_shift_soon_after_it(shift):
    delays = []
    for seed in range(30):
        i = first_alarm(Cusum(mu0=20.0, sigma=2.0, k=0.5, h=5.0), shifted(seed, shift), 300)
        assert i is not None
        delays.append(i - 300)
    # ARL1 (Montgomery Table 9.3): 10.4 at 1 sigma, 4.01 at 2 sigma
    assert np.median(delays) == pytest.approx(10.4 if abs(shift) == 1 else 4.0, abs=3.0)


def test_one_sided_cusum_ignores_the_other_direction():
    x = shifted(1, -2.0)
    assert first_alarm(Cusum(mu0=20.0, sigma=2.0, sides="upper"), x) is None
    assert first_alarm(Cusum(mu0=20.0, sigma=2.0, sides="lower"), x, 300) >= 300


def test_fir_head_start_catches_an_initial_shift_sooner():
    rng = np.random.default_rng(5)
    plain, fir = [], []
    for _ in range(200):
        x = rng.normal(1.0, 1.0, 100)  # out of control from the start
        plain.append(first_alarm(Cusum(k=0.5, h=5.0), x))
        fir.append(first_alarm(Cusum(k=0.5, h=5.0, head_start=2.5), x))
    # Lucas & Crosier (1982) Table 2: ARL at 1 sigma 10.4 without and about 6.4 with h/2
    assert np.mean(plain) + 1 == pytest.approx(10.4, rel=0.15)
    assert np.mean(fir) + 1 == pytest.approx(6.35, rel=0.15)


def test_signal_reason_and_restart_at_head_start():
    c = Cusum(mu0=0.0, sigma=1.0, k=0.5, h=4.0, head_start=2.0)
    assert (c.s_hi, c.s_lo) == (2.0, 2.0)
    c.update(1.5)
    assert not c.drift_detected and c.s_hi == 3.0
    c.update(3.0)
    assert c.drift_detected and c.statistic > c.limit == 4.0
    assert c.reason.startswith("cusum: upper CUSUM 5.50 > h = 4.00")
    c.update(0.0)  # restart from the head start, then one step
    assert not c.drift_detected and c.s_hi == pytest.approx(1.5) and c.reason == ""


def test_reads_its_quantity_from_an_estimate():
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    est = Estimate(
        run_id="r",
        t=t0,
        sensor_id="uv1",
        model="psd_lognormal",
        model_version="1",
        measurement="psd",
        quantities=[
            Quantity(name="d_mean_nm", value=30.0, units="nm"),
            Quantity(name="gsd", value=1.1, units="1"),
        ],
    )
    c = Cusum(mu0=20.0, sigma=2.0, h=4.0, quantity="d_mean_nm")
    c.update(est)
    assert c.s_hi == pytest.approx(4.5) and c.drift_detected
    other = Cusum(quantity="zeta_mV")
    other.update(est)
    assert other.n_invalid == 1 and other.n_seen == 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"sigma": -1.0}, "sigma"),
        ({"h": 0.0}, "h"),
        ({"k": -0.1}, "k"),
        ({"sides": "both"}, "sides"),
        ({"head_start": 6.0}, "head_start"),
        ({"mu0": math.inf}, "mu0"),
    ],
)
def test_cusum_validates_its_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Cusum(**kwargs)


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), max_size=80))
def test_cusum_sums_stay_in_range_whatever_the_input(values):
    c = Cusum(k=0.5, h=3.0)
    for v in values:
        c.update(v)
        assert c.s_hi >= 0.0 and c.s_lo >= 0.0
        if math.isfinite(v):
            assert c.drift_detected == (c.statistic > 3.0)
        else:
            assert not c.drift_detected
    assert c.n_seen + c.n_invalid == len(values)


def test_vectorised_monte_carlo_is_the_running_chart():
    """charts_mc's CUSUM gives the same first signal as the class fed one value at a time."""
    z = np.random.default_rng(9).standard_normal((400, 300)) + 0.5
    for sides, hs in (("two", 0.0), ("upper", 2.0), ("lower", 0.0)):
        start = np.full(300, hs)
        first, _, _ = cusum_block(z, start, start, 0.5, 4.0, sides)
        for run in range(300):
            i = first_alarm(Cusum(k=0.5, h=4.0, sides=sides, head_start=hs), z[:, run])
            assert (0 if i is None else i + 1) == first[run]


def test_self_starting_cusum_standardises_to_n01_and_detects_a_shift():
    rng = np.random.default_rng(2)
    ss = SelfStartingCusum(k=0.5, h=8.0)
    us = []
    for v in rng.normal(250.0, 7.0, 3000):  # no mu0, no sigma given
        ss.update(v)
        us.append(ss.u)
    u = np.array(us[2:])
    assert abs(u.mean()) < 0.06 and u.std() == pytest.approx(1.0, abs=0.05)
    assert ss.running_mean == pytest.approx(250.0, abs=0.5)
    delays = []
    for seed in range(20):
        r = np.random.default_rng(100 + seed)
        x = np.r_[r.normal(250.0, 7.0, 100), r.normal(257.0, 7.0, 100)]
        i = first_alarm(SelfStartingCusum(k=0.5, h=5.0), x)
        assert i is not None
        delays.append(i - 100)
    assert 0 < np.median(delays) < 30


def test_self_starting_cusum_learns_afresh_after_a_signal():
    ss = SelfStartingCusum(k=0.5, h=4.0)
    for v in [1.0, 2.0, 1.5, 1.2, 1.8, 9.0, 9.5]:
        ss.update(v)
        if ss.drift_detected:
            break
    assert ss.drift_detected and "self_starting_cusum" in ss.reason
    ss.update(9.2)
    assert not ss.drift_detected and math.isnan(ss.u)  # learning the new regime


def test_cusums_resume_identically_after_pickling():
    x = shifted(4, 0.7)
    for cls, kw in (
        (Cusum, {"mu0": 20.0, "sigma": 2.0, "head_start": 1.0}),
        (SelfStartingCusum, {}),
    ):
        a = cls(**kw)
        for v in x[:250]:
            a.update(v)
        b = pickle.loads(pickle.dumps(a))
        for v in x[250:]:
            a.update(v)
            b.update(v)
            assert (a.statistic, a.drift_detected, a.reason) == (
                b.statistic,
                b.drift_detected,
                b.reason,
            )


def test_self_starting_u_is_the_exact_t_to_normal_transform():
    """Hill's transformation (from 20 df) agrees with scipy's exact ndtri(stdtr) to 1e-6."""
    from scipy import special

    x = np.random.default_rng(6).standard_t(3, 3000) * 2.0 + 40.0  # heavy tails: large |t| too
    ss = SelfStartingCusum(k=0.5, h=1e6 - 1)  # never signals: one regime
    worst = 0.0
    for n, v in enumerate(x, start=1):
        ss.update(v)
        if n >= 3:
            prev = x[: n - 1]
            t = (v - prev.mean()) / prev.std(ddof=1) * math.sqrt((n - 1) / n)
            exact = special.ndtri(special.stdtr(n - 2, t))
            if abs(exact) < 6:
                worst = max(worst, abs(ss.u - exact))
    assert worst < 1e-6


def test_self_starting_cusum_in_control_arl_is_the_fixed_charts():
    """U_n are iid N(0, 1): the run length is the fixed-reference chart's, plus 2 to learn."""
    from synthwatch.models.charts.arl import cusum_arl

    x = np.random.default_rng(8).normal(3.0, 0.4, 400_000)
    ss = SelfStartingCusum(k=0.5, h=4.0)
    signals = 0
    for v in x.tolist():
        ss.update(v)
        signals += ss.drift_detected
    assert x.size / signals == pytest.approx(cusum_arl(0.5, 4.0) + 2, rel=0.06)


def test_self_starting_u_is_exact_past_a_thousand_degrees_of_freedom():
    from scipy import special

    x = np.random.default_rng(8).normal(3.0, 0.5, 3000)
    x[2500] += 2.5  # a far tail point too
    ss = SelfStartingCusum(k=0.5, h=1e6)
    for i, v in enumerate(x):
        ss.update(float(v))
        if i in (25, 999, 1001, 1500, 2500, 2999):
            prev = x[:i]
            t = (v - prev.mean()) / (prev.std(ddof=1) * math.sqrt(1.0 + 1.0 / i))
            exact = special.ndtri(special.stdtr(i - 1, t))
            assert ss.u == pytest.approx(exact, abs=1e-7), i


def _hill_full(t: float, nu: float) -> float:
    """Hill (1970), Comm. ACM 13, 617, both corrections: the reference of the skip test."""
    a = nu - 0.5
    b = 48.0 * a * a
    w = math.sqrt(a * math.log1p(t * t / nu))
    w2 = w * w
    u = w + w * (w2 + 3.0) / b
    u -= (
        w
        * (((4.0 * w2 + 33.0) * w2 + 240.0) * w2 + 855.0)
        / (10.0 * b * (b + 0.8 * w2 * w2 + 100.0))
    )
    return u if t >= 0.0 else -u


@pytest.mark.parametrize(
    "nu", [20, 21, 30, 50, 68, 69, 84, 100, 140, 184, 300, 700, 1000, 1100, 4000]
)
def test_self_starting_u_error_bound_where_hills_second_correction_is_skipped(nu):
    """U (T^2 / nu from Welford's increment; Hill's second correction only where
    a = nu - 1/2 < 69 + 15 w^2) is within 1e-9 of Hill's full formula for |U| <= 8.3, so as
    close to the exact ndtri(stdtr(nu, t)) (its precise tail) as Hill's: 1e-7 for |U| < 6,
    1e-6 up to 8.3, from 20 degrees of freedom."""
    from scipy import special

    m = nu + 1  # observations before the one standardised
    prefix = np.random.default_rng(nu).normal(5.0, 2.0, m)
    chart = SelfStartingCusum(k=0.5, h=1e9)  # never signals
    for v in prefix:
        chart.update(float(v))
    blob = pickle.dumps(chart)
    mean, sd = prefix.mean(), prefix.std(ddof=1)
    scale = sd * math.sqrt((m + 1) / m)
    worst_hill = worst_exact = worst_far = 0.0
    for t in np.r_[np.linspace(-13.0, 13.0, 521), [1e-9, -1e-9, 0.0]]:
        c = pickle.loads(blob)
        x = float(mean + t * scale)
        c.update(x)
        t_exact = (x - mean) / scale  # the t of the x actually fed
        exact = -special.ndtri(special.stdtr(nu, -abs(t_exact)))
        exact = exact if t_exact >= 0 else -exact
        if abs(exact) > 8.3:
            continue
        worst_hill = max(worst_hill, abs(c.u - _hill_full(t_exact, nu)))
        if abs(exact) < 6.0:
            worst_exact = max(worst_exact, abs(c.u - exact))
        else:
            worst_far = max(worst_far, abs(c.u - exact))
    assert worst_hill < 1e-9
    assert worst_exact < 1e-7 and worst_far < 1e-6


def test_small_degrees_of_freedom_series_is_scipys_t_to_normal():
    """Below 20 degrees of freedom U is the finite series of A&S 26.7.3 (scipy's stdtr where
    A > 0.99), equal to scipy's ndtri(stdtr(nu, t)) (8.3 where that is not finite) to 1e-12."""
    from scipy import special

    from synthwatch.models.charts.cusum import _t_to_normal

    ts = np.r_[np.linspace(-70.0, 70.0, 7001), [0.0, -0.0, 1e-300, 63.6, 64.0, 1e300, -1e300]]
    for nu in range(1, 20):
        for t in ts.tolist():
            exact = float(special.ndtri(special.stdtr(float(nu), t)))
            if not math.isfinite(exact):
                exact = 8.3 if t > 0 else -8.3
            assert _t_to_normal(t, float(nu)) == pytest.approx(exact, rel=0, abs=1e-12), (nu, t)
