"""The read side of the embedded store: the queries :class:`~synthwatch.stream.store.embedded.Store`
inherits from :class:`StoreQueries`, and the small frozen dataclasses some of them return.

Every query takes the store's lock for one statement at a time, so the writer (another thread of
the same ``Store``, or another process) goes on writing between them.
"""

from __future__ import annotations

import heapq
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from synthwatch.contract.messages import (
    Alert,
    Descriptor,
    Estimate,
    Label,
    Message,
    Reading,
    RunStart,
    RunStop,
)
from synthwatch.stream.store.rows import (
    ESTIMATE_COLUMNS,
    READING_COLUMNS,
    StoreError,
    UnknownRunError,
    estimate_from_row,
    from_us,
    reading_from_row,
)

__all__ = ["StoreQueries", "RunSummary", "DeadLetter", "run_source"]


def run_source(run_id: str, where: str) -> str:
    """The ``source`` of a dead letter that belongs to ``run_id``'s run: ``run <run_id>:
    <where>`` (a run id holds no space, so the prefix is unambiguous); a folder replay's refused
    file has its file name as ``where``, the worker ``worker``. :meth:`StoreQueries.run_deadletters`
    finds them."""
    return f"run {run_id}: {where}"


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One run as ``synthwatch runs`` lists it.

    ``status`` is ``running`` between RunStart and RunStop, the RunStop status after it
    (``success``, ``aborted``, ``failed``), and ``unknown`` for a run with data but no RunStart.
    ``t_last`` is the latest event time of anything the run holds (None when it holds nothing).
    """

    run_id: str
    reactor: str | None
    system: str | None
    t_start: datetime | None
    t_stop: datetime | None
    status: str
    reason: str
    n_readings: int
    n_estimates: int
    n_alerts: int
    t_last: datetime | None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Input that failed validation: the raw bytes, why, where it came from, when it was stored."""

    raw: bytes
    reason: str
    source: str
    time: datetime


