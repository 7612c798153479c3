"""Control-chart rules of the alert engine (models/alerts/chart_rules.py)."""

from __future__ import annotations

import json
import math
import pickle
import re
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from synthwatch.contract.messages import Estimate, Quantity, RunStart
from synthwatch.models.alerts.catalogue import is_known, known_names
from synthwatch.models.alerts.chart_rules import ChartRunner, explain_chart_rules
from synthwatch.models.alerts.engine import AlertEngine
from synthwatch.models.alerts.rules import parse_rules
from synthwatch.models.charts.arl import calibrate, cusum_arl, mewma_arl, sprt_arl
from synthwatch.models.charts.budget import split_budget

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
START = RunStart(run_id="r1", t=T0, reactor="R1", system="Au-citrate")
PSD = ("d_mean_nm", "gsd", "number_per_ml")


def parse(text: str):
    return parse_rules(text, "rules.toml", is_known, known_names())


def rule_text(kind: str, **keys) -> str:
    lines = ["[[rule]]", f'name = "{kind}_rule"', f'kind = "{kind}"']
    lines += [f"{k} = {json.dumps(v)}" for k, v in keys.items()]  # TOML reads these as JSON
    return "\n".join(lines) + "\n"


UNIVARIATE = {
    "shewhart": {"L": 3.5, "run_rules": "western_electric"},
    "cusum": {"h": 5.0},
    "ewma": {"L": 3.0, "lam": 0.2},
    "sprt": {"alpha": 0.001, "shift_sigma": 1.0},
}
MULTIVARIATE = {
    "t2": {"alpha": 0.001},
    "mewma": {"h": 15.0, "lam": 0.2},
    "spe": {"alpha": 0.001, "n_components": 1},
}


def estimate(s: float, values: dict[str, float], measurement: str = "psd", flags=()) -> Estimate:
    return Estimate(
        run_id="r1",
        t=T0 + timedelta(seconds=s),
        sensor_id="uv1",
        model="m",
        model_version="1",
        measurement=measurement,
        quantities=[Quantity(name=k, value=v, units="1") for k, v in values.items()],
        flags=list(flags),
    )


def stream(
    seed: int, n: int, shift_at: int | None = None, shift: float = 2.0, dt: float = 30.0,
    against: bool = False,
):  # fmt: skip
    """Correlated psd quantities every dt s; d_mean_nm moves by ``shift`` sd at ``shift_at``
    (and gsd by ``-shift`` sd with ``against``: against their correlation)."""
    rng = np.random.default_rng(seed)
    cov = np.array([[1.0, 0.6, 0.3], [0.6, 1.0, 0.2], [0.3, 0.2, 1.0]])
    x = rng.multivariate_normal(np.zeros(3), cov, size=n)
    if shift_at is not None:
        x[shift_at:, 0] += shift
        if against:
            x[shift_at:, 1] -= shift
    scale = np.array([0.5, 0.01, 1e9])
    centre = np.array([15.0, 1.1, 5e11])
    vals = centre + x * scale
    return [estimate(k * dt, dict(zip(PSD, v.tolist()))) for k, v in enumerate(vals)]


def run(engine: AlertEngine, messages) -> list:
    engine.update(START)
    fired = []
    for m in messages:
        engine.update(m)
        fired += [a for a in engine.alerts if a.state == "firing"]
    return fired


def chart_rule(kind: str, **extra) -> str:
    keys = {**(UNIVARIATE.get(kind) or MULTIVARIATE[kind]), "warmup_s": 1800.0, **extra}
    if kind in MULTIVARIATE:
        keys["quantities"] = [f"psd.{q}" for q in PSD]
    else:
        keys["quantity"] = "psd.d_mean_nm"
    return rule_text(kind, **keys)


