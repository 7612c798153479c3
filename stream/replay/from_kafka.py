"""Replay a run from the Kafka topics between two event times (issue 8, item 1c).

:class:`KafkaSource` is a :class:`~synthwatch.stream.replay.recorded.ReplaySource`: it reads one
run's
records from the broker and hands them to :func:`~synthwatch.stream.replay.recorded.replay`, which
runs
them through the embedded pipeline into a new tagged run (``<run>:<tag>``), as a store or folder
replay does. Event times are preserved; the same topic range replayed twice gives identical
estimates.

What is read, for run ``R`` and the window ``[t_from, t_to]`` (event times, UTC):

* every topic keys its records by ``run_id``, so all of ``R`` is on one partition number ``p``
  of every topic (kafka-python's default partitioner: murmur2 of the key); only those
  partitions are read, and records of other runs on them are skipped by key, undecoded.
* ``synthwatch.runs`` partition ``p`` is read whole, from its beginning to the end offset taken
  at start: ``R``'s RunStart and Descriptors are needed even when the window starts mid-run
  (they come first in the replay; a window that ends before the run's RunStop gets a RunStop
  ``success`` at the last replayed reading, saying so).
* the readings and labels topics: each partition from ``offsets_for_times(t_from -
  lookback_s)`` (the first record whose broker timestamp is at or after that time) up to the
  first record of ``R`` whose event time is past ``t_to``, or the end offset taken at start,
  whichever comes first. Records of ``R`` with an event time before ``t_from`` are skipped.
  A producer stamps a record with its send time, which is not before the reading's event time
  unless the instrument's clock runs ahead of the collector host's by more than ``lookback_s``
  (60 s by default), so no record of the window lies before that offset; records stamped with
  their event time (``timestamp_ms``) make it exact.
* the partitions are merged by event time (readings before labels of the same instant, ties by
  sensor), the order a store replay uses.

A record that does not decode, or is not a Reading/Label of ``R`` on a readings/labels topic, is
counted and handed to the replay as a :class:`~synthwatch.collectors.folder.impedance.Rejected`
(dead-lettered in the store with its reason), named by topic, partition and offset in
:attr:`KafkaSource.rejected`; it never silently disappears.

Pacing (``speed``) starts at the first replayed reading, not at the run's start, so a window
late in a run starts at once; pass ``speed=0`` to :func:`replay` (it is done here).
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from kafka.partitioner.default import murmur2

from synthwatch.collectors.folder.impedance import Rejected
from synthwatch.contract.config import KafkaConfig
from synthwatch.contract.messages import (
    ContractError,
    Descriptor,
    Label,
    Message,
    Reading,
    RunStart,
    RunStop,
    decode,
)
from synthwatch.stream.replay.recorded import ReplayError
from synthwatch.stream.runtime.pipeline import Pacer
from synthwatch.stream.transport.errors import KafkaTransportError
from synthwatch.stream.transport.kafka_topics import client_settings, describe
from synthwatch.stream.transport.memory import INPUT_TOPICS, RUNS_TOPIC

__all__ = ["KafkaSource", "RejectedRecord", "RunWindow", "runs_in_window"]

#: the readings and labels topics (every input topic but the runs topic)
_DATA_TOPICS = tuple(t for t in INPUT_TOPICS if t != RUNS_TOPIC)


@dataclass(frozen=True)
class RejectedRecord:
    """A record of the window that did not become a message of the run: where, and why."""

    topic: str
    partition: int
    offset: int
    reason: str

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}: {self.reason}"


@dataclass(frozen=True)
class RunWindow:
    """A run found on ``synthwatch.runs``: its RunStart, Descriptors and RunStop (if sent)."""

    start: RunStart
    descriptors: tuple[Descriptor, ...]
    stop: RunStop | None

    def overlaps(self, t_from: datetime, t_to: datetime) -> bool:
        return self.start.t <= t_to and (self.stop is None or self.stop.t >= t_from)


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def _consumer(cfg: KafkaConfig) -> KafkaConsumer:
    try:
        return KafkaConsumer(
            **client_settings(cfg),
            enable_auto_commit=False,
            max_partition_fetch_bytes=cfg.max_message_bytes,
            fetch_max_bytes=max(cfg.max_message_bytes, 52_428_800),
        )
    except KafkaError as err:
        raise KafkaTransportError(f"kafka at {describe(cfg)}: cannot connect ({err})") from None


def _read(
    consumer: KafkaConsumer, tp: TopicPartition, start: int, end: int, timeout_s: float, cfg
) -> Iterator:
    """The records of ``tp`` from ``start`` up to ``end`` (exclusive), as the broker has them."""
    consumer.assign([tp])
    consumer.seek(tp, start)
    deadline = time.monotonic() + timeout_s
    while consumer.position(tp) < end:
        batch = consumer.poll(timeout_ms=200, max_records=500).get(tp, [])
        if batch:
            deadline = time.monotonic() + timeout_s
        elif time.monotonic() > deadline:
            raise KafkaTransportError(
                f"kafka at {describe(cfg)}: {tp.topic}[{tp.partition}] gave no record at offset "
                f"{consumer.position(tp)} (end {end}) within {timeout_s:g} s"
            )
        for record in batch:
            if record.offset >= end:
                return
            yield record


def _partition_of(run_id: str, partitions: int) -> int:
    """The partition kafka-python's default partitioner gives the key ``run_id``."""
    return (murmur2(run_id.encode()) & 0x7FFFFFFF) % partitions


