"""Run bookkeeping of a Kafka worker: what each run's state has seen, and what waits.

:class:`RunBook` hands a poll's records to the :class:`~synthwatch.stream.runtime.worker.Worker`
(which does the per-run work unchanged), and keeps, per run, what a checkpoint needs:

- ``covered``: per input topic, the first offset of the run's partition its state has not seen;
  a record below it (delivered again, or replayed after a restore) is skipped and counted;
- ``over``: the runs whose RunStop has gone through; a record of one that the worker no longer
  holds is dead-lettered with the reason;
- **Labels in event-time order.** The worker feeds a Label to the run-level models just before
  the run's first reading after the label's ``t``; the readings of a partition are ``held`` until
  its labels partition is read to the end (:meth:`RunBook.accept_readings`), so a new owner
  reading a backlog puts every label where the first owner did.
- **The collectors' dead letters.** A collector publishes each refused file on the dead-letter
  topic, keyed by its run (stream/cli/collect.py): co-partitioned with the run, so the worker
  that owns the run reads them too and hands them to its sinks (:meth:`Worker.keep_deadletter`:
  ``run <id>: <file name>``), neither counted nor published again. Its own dead-letter records
  (and other workers') have no ``source`` and are passed over: its sinks have them already.
  They need no run state: the partition's committed offset (with the input topics', after the
  sinks are flushed) is where a restart resumes, and the store keeps a dead letter once per
  (bytes, source, reason), so one read again after a crash is not stored twice.
- **RunStop after the readings.** The RunStop travels on ``synthwatch.runs``, the readings on
  their own topics, so a consumer may fetch the stop first. The collector flushes its readings
  before it sends the stop; a stop is ``deferred`` until the worker has read, on the run's
  partition, every reading and label topic and the dead-letter topic up to the end offsets it
  saw when the stop arrived (so a stopped run's refused files are in the store too).

A run's state goes in and out of the worker through its public methods only (``adopt_run``,
``drop_run``, ``has_run``, ``run_state``, ``deadletter``).
"""

from __future__ import annotations

import logging
from dataclasses import replace

from kafka import TopicPartition
from kafka.errors import KafkaError

from synthwatch.contract.messages import ContractError, RunStop, decode
from synthwatch.stream.runtime.checkpoint import Checkpoint
from synthwatch.stream.runtime.kafka_ownership import CONSUMED_TOPICS, Ownership
from synthwatch.stream.runtime.worker import RunState, Worker
from synthwatch.stream.transport.deadletters import decode_collector_deadletter
from synthwatch.stream.transport.kafka_topics import KafkaTransport
from synthwatch.stream.transport.memory import (
    DEADLETTER_TOPIC,
    INPUT_TOPICS,
    LABELS_TOPIC,
    RUNS_TOPIC,
    Record,
)

log = logging.getLogger(__name__)

READINGS_TOPICS = frozenset(t for t in INPUT_TOPICS if t not in (RUNS_TOPIC, LABELS_TOPIC))


