"""The embedded store: a local, crash-safe, queryable archive of runs (the default sink).

Everything a run produces lands here: its :class:`~synthwatch.contract.messages.RunStart` and
:class:`~synthwatch.contract.messages.RunStop`, sensor descriptors, readings, late labels, model
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
>>> from synthwatch.contract.messages import RunStart, Reading
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
import sqlite3
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from synthwatch.contract.messages import Message
from synthwatch.stream.sinks.base import Sink
from synthwatch.stream.store.query import DeadLetter, RunSummary, StoreQueries
from synthwatch.stream.store.rows import (
    APPLICATION_ID,
    INSERT_DEADLETTER,
    REGISTER_RUN,
    SCHEMA,
    SCHEMA_VERSION,
    WRITES,
    SchemaVersionError,
    StoreError,
    UnknownRunError,
    to_us,
)

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

_PAGE_ROWS = 512  # rows fetched per query while streaming readings (Store.readings)


class Store(StoreQueries, Sink):
    """The embedded store (SQLite, WAL). See the module docstring.

    This class is the writer (lifecycle, ``add``, the commit loop); the queries come from
    :class:`~synthwatch.stream.store.query.StoreQueries`, and the table layout and the
    message/row codecs from :mod:`synthwatch.stream.store.rows`.

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

    @property
    def _page_rows(self) -> int:
        # looked up when a query starts, so the page size can be changed on this module
        return _PAGE_ROWS

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
                conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
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
            for statement in SCHEMA.split(";"):
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
        write = WRITES.get(type(message))
        if write is None:
            raise TypeError(
                f"Store.add: expected a contract message (RunStart, Descriptor, Reading, Label, "
                f"Estimate, Alert, RunStop), got {type(message).__name__}"
            )
        with self._lock:
            conn = self._writer()
            self._begin(conn)
            if message.run_id not in self._known_runs:
                conn.execute(REGISTER_RUN, (message.run_id,))
                self._known_runs.add(message.run_id)
            sql, row = write
            conn.execute(sql, row(message))
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
        now = to_us(datetime.now(timezone.utc))
        with self._lock:
            conn = self._writer()
            self._begin(conn)
            conn.execute(
                INSERT_DEADLETTER, (raw, reason, source, now, hashlib.sha256(raw).digest())
            )
            self._after_write()

    def flush(self) -> None:
        """Commit everything added so far (durable against a process crash when it returns)."""
        with self._lock:
            if self._conn is None or self.readonly:
                return
            self._writer()
            self._commit()
