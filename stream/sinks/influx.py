"""The InfluxDB sink: estimates and alerts to InfluxDB 1.x (``/write``) or 2.x (v2 API).

How a point travels::

    add(msg) ──▶ memory batch ──(batch_size points, flush_interval_s, flush())──▶ disk spool
                                                                                     │
                      drain thread: oldest batch first ──▶ InfluxDB ──204──▶ ack (delete)

* **Points**: :mod:`synthwatch.stream.sinks.influx_points` (line protocol from influxdb-client's
  ``Point``; the measurements and tags of docs/architecture.md; timestamp = event time, so
  rewrites are idempotent).
* **Spool**: :mod:`synthwatch.stream.sinks.influx_spool`. Every point goes through it, so a point
that
  ``flush()`` returned for is on disk until the server acknowledged it; points drain in the order
  they were added; a new sink over the same ``spool_dir`` (after synthwatch restarted) drains what
  the previous one left (to the server *it* is configured for). A batch the server refuses as
  malformed (HTTP 400) is dead-lettered in the spool with the reason, and logged.
* **Retries**: within a request, influxdb-client's ``WritesRetry`` (429/5xx, timeouts and
  connection errors, exponential backoff, ``Retry-After`` honoured; see
  :mod:`synthwatch.stream.sinks.influx_write`). When a request still fails (the server is down), the
  drain thread waits ``retry_interval_s * exponential_base**n`` (at most ``max_retry_delay_s``)
  and tries the same batch again, for as long as it takes; the spool keeps growing meanwhile.
* **Back-pressure**: when the spool holds ``max_spool_points``, :meth:`InfluxSink.add` raises
  :class:`~synthwatch.stream.sinks.base.BackPressure` with the current retry delay.
* **Secrets**: the v1 password or v2 token come from the config (environment
  ``SYNTHWATCH_INFLUXDB__PASSWORD`` / ``__TOKEN``) or from ``password_file`` / ``token_file``
  (read in :meth:`InfluxSink.setup`, surrounding whitespace stripped). They are never logged and
  appear in no repr or exception.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from synthwatch.contract.config import ConfigError, InfluxConfig
from synthwatch.contract.messages import Alert, Estimate, Message, RunStart
from synthwatch.stream.sinks.base import BackPressure, Sink
from synthwatch.stream.sinks.influx_points import alert_lines, estimate_lines
from synthwatch.stream.sinks.influx_spool import Spool
from synthwatch.stream.sinks.influx_write import BatchRejected, WriteFailed, make_writer

__all__ = ["InfluxSink"]

log = logging.getLogger(__name__)


class _PerRetryNoise(logging.Filter):
    """Drops the one-line-per-retry warnings of urllib3 and influxdb-client for our requests.

    The sink logs one summary per failed attempt instead ("unreachable, N points spooled, next
    try in S s"), so an hour of outage is not thousands of lines.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "influxdb_client.client.write.retry":  # only ever retry notices
            return record.levelno >= logging.ERROR
        return "WritesRetry" not in record.getMessage()  # urllib3: "Retrying (WritesRetry(..."


_NOISE = _PerRetryNoise()


def _quiet_retry_logs() -> None:
    for name in ("influxdb_client.client.write.retry", "urllib3.connectionpool"):
        logger = logging.getLogger(name)
        if _NOISE not in logger.filters:
            logger.addFilter(_NOISE)


def _read_secret(path: Path, field: str) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as err:
        raise ConfigError(f"influxdb.{field}: cannot read {path} ({err.strerror})") from None
    if not text:
        raise ConfigError(f"influxdb.{field}: {path} is empty; expected the secret in it")
    return text


class InfluxSink(Sink):
    """Writes estimates and alerts to InfluxDB through a disk spool. See the module docstring.

    ``InfluxSink(cfg)`` does no I/O; :meth:`setup` reads secret files, opens the spool and
    starts the drain thread.
    """

    def __init__(self, config: InfluxConfig):
        if config.api == "v2":
            if config.token is None and config.token_file is None:
                raise ConfigError("influxdb.token: api 'v2' needs a token (or token_file)")
            if not config.org:
                raise ConfigError("influxdb.org: api 'v2' needs the organization")
        self.config = config
        self._spool: Spool | None = None
        self._writer = None
        self._batch: list[str] = []
        self._batch_t0 = 0.0
        self._lock = threading.Lock()
        self._reactors: dict[str, str] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._delay = 0.0
        self._closed = False
        self._abandoned = False
        self._left = 0
        #: points the server acknowledged, batches written, failed attempts, dead-lettered points
        self.written = 0
        self.batches = 0
        self.failures = 0
        self.deadlettered = 0

    def __getstate__(self) -> dict:
        """Pickles as its config alone, like before setup (a set-up sink's clients stay)."""
        return {"config": self.config}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["config"])

    def __repr__(self) -> str:
        c = self.config
        where = c.database if c.api == "v1" else f"{c.org}/{c.bucket}"
        return f"InfluxSink(api={c.api!r}, url={c.url!r}, target={where!r}, spool={c.spool_dir})"

    # -- lifecycle ---------------------------------------------------------------------------

    def _secret(self) -> str | None:
        c = self.config
        if c.api == "v1":
            if c.password_file is not None:
                return _read_secret(c.password_file, "password_file")
            return c.password.get_secret_value() if c.password is not None else None
        if c.token_file is not None:
            return _read_secret(c.token_file, "token_file")
        return c.token.get_secret_value() if c.token is not None else None

    def setup(self) -> None:
        if self._spool is not None:
            return
        secret = self._secret()
        _quiet_retry_logs()
        self._spool = Spool(self.config.spool_dir).open()
        self._reactors = self._spool.reactors()
        self._writer = make_writer(self.config, secret)
        self._closed = False
        self._stop.clear()
        if len(self._spool):
            log.info("influxdb spool %s: %d points left to drain", self._spool, len(self._spool))
        self._thread = threading.Thread(target=self._drain_loop, name="influx-drain", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Spool what is buffered, drain for up to ``close_timeout_s``, stop; the rest stays."""
        if self._spool is None or self._closed:
            return
        self._closed = True
        self.flush()
        self.wait_drained(self.config.close_timeout_s)
        self._stop.set()
        self._wake.set()
        assert self._thread is not None
        # a request may be sleeping in its retries; do not wait for those beyond close_timeout_s
        # (the spool is durable; an unacknowledged batch is simply sent again next time)
        self._thread.join(max(1.0, self.config.close_timeout_s))
        self._left = left = self.pending
        if self._thread.is_alive():  # a request still retrying: it closes the spool when done
            self._abandoned = True
        else:
            self._finish()
        if left:
            log.warning(
                "influxdb: %d points stay spooled in %s; the next run drains them",
                left,
                self.config.spool_dir,
            )

    def _finish(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._spool is not None:
            self._spool.close()
            self._spool = None

    # -- the Sink interface ------------------------------------------------------------------

    def add(self, message: Message) -> None:
        if self._spool is None:
            raise RuntimeError("InfluxSink.add before setup(): use `with InfluxSink(cfg) as s`")
        if isinstance(message, Estimate):
            lines = estimate_lines(
                message, self._reactors.get(message.run_id), self.config.write_distribution
            )
        elif isinstance(message, Alert):
            lines = alert_lines(message, self._reactors.get(message.run_id))
        elif isinstance(message, RunStart):
            if self._reactors.get(message.run_id) != message.reactor:
                self._reactors[message.run_id] = message.reactor
                self._spool.remember_run(message.run_id, message.reactor)
            return
        else:
            return  # readings, descriptors, labels, stops: the embedded store keeps them
        spooled = len(self._spool) + len(self._batch)
        if spooled >= self.config.max_spool_points:
            raise BackPressure(
                max(self._delay, self.config.retry_interval_s),
                f"influxdb spool full ({spooled} points in {self.config.spool_dir})",
            )
        with self._lock:
            if not self._batch:
                self._batch_t0 = time.monotonic()
            self._batch.extend(lines)
            full = len(self._batch) >= self.config.batch_size
        if full:
            self._spool_batch()

    def flush(self) -> None:
        """Everything added so far is on disk in the spool (the server gets it asynchronously)."""
        if self._spool is not None:
            self._spool_batch()

    def _spool_batch(self) -> None:
        with self._lock:
            lines, self._batch = self._batch, []
            if lines:
                assert self._spool is not None
                self._spool.append(lines)
        if lines:
            self._wake.set()

    # -- draining ----------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Points not yet acknowledged by the server (buffered + spooled)."""
        spool = self._spool
        return len(self._batch) + (len(spool) if spool is not None else self._left)

    def wait_drained(self, timeout_s: float) -> bool:
        """Spool the batch and wait until the server has every point; False on timeout."""
        self.flush()
        deadline = time.monotonic() + timeout_s
        while self.pending:
            if time.monotonic() >= deadline or self._thread is None:
                return False
            self._wake.set()
            time.sleep(0.01)
        return True

    def _drain_loop(self) -> None:
        spool, writer, cfg = self._spool, self._writer, self.config
        assert spool is not None and writer is not None
        attempts = 0
        try:
            while not self._stop.is_set():
                with self._lock:
                    due = self._batch and time.monotonic() - self._batch_t0 >= cfg.flush_interval_s
                if due:
                    self._spool_batch()
                rows = spool.peek(cfg.batch_size)
                if not rows:
                    self._wake.wait(cfg.flush_interval_s)
                    self._wake.clear()
                    continue
                try:
                    writer.write([line for _, line in rows])
                except BatchRejected as err:
                    spool.deadletter(rows, str(err))
                    self.deadlettered += len(rows)
                    log.error("influxdb: %d points dead-lettered in the spool: %s", len(rows), err)
                    continue
                except WriteFailed as err:
                    attempts += 1
                    self.failures += 1
                    self._delay = min(
                        cfg.retry_interval_s * cfg.exponential_base ** (attempts - 1),
                        cfg.max_retry_delay_s,
                    )
                    if attempts == 1 or attempts % 10 == 0:
                        log.warning(
                            "influxdb: %s; %d points spooled, next try in %.1f s",
                            err,
                            len(spool),
                            self._delay,
                        )
                    self._stop.wait(self._delay)
                    continue
                spool.ack(rows[-1][0])
                if attempts:
                    log.info("influxdb: reachable again after %d failed attempts", attempts)
                attempts, self._delay = 0, 0.0
                self.written += len(rows)
                self.batches += 1
        finally:
            if self._abandoned:  # close() gave up waiting for this thread: clean up here
                self._finish()


@contextmanager
def influx_sinks(config: InfluxConfig) -> Iterator[list[InfluxSink]]:
    """``[InfluxSink]`` set up when ``config.enabled``, else ``[]``; closed on exit.

    For the places that build a pipeline's sinks: ``[store, *influx]``.
    """
    if not config.enabled:
        yield []
        return
    with InfluxSink(config) as sink:
        yield [sink]
