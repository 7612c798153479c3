"""The sink layout the dashboards read: measurements, tags, fields with units in their names."""

from __future__ import annotations

import json
import re

from synthwatch.dashboards.grafana import alerting
from synthwatch.dashboards.grafana import run as run_dashboard
from synthwatch.dashboards.grafana.provisioning import dashboard_json, to_json
from synthwatch.dashboards.queries.layout import MEASUREMENTS, TAGS, Flavour
from synthwatch.models.alerts.quality import FlaggedFrames
from synthwatch.models.psd import lognormal as psd_lognormal
from synthwatch.models.psd import nnls as psd_nnls
from synthwatch.models.psd.lognormal import LognormalPSD
from synthwatch.models.uvvis import features as uvvis_features
from synthwatch.models.uvvis import shape
from synthwatch.models.uvvis.model import UVVisFeatures

DESIGN_MEASUREMENTS = {
    "uvvis_features",
    "psd",
    "psd_calibrated",  # the UV-Vis size corrected by labels (issue 19)
    "impedance_fit",
    "kinetics",
    "calibration",
    "alerts",
    "pipeline_health",
}


def test_the_measurements_and_tags_of_the_sink():
    assert set(MEASUREMENTS) == DESIGN_MEASUREMENTS
    assert TAGS == ("run_id", "reactor", "sensor_id", "model", "model_version")
    assert MEASUREMENTS["alerts"].tags[-3:] == ("rule", "severity", "state")


def test_every_quantity_the_models_publish_is_a_field():
    """The layout follows the models: a renamed quantity fails here, not on a blank panel."""
    for name in uvvis_features.QUANTITY_UNITS:
        assert MEASUREMENTS["uvvis_features"].has_field(name), name
    for name in shape.QUANTITY_UNITS:
        assert MEASUREMENTS["uvvis_features"].has_field(name), name
    for name in list(psd_lognormal.UNITS) + list(psd_nnls.UNITS):
        assert MEASUREMENTS["psd"].has_field(name), name


def test_field_names_are_lowercase_identifiers_and_uncertainties_follow_them():
    for m in MEASUREMENTS.values():
        for name in m.fields:
            assert re.fullmatch(r"[a-z][a-z0-9_]*|[a-z0-9_]*mM", name), name
            if m.with_sd:
                assert m.has_field(name + "_sd")
    assert not MEASUREMENTS["pipeline_health"].has_field("processed_count_sd")
    assert not MEASUREMENTS["psd"].has_field("no_such_nm")


def test_the_model_names_the_queries_filter_on_are_the_models():
    """Panels filter on the model tag; the sensor-fault rule follows flagged_frames alerts."""
    text = json.dumps(dashboard_json(run_dashboard.build(Flavour.INFLUXQL)))
    filtered = set(re.findall(r"\\\"model\\\" = '(\w+)'", text))
    assert filtered == {LognormalPSD.name, UVVisFeatures.name}
    rules = to_json(alerting.rule_group(Flavour.INFLUXQL, alerting.RuleSettings()))["rules"]
    fault = next(r for r in rules if r["uid"] == "sw-sensor-fault")
    assert f"/^{FlaggedFrames.name}/" in fault["data"][0]["model"]["query"]
