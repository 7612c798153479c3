"""Shewhart run rules (each triggered by a constructed sequence) and Wald's SPRT."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from synthwatch.models.charts.univariate import RULES, Shewhart, Sprt

# For each rule: a sequence (in sigma units) whose last point, and only it, fires that rule
# alone among the rules of its set.
CASES = {
    "WE1": [0.1, -0.2, 3.2],
    "WE2": [0.5, 2.3, -0.5, 2.4],
    "WE3": [1.2, 0.3, 1.5, 1.1, 1.3],
    "WE4": [0.5, 0.2, 0.8, 0.3, 0.1, 0.6, 0.4, 0.2],
    "N1": [0.1, -3.5],
    "N2": [0.5, 0.2, 0.8, 0.3, 0.1, 0.6, 0.4, 0.2, 0.3],
    "N3": [-0.9, -0.5, -0.2, 0.1, 0.4, 0.7],
    "N4": [0.3, -0.3] * 7,
    "N5": [-2.5, 0.3, -2.1],
    "N6": [-1.5, -1.2, 0.2, -1.1, -1.7],
    "N7": [0.5, 0.2, -0.3, 0.4, 0.1, -0.2, 0.6, 0.3, -0.1, 0.2, 0.5, -0.4, 0.1, 0.3, -0.2],
    "N8": [1.5, -1.5, 1.2, -1.2, 1.6, -1.4, 1.3, -1.1],
}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_each_rule_fires_on_its_sequence(rule):
    chart = Shewhart(mu0=10.0, sigma=0.5, rules=(rule,))
    seq = CASES[rule]
    fired = []
    for z in seq:
        chart.update(10.0 + 0.5 * z)
        fired.append(chart.rule)
    assert fired[:-1] == [""] * (len(seq) - 1)
    assert fired[-1] == rule
    assert chart.drift_detected and rule in chart.reason and RULES[rule].split()[0] in chart.reason


@pytest.mark.parametrize("rule", sorted(CASES))
def test_the_rule_is_named_within_its_whole_set(rule):
    chart = Shewhart(rules="western_electric" if rule.startswith("WE") else "nelson")
    seq = CASES[rule]
    for z in seq[:-1]:
        chart.update(z)
        assert not chart.drift_detected, (rule, z, chart.reason)
    chart.update(seq[-1])
    assert chart.rule == rule


def test_runs_restart_after_a_signal():
    chart = Shewhart(rules=("WE4",))
    for _ in range(8):
        chart.update(0.5)
    assert chart.rule == "WE4"
    chart.update(0.5)  # the 9th point starts a new run
    assert not chart.drift_detected


def test_in_control_false_alarm_rate_of_western_electric_rules():
    """Champ & Woodall (1987): ARL0 of the four WE rules is 91.75 (so ~1.09 % of points)."""
    x = np.random.default_rng(11).standard_normal(200_000)
    chart = Shewhart(rules="western_electric")
    alarms = 0
    for v in x:
        chart.update(v)
        alarms += chart.drift_detected
    assert 200_000 / alarms == pytest.approx(91.75, rel=0.05)


def test_shewhart_one_point_rule_alone_has_arl0_370():
    x = np.random.default_rng(12).standard_normal(400_000)
    chart = Shewhart(rules="none")
    alarms = sum(chart.update(v) or chart.drift_detected for v in x)
    assert 400_000 / alarms == pytest.approx(370.4, rel=0.1)


def test_shewhart_validates():
    with pytest.raises(ValueError, match="rules"):
        Shewhart(rules="fancy")
    with pytest.raises(ValueError, match="unknown rule"):
        Shewhart(rules=("WE9",))
    with pytest.raises(ValueError, match="sigma"):
        Shewhart(sigma=0.0)
    with pytest.raises(ValueError, match="mu0"):
        Shewhart(mu0=math.nan)


@given(st.lists(st.one_of(st.floats(), st.none(), st.text(max_size=3)), max_size=60))
def test_shewhart_never_raises_and_counts_bad_values(values):
    chart = Shewhart(rules="nelson")
    for v in values:
        assert chart.update(v) is None
    bad = sum(1 for v in values if not isinstance(v, float) or not math.isfinite(v))
    assert chart.n_invalid == bad and chart.n_seen == len(values) - bad


def test_sprt_detects_the_stated_shift_and_accepts_mu0_in_control():
    rng = np.random.default_rng(21)
    test = Sprt(mu0=5.0, sigma=0.2, shift_sigma=1.0, alpha=0.001, beta=0.01)
    for v in rng.normal(5.0, 0.2, 500):
        test.update(v)
        assert not test.drift_detected
    assert test.n_accepted > 40
    delays = []
    for _ in range(200):
        t = test.clone()
        for i, v in enumerate(rng.normal(5.2, 0.2, 200)):
            t.update(v)
            if t.drift_detected:
                delays.append(i + 1)
                break
    # Wald's approximation of the mean sample number under H1: (A (1-b) + B b) / (d^2 / 2)
    a, b = math.log(0.99 / 0.001), math.log(0.01 / 0.999)
    asn = (a * 0.99 + b * 0.01) / 0.5
    assert len(delays) == 200 and np.mean(delays) == pytest.approx(asn, rel=0.25)
    assert "shift of +1 sigma accepted" in t.reason


def test_sprt_downward_shift_and_validation():
    test = Sprt(mu0=0.0, sigma=1.0, shift_sigma=-2.0)
    for _ in range(10):
        test.update(-2.0)
        if test.drift_detected:
            break
    assert test.drift_detected and test.statistic >= test.limits[1]
    with pytest.raises(ValueError, match="alpha"):
        Sprt(alpha=0.7)
    with pytest.raises(ValueError, match="shift_sigma"):
        Sprt(shift_sigma=0.0)


def test_resumes_identically_after_pickling_mid_run():
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, 300) + np.r_[np.zeros(150), np.full(150, 0.8)]
    for cls in (Shewhart, Sprt):
        a = cls()
        for v in x[:100]:
            a.update(v)
        b = pickle.loads(pickle.dumps(a))
        out_a, out_b = [], []
        for v in x[100:]:
            a.update(v)
            b.update(v)
            out_a.append((a.statistic, a.drift_detected, a.reason))
            out_b.append((b.statistic, b.drift_detected, b.reason))
        assert out_a == out_b


@pytest.mark.parametrize(
    "rules, L",
    [("western_electric", 3.0), (("WE2", "WE4"), 3.0), (("WE1", "WE3"), 2.5), ("nelson", 3.0),
     ("nelson", 2.5), (("N3", "N4", "N7"), 3.0)],
)  # fmt: skip
def test_fast_path_is_the_general_code(rules, L):
    """The table-driven path signals exactly where the general rules code does."""
    rng = np.random.default_rng(17)
    x = np.r_[rng.normal(0, 1, 5000), rng.normal(0.8, 1, 2000), np.zeros(20), [2.0, 1.0, -3.0],
              np.cumsum(rng.normal(0, 0.3, 1000)), np.round(rng.normal(0, 1, 3000), 1),
              np.tile([1.0, -1.0, 2.0, -2.0, 0.5], 40)]  # fmt: skip
    fast = Shewhart(L=L, rules=rules)
    slow = Shewhart(L=L, rules=rules)
    slow._fast = False
    assert fast._fast
    for v in x:
        fast.update(float(v))
        slow.update(float(v))
        assert (fast.rule, fast.reason, fast.statistic) == (slow.rule, slow.reason, slow.statistic)


@given(
    st.lists(
        st.one_of(
            st.floats(),
            st.none(),
            st.text(max_size=3),
            st.integers(),
            st.just(10**400),
            st.booleans(),
        ),
        max_size=60,
    )
)
def test_every_univariate_chart_counts_what_it_cannot_use_and_never_raises(values):
    from synthwatch.models.charts.cusum import Cusum, SelfStartingCusum
    from synthwatch.models.charts.ewma import Ewma

    def finite(v) -> bool:
        try:
            return math.isfinite(float(v))
        except OverflowError:
            return False

    usable = sum(
        1 for v in values if not isinstance(v, (str, bool)) and v is not None and finite(v)
    )
    for chart in (Shewhart(), Sprt(), Cusum(), SelfStartingCusum(), Ewma()):
        for v in values:
            assert chart.update(v) is None
            assert isinstance(chart.drift_detected, bool)
        assert (chart.n_seen, chart.n_invalid) == (usable, len(values) - usable)


@pytest.mark.parametrize(
    "rules", ["western_electric", "nelson", ("N3", "N7"), ("N4", "N8"), ("N1", "N7")]
)
def test_fast_path_is_the_general_code_across_invalid_points_boundaries_and_pickling(rules):
    """The list-indexed rows agree with the general code on the zone boundaries (exactly 0,
    +-1, +-2, +-L sigma), on invalid points right after a signal (the chart restarts at them),
    and after a pickle round trip in the middle of a stream."""
    rng = np.random.default_rng(23)
    edges = [0.0, 1.0, -1.0, 2.0, -2.0, 3.0, -3.0, 0.5, -0.5]
    x = np.r_[rng.normal(0.3, 1.2, 4000), rng.choice(edges, 3000), rng.normal(0, 1, 2000)]
    x = x.tolist()
    for i in range(0, len(x), 97):  # invalid points: NaN, inf, a string, None
        x[i] = (math.nan, math.inf, "a", None)[i % 4]
    fast = Shewhart(rules=rules)
    slow = Shewhart(rules=rules)
    slow._fast = False
    signals = 0
    for i, v in enumerate(x):
        if i == len(x) // 2:
            fast = pickle.loads(pickle.dumps(fast))
        fast.update(v)
        slow.update(v)
        signals += slow.drift_detected
        assert (fast.rule, fast.reason, fast.statistic, fast.n_seen, fast.n_invalid) == (
            slow.rule,
            slow.reason,
            slow.statistic,
            slow.n_seen,
            slow.n_invalid,
        ), i
    assert signals > 10
