"""Checkpoints of a Kafka worker: each owned partition's runs, with the offsets they cover.

A :class:`Checkpointer` writes each partition's checkpoints (stream/runtime/checkpoint.py) every
``checkpoint_interval_s``, the partitions spread over the interval, and all of them when the
worker leaves the group (:meth:`Checkpointer.checkpoint`): the sinks are flushed first, then
each run's state goes to the compacted checkpoints topic, then the partition's offsets are
committed. A periodic round writes a few runs per step (:meth:`Checkpointer.due`), so the
records wait for a few runs' checkpoints at a time, never for all of a partition's.

Not at a revocation: kafka-python reports it on its network thread, possibly after another
member took the partitions over; the revoked runs are dropped and their next owner replays from
the last checkpoint. A record below the committed offsets is therefore in a checkpoint (or in a
finished run); a crash between two checkpoints replays records the sinks may already hold, and
the sinks' idempotent writes make that harmless. A run's checkpoint covers the partition's
positions when it was written (its :data:`~synthwatch.stream.runtime.checkpoint.OFFSETS_HEADER`
carries them too).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from kafka import TopicPartition
from kafka.errors import KafkaError

from synthwatch.contract.config import KafkaConfig
from synthwatch.stream.runtime.checkpoint import (
    BLOB_PREFIX,
    OFFSETS_HEADER,
    BlobCache,
    Checkpoint,
    encode_checkpoint,
    offsets_header,
)
from synthwatch.stream.runtime.kafka_ownership import Ownership
from synthwatch.stream.runtime.kafka_runs import RunBook
from synthwatch.stream.runtime.worker import Worker
from synthwatch.stream.transport.kafka_topics import KafkaTransport
from synthwatch.stream.transport.memory import CHECKPOINTS_TOPIC, INPUT_TOPICS, RUNS_TOPIC

log = logging.getLogger(__name__)


@dataclass
class _Round:
    """A partition's checkpoints in progress (see :meth:`Checkpointer._go_on`)."""

    partition: int
    commit: dict[TopicPartition, int]  # the positions at its start, lowered for held stops
    runs: list[str]  # still to checkpoint (popped from the end)
    written: int = 0


