"""Alert rules, contact point and policy: SDK models, the engine's conditions, both flavours."""

from __future__ import annotations

import json

import pytest
from grafana_fakes import unknown_references
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import alerting as am

from synthwatch.dashboards.grafana import alerting
from synthwatch.dashboards.grafana.provisioning import to_json
from synthwatch.dashboards.queries.datasource import InfluxQuery, register
from synthwatch.dashboards.queries.layout import DATASOURCE_UID, Flavour


@pytest.mark.parametrize("flavour", list(Flavour))
def test_rules_cover_the_engine_conditions(flavour):
    rules = to_json(alerting.rule_group(flavour, alerting.RuleSettings()))["rules"]
    uids = [r["uid"] for r in rules]
    assert uids == [
        "sw-size-out-of-spec",
        "sw-envelope-excursion",
        "sw-drift",
        "sw-sensor-fault",
        "sw-no-data-uvvis",
        "sw-no-data-impedance",
    ]
    for rule in rules:
        assert rule["folderUID"] == alerting.FOLDER_UID and rule["ruleGroup"] == alerting.GROUP
        assert rule["condition"] == "C"
        a, b, c = rule["data"]
        assert (a["refId"], b["refId"], c["refId"]) == ("A", "B", "C")
        assert a["datasourceUid"] == DATASOURCE_UID
        assert a["relativeTimeRange"]["from"] > 0
        assert unknown_references(a["model"]["query"]) == [], rule["uid"]
        assert b["model"]["type"] == "reduce" and b["model"]["expression"] == "A"
        assert c["model"]["type"] == "threshold" and c["model"]["expression"] == "B"
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert "{{ $labels.run_id }}" in rule["annotations"]["summary"]


def test_the_size_rule_uses_the_spec_window():
    settings = alerting.RuleSettings(size_min_nm=12.0, size_max_nm=18.0)
    rule = to_json(alerting.build_rules(Flavour.INFLUXQL, settings)[0])
    evaluator = rule["data"][2]["model"]["conditions"][0]["evaluator"]
    assert evaluator == {"type": "outside_range", "params": [12.0, 18.0]}
    assert "psd_lognormal" in rule["data"][0]["model"]["query"]


def test_the_flux_stale_rule_leaves_stopped_runs_out():
    rule = next(
        r
        for r in to_json(alerting.build_rules(Flavour.FLUX, alerting.RuleSettings()))
        if r["uid"] == "sw-no-data-uvvis"
    )
    query = rule["data"][0]["model"]["query"]
    assert "pipeline_health" in query and "not r.stopped" in query


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"size_min_nm": 20.0, "size_max_nm": 10.0}, "size_min_nm < size_max_nm"),
        ({"stale_window_s": 30}, "stale_window_s"),
        ({"interval": "often"}, "interval"),
        ({"stale_for": "5 min"}, "stale_for"),
        ({"bucket": 'a"b'}, "bucket"),
    ],
)
def test_bad_settings_are_refused_with_the_field_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        alerting.RuleSettings(**kwargs)


def test_rules_decode_back_through_the_sdk_models():
    register()
    group = to_json(alerting.rule_group(Flavour.FLUX, alerting.RuleSettings()))
    for data in group["rules"]:
        rule = am.Rule.from_json(data)
        assert isinstance(rule.data[0].model, InfluxQuery)
        assert json.loads(json.dumps(rule, cls=JSONEncoder)) == data


def test_contact_point_and_policy():
    cp = to_json(alerting.contact_point("https://chat.example/hook"))
    assert cp["type"] == "webhook" and cp["settings"]["url"] == "https://chat.example/hook"
    default = to_json(alerting.contact_point())
    assert default["settings"]["url"] == "${SYNTHWATCH_ALERT_WEBHOOK_URL}"
    policy = to_json(alerting.notification_policy())
    assert policy["receiver"] == cp["name"]
    assert "run_id" in policy["group_by"]
    assert policy["routes"][0]["object_matchers"] == [["severity", "=", "critical"]]
