"""The sink base: where messages land (embedded store, InfluxDB, ...).

After Quix Streams' two-method sinks: a sink takes messages with :meth:`Sink.add` (cheap,
buffered) and makes everything added so far durable with :meth:`Sink.flush`. Clients and
connections are created in :meth:`Sink.setup`, never in the constructor, so a sink can be built
(and configured, pickled, handed to a worker) before it touches the disk or the network.

A sink that cannot take more right now (a full spool, a server asking to slow down) raises
:class:`BackPressure` with ``retry_after`` seconds; the caller pauses its input for that long and
offers the same message again. Sinks are idempotent (an estimate's identity is run, model,
quantity set and event time), so offering a message twice is always safe.

Lifecycle::

    sink = SomeSink(...)        # no I/O
    sink.setup()                # open clients / files
    sink.add(msg); ...          # buffered
    sink.flush()                # durable up to here
    sink.close()                # flush and release

Sinks are context managers: ``with SomeSink(...) as sink:`` calls ``setup()`` and ``close()``.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:  # pragma: no cover
    from synthwatch.contract.messages import Message

__all__ = ["BackPressure", "Sink"]


class BackPressure(Exception):
    """The sink cannot take more right now; offer the same message again after ``retry_after`` s."""

    def __init__(self, retry_after: float, reason: str = "") -> None:
        if not retry_after >= 0:
            raise ValueError(f"retry_after: expected seconds >= 0, got {retry_after!r}")
        self.retry_after = float(retry_after)
        self.reason = reason
        text = f"sink busy, retry after {self.retry_after:g} s"
        super().__init__(f"{text}: {reason}" if reason else text)


class Sink:
    """Base class of every sink: ``setup``, ``add``, ``flush``, ``close`` (and ``add_deadletter``).

    Subclasses implement :meth:`add` and :meth:`flush`, and override :meth:`setup` and
    :meth:`close` when they hold clients. ``close()`` flushes, and is safe to call twice.
    """

    def setup(self) -> None:
        """Create clients, connections and files. Called once, before the first ``add``."""

    def add(self, message: Message) -> None:  # pragma: no cover - abstract
        """Take one message (buffered; durable only after :meth:`flush`).

        May raise :class:`BackPressure`: the message was *not* taken.
        """
        raise NotImplementedError

    def add_deadletter(self, raw: bytes, reason: str, source: str) -> None:
        """Keep input that failed validation, with why and where it came from.

        The default ignores it: dead letters also go to the dead-letter topic, and only sinks
        that can hold raw bytes (the embedded store) keep them.
        """

    def flush(self) -> None:  # pragma: no cover - abstract
        """Make everything added so far durable."""
        raise NotImplementedError

    def close(self) -> None:
        """Flush and release clients. Safe to call twice."""
        self.flush()

    def __enter__(self) -> Self:
        self.setup()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
