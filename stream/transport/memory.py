"""Transports: how encoded messages move between collectors and workers.

Transports carry messages on named topics, keyed by ``run_id``, so the same worker code runs over
the in-process :class:`MemoryTransport` (the embedded default) and over Kafka. Topic names:
docs/architecture.md. On a wire a record's value is the contract's JSON bytes; in one process the
memory transport hands over the (frozen, already validated) message objects themselves, unless
it is built with ``serialize=True``: encoding 601 floats to JSON and validating them again costs
about 50 µs a spectrum and checks nothing that the message's constructor did not.

>>> from synthwatch.contract.messages import RunStop, encode
>>> from datetime import datetime, timezone
>>> tr = MemoryTransport()
>>> msg = RunStop(run_id="r1", t=datetime(2026, 1, 1, tzinfo=timezone.utc), status="success")
>>> tr.send(topic_for(msg), "r1", encode(msg))
>>> tr.send_message(topic_for(msg), "r1", msg)
>>> [(r.topic, r.key, r.offset, type(r.value).__name__) for r in tr.poll([RUNS_TOPIC])]
[('synthwatch.runs', 'r1', 0, 'bytes'), ('synthwatch.runs', 'r1', 1, 'RunStop')]
>>> tr.poll([RUNS_TOPIC])
[]
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Protocol

from synthwatch.contract.messages import (
    Alert,
    Descriptor,
    Estimate,
    Label,
    Message,
    Reading,
    RunStart,
    RunStop,
    encode,
)

RUNS_TOPIC = "synthwatch.runs"
LABELS_TOPIC = "synthwatch.labels"
ESTIMATES_TOPIC = "synthwatch.estimates"
ALERTS_TOPIC = "synthwatch.alerts"
DEADLETTER_TOPIC = "synthwatch.deadletter"
CHECKPOINTS_TOPIC = "synthwatch.checkpoints"
SENSOR_KINDS = ("uvvis", "impedance", "scalar")


def readings_topic(kind: str) -> str:
    """Topic of a sensor kind's readings: ``synthwatch.readings.<kind>``."""
    if kind not in SENSOR_KINDS:
        raise ValueError(f"sensor kind {kind!r}: expected one of {', '.join(SENSOR_KINDS)}")
    return f"synthwatch.readings.{kind}"


#: Topics a worker consumes, in the order it polls them (run documents first).
INPUT_TOPICS = (RUNS_TOPIC, *(readings_topic(k) for k in SENSOR_KINDS), LABELS_TOPIC)


def topic_for(msg: Message, kind: str | None = None) -> str:
    """The topic a message goes to; a Reading needs its sensor's ``kind``."""
    if isinstance(msg, (RunStart, Descriptor, RunStop)):
        return RUNS_TOPIC
    if isinstance(msg, Reading):
        if kind is None:
            raise ValueError(
                f"Reading of sensor {msg.sensor_id!r}: its topic needs the sensor kind "
                "from its Descriptor"
            )
        return readings_topic(kind)
    if isinstance(msg, Label):
        return LABELS_TOPIC
    if isinstance(msg, Estimate):
        return ESTIMATES_TOPIC
    if isinstance(msg, Alert):
        return ALERTS_TOPIC
    raise TypeError(f"not a contract message: {type(msg).__name__}")


@dataclass(frozen=True, slots=True)
class Record:
    """One message on a topic: its key (run_id), its value and its offset.

    ``value`` is the encoded bytes, or, on an in-process transport, the message itself.
    ``partition`` is the topic's partition (always 0 in memory).
    """

    topic: str
    key: str
    value: bytes | Message
    offset: int
    partition: int = 0


class Transport(Protocol):
    """What collectors and workers need of a transport."""

    def send(self, topic: str, key: str, value: bytes) -> None:
        """Publish ``value`` on ``topic`` under ``key``."""

    def send_message(self, topic: str, key: str, msg: Message) -> None:
        """Publish a contract message (encoded by a wire transport, as is in memory)."""

    def poll(self, topics: Iterable[str], max_records: int = 500) -> list[Record]:
        """Up to ``max_records`` records not yet seen by this consumer, topic by topic."""

    def flush(self) -> None:
        """Block until everything sent is delivered."""

    def close(self) -> None:
        """Release resources."""


class MemoryTransport:
    """In-process transport with the same interface as Kafka and no server.

    Topics are append-only lists; one consumer position per topic. Nothing is dropped: a topic
    keeps every record until :meth:`trim` is called with the offsets already consumed.
    ``serialize=True`` encodes messages to JSON bytes as a wire transport does.
    """

    def __init__(self, serialize: bool = False) -> None:
        self.serialize = serialize
        self._topics: dict[str, list[Record]] = defaultdict(list)
        self._base: dict[str, int] = defaultdict(int)  # offset of the first record kept
        self._position: dict[str, int] = defaultdict(int)

    def send(self, topic: str, key: str, value: bytes | Message) -> None:
        log = self._topics[topic]
        log.append(Record(topic, key, value, self._base[topic] + len(log)))

    def send_message(self, topic: str, key: str, msg: Message) -> None:
        self.send(topic, key, encode(msg) if self.serialize else msg)

    def poll(self, topics: Iterable[str], max_records: int = 500) -> list[Record]:
        out: list[Record] = []
        for topic in topics:
            log = self._topics.get(topic)
            if not log:
                continue
            start = self._position[topic] - self._base[topic]
            take = log[start : start + max_records - len(out)]
            out.extend(take)
            self._position[topic] += len(take)
            if len(out) >= max_records:
                break
        return out

    def records(self, topic: str) -> list[Record]:
        """Every record kept on ``topic`` (for tests and the dead-letter view)."""
        return list(self._topics.get(topic, ()))

    def trim(self) -> None:
        """Forget records every consumer has polled (bounds memory in long runs)."""
        for topic, log in self._topics.items():
            consumed = self._position[topic] - self._base[topic]
            if consumed:
                del log[:consumed]
                self._base[topic] += consumed

    def lag(self, topics: Iterable[str] = INPUT_TOPICS) -> int:
        """Records published on ``topics`` and not yet polled."""
        return sum(self._base[t] + len(self._topics.get(t, ())) - self._position[t] for t in topics)

    def flush(self) -> None:
        """Nothing to do: delivery is immediate."""

    def close(self) -> None:
        """Nothing to release."""
