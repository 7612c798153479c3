"""Messages → InfluxDB points (line protocol from influxdb-client's own serializer).

Layout (docs/architecture.md "Sinks"; the dashboards in dashboards/ query exactly this):

* An :class:`~synthwatch.contract.messages.Estimate` becomes one point in the measurement it names
  (``uvvis_features``, ``psd``, ``impedance_fit``, ``kinetics``, ``calibration``,
  ``pipeline_health``), tagged ``run_id``, ``reactor``, ``sensor_id``, ``model`` and
  ``model_version``. Its fields are numbers (always floats, so a field never changes type):
  one per quantity, named by the quantity (the names carry the units, e.g. ``d_mean_nm``), and
  ``<name>_sd`` for its standard uncertainty (the total), with ``<name>_sd_noise`` and
  ``<name>_sd_model`` for its parts and ``<name>_lo`` / ``<name>_hi`` for a 95 % interval that
  is not value +- 2 sd, when the estimate has them. A quantity that could not be estimated
  (None) has no field in that point. ``flag_count`` (number of quality flags) is always there,
  so every estimate is a point even when nothing could be estimated.
* Its :class:`~synthwatch.contract.messages.Distribution`, if any (and ``write_distribution``),
  becomes one more point per bin in the same measurement, with the same tags plus one tag named
  by the axis (``d_nm="12.5"``) and the fields ``bin_<quantity>`` and ``bin_<quantity>_sd``
  (e.g. ``bin_number_per_ml``): a Grafana heatmap groups by that tag. The extra tag keeps bins
  out of the estimate's own series.
* An :class:`~synthwatch.contract.messages.Alert` becomes a point in ``alerts``, tagged
  ``run_id``, ``reactor``, ``sensor_id``, ``rule``, ``severity``, ``state``, with the fields
  ``message`` (the one string field: Grafana shows it as the annotation text), ``firing``
  (1.0 or 0.0) and the alert's values (by their names, with units).
* Tag values are escaped by influxdb-client. One thing line protocol cannot carry is a tag value
  ending in a backslash: the trailing backslashes are dropped, with a warning.
* Other messages are not written: readings stay in the embedded store; a RunStart only gives
  the run's ``reactor`` tag.

Every point's timestamp is the message's event time in microseconds, so writing the same
message twice (a replay, a retried batch) overwrites the same point instead of adding one:
InfluxDB identifies a point by measurement, tag set and time.

>>> from datetime import datetime, timezone
>>> from synthwatch.contract.messages import Estimate, Quantity
>>> est = Estimate(run_id="r1", t=datetime(2026, 1, 1, tzinfo=timezone.utc), sensor_id="uv1",
...                model="psd_lognormal", model_version="2", measurement="psd",
...                quantities=[Quantity(name="d_mean_nm", value=12.5, units="nm",
...                                     uncertainty=0.25)])
>>> line = estimate_lines(est, reactor="R 1")[0]
>>> head, fields, t_us = line.rsplit(" ", 2)
>>> head
'psd,model=psd_lognormal,model_version=2,reactor=R\\\\ 1,run_id=r1,sensor_id=uv1'
>>> fields, t_us
('d_mean_nm=12.5,d_mean_nm_sd=0.25,flag_count=0', '1767225600000000')
"""

from __future__ import annotations

import logging
import math
from datetime import datetime

from influxdb_client import Point, WritePrecision

from synthwatch.contract.messages import Alert, Estimate

__all__ = ["PRECISION", "estimate_lines", "alert_lines", "timestamp_us"]

log = logging.getLogger(__name__)

#: Every point is written with microsecond timestamps (the store's resolution too).
PRECISION = WritePrecision.US


def timestamp_us(t: datetime) -> int:
    """Event time as integer microseconds since the epoch (exact, no float rounding)."""
    delta = t - datetime(1970, 1, 1, tzinfo=t.tzinfo)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _number(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _line(point: Point) -> str:
    return point.to_line_protocol(precision=PRECISION)


def _tag_value(key: str, value: str) -> str:
    # Line protocol cannot carry a tag value that ends in a backslash (it would escape the ',' or
    # ' ' after it, and influxdb-client does not guard against it): drop those, and say so.
    if value.endswith("\\"):
        kept = value.rstrip("\\")
        log.warning(
            "tag %s=%r ends in a backslash, which line protocol cannot carry; written as %r",
            key,
            value,
            kept,
        )
        return kept
    return value


def _tagged(measurement: str, tags: dict[str, str | None], t_us: int) -> Point:
    point = Point(measurement).time(t_us, PRECISION)
    for key in sorted(tags):
        value = tags[key]
        if value:
            value = _tag_value(key, value)
        if value:  # influxdb-client leaves empty tags out; so do we, explicitly
            point.tag(key, value)
    return point


def estimate_lines(
    est: Estimate, reactor: str | None, write_distribution: bool = True
) -> list[str]:
    """The line-protocol lines of one estimate: its point, then one per distribution bin."""
    t_us = timestamp_us(est.t)
    tags = {
        "run_id": est.run_id,
        "reactor": reactor,
        "sensor_id": est.sensor_id,
        "model": est.model,
        "model_version": est.model_version,
    }
    point = _tagged(est.measurement, tags, t_us)
    for q in est.quantities:
        value = _number(q.value)
        if value is None:
            continue
        point.field(q.name, value)
        sd = _number(q.uncertainty)
        if sd is not None:
            point.field(f"{q.name}_sd", sd)
        for suffix, part in (
            ("_sd_noise", q.uncertainty_noise),
            ("_sd_model", q.uncertainty_model),
            ("_lo", q.lower),
            ("_hi", q.upper),
        ):
            number = _number(part)
            if number is not None:
                point.field(f"{q.name}{suffix}", number)
    point.field("flag_count", float(len(est.flags)))
    lines = [_line(point)]
    dist = est.distribution
    if dist is not None and write_distribution:
        sds = dist.uncertainties or [None] * len(dist.axis)
        for centre, value, sd in zip(dist.axis, dist.values, sds):
            v, u = _number(value), _number(sd)
            if v is None:
                continue
            bin_point = _tagged(est.measurement, {**tags, dist.axis_name: f"{centre:g}"}, t_us)
            bin_point.field(f"bin_{dist.quantity}", v)
            if u is not None:
                bin_point.field(f"bin_{dist.quantity}_sd", u)
            lines.append(_line(bin_point))
    return lines


def alert_lines(alert: Alert, reactor: str | None) -> list[str]:
    """The one line of an alert state change, in the ``alerts`` measurement."""
    tags = {
        "run_id": alert.run_id,
        "reactor": reactor,
        "sensor_id": alert.sensor_id,
        "rule": alert.rule,
        "severity": alert.severity,
        "state": alert.state,
    }
    point = _tagged("alerts", tags, timestamp_us(alert.t))
    point.field("message", alert.message)
    point.field("firing", 1.0 if alert.state == "firing" else 0.0)
    for name in sorted(alert.values):
        value = _number(alert.values[name])
        if value is not None and name not in ("message", "firing"):
            point.field(name, value)
    return [_line(point)]
