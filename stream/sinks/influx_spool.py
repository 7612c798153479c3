"""The InfluxDB sink's disk spool: every point waits here until the server has taken it.

One SQLite file (``spool.sqlite`` in the spool directory) in WAL mode with
``synchronous=FULL``: an :meth:`Spool.append` is on disk (fsync) when it returns, so neither a
crash of synthwatch nor a power loss loses a spooled point. Points are rows with an increasing
integer id; the sink sends the oldest first (:meth:`Spool.peek`) and deletes them only after the
server acknowledged them (:meth:`Spool.ack`), so they drain in the order they were added, and a
new sink over the same directory -- after a restart of synthwatch -- drains what the old one
left. A batch the server refuses as malformed (HTTP 400) moves to the ``deadletter`` table with
the server's reason instead of blocking the spool or vanishing.

The spool also remembers each run's reactor (from its RunStart), so points of a run that
continues after a restart still get their ``reactor`` tag.

One process at a time: :meth:`Spool.open` takes an exclusive ``flock`` on ``spool.lock`` (the
kernel releases it when the process dies), so two sinks never drain the same spool twice.

>>> import tempfile
>>> spool = Spool(tempfile.mkdtemp()).open()
>>> spool.append(["m f=1 1", "m f=2 2"]); spool.append(["m f=3 3"])
>>> rows = spool.peek(2); [line for _, line in rows], len(spool)
(['m f=1 1', 'm f=2 2'], 3)
>>> spool.ack(rows[-1][0]); [line for _, line in spool.peek(10)]
['m f=3 3']
>>> spool.close()
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from pathlib import Path

from synthwatch.contract.errors import SynthwatchError

__all__ = ["Spool", "SpoolError"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS points (id INTEGER PRIMARY KEY AUTOINCREMENT, line TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deadletter (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    line TEXT NOT NULL,
    reason TEXT NOT NULL,
    t_unix REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, reactor TEXT NOT NULL);
"""


class SpoolError(SynthwatchError, RuntimeError):
    """The spool directory cannot be used (locked by another process, not writable, corrupt)."""


class Spool:
    """Append-only queue of line-protocol lines on disk. See the module docstring.

    Thread-safe: the sink appends from the worker's thread while its drain thread peeks and acks.
    """

    FILE = "spool.sqlite"
    LOCK = "spool.lock"

    def __init__(self, directory: str | os.PathLike[str]):
        self.directory = Path(directory)
        self._db: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        self._mutex = threading.Lock()
        self._count = 0

    def __repr__(self) -> str:
        return f"Spool({str(self.directory)!r})"

    # -- lifecycle ---------------------------------------------------------------------------

    def open(self) -> Spool:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.directory / self.LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as err:
            raise SpoolError(f"spool {self.directory}: cannot create it ({err.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SpoolError(
                f"spool {self.directory}: in use by another synthwatch process; give each "
                "process its own influxdb.spool_dir"
            ) from None
        self._lock_fd = fd
        path = self.directory / self.FILE
        try:
            db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
            (self._count,) = db.execute("SELECT COUNT(*) FROM points").fetchone()
        except sqlite3.DatabaseError as err:
            self._release_lock()
            raise SpoolError(f"spool {path}: not a usable spool file ({err})") from None
        self._db = db
        return self

    def close(self) -> None:
        with self._mutex:
            if self._db is not None:
                self._db.close()
                self._db = None
        self._release_lock()

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise SpoolError(f"spool {self.directory}: not open (call open() first)")
        return self._db

    # -- queue -------------------------------------------------------------------------------

    def __len__(self) -> int:
        """Points waiting (not counting dead letters)."""
        return self._count

    def append(self, lines: list[str]) -> None:
        """Add lines at the end, durably (one transaction, fsync'ed)."""
        if not lines:
            return
        with self._mutex:
            db = self._conn()
            with db:
                db.execute("BEGIN IMMEDIATE")
                db.executemany("INSERT INTO points (line) VALUES (?)", ((x,) for x in lines))
            self._count += len(lines)

    def peek(self, n: int) -> list[tuple[int, str]]:
        """The ``n`` oldest waiting points as (id, line), oldest first; they stay spooled."""
        with self._mutex:
            return (
                self._conn()
                .execute("SELECT id, line FROM points ORDER BY id LIMIT ?", (n,))
                .fetchall()
            )

    def ack(self, up_to_id: int) -> None:
        """The server has every point up to ``up_to_id``: delete them."""
        with self._mutex:
            db = self._conn()
            with db:
                cur = db.execute("DELETE FROM points WHERE id <= ?", (up_to_id,))
            self._count -= cur.rowcount

    def deadletter(self, rows: list[tuple[int, str]], reason: str) -> None:
        """Move ``rows`` (from :meth:`peek`) to the dead-letter table with ``reason``."""
        if not rows:
            return
        now = time.time()
        with self._mutex:
            db = self._conn()
            with db:
                db.execute("BEGIN IMMEDIATE")
                db.executemany(
                    "INSERT INTO deadletter (line, reason, t_unix) VALUES (?, ?, ?)",
                    ((line, reason, now) for _, line in rows),
                )
                cur = db.executemany(
                    "DELETE FROM points WHERE id = ?", ((row_id,) for row_id, _ in rows)
                )
            self._count -= cur.rowcount

    def deadletters(self) -> list[tuple[str, str]]:
        """Every dead-lettered line with its reason, oldest first."""
        with self._mutex:
            return (
                self._conn().execute("SELECT line, reason FROM deadletter ORDER BY id").fetchall()
            )

    # -- run → reactor -----------------------------------------------------------------------

    def remember_run(self, run_id: str, reactor: str) -> None:
        with self._mutex:
            db = self._conn()
            with db:
                db.execute(
                    "INSERT INTO runs (run_id, reactor) VALUES (?, ?) "
                    "ON CONFLICT (run_id) DO UPDATE SET reactor = excluded.reactor",
                    (run_id, reactor),
                )

    def reactors(self) -> dict[str, str]:
        with self._mutex:
            return dict(self._conn().execute("SELECT run_id, reactor FROM runs").fetchall())