class Checkpointer:
    """Writes the checkpoints of the runs a Kafka worker owns (see the module docstring)."""

    def __init__(
        self,
        cfg: KafkaConfig,
        transport: KafkaTransport,
        worker: Worker,
        owner: Ownership,
        book: RunBook,
        clock: Callable[[], float],
    ) -> None:
        self.cfg = cfg
        self.transport = transport
        self.worker = worker
        self.owner = owner
        self.book = book
        self._clock = clock
        self.checkpoints_written = 0
        self.blobs_written = 0
        self.blob_cache = BlobCache()
        self.blobs_on: dict[int, set[str]] = {}  # partition → digests of arrays on the broker
        self._next: dict[int, float] = {}  # partition → when its checkpoints are due
        self._round: _Round | None = None

    def schedule(self) -> None:
        """Spread the owned partitions' checkpoints over the interval (one at a time)."""
        now, interval = self._clock(), self.cfg.checkpoint_interval_s
        partitions = self.owner.partitions
        for k, p in enumerate(sorted(partitions)):
            self._next[p] = now + interval * (k + 1) / len(partitions)

    def forget(self, partitions: set[int]) -> None:
        """Partitions revoked or lost: no more checkpoints of theirs."""
        if self._round is not None and self._round.partition in partitions:
            self._round = None
        for p in partitions:
            self._next.pop(p, None)

    def due(self) -> None:
        """Go on with the round of checkpoints in progress, or start one if a partition is due.

        The partitions' rounds are spread over the interval (:meth:`schedule`) and a round
        writes a few runs per step (:meth:`_go_on`): the records wait for a few runs'
        checkpoints at a time, never for all of them.
        """
        try:
            if self._round is None:
                now = self._clock()
                due = [p for p in self.owner.partitions if self._next.get(p, now) <= now]
                if not due:
                    return
                p = min(due, key=lambda q: self._next.get(q, now))
                self._next[p] = now + self.cfg.checkpoint_interval_s
                runs = sorted(self.owner.runs_on({p}), reverse=True)
                self._round = _Round(p, self.owner.positions({p}), runs)
            self._go_on()
        except KafkaError as err:  # the broker is away: the next interval tries again
            log.warning(
                "checkpoint failed, retrying in %s s: %s", self.cfg.checkpoint_interval_s, err
            )
            self._round = None

    def checkpoint(self, partitions: set[int], commit_offsets: bool = True) -> None:
        """Flush the sinks, write the runs' checkpoints of ``partitions``, commit offsets.

        A run's checkpoint covers, per input topic, the position of its partition: every record
        of the run below it is in the state (a held RunStop excepted, which is read again).
        """
        now = self._clock()
        for p in partitions:
            self._next[p] = now + self.cfg.checkpoint_interval_s
            if self._round is not None and self._round.partition == p:
                self._round = None  # all of it now
        if not partitions:
            return
        self.worker.flush()
        generation = self.transport.generation()
        commit = self.owner.positions(partitions)
        for run_id, p in list(self.owner.partition_of.items()):
            if p in partitions:
                self._write(run_id, p, commit, generation)
        self.transport.flush()
        if commit_offsets:
            self.transport.commit(commit)
            self.owner.committed.update(commit)

    def _go_on(self, budget_s: float = 0.02) -> None:
        """Go on with the round of checkpoints in progress: runs for about ``budget_s``.

        A round checkpoints a partition's runs a few at a time, between batches of records, so
        that no record waits for a whole partition's checkpoints; when every run of the round
        is written, the partition's positions at the round's start are committed: every run's
        checkpoint covers them (a run that appeared since has no record below them).
        """
        r = self._round
        assert r is not None
        started = self._clock()
        self.worker.flush()  # what the states emitted is durable before they are checkpointed
        generation = self.transport.generation()
        while r.runs and (self._clock() - started < budget_s or not r.written):
            run_id = r.runs.pop()
            if self.owner.partition_of.get(run_id) == r.partition:
                self._write(run_id, r.partition, r.commit, generation)
            r.written += 1
        if r.runs:
            return
        self._round = None
        self.transport.flush()
        self.transport.commit(r.commit)
        self.owner.committed.update(r.commit)

    def _write(
        self, run_id: str, p: int, commit: dict[TopicPartition, int], generation: int
    ) -> None:
        """Write ``run_id``'s checkpoint (or its tombstone); lower ``commit`` for a held stop."""
        # what the run's state has seen (a deferred stop is not in it: it is read again)
        offsets = self.book.seen(run_id)
        if self.book.finished(run_id):
            if self.owner.committed_past(p, offsets):
                # a finished run, checkpointed as such, and every record of it below the
                # committed offsets: nothing will read them again
                self.transport.send(CHECKPOINTS_TOPIC, run_id, None)
                self.book.forget(run_id)
            return
        state = self.book.state_to_checkpoint(run_id)
        offsets = {t: max(offsets[t], self.owner.pos[TopicPartition(t, p)]) for t in INPUT_TOPICS}
        stop_at = self.book.held_stop(run_id)
        if stop_at is not None:  # the group must deliver its stop again
            tp = TopicPartition(RUNS_TOPIC, p)
            commit[tp] = min(commit[tp], stop_at)
            offsets[RUNS_TOPIC] = min(offsets[RUNS_TOPIC], stop_at)
        cp = Checkpoint(run_id, p, offsets, state, generation)
        blobs: dict[str, bytes] = {}
        self.blob_cache.written = self.blobs_on.setdefault(p, set())
        raw = encode_checkpoint(cp, blobs, self.blob_cache)
        for digest, blob in blobs.items():  # before the checkpoint, on its partition
            self.transport.send(CHECKPOINTS_TOPIC, BLOB_PREFIX + digest, blob, p)
            self.blobs_on[p].add(digest)
            self.blobs_written += 1
        self.transport.send(
            CHECKPOINTS_TOPIC, run_id, raw, headers=[(OFFSETS_HEADER, offsets_header(offsets))]
        )
        self.checkpoints_written += 1
        self.book.checkpointed(run_id)
