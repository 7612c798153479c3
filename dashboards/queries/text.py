"""Query-text building blocks shared by the panel and alert queries: quoting and filters."""

from __future__ import annotations

from dataclasses import dataclass

from synthwatch.dashboards.queries.layout import Flavour


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


def ident(name: str) -> str:
    """An InfluxQL identifier in double quotes."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def flux_str(text: str) -> str:
    """A Flux string literal (``$`` escaped too: Flux interpolates ``${...}`` in strings)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return '"' + escaped + '"'


def flux_from(bucket: str, start: str = "v.timeRangeStart", stop: str = "v.timeRangeStop") -> str:
    return f"from(bucket: {flux_str(bucket)})\n  |> range(start: {start}, stop: {stop})"


def flux_filter(measurement: str, fields: tuple[str, ...], run: bool, model: str | None) -> str:
    cond = [f"r._measurement == {flux_str(measurement)}"]
    if run:
        cond.append('r.run_id == "${run}"')
    if model:
        cond.append(f"r.model == {flux_str(model)}")
    field_cond = " or ".join(f"r._field == {flux_str(f)}" for f in fields)
    return f"\n  |> filter(fn: (r) => {' and '.join(cond)})\n  |> filter(fn: (r) => {field_cond})"


def influxql_where(run: bool, model: str | None) -> str:
    cond = []
    if run:
        cond.append('"run_id" =~ /^$run$/')
    if model:
        cond.append(f"\"model\" = '{model}'")
    return " AND ".join(cond + ["$timeFilter"])


def last_per_run_and_reactor(
    measurement: str, field: str, model: str | None, bucket: str
) -> tuple[str, str]:
    """The InfluxQL, and the Flux up to its ``last()``, of the last value of ``field`` per run
    and reactor in the query's time range (Flux: one table per run and reactor)."""
    influxql = (
        f"SELECT last({ident(field)}) AS {ident(field)} FROM {ident(measurement)} "
        f'WHERE {influxql_where(False, model)} GROUP BY "run_id", "reactor"'
    )
    flux = (
        flux_from(bucket)
        + flux_filter(measurement, (field,), False, model)
        + '\n  |> group(columns: ["run_id", "reactor"])'
        + '\n  |> sort(columns: ["_time"])'
        + "\n  |> last()"
    )
    return influxql, flux
