"""The InfluxDB query type added to grafana-foundation-sdk: JSON shape and round trip."""

from __future__ import annotations

from grafana_foundation_sdk.cog import runtime as cogruntime
from hypothesis import given
from hypothesis import strategies as st

from synthwatch.dashboards.queries.datasource import (
    InfluxAnnotationTargetBuilder,
    InfluxQuery,
    InfluxQueryBuilder,
    register,
)


def test_the_json_grafana_stores_for_a_raw_influx_query():
    q = InfluxQueryBuilder("B").query("SELECT 1").raw_query().result_format("table").build()
    assert q.to_json() == {
        "refId": "B",
        "datasource": {"type": "influxdb", "uid": "synthwatch-influxdb"},
        "query": "SELECT 1",
        "rawQuery": True,
        "resultFormat": "table",
    }


def test_registered_variant_decodes_through_the_sdk_runtime():
    register()
    data = InfluxQueryBuilder("A").query("x").alias("$col").build().to_json()
    decoded = cogruntime.dataquery_from_json(data, "")
    assert isinstance(decoded, InfluxQuery)
    assert decoded.to_json() == data


def test_annotation_target_serialises_the_influx_query():
    target = InfluxAnnotationTargetBuilder(
        InfluxQueryBuilder("Anno").query("q").annotation_columns("message", "rule,state")
    ).build()
    data = target.to_json()
    assert data["query"] == "q" and data["textColumn"] == "message"
    assert data["fromAnnotations"] is True


@given(
    ref_id=st.text(min_size=1, max_size=8),
    query=st.text(max_size=200),
    raw=st.booleans(),
    fmt=st.sampled_from(["time_series", "table", "logs"]),
    alias=st.none() | st.text(max_size=20),
    hide=st.none() | st.booleans(),
)
def test_round_trip_of_any_query(ref_id, query, raw, fmt, alias, hide):
    q = InfluxQuery(
        ref_id=ref_id, query=query, raw_query=raw, result_format=fmt, alias=alias, hide=hide
    )
    assert InfluxQuery.from_json(q.to_json()).to_json() == q.to_json()