def _partitions(consumer: KafkaConsumer, topic: str, cfg: KafkaConfig) -> int:
    parts = consumer.partitions_for_topic(topic)
    if not parts:
        raise ReplayError(f"kafka at {describe(cfg)}: no topic {topic}; nothing was published")
    return len(parts)


def _scan_runs(
    cfg: KafkaConfig, run_id: str | None, timeout_s: float
) -> tuple[dict[str, RunWindow], list[tuple[RejectedRecord, bytes]]]:
    """The runs documents on ``synthwatch.runs``: of ``run_id`` (its partition) or of all runs,
    and the records of them that do not decode."""
    consumer = _consumer(cfg)
    try:
        n = _partitions(consumer, RUNS_TOPIC, cfg)
        parts = range(n) if run_id is None else [_partition_of(run_id, n)]
        tps = [TopicPartition(RUNS_TOPIC, p) for p in parts]
        key = None if run_id is None else run_id.encode()
        begin = consumer.beginning_offsets(tps)
        end = consumer.end_offsets(tps)
        starts: dict[str, RunStart] = {}
        descriptors: dict[str, list[Descriptor]] = {}
        stops: dict[str, RunStop] = {}
        rejected: list[tuple[RejectedRecord, bytes]] = []
        for tp in tps:
            for record in _read(consumer, tp, begin[tp], end[tp], timeout_s, cfg):
                if key is not None and record.key != key:
                    continue
                try:
                    msg = decode(record.value)
                except ContractError as err:
                    where = RejectedRecord(tp.topic, tp.partition, record.offset, str(err))
                    rejected.append((where, record.value or b""))
                    continue
                if isinstance(msg, RunStart):
                    starts[msg.run_id] = msg
                    descriptors[msg.run_id] = []
                elif isinstance(msg, Descriptor):
                    descriptors.setdefault(msg.run_id, []).append(msg)
                elif isinstance(msg, RunStop):
                    stops[msg.run_id] = msg
    finally:
        consumer.close()
    runs = {
        run_id: RunWindow(start, tuple(descriptors.get(run_id, ())), stops.get(run_id))
        for run_id, start in starts.items()
    }
    return runs, rejected


def runs_in_window(
    cfg: KafkaConfig, t_from: datetime, t_to: datetime, *, timeout_s: float = 30.0
) -> list[str]:
    """The runs on ``synthwatch.runs`` that were open at some time of ``[t_from, t_to]``."""
    runs, _ = _scan_runs(cfg, None, timeout_s)
    return sorted(r for r, w in runs.items() if w.overlaps(t_from, t_to))


def _order(item: Message | Rejected) -> tuple:
    if isinstance(item, Reading):
        return (item.t, 0, item.sensor_id)
    if isinstance(item, Label):
        return (item.t, 1, item.quantity)
    return (item.t, 2, "")


