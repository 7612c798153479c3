"""The worker: one :class:`RunState` per run, every message through the run's models.

The worker polls a transport, decodes each record with the contract's codec, and routes it to the
state of its run. Readings of a sensor pass through a small reorder buffer so that the models see
them in event-time order; duplicates (same sensor, same seq) are counted and dropped; readings
that arrive after later ones have already gone through the models are dead-lettered with the
reason, and so is every record that fails validation. Nothing is dropped silently: every path
ends in a sink, the dead-letter topic, or a counter reported in the run's ``pipeline_health``
estimate. A model that raises has the reading dead-lettered with the error and the run goes on;
a sink that raises :class:`~synthwatch.stream.sinks.base.BackPressure` pauses the worker for its
``retry_after`` and is offered the same message again.

Besides the per-sensor models, a run has run-level models (built once from its RunStart by the
``run_model_factory``, e.g. the size calibration of a silica run): they are fed every estimate
of the run's sensor models, in the order they are emitted, and every Label of the run (a
reference measurement that arrives hours after its sample). Their own estimates are emitted like
the others, but not fed back to them.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections import deque
from dataclasses import dataclass, field, fields
from typing import Callable, Iterable, Sequence

from synthwatch.contract.messages import (
    HEALTH_COUNTERS,
    MESSAGE_TYPES,
    Alert,
    ContractError,
    Descriptor,
    Estimate,
    Label,
    Message,
    Quantity,
    Reading,
    RunStart,
    RunStop,
    decode,
    encode,
)
from synthwatch.models.base import Model
from synthwatch.stream.runtime.registry import ModelSet, models_for
from synthwatch.stream.sinks.base import BackPressure, Sink
from synthwatch.stream.store.query import run_source
from synthwatch.stream.transport.deadletters import encode_deadletter
from synthwatch.stream.transport.memory import (
    ALERTS_TOPIC,
    DEADLETTER_TOPIC,
    ESTIMATES_TOPIC,
    INPUT_TOPICS,
    Record,
    Transport,
)

log = logging.getLogger(__name__)

#: Seqs remembered per sensor to tell a duplicate from a late reading.
SEEN_SEQS = 4096
#: Readings held per run while their sensor has no Descriptor yet.
MAX_PENDING = 10_000


@dataclass
class Counters:
    """What happened to the messages of a run (reported as its ``pipeline_health``)."""

    received: int = 0
    processed: int = 0
    duplicates: int = 0
    late: int = 0
    deadlettered: int = 0
    flagged: int = 0
    estimates: int = 0
    alerts: int = 0
    model_errors: int = 0

    def add(self, other: Counters) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass
class SensorState:
    """Reorder buffer and seq bookkeeping of one sensor."""

    descriptor: Descriptor
    models: ModelSet
    heap: list[tuple[float, int, Reading]] = field(default_factory=list)
    buffered: set[int] = field(default_factory=set)
    seen: deque[int] = field(default_factory=lambda: deque(maxlen=SEEN_SEQS))
    seen_set: set[int] = field(default_factory=set)
    max_t: float = float("-inf")
    released_t: float = float("-inf")

    def remember(self, seq: int) -> None:
        if len(self.seen) == self.seen.maxlen:
            self.seen_set.discard(self.seen[0])
        self.seen.append(seq)
        self.seen_set.add(seq)


@dataclass
class RunState:
    """Everything the worker holds for one run."""

    run_id: str
    start: RunStart | None = None
    stop: RunStop | None = None
    sensors: dict[str, SensorState] = field(default_factory=dict)
    pending: list[Reading] = field(default_factory=list)
    counters: Counters = field(default_factory=Counters)
    run_models: list[Model] = field(default_factory=list)
    #: Labels waiting for the first reading after their event time: (t, arrival, label)
    labels: list[tuple[float, int, Label]] = field(default_factory=list)
    labels_seen: int = 0
    #: event time of the latest reading that went through the models
    clock_t: float = float("-inf")


ModelFactory = Callable[[RunStart | None, Descriptor], ModelSet]
#: The run-level models of a run, from its RunStart.
RunModelFactory = Callable[[RunStart], list[Model]]


def no_run_models(start: RunStart) -> list[Model]:
    """The run-level factory of a model factory that has none."""
    return []


class Worker:
    """Runs the models of every run it sees and hands the results to the sinks.

    ``reorder_window_s`` is how long (in event time) a reading waits for earlier ones that are
    still in flight; 0 sends each reading through the models as soon as it arrives.
    ``run_model_factory`` builds a run's run-level models from its RunStart; by default the
    ``run_models`` method of ``model_factory`` if it has one, else none.
    """

    def __init__(
        self,
        transport: Transport,
        sinks: Sequence[Sink],
        *,
        reorder_window_s: float = 2.0,
        model_factory: ModelFactory = models_for,
        publish: bool = True,
        run_model_factory: RunModelFactory | None = None,
    ):
        if reorder_window_s < 0:
            raise ValueError(f"reorder_window_s: expected >= 0 s, got {reorder_window_s}")
        self.transport = transport
        self.sinks = list(sinks)
        self.reorder_window_s = reorder_window_s
        self.model_factory = model_factory
        if run_model_factory is None:
            run_model_factory = getattr(model_factory, "run_models", no_run_models)
        self.run_model_factory = run_model_factory
        self.publish = publish
        self.runs: dict[str, RunState] = {}
        self.totals = Counters()
        self._listeners: list[Callable[[Message], None]] = []
        self._sleep: Callable[[float], None] = time.sleep

    # -- feeding ---------------------------------------------------------------------------
    def poll(self, max_records: int = 500, topics: Iterable[str] = INPUT_TOPICS) -> int:
        """Handle up to ``max_records`` records from the transport; returns how many."""
        records = self.transport.poll(topics, max_records)
        for record in records:
            self.handle(record)
        return len(records)

    def drain(self) -> int:
        """Poll until the transport has nothing more; returns the records handled."""
        total = 0
        while n := self.poll():
            total += n
        return total

    def on_output(self, listener: Callable[[Message], None]) -> None:
        """Call ``listener`` with every estimate and alert (the live view uses it)."""
        self._listeners.append(listener)

    def handle(self, record: Record) -> None:
        """Decode one record and route it; a bad one is dead-lettered with the reason."""
        value = record.value
        if isinstance(value, (bytes, bytearray, str)):
            try:
                msg = decode(value)
            except ContractError as err:
                raw = value.encode() if isinstance(value, str) else bytes(value)
                self.deadletter(raw, f"{record.topic}@{record.offset}: {err}", record.key)
                return
        elif isinstance(value, MESSAGE_TYPES):
            msg = value  # an in-process transport hands over frozen, validated messages
        else:
            self.deadletter(
                repr(value).encode(),
                f"{record.topic}@{record.offset}: expected JSON bytes or a contract message, "
                f"got {type(value).__name__}",
                record.key,
            )
            return
        if msg.run_id != record.key:
            self.deadletter(
                encode(msg),
                f"{record.topic}@{record.offset}: key {record.key!r} differs from "
                f"run_id {msg.run_id!r}",
                record.key,
            )
            return
        self.handle_message(msg)

    def handle_message(self, msg: Message) -> None:
        """Route one decoded message to its run."""
        state = self.runs.get(msg.run_id)
        if state is None:
            state = self.runs[msg.run_id] = RunState(msg.run_id)
        state.counters.received += 1
        self.totals.received += 1
        if isinstance(msg, Reading):
            self._on_reading(state, msg)
        elif isinstance(msg, Descriptor):
            self._on_descriptor(state, msg)
        elif isinstance(msg, RunStart):
            if state.start is None:
                state.run_models = list(self.run_model_factory(msg))
            state.start = msg
            self._sink(msg)
        elif isinstance(msg, RunStop):
            self._on_stop(state, msg)
        elif isinstance(msg, Label):
            self._sink(msg)
            self._on_label(state, msg)
        else:  # Estimate or Alert on an input topic: not the worker's to recompute
            self.deadletter(
                encode(msg), f"{type(msg).__name__} is output, not input of the worker", msg.run_id
            )

    # -- run states ------------------------------------------------------------------------
    # A Kafka worker (stream/runtime/kafka_worker.py) hands runs over between workers: these are
    # the only ways in and out of ``runs`` from outside this module.
    def has_run(self, run_id: str) -> bool:
        """Whether the worker holds a state for ``run_id``."""
        return run_id in self.runs

    def run_state(self, run_id: str) -> RunState | None:
        """The state of ``run_id``'s run (None: the worker holds none)."""
        return self.runs.get(run_id)

    def adopt_run(self, state: RunState) -> None:
        """Take over a run's state (restored from a checkpoint): its records go on from it."""
        self.runs[state.run_id] = state

    def drop_run(self, run_id: str) -> RunState | None:
        """Forget a run's state (its partition went to another worker, or the run is over and
        checkpointed); returns it, or None if the worker held none."""
        return self.runs.pop(run_id, None)

    # -- run documents ---------------------------------------------------------------------
    def _on_descriptor(self, state: RunState, desc: Descriptor) -> None:
        if desc.sensor_id in state.sensors:
            if state.sensors[desc.sensor_id].descriptor != desc:
                self.deadletter(
                    encode(desc),
                    f"second, different Descriptor for sensor {desc.sensor_id!r}: a sensor's "
                    "axis and units are fixed for the run",
                    state.run_id,
                )
            return
        try:
            models = self.model_factory(state.start, desc)
        except Exception as err:  # noqa: BLE001 - a sensor whose models fail to build is archived
            state.counters.model_errors += 1
            self.totals.model_errors += 1
            self.deadletter(
                encode(desc),
                f"models of sensor {desc.sensor_id!r} cannot be built ({type(err).__name__}: "
                f"{err}); its readings are archived without estimates",
                state.run_id,
            )
            models = ModelSet()
        state.sensors[desc.sensor_id] = SensorState(desc, models)
        self._sink(desc)
        waiting, state.pending = state.pending, []
        for reading in waiting:
            self._on_reading(state, reading)

    def _on_label(self, state: RunState, label: Label) -> None:
        """A Label goes to the run-level models just before the first reading after its ``t``.

        So the order in which the run-level models see labels and estimates follows event
        time, not the order in which two topics happened to be read (which differs when
        another worker replays the run). A label whose readings went through already (it came
        later than the reorder window allowed) goes to them at once.
        """
        t = label.t.timestamp()
        if t < state.clock_t:
            self._feed_run_models(state, label)
            return
        state.labels_seen += 1
        heapq.heappush(state.labels, (t, state.labels_seen, label))

    def _release_labels(self, state: RunState, before_t: float) -> None:
        while state.labels and state.labels[0][0] < before_t:
            self._feed_run_models(state, heapq.heappop(state.labels)[2])

    def _on_stop(self, state: RunState, stop: RunStop) -> None:
        for sensor in state.sensors.values():
            self._release(state, sensor, float("inf"))
        self._release_labels(state, float("inf"))
        for reading in state.pending:
            self.deadletter(
                encode(reading),
                f"no Descriptor for sensor {reading.sensor_id!r} before the run stopped",
                state.run_id,
            )
        state.pending = []
        state.stop = stop
        self._emit(state, self._health(state, stop))
        self._sink(stop)
        self.flush()

    # -- readings --------------------------------------------------------------------------
    def _on_reading(self, state: RunState, reading: Reading) -> None:
        sensor = state.sensors.get(reading.sensor_id)
        if sensor is None:
            if len(state.pending) >= MAX_PENDING:
                self.deadletter(
                    encode(reading),
                    f"no Descriptor for sensor {reading.sensor_id!r} after {MAX_PENDING} readings",
                    state.run_id,
                )
            else:
                state.pending.append(reading)
            return
        seq = reading.seq
        if seq in sensor.buffered or seq in sensor.seen_set:
            state.counters.duplicates += 1
            self.totals.duplicates += 1
            return
        t = reading.t.timestamp()
        if t < sensor.released_t:
            state.counters.late += 1
            self.totals.late += 1
            self.deadletter(
                encode(reading),
                f"late reading: sensor {reading.sensor_id!r} seq {seq} at {reading.t.isoformat()} "
                f"arrived after readings up to "
                f"{sensor.released_t - t:.3f} s later had gone through the models "
                f"(reorder window {self.reorder_window_s} s)",
                state.run_id,
            )
            return
        heapq.heappush(sensor.heap, (t, seq, reading))
        sensor.buffered.add(seq)
        sensor.max_t = max(sensor.max_t, t)
        self._release(state, sensor, sensor.max_t - self.reorder_window_s)

    def _release(self, state: RunState, sensor: SensorState, up_to_t: float) -> None:
        heap = sensor.heap
        while heap and heap[0][0] <= up_to_t:
            t, seq, reading = heapq.heappop(heap)
            sensor.buffered.discard(seq)
            sensor.remember(seq)
            sensor.released_t = t
            self._process(state, sensor, reading)

    def _process(self, state: RunState, sensor: SensorState, reading: Reading) -> None:
        t = reading.t.timestamp()
        self._release_labels(state, t)
        state.clock_t = max(state.clock_t, t)
        self._sink(reading)
        state.counters.processed += 1
        self.totals.processed += 1
        for model in sensor.models.estimators:
            try:
                model.update(reading)
                est = model.estimate
            except Exception as err:  # noqa: BLE001 - one model's bug must not stop the run
                self._model_failed(state, model, reading, err)
                continue
            if est is None:
                continue
            if est.flags:
                state.counters.flagged += 1
                self.totals.flagged += 1
            self._emit(state, est)
            self._feed_run_models(state, est)
            for rule in sensor.models.rules:
                try:
                    rule.update(est)
                    alerts = rule.alerts
                except Exception as err:  # noqa: BLE001 - as above
                    self._model_failed(state, rule, reading, err)
                    continue
                for alert in alerts:
                    self._emit(state, alert)

    def _feed_run_models(self, state: RunState, msg: Estimate | Label, start: int = 0) -> None:
        """Feed a sensor model's estimate or a Label to the run-level models; emit their output.

        A run-level model's output goes on to the run-level models after it (the kinetics'
        conversion to the golden batch, say), never back to itself or those before it.
        """
        for k in range(start, len(state.run_models)):
            model = state.run_models[k]
            try:
                model.update(msg)
                out = model.estimate
                alerts = getattr(model, "alerts", None) or ()
            except Exception as err:  # noqa: BLE001 - one model's bug must not stop the run
                self._model_failed(state, model, msg, err)
                continue
            for alert in alerts:
                self._emit(state, alert)
            if out is not None:
                if out.flags:
                    state.counters.flagged += 1
                    self.totals.flagged += 1
                self._emit(state, out)
                self._feed_run_models(state, out, k + 1)

    def _model_failed(
        self, state: RunState, model, msg: Reading | Estimate | Label, err: Exception
    ) -> None:
        """A model raised: its input is dead-lettered with the reason, the run goes on."""
        log.error("model %s failed on run %s", model.name, state.run_id, exc_info=err)
        state.counters.model_errors += 1
        self.totals.model_errors += 1
        if isinstance(msg, Reading):
            what = f"sensor {msg.sensor_id!r} seq {msg.seq}"
        elif isinstance(msg, Estimate):
            what = f"estimate of {msg.model} for sensor {msg.sensor_id!r} seq {msg.seq}"
        else:
            what = f"label {msg.quantity!r} of sample {msg.sample_t.isoformat()}"
        self.deadletter(
            encode(msg),
            f"model {model.name} {model.version} failed on {what}: {type(err).__name__}: {err}",
            state.run_id,
        )

    # -- output ----------------------------------------------------------------------------
    def _emit(self, state: RunState, msg: Estimate | Alert) -> None:
        if isinstance(msg, Estimate):
            state.counters.estimates += 1
            self.totals.estimates += 1
            topic = ESTIMATES_TOPIC
        else:
            state.counters.alerts += 1
            self.totals.alerts += 1
            topic = ALERTS_TOPIC
        self._sink(msg)
        if self.publish:
            self.transport.send_message(topic, msg.run_id, msg)
        for listener in self._listeners:
            listener(msg)

    def _health(self, state: RunState, stop: RunStop) -> Estimate:
        c = state.counters
        return Estimate(
            run_id=state.run_id,
            t=stop.t,
            sensor_id="worker",
            model="worker",
            model_version="1",
            measurement="pipeline_health",
            quantities=[
                Quantity(name=f"{n}_count", value=float(getattr(c, n)), units="1")
                for n in HEALTH_COUNTERS
            ],
        )

    def _sink(self, msg: Message) -> None:
        for sink in self.sinks:
            while True:
                try:
                    sink.add(msg)
                    break
                except BackPressure as busy:
                    # the sink did not take it: pause the input, then offer the same message
                    log.warning("%s: %s", type(sink).__name__, busy)
                    self._sleep(busy.retry_after)

    def deadletter(self, raw: bytes, reason: str, run_id: str | None) -> None:
        """Send ``raw`` to the dead-letter topic and the sinks with ``reason``; count it (for
        ``run_id``'s run too, when the worker holds it)."""
        log.warning("dead-lettered: %s", reason)
        self.totals.deadlettered += 1
        if run_id is not None and run_id in self.runs:
            self.runs[run_id].counters.deadlettered += 1
        self.transport.send(DEADLETTER_TOPIC, run_id or "", encode_deadletter(raw, reason))
        if run_id:
            self.keep_deadletter(raw, reason, run_id, "worker")
        else:
            for sink in self.sinks:
                sink.add_deadletter(raw, reason, source="worker")

    def keep_deadletter(self, raw: bytes, reason: str, run_id: str, where: str) -> None:
        """Hand the sinks a dead letter that someone else published for ``run_id``'s run (a
        collector's refused file, ``where`` its name), under :func:`run_source`.

        Not counted (the run's ``pipeline_health`` counts the worker's own dead letters; ``show``
        adds the others) and not published again (it came from the dead-letter topic).
        """
        for sink in self.sinks:
            sink.add_deadletter(raw, reason, source=run_source(run_id, where))

    def flush(self) -> None:
        """Make everything handed to the sinks durable."""
        self.transport.flush()
        for sink in self.sinks:
            sink.flush()
