"""Messages → line protocol (stream/sinks/influx_points.py): layout, units in names, idempotency."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st
from influxdb_client import Point

from synthwatch.contract.messages import Alert, Distribution, Estimate, Quantity
from synthwatch.stream.sinks.influx_points import alert_lines, estimate_lines, timestamp_us

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)


def _estimate(**kw) -> Estimate:
    base = dict(
        run_id="r1",
        t=T0,
        sensor_id="uv1",
        model="psd_lognormal",
        model_version="2",
        measurement="psd",
        quantities=[
            Quantity(name="d_mean_nm", value=12.5, units="nm", uncertainty=0.5),
            Quantity(name="gsd", value=None, units="1"),
        ],
    )
    base.update(kw)
    return Estimate(**base)


def test_estimate_point_has_the_design_tags_fields_and_event_time():
    (line,) = estimate_lines(_estimate(flags=["noisy"]), reactor="R1")
    head, fields, t = line.split(" ")
    assert head == "psd,model=psd_lognormal,model_version=2,reactor=R1,run_id=r1,sensor_id=uv1"
    # None quantities have no field; uncertainties are <name>_sd; every field is a float
    assert fields == "d_mean_nm=12.5,d_mean_nm_sd=0.5,flag_count=1"
    assert int(t) == timestamp_us(T0) == 1772366400123456


def test_unknown_reactor_leaves_the_tag_out():
    (line,) = estimate_lines(_estimate(), reactor=None)
    assert "reactor=" not in line.split(" ")[0]


def test_a_tag_value_ending_in_a_backslash_loses_it_with_a_warning(caplog):
    (line,) = estimate_lines(_estimate(), reactor="hood\\\\")
    assert line.startswith("psd,model=psd_lognormal,model_version=2,reactor=hood,run_id=r1,")
    assert "ends in a backslash" in caplog.text


def test_distribution_bins_are_points_tagged_by_the_axis():
    dist = Distribution(
        quantity="number_per_ml",
        units="mL^-1",
        axis_name="d_nm",
        axis_units="nm",
        axis=[5.0, 7.5, 10.0],
        values=[1e9, math.nan, 3e9],
        uncertainties=[1e8, 1e8, 2e8],
    )
    lines = estimate_lines(_estimate(distribution=dist), reactor="R1")
    assert len(lines) == 1 + 2  # the estimate, then the finite bins
    assert lines[1].startswith("psd,d_nm=5,model=psd_lognormal,")
    # floats (no "i" suffix): a field never changes type between points
    assert " bin_number_per_ml=1000000000,bin_number_per_ml_sd=100000000 " in lines[1]
    assert lines[2].startswith("psd,d_nm=10,")
    assert estimate_lines(_estimate(distribution=dist), "R1", write_distribution=False) == lines[:1]


def test_alert_point():
    alert = Alert(
        run_id="r1",
        t=T0,
        rule="size_out_of_spec",
        severity="warning",
        state="firing",
        sensor_id="uv1",
        values={"d_mean_nm": 31.0},
        message='d_mean 31 nm > 25 nm: check "citrate" dose',
    )
    (line,) = alert_lines(alert, reactor="R1")
    assert line.startswith(
        "alerts,reactor=R1,rule=size_out_of_spec,run_id=r1,sensor_id=uv1,severity=warning,"
        "state=firing "
    )
    assert 'message="d_mean 31 nm > 25 nm: check \\"citrate\\" dose"' in line
    assert " d_mean_nm=31,firing=1,message=" in line


names = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True).filter(
    lambda n: n != "flag_count" and not n.endswith("_sd")
)
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
texts = st.text(min_size=1, max_size=30).filter(
    lambda s: s.strip() == s and "\n" not in s and not s.endswith("\\")
)


@given(
    reactor=texts,
    quantities=st.dictionaries(
        names, st.tuples(finite | st.none(), finite | st.none()), min_size=1
    ),
    micros=st.integers(min_value=0, max_value=10**15),
)
def test_lines_are_the_serializers_and_replays_give_the_same_lines(reactor, quantities, micros):
    t = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=micros)
    est = _estimate(
        t=t,
        quantities=[
            Quantity(name=n, value=v, units="1", uncertainty=u) for n, (v, u) in quantities.items()
        ],
    )
    lines = estimate_lines(est, reactor)
    assert lines == estimate_lines(est.model_copy(), reactor)  # idempotent rewrite: same point
    (line,) = lines
    assert line.endswith(f" {micros}")
    # exactly influxdb-client's escaping of the same point
    expected = Point("psd").time(micros, "us")
    tags = {"run_id": "r1", "reactor": reactor, "sensor_id": "uv1", "model": "psd_lognormal"}
    for key, value in {**tags, "model_version": "2"}.items():
        expected.tag(key, value)
    for n, (v, u) in quantities.items():
        if v is not None:
            expected.field(n, float(v))
            if u is not None:
                expected.field(f"{n}_sd", float(u))
    expected.field("flag_count", 0.0)
    assert line == expected.to_line_protocol("us")