# ------------------------------------------------------------------------------ parsing
@pytest.mark.parametrize(
    "kind, keys, line, pattern",
    [
        ("shewhart", {"quantity": "psd.d_mean_nm"}, 1, "L: a shewhart rule needs 'L' or a budget"),
        ("shewhart", {"quantity": "psd.d_mean_nm", "false_alarms_per_day": 1.0,
                      "run_rules": "nelson"}, 6, "run_rules: the budget calibrates"),
        ("shewhart", {"quantity": "psd.d_mean_nm", "L": 3.0, "run_rules": "wecl"}, 6,
         "run_rules: expected one of"),
        ("cusum", {"quantity": "psd.d_mean_nm", "h": 5.0, "false_alarms_per_day": 1.0}, 5,
         "h: give either 'h' or 'false_alarms_per_day'"),
        ("cusum", {"quantity": "psd.d_mean_nm", "h": -1.0}, 5, "h: expected > 0"),
        ("cusum", {"quantity": "psd.d_men_nm", "h": 5.0}, 4,
         r"quantity: 'psd.d_men_nm' is not one synthwatch estimates \(did you mean "
         r"'psd.d_mean_nm'\?\)"),
        ("cusum", {"quantity": "psd.d_mean_nm", "hh": 5.0}, 5, "hh: not a key of a cusum rule "
         r"\(did you mean 'h'\?\)"),
        ("cusum", {"quantity": "psd.d_mean_nm", "h": 5.0, "residuals": "ar2"}, 6,
         "residuals: expected 'none' or 'ar1'"),
        ("cusum", {"quantity": "psd.d_mean_nm", "h": 5.0, "residuals": "ar1", "sigma": 1.0}, 7,
         "sigma: not with residuals = 'ar1'"),
        ("ewma", {"quantity": "psd.d_mean_nm", "L": 3.0, "lam": 1.5}, 6, "lam: expected 0 < lam"),
        ("ewma", {"quantity": "psd.d_mean_nm", "false_alarms_per_day": 0}, 5,
         "false_alarms_per_day: expected > 0"),
        ("sprt", {"quantity": "psd.d_mean_nm", "alpha": 0.7}, 5, "alpha: expected a probability"),
        ("sprt", {"quantity": "psd.d_mean_nm", "alpha": 0.01, "shift_sigma": 0}, 6,
         "shift_sigma: expected a non-zero shift"),
        ("t2", {"quantities": ["psd.d_mean_nm", "psd.gsd"], "limit": 12.0}, 5,
         "limit: a t2 rule with 'quantities' is the Hotelling T2 chart"),
        ("t2", {"quantities": ["psd.d_mean_nm"], "alpha": 0.01}, 4,
         "quantities: expected a list of at least two"),
        ("t2", {"quantities": ["psd.d_mean_nm", "kinetics.conversion"], "alpha": 0.01}, 4,
         "quantities: expected quantities of one measurement"),
        ("mewma", {"quantities": ["psd.d_mean_nm", "psd.gzd"], "h": 10.0}, 4,
         r"quantities: 'psd.gzd' is not one synthwatch estimates \(did you mean 'psd.gsd'\?\)"),
        ("mewma", {"quantity": "psd.d_mean_nm", "h": 10.0}, 4, "quantity: a mewma rule takes"),
        ("mewma", {"quantities": ["psd.d_mean_nm", "psd.gsd"], "h": 10.0,
                   "sample_interval_s": 30.0}, 6, "sample_interval_s: only used with"),
        ("spe", {"quantities": ["psd.d_mean_nm", "psd.gsd"], "alpha": 0.01, "n_components": 2},
         6, "n_components: expected fewer than the 2 quantities"),
        ("spe", {"quantities": ["psd.d_mean_nm", "psd.gsd"]}, 1, "alpha: a spe rule needs"),
        ("cusum", {"quantity": "psd.d_mean_nm", "h": 5.0, "transform": "sqrt"}, 6,
         "transform: expected 'none' or 'log'"),
    ],
)  # fmt: skip
def test_parse_errors_name_the_line_and_the_field(kind, keys, line, pattern):
    with pytest.raises(ValueError, match=rf"^rules\.toml:{line}: rule '{kind}_rule': {pattern}"):
        parse(rule_text(kind, **keys))


def test_old_golden_batch_t2_rule_still_parses():
    (old,) = parse(rule_text("t2", limit=20.0))
    assert old.kind == "t2" and old.chart is None and old.limit == 20.0
    (new,) = parse(rule_text("t2", quantities=["psd.d_mean_nm", "psd.gsd"], alpha=0.01))
    assert (
        new.kind == "t2"
        and new.chart is not None
        and new.chart.quantities
        == (
            "psd.d_mean_nm",
            "psd.gsd",
        )
    )


@pytest.mark.parametrize("kind", [*UNIVARIATE, *MULTIVARIATE])
def test_each_kind_parses_with_its_limit_or_a_budget(kind):
    (rule,) = parse(chart_rule(kind))
    assert rule.chart is not None and not rule.chart.budgeted
    keys = {k: v for k, v in (UNIVARIATE.get(kind) or MULTIVARIATE[kind]).items()}
    keys.pop({"shewhart": "L", "cusum": "h", "ewma": "L"}.get(kind, "alpha" if kind != "mewma"
             else "h"))  # fmt: skip
    keys.pop("run_rules", None)
    text = chart_rule(kind, false_alarms_per_day=1.0, sample_interval_s=30.0)
    text = re.sub(r"^(L|h|alpha|run_rules) = .*\n", "", text, flags=re.M)
    (rule,) = parse(text)
    assert rule.chart.budgeted and rule.chart.sample_interval_s == 30.0


