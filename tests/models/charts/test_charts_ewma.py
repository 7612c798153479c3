"""EWMA chart: exact and asymptotic limits, detection of a known shift, same as the MC."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from synthwatch.models.charts.ewma import Ewma
from synthwatch.models.charts.mc import ewma_block


def test_exact_limits_widen_to_the_asymptotic_ones():
    exact = Ewma(mu0=1.0, sigma=0.1, lam=0.2, L=3.0)
    asym = Ewma(mu0=1.0, sigma=0.1, lam=0.2, L=3.0, exact_limits=False)
    w_inf = 3.0 * 0.1 * math.sqrt(0.2 / 1.8)
    assert asym.limits == pytest.approx((1.0 - w_inf, 1.0 + w_inf))
    widths = []
    for i in range(1, 40):
        exact.update(1.0)
        widths.append(exact.limits[1] - 1.0)
        expected = w_inf * math.sqrt(1 - 0.8 ** (2 * i))
        assert widths[-1] == pytest.approx(expected)
    assert np.all(np.diff(widths) > 0) and widths[-1] == pytest.approx(w_inf, rel=1e-6)
    assert exact.statistic == 1.0


def test_the_first_point_is_judged_against_its_own_exact_limit():
    chart = Ewma(mu0=0.0, sigma=1.0, lam=0.1, L=3.0)
    chart.update(3.5)  # z1 = 0.35; exact limit at i = 1: 3 * 0.1 = 0.3
    assert chart.drift_detected and "upper limit 0.3" in chart.reason
    asym = Ewma(mu0=0.0, sigma=1.0, lam=0.1, L=3.0, exact_limits=False)
    asym.update(3.5)  # the asymptotic limit 0.688 is not reached
    assert not asym.drift_detected


@pytest.mark.parametrize("lam, L, shift, arl1", [(0.1, 2.814, 1.0, 10.3), (0.2, 2.962, 2.0, 3.7)])
def test_known_shift_is_caught_with_about_the_tabulated_delay(lam, L, shift, arl1):
    rng = np.random.default_rng(8)
    delays = []
    for _ in range(300):
        chart = Ewma(mu0=50.0, sigma=4.0, lam=lam, L=L, exact_limits=False)
        for i, v in enumerate(rng.normal(50.0 + 4.0 * shift, 4.0, 500)):
            chart.update(v)
            if chart.drift_detected:
                delays.append(i + 1)
                break
    assert np.mean(delays) == pytest.approx(arl1, rel=0.1)  # Lucas & Saccucci (1990)


def test_downward_shift_restart_and_invalid_values():
    chart = Ewma(mu0=0.0, sigma=1.0, lam=0.5, L=2.0)
    chart.update(None)
    chart.update(float("inf"))
    for v in [-3.0, -3.0, -3.0]:
        chart.update(v)
        if chart.drift_detected:
            break
    assert chart.drift_detected and "lower limit" in chart.reason
    chart.update(0.0)
    assert chart.statistic == 0.0 and not chart.drift_detected  # restarted at mu0
    assert chart.n_invalid == 2


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"lam": 0.0}, "lam"),
        ({"lam": 1.5}, "lam"),
        ({"L": -1}, "L"),
        ({"exact_limits": "yes"}, "exact"),
    ],
)
def test_ewma_validates_its_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Ewma(**kwargs)


@pytest.mark.parametrize("exact", [True, False])
def test_vectorised_monte_carlo_is_the_running_chart(exact):
    x = np.random.default_rng(10).standard_normal((300, 200)) + 0.7
    first, _ = ewma_block(x, np.zeros(200), 0, 0.2, 2.9, exact)
    for run in range(200):
        chart = Ewma(lam=0.2, L=2.9, exact_limits=exact)
        got = 0
        for i, v in enumerate(x[:, run]):
            chart.update(float(v))
            if chart.drift_detected:
                got = i + 1
                break
        assert got == first[run]


def test_ewma_resumes_identically_after_pickling():
    x = np.random.default_rng(1).normal(0.0, 1.0, 400) + np.r_[np.zeros(200), np.full(200, 0.6)]
    a = Ewma(lam=0.1, L=2.7)
    for v in x[:150]:
        a.update(v)
    b = pickle.loads(pickle.dumps(a))
    for v in x[150:]:
        a.update(v)
        b.update(v)
        assert (a.statistic, a.limits, a.reason) == (b.statistic, b.limits, b.reason)