class StoreQueries:
    """The queries of :class:`~synthwatch.stream.store.embedded.Store` (a mixin: it needs the
    store's
    ``path``, its open connection ``_conn`` and its ``_lock``)."""

    path: Path
    _conn: sqlite3.Connection | None
    _lock: threading.RLock
    _page_rows: int  # rows fetched per query while streaming readings

    def _reader(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"{self.path}: store is not open; call setup() or use `with`")
        return self._conn

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """The rows of one read-only statement (under the store's lock, as every query here)."""
        with self._lock:
            return self._reader().execute(sql, params).fetchall()

    def _require_run(self, run_id: str) -> None:
        if not self.query("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)):
            raise UnknownRunError(run_id, self.path)

    def runs(self) -> list[RunSummary]:
        """Every run in the store, oldest start first (runs without a RunStart last)."""
        ids = self.query("SELECT run_id FROM runs ORDER BY t_start IS NULL, t_start, run_id")
        return [self.run(run_id) for (run_id,) in ids]

    def run(self, run_id: str) -> RunSummary:
        """One run's summary; :class:`UnknownRunError` if there is no such run."""
        with self._lock:
            conn = self._reader()
            row = conn.execute(
                "SELECT reactor, system, t_start, t_stop, status, reason FROM runs "
                "WHERE run_id = ?",
                (run_id,),
            ).fetchone()
            if row is None:
                raise UnknownRunError(run_id, self.path)
            reactor, system, t_start, t_stop, status, reason = row
            n_readings = self.count("readings", run_id)
            n_estimates = self.count("estimates", run_id)
            n_alerts = self.count("alerts", run_id)
            # the latest event time: per-sensor last reading (index seeks), latest estimate...
            sensors = conn.execute(
                "SELECT DISTINCT sensor_id FROM readings WHERE run_id = ?", (run_id,)
            ).fetchall()
            candidates = [t_start, t_stop]
            for (sensor_id,) in sensors:
                candidates += [
                    r[0]
                    for r in conn.execute(
                        "SELECT t FROM readings WHERE run_id = ? AND sensor_id = ? "
                        "ORDER BY seq DESC LIMIT 1",
                        (run_id, sensor_id),
                    )
                ]
            for table in ("estimates", "alerts", "labels", "descriptors"):
                candidates.append(
                    conn.execute(
                        f"SELECT max(t) FROM {table} WHERE run_id = ?", (run_id,)
                    ).fetchone()[0]
                )
            known = [c for c in candidates if c is not None]
        return RunSummary(
            run_id=run_id,
            reactor=reactor,
            system=system,
            t_start=from_us(t_start),
            t_stop=from_us(t_stop),
            status=status,
            reason=reason,
            n_readings=n_readings,
            n_estimates=n_estimates,
            n_alerts=n_alerts,
            t_last=from_us(max(known)) if known else None,
        )

    def run_start(self, run_id: str) -> RunStart:
        """The run's RunStart; :class:`UnknownRunError` if the store has none for it."""
        rows = self.query(
            "SELECT reactor, system, recipe, operator, tags, t_start FROM runs "
            "WHERE run_id = ? AND t_start IS NOT NULL",
            (run_id,),
        )
        if not rows:
            raise UnknownRunError(run_id, self.path)
        reactor, system, recipe, operator, tags, t_start = rows[0]
        return RunStart(
            run_id=run_id,
            t=from_us(t_start),
            reactor=reactor,
            system=system,
            recipe=json.loads(recipe),
            operator=operator,
            tags=json.loads(tags),
        )

    def run_stop(self, run_id: str) -> RunStop | None:
        """The run's RunStop, or None while it is still running; UnknownRunError if no run."""
        rows = self.query("SELECT t_stop, status, reason FROM runs WHERE run_id = ?", (run_id,))
        if not rows:
            raise UnknownRunError(run_id, self.path)
        t_stop, status, reason = rows[0]
        if t_stop is None:
            return None
        return RunStop(run_id=run_id, t=from_us(t_stop), status=status, reason=reason)

    def descriptors(self, run_id: str) -> list[Descriptor]:
        """The run's sensor descriptors, by sensor_id."""
        rows = self.query(
            "SELECT msg FROM descriptors WHERE run_id = ? ORDER BY sensor_id", (run_id,)
        )
        return [Descriptor.model_validate(json.loads(msg)) for (msg,) in rows]

    def readings(self, run_id: str, sensor_id: str | None = None) -> Iterator[Reading]:
        """The run's readings in (sensor_id, seq) order, streamed a page at a time.

        No statement or lock is held between pages, so the writer may go on writing (from
        another thread or process) while this iterates. Rows present when the iteration started
        come once each, in order; rows written meanwhile may or may not appear.
        """
        base = f"SELECT {READING_COLUMNS} FROM readings WHERE run_id = ?"
        page_rows = self._page_rows
        if sensor_id is not None:
            # one sensor: seek on (run_id, sensor_id, seq > last). With a row-value bound
            # "(sensor_id, seq) > (?, ?)" SQLite ignores the equality on sensor_id, scans the
            # index to the end of the run and sorts: every page cost a scan of the whole run
            base += " AND sensor_id = ?"
            first: tuple = (run_id, sensor_id)
            order = f" ORDER BY seq LIMIT {page_rows}"
            after = " AND seq > ?"

            def resume(last: tuple) -> tuple:
                return (*first, last[2])

        else:
            first = (run_id,)
            order = f" ORDER BY sensor_id, seq LIMIT {page_rows}"
            after = " AND (sensor_id, seq) > (?, ?)"

            def resume(last: tuple) -> tuple:
                return (*first, last[1], last[2])

        rows = self.query(base + order, first)
        while rows:
            for row in rows:
                yield reading_from_row(row)
            if len(rows) < page_rows:
                return
            rows = self.query(base + after + order, resume(rows[-1]))

    def readings_by_time(self, run_id: str) -> Iterator[Reading]:
        """The run's readings of all sensors merged by event time (each sensor in seq order).

        Streams, as :meth:`readings` does; ties in time go by sensor_id. For replay.
        """
        sensors = [
            s
            for (s,) in self.query(
                "SELECT DISTINCT sensor_id FROM readings WHERE run_id = ? ORDER BY sensor_id",
                (run_id,),
            )
        ]
        streams = [self.readings(run_id, s) for s in sensors]
        return heapq.merge(*streams, key=lambda r: (r.t, r.sensor_id))

    def estimates(
        self, run_id: str, measurement: str | None = None, model: str | None = None
    ) -> list[Estimate]:
        """The run's estimates in event-time order (then model, then quantity set)."""
        sql = f"SELECT {ESTIMATE_COLUMNS} FROM estimates WHERE run_id = ?"
        params: list[Any] = [run_id]
        if measurement is not None:
            sql += " AND measurement = ?"
            params.append(measurement)
        if model is not None:
            sql += " AND model = ?"
            params.append(model)
        sql += " ORDER BY t, model, qkey"
        return [estimate_from_row(r) for r in self.query(sql, params)]

    def alerts(self, run_id: str) -> list[Alert]:
        """The run's alerts in event-time order."""
        rows = self.query(
            "SELECT msg FROM alerts WHERE run_id = ? ORDER BY t, rule, sensor_key, state",
            (run_id,),
        )
        return [Alert.model_validate(json.loads(msg)) for (msg,) in rows]

    def labels(self, run_id: str) -> list[Label]:
        """The run's labels in sample-time order."""
        rows = self.query(
            "SELECT msg FROM labels WHERE run_id = ? ORDER BY sample_t, quantity, method",
            (run_id,),
        )
        return [Label.model_validate(json.loads(msg)) for (msg,) in rows]

    def messages(self, run_id: str) -> Iterator[Message]:
        """Everything of a run as a replay would send it: RunStart, descriptors, readings by
        time, labels, RunStop (estimates and alerts are outputs, not inputs, and are left out)."""
        try:
            yield self.run_start(run_id)
        except UnknownRunError:
            self._require_run(run_id)
        yield from self.descriptors(run_id)
        yield from self.readings_by_time(run_id)
        yield from self.labels(run_id)
        stop = self.run_stop(run_id)
        if stop is not None:
            yield stop

    def deadletters(self, limit: int | None = None) -> list[DeadLetter]:
        """Dead letters, oldest first (the last ``limit`` of them when given)."""
        sql = "SELECT raw, reason, source, time FROM deadletters ORDER BY id"
        params: tuple = ()
        if limit is not None:
            sql = (
                "SELECT raw, reason, source, time FROM (SELECT * FROM deadletters "
                "ORDER BY id DESC LIMIT ?) ORDER BY id"
            )
            params = (int(limit),)
        return [
            DeadLetter(raw=bytes(raw), reason=reason, source=source, time=from_us(t))
            for raw, reason, source, t in self.query(sql, params)
        ]

    def run_deadletters(self, run_id: str, limit: int | None = None) -> list[DeadLetter]:
        """The dead letters of ``run_id``'s run (source :func:`run_source`), oldest first (the
        last ``limit`` when given); their ``source`` is the ``where`` part."""
        prefix = run_source(run_id, "")
        sql = (
            "SELECT raw, reason, source, time FROM (SELECT * FROM deadletters "
            "WHERE substr(source, 1, ?) = ? ORDER BY id DESC LIMIT ?) ORDER BY id"
        )
        rows = self.query(sql, (len(prefix), prefix, -1 if limit is None else int(limit)))
        return [
            DeadLetter(raw=bytes(raw), reason=reason, source=source[len(prefix) :], time=from_us(t))
            for raw, reason, source, t in rows
        ]

    def count(
        self,
        what: Literal[
            "runs", "readings", "estimates", "alerts", "labels", "descriptors", "deadletters"
        ],
        run_id: str | None = None,
        sensor_id: str | None = None,
    ) -> int:
        """How many rows of ``what`` (for one run, and one sensor of it, when given)."""
        if what not in {
            "runs",
            "readings",
            "estimates",
            "alerts",
            "labels",
            "descriptors",
            "deadletters",
        }:
            raise ValueError(
                f"count: expected runs, readings, estimates, alerts, labels, descriptors or "
                f"deadletters, got {what!r}"
            )
        sql = f"SELECT count(*) FROM {what}"
        clauses, params = [], []
        if run_id is not None:
            if what == "deadletters":
                raise ValueError("count: dead letters belong to no run")
            clauses.append("run_id = ?")
            params.append(run_id)
        if sensor_id is not None:
            if what not in ("readings", "estimates", "descriptors"):
                raise ValueError(f"count: {what} have no sensor_id")
            clauses.append("sensor_id = ?")
            params.append(sensor_id)
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        return self.query(sql, params)[0][0]

    def integrity_check(self) -> list[str]:
        """SQLite's ``PRAGMA integrity_check``: ``['ok']`` for a sound file."""
        return [r[0] for r in self.query("PRAGMA integrity_check")]