# ------------------------------------------------------------------------------ the budget
def test_budget_to_limit_splits_over_the_budgeted_chart_rules():
    text = (
        rule_text("cusum", quantity="psd.d_mean_nm", false_alarms_per_day=1.0,
                  sample_interval_s=30.0, k=0.5)
        + rule_text("ewma", quantity="psd.gsd", false_alarms_per_day=1.0, sample_interval_s=30.0)
        + rule_text("cusum", quantity="psd.gsd", h=5.0).replace("cusum_rule", "fixed")
    )  # fmt: skip
    rules = parse(text)
    lines = explain_chart_rules(rules)
    assert len(lines) == 3
    arl0 = split_budget(1.0, 30.0, 2).arl0
    h = calibrate("cusum", arl0, k=0.5)
    assert f"h = {h:.2f}" in lines[0] and "over 2 chart(s)" in lines[0]
    assert "a sample every 30 s (declared)" in lines[0]
    assert round(cusum_arl(0.5, h)) == round(arl0)
    assert "h = 5 as given (no budget)" in lines[2]
    engine = AlertEngine(rules=tuple(rules))
    assert engine.explanations == lines


def test_measured_sample_interval_is_explained_after_the_warm_up():
    (rule,) = parse(chart_rule("cusum", false_alarms_per_day=1.0).replace("h = 5.0\n", ""))
    engine = AlertEngine(rules=(rule,))
    assert "measured over the warm-up" in engine.explanations[0]
    run(engine, stream(1, 120))
    ready = engine.explanations[1]
    h = calibrate("cusum", split_budget(1.0, 30.0, 1).arl0)
    assert ready.startswith("[uv1] cusum_rule") and "(measured over the warm-up)" in ready
    assert f"h = {h:.2f}" in ready and "phase I on 61 values" in ready


def test_mewma_and_sprt_budget_limits_give_the_arl0():
    arl0 = 2880.0
    h = calibrate("mewma", arl0, p=3, lam=0.1)
    assert mewma_arl(3, 0.1, h) == pytest.approx(arl0, rel=1e-4)
    alpha = calibrate("sprt", arl0, shift=1.0, beta=0.01)
    assert sprt_arl(alpha, 0.01, 1.0) == pytest.approx(arl0, rel=1e-4)


def test_mewma_markov_chain_reproduces_lowry_et_al():
    # Lowry, Woodall, Champ & Rigdon (1992), Table 3: p = 2, r = 0.1, H = 8.66 -> ARL0 200
    assert mewma_arl(2, 0.1, 8.66) == pytest.approx(200.0, rel=0.02)


# ------------------------------------------------------------------------ fire / not fire
#: limits with an in-control ARL of several thousand samples (a phase I of 300 values)
QUIET = {"shewhart": {"L": 4.0, "run_rules": "none"}, "cusum": {"h": 8.0},
         "ewma": {"L": 4.0}, "sprt": {"alpha": 1e-5}, "t2": {"alpha": 1e-4},
         "mewma": {"h": 24.0}, "spe": {"alpha": 1e-4}}  # fmt: skip


@pytest.mark.parametrize("kind", [*UNIVARIATE, *MULTIVARIATE])
@pytest.mark.parametrize("budget", [False, True])
def test_each_kind_fires_on_a_shift_and_not_on_a_clean_stream(kind, budget):
    extra = {"false_alarms_per_day": 0.1} if budget else QUIET[kind]
    text = re.sub(r"^(L|h|alpha|run_rules) = .*\n", "", chart_rule(kind), flags=re.M)
    keys = "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in extra.items())
    (rule,) = parse(text.replace("warmup_s = 1800.0", "warmup_s = 9000.0") + keys)
    clean = run(AlertEngine(rules=(rule,)), stream(11, 1000))
    assert clean == []
    shifted = stream(12, 1000, shift_at=700, shift=3.0, against=kind in MULTIVARIATE)
    fired = run(AlertEngine(rules=(rule,)), shifted)
    assert fired, kind
    delay = (fired[0].t - T0).total_seconds() / 30.0 - 700
    assert 0 <= delay < 60


