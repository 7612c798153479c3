"""The worker: one RunState per run, event-time order per sensor, duplicates and late readings
counted, bad records dead-lettered, nothing lost silently."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from worker_doubles import Echo, ListSink

from synthwatch.contract import messages as c
from synthwatch.models.base import Model
from synthwatch.stream.runtime.pipeline import Publisher
from synthwatch.stream.runtime.registry import ModelSet
from synthwatch.stream.runtime.worker import Worker
from synthwatch.stream.sinks.base import BackPressure
from synthwatch.stream.transport.memory import DEADLETTER_TOPIC, MemoryTransport, readings_topic

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)


def make_worker(window: float = 2.0, serialize: bool = False):
    transport = MemoryTransport(serialize=serialize)
    sink = ListSink()
    models: dict[tuple[str, str], Echo] = {}

    def factory(start, desc):
        m = models[(desc.run_id, desc.sensor_id)] = Echo(desc.sensor_id)
        return ModelSet(estimators=[m])

    worker = Worker(transport, [sink], reorder_window_s=window, model_factory=factory)
    return transport, worker, sink, models


def run_docs(run_id="r1", sensors=("uv1",)):
    start = c.RunStart(run_id=run_id, t=T0, reactor="R1", system="Au-citrate")
    descs = [
        c.Descriptor(
            run_id=run_id,
            t=T0,
            sensor_id=s,
            kind="uvvis",
            axis=[400.0 + i for i in range(8)],
            axis_units="nm",
            value_units="AU",
            path_length_cm=1.0,
        )
        for s in sensors
    ]
    return start, descs


def reading(seq, run_id="r1", sensor="uv1", value=None, dt=2.0):
    return c.Reading(
        run_id=run_id,
        t=T0 + timedelta(seconds=dt * seq),
        sensor_id=sensor,
        seq=seq,
        values=[float(seq if value is None else value)] * 8,
    )


def stop(run_id="r1", seq_end=100):
    return c.RunStop(run_id=run_id, t=T0 + timedelta(seconds=2 * seq_end + 1), status="success")


_publishers: dict[int, Publisher] = {}


def feed(transport, worker, msgs):
    pub = _publishers.setdefault(id(transport), Publisher(transport))
    for m in msgs:
        pub.send(m)
        worker.poll()


def test_in_order_run_goes_through_models_and_sinks():
    transport, worker, sink, models = make_worker()
    start, descs = run_docs()
    feed(transport, worker, [start, *descs, *(reading(i) for i in range(10)), stop()])
    assert models[("r1", "uv1")]._seen == list(range(10))
    assert [e.seq for e in sink.of(c.Estimate) if e.measurement == "echo"] == list(range(10))
    assert len(sink.of(c.Reading)) == 10
    health = [e for e in sink.of(c.Estimate) if e.measurement == "pipeline_health"][0]
    assert health.get("processed_count").value == 10
    assert health.get("duplicates_count").value == 0
    assert sink.flushes >= 1
    assert worker.runs["r1"].stop is not None


def test_out_of_order_within_window_is_reordered():
    transport, worker, sink, models = make_worker(window=10.0)
    start, descs = run_docs()
    order = [0, 2, 1, 3, 5, 4, 6, 7, 9, 8]
    feed(transport, worker, [start, *descs, *(reading(i) for i in order), stop()])
    assert models[("r1", "uv1")]._seen == list(range(10))
    assert worker.runs["r1"].counters.late == 0


def test_duplicates_are_counted_not_processed_twice():
    transport, worker, sink, models = make_worker(window=0.0)
    start, descs = run_docs()
    msgs = [
        start,
        *descs,
        reading(0),
        reading(1),
        reading(1),
        reading(0),
        reading(2),
        reading(2),
        stop(),
    ]
    feed(transport, worker, msgs)
    assert models[("r1", "uv1")]._seen == [0, 1, 2]
    counters = worker.runs["r1"].counters
    assert counters.duplicates == 3
    health = [e for e in sink.of(c.Estimate) if e.measurement == "pipeline_health"][0]
    assert health.get("duplicates_count").value == 3


def test_late_reading_is_deadlettered_with_reason():
    transport, worker, sink, models = make_worker(window=2.0)
    start, descs = run_docs()
    feed(
        transport,
        worker,
        [start, *descs, *(reading(i) for i in (0, 1, 2, 5, 6, 7)), reading(3), stop()],
    )
    assert models[("r1", "uv1")]._seen == [0, 1, 2, 5, 6, 7]
    assert worker.runs["r1"].counters.late == 1
    ((raw, reason),) = sink.deadletters
    assert "late reading" in reason and "seq 3" in reason
    assert c.decode(raw).seq == 3
    dl = transport.records(DEADLETTER_TOPIC)
    assert len(dl) == 1 and "late reading" in json.loads(dl[0].value)["reason"]


def test_poison_records_are_deadlettered_and_the_run_goes_on():
    transport, worker, sink, models = make_worker(window=0.0)
    start, descs = run_docs()
    feed(transport, worker, [start, *descs, reading(0)])
    topic = readings_topic("uvvis")
    transport.send(topic, "r1", b"{not json")
    transport.send(topic, "r1", c.encode(reading(1)).replace(b"reading/1", b"reading/7"))
    transport.send(topic, "other", c.encode(reading(2)))  # key differs from run_id
    worker.poll()
    feed(transport, worker, [reading(3), stop()])
    assert models[("r1", "uv1")]._seen == [0, 3]
    reasons = [r for _, r in sink.deadletters]
    assert len(reasons) == 3
    assert "not valid JSON" in reasons[0]
    assert "synthwatch.reading/7" in reasons[1]
    assert "differs from run_id" in reasons[2]
    assert len(transport.records(DEADLETTER_TOPIC)) == 3
    assert worker.totals.deadlettered == 3


def test_readings_before_descriptor_wait_for_it():
    transport, worker, sink, models = make_worker(window=0.0)
    start, descs = run_docs()
    for m in [start, reading(0), reading(1)]:
        topic = readings_topic("uvvis") if isinstance(m, c.Reading) else "synthwatch.runs"
        transport.send(topic, "r1", c.encode(m))
    worker.poll()
    assert models == {}
    feed(transport, worker, [*descs, reading(2), stop()])
    assert models[("r1", "uv1")]._seen == [0, 1, 2]


def test_readings_of_an_undescribed_sensor_are_deadlettered_at_stop():
    transport, worker, sink, models = make_worker(window=0.0)
    start, descs = run_docs()
    transport.send(readings_topic("uvvis"), "r1", c.encode(reading(0, sensor="ghost")))
    feed(transport, worker, [start, *descs, stop()])
    assert any("no Descriptor for sensor 'ghost'" in r for _, r in sink.deadletters)


def test_runs_are_kept_apart():
    transport, worker, sink, models = make_worker(window=0.0)
    a, da = run_docs("ra")
    b, db = run_docs("rb")
    msgs = [a, *da, b, *db]
    for i in range(5):
        msgs += [reading(i, run_id="ra", value=1.0), reading(i, run_id="rb", value=2.0)]
    feed(transport, worker, msgs + [stop("ra"), stop("rb")])
    assert set(worker.runs) == {"ra", "rb"}
    assert models[("ra", "uv1")]._seen == models[("rb", "uv1")]._seen == list(range(5))
    for run_id, value in (("ra", 1.0), ("rb", 2.0)):
        ests = [e for e in sink.of(c.Estimate) if e.run_id == run_id and e.measurement == "echo"]
        assert {e.get("x_au").value for e in ests} == {value}


@settings(max_examples=60, deadline=None)
@given(
    st.permutations(list(range(30))),
    st.lists(st.integers(0, 29), max_size=10),
    st.integers(0, 2**32 - 1),
)
def test_any_arrival_order_within_the_window_gives_event_time_order(perm, dups, seed):
    """With a window wider than the run, any shuffle with duplicates is fully reordered."""
    transport, worker, sink, models = make_worker(window=1000.0)
    start, descs = run_docs()
    arrivals = list(perm) + list(dups)
    random.Random(seed).shuffle(arrivals)
    feed(transport, worker, [start, *descs, *(reading(i) for i in arrivals), stop()])
    assert models[("r1", "uv1")]._seen == list(range(30))
    counters = worker.runs["r1"].counters
    assert counters.duplicates == len(dups)
    assert counters.processed == 30
    assert counters.received == 2 + 30 + len(dups) + 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=60), st.floats(0, 20))
def test_every_reading_is_accounted_for(arrivals, window):
    """processed + duplicates + late == readings received, whatever the order and window."""
    transport, worker, sink, models = make_worker(window=window)
    start, descs = run_docs()
    feed(transport, worker, [start, *descs, *(reading(i) for i in arrivals), stop()])
    k = worker.runs["r1"].counters
    assert k.processed + k.duplicates + k.late == len(arrivals)
    assert k.processed == len(set(models[("r1", "uv1")]._seen))
    seen = models[("r1", "uv1")]._seen
    assert seen == sorted(seen)
    assert len(sink.deadletters) == k.late


@pytest.mark.parametrize("serialize", [False, True])
def test_objects_and_wire_bytes_give_the_same_run(serialize):
    """In memory the transport hands over messages; serialize=True sends JSON like Kafka."""
    transport, worker, sink, models = make_worker(window=4.0, serialize=serialize)
    start, descs = run_docs()
    feed(transport, worker, [start, *descs, *(reading(i) for i in (0, 2, 1, 3, 3)), stop()])
    kinds = {type(r.value) for r in transport.records("synthwatch.runs")}
    assert kinds == ({bytes} if serialize else {c.RunStart, c.Descriptor, c.RunStop})
    assert models[("r1", "uv1")]._seen == [0, 1, 2, 3]
    assert worker.runs["r1"].counters.duplicates == 1
    echo = [c.encode(e) for e in sink.of(c.Estimate) if e.measurement == "echo"]
    assert echo == [c.encode(e) for e in _reference_estimates() if e.measurement == "echo"]


def _reference_estimates():
    transport, worker, sink, models = make_worker(window=4.0, serialize=True)
    start, descs = run_docs()
    feed(transport, worker, [start, *descs, *(reading(i) for i in range(4)), stop()])
    return sink.of(c.Estimate)


def test_something_that_is_not_a_message_is_deadlettered():
    transport, worker, sink, models = make_worker(window=0.0)
    transport.send(readings_topic("uvvis"), "r1", {"values": [1, 2]})
    worker.poll()
    ((raw, reason),) = sink.deadletters
    assert "expected JSON bytes or a contract message, got dict" in reason


class Broken(Model):
    """Test model that fails on odd seqs."""

    name = "broken"
    version = "1"

    def __init__(self):
        self._last = None

    def update(self, reading):
        if reading.seq % 2:
            raise ZeroDivisionError("odd seq")
        self._last = Echo().update(reading)

    @property
    def estimate(self):
        return None


def test_a_failing_model_deadletters_the_reading_and_the_run_goes_on():
    transport = MemoryTransport()
    sink = ListSink()
    echo = {}

    def factory(start, desc):
        echo["m"] = Echo(desc.sensor_id)
        return ModelSet(estimators=[Broken(), echo["m"]])

    worker = Worker(transport, [sink], reorder_window_s=0.0, model_factory=factory)
    start, descs = run_docs()
    feed(transport, worker, [start, *descs, *(reading(i) for i in range(4)), stop()])
    assert echo["m"]._seen == [0, 1, 2, 3]  # the other model still saw every reading
    reasons = [r for _, r in sink.deadletters]
    assert len(reasons) == 2
    assert "model broken 1 failed on sensor 'uv1' seq 1: ZeroDivisionError: odd seq" in reasons[0]
    health = [e for e in sink.of(c.Estimate) if e.measurement == "pipeline_health"][0]
    assert health.get("model_errors_count").value == 2


class Busy(ListSink):
    """A sink that asks for a pause on every third message, twice in a row."""

    def __init__(self):
        super().__init__()
        self.refusals = 0
        self.offers = 0

    def add(self, message):
        self.offers += 1
        if self.offers % 3 == 0 and self.refusals < 2 * (self.offers // 3):
            self.refusals += 1
            self.offers -= 1
            raise BackPressure(0.25, "spool full")
        super().add(message)


def test_back_pressure_pauses_and_offers_the_same_message_again():
    transport = MemoryTransport()
    busy = Busy()
    worker = Worker(transport, [busy], reorder_window_s=0.0, model_factory=lambda s, d: ModelSet())
    pauses = []
    worker._sleep = pauses.append
    start, descs = run_docs()
    msgs = [start, *descs, *(reading(i) for i in range(6)), stop()]
    feed(transport, worker, msgs)
    stored = [m for m in busy.messages if not isinstance(m, c.Estimate)]
    assert stored == msgs  # nothing lost, nothing doubled, order kept
    assert pauses and set(pauses) == {0.25}
    assert len(pauses) == busy.refusals
