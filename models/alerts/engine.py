"""The alert engine: rules evaluated on a run's estimates, with hold, hysteresis and de-duplication.

:class:`AlertEngine` is a run-level model. The worker feeds it every estimate of the run (the
golden batch's z-scores and T2 among them) and, in live operation, clock ticks (a ``datetime``)
so that silence is noticed. Each rule of :mod:`~synthwatch.models.alerts.rules` is tracked per
sensor through three states: ok, pending and firing.

* A condition that holds for ``for_s`` fires.
* It resolves once the value has been back inside the limit, less ``hysteresis``, for ``clear_s``.
  A value inside the hysteresis band keeps the state, so a quantity hovering at the limit
  cannot flap.
* Each transition is one :class:`~synthwatch.contract.messages.Alert`, firing or resolved, and
  only one: a firing rule is never re-announced.

Drift rules run a river detector (Page-Hinkley or ADWIN) on the quantity and fire on a
detection. They resolve after ``clear_s`` (default 600 s) without a new one.

Control-chart rules (``shewhart``, ``cusum``, ``ewma``, ``sprt``, ``t2`` with ``quantities``,
``mewma``, ``spe``) run a chart per sensor after a phase I warm-up
(:mod:`~synthwatch.models.alerts.chart_rules`), fire like drift rules on a signal, and their
budgets and limits are explained in :attr:`AlertEngine.explanations`.

Each alert carries a message a chemist can act on: what, how far, when, and what else deviates.
For example, ``mean size 18.2 nm, 3.1 sd above the golden batch at 42 min (also k2_per_s
+2.4 sd)``, followed by the rule's advice.

>>> from datetime import datetime, timedelta, timezone
>>> from synthwatch.contract.messages import Estimate, Quantity
>>> from synthwatch.models.alerts.rules import Rule
>>> rule = Rule(name="size_high", kind="threshold", quantity="psd.d_mean_nm", above=20.0,
...             for_s=30.0, clear_s=30.0, hysteresis=0.05, advice="check the citrate ratio")
>>> engine = AlertEngine(rules=(rule,))
>>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> def size(s, d):
...     return Estimate(run_id="r1", t=t0 + timedelta(seconds=s), sensor_id="uv1",
...         model="psd_lognormal", model_version="1", measurement="psd",
...         quantities=[Quantity(name="d_mean_nm", value=d, units="nm")])
>>> for s, d in [(0, 15.0), (60, 21.0), (80, 21.5), (100, 21.0), (120, 19.5), (200, 18.0),
...              (240, 18.2)]:
...     engine.update(size(s, d))
...     for a in engine.alerts:
...         print(s, a.state, a.message)
100 firing mean size 21 nm, above the limit 20 nm for 40 s at 2 min. check the citrate ratio
240 resolved mean size 18.2 nm, back within the limit 20 nm at 4 min.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from river import drift as river_drift

from synthwatch.contract.messages import Alert, Estimate, RunStart
from synthwatch.models.alerts.chart_rules import MULTIVARIATE, ChartRunner, explain_chart_rules
from synthwatch.models.alerts.rules import Rule
from synthwatch.models.base import Model
from synthwatch.models.declare import Context, register

__all__ = ["AlertEngine", "DEFAULT_RULES", "LABELS"]

#: how a quantity reads in a message
LABELS = {
    "d_mean_nm": "mean size",
    "gsd": "size spread (gsd)",
    "lambda_spr_nm": "plasmon peak",
    "au0_mM": "Au(0)",
    "conversion": "conversion",
    "r_s_ohm": "solution resistance",
    "r_ct_ohm": "charge-transfer resistance",
    "conductivity_s_per_m": "conductivity",
    "number_per_ml": "particle number",
    "k2_per_s": "growth constant k2",
}
#: rules in force when no rule file is given
DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(name="uvvis_stale", kind="stale", quantity="uvvis_features.*", max_gap_s=120.0,
         severity="critical", advice="check the spectrometer connection and the acquisition"),
    Rule(name="impedance_stale", kind="stale", quantity="impedance_fit.*", max_gap_s=900.0,
         severity="critical", advice="check the impedance analyzer and the cell cabling"),
    Rule(name="uvvis_saturated", kind="flag", quantity="uvvis_features.*",
         flags=("saturated",), count=5, window_s=60.0, clear_s=120.0,
         advice="dilute the sample, shorten the integration time or check for stray light"),
    Rule(name="impedance_bubbles", kind="flag", quantity="impedance_fit.*",
         flags=("kk_invalid",), count=5, window_s=900.0, clear_s=1800.0,
         advice="bubbles or a loose contact in the cell: check the flow and degas"),
    Rule(name="temperature_out_of_range", kind="threshold", quantity="scalar.temperature_degC",
         relative_to="T_degC", above=2.0, below=-2.0, for_s=60.0, clear_s=120.0,
         hysteresis=0.0, severity="critical", advice="check the thermostat and the probe"),
    Rule(name="envelope_size", kind="envelope", quantity="psd.d_mean_nm", z=3.0, for_s=60.0,
         clear_s=120.0, hysteresis=0.2, advice="compare the recipe and temperature with the "
         "golden batch"),
)  # fmt: skip
_DRIFT_CLEAR_S = 600.0


@dataclass
class _State:
    status: str = "ok"  # ok | pending | firing
    since: datetime | None = None  # when the condition started holding
    clear_since: datetime | None = None
    times: deque = field(default_factory=deque)  # flag rules: times of flagged estimates
    last_seen: datetime | None = None  # stale rules
    detector: Any = None  # drift rules; control-chart rules: their ChartRunner
    last_detection: datetime | None = None


def _build(ctx: Context) -> Model | None:
    """With the configured rules (None: :data:`DEFAULT_RULES`); none when alerts are off. It
    must come last among the run-level models, so it sees every other one's estimates."""
    if not ctx.alerts:
        return None
    engine = AlertEngine(DEFAULT_RULES if ctx.alert_rules is None else ctx.alert_rules)
    engine.update(ctx.start)
    return engine


