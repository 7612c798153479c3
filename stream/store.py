"""The embedded store: a local, crash-safe, queryable archive of runs (the default sink).

Everything a run produces lands here: its :class:`~synthwatch.stream.contract.RunStart` and
:class:`~synthwatch.stream.contract.RunStop`, sensor descriptors, readings, late labels, model
estimates, alerts, and the dead letters (input that failed validation, with the reason). Replay
reads runs back from it, and ``synthwatch show`` / ``synthwatch runs`` query it while a demo is
still writing.

Why SQLite (stdlib :mod:`sqlite3`) in WAL mode
----------------------------------------------
* **Stdlib, no server**: nothing to install or start; one file per store, easy to copy or mail.
* **Atomic transactions**: a batch of writes lands whole or not at all, so a crash never leaves a
  half-written spectrum or a torn index.
* **Readers while the demo writes**: in WAL (write-ahead log) mode readers never block the writer
  and the writer never blocks readers; each reader query sees the last committed state.
* **Crash-safe**: with ``synchronous=NORMAL`` in WAL mode, a commit is an append to the ``-wal``
  file made by ``write()``; it is in the operating system's page cache the moment the commit
  returns, so it survives the *process* dying (``kill -9``, segfault, OOM). Only a power loss or
  kernel crash can lose the last commits since the last checkpoint ``fsync`` -- never corrupt
  the file. (``synchronous=FULL`` would also survive power loss, at one ``fsync`` per commit.)
* **Upserts** (``INSERT ... ON CONFLICT DO UPDATE``) make the sink idempotent, as at-least-once
  delivery needs: the same reading, estimate identity or alert written twice leaves one row.

Against the alternatives: DuckDB is an extra compiled dependency whose file allows a single
writing *process* and no concurrent readers from other processes, and it is built for bulk
columnar analytics rather than thousands of small row upserts a second. Parquet segments are
immutable: upserts and crash safety would need our own segment log, compaction and manifest,
and a reader could see a half-written segment. Both remain good *export* formats for analysis.

Layout and encoding
-------------------
* Times are stored as integer microseconds since the Unix epoch, UTC (exact for ``datetime``).
  In SQL: ``datetime(t_us / 1e6, 'unixepoch')``.
* Reading arrays (``values``, ``values_imag``, ``counts``, ``dark``, ``reference``) are
  little-endian float64 blobs: lossless (NaN, +-inf and every bit of every value survive) and
  about 4.8 kB for a 601-point spectrum. ``numpy.frombuffer(blob, '<f8')`` reads one in SQL tools.
* Other messages are stored as JSON text (Python's JSON, so NaN/Infinity survive too) beside the
  columns they are queried by.
* ``PRAGMA application_id`` marks the file as a synthwatch store, ``PRAGMA user_version`` holds
  the schema version; a store written by a newer synthwatch is refused, not misread.

Writing
-------
One writer (one thread at a time; a lock makes calls from several threads safe) per store file.
Writes are buffered in one transaction, committed by :meth:`Store.flush`, automatically after
``commit_interval_s`` (0.5 s) since the first uncommitted write or after ``batch_size`` writes,
and by a background timer while the input is idle. So a ``kill -9`` loses at most about the last
``1.5 * commit_interval_s`` of writes, and always a suffix: what survives is a prefix.

Reading
-------
``Store(path, readonly=True)`` opens the file read-only from any process (``synthwatch show``
while the demo runs); it needs the ``-shm``/``-wal`` files or a writable directory beside the
store, as WAL readers do. Queries return contract messages or small frozen dataclasses.

>>> import tempfile, pathlib
>>> from datetime import datetime, timezone
>>> from synthwatch.stream.contract import RunStart, Reading
>>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> path = pathlib.Path(tempfile.mkdtemp()) / "store.db"
>>> with Store(path) as store:
...     store.add(RunStart(run_id="r1", t=t0, reactor="R1", system="Au-citrate"))
...     store.add(Reading(run_id="r1", t=t0, sensor_id="uv1", seq=0, values=[0.1, 0.2]))
>>> with Store(path, readonly=True) as store:
...     summary = store.run("r1")
...     (summary.status, summary.n_readings, [r.values for r in store.readings("r1")])
('running', 1, [[0.1, 0.2]])
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import numpy as np

from synthwatch.stream.contract import (
    Alert,
    Descriptor,
    Estimate,
    Label,
    Message,
    Reading,
    RunStart,
    RunStop,
)
from synthwatch.stream.sinks import Sink

__all__ = [
    "SCHEMA_VERSION",
    "APPLICATION_ID",
    "Store",
    "StoreError",
    "SchemaVersionError",
    "UnknownRunError",
    "RunSummary",
    "DeadLetter",
]

#: Version of the table layout written by this synthwatch (``PRAGMA user_version``).
SCHEMA_VERSION = 1
#: ``PRAGMA application_id`` of a synthwatch store: b"SWST".
APPLICATION_ID = 0x53575354

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)
_PAGE_ROWS = 512  # rows fetched per query while streaming readings

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id    TEXT PRIMARY KEY,
    reactor   TEXT,
    system    TEXT,
    recipe    TEXT,              -- JSON object
    operator  TEXT,
    tags      TEXT,              -- JSON object
    t_start   INTEGER,           -- us since epoch, UTC (RunStart.t)
    t_stop    INTEGER,           -- us since epoch, UTC (RunStop.t)
    status    TEXT NOT NULL,     -- unknown | running | success | aborted | failed
    reason    TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS descriptors (
    run_id    TEXT NOT NULL,
    sensor_id TEXT NOT NULL,
    kind      TEXT NOT NULL,
    t         INTEGER NOT NULL,
    msg       TEXT NOT NULL,     -- the Descriptor, JSON
    PRIMARY KEY (run_id, sensor_id)
);
CREATE TABLE IF NOT EXISTS readings (
    run_id    TEXT NOT NULL,
    sensor_id TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    t         INTEGER NOT NULL,
    vals      BLOB NOT NULL,     -- float64 little-endian
    imag      BLOB,
    counts    BLOB,
    dark      BLOB,
    reference BLOB,
    flags     TEXT,              -- JSON list, NULL when empty
    UNIQUE (run_id, sensor_id, seq)
);
CREATE TABLE IF NOT EXISTS labels (
    run_id    TEXT NOT NULL,
    quantity  TEXT NOT NULL,
    method    TEXT NOT NULL,
    sample_t  INTEGER NOT NULL,
    t         INTEGER NOT NULL,
    msg       TEXT NOT NULL,     -- the Label, JSON
    UNIQUE (run_id, quantity, method, sample_t)
);
CREATE TABLE IF NOT EXISTS estimates (
    run_id        TEXT NOT NULL,
    model         TEXT NOT NULL,
    qkey          TEXT NOT NULL,  -- sorted quantity names joined by ','
    t             INTEGER NOT NULL,
    model_version TEXT NOT NULL,
    measurement   TEXT NOT NULL,
    sensor_id     TEXT NOT NULL,
    seq           INTEGER,
    quantities    TEXT NOT NULL,  -- JSON list of {name, value, units, uncertainty}
    flags         TEXT,           -- JSON list, NULL when empty
    UNIQUE (run_id, model, qkey, t)
);
CREATE INDEX IF NOT EXISTS estimates_by_time ON estimates (run_id, t);
CREATE TABLE IF NOT EXISTS alerts (
    run_id     TEXT NOT NULL,
    rule       TEXT NOT NULL,
    sensor_key TEXT NOT NULL,    -- sensor_id, '' when the alert has none
    t          INTEGER NOT NULL,
    state      TEXT NOT NULL,
    severity   TEXT NOT NULL,
    msg        TEXT NOT NULL,    -- the Alert, JSON
    UNIQUE (run_id, rule, sensor_key, t, state)
);
CREATE TABLE IF NOT EXISTS deadletters (
    id      INTEGER PRIMARY KEY,
    raw     BLOB NOT NULL,
    reason  TEXT NOT NULL,
    source  TEXT NOT NULL,
    time    INTEGER NOT NULL,    -- wall time it was stored, us since epoch
    digest  BLOB NOT NULL,       -- sha256 of raw
    UNIQUE (digest, source, reason)
);
"""

