"""Grafana unified-alerting rules, contact point and notification policy, as code.

The rules mirror the conditions of synthwatch's own alert engine (models/alerts/quality.py and the
alert engine of issue 5), so a lab that looks only at Grafana hears the same things:

* **size out of spec**: the lognormal fit's last ``d_mean_nm`` of a run outside the spec window
  (computed by Grafana from the data, independently of the engine);
* **envelope excursion** and **drift**: the golden-batch envelope and the drift detectors live in
  the engine (the envelope is built from stored runs), so these rules follow the engine's
  ``alerts`` points for rules named ``envelope…`` / ``drift…``: firing while the engine's
  latest state for that rule and run is ``firing``;
* **sensor fault**: the same for the engine's ``flagged_frames`` rule;
* **no data**: a run that had UV-Vis (or impedance) estimates within the look-back but none in
  the last window (Grafana's own check, so it also fires when the worker itself is down).

Built with grafana-foundation-sdk's alerting builders, whose models are the HTTP API's shape
(``folderUID``, ``ruleGroup``, ``orgID``); :mod:`~synthwatch.dashboards.grafana.provisioning` maps
them to
the provisioning-file shape.

>>> rules = build_rules(Flavour.INFLUXQL, RuleSettings())
>>> [r.uid for r in rules][:2]
['sw-size-out-of-spec', 'sw-envelope-excursion']
>>> rules[0].condition, [d.ref_id for d in rules[0].data]
('C', ['A', 'B', 'C'])
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import alerting, expr
from grafana_foundation_sdk.models import alerting as am
from grafana_foundation_sdk.models import dashboard as dm

from synthwatch.dashboards.grafana.panels import query
from synthwatch.dashboards.grafana.run import UID as RUN_UID
from synthwatch.dashboards.grafana.settings import RuleSettings, duration_s
from synthwatch.dashboards.queries import alert_queries as aq
from synthwatch.dashboards.queries import panel_queries as q
from synthwatch.dashboards.queries.layout import DATASOURCE_UID, Flavour

FOLDER_UID = "synthwatch"
FOLDER_TITLE = "synthwatch"
GROUP = "synthwatch"
CONTACT_POINT = "synthwatch"
EXPR_UID = "__expr__"
#: Webhook URL used when none is given: Grafana substitutes the environment variable when it
#: reads the provisioning file.
WEBHOOK_ENV = "${SYNTHWATCH_ALERT_WEBHOOK_URL}"


def _expr_ref() -> dm.DataSourceRef:
    return dm.DataSourceRef(type_val=EXPR_UID, uid=EXPR_UID)


def _data(
    target: q.Target, flavour: Flavour, lookback_s: int, evaluator: str, params: list[float]
) -> list[alerting.Query]:
    """A: the InfluxDB query; B: its last value per series; C: the threshold (the condition)."""
    a = (
        alerting.Query("A")
        .datasource_uid(DATASOURCE_UID)
        .relative_time_range(am.RelativeTimeRange(from_val=lookback_s, to=0))
        .model(query("A", target, flavour))
    )
    b = (
        alerting.Query("B")
        .datasource_uid(EXPR_UID)
        .relative_time_range(am.RelativeTimeRange(from_val=0, to=0))
        .model(
            expr.TypeReduce()
            .ref_id("B")
            .datasource(_expr_ref())
            .expression("A")
            .reducer("last")
            .settings(expr.ExprTypeReduceSettings().mode("dropNN"))
        )
    )
    c = (
        alerting.Query("C")
        .datasource_uid(EXPR_UID)
        .relative_time_range(am.RelativeTimeRange(from_val=0, to=0))
        .model(
            expr.TypeThreshold()
            .ref_id("C")
            .datasource(_expr_ref())
            .expression("B")
            .conditions(
                [
                    expr.ExprTypeThresholdConditions().evaluator(
                        expr.ExprTypeThresholdConditionsEvaluator().type(evaluator).params(params)
                    )
                ]
            )
        )
    )
    return [a, b, c]


def _rule(
    uid: str,
    title: str,
    data: list[alerting.Query],
    *,
    for_: str,
    severity: str,
    summary: str,
    description: str,
) -> alerting.Rule:
    return (
        alerting.Rule(title)
        .uid(uid)
        .folder_uid(FOLDER_UID)
        .rule_group(GROUP)
        .org_id(1)
        .condition("C")
        .queries(data)
        .for_val(for_)
        .no_data_state("OK")  # no run going is not an incident
        .exec_err_state("Error")
        .labels({"severity": severity, "source": "synthwatch"})
        .annotations(
            {
                "summary": summary,
                "description": description,
                "runbook_url": f"/d/{RUN_UID}?var-run={{{{ $labels.run_id }}}}",
            }
        )
    )


def rule_builders(flavour: Flavour, settings: RuleSettings) -> list[alerting.Rule]:
    """The rule builders (one Grafana rule group ``synthwatch``)."""
    s, b = settings, settings.bucket
    size = _rule(
        "sw-size-out-of-spec",
        "Mean size out of specification",
        _data(
            aq.latest("psd", "d_mean_nm", model="psd_lognormal", bucket=b),
            flavour,
            600,
            "outside_range",
            [s.size_min_nm, s.size_max_nm],
        ),
        for_=s.size_for,
        severity="warning",
        summary="Run {{ $labels.run_id }}: mean size {{ humanize $values.B.Value }} nm is outside "
        f"{s.size_min_nm:g}-{s.size_max_nm:g} nm",
        description="The lognormal fit's number-weighted mean diameter left the spec window. "
        "Check temperature, reagent additions and the recipe on reactor {{ $labels.reactor }}.",
    )
    engine = []
    for uid, title, regex, severity, what in (
        (
            "sw-envelope-excursion",
            "Golden-batch envelope excursion",
            "^envelope",
            "warning",
            "left the golden-batch envelope",
        ),
        ("sw-drift", "Drift from the golden batch", "^drift", "warning", "is drifting"),
        (
            "sw-sensor-fault",
            "Sensor fault (flagged frames)",
            "^flagged_frames",
            "warning",
            "has too many flagged frames",
        ),
    ):
        engine.append(
            _rule(
                uid,
                title,
                _data(aq.alert_state(regex, bucket=b), flavour, s.engine_lookback_s, "gt", [0.5]),
                for_="0s",  # the engine already holds and de-duplicates
                severity=severity,
                summary=f"Run {{{{ $labels.run_id }}}} {what} ({{{{ $labels.rule }}}})",
                description="The synthwatch alert engine reports this rule firing; its message "
                "(what deviates, by how much, what to do) is on the run dashboard's annotations.",
            )
        )
    stale = [
        _rule(
            f"sw-no-data-{kind}",
            f"No {label} data",
            _data(
                aq.stale_runs(
                    measurement,
                    field,
                    bucket_s=s.stale_window_s,
                    lookback=f"{s.stale_lookback_s}s",
                    bucket=b,
                ),
                flavour,
                s.stale_lookback_s,
                "lt",
                [0.001],  # nothing in the window (InfluxQL: mean count per minute; Flux: 0/1)
            ),
            for_=s.stale_for,
            severity="critical",
            summary=f"Run {{{{ $labels.run_id }}}}: no {label} estimates for "
            f"{s.stale_window_s // 60} min",
            description="Estimates stopped arriving: check the sensor, the collector and the "
            "workers. (With an InfluxQL data source a run that ended normally also shows "
            "here until it is an hour old; the Flux rule leaves stopped runs out.)",
        )
        for kind, label, measurement, field in (
            ("uvvis", "UV-Vis", "uvvis_features", "noise_au"),
            ("impedance", "impedance", "impedance_fit", "r_s_ohm"),
        )
    ]
    return [size, *engine, *stale]


def build_rules(flavour: Flavour, settings: RuleSettings) -> list[am.Rule]:
    return [r.build() for r in rule_builders(flavour, settings)]


def rule_group(flavour: Flavour, settings: RuleSettings) -> am.RuleGroup:
    return (
        alerting.RuleGroup(GROUP)
        .folder_uid(FOLDER_UID)
        .interval(duration_s(settings.interval))
        .rules(rule_builders(flavour, settings))
        .build()
    )


def contact_point(webhook_url: str = WEBHOOK_ENV) -> am.ContactPoint:
    """A webhook contact point (the lab's chat or pager bridge)."""
    return (
        alerting.ContactPoint()
        .uid("synthwatch-webhook")
        .name(CONTACT_POINT)
        .type("webhook")
        .settings({"url": webhook_url, "httpMethod": "POST"})
        .disable_resolve_message(False)
        .build()
    )


def notification_policy() -> am.NotificationPolicy:
    """Everything to the synthwatch contact point, grouped per run and rule; critical sooner."""
    critical = (
        alerting.NotificationPolicy()
        .receiver(CONTACT_POINT)
        .object_matchers([["severity", "=", "critical"]])
        .group_wait("10s")
        .repeat_interval("1h")
    )
    return (
        alerting.NotificationPolicy()
        .receiver(CONTACT_POINT)
        .group_by(["alertname", "run_id"])
        .group_wait("30s")
        .group_interval("5m")
        .repeat_interval("4h")
        .routes([critical])
        .build()
    )
