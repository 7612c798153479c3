"""A worker in the Kafka consumer group: the :class:`Worker` plus offsets and checkpoints.

What it adds to the worker (stream/runtime/worker.py), which does the per-run work unchanged:

- **Ownership.** The group's range assignor gives partition ``p`` of every input topic to one
  member, and a run's records are all on partition ``p`` (key ``run_id``): this process owns the
  runs of the partitions it is assigned.
- **Checkpoints** (stream/runtime/checkpoint.py) of each partition every ``checkpoint_interval_s``,
the
  partitions spread over the interval (one partition's runs at a time, so the records of the
  others wait for a third of the work, with three partitions), and of all when the worker
  leaves the group: the sinks are flushed first, then each run's state goes to the compacted
  checkpoints topic, then the partition's offsets are committed. Not at a revocation:
  kafka-python reports it on its network thread, possibly after another member took the
  partitions over; the revoked runs are dropped and their next owner replays from the last
  checkpoint. A record below the committed offsets is therefore in a checkpoint (or in a
  finished run); a crash between two checkpoints replays records the sinks may already hold,
  and the sinks' idempotent writes make that harmless. A run's checkpoint covers the
  partition's positions when it was written (a record header carries them too).
- **Restore.** A newly assigned partition's checkpoints are read and their states installed; the
  consumer resumes at the committed offsets and each run skips the records its checkpoint covers.
  A late checkpoint of an evicted member may be older than the commit: see :meth:`_restore`.
- **Labels in event-time order.** The worker feeds a Label to the run-level models just before
  the run's first reading after the label's ``t``; the readings of a partition wait until its
  labels partition is read to the end (:meth:`_accept_readings`), so a new owner reading a
  backlog puts every label where the first owner did.
- **RunStop after the readings.** The RunStop travels on ``synthwatch.runs``, the readings on
  their own topics, so a consumer may fetch the stop first. The collector flushes its readings
  before it sends the stop; the worker holds a stop until it has read, on the run's partition,
  every reading and label topic up to the end offsets it saw when the stop arrived.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace
from typing import Callable

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from threadpoolctl import threadpool_limits

from synthwatch.contract.config import KafkaConfig
from synthwatch.contract.messages import ContractError, RunStop, decode
from synthwatch.stream.runtime.checkpoint import (
    BLOB_PREFIX,
    BlobCache,
    Checkpoint,
    CheckpointError,
    decode_checkpoint,
    encode_checkpoint,
)
from synthwatch.stream.runtime.worker import Worker
from synthwatch.stream.transport.kafka_topics import KafkaTransport, client_settings, ensure_topics
from synthwatch.stream.transport.memory import (
    CHECKPOINTS_TOPIC,
    INPUT_TOPICS,
    LABELS_TOPIC,
    RUNS_TOPIC,
    Record,
)

log = logging.getLogger(__name__)

WorkerFactory = Callable[[KafkaTransport], Worker]
#: Header of a checkpoint record: the input offsets it covers, ``topic=offset`` joined by ``,``.
OFFSETS_HEADER = "offsets"
READINGS_TOPICS = frozenset(t for t in INPUT_TOPICS if t not in (RUNS_TOPIC, LABELS_TOPIC))


def offsets_header(offsets: dict[str, int]) -> bytes:
    return ",".join(f"{t}={o}" for t, o in sorted(offsets.items())).encode()


def covered_by(headers) -> int | None:
    """How much input a checkpoint record covers (the sum of its offsets); None: unknown."""
    for name, value in headers or ():
        if name == OFFSETS_HEADER:
            try:
                return sum(int(pair.rsplit(b"=", 1)[1]) for pair in value.split(b",") if pair)
            except (IndexError, ValueError):
                return None
    return None


@dataclass
class _Round:
    """A partition's checkpoints in progress (see :meth:`KafkaWorker._checkpoint_round`)."""

    partition: int
    commit: dict[TopicPartition, int]  # the positions at its start, lowered for held stops
    runs: list[str]  # still to checkpoint (popped from the end)
    written: int = 0


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
        self._clock = clock
        ensure_topics(cfg)
        self.transport = KafkaTransport(
            cfg,
            group=True,
            on_assigned=self._assigned,
            on_revoked=self._revoked,
            on_lost=self._lost,
        )
        self.worker = make_worker(self.transport)
        self._reader = KafkaConsumer(
            **client_settings(cfg),
            enable_auto_commit=False,
            max_partition_fetch_bytes=cfg.max_message_bytes,
            fetch_max_bytes=max(cfg.max_message_bytes, 52_428_800),
        )
        self.partitions: set[int] = set()
        self.partition_of: dict[str, int] = {}
        self.covered: dict[str, dict[str, int]] = {}  # run → topic → first offset not in state
        self.over: set[str] = set()  # runs whose RunStop has gone through
        # run → its RunStop and the end offsets to read first (None: not asked yet)
        self.deferred: dict[str, tuple[Record, dict[TopicPartition, int] | None]] = {}
        self.skipped = 0  # records a restored checkpoint already covered
        self.checkpoints_written = 0
        self.restored = 0  # runs whose state came from a checkpoint
        self.blobs_written = 0
        self.stale_checkpoints = 0  # checkpoints read that an older one replaced (see _restore)
        self._blob_cache = BlobCache()
        self._blobs_on: dict[int, set[str]] = {}  # partition → digests of arrays on the broker
        self._committed: dict[TopicPartition, int] = {}
        # below these offsets (the commit at the restore), only restored runs' records are new
        self._replay_below: dict[TopicPartition, int] = {}
        # readings waiting for the labels of their partition to be read (see _accept_readings)
        self._held: dict[int, list[Record]] = {}
        self._pos: dict[TopicPartition, int] = {}  # next offset to handle, per input partition
        self._gained: set[int] = set()  # assigned, not yet restored
        self._fresh: set[TopicPartition] = set()  # just sought to the commit
        self._lock = threading.Lock()
        self._events: list[tuple[str, set[int]]] = []
        self._next_checkpoint: dict[int, float] = {}  # partition → when it is due
        self._round: _Round | None = None

    # -- main loop -------------------------------------------------------------------------
    def step(self, timeout_ms: int = 200) -> int:
        """One poll: handle its records, release due stops, checkpoint when due."""
        records = self.transport.poll(INPUT_TOPICS, self.max_batch, timeout_ms)
        self._apply_rebalance()
        if self._gained:
            try:
                self._restore()
            except KafkaError as err:
                # the broker is away (restarting): the gained partitions stay un-owned, their
                # records are not handled, and the next step restores them and seeks them back
                # to the commit
                log.warning(
                    "restoring partitions %s failed, retrying: %s", sorted(self._gained), err
                )
            else:
                # a batch fetched across the rebalance may start past the committed offsets: the
                # gained partitions are read again from those (see _restore)
                records = [
                    r for r in records if TopicPartition(r.topic, r.partition) not in self._fresh
                ]
                self._fresh = set()
        records = [r for r in records if r.partition in self.partitions]
        for record in records:
            if record.topic in READINGS_TOPICS:
                self._held.setdefault(record.partition, []).append(record)
            else:
                self._accept(record)
        self._accept_readings()
        if self.deferred:
            self._ask_stop_targets()
            self._release_stops()
        self._checkpoint_due()
        return len(records)

    def _accept(self, record: Record) -> None:
        tp = TopicPartition(record.topic, record.partition)
        if record.offset < self._pos.get(tp, 0):
            log.info("re-delivered %s[%s]@%s", record.topic, record.partition, record.offset)
            self.skipped += 1  # delivered again (the group reset us): already in our state
            return
        self._handle(record)
        self._pos[tp] = record.offset + 1

    def _accept_readings(self) -> None:
        """Hand over the readings of each partition whose labels have all been read.

        A Label goes to the run-level models in event-time order with the readings (the
        worker holds it until the first reading after its ``t``). So that a worker reading a
        backlog (after a takeover) puts a label where the first owner did, the readings of a
        partition wait until its labels partition is read up to the broker's end: a label is
        then never read after readings later than itself, whatever order the fetches come in.
        """
        for p in list(self._held):
            if self.transport.caught_up(TopicPartition(LABELS_TOPIC, p)):
                for record in self._held.pop(p):
                    self._accept(record)

    def _checkpoint_due(self) -> None:
        """Go on with the round of checkpoints in progress, or start one if a partition is due.

        The partitions' rounds are spread over the interval (see :meth:`_restore`) and a round
        writes a few runs per step (:meth:`_checkpoint_round`): the records wait for a few
        runs' checkpoints at a time, never for all of them.
        """
        try:
            if self._round is None:
                now = self._clock()
                due = [p for p in self.partitions if self._next_checkpoint.get(p, now) <= now]
                if not due:
                    return
                p = min(due, key=lambda q: self._next_checkpoint.get(q, now))
                self._next_checkpoint[p] = now + self.cfg.checkpoint_interval_s
                commit = {
                    TopicPartition(t, p): self._pos[TopicPartition(t, p)] for t in INPUT_TOPICS
                }
                runs = sorted((r for r, q in self.partition_of.items() if q == p), reverse=True)
                self._round = _Round(p, commit, runs)
            self._checkpoint_round()
        except KafkaError as err:  # the broker is away: the next interval tries again
            log.warning(
                "checkpoint failed, retrying in %s s: %s", self.cfg.checkpoint_interval_s, err
            )
            self._round = None

    def run(self, should_stop: Callable[[], bool]) -> None:
        """Step until ``should_stop()``; then checkpoint and leave the group."""
        try:
            while not should_stop():
                self.step()
        finally:
            self.close()

    def close(self) -> None:
        try:
            self._apply_rebalance()
            if self.partitions:
                self._accept_readings()
                self.checkpoint(set(self.partitions))
        except KafkaError as err:
            log.error("final checkpoint failed (the next owner replays more): %s", err)
        finally:
            self._reader.close()
            self.transport.close()

    # -- records ---------------------------------------------------------------------------
    def _handle(self, record: Record) -> None:
        run_id = record.key
        covered = self.covered.get(run_id)
        if covered is not None and record.offset < covered.get(record.topic, 0):
            self.skipped += 1
            return
        if covered is None and record.offset < self._replay_below.get(
            TopicPartition(record.topic, record.partition), 0
        ):
            # read again only for a run restored from an older checkpoint (see _restore); a
            # run without one was finished, or is in a checkpoint that could not be decoded
            self.skipped += 1
            return
        if run_id in self.over and run_id not in self.worker.runs:
            raw = record.value if isinstance(record.value, bytes) else repr(record.value).encode()
            self.worker._deadletter(
                raw, f"{record.topic}@{record.offset}: run {run_id!r} has already stopped", run_id
            )
            return
        if run_id:
            self.partition_of[run_id] = record.partition
        if record.topic == RUNS_TOPIC and isinstance(record.value, (bytes, bytearray)):
            try:
                msg = decode(record.value)
            except ContractError:
                self.worker.handle(record)  # dead-lettered there, with the reason
                return
            record = replace(record, value=msg)
            if isinstance(msg, RunStop) and msg.run_id == run_id:
                self.deferred[run_id] = (record, None)  # see _ask_stop_targets
                return
        self.worker.handle(record)
        self._covers(run_id, record)

    def _covers(self, run_id: str, record: Record) -> None:
        """The run's state has now seen ``record``: its checkpoint covers it."""
        if run_id:
            self.covered.setdefault(run_id, {})[record.topic] = record.offset + 1

    def _ask_stop_targets(self) -> None:
        """The end offsets a held RunStop waits for: one request for a batch's stops.

        (A request to the broker takes tens of ms: one per stop stalled every record behind it.)
        """
        waiting = [r for r, (_, targets) in self.deferred.items() if targets is None]
        if not waiting:
            return
        parts = sorted({self.deferred[r][0].partition for r in waiting})
        tps = [TopicPartition(t, p) for p in parts for t in INPUT_TOPICS if t != RUNS_TOPIC]
        try:
            ends = self.transport.end_offsets(tps)
        except KafkaError as err:  # the broker is away: the stops wait, asked again next step
            log.warning("end offsets for held RunStops failed, retrying: %s", err)
            return
        for r in waiting:
            record = self.deferred[r][0]
            targets = {tp: o for tp, o in ends.items() if tp.partition == record.partition}
            self.deferred[r] = (record, targets)

    def _release_stops(self) -> None:
        for run_id, (record, targets) in list(self.deferred.items()):
            if targets is not None and all(
                self._pos.get(tp, 0) >= end for tp, end in targets.items()
            ):
                del self.deferred[run_id]
                self.worker.handle(record)
                self._covers(run_id, record)
                self.over.add(run_id)

    # -- checkpoints -----------------------------------------------------------------------
    def checkpoint(self, partitions: set[int], commit_offsets: bool = True) -> None:
        """Flush the sinks, write the runs' checkpoints of ``partitions``, commit offsets.

        A run's checkpoint covers, per input topic, the position of its partition: every record
        of the run below it is in the state (a held RunStop excepted, which is read again).
        """
        now = self._clock()
        for p in partitions:
            self._next_checkpoint[p] = now + self.cfg.checkpoint_interval_s
            if self._round is not None and self._round.partition == p:
                self._round = None  # all of it now
        if not partitions:
            return
        self.worker.flush()
        generation = self.transport.generation()
        commit = {
            TopicPartition(t, p): self._pos[TopicPartition(t, p)]
            for t in INPUT_TOPICS
            for p in partitions
        }
        for run_id, p in list(self.partition_of.items()):
            if p in partitions:
                self._checkpoint_run(run_id, p, commit, generation)
        self.transport.flush()
        if commit_offsets:
            self.transport.commit(commit)
            self._committed.update(commit)

    def _checkpoint_round(self, budget_s: float = 0.02) -> None:
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
            if self.partition_of.get(run_id) == r.partition:
                self._checkpoint_run(run_id, r.partition, r.commit, generation)
            r.written += 1
        if r.runs:
            return
        self._round = None
        self.transport.flush()
        self.transport.commit(r.commit)
        self._committed.update(r.commit)

    def _checkpoint_run(
        self, run_id: str, p: int, commit: dict[TopicPartition, int], generation: int
    ) -> None:
        """Write ``run_id``'s checkpoint (or its tombstone); lower ``commit`` for a held stop."""
        # what the run's state has seen (a deferred stop is not in it: it is read again)
        offsets = {t: self.covered.get(run_id, {}).get(t, 0) for t in INPUT_TOPICS}
        if run_id in self.over and run_id not in self.worker.runs:
            if all(self._committed.get(TopicPartition(t, p), -1) >= o for t, o in offsets.items()):
                # a finished run, checkpointed as such, and every record of it below the
                # committed offsets: nothing will read them again
                self.transport.send(CHECKPOINTS_TOPIC, run_id, None)
                self._forget(run_id)
            return
        state = None if run_id in self.over else self.worker.runs.get(run_id)
        offsets = {t: max(offsets[t], self._pos[TopicPartition(t, p)]) for t in INPUT_TOPICS}
        if run_id in self.deferred:  # the group must deliver its stop again
            tp = TopicPartition(RUNS_TOPIC, p)
            stop_at = self.deferred[run_id][0].offset
            commit[tp] = min(commit[tp], stop_at)
            offsets[RUNS_TOPIC] = min(offsets[RUNS_TOPIC], stop_at)
        cp = Checkpoint(run_id, p, offsets, state, generation)
        blobs: dict[str, bytes] = {}
        self._blob_cache.written = self._blobs_on.setdefault(p, set())
        raw = encode_checkpoint(cp, blobs, self._blob_cache)
        for digest, blob in blobs.items():  # before the checkpoint, on its partition
            self.transport.send(CHECKPOINTS_TOPIC, BLOB_PREFIX + digest, blob, p)
            self._blobs_on[p].add(digest)
            self.blobs_written += 1
        self.transport.send(
            CHECKPOINTS_TOPIC, run_id, raw, headers=[(OFFSETS_HEADER, offsets_header(offsets))]
        )
        self.checkpoints_written += 1
        if run_id in self.over:
            self.worker.runs.pop(run_id, None)  # its records are skipped from now on

    def _forget(self, run_id: str) -> None:
        self.partition_of.pop(run_id, None)
        self.covered.pop(run_id, None)
        self.over.discard(run_id)
        self.deferred.pop(run_id, None)
        self.worker.runs.pop(run_id, None)

    # kafka-python calls these on its network thread, which runs beside the main thread: they
    # only queue what changed; step() applies it between two batches, when the worker is idle.
    def _lost(self, tps: set[TopicPartition]) -> None:
        with self._lock:
            self._events.append(("lost", {tp.partition for tp in tps}))

    def _revoked(self, tps: set[TopicPartition]) -> None:
        with self._lock:
            self._events.append(("revoked", {tp.partition for tp in tps}))

    def _assigned(self, tps: set[TopicPartition]) -> None:
        with self._lock:
            self._events.append(("assigned", {tp.partition for tp in tps}))

    def _apply_rebalance(self) -> None:
        """Forget revoked partitions' runs, note assigned ones (restored by :meth:`_restore`).

        Nothing is checkpointed at a revocation: it may come after another member took the
        partitions over. The next owner restores the last periodic checkpoint and replays.
        """
        with self._lock:
            events, self._events = self._events, []
        for kind, parts in events:
            if kind == "assigned":
                self._gained |= parts
                continue
            lost = parts & (self.partitions | self._gained)
            for run_id, p in list(self.partition_of.items()):
                if p in lost:
                    self._forget(run_id)
            for d in (self._committed, self._pos, self._replay_below):
                for tp in [tp for tp in d if tp.partition in lost]:
                    del d[tp]
            if self._round is not None and self._round.partition in lost:
                self._round = None
            for p in lost:
                self._held.pop(p, None)
                self._next_checkpoint.pop(p, None)
            self._gained -= lost
            self.partitions -= lost
            log.info("partitions %s %s", sorted(lost), kind)

    def _restore(self) -> None:
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
        gained, self._gained = self._gained - self.partitions, set()
        try:  # what needs the broker first; nothing is installed before it has answered
            starts = {
                TopicPartition(t, p): self.transport.start_offset(TopicPartition(t, p))
                for p in gained
                for t in INPUT_TOPICS
            }
            checkpoints = self._read_checkpoints(gained)
        except KafkaError:
            self._gained |= gained  # retried at the next step
            raise
        for tp, start in starts.items():
            self._pos[tp] = start
            self._replay_below[tp] = start
        for cp in checkpoints:
            self.partition_of[cp.run_id] = cp.partition
            self.covered[cp.run_id] = dict(cp.offsets)
            if cp.state is None:
                self.over.add(cp.run_id)
            else:
                self.worker.runs[cp.run_id] = cp.state
                self.restored += 1
            for t, o in cp.offsets.items():
                tp = TopicPartition(t, cp.partition)
                if tp in self._pos and o < self._pos[tp]:
                    log.warning(
                        "run %s: checkpoint (generation %s) covers %s only up to %s, below the "
                        "commit %s: replaying the run from there",
                        cp.run_id,
                        cp.generation,
                        t,
                        o,
                        self._replay_below[tp],
                    )
                    self._pos[tp] = o
        for p in gained:
            for t in INPUT_TOPICS:
                tp = TopicPartition(t, p)
                self.transport.seek(tp, self._pos[tp])
                self._fresh.add(tp)
        log.info(
            "restored %s; input starts at %s",
            {r: self.covered[r] for r in self.covered if self.partition_of.get(r) in gained},
            {f"{t.topic}[{t.partition}]": o for t, o in self._pos.items() if t.partition in gained},
        )
        self.partitions |= gained
        # spread the partitions' checkpoints over the interval (one partition at a time)
        now, interval = self._clock(), self.cfg.checkpoint_interval_s
        for k, p in enumerate(sorted(self.partitions)):
            self._next_checkpoint[p] = now + interval * (k + 1) / len(self.partitions)
        log.info("partitions %s assigned", sorted(gained))

    def _read_checkpoints(self, partitions: set[int]) -> list[Checkpoint]:
        """The checkpoint of every run on ``partitions`` that covers the most input.

        Normally the latest; a tombstone forgets the run.
        """
        if not partitions:
            return []
        tps = [TopicPartition(CHECKPOINTS_TOPIC, p) for p in sorted(partitions)]
        self._reader.assign(tps)
        self._reader.seek_to_beginning(*tps)
        ends = self._reader.end_offsets(tps)
        latest: dict[str, tuple[bytes, str, int] | None] = {}
        blobs: dict[str, bytes] = {}
        while any(self._reader.position(tp) < ends[tp] for tp in tps):
            for tp, records in self._reader.poll(timeout_ms=500).items():
                for r in records:
                    key = r.key.decode("utf-8", errors="replace") if r.key else ""
                    if key.startswith(BLOB_PREFIX):
                        blobs[key[len(BLOB_PREFIX) :]] = r.value
                        self._blobs_on.setdefault(tp.partition, set()).add(key[len(BLOB_PREFIX) :])
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