_UPSERT_READING = """
INSERT INTO readings (run_id, sensor_id, seq, t, vals, imag, counts, dark, reference, flags)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id, sensor_id, seq) DO UPDATE SET
    t = excluded.t, vals = excluded.vals, imag = excluded.imag, counts = excluded.counts,
    dark = excluded.dark, reference = excluded.reference, flags = excluded.flags
"""
_UPSERT_ESTIMATE = """
INSERT INTO estimates (run_id, model, qkey, t, model_version, measurement, sensor_id, seq,
                       quantities, flags)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id, model, qkey, t) DO UPDATE SET
    model_version = excluded.model_version, measurement = excluded.measurement,
    sensor_id = excluded.sensor_id, seq = excluded.seq, quantities = excluded.quantities,
    flags = excluded.flags
"""
_UPSERT_ALERT = """
INSERT INTO alerts (run_id, rule, sensor_key, t, state, severity, msg)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id, rule, sensor_key, t, state) DO UPDATE SET
    severity = excluded.severity, msg = excluded.msg
"""
_UPSERT_LABEL = """
INSERT INTO labels (run_id, quantity, method, sample_t, t, msg) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id, quantity, method, sample_t) DO UPDATE SET t = excluded.t, msg = excluded.msg
"""
_UPSERT_DESCRIPTOR = """
INSERT INTO descriptors (run_id, sensor_id, kind, t, msg) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (run_id, sensor_id) DO UPDATE SET kind = excluded.kind, t = excluded.t,
    msg = excluded.msg
"""
_UPSERT_RUN_START = """
INSERT INTO runs (run_id, reactor, system, recipe, operator, tags, t_start, status)
VALUES (?, ?, ?, ?, ?, ?, ?, 'running')
ON CONFLICT (run_id) DO UPDATE SET
    reactor = excluded.reactor, system = excluded.system, recipe = excluded.recipe,
    operator = excluded.operator, tags = excluded.tags, t_start = excluded.t_start,
    status = CASE WHEN runs.t_stop IS NULL THEN 'running' ELSE runs.status END
"""
_UPSERT_RUN_STOP = """
INSERT INTO runs (run_id, t_stop, status, reason) VALUES (?, ?, ?, ?)
ON CONFLICT (run_id) DO UPDATE SET
    t_stop = excluded.t_stop, status = excluded.status, reason = excluded.reason
"""
_REGISTER_RUN = "INSERT OR IGNORE INTO runs (run_id, status) VALUES (?, 'unknown')"
_INSERT_DEADLETTER = """
INSERT INTO deadletters (raw, reason, source, time, digest) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (digest, source, reason) DO NOTHING
"""
_READING_COLUMNS = "run_id, sensor_id, seq, t, vals, imag, counts, dark, reference, flags"


