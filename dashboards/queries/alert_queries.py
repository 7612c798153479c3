"""The InfluxDB queries about alerts and liveness, in InfluxQL and in Flux.

The engine writes one ``alerts`` point per state change (``firing`` then ``resolved``,
de-duplicated). Flux takes each rule's latest point and keeps those whose ``state`` tag is
``firing``. InfluxQL cannot select a row by a tag of the latest point, so it counts the rule's
transitions over the look-back: an odd count means the last one was ``firing`` (valid while the
look-back covers the rule's history in the run).

>>> print(alert_state("^drift").influxql)  # doctest: +NORMALIZE_WHITESPACE
SELECT "firing" FROM (SELECT count("message") % 2 AS "firing" FROM "alerts"
WHERE "rule" =~ /^drift/ AND $timeFilter GROUP BY "run_id", "rule") GROUP BY "run_id", "rule"
"""

from __future__ import annotations

from synthwatch.dashboards.queries.layout import DEFAULT_BUCKET
from synthwatch.dashboards.queries.text import (
    Target,
    flux_from,
    flux_str,
    ident,
    last_per_run_and_reactor,
)


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
        flux_from(bucket, start=start, stop="now()")
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
        flux_from(bucket)
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
    """Estimates per run in the last ``bucket_s`` seconds (> 0) or none (0), for the runs seen
    in the look-back.

    A run at 0 has gone silent. Flux leaves out runs that stopped (those
    with a ``pipeline_health`` point, written at RunStop); InfluxQL cannot anti-join two
    measurements, so there a run that ended normally also counts 0 until it leaves the
    look-back (the rule's annotation says so).
    """
    # Per-minute counts, empty minutes filled with 0 (so a silent run still has a series),
    # averaged over the window: 0 exactly when nothing arrived in it. (The count of one fixed
    # bucket would read 0 for every run just after a bucket boundary.)
    minutes = max(1, bucket_s // 60)
    influxql = (
        f'SELECT moving_average(count({ident(field)}), {minutes}) AS "recent" '
        f"FROM {ident(measurement)} WHERE $timeFilter "
        'GROUP BY time(60s), "run_id" fill(0)'
    )
    flux = (
        flux_from(bucket, start=f"-{lookback}", stop="now()")
        + f"\n  |> filter(fn: (r) => r._measurement == {flux_str(measurement)}"
        + f" and r._field == {flux_str(field)})"
        + '\n  |> group(columns: ["run_id"])'
        + '\n  |> sort(columns: ["_time"])'
        + "\n  |> last()"
        + "\n  |> map(fn: (r) => ({r with _value: if uint(v: now()) - uint(v: r._time) "
        + f"> uint(v: {bucket_s}) * uint(v: 1000000000) then 0.0 else 1.0}}))"
        + '\n  |> keep(columns: ["run_id", "_time", "_value"])'
        + "\n  |> join.left(\n    right: "
        + flux_from(bucket, start=f"-{lookback}", stop="now()").replace("\n", "\n    ")
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


def latest(
    measurement: str, field: str, *, model: str | None = None, bucket: str = DEFAULT_BUCKET
) -> Target:
    """Per run and reactor, the last value of ``field`` in the query's range (alert rules)."""
    influxql, flux = last_per_run_and_reactor(measurement, field, model, bucket)
    flux += '\n  |> keep(columns: ["_time", "_value", "run_id", "reactor"])'
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
        flux_from(bucket)
        + '\n  |> filter(fn: (r) => r._measurement == "alerts" and r._field == "message"'
        + f" and r.rule =~ /{rule_regex}/)"
        + '\n  |> group(columns: ["run_id", "rule"])'
        + '\n  |> sort(columns: ["_time"])'
        + "\n  |> last()"
        + '\n  |> map(fn: (r) => ({r with _value: if r.state == "firing" then 1.0 else 0.0}))'
        + '\n  |> keep(columns: ["_time", "_value", "run_id", "rule"])'
    )
    return Target("alerts", ("message",), influxql, flux)
