"""The InfluxDB queries of the dashboards and alert rules, in InfluxQL and in Flux.

Each function returns a :class:`Target`: the measurement and fields it reads (checked against
:mod:`~synthwatch.dashboards.layout` by the tests) and the query text for both data-source
flavours. Panels use Grafana's macros (``$timeFilter``/``$__interval`` in InfluxQL,
``v.timeRangeStart``/``v.windowPeriod`` in Flux) and the dashboard variable ``$run``.

The alert-state queries read the ``alerts`` measurement, where the engine writes one point per
state change (``firing`` then ``resolved``, de-duplicated). Flux takes each rule's latest point
and keeps those whose ``state`` tag is ``firing``. InfluxQL cannot select a row by a tag of the
latest point, so it counts the rule's transitions over the look-back: an odd count means the
last one was ``firing`` (valid while the look-back covers the rule's history in the run).

>>> t = series("psd", ("d_mean_nm",), model="psd_lognormal", band=True, bucket="sw")
>>> print(t.text(Flavour.INFLUXQL))  # doctest: +NORMALIZE_WHITESPACE
SELECT mean("d_mean_nm") AS "d_mean_nm", mean("d_mean_nm") - mean("d_mean_nm_sd") AS
"d_mean_nm - sd", mean("d_mean_nm") + mean("d_mean_nm_sd") AS "d_mean_nm + sd" FROM "psd"
WHERE "run_id" =~ /^$run$/ AND "model" = 'psd_lognormal' AND $timeFilter
GROUP BY time($__interval) fill(none)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from synthwatch.dashboards.layout import DEFAULT_BUCKET, Flavour

SQRT_2PI = math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class Target:
    """One query in both flavours, with what it reads."""

    measurement: str
    fields: tuple[str, ...]
    influxql: str
    flux: str
    result_format: str = "time_series"
    #: InfluxQL legend name (Grafana alias pattern), for time series
    alias: str = "$col"

    def text(self, flavour: Flavour) -> str:
        return self.influxql if flavour is Flavour.INFLUXQL else self.flux


def _q(name: str) -> str:
    """An InfluxQL identifier in double quotes."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _s(text: str) -> str:
    """A Flux string literal (``$`` escaped too: Flux interpolates ``${...}`` in strings)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return '"' + escaped + '"'


def _flux_from(bucket: str, start: str = "v.timeRangeStart", stop: str = "v.timeRangeStop") -> str:
    return f"from(bucket: {_s(bucket)})\n  |> range(start: {start}, stop: {stop})"


def _flux_filter(measurement: str, fields: tuple[str, ...], run: bool, model: str | None) -> str:
    cond = [f"r._measurement == {_s(measurement)}"]
    if run:
        cond.append('r.run_id == "${run}"')
    if model:
        cond.append(f"r.model == {_s(model)}")
    field_cond = " or ".join(f"r._field == {_s(f)}" for f in fields)
    return f"\n  |> filter(fn: (r) => {' and '.join(cond)})\n  |> filter(fn: (r) => {field_cond})"


def _influxql_where(run: bool, model: str | None) -> str:
    cond = []
    if run:
        cond.append('"run_id" =~ /^$run$/')
    if model:
        cond.append(f"\"model\" = '{model}'")
    return " AND ".join(cond + ["$timeFilter"])


def series(
    measurement: str,
    fields: tuple[str, ...],
    *,
    model: str | None = None,
    band: bool = False,
    bucket: str = DEFAULT_BUCKET,
) -> Target:
    """Mean per interval of ``fields`` for the selected run; ``band`` adds value ∓ 1 sd."""
    cols: list[tuple[str, str, str]] = []  # (alias, InfluxQL expr, Flux expr)
    read = list(fields)
    for f in fields:
        cols.append((f, f"mean({_q(f)})", f"r.{f}"))
        if band:
            sd = f + "_sd"
            read.append(sd)
            cols.append((f"{f} - sd", f"mean({_q(f)}) - mean({_q(sd)})", f"r.{f} - r.{sd}"))
            cols.append((f"{f} + sd", f"mean({_q(f)}) + mean({_q(sd)})", f"r.{f} + r.{sd}"))
    select = ", ".join(f"{expr} AS {_q(alias)}" for alias, expr, _ in cols)
    influxql = (
        f"SELECT {select} FROM {_q(measurement)} WHERE {_influxql_where(True, model)} "
        "GROUP BY time($__interval) fill(none)"
    )
    record = ", ".join(f"{_s(alias)}: {expr}" for alias, _, expr in cols)
    flux = (
        _flux_from(bucket)
        + _flux_filter(measurement, tuple(read), True, model)
        + '\n  |> group(columns: ["_field"])'
        + "\n  |> aggregateWindow(every: v.windowPeriod, fn: mean, createEmpty: false)"
        + "\n  |> group()"
        + '\n  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
        + f"\n  |> map(fn: (r) => ({{_time: r._time, {record}}}))"
    )
    return Target(measurement, tuple(read), influxql, flux)


def not_sd_regex(prefix: str) -> str:
    """RE2 (no look-ahead) for the fields starting with ``prefix`` that do not end in ``_sd``."""
    return f"^{prefix}(|.*[^d]|d|.*[^s]d|sd|.*[^_]sd)$"


def prefixed_series(measurement: str, prefix: str, *, bucket: str = DEFAULT_BUCKET) -> Target:
    """Mean per interval of every field whose name starts with ``prefix`` (a unit family; the
    ``_sd`` fields left out)."""
    regex = not_sd_regex(prefix)
    influxql = (
        f"SELECT mean(/{regex}/) FROM {_q(measurement)} WHERE {_influxql_where(True, None)} "
        "GROUP BY time($__interval) fill(none)"
    )
    flux = (
        _flux_from(bucket)
        + f"\n  |> filter(fn: (r) => r._measurement == {_s(measurement)}"
        + ' and r.run_id == "${run}")'
        + f"\n  |> filter(fn: (r) => r._field =~ /{regex}/)"
        + '\n  |> group(columns: ["_field"])'
        + "\n  |> aggregateWindow(every: v.windowPeriod, fn: mean, createEmpty: false)"
    )
    return Target(measurement, (prefix,), influxql, flux)


def size_bins_nm(n: int = 40, d_min_nm: float = 3.0, d_max_nm: float = 120.0) -> np.ndarray:
    """Geometric diameter grid of the size-distribution heatmap (bin centres)."""
    return np.geomspace(d_min_nm, d_max_nm, n)


def size_distribution(
    *, bins_nm: np.ndarray | None = None, model: str = "psd_lognormal", bucket: str = DEFAULT_BUCKET
) -> Target:
    """The lognormal number distribution over time, one column per diameter bin.

    The lognormal model (models/psd_lognormal.py) defines its distribution by ``d_mean_nm`` and
    ``gsd``: ln d ~ N(mu, s^2), s = ln gsd, mu = ln d_mean - s^2/2. Each column is that density
    per unit ln d, n(d) = exp(-(ln d - mu)^2 / (2 s^2)) / (s sqrt(2 pi)), evaluated at the bin
    centre from the interval's mean d_mean_nm and gsd: a heatmap of the fitted size
    distribution over time (Grafana's heatmap reads the bucket from each column's name).
    """
    bins = size_bins_nm() if bins_nm is None else np.asarray(bins_nm)
    d, g = 'mean("d_mean_nm")', 'mean("gsd")'
    iq_cols = []
    fx_cols = []
    for b in bins:
        name = f"{b:.3g}"
        ln_b = f"{math.log(b):.6f}"
        iq_cols.append(
            f"exp(-pow({ln_b} - ln({d}) + pow(ln({g}), 2) / 2.0, 2) / (2.0 * pow(ln({g}), 2)))"
            f" / (ln({g}) * {SQRT_2PI:.10f}) AS {_q(name)}"
        )
        fx_cols.append(f"{_s(name)}: density(x: {ln_b}, d: r.d_mean_nm, g: r.gsd)")
    influxql = (
        f'SELECT {", ".join(iq_cols)} FROM "psd" WHERE {_influxql_where(True, model)} '
        "GROUP BY time($__interval) fill(none)"
    )
    flux = (
        'import "math"\n'
        "density = (x, d, g) => {\n"
        "  s = math.log(x: g)\n"
        "  mu = math.log(x: d) - s * s / 2.0\n"
        f"  return math.exp(x: -(x - mu) * (x - mu) / (2.0 * s * s)) / (s * {SQRT_2PI:.10f})\n"
        "}\n"
        + _flux_from(bucket)
        + _flux_filter("psd", ("d_mean_nm", "gsd"), True, model)
        + '\n  |> group(columns: ["_field"])'
        + "\n  |> aggregateWindow(every: v.windowPeriod, fn: mean, createEmpty: false)"
        + "\n  |> group()"
        + '\n  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
        + "\n  |> filter(fn: (r) => exists r.d_mean_nm and exists r.gsd and r.gsd > 1.0)"
        + f"\n  |> map(fn: (r) => ({{_time: r._time, {', '.join(fx_cols)}}}))"
    )
    return Target("psd", ("d_mean_nm", "gsd"), influxql, flux, result_format="table")


def run_values(*, bucket: str = DEFAULT_BUCKET) -> Target:
    """The run ids in the data (the ``run`` variable)."""
    return Target(
        "uvvis_features",
        (),
        'SHOW TAG VALUES WITH KEY = "run_id"',
        'import "influxdata/influxdb/schema"\n'
        f'schema.tagValues(bucket: {_s(bucket)}, tag: "run_id", start: -30d)',
    )


def last_per_run(
    measurement: str,
    field: str,
    *,
    model: str | None = None,
    bucket: str = DEFAULT_BUCKET,
) -> Target:
    """The last value of ``field`` per run and reactor in the time range, with its time."""
    where = _influxql_where(False, model)
    influxql = (
        f"SELECT last({_q(field)}) AS {_q(field)} FROM {_q(measurement)} WHERE {where} "
        'GROUP BY "run_id", "reactor"'
    )
    flux = (
        _flux_from(bucket)
        + _flux_filter(measurement, (field,), False, model)
        + '\n  |> group(columns: ["run_id", "reactor"])'
        + '\n  |> sort(columns: ["_time"])'
        + "\n  |> last()"
        + "\n  |> group()"
        + f"\n  |> map(fn: (r) => ({{_time: r._time, run_id: r.run_id, reactor: r.reactor, "
        f"{_s(field)}: r._value}})" + ")"
    )
    return Target(measurement, (field,), influxql, flux, result_format="table")


def firing_alerts(
    *,
    rule_regex: str = ".*",
    lookback: str = "48h",
    per_run: bool = False,
    relative: bool = False,
    bucket: str = DEFAULT_BUCKET,
) -> Target:
    """Engine alerts whose latest state is ``firing``: value 1, labels run_id and rule.

    ``relative`` uses the query's own time range (alert rules set it); otherwise the look-back
    is ``lookback`` before now. ``per_run`` limits it to the dashboard's ``$run``.
    """
    time_iq = "$timeFilter" if relative else f"time > now() - {lookback}"
    run_iq = '"run_id" =~ /^$run$/ AND ' if per_run else ""
    influxql = (
        'SELECT "firing", "message" FROM (SELECT count("message") % 2 AS "firing", '
        f'last("message") AS "message" FROM "alerts" WHERE {run_iq}"rule" =~ /{rule_regex}/ '
        f'AND {time_iq} GROUP BY "run_id", "rule") WHERE "firing" = 1 GROUP BY "run_id", "rule"'
    )
    start = "v.timeRangeStart" if relative else f"-{lookback}"
    run_fx = ' and r.run_id == "${run}"' if per_run else ""
    flux = (
        _flux_from(bucket, start=start, stop="now()")
        + '\n  |> filter(fn: (r) => r._measurement == "alerts" and r._field == "message"'
        + f"{run_fx} and r.rule =~ /{rule_regex}/)"
        + '\n  |> group(columns: ["run_id", "rule"])'
        + '\n  |> sort(columns: ["_time"])'
        + "\n  |> last()"
        + '\n  |> filter(fn: (r) => r.state == "firing")'
        + "\n  |> map(fn: (r) => ({_time: r._time, run_id: r.run_id, rule: r.rule, "
        + "severity: r.severity, message: r._value, firing: 1.0}))"
    )
    return Target("alerts", ("message",), influxql, flux, result_format="table")


def alert_annotations(*, bucket: str = DEFAULT_BUCKET) -> Target:
    """The engine's alert state changes of the selected run, as annotation events."""
    influxql = (
        'SELECT "message", "rule", "severity", "state" FROM "alerts" '
        'WHERE "run_id" =~ /^$run$/ AND $timeFilter'
    )
    flux = (
        _flux_from(bucket)
        + '\n  |> filter(fn: (r) => r._measurement == "alerts" and r._field == "message"'
        + ' and r.run_id == "${run}")'
        + "\n  |> group()"
        + '\n  |> map(fn: (r) => ({time: r._time, title: r.rule + " " + r.state, '
        + 'text: r._value, tags: r.rule + "," + r.severity + "," + r.state}))'
    )
    return Target("alerts", ("message",), influxql, flux, result_format="table")