class StoreError(Exception):
    """The store file cannot be used (not a database, not a synthwatch store, unwritable...)."""


class SchemaVersionError(StoreError):
    """The store was written by a newer synthwatch (a newer schema) than this one."""


class UnknownRunError(KeyError):
    """No run of that id in the store."""

    def __init__(self, run_id: str, path: Path | str | None = None):
        self.run_id = run_id
        where = f" in {path}" if path is not None else ""
        self.message = (
            f"no run {run_id!r}{where}; `synthwatch runs` lists the runs there are"
        )
        super().__init__(self.message)

    def __str__(self) -> str:  # KeyError would show the repr of the message
        return self.message


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


def _us(t: datetime) -> int:
    return (t - _EPOCH) // _US


def _dt(us: int | None) -> datetime | None:
    return None if us is None else _EPOCH + timedelta(microseconds=us)


def _blob(values: Sequence[float] | None) -> bytes | None:
    if values is None:
        return None
    return np.asarray(values, dtype="<f8").tobytes()


def _unblob(blob: bytes | None) -> list[float] | None:
    if blob is None:
        return None
    arr = np.frombuffer(blob, dtype="<f8")
    out = arr.tolist()
    if np.isnan(arr).any():  # the contract's own missing-point marker is math.nan
        out = [math.nan if v != v else v for v in out]
    return out


def _json_default(obj: Any) -> Any:
    if isinstance(obj, datetime):
        return obj.isoformat()
    raise TypeError(f"cannot store {type(obj).__name__} as JSON")  # pragma: no cover


def _dumps(obj: Any) -> str:
    # Python's JSON keeps NaN and +-Infinity (as NaN / Infinity), unlike strict JSON.
    return json.dumps(obj, default=_json_default, separators=(",", ":"))


