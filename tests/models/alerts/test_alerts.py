"""Alert engine: lifecycle (fire, hold, resolve, no flapping) and each rule kind."""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta, timezone

import numpy as np

from synthwatch.contract.messages import Estimate, Quantity, RunStart
from synthwatch.models.alerts.engine import AlertEngine
from synthwatch.models.alerts.rules import Rule

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def est(t_s, measurement="psd", flags=(), sensor="uv1", **values):
    return Estimate(
        run_id="r1",
        t=T0 + timedelta(seconds=t_s),
        sensor_id=sensor,
        model="m",
        model_version="1",
        measurement=measurement,
        quantities=[Quantity(name=k, value=v, units="nm") for k, v in values.items()],
        flags=list(flags),
    )


def feed(engine, messages):
    out = []
    for m in messages:
        engine.update(m)
        out += [(m.t if hasattr(m, "t") else m, a) for a in engine.alerts]
    return out


def engine(*rules):
    e = AlertEngine(rules=tuple(rules))
    e.update(RunStart(run_id="r1", t=T0, reactor="R1", system="Au-citrate"))
    return e


HIGH = Rule(
    name="size_high",
    kind="threshold",
    quantity="psd.d_mean_nm",
    above=20.0,
    for_s=30.0,
    clear_s=30.0,
    hysteresis=0.05,
    severity="critical",
    advice="check the citrate ratio",
)


def test_a_short_spike_does_not_fire_a_held_excursion_does():
    e = engine(HIGH)
    spike = [est(0, d_mean_nm=15), est(10, d_mean_nm=25), est(20, d_mean_nm=15)]
    assert feed(e, spike) == []
    held = [est(30 + 10 * k, d_mean_nm=22) for k in range(5)]
    alerts = feed(e, held)
    assert [a.state for _, a in alerts] == ["firing"]
    a = alerts[0][1]
    assert a.severity == "critical" and a.rule == "size_high" and a.values["d_mean_nm"] == 22
    assert "mean size 22 nm, above the limit 20 nm" in a.message
    assert a.message.endswith("check the citrate ratio")
    assert e.firing == [("size_high", "uv1")]


def test_hysteresis_stops_flapping_and_resolution_is_held():
    e = engine(HIGH)
    feed(e, [est(10 * k, d_mean_nm=21) for k in range(5)])
    # hovering just under the limit (inside the 5 % band): still firing, nothing announced
    hover = [est(50 + 10 * k, d_mean_nm=19.5 if k % 2 else 20.5) for k in range(20)]
    assert feed(e, hover) == []
    # clearly back, but only for 20 s: not yet resolved; then 30 s: resolved once
    assert feed(e, [est(300, d_mean_nm=17), est(320, d_mean_nm=17)]) == []
    alerts = feed(e, [est(330, d_mean_nm=17), est(340, d_mean_nm=17)])
    assert [a.state for _, a in alerts] == ["resolved"]
    assert "back within the limit" in alerts[0][1].message
    assert e.firing == []


def test_envelope_rule_reads_golden_z_and_names_other_deviations():
    rule = Rule(name="envelope_size", kind="envelope", quantity="psd.d_mean_nm", z=3.0)
    e = engine(rule)
    feed(e, [est(600, d_mean_nm=18.2)])
    alerts = feed(
        e,
        [
            est(
                2520,
                measurement="golden_batch",
                z_psd_d_mean_nm=3.1,
                z_kinetics_k2_per_s=2.4,
                t2=12.0,
            )
        ],
    )
    ((_, a),) = alerts
    assert a.message.startswith("mean size 18.2 nm, 3.1 sd above the golden batch at 42 min")
    assert "kinetics_k2_per_s +2.4 sd" in a.message


def test_t2_rule_fires_and_names_the_contributors():
    rule = Rule(name="t2", kind="t2", limit=13.8)
    e = engine(rule)
    alerts = feed(
        e, [est(60, measurement="golden_batch", t2=20.0, z_psd_gsd=4.0, z_psd_d_mean_nm=0.5)]
    )
    assert (
        "T2 20.0 above 13.8" in alerts[0][1].message and "psd_gsd +4.0 sd" in alerts[0][1].message
    )