@register(kinds=("run",), cost="cheap", build=_build)
class AlertEngine(Model):
    """Rules over a run's estimates; :attr:`alerts` holds the alerts of the last update."""

    name = "alert_engine"
    version = "1"

    def __init__(self, rules: tuple[Rule, ...] = DEFAULT_RULES):
        self.rules = rules
        self._states: dict[tuple[str, str], _State] = {}
        self._latest: dict[str, tuple[float, str]] = {}  # "measurement.name" -> (value, units)
        # the measurements whose values a rule's message quotes: the rest need no bookkeeping
        self._quoted = {r.measurement for r in rules if r.quantity_name and r.quantity_name != "*"}
        self._z: dict[str, float] = {}  # golden-batch z by "measurement.name"
        self._t_start: datetime | None = None
        self._now: datetime | None = None
        self._run_id: str | None = None
        self._recipe: dict[str, Any] = {}
        self._alerts: list[Alert] = []
        self._explanations = explain_chart_rules(rules)
        self._n_budgeted = sum(1 for r in rules if r.enabled and r.chart and r.chart.budgeted)

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        return {"rules": DEFAULT_RULES}

    # ------------------------------------------------------------------------------ update
    def update(self, message: Any) -> None:
        """Take a RunStart, an Estimate, or a ``datetime`` clock tick."""
        self._alerts = []
        if isinstance(message, RunStart):
            self._t_start, self._run_id = message.t, message.run_id
            self._recipe = dict(message.recipe)
            return
        if isinstance(message, datetime):
            self._advance(message)
            self._check_stale(None)
            return
        if not isinstance(message, Estimate):
            return
        self._run_id = message.run_id
        if self._t_start is None:
            self._t_start = message.t
        self._advance(message.t)
        if message.measurement in self._quoted:
            for q in message.quantities:
                if q.value is not None:
                    self._latest[f"{message.measurement}.{q.name}"] = (q.value, q.units)
        if message.measurement == "golden_batch":
            for q in message.quantities:
                if q.name.startswith("z_") and q.value is not None:
                    self._z[q.name[2:]] = q.value
        for rule in self.rules:
            if rule.enabled:
                self._evaluate(rule, message)
        self._check_stale(message)

    def _advance(self, t: datetime) -> None:
        if self._now is None or t > self._now:
            self._now = t

    # --------------------------------------------------------------------------- the rules
    def _state(self, rule: Rule, sensor: str) -> _State:
        return self._states.setdefault((rule.name, sensor), _State())

    def _evaluate(self, rule: Rule, est: Estimate) -> None:
        kind, t = rule.kind, est.t
        if rule.chart is not None:
            self._chart(rule, est)
        elif kind == "threshold" and est.measurement == rule.measurement:
            q = next((q for q in est.quantities if q.name == rule.quantity_name), None)
            if q is None or q.value is None:
                return
            v, lim = q.value, self._limits(rule)
            if lim is None:
                return
            cond = (lim[0] is not None and v > lim[0]) or (lim[1] is not None and v < lim[1])
            h = rule.hysteresis
            clear = (lim[0] is None or v < lim[0] - h * abs(lim[0])) and (
                lim[1] is None or v > lim[1] + h * abs(lim[1])
            )
            self._step(rule, est.sensor_id, t, cond, clear, {rule.quantity_name: v})
        elif kind == "envelope" and est.measurement == "golden_batch":
            key = rule.quantity.replace(".", "_")
            z = next((q.value for q in est.quantities if q.name == f"z_{key}"), None)
            if z is None:
                return
            cond, clear = abs(z) > rule.z, abs(z) < rule.z * (1.0 - rule.hysteresis)
            self._step(rule, est.sensor_id, t, cond, clear, {"z": z})
        elif kind == "t2" and est.measurement == "golden_batch":
            t2 = next((q.value for q in est.quantities if q.name == "t2"), None)
            if t2 is None:
                return
            cond, clear = t2 > rule.limit, t2 < rule.limit * (1.0 - rule.hysteresis)
            self._step(rule, est.sensor_id, t, cond, clear, {"t2": t2, "limit": rule.limit})
        elif kind == "drift":
            self._drift(rule, est)
        elif kind == "flag" and rule.measurement == est.measurement:
            st = self._state(rule, est.sensor_id)
            if set(est.flags) & set(rule.flags):
                st.times.append(t)
            while st.times and (t - st.times[0]).total_seconds() > rule.window_s:
                st.times.popleft()
            cond = len(st.times) >= rule.count
            self._step(rule, est.sensor_id, t, cond, not st.times, {"flagged": len(st.times)})
        elif kind == "stale" and rule.measurement == est.measurement:
            st = self._state(rule, est.sensor_id)
            st.last_seen = t
            self._step(rule, est.sensor_id, t, False, True, {})

    def _limits(self, rule: Rule) -> tuple[float | None, float | None] | None:
        """(above, below) of a threshold rule; offsets from the recipe with ``relative_to``."""
        if not rule.relative_to:
            return rule.above, rule.below
        base = self._recipe.get(rule.relative_to)
        if isinstance(base, bool) or not isinstance(base, (int, float)):
            return None  # the run's recipe has no such setpoint: the rule sleeps
        return tuple(None if x is None else base + x for x in (rule.above, rule.below))

    def _drift(self, rule: Rule, est: Estimate) -> None:
        if rule.on == "z":
            if est.measurement != "golden_batch":
                return
            key = "z_" + rule.quantity.replace(".", "_")
            v = next((q.value for q in est.quantities if q.name == key), None)
        else:
            if est.measurement != rule.measurement:
                return
            v = next((q.value for q in est.quantities if q.name == rule.quantity_name), None)
        if v is None or not math.isfinite(v):
            return
        st = self._state(rule, est.sensor_id)
        if st.detector is None:
            st.detector = (
                river_drift.ADWIN(delta=rule.delta)
                if rule.detector == "adwin"
                else river_drift.PageHinkley(
                    min_instances=rule.min_instances, delta=rule.delta, threshold=rule.threshold
                )
            )
        st.detector.update(v)
        clear_s = rule.clear_s or _DRIFT_CLEAR_S
        if st.detector.drift_detected:
            st.last_detection = est.t
            self._step(rule, est.sensor_id, est.t, True, False, {rule.quantity_name: v}, hold=0)
        elif st.last_detection is not None:
            quiet = (est.t - st.last_detection).total_seconds() >= clear_s
            self._step(rule, est.sensor_id, est.t, False, quiet, {rule.quantity_name: v}, 0, 0)

    def _chart(self, rule: Rule, est: Estimate) -> None:
        spec = rule.chart
        names = spec.quantities or (rule.quantity,)
        if est.measurement != names[0].split(".", 1)[0] or est.flags:
            return  # a flagged estimate (a saturated frame, a bad sweep) is not charted
        found = {q.name: q.value for q in est.quantities}
        x = [found.get(n.split(".", 1)[1]) for n in names]
        if any(v is None or not math.isfinite(v) for v in x):
            return
        st = self._state(rule, est.sensor_id)
        if st.detector is None:
            st.detector = ChartRunner(rule, self._n_budgeted)
        runner = st.detector
        runner.update(est.t, np.array(x) if rule.kind in MULTIVARIATE else x[0])
        clear_s = rule.clear_s or _DRIFT_CLEAR_S
        if runner.drift_detected:
            st.last_detection = est.t
            self._step(rule, est.sensor_id, est.t, True, False, runner.values(), hold=0)
        elif st.last_detection is not None:
            quiet = (est.t - st.last_detection).total_seconds() >= clear_s
            self._step(rule, est.sensor_id, est.t, False, quiet, {}, 0, 0)

    def _check_stale(self, est: Estimate | None) -> None:
        now = self._now
        if now is None:
            return
        for rule in self.rules:
            if rule.kind != "stale" or not rule.enabled:
                continue
            for (name, sensor), st in list(self._states.items()):
                if name != rule.name or st.last_seen is None:
                    continue
                gap = (now - st.last_seen).total_seconds()
                if gap > rule.max_gap_s:
                    self._step(rule, sensor, now, True, False, {"gap_s": gap}, hold=0)

    def _step(
        self,
        rule: Rule,
        sensor: str,
        t: datetime,
        cond: bool,
        clear: bool,
        values: dict[str, float],
        hold: float | None = None,
        clear_s: float | None = None,
    ) -> None:
        st = self._state(rule, sensor)
        hold = rule.for_s if hold is None else hold
        clear_s = rule.clear_s if clear_s is None else clear_s
        if cond:
            st.clear_since = None
            if st.status == "ok":
                st.status, st.since = "pending", t
            if st.status == "pending" and (t - st.since).total_seconds() >= hold:
                st.status = "firing"
                self._emit(rule, sensor, t, "firing", values, (t - st.since).total_seconds())
        elif clear:
            if st.status == "pending":
                st.status, st.since = "ok", None
            elif st.status == "firing":
                st.clear_since = st.clear_since or t
                if (t - st.clear_since).total_seconds() >= clear_s:
                    st.status, st.since, st.clear_since = "ok", None, None
                    self._emit(rule, sensor, t, "resolved", values, 0.0)
        else:
            st.clear_since = None

    # ---------------------------------------------------------------------------- messages
    def _emit(self, rule, sensor, t, state, values, held_s) -> None:
        self._alerts.append(
            Alert(
                run_id=self._run_id or "unknown",
                t=t,
                rule=rule.name,
                severity=rule.severity,
                state=state,
                sensor_id=sensor,
                values={k: float(v) for k, v in values.items() if v is not None},
                message=self._message(rule, state, values, t, held_s, sensor),
            )
        )

    def _message(
        self, rule: Rule, state: str, values: dict, t: datetime, held_s: float, sensor: str = ""
    ) -> str:
        at = f"at {_elapsed((t - self._t_start).total_seconds())}" if self._t_start else ""
        label = LABELS.get(rule.quantity_name, rule.quantity_name or rule.measurement)
        latest = self._latest.get(rule.quantity)
        now = f"{label} {_fmt(latest[0])} {latest[1]}" if latest else label
        firing = state == "firing"
        if rule.chart is not None:
            st = self._states.get((rule.name, sensor))
            runner = st.detector if st else None
            text = (
                f"{runner.message()} {at}"
                if firing and runner is not None
                else f"{rule.kind} chart on {rule.quantity or ', '.join(rule.chart.quantities)}:"
                f" no further signal for {_elapsed(rule.clear_s or _DRIFT_CLEAR_S)} {at}"
            )
        elif rule.kind == "threshold":
            above, below = self._limits(rule) or (rule.above, rule.below)
            high = above is not None and latest is not None and latest[0] > above
            lim = above if high or below is None else below
            units = latest[1] if latest else ""
            side = "above" if above is not None and lim == above else "below"
            text = (
                f"{now}, {side} the limit {_fmt(lim)} {units} for {_elapsed(held_s)} {at}"
                if firing
                else f"{now}, back within the limit {_fmt(lim)} {units} {at}"
            )
        elif rule.kind == "envelope":
            z = values.get("z", math.nan)
            side = "above" if z > 0 else "below"
            others = self._other_deviations(rule.quantity)
            text = (
                f"{now}, {abs(z):.1f} sd {side} the golden batch {at}{others}"
                if firing
                else f"{now}, back within {rule.z:g} sd of the golden batch {at}"
            )
        elif rule.kind == "t2":
            top = self._other_deviations(None)
            text = (
                f"the run as a whole departs from the golden batch: T2 {values['t2']:.1f} "
                f"above {rule.limit:g} {at}{top}"
                if firing
                else f"the run is back within the golden batch (T2 below {rule.limit:g}) {at}"
            )
        elif rule.kind == "drift":
            name = "ADWIN" if rule.detector == "adwin" else "Page-Hinkley"
            text = (
                f"{now}: drift detected by {name} {at}"
                if firing
                else f"{label}: no further drift for "
                f"{_elapsed(rule.clear_s or _DRIFT_CLEAR_S)} {at}"
            )
        elif rule.kind == "stale":
            text = (
                f"no {rule.measurement} data for {_elapsed(values.get('gap_s', 0.0))} {at}"
                if firing
                else f"{rule.measurement} data again {at}"
            )
        else:  # flag
            text = (
                f"{values.get('flagged', 0)} {rule.measurement} estimates flagged "
                f"{'/'.join(rule.flags)} within {_elapsed(rule.window_s)} {at}"
                if firing
                else f"no {'/'.join(rule.flags)} {rule.measurement} estimates for "
                f"{_elapsed(rule.clear_s)} {at}"
            )
        text = " ".join(text.split())
        if not text.endswith("."):
            text += "."
        return f"{text} {rule.advice}" if firing and rule.advice else text

    def _other_deviations(self, exclude: str | None) -> str:
        others = sorted(
            ((k, z) for k, z in self._z.items() if k != (exclude or "").replace(".", "_")),
            key=lambda kz: -abs(kz[1]),
        )
        others = [(k, z) for k, z in others if abs(z) >= 2.0][:2]
        if not others:
            return ""
        parts = ", ".join(f"{k} {z:+.1f} sd" for k, z in others)
        return f" (also {parts})"

    # ---------------------------------------------------------------------------- read-outs
    @property
    def alerts(self) -> list[Alert]:
        """The alerts (firing or resolved) of the last update."""
        return list(self._alerts)

    @property
    def estimate(self) -> None:
        """The engine makes alerts, not estimates."""
        return None

    @property
    def explanations(self) -> list[str]:
        """How each control-chart rule's limit comes about: at start, then phase I per sensor."""
        ready = [
            f"[{sensor}] {st.detector.explanation}"
            for (name, sensor), st in sorted(self._states.items())
            if isinstance(st.detector, ChartRunner) and st.detector.explanation
        ]
        return list(self._explanations) + ready

    @property
    def firing(self) -> list[tuple[str, str]]:
        """(rule, sensor) of every rule firing now."""
        return sorted(k for k, st in self._states.items() if st.status == "firing")


def _fmt(v: float | None) -> str:
    if v is None or not math.isfinite(v):
        return "?"
    return f"{v:.3g}"


def _elapsed(seconds: float) -> str:
    s = max(float(seconds), 0.0)
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"
