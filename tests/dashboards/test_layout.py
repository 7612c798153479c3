"""The sink layout the dashboards read: measurements, tags, fields with units in their names."""

from __future__ import annotations

import re

from synthwatch.dashboards.layout import MEASUREMENTS, TAGS
from synthwatch.models import psd_lognormal, psd_nnls, shape, uvvis_features

DESIGN_MEASUREMENTS = {
    "uvvis_features",
    "psd",
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
