"""Partition ownership of a Kafka worker: the partitions it owns, where it reads them, their runs.

The group's range assignor gives partition ``p`` of every input topic to one member, and a run's
records are all on partition ``p`` (key ``run_id``): a worker owns the runs of the partitions it
is assigned. :class:`Ownership` is the consumer-group listener of the worker's transport and the
record of what it owns:

- ``partitions``, restored and read; ``gained``, assigned but not restored yet
  (stream/runtime/kafka_restore.py restores them); ``fresh``, the input partitions just sought
  back to the commit (a batch fetched across the rebalance is dropped for them);
- ``partition_of``: the partition of each run the worker has seen;
- per consumed partition (``TopicPartition``: the input topics' and the dead-letter topic's,
  :data:`CONSUMED_TOPICS`): ``pos``, the next offset to handle; ``committed``,
  the offsets this worker committed; ``replay_below``, the commit found at the restore (below
  it, only restored runs' records are new: see stream/runtime/kafka_restore.py).

kafka-python calls the listener on its network thread, which runs beside the main thread: it
only queues what changed; :meth:`Ownership.rebalance` applies it between two batches, when the
worker is idle.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

from kafka import TopicPartition

from synthwatch.stream.transport.memory import DEADLETTER_TOPIC, INPUT_TOPICS

log = logging.getLogger(__name__)

#: The topics a Kafka worker reads: the input topics, and the dead-letter topic for the
#: collectors' refused files (keyed by run, so co-partitioned with the run: see kafka_runs).
CONSUMED_TOPICS = (*INPUT_TOPICS, DEADLETTER_TOPIC)


class Ownership:
    """What a member of the consumer group owns (see the module docstring)."""

    def __init__(self) -> None:
        self.partitions: set[int] = set()
        self.gained: set[int] = set()  # assigned, not yet restored
        self.fresh: set[TopicPartition] = set()  # just sought to the commit
        self.partition_of: dict[str, int] = {}
        self.pos: dict[TopicPartition, int] = {}  # next offset to handle, per consumed partition
        self.committed: dict[TopicPartition, int] = {}
        # below these offsets (the commit at the restore), only restored runs' records are new
        self.replay_below: dict[TopicPartition, int] = {}
        self._lock = threading.Lock()
        self._events: list[tuple[str, set[int]]] = []

    # -- the listener (kafka-python's network thread) -----------------------------------------
    def lost(self, tps: set[TopicPartition]) -> None:
        self._queue("lost", tps)

    def revoked(self, tps: set[TopicPartition]) -> None:
        self._queue("revoked", tps)

    def assigned(self, tps: set[TopicPartition]) -> None:
        self._queue("assigned", tps)

    def _queue(self, kind: str, tps: set[TopicPartition]) -> None:
        with self._lock:
            self._events.append((kind, {tp.partition for tp in tps}))

    # -- the main thread ----------------------------------------------------------------------
    def rebalance(self, forget: Callable[[set[int]], None]) -> None:
        """Apply the queued events: note assigned partitions (to restore); of revoked or lost
        ones, ``forget(partitions)`` their runs, then forget their offsets.

        Nothing is checkpointed at a revocation: it may come after another member took the
        partitions over. The next owner restores the last periodic checkpoint and replays.
        """
        with self._lock:
            events, self._events = self._events, []
        for kind, parts in events:
            if kind == "assigned":
                self.gained |= parts
                continue
            gone = parts & (self.partitions | self.gained)
            forget(gone)
            for d in (self.committed, self.pos, self.replay_below):
                for tp in [tp for tp in d if tp.partition in gone]:
                    del d[tp]
            self.gained -= gone
            self.partitions -= gone
            log.info("partitions %s %s", sorted(gone), kind)

    def runs_on(self, partitions: set[int]) -> list[str]:
        """The runs seen on ``partitions``."""
        return [run_id for run_id, p in self.partition_of.items() if p in partitions]

    def positions(self, partitions: set[int]) -> dict[TopicPartition, int]:
        """The next offset to handle of every consumed topic on ``partitions`` (to commit)."""
        return {
            TopicPartition(t, p): self.pos[TopicPartition(t, p)]
            for t in CONSUMED_TOPICS
            for p in partitions
        }

    def committed_past(self, p: int, offsets: dict[str, int]) -> bool:
        """Whether this worker committed, on partition ``p``, every topic's ``offsets``."""
        return all(self.committed.get(TopicPartition(t, p), -1) >= o for t, o in offsets.items())
