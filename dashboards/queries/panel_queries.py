"""The InfluxDB queries of the dashboards' panels, in InfluxQL and in Flux.

Each function returns a :class:`~synthwatch.dashboards.queries.text.Target`: the measurement and
fields it reads (checked against :mod:`~synthwatch.dashboards.queries.layout` by the tests) and the
query
text for both data-source flavours. Panels use Grafana's macros (``$timeFilter``/``$__interval``
in InfluxQL, ``v.timeRangeStart``/``v.windowPeriod`` in Flux) and the dashboard variable
``$run``. The queries about alerts are in :mod:`~synthwatch.dashboards.queries.alert_queries`.

>>> t = series("psd", ("d_mean_nm",), model="psd_lognormal", band=True, bucket="sw")
>>> print(t.influxql)  # doctest: +NORMALIZE_WHITESPACE
SELECT mean("d_mean_nm") AS "d_mean_nm", mean("d_mean_nm") - mean("d_mean_nm_sd") AS
"d_mean_nm - sd", mean("d_mean_nm") + mean("d_mean_nm_sd") AS "d_mean_nm + sd" FROM "psd"
WHERE "run_id" =~ /^$run$/ AND "model" = 'psd_lognormal' AND $timeFilter
GROUP BY time($__interval) fill(none)
"""

from __future__ import annotations

import math

import numpy as np

from synthwatch.dashboards.queries.layout import DEFAULT_BUCKET
from synthwatch.dashboards.queries.text import (
    Target,
    flux_filter,
    flux_from,
    flux_str,
    ident,
    influxql_where,
    last_per_run_and_reactor,
)

SQRT_2PI = math.sqrt(2.0 * math.pi)


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
        cols.append((f, f"mean({ident(f)})", f"r.{f}"))
        if band:
            sd = f + "_sd"
            read.append(sd)
            cols.append((f"{f} - sd", f"mean({ident(f)}) - mean({ident(sd)})", f"r.{f} - r.{sd}"))
            cols.append((f"{f} + sd", f"mean({ident(f)}) + mean({ident(sd)})", f"r.{f} + r.{sd}"))
    select = ", ".join(f"{expr} AS {ident(alias)}" for alias, expr, _ in cols)
    influxql = (
        f"SELECT {select} FROM {ident(measurement)} WHERE {influxql_where(True, model)} "
        "GROUP BY time($__interval) fill(none)"
    )
    record = ", ".join(f"{flux_str(alias)}: {expr}" for alias, _, expr in cols)
    flux = (
        flux_from(bucket)
        + flux_filter(measurement, tuple(read), True, model)
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
        f"SELECT mean(/{regex}/) FROM {ident(measurement)} WHERE {influxql_where(True, None)} "
        "GROUP BY time($__interval) fill(none)"
    )
    flux = (
        flux_from(bucket)
        + f"\n  |> filter(fn: (r) => r._measurement == {flux_str(measurement)}"
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

    The lognormal model (models/psd/lognormal.py) defines its distribution by ``d_mean_nm`` and
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
            f" / (ln({g}) * {SQRT_2PI:.10f}) AS {ident(name)}"
        )
        fx_cols.append(f"{flux_str(name)}: density(x: {ln_b}, d: r.d_mean_nm, g: r.gsd)")
    influxql = (
        f'SELECT {", ".join(iq_cols)} FROM "psd" WHERE {influxql_where(True, model)} '
        "GROUP BY time($__interval) fill(none)"
    )
    flux = (
        'import "math"\n'
        "density = (x, d, g) => {\n"
        "  s = math.log(x: g)\n"
        "  mu = math.log(x: d) - s * s / 2.0\n"
        f"  return math.exp(x: -(x - mu) * (x - mu) / (2.0 * s * s)) / (s * {SQRT_2PI:.10f})\n"
        "}\n"
        + flux_from(bucket)
        + flux_filter("psd", ("d_mean_nm", "gsd"), True, model)
        + '\n  |> group(columns: ["_field"])'
        + "\n  |> aggregateWindow(every: v.windowPeriod, fn: mean, createEmpty: false)"
        + "\n  |> group()"
        + '\n  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
        + "\n  |> filter(fn: (r) => exists r.d_mean_nm and exists r.gsd and r.gsd > 1.0)"
        + f"\n  |> map(fn: (r) => ({{_time: r._time, {', '.join(fx_cols)}}}))"
    )
    return Target("psd", ("d_mean_nm", "gsd"), influxql, flux, result_format="table")


def run_counters(fields: tuple[str, ...], *, bucket: str = DEFAULT_BUCKET) -> Target:
    """The worker's counters of the selected run (its ``pipeline_health`` point, at RunStop)."""
    select = ", ".join(f"last({ident(f)}) AS {ident(f.removesuffix('_count'))}" for f in fields)
    influxql = f'SELECT {select} FROM "pipeline_health" WHERE {influxql_where(True, None)}'
    record = ", ".join(f"{flux_str(f.removesuffix('_count'))}: r.{f}" for f in fields)
    flux = (
        flux_from(bucket)
        + flux_filter("pipeline_health", fields, True, None)
        + '\n  |> group(columns: ["_field"])'
        + '\n  |> sort(columns: ["_time"])'
        + "\n  |> last()"
        + "\n  |> group()"
        + '\n  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
        + f"\n  |> map(fn: (r) => ({{_time: r._time, {record}}}))"
    )
    return Target("pipeline_health", fields, influxql, flux, result_format="table")


def run_values(*, bucket: str = DEFAULT_BUCKET) -> Target:
    """The run ids in the data (the ``run`` variable)."""
    return Target(
        "uvvis_features",
        (),
        'SHOW TAG VALUES WITH KEY = "run_id"',
        'import "influxdata/influxdb/schema"\n'
        f'schema.tagValues(bucket: {flux_str(bucket)}, tag: "run_id", start: -30d)',
    )


def last_per_run(
    measurement: str,
    field: str,
    *,
    model: str | None = None,
    bucket: str = DEFAULT_BUCKET,
) -> Target:
    """The last value of ``field`` per run and reactor in the time range, with its time."""
    influxql, flux = last_per_run_and_reactor(measurement, field, model, bucket)
    flux = (
        flux
        + "\n  |> group()"
        + f"\n  |> map(fn: (r) => ({{_time: r._time, run_id: r.run_id, reactor: r.reactor, "
        f"{flux_str(field)}: r._value}})" + ")"
    )
    return Target(measurement, (field,), influxql, flux, result_format="table")


def series_by_run(
    measurement: str, field: str, *, model: str | None = None, bucket: str = DEFAULT_BUCKET
) -> Target:
    """Mean per interval of ``field``, one series per run (the fleet's overview)."""
    influxql = (
        f"SELECT mean({ident(field)}) AS {ident(field)} FROM {ident(measurement)} "
        f'WHERE {influxql_where(False, model)} GROUP BY time($__interval), "run_id" fill(none)'
    )
    flux = (
        flux_from(bucket)
        + flux_filter(measurement, (field,), False, model)
        + '\n  |> group(columns: ["run_id"])'
        + "\n  |> aggregateWindow(every: v.windowPeriod, fn: mean, createEmpty: false)"
    )
    return Target(measurement, (field,), influxql, flux, alias="$tag_run_id")