def test_messages_name_chart_statistic_limit_rule_and_contributors():
    (shew,) = parse(chart_rule("shewhart"))
    fired = run(AlertEngine(rules=(shew,)), stream(12, 500, shift_at=400, shift=2.5))
    msg = fired[0].message
    assert msg.startswith("shewhart chart on psd.d_mean_nm: shewhart: WE")
    assert re.search(r"WE\d \(.*\): x = [\d.]+, z = [\d.]+", msg)
    assert set(fired[0].values) == {"statistic", "limit"}
    (cusum,) = parse(chart_rule("cusum"))
    msg = run(AlertEngine(rules=(cusum,)), stream(12, 500, shift_at=400))[0].message
    assert re.search(r"upper CUSUM [\d.]+ > h = 5\.00", msg) and " at 3" in msg
    for kind in MULTIVARIATE:
        (rule,) = parse(chart_rule(kind))
        shifted = stream(12, 500, shift_at=400, shift=3.0, against=True)
        fired = run(AlertEngine(rules=(rule,)), shifted)
        msg = next(a.message for a in fired if a.t >= shifted[400].t)
        assert msg.startswith(f"{kind} chart on psd.d_mean_nm, psd.gsd, psd.number_per_ml")
        assert re.search(r"contributions: (d_mean_nm|gsd) [\d.]+, (d_mean_nm|gsd) ", msg), msg


def test_resolves_after_clear_s_without_a_new_signal():
    (rule,) = parse(chart_rule("cusum", clear_s=600.0))
    msgs = stream(12, 700, shift_at=400)
    msgs = msgs[:410] + stream(13, 700)[410:]  # the shift lasts 10 samples
    engine = AlertEngine(rules=(rule,))
    engine.update(START)
    states = []
    for m in msgs:
        engine.update(m)
        states += [(a.state, a.message) for a in engine.alerts]
    assert [s for s, _ in states] == ["firing", "resolved"]
    assert "no further signal for 10 min" in states[1][1]


def test_ar1_residuals_keep_an_autocorrelated_stream_quiet():
    rng = np.random.default_rng(3)
    x = np.empty(3000)
    x[0] = 0.0
    for t in range(1, x.size):
        x[t] = 0.85 * x[t - 1] + rng.normal()
    msgs = [estimate(30.0 * k, {"d_mean_nm": 15 + 0.1 * v}) for k, v in enumerate(x)]
    raw = parse(rule_text("cusum", quantity="psd.d_mean_nm", h=5.0, warmup_s=21600.0))
    white = parse(
        rule_text("cusum", quantity="psd.d_mean_nm", h=5.0, warmup_s=21600.0, residuals="ar1")
    )
    n_raw = len(run(AlertEngine(rules=tuple(raw)), msgs))
    n_white = len(run(AlertEngine(rules=tuple(white)), msgs))
    assert n_raw > 5 * max(n_white, 1) and n_white <= 10  # ARL0 465: 5 expected
    engine = AlertEngine(rules=tuple(white))
    run(engine, msgs[:800])
    assert "AR(1) phi 0.8" in engine.explanations[1]


def test_kinetics_residual_z_with_given_mu0_and_sigma():
    (rule,) = parse(
        rule_text("cusum", quantity="kinetics.residual_z", h=5.0, mu0=0.0, sigma=1.0, warmup_s=0.0)
    )
    rng = np.random.default_rng(4)
    z = np.r_[rng.normal(0, 1, 300), rng.normal(1.5, 1, 50)]
    msgs = [estimate(30.0 * k, {"residual_z": v}, "kinetics") for k, v in enumerate(z)]
    engine = AlertEngine(rules=(rule,))
    fired = run(engine, msgs)
    assert fired and (fired[0].t - T0).total_seconds() / 30.0 >= 300
    assert "mu0 0, sigma 1" in engine.explanations[1]


def test_flagged_and_missing_values_are_not_charted():
    (rule,) = parse(chart_rule("cusum"))
    engine = AlertEngine(rules=(rule,))
    run(engine, stream(1, 100))
    runner = engine._states[("cusum_rule", "uv1")].detector
    n = runner.chart.n_seen
    engine.update(estimate(4000.0, {"d_mean_nm": 99.0}, flags=["saturated"]))
    engine.update(estimate(4030.0, {"gsd": 1.1}))
    assert runner.chart.n_seen == n and engine.alerts == []


def test_phase1_failure_is_explained_and_learning_restarts():
    (rule,) = parse(chart_rule("cusum"))
    runner = ChartRunner(rule, 0)
    for k in range(80):
        runner.update(T0 + timedelta(seconds=30 * k), 15.0)
    assert not runner.ready and "phase I failed" in runner.explanation


