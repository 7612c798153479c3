"""The flagged-frames alert rule: fires once, resolves with hysteresis."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from synthwatch.contract.messages import Estimate, Quantity
from synthwatch.models.alerts.quality import FlaggedFrames

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def est(k: int, flags: list[str]) -> Estimate:
    return Estimate(
        run_id="r1",
        t=T0 + timedelta(seconds=k),
        sensor_id="uv1",
        model="uvvis_features",
        model_version="1",
        measurement="uvvis_features",
        quantities=[Quantity(name="a_400_au", value=0.5, units="AU")],
        flags=flags,
    )


def test_fires_once_and_resolves():
    rule = FlaggedFrames(window=10, fire_fraction=0.3, resolve_fraction=0.1)
    states = []
    pattern = [[]] * 5 + [["dropout"]] * 6 + [[]] * 15
    for k, flags in enumerate(pattern):
        rule.update(est(k, flags))
        states += [(k, a.state) for a in rule.alerts]
    assert states == [(7, "firing"), (19, "resolved")]
    assert not rule.firing


def test_firing_message_is_actionable():
    rule = FlaggedFrames(window=2, fire_fraction=0.5, resolve_fraction=0.0)
    rule.update(est(0, ["saturated"]))
    (alert,) = rule.alerts
    assert alert.severity == "warning" and alert.sensor_id == "uv1"
    assert "saturated" in alert.message and "flow cell" in alert.message
    assert alert.rule == "flagged_frames:uv1"


def test_unwatched_flags_do_not_count():
    rule = FlaggedFrames(window=2, fire_fraction=0.5, resolve_fraction=0.0)
    for k in range(5):
        rule.update(est(k, ["haiss_out_of_range"]))
        assert rule.alerts == ()


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(window=0), "window"),
        (dict(fire_fraction=0.0), "fire_fraction"),
        (dict(fire_fraction=0.2, resolve_fraction=0.3), "resolve_fraction"),
        (dict(severity="loud"), "severity"),
    ],
)
def test_bad_arguments(kwargs, words):
    with pytest.raises(ValueError, match=words):
        FlaggedFrames(**kwargs)


@given(st.lists(st.booleans(), max_size=200))
def test_states_alternate(bad_frames):
    """Whatever the sequence, alerts alternate firing/resolved, starting with firing."""
    rule = FlaggedFrames(window=5, fire_fraction=0.4, resolve_fraction=0.0)
    states = []
    for k, bad in enumerate(bad_frames):
        rule.update(est(k, ["dropout"] if bad else []))
        states += [a.state for a in rule.alerts]
    assert states == ["firing", "resolved"] * (len(states) // 2) + ["firing"] * (len(states) % 2)