def stale_runs(
    measurement: str,
    field: str,
    *,
    bucket_s: int = 300,
    lookback: str = "1h",
    bucket: str = DEFAULT_BUCKET,
) -> Target:
    """Estimates per run in the latest ``bucket_s`` window, for runs seen in the look-back.

    A run whose last window counts 0 has gone silent. Flux leaves out runs that stopped (those
    with a ``pipeline_health`` point, written at RunStop); InfluxQL cannot anti-join two
    measurements, so there a run that ended normally also counts 0 until it leaves the
    look-back (the rule's annotation says so).
    """
    influxql = (
        f"SELECT count({_q(field)}) FROM {_q(measurement)} WHERE $timeFilter "
        f'GROUP BY time({bucket_s}s), "run_id" fill(0)'
    )
    flux = (
        _flux_from(bucket, start=f"-{lookback}", stop="now()")
        + f"\n  |> filter(fn: (r) => r._measurement == {_s(measurement)}"
        + f" and r._field == {_s(field)})"
        + '\n  |> group(columns: ["run_id"])'
        + '\n  |> sort(columns: ["_time"])'
        + "\n  |> last()"
        + "\n  |> map(fn: (r) => ({r with _value: if uint(v: now()) - uint(v: r._time) "
        + f"> uint(v: {bucket_s}) * uint(v: 1000000000) then 0.0 else 1.0}}))"
        + '\n  |> keep(columns: ["run_id", "_time", "_value"])'
        + "\n  |> join.left(\n    right: "
        + _flux_from(bucket, start=f"-{lookback}", stop="now()").replace("\n", "\n    ")
        + '\n      |> filter(fn: (r) => r._measurement == "pipeline_health"'
        + ' and r._field == "processed_count")'
        + '\n      |> group(columns: ["run_id"])\n      |> last()'
        + '\n      |> keep(columns: ["run_id", "_value"]),'
        + "\n    on: (l, r) => l.run_id == r.run_id,"
        + "\n    as: (l, r) => ({l with stopped: exists r._value}),\n  )"
        + "\n  |> filter(fn: (r) => not r.stopped)"
        + '\n  |> drop(columns: ["stopped"])'
    )
    flux = 'import "join"\n' + flux
    return Target(measurement, (field,), influxql, flux)