# ------------------------------------------------------------------------ clone / pickle
def test_engine_with_chart_rules_clones_pickles_and_resumes_identically():
    rules = tuple(parse("".join(chart_rule(k).replace(f"{k}_rule", f"r_{k}")
                                for k in [*UNIVARIATE, *MULTIVARIATE])))  # fmt: skip
    msgs = stream(21, 700, shift_at=450, shift=1.5)
    engine = AlertEngine(rules=rules)
    run(engine, msgs[:420])
    copy = pickle.loads(pickle.dumps(engine))
    a = [(x.rule, x.t, x.message) for m in msgs[420:] for x in (engine.update(m), engine.alerts)[1]]
    b = [(x.rule, x.t, x.message) for m in msgs[420:] for x in (copy.update(m), copy.alerts)[1]]
    assert a == b and len({r for r, _, _ in a}) >= 5
    fresh = engine.clone()
    assert fresh.rules == rules and fresh.explanations == explain_chart_rules(rules)
    assert fresh.firing == []


# ------------------------------------------------------------------ the configuration
def test_rule_file_errors_and_start_explanations_from_the_configuration(tmp_path, caplog):
    import logging

    from synthwatch.contract.config import ConfigError, load_config
    from synthwatch.stream.runtime.alerting import load_rules, registry_from_config

    bad = tmp_path / "bad.toml"
    bad.write_text(rule_text("ewma", quantity="psd.d_mean_nm", L=3.0, lam=2.0))
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(bad))}:6: rule 'ewma_rule': lam:"):
        load_rules(bad)
    good = tmp_path / "rules.toml"
    good.write_text(rule_text("cusum", quantity="psd.d_mean_nm", false_alarms_per_day=1.0,
                              sample_interval_s=30.0, residuals="ar1"))  # fmt: skip
    cfg = load_config(env={"SYNTHWATCH_ALERTS__RULES_FILE": str(good)}, path=None)
    with caplog.at_level(logging.INFO, logger="synthwatch.stream.runtime.alerting"):
        registry = registry_from_config(cfg)
    assert any(r.chart for r in registry.alert_rules)
    assert "alert chart rule cusum_rule (cusum on psd.d_mean_nm, AR(1) residuals" in caplog.text
    assert "h = 6.81" in caplog.text


def test_log_transform_charts_the_logarithm_and_skips_non_positive_values():
    (rule,) = parse(chart_rule("cusum", transform="log", h=8.0))
    rng = np.random.default_rng(9)
    x = np.exp(rng.normal(np.log(15.0), 0.05, 600))
    x[450:] *= 1.2  # +18 % : 3.6 sd of the log
    msgs = [estimate(30.0 * k, {"d_mean_nm": v}) for k, v in enumerate(x)]
    engine = AlertEngine(rules=(rule,))
    fired = run(engine, msgs[:400])
    runner = engine._states[("cusum_rule", "uv1")].detector
    assert runner.chart.mu0 == pytest.approx(math.log(15.0), abs=0.02)
    assert "cusum on log psd.d_mean_nm" in engine.explanations[1]
    n = runner.chart.n_seen
    engine.update(estimate(30.0 * 400, {"d_mean_nm": -1.0}))
    assert runner.chart.n_seen == n and engine.alerts == []
    for m in msgs[401:]:
        engine.update(m)
        fired += [a for a in engine.alerts if a.state == "firing"]
    assert fired and fired[0].t >= msgs[450].t
    assert fired[0].message.startswith("cusum chart on log psd.d_mean_nm: cusum: upper CUSUM")


# ------------------------------------------------------------------- phase I check
@pytest.mark.parametrize("kind", ["cusum", "t2"])
def test_phase1_warns_when_the_warm_up_is_not_stationary(kind):
    """A warm-up whose spread halves between its halves (a reaction settling) is named at
    start with what moved; a stationary one is not (the budget assumes stationarity)."""
    one = {"quantity": "psd.d_mean_nm"}
    keys = {"quantities": [f"psd.{q}" for q in PSD]} if kind == "t2" else one
    rules = parse(rule_text(kind, **keys, warmup_s=3600.0, false_alarms_per_day=1.0))
    for settling, warned in ((False, False), (True, True)):
        msgs = stream(seed=4, n=240)
        if settling:  # the first 30 min twice as noisy: d_mean's deviations doubled
            for m in msgs[:60]:
                q = m.quantities[0]
                m.quantities[0] = Quantity(name=q.name, value=15.0 + 2 * (q.value - 15.0),
                                           units=q.units)  # fmt: skip
        engine = AlertEngine(rules=rules)
        for m in msgs:
            engine.update(m)
        runner = engine._states[(f"{kind}_rule", "uv1")].detector
        assert runner.ready
        assert bool(runner.phase1_check) is warned
        text = engine.explanations[-1]
        assert ("WARNING phase I: psd.d_mean_nm: sd x0." in text) is warned, text
