"""The per-run dashboard: Grafana's schema through the SDK, a query per panel in each flavour,
and only measurements, fields and tags the sink writes."""

from __future__ import annotations

import json

import pytest
from grafana_fakes import dashboard_queries, unknown_references
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

from synthwatch.dashboards.grafana import fleet as fleet_dashboard
from synthwatch.dashboards.grafana import run as run_dashboard
from synthwatch.dashboards.grafana.provisioning import dashboard_json
from synthwatch.dashboards.queries.datasource import InfluxQuery, register
from synthwatch.dashboards.queries.layout import DATASOURCE_UID, Flavour

MODULES = [run_dashboard, fleet_dashboard]


def _looks_like(flavour: Flavour, query: str) -> bool:
    if flavour is Flavour.INFLUXQL:
        return query.startswith(("SELECT ", "SHOW "))
    return "from(bucket:" in query or "schema.tagValues(" in query


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[1])
@pytest.mark.parametrize("flavour", list(Flavour))
def test_round_trip_through_the_sdk_decoder(module, flavour):
    """JSON → the SDK's Dashboard model (with our InfluxDB query type) → the same JSON.

    The SDK models an annotation's ``target`` with the built-in Grafana source's fields only
    (its own TODO: "this should be a regular DataQuery"), so decoding drops a data-source
    annotation query: those targets go through :class:`InfluxQuery` instead.
    """
    register()
    data = dashboard_json(module.build(flavour))
    annotation_targets = []
    for anno in data.get("annotations", {}).get("list", []):
        target = anno.pop("target")
        assert InfluxQuery.from_json(target).to_json() == target
        annotation_targets.append(target)
    assert len(annotation_targets) == (1 if module is run_dashboard else 0)
    decoded = Dashboard.from_json(json.loads(json.dumps(data)))
    again = json.loads(json.dumps(decoded, cls=JSONEncoder))
    assert again == data
    targets = [t for p in decoded.panels if getattr(p, "targets", None) for t in p.targets]
    assert targets and all(isinstance(t, InfluxQuery) for t in targets)


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[1])
@pytest.mark.parametrize("flavour", list(Flavour))
def test_every_panel_queries_influx_in_the_flavour(module, flavour):
    data = dashboard_json(module.build(flavour))
    panels = [p for p in data["panels"] if p["type"] != "row"]
    assert panels
    for panel in panels:
        assert panel.get("targets"), f"panel {panel['title']!r} has no query"
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == DATASOURCE_UID
            assert target["rawQuery"] is True
            assert _looks_like(flavour, target["query"]), (panel["title"], target["query"])
    for where, query in dashboard_queries(data):
        assert _looks_like(flavour, query["query"]), where
        assert unknown_references(query["query"]) == [], where
    ids = [p["id"] for p in data["panels"]]
    assert len(set(ids)) == len(ids)


def test_the_run_dashboard_shows_what_the_issue_lists():
    data = dashboard_json(run_dashboard.build(Flavour.FLUX))
    titles = {p["title"]: p for p in data["panels"]}
    text = json.dumps(data)
    assert titles["Mean size ± 1 sd"]["type"] == "timeseries"
    assert titles["Size distribution over time"]["type"] == "heatmap"
    assert titles["Size distribution over time"]["options"]["calculate"] is False
    for field in (
        "lambda_spr_nm",
        "conversion",
        "t90_s_lo",
        "t90_s_hi",
        "r_ct_ohm",
        "cpe_alpha",
        "d_mean_nm_sd",
    ):
        assert field in text, field
    assert [v["name"] for v in data["templating"]["list"]] == ["run"]
    (anno,) = data["annotations"]["list"]
    assert "alerts" in anno["target"]["query"]
    rows = [p["title"] for p in data["panels"] if p["type"] == "row"]
    assert rows == ["Size", "Spectral features", "Kinetics", "Impedance fit", "Alerts and pipeline"]


def test_the_size_band_is_shaded_between_its_bounds():
    data = dashboard_json(run_dashboard.build(Flavour.INFLUXQL))
    panel = next(p for p in data["panels"] if p["title"] == "Mean size ± 1 sd")
    fills = {
        o["matcher"]["options"]: {p["id"]: p["value"] for p in o["properties"]}
        for o in panel["fieldConfig"]["overrides"]
    }
    assert fills["d_mean_nm + sd"]["custom.fillBelowTo"] == "d_mean_nm - sd"


def test_the_fleet_table_joins_runs_and_maps_status():
    data = dashboard_json(fleet_dashboard.build(Flavour.INFLUXQL))
    table = data["panels"][0]
    assert table["type"] == "table" and len(table["targets"]) == 5
    assert table["transformations"][0]["id"] == "joinByField"
    status = next(
        o for o in table["fieldConfig"]["overrides"] if o["matcher"]["options"] == "processed_count"
    )
    mapping_texts = json.dumps(status["properties"])
    assert "stopped" in mapping_texts and "running" in mapping_texts