def series_by_run(
    measurement: str, field: str, *, model: str | None = None, bucket: str = DEFAULT_BUCKET
) -> Target:
    """Mean per interval of ``field``, one series per run (the fleet's overview)."""
    influxql = (
        f"SELECT mean({_q(field)}) AS {_q(field)} FROM {_q(measurement)} "
        f'WHERE {_influxql_where(False, model)} GROUP BY time($__interval), "run_id" fill(none)'
    )
    flux = (
        _flux_from(bucket)
        + _flux_filter(measurement, (field,), False, model)
        + '\n  |> group(columns: ["run_id"])'
        + "\n  |> aggregateWindow(every: v.windowPeriod, fn: mean, createEmpty: false)"
    )
    return Target(measurement, (field,), influxql, flux, alias="$tag_run_id")


def latest(
    measurement: str, field: str, *, model: str | None = None, bucket: str = DEFAULT_BUCKET
) -> Target:
    """Per run and reactor, the last value of ``field`` in the query's range (alert rules)."""
    influxql = (
        f"SELECT last({_q(field)}) AS {_q(field)} FROM {_q(measurement)} "
        f'WHERE {_influxql_where(False, model)} GROUP BY "run_id", "reactor"'
    )
    flux = (
        _flux_from(bucket)
        + _flux_filter(measurement, (field,), False, model)
        + '\n  |> group(columns: ["run_id", "reactor"])'
        + '\n  |> sort(columns: ["_time"])'
        + "\n  |> last()"
        + '\n  |> keep(columns: ["_time", "_value", "run_id", "reactor"])'
    )
    return Target(measurement, (field,), influxql, flux)


def alert_state(rule_regex: str, *, bucket: str = DEFAULT_BUCKET) -> Target:
    """Per run and engine rule matching ``rule_regex``: 1 if its latest state is firing, else 0.

    Over the query's range (the alert rule's look-back); see the module docstring for how each
    flavour finds the latest state.
    """
    influxql = (
        'SELECT "firing" FROM (SELECT count("message") % 2 AS "firing" FROM "alerts" '
        f'WHERE "rule" =~ /{rule_regex}/ AND $timeFilter GROUP BY "run_id", "rule") '
        'GROUP BY "run_id", "rule"'
    )
    flux = (
        _flux_from(bucket)
        + '\n  |> filter(fn: (r) => r._measurement == "alerts" and r._field == "message"'
        + f" and r.rule =~ /{rule_regex}/)"
        + '\n  |> group(columns: ["run_id", "rule"])'
        + '\n  |> sort(columns: ["_time"])'
        + "\n  |> last()"
        + '\n  |> map(fn: (r) => ({r with _value: if r.state == "firing" then 1.0 else 0.0}))'
        + '\n  |> keep(columns: ["_time", "_value", "run_id", "rule"])'
    )
    return Target("alerts", ("message",), influxql, flux)