def _flags(flags: list[str]) -> str | None:
    return _dumps(flags) if flags else None


def _unflags(text: str | None) -> list[str]:
    return json.loads(text) if text else []


def _reading_from_row(row: tuple) -> Reading:
    run_id, sensor_id, seq, t, vals, imag, counts, dark, reference, flags = row
    return Reading(
        run_id=run_id,
        t=_dt(t),
        sensor_id=sensor_id,
        seq=seq,
        values=_unblob(vals),
        values_imag=_unblob(imag),
        counts=_unblob(counts),
        dark=_unblob(dark),
        reference=_unblob(reference),
        flags=_unflags(flags),
    )


class Store(Sink):
    """The embedded store (SQLite, WAL). See the module docstring.

    ``Store(path)`` writes (creating the file and its parent folders); ``Store(path,
    readonly=True)`` only reads and never creates anything but SQLite's ``-shm`` file.
    Nothing is opened until :meth:`setup` (or ``with Store(path) as store:``).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        readonly: bool = False,
        commit_interval_s: float = 0.5,
        batch_size: int = 5000,
        busy_timeout_s: float = 10.0,
    ) -> None:
        if not commit_interval_s > 0:
            raise ValueError(f"commit_interval_s: expected seconds > 0, got {commit_interval_s!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size: expected at least 1, got {batch_size!r}")
        self.path = Path(path).expanduser()
        self.readonly = readonly
        self.commit_interval_s = float(commit_interval_s)
        self.batch_size = int(batch_size)
        self.busy_timeout_s = float(busy_timeout_s)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()
        self._in_tx = False
        self._tx_started = 0.0
        self._pending = 0
        self._known_runs: set[str] = set()
        self._timer: threading.Thread | None = None
        self._stop = threading.Event()
        self._timer_error: BaseException | None = None
        self._routes = {
            Reading: self._add_reading,
            Estimate: self._add_estimate,
            Alert: self._add_alert,
            Label: self._add_label,
            Descriptor: self._add_descriptor,
            RunStart: self._add_run_start,
            RunStop: self._add_run_stop,
        }

    def __repr__(self) -> str:
        mode = "readonly" if self.readonly else "writer"
        state = "open" if self._conn is not None else "closed"
        return f"Store({str(self.path)!r}, {mode}, {state})"

    # ------------------------------------------------------------------ lifecycle

    def setup(self) -> None:
        """Open (or create) the store file and its schema; start the background committer."""
        with self._lock:
            if self._conn is not None:
                return
            path = self.path
            if path.is_dir():
                raise StoreError(f"{path}: is a folder; expected a synthwatch store file")
            if self.readonly:
                if not path.exists():
                    raise StoreError(
                        f"{path}: no such store; run a demo or a replay to create one, "
                        "or pass the path of an existing store"
                    )
                uri = f"file:{quote(str(path.resolve()))}?mode=ro"
                conn = sqlite3.connect(
                    uri, uri=True, isolation_level=None, check_same_thread=False
                )
            else:
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as err:
                    raise StoreError(f"{path}: cannot create its folder ({err})") from None
                try:
                    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
                except sqlite3.Error as err:
                    raise StoreError(f"{path}: cannot open ({err})") from None
            try:
                conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
                self._open_schema(conn)
            except sqlite3.DatabaseError as err:
                conn.close()
                text = str(err)
                if "not a database" in text or "malformed" in text:
                    raise StoreError(
                        f"{path}: not a SQLite database (or damaged): {text}; "
                        "expected a synthwatch store"
                    ) from None
                raise StoreError(f"{path}: cannot open as a synthwatch store: {text}") from None
            except BaseException:
                conn.close()
                raise
            self._conn = conn
            self._stop.clear()
            self._timer_error = None
            if not self.readonly:
                self._timer = threading.Thread(
                    target=self._commit_loop, name=f"store-commit:{path.name}", daemon=True
                )
                self._timer.start()

    def _open_schema(self, conn: sqlite3.Connection) -> None:
        path = self.path
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        n_tables = conn.execute(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table'"
        ).fetchone()[0]
        fresh = app_id == 0 and version == 0 and n_tables == 0
        if not fresh and app_id != APPLICATION_ID:
            raise StoreError(
                f"{path}: a SQLite database, but not a synthwatch store "
                f"(application_id {app_id:#x}, expected {APPLICATION_ID:#x})"
            )
        if version > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"{path}: written by a newer synthwatch (store schema {version}; this "
                f"synthwatch reads up to {SCHEMA_VERSION}); upgrade synthwatch to open it"
            )
        if self.readonly:
            if fresh:
                raise StoreError(f"{path}: an empty database, not a synthwatch store")
            conn.execute("PRAGMA query_only = ON")
            return
        if fresh:
            # page size first: it cannot change once the file is in WAL mode. 16 KiB pages hold
            # three 601-point spectra each instead of spilling every one into an overflow page.
            conn.execute("PRAGMA page_size = 16384")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(
                f"{path}: cannot switch to WAL mode (got {mode!r}); a store needs a local "
                "file system that supports shared memory"
            )
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:  # pragma: no cover - raced with a newer writer
                raise SchemaVersionError(f"{path}: written by a newer synthwatch")
            # not executescript(): it would COMMIT first; run the statements one by one
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """Commit what is pending, stop the committer and close the file. Safe to call twice."""
        timer = self._timer
        self._stop.set()
        if timer is not None:
            timer.join()
            self._timer = None
        with self._lock:
            if self._conn is None:
                return
            try:
                if not self.readonly:
                    self._commit()
            finally:
                self._conn.close()
                self._conn = None
                self._in_tx = False
                self._known_runs.clear()

    # ------------------------------------------------------------------ writing

    def _writer(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"{self.path}: store is not open; call setup() or use `with`")
        if self.readonly:
            raise StoreError(f"{self.path}: opened read-only; cannot write")
        if self._timer_error is not None:
            err, self._timer_error = self._timer_error, None
            raise StoreError(f"{self.path}: a background commit failed: {err}") from err
        return self._conn

    def _begin(self, conn: sqlite3.Connection) -> None:
        if not self._in_tx:
            conn.execute("BEGIN")
            self._in_tx = True
            self._tx_started = time.monotonic()

    def _after_write(self) -> None:
        self._pending += 1
        if (
            self._pending >= self.batch_size
            or time.monotonic() - self._tx_started >= self.commit_interval_s
        ):
            self._commit()

    def _commit(self) -> None:
        if not self._in_tx:
            return
        assert self._conn is not None
        try:
            self._conn.execute("COMMIT")
        except sqlite3.Error:
            # e.g. disk full: the batch is lost as a whole, never half-applied
            try:
                self._conn.execute("ROLLBACK")
            except sqlite3.Error:  # pragma: no cover
                pass
            self._known_runs.clear()
            raise
        finally:
            self._in_tx = False
            self._pending = 0

    def _commit_loop(self) -> None:
        # Commit writes that have waited commit_interval_s while no new add() came to do it.
        tick = self.commit_interval_s / 2
        while not self._stop.wait(tick):
            with self._lock:
                if (
                    self._conn is not None
                    and self._in_tx
                    and time.monotonic() - self._tx_started >= self.commit_interval_s
                ):
                    try:
                        self._commit()
                    except BaseException as err:  # reported by the next add() or flush()
                        self._timer_error = err

    def add(self, message: Message) -> None:
        """Store one message (upsert), in the open transaction; see :meth:`flush`."""
        route = self._routes.get(type(message))
        if route is None:
            raise TypeError(
                f"Store.add: expected a contract message (RunStart, Descriptor, Reading, Label, "
                f"Estimate, Alert, RunStop), got {type(message).__name__}"
            )
        with self._lock:
            conn = self._writer()
            self._begin(conn)
            if message.run_id not in self._known_runs:
                conn.execute(_REGISTER_RUN, (message.run_id,))
                self._known_runs.add(message.run_id)
            route(conn, message)
            self._after_write()

    def add_many(self, messages: Sequence[Message]) -> None:
        """``add`` each message in turn."""
        for message in messages:
            self.add(message)

    def add_deadletter(self, raw: bytes | str, reason: str, source: str) -> None:
        """Keep input that failed validation, with why and where it came from.

        Stored once per (raw, source, reason): a replay dead-lettering the same input again
        leaves one row.
        """
        if isinstance(raw, str):
            raw = raw.encode()
        raw = bytes(raw)
        now = _us(datetime.now(timezone.utc))
        with self._lock:
            conn = self._writer()
            self._begin(conn)
            conn.execute(
                _INSERT_DEADLETTER, (raw, reason, source, now, hashlib.sha256(raw).digest())
            )
            self._after_write()

    def flush(self) -> None:
        """Commit everything added so far (durable against a process crash when it returns)."""
        with self._lock:
            if self._conn is None or self.readonly:
                return
            self._writer()
            self._commit()

    def _add_reading(self, conn: sqlite3.Connection, m: Reading) -> None:
        conn.execute(
            _UPSERT_READING,
            (
                m.run_id,
                m.sensor_id,
                m.seq,
                _us(m.t),
                _blob(m.values),
                _blob(m.values_imag),
                _blob(m.counts),
                _blob(m.dark),
                _blob(m.reference),
                _flags(m.flags),
            ),
        )

    def _add_estimate(self, conn: sqlite3.Connection, m: Estimate) -> None:
        quantities = [
            {"name": q.name, "value": q.value, "units": q.units, "uncertainty": q.uncertainty}
            for q in m.quantities
        ]
        conn.execute(
            _UPSERT_ESTIMATE,
            (
                m.run_id,
                m.model,
                m.identity[2],
                _us(m.t),
                m.model_version,
                m.measurement,
                m.sensor_id,
                m.seq,
                _dumps(quantities),
                _flags(m.flags),
            ),
        )

    def _add_alert(self, conn: sqlite3.Connection, m: Alert) -> None:
        conn.execute(
            _UPSERT_ALERT,
            (
                m.run_id,
                m.rule,
                m.sensor_id or "",
                _us(m.t),
                m.state,
                m.severity,
                _dumps(m.model_dump(by_alias=True)),
            ),
        )

    def _add_label(self, conn: sqlite3.Connection, m: Label) -> None:
        conn.execute(
            _UPSERT_LABEL,
            (
                m.run_id,
                m.quantity,
                m.method,
                _us(m.sample_t),
                _us(m.t),
                _dumps(m.model_dump(by_alias=True)),
            ),
        )

    def _add_descriptor(self, conn: sqlite3.Connection, m: Descriptor) -> None:
        conn.execute(
            _UPSERT_DESCRIPTOR,
            (m.run_id, m.sensor_id, m.kind, _us(m.t), _dumps(m.model_dump(by_alias=True))),
        )

    def _add_run_start(self, conn: sqlite3.Connection, m: RunStart) -> None:
        conn.execute(
            _UPSERT_RUN_START,
            (
                m.run_id,
                m.reactor,
                m.system,
                _dumps(m.recipe),
                m.operator,
                _dumps(m.tags),
                _us(m.t),
            ),
        )

    def _add_run_stop(self, conn: sqlite3.Connection, m: RunStop) -> None:
        conn.execute(_UPSERT_RUN_STOP, (m.run_id, _us(m.t), m.status, m.reason))

    # ------------------------------------------------------------------ reading

    def _reader(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"{self.path}: store is not open; call setup() or use `with`")
        return self._conn

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            return self._reader().execute(sql, params).fetchall()

    def _require_run(self, run_id: str) -> None:
        if not self._query("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)):
            raise UnknownRunError(run_id, self.path)

    def runs(self) -> list[RunSummary]:
        """Every run in the store, oldest start first (runs without a RunStart last)."""
        ids = self._query(
            "SELECT run_id FROM runs ORDER BY t_start IS NULL, t_start, run_id"
        )
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
                    conn.execute(f"SELECT max(t) FROM {table} WHERE run_id = ?", (run_id,))
                    .fetchone()[0]
                )
            known = [c for c in candidates if c is not None]
        return RunSummary(
            run_id=run_id,
            reactor=reactor,
            system=system,
            t_start=_dt(t_start),
            t_stop=_dt(t_stop),
            status=status,
            reason=reason,
            n_readings=n_readings,
            n_estimates=n_estimates,
            n_alerts=n_alerts,
            t_last=_dt(max(known)) if known else None,
        )

    def run_start(self, run_id: str) -> RunStart:
        """The run's RunStart; :class:`UnknownRunError` if the store has none for it."""
        rows = self._query(
            "SELECT reactor, system, recipe, operator, tags, t_start FROM runs "
            "WHERE run_id = ? AND t_start IS NOT NULL",
            (run_id,),
        )
        if not rows:
            raise UnknownRunError(run_id, self.path)
        reactor, system, recipe, operator, tags, t_start = rows[0]
        return RunStart(
            run_id=run_id,
            t=_dt(t_start),
            reactor=reactor,
            system=system,
            recipe=json.loads(recipe),
            operator=operator,
            tags=json.loads(tags),
        )

    def run_stop(self, run_id: str) -> RunStop | None:
        """The run's RunStop, or None while it is still running; UnknownRunError if no run."""
        rows = self._query(
            "SELECT t_stop, status, reason FROM runs WHERE run_id = ?", (run_id,)
        )
        if not rows:
            raise UnknownRunError(run_id, self.path)
        t_stop, status, reason = rows[0]
        if t_stop is None:
            return None
        return RunStop(run_id=run_id, t=_dt(t_stop), status=status, reason=reason)

    def descriptors(self, run_id: str) -> list[Descriptor]:
        """The run's sensor descriptors, by sensor_id."""
        rows = self._query(
            "SELECT msg FROM descriptors WHERE run_id = ? ORDER BY sensor_id", (run_id,)
        )
        return [Descriptor.model_validate(json.loads(msg)) for (msg,) in rows]

    def readings(self, run_id: str, sensor_id: str | None = None) -> Iterator[Reading]:
        """The run's readings in (sensor_id, seq) order, streamed a page at a time.

        No statement or lock is held between pages, so the writer may go on writing (from
        another thread or process) while this iterates. Rows present when the iteration started
        come once each, in order; rows written meanwhile may or may not appear.
        """
        base = f"SELECT {_READING_COLUMNS} FROM readings WHERE run_id = ?"
        if sensor_id is not None:
            base += " AND sensor_id = ?"
            first: tuple = (run_id, sensor_id)
        else:
            first = (run_id,)
        order = f" ORDER BY sensor_id, seq LIMIT {_PAGE_ROWS}"
        rows = self._query(base + order, first)
        while rows:
            for row in rows:
                yield _reading_from_row(row)
            if len(rows) < _PAGE_ROWS:
                return
            last = rows[-1]
            rows = self._query(
                base + " AND (sensor_id, seq) > (?, ?)" + order, (*first, last[1], last[2])
            )

    def readings_by_time(self, run_id: str) -> Iterator[Reading]:
        """The run's readings of all sensors merged by event time (each sensor in seq order).

        Streams, as :meth:`readings` does; ties in time go by sensor_id. For replay.
        """
        sensors = [
            s
            for (s,) in self._query(
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
        sql = (
            "SELECT run_id, model, t, model_version, measurement, sensor_id, seq, quantities, "
            "flags FROM estimates WHERE run_id = ?"
        )
        params: list[Any] = [run_id]
        if measurement is not None:
            sql += " AND measurement = ?"
            params.append(measurement)
        if model is not None:
            sql += " AND model = ?"
            params.append(model)
        sql += " ORDER BY t, model, qkey"
        return [
            Estimate(
                run_id=r[0],
                model=r[1],
                t=_dt(r[2]),
                model_version=r[3],
                measurement=r[4],
                sensor_id=r[5],
                seq=r[6],
                quantities=json.loads(r[7]),
                flags=_unflags(r[8]),
            )
            for r in self._query(sql, params)
        ]

    def alerts(self, run_id: str) -> list[Alert]:
        """The run's alerts in event-time order."""
        rows = self._query(
            "SELECT msg FROM alerts WHERE run_id = ? ORDER BY t, rule, sensor_key, state",
            (run_id,),
        )
        return [Alert.model_validate(json.loads(msg)) for (msg,) in rows]

    def labels(self, run_id: str) -> list[Label]:
        """The run's labels in sample-time order."""
        rows = self._query(
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
            DeadLetter(raw=bytes(raw), reason=reason, source=source, time=_dt(t))
            for raw, reason, source, t in self._query(sql, params)
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
        return self._query(sql, params)[0][0]

    def integrity_check(self) -> list[str]:
        """SQLite's ``PRAGMA integrity_check``: ``['ok']`` for a sound file."""
        return [r[0] for r in self._query("PRAGMA integrity_check")]
