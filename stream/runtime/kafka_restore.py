"""Restoring a Kafka worker's newly assigned partitions from their checkpoints.

A newly assigned partition's checkpoints (stream/runtime/checkpoint.py) are read and their states
installed; the consumer resumes at the committed offsets and each run skips the records its
checkpoint covers. A late checkpoint of an evicted member may be older than the commit: see
:meth:`Restorer.restore`.
"""

from __future__ import annotations

import logging

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from synthwatch.stream.runtime.checkpoint import (
    BLOB_PREFIX,
    Checkpoint,
    CheckpointError,
    covered_by,
    decode_checkpoint,
)
from synthwatch.stream.runtime.kafka_checkpoints import Checkpointer
from synthwatch.stream.runtime.kafka_ownership import CONSUMED_TOPICS, Ownership
from synthwatch.stream.runtime.kafka_runs import RunBook
from synthwatch.stream.transport.kafka_topics import KafkaTransport
from synthwatch.stream.transport.memory import CHECKPOINTS_TOPIC

log = logging.getLogger(__name__)


class Restorer:
    """Installs the checkpoints of the partitions a Kafka worker gains (see the module
    docstring); ``reader`` is a consumer of its own, outside the group, for the checkpoints."""

    def __init__(
        self,
        transport: KafkaTransport,
        reader: KafkaConsumer,
        owner: Ownership,
        book: RunBook,
        checkpoints: Checkpointer,
    ) -> None:
        self.transport = transport
        self.reader = reader
        self.owner = owner
        self.book = book
        self.checkpoints = checkpoints
        self.restored = 0  # runs whose state came from a checkpoint
        self.stale_checkpoints = 0  # checkpoints read that an older one replaced (see restore)

    def restore(self) -> None:
        """Install the checkpoints of newly assigned partitions; read them from the commit.

        The group resumes at the committed offsets, which a checkpoint normally never lags (it
        is written before the commit); each run skips what its checkpoint covers. A member
        evicted from the group (a long pause, a network split) may still write a checkpoint
        after the new owner wrote a newer one: its commit is refused by the group, but its
        checkpoint lands in the compacted topic and may replace the newer one. So a
        checkpoint may lag the commit: the partition is then read from the oldest offsets a
        restored checkpoint covers, and below the commit only the restored runs' records are
        handled (each from its own offsets). Restoring from an older checkpoint thus replays
        more of the run; the estimates are the same (the models are deterministic and the
        sinks idempotent). Of several checkpoints of a run on the topic, the one covering the
        most input is restored.
        """
        owner = self.owner
        gained, owner.gained = owner.gained - owner.partitions, set()
        try:  # what needs the broker first; nothing is installed before it has answered
            starts = {
                TopicPartition(t, p): self.transport.start_offset(TopicPartition(t, p))
                for p in gained
                for t in CONSUMED_TOPICS
            }
            checkpoints = self.read(gained)
        except KafkaError:
            owner.gained |= gained  # retried at the next step
            raise
        for tp, start in starts.items():
            owner.pos[tp] = start
            owner.replay_below[tp] = start
        for cp in checkpoints:
            if self.book.adopt(cp):
                self.restored += 1
            for t, o in cp.offsets.items():
                tp = TopicPartition(t, cp.partition)
                if tp in owner.pos and o < owner.pos[tp]:
                    log.warning(
                        "run %s: checkpoint (generation %s) covers %s only up to %s, below the "
                        "commit %s: replaying the run from there",
                        cp.run_id,
                        cp.generation,
                        t,
                        o,
                        owner.replay_below[tp],
                    )
                    owner.pos[tp] = o
        for p in gained:
            for t in CONSUMED_TOPICS:
                tp = TopicPartition(t, p)
                self.transport.seek(tp, owner.pos[tp])
                owner.fresh.add(tp)
        log.info(
            "restored %s; input starts at %s",
            {r: o for r, o in self.book.covered.items() if owner.partition_of.get(r) in gained},
            {f"{t.topic}[{t.partition}]": o for t, o in owner.pos.items() if t.partition in gained},
        )
        owner.partitions |= gained
        self.checkpoints.schedule()
        log.info("partitions %s assigned", sorted(gained))

    def read(self, partitions: set[int]) -> list[Checkpoint]:
        """The checkpoint of every run on ``partitions`` that covers the most input.

        Normally the latest; a tombstone forgets the run.
        """
        if not partitions:
            return []
        reader = self.reader
        tps = [TopicPartition(CHECKPOINTS_TOPIC, p) for p in sorted(partitions)]
        reader.assign(tps)
        reader.seek_to_beginning(*tps)
        ends = reader.end_offsets(tps)
        latest: dict[str, tuple[bytes, str, int] | None] = {}
        blobs: dict[str, bytes] = {}
        while any(reader.position(tp) < ends[tp] for tp in tps):
            for tp, records in reader.poll(timeout_ms=500).items():
                for r in records:
                    key = r.key.decode("utf-8", errors="replace") if r.key else ""
                    if key.startswith(BLOB_PREFIX):
                        digest = key[len(BLOB_PREFIX) :]
                        blobs[digest] = r.value
                        self.checkpoints.blobs_on.setdefault(tp.partition, set()).add(digest)
                    elif r.value is None:
                        latest[key] = None
                    else:
                        covers = covered_by(r.headers)
                        covers = -1 if covers is None else covers
                        best = latest.get(key)
                        if best is not None and best[2] > covers:
                            self.stale_checkpoints += 1
                            log.warning(
                                "%s[%s]@%s: a checkpoint of run %r covering less input than "
                                "the one at %s (written late by an evicted worker?): ignored",
                                tp.topic,
                                tp.partition,
                                r.offset,
                                key,
                                best[1],
                            )
                            continue
                        where = f"{tp.topic}[{tp.partition}]@{r.offset}"
                        latest[key] = (r.value, where, covers)
        out: list[Checkpoint] = []
        shared: dict = {}
        for key, found in latest.items():
            if found is None:
                continue
            try:
                out.append(decode_checkpoint(found[0], found[1], blobs, shared))
            except CheckpointError as err:
                # without it the run restarts from the committed offsets: say so loudly
                log.error("%s; run %r restarts without its state", err, key)
        return out