class RunBook:
    """The runs of the partitions a Kafka worker owns (see the module docstring)."""

    def __init__(self, worker: Worker, transport: KafkaTransport, owner: Ownership) -> None:
        self.worker = worker
        self.transport = transport
        self.owner = owner
        self.covered: dict[str, dict[str, int]] = {}  # run → topic → first offset not in state
        self.over: set[str] = set()  # runs whose RunStop has gone through
        # run → its RunStop and the end offsets to read first (None: not asked yet)
        self.deferred: dict[str, tuple[Record, dict[TopicPartition, int] | None]] = {}
        # readings waiting for the labels of their partition to be read (see accept_readings)
        self.held: dict[int, list[Record]] = {}
        self.skipped = 0  # records a restored checkpoint (or the state) already covered
        self.refusals = 0  # collectors' dead letters handed to the sinks

    # -- records -------------------------------------------------------------------------------
    def take(self, records: list[Record]) -> None:
        """A poll's records of owned partitions; then release what no longer needs to wait."""
        for record in records:
            if record.topic in READINGS_TOPICS:
                self.held.setdefault(record.partition, []).append(record)
            else:
                self.accept(record)
        self.accept_readings()
        if self.deferred:
            self._ask_stop_targets()
            self._release_stops()

    def accept(self, record: Record) -> None:
        tp = TopicPartition(record.topic, record.partition)
        if record.offset < self.owner.pos.get(tp, 0):
            log.info("re-delivered %s[%s]@%s", record.topic, record.partition, record.offset)
            self.skipped += 1  # delivered again (the group reset us): already in our state
            return
        if record.topic == DEADLETTER_TOPIC:
            self._keep_refusal(record)
        else:
            self._handle(record)
        self.owner.pos[tp] = record.offset + 1

    def _keep_refusal(self, record: Record) -> None:
        """A dead-letter record: a collector's refused file goes to the sinks (module doc)."""
        found = decode_collector_deadletter(record.value)
        if found is None:
            return  # a worker's own (its sinks have it), or not a collector's record
        if not record.key:
            log.warning(
                "%s[%s]@%s: a collector's dead letter without a run id (key): not stored",
                record.topic,
                record.partition,
                record.offset,
            )
            return
        raw, reason, where = found
        self.worker.keep_deadletter(raw, reason, record.key, where)
        self.refusals += 1

    def accept_readings(self) -> None:
        """Hand over the readings of each partition whose labels have all been read.

        A Label goes to the run-level models in event-time order with the readings (the
        worker holds it until the first reading after its ``t``). So that a worker reading a
        backlog (after a takeover) puts a label where the first owner did, the readings of a
        partition wait until its labels partition is read up to the broker's end: a label is
        then never read after readings later than itself, whatever order the fetches come in.
        """
        for p in list(self.held):
            if self.transport.caught_up(TopicPartition(LABELS_TOPIC, p)):
                for record in self.held.pop(p):
                    self.accept(record)

    def _handle(self, record: Record) -> None:
        run_id = record.key
        covered = self.covered.get(run_id)
        if covered is not None and record.offset < covered.get(record.topic, 0):
            self.skipped += 1
            return
        if covered is None and record.offset < self.owner.replay_below.get(
            TopicPartition(record.topic, record.partition), 0
        ):
            # read again only for a run restored from an older checkpoint (see kafka_restore);
            # a run without one was finished, or is in a checkpoint that could not be decoded
            self.skipped += 1
            return
        if self.finished(run_id):
            raw = record.value if isinstance(record.value, bytes) else repr(record.value).encode()
            self.worker.deadletter(
                raw, f"{record.topic}@{record.offset}: run {run_id!r} has already stopped", run_id
            )
            return
        if run_id:
            self.owner.partition_of[run_id] = record.partition
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

    # -- held RunStops -------------------------------------------------------------------------
    def _ask_stop_targets(self) -> None:
        """The end offsets a held RunStop waits for: one request for a batch's stops.

        (A request to the broker takes tens of ms: one per stop stalled every record behind it.)
        """
        waiting = [r for r, (_, targets) in self.deferred.items() if targets is None]
        if not waiting:
            return
        parts = sorted({self.deferred[r][0].partition for r in waiting})
        tps = [TopicPartition(t, p) for p in parts for t in CONSUMED_TOPICS if t != RUNS_TOPIC]
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
                self.owner.pos.get(tp, 0) >= end for tp, end in targets.items()
            ):
                del self.deferred[run_id]
                self.worker.handle(record)
                self._covers(run_id, record)
                self.over.add(run_id)

    def held_stop(self, run_id: str) -> int | None:
        """The offset of the run's RunStop while it is held (None: none is)."""
        held = self.deferred.get(run_id)
        return None if held is None else held[0].offset

    # -- run states ----------------------------------------------------------------------------
    def finished(self, run_id: str) -> bool:
        """The run is over and its state is gone (checkpointed as over, or restored so)."""
        return run_id in self.over and not self.worker.has_run(run_id)

    def seen(self, run_id: str) -> dict[str, int]:
        """Per input topic, the first offset of the run's partition its state has not seen."""
        covered = self.covered.get(run_id, {})
        return {t: covered.get(t, 0) for t in INPUT_TOPICS}

    def state_to_checkpoint(self, run_id: str) -> RunState | None:
        """The state a checkpoint of the run holds: None once the run is over."""
        return None if run_id in self.over else self.worker.run_state(run_id)

    def checkpointed(self, run_id: str) -> None:
        """The run's checkpoint is written: the state of a run that is over goes (its records
        are skipped from now on)."""
        if run_id in self.over:
            self.worker.drop_run(run_id)

    def adopt(self, cp: Checkpoint) -> bool:
        """Install a restored checkpoint; whether it held a state (a run not over)."""
        self.owner.partition_of[cp.run_id] = cp.partition
        self.covered[cp.run_id] = dict(cp.offsets)
        if cp.state is None:
            self.over.add(cp.run_id)
            return False
        self.worker.adopt_run(cp.state)
        return True

    def forget(self, run_id: str) -> None:
        """Forget the run entirely (its partition went to another member, or it is done)."""
        self.owner.partition_of.pop(run_id, None)
        self.covered.pop(run_id, None)
        self.over.discard(run_id)
        self.deferred.pop(run_id, None)
        self.worker.drop_run(run_id)

    def forget_partitions(self, partitions: set[int]) -> None:
        """Forget the runs and held readings of ``partitions`` (revoked or lost)."""
        for run_id in self.owner.runs_on(partitions):
            self.forget(run_id)
        for p in partitions:
            self.held.pop(p, None)