class KafkaSource:
    """Run ``run_id`` between ``t_from`` and ``t_to`` (event times) from the topics (module doc).

    ``speed`` paces the readings (1 = real time, 0 = as fast as possible); ``timeout_s`` is how
    long a partition may stay silent before its end offset is reached; ``lookback_s`` how far
    before ``t_from`` the broker timestamps are searched (clock skew of the instruments).
    """

    def __init__(
        self,
        cfg: KafkaConfig,
        run_id: str,
        t_from: datetime,
        t_to: datetime,
        *,
        speed: float = 0.0,
        timeout_s: float = 30.0,
        lookback_s: float = 60.0,
    ):
        if t_from.tzinfo is None or t_to.tzinfo is None:
            raise ReplayError("kafka replay: --from and --to need a time zone")
        if not t_from < t_to:
            raise ReplayError(
                f"kafka replay: --from {t_from.isoformat()} is not before --to {t_to.isoformat()}"
            )
        self.cfg = cfg
        self.run_id = run_id
        self.t_from = t_from.astimezone(timezone.utc)
        self.t_to = t_to.astimezone(timezone.utc)
        self.speed = speed
        self.timeout_s = timeout_s
        self.lookback_s = lookback_s
        self.description = (
            f"kafka {','.join(cfg.bootstrap_servers)} run {run_id} "
            f"{self.t_from.isoformat()}..{self.t_to.isoformat()}"
        )
        #: records of the window that were not messages of the run (topic, partition, offset)
        self.rejected: list[RejectedRecord] = []
        #: where each partition was read from (offsets_for_times) and the end offset at start
        self.offsets: dict[TopicPartition, tuple[int, int]] = {}
        consumer = _consumer(cfg)
        try:
            self.partition = _partition_of(run_id, _partitions(consumer, RUNS_TOPIC, cfg))
        finally:
            consumer.close()
        runs, self._runs_rejected = _scan_runs(cfg, run_id, timeout_s)
        window = runs.get(run_id)
        if window is None:
            raise ReplayError(
                f"run {run_id!r}: no RunStart on {RUNS_TOPIC} partition {self.partition} "
                f"(no such run, or removed by retention); runs there: "
                f"{', '.join(sorted(runs)) or 'none'}"
            )
        if not window.overlaps(self.t_from, self.t_to):
            stop = "still open" if window.stop is None else f"stopped {window.stop.t.isoformat()}"
            raise ReplayError(
                f"run {run_id!r} (started {window.start.t.isoformat()}, {stop}) has nothing "
                f"between {self.t_from.isoformat()} and {self.t_to.isoformat()}"
            )
        self.window = window

    def count(self) -> int | None:
        """Unknown until read (the partitions hold other runs too)."""
        return None

    def _stream(self, topic: str) -> Iterator[Message | Rejected]:
        tp = TopicPartition(topic, self.partition)
        consumer = _consumer(self.cfg)
        try:
            if consumer.partitions_for_topic(topic) is None:
                return
            end = consumer.end_offsets([tp])[tp]
            since = _ms(self.t_from) - int(self.lookback_s * 1000)
            found = consumer.offsets_for_times({tp: max(since, 0)})[tp]
            start = end if found is None else found.offset
            self.offsets[tp] = (start, end)
            key = self.run_id.encode()
            last = self.t_from
            for record in _read(consumer, tp, start, end, self.timeout_s, self.cfg):
                if record.key != key:
                    continue  # another run's record
                where = RejectedRecord(topic, tp.partition, record.offset, "")
                try:
                    msg = decode(record.value)
                except ContractError as err:
                    yield self._reject(where, str(err), record.value, last)
                    continue
                if not isinstance(msg, (Reading, Label)) or msg.run_id != self.run_id:
                    yield self._reject(
                        where,
                        f"expected a Reading or Label of run {self.run_id!r} on {topic}, got a "
                        f"{type(msg).__name__} of run {msg.run_id!r}",
                        record.value,
                        last,
                    )
                    continue
                if msg.t < self.t_from:
                    continue
                if msg.t > self.t_to:
                    return  # the first record of the run past the window ends this partition
                last = msg.t
                yield msg
        finally:
            consumer.close()

    def _reject(
        self, where: RejectedRecord, reason: str, raw: bytes | None, t: datetime
    ) -> Rejected:
        named = RejectedRecord(where.topic, where.partition, where.offset, reason)
        self.rejected.append(named)
        # the time of the last good message of the partition keeps the merge in order
        return Rejected(raw or b"", str(named), f"kafka:{where.topic}[{where.partition}]", t)

    def messages(self) -> Iterator[Message | Rejected]:
        """RunStart, Descriptors, the window's readings and labels by event time, RunStop."""
        self.rejected = []
        start, stop = self.window.start, self.window.stop
        yield start
        for where, raw in self._runs_rejected:
            yield self._reject(where, where.reason, raw, start.t)
        yield from self.window.descriptors
        pacer = Pacer(self.speed)
        last = max(start.t, self.t_from)
        streams = [self._stream(topic) for topic in _DATA_TOPICS]
        for item in heapq.merge(*streams, key=_order):
            if not isinstance(item, Rejected):
                pacer.wait(item.t)
                last = item.t
            yield item
        if stop is not None and stop.t <= self.t_to:
            yield stop
        else:
            yield RunStop(
                run_id=self.run_id,
                t=last,
                status="success",
                reason=f"end of the replayed window {self.t_to.isoformat()} (the run went on)",
            )
