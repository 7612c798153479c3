"""The chart protocol every chart keeps (models/charts/base.py): an invalid observation is
counted and never charted, and the update after a signal starts the chart afresh, an invalid
one too."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthwatch.models.charts.cusum import Cusum, SelfStartingCusum
from synthwatch.models.charts.ewma import Ewma
from synthwatch.models.charts.multivariate import HotellingT2, Mewma
from synthwatch.models.charts.pca import PcaMonitor
from synthwatch.models.charts.univariate import Shewhart, Sprt

UNIVARIATE = {
    "shewhart": lambda: Shewhart(rules=("N1",)),
    "western_electric": lambda: Shewhart(rules="western_electric"),
    "nelson": lambda: Shewhart(rules="nelson"),
    "nelson_general_code": lambda: _general(Shewhart(rules="nelson")),
    "sprt": lambda: Sprt(),
    "cusum": lambda: Cusum(h=4.0, head_start=2.0),
    "self_starting_cusum": lambda: SelfStartingCusum(h=3.0),
    "ewma": lambda: Ewma(),
}
_REF = np.random.default_rng(5).normal(size=(60, 3))
MULTIVARIATE = {
    "hotelling_t2": lambda: HotellingT2(_REF),
    "mewma": lambda: Mewma(np.zeros(3), np.eye(3), h=10.0),
    "pca_monitor": lambda: PcaMonitor(_REF, n_components=2),
}
INVALID = (math.nan, math.inf, None, "a")


def _general(chart: Shewhart) -> Shewhart:
    chart._fast = False
    return chart


def _state(chart) -> tuple:
    s = chart.statistic
    return (
        chart.drift_detected,
        chart.reason,
        chart.n_seen,
        "nan" if s != s else s,
    )


def _feed_both(make, stream, bad_after, invalid) -> int:
    """Chart a gets ``invalid`` after every point where ``bad_after(i, a)`` holds; chart b
    never. Both must chart every valid point alike. Returns how many invalid were given."""
    a, b = make(), make()
    given_invalid = 0
    for i, x in enumerate(stream):
        a.update(x)
        b.update(x)
        assert _state(a) == _state(b), i
        if bad_after(i, a):
            signalled = a.drift_detected
            a.update(invalid)
            given_invalid += 1
            assert not a.drift_detected, f"{i}: an invalid observation is not a signal"
            assert a.reason == ""
            if not signalled:
                assert a.statistic == b.statistic or a.statistic != a.statistic, i
        assert a.n_invalid == b.n_invalid + given_invalid
    return given_invalid


def _shifted(seed: int, p: int | None = None) -> list:
    rng = np.random.default_rng(seed)
    size = (300,) if p is None else (300, p)
    x = np.concatenate([rng.normal(0, 1, size), rng.normal(2.5, 1, size), rng.normal(0, 1, size)])
    return x.tolist() if p is None else list(x)


@pytest.mark.parametrize("name", sorted(UNIVARIATE))
def test_an_invalid_observation_after_a_signal_restarts_the_chart(name):
    """After each signal chart a gets one invalid observation, chart b none: both chart the
    following points alike (a dropout right after an alarm used to carry the old sums on, so
    the next valid point alarmed again)."""
    signals = []
    for k, invalid in enumerate(INVALID):
        _feed_both(
            UNIVARIATE[name],
            _shifted(k),
            lambda i, a: a.drift_detected and signals.append(i) is None,
            invalid,
        )
    assert len(signals) >= 4, "the stream must make the chart signal"


@pytest.mark.parametrize("name", sorted(MULTIVARIATE))
def test_an_invalid_vector_after_a_signal_restarts_the_chart(name):
    signals = []
    for k, invalid in enumerate((None, [1.0, math.nan, 0.0], [1.0, 2.0], "abc")):
        _feed_both(
            MULTIVARIATE[name],
            _shifted(k, p=3),
            lambda i, a: a.drift_detected and signals.append(i) is None,
            invalid,
        )
    assert len(signals) >= 4, "the stream must make the chart signal"


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(sorted(UNIVARIATE)),
    stream=st.lists(st.floats(-6.0, 6.0), min_size=1, max_size=120),
    where=st.sets(st.integers(0, 119)),
    invalid=st.sampled_from(INVALID),
)
def test_invalid_observations_anywhere_change_nothing_but_their_count(name, stream, where, invalid):
    """Invalid observations put anywhere (after signals or not) leave every valid point's
    charting as it is without them."""
    _feed_both(UNIVARIATE[name], stream, lambda i, a: i in where, invalid)
