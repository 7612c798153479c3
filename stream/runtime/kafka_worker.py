"""A worker in the Kafka consumer group: the :class:`Worker` plus offsets and checkpoints.

What it adds to the worker (stream/runtime/worker.py), which does the per-run work unchanged,
each in a module of its own that uses the worker's public methods only:

- **Ownership** (stream/runtime/kafka_ownership.py). The group's range assignor gives partition
  ``p`` of every input topic to one member, and a run's records are all on partition ``p`` (key
  ``run_id``): this process owns the runs of the partitions it is assigned. A revoked or lost
  partition's runs are dropped; their next owner replays from the last checkpoint.
- **Checkpoints** (stream/runtime/kafka_checkpoints.py, the records in
  stream/runtime/checkpoint.py) of each partition every ``checkpoint_interval_s``, the
  partitions spread over the interval, a few runs at a time between batches, and of all when
  the worker leaves the group: the sinks are flushed first, then each run's state goes to the
  compacted checkpoints topic, then the partition's offsets are committed.
- **Restore** (stream/runtime/kafka_restore.py). A newly assigned partition's checkpoints are
  read and their states installed; the consumer resumes at the committed offsets and each run
  skips the records its checkpoint covers.
- **Run bookkeeping** (stream/runtime/kafka_runs.py): what each run's state has seen; labels in
  event-time order (a partition's readings wait until its labels partition is read to the end);
  a RunStop held until the run's readings up to the end offsets seen when it arrived are read;
  the collectors' dead letters of its runs (the dead-letter topic, co-partitioned with the
  runs, is consumed too) stored with their run.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from threadpoolctl import threadpool_limits

from synthwatch.contract.config import KafkaConfig
from synthwatch.stream.runtime.kafka_checkpoints import Checkpointer
from synthwatch.stream.runtime.kafka_ownership import CONSUMED_TOPICS, Ownership
from synthwatch.stream.runtime.kafka_restore import Restorer
from synthwatch.stream.runtime.kafka_runs import READINGS_TOPICS, RunBook
from synthwatch.stream.runtime.worker import Worker
from synthwatch.stream.transport.kafka_topics import KafkaTransport, client_settings, ensure_topics

log = logging.getLogger(__name__)

__all__ = ["KafkaWorker", "WorkerFactory", "READINGS_TOPICS", "limit_blas_threads"]

WorkerFactory = Callable[[KafkaTransport], Worker]


def limit_blas_threads(n: int) -> None:
    """At most ``n`` BLAS threads in this process from now on (0: leave the default).

    Workers share the cores with each other and with the broker: OpenBLAS's own threads (one
    per core by default) then spin against them, and building a run's models (QR and SVD of the
    kernel) took 24 ms with two threads against 5 ms with one, on an otherwise idle 2-core VM.
    """
    if n > 0:
        threadpool_limits(limits=n, user_api="blas")


class KafkaWorker:
    """Runs a :class:`Worker` as a member of the consumer group (see the module docstring)."""

    def __init__(
        self,
        cfg: KafkaConfig,
        make_worker: WorkerFactory,
        *,
        max_batch: int = 500,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cfg = cfg
        self.max_batch = max_batch
        ensure_topics(cfg)
        self.owner = Ownership()
        self.transport = KafkaTransport(
            cfg,
            group=True,
            on_assigned=self.owner.assigned,
            on_revoked=self.owner.revoked,
            on_lost=self.owner.lost,
        )
        self.worker = make_worker(self.transport)
        self._reader = KafkaConsumer(
            **client_settings(cfg),
            enable_auto_commit=False,
            max_partition_fetch_bytes=cfg.max_message_bytes,
            fetch_max_bytes=max(cfg.max_message_bytes, 52_428_800),
        )
        self.book = RunBook(self.worker, self.transport, self.owner)
        self.checkpoints = Checkpointer(
            cfg, self.transport, self.worker, self.owner, self.book, clock
        )
        self.restorer = Restorer(
            self.transport, self._reader, self.owner, self.book, self.checkpoints
        )

    # -- what it did (for the command's summary, the tests and the benchmarks) ----------------
    @property
    def partitions(self) -> set[int]:
        """The partitions this member owns (assigned and restored)."""
        return self.owner.partitions

    @property
    def skipped(self) -> int:
        """Records a restored checkpoint (or the state) already covered."""
        return self.book.skipped

    @property
    def refusals(self) -> int:
        """Collectors' dead letters (refused files) of its runs handed to the sinks."""
        return self.book.refusals

    @property
    def restored(self) -> int:
        """Runs whose state came from a checkpoint."""
        return self.restorer.restored

    @property
    def stale_checkpoints(self) -> int:
        """Checkpoints read that an older one replaced (see kafka_restore)."""
        return self.restorer.stale_checkpoints

    @property
    def checkpoints_written(self) -> int:
        return self.checkpoints.checkpoints_written

    @property
    def blobs_written(self) -> int:
        return self.checkpoints.blobs_written

    # -- main loop -------------------------------------------------------------------------
    def step(self, timeout_ms: int = 200) -> int:
        """One poll: handle its records, release due stops, checkpoint when due."""
        records = self.transport.poll(CONSUMED_TOPICS, self.max_batch, timeout_ms)
        self._rebalance()
        owner = self.owner
        if owner.gained:
            try:
                self.restorer.restore()
            except KafkaError as err:
                # the broker is away (restarting): the gained partitions stay un-owned, their
                # records are not handled, and the next step restores them and seeks them back
                # to the commit
                log.warning(
                    "restoring partitions %s failed, retrying: %s", sorted(owner.gained), err
                )
            else:
                # a batch fetched across the rebalance may start past the committed offsets: the
                # gained partitions are read again from those (see kafka_restore)
                records = [
                    r for r in records if TopicPartition(r.topic, r.partition) not in owner.fresh
                ]
                owner.fresh = set()
        records = [r for r in records if r.partition in owner.partitions]
        self.book.take(records)
        self.checkpoints.due()
        return len(records)

    def run(self, should_stop: Callable[[], bool]) -> None:
        """Step until ``should_stop()``; then checkpoint and leave the group."""
        try:
            while not should_stop():
                self.step()
        finally:
            self.close()

    def close(self) -> None:
        try:
            self._rebalance()
            if self.owner.partitions:
                self.book.accept_readings()
                self.checkpoint(set(self.owner.partitions))
        except KafkaError as err:
            log.error("final checkpoint failed (the next owner replays more): %s", err)
        finally:
            self._reader.close()
            self.transport.close()

    def checkpoint(self, partitions: set[int], commit_offsets: bool = True) -> None:
        """Flush the sinks, write the runs' checkpoints of ``partitions``, commit offsets."""
        self.checkpoints.checkpoint(partitions, commit_offsets)

    def _rebalance(self) -> None:
        """Apply the rebalance events the group reported since the last step."""
        self.owner.rebalance(self._forget)

    def _forget(self, partitions: set[int]) -> None:
        self.book.forget_partitions(partitions)
        self.checkpoints.forget(partitions)