def test_drift_rule_detects_a_step_and_resolves_later():
    rule = Rule(
        name="drift_peak",
        kind="drift",
        quantity="uvvis_features.lambda_spr_nm",
        threshold=20.0,
        clear_s=300.0,
    )
    e = engine(rule)
    rng = np.random.default_rng(0)
    values = np.r_[520 + rng.normal(0, 0.3, 300), 524 + rng.normal(0, 0.3, 600)]
    msgs = [
        est(2 * k, measurement="uvvis_features", lambda_spr_nm=float(v))
        for k, v in enumerate(values)
    ]
    alerts = feed(e, msgs)
    states = [a.state for _, a in alerts]
    assert states[0] == "firing" and "resolved" in states
    fired_at = (alerts[0][0] - T0).total_seconds()
    assert 600 <= fired_at <= 700  # the step is at 600 s
    assert "drift detected by Page-Hinkley" in alerts[0][1].message
    assert all(a != b for a, b in zip(states, states[1:]))  # strictly alternating


def test_stale_rule_fires_on_a_clock_tick_and_resolves_when_data_returns():
    rule = Rule(name="uv_stale", kind="stale", quantity="uvvis_features.*", max_gap_s=60.0)
    e = engine(rule)
    feed(e, [est(0, measurement="uvvis_features", a_400_au=0.1)])
    assert feed(e, [T0 + timedelta(seconds=50)]) == []
    alerts = feed(e, [T0 + timedelta(seconds=90), T0 + timedelta(seconds=120)])
    assert [a.state for _, a in alerts] == ["firing"]
    assert "no uvvis_features data for" in alerts[0][1].message
    alerts = feed(e, [est(130, measurement="uvvis_features", a_400_au=0.1)])
    assert [a.state for _, a in alerts] == ["resolved"]


def test_flag_rule_counts_within_its_window():
    rule = Rule(
        name="bubbles",
        kind="flag",
        quantity="impedance_fit.*",
        flags=("kk_invalid",),
        count=3,
        window_s=600.0,
        clear_s=600.0,
    )
    e = engine(rule)
    sparse = [
        est(1000 * k, measurement="impedance_fit", flags=["kk_invalid"], r_s_ohm=1.0)
        for k in range(3)
    ]
    assert feed(e, sparse) == []
    burst = [
        est(5000 + 60 * k, measurement="impedance_fit", flags=["kk_invalid"], r_s_ohm=1.0)
        for k in range(3)
    ]
    assert [a.state for _, a in feed(e, burst)] == ["firing"]
    calm = [est(5200 + 60 * k, measurement="impedance_fit", r_s_ohm=1.0) for k in range(20)]
    assert [a.state for _, a in feed(e, calm)] == ["resolved"]


def test_rules_are_per_sensor_and_state_survives_pickle():
    e = engine(HIGH)
    feed(e, [est(10 * k, d_mean_nm=22, sensor="uvA") for k in range(5)])
    feed(e, [est(10 * k, d_mean_nm=15, sensor="uvB") for k in range(5)])
    assert e.firing == [("size_high", "uvA")]
    copy = pickle.loads(pickle.dumps(e))
    later = [est(100 + 10 * k, d_mean_nm=15, sensor="uvA") for k in range(6)]
    assert [a.model_dump() for _, a in feed(copy, later)] == [
        a.model_dump() for _, a in feed(e, later)
    ]


def test_threshold_relative_to_the_recipe_setpoint():
    rule = Rule(
        name="temp",
        kind="threshold",
        quantity="scalar.temperature_degC",
        relative_to="T_degC",
        above=2.0,
        below=-2.0,
    )
    e = AlertEngine(rules=(rule,))
    e.update(
        RunStart(run_id="r1", t=T0, reactor="R1", system="Au-citrate", recipe={"T_degC": 100.0})
    )
    alerts = feed(e, [est(0, measurement="scalar", temperature_degC=101.5),
                      est(30, measurement="scalar", temperature_degC=103.1)])  # fmt: skip
    assert [a.state for _, a in alerts] == ["firing"]
    assert "above the limit 102" in alerts[0][1].message
    # a run whose recipe has no setpoint: the rule sleeps
    e2 = engine(rule)
    assert feed(e2, [est(0, measurement="scalar", temperature_degC=150.0)]) == []
