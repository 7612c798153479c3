"""The two races of the Kafka worker, against a real broker (scripts/services.sh start kafka).

(a) A member evicted from the group (a long pause) may write a checkpoint after the run's new
owner wrote a newer one: the late, older checkpoint must not lose the input between the two.
(b) Labels come on their own topic: after a takeover the new owner reads them interleaved with
the readings differently from the first owner; the estimates must not depend on it.

Both compare what the workers stored with an uninterrupted embedded run, point for point.
"""

from __future__ import annotations

import time

import pytest
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient
from kafka_helpers import (
    embedded_estimates,
    first_difference,
    fresh_topics,
    read_topic,
    run_status,
    stored_estimates,
)

from synthwatch.collectors.sim.scenarios import simulate
from synthwatch.collectors.sim.stober import StoberSimulator
from synthwatch.contract.config import load_config
from synthwatch.contract.messages import Label, Reading, RunStop
from synthwatch.stream.cli.collect import publish
from synthwatch.stream.runtime.alerting import registry_from_config
from synthwatch.stream.runtime.checkpoint import BLOB_PREFIX
from synthwatch.stream.runtime.kafka_worker import KafkaWorker
from synthwatch.stream.runtime.pipeline import Publisher
from synthwatch.stream.runtime.worker import Worker
from synthwatch.stream.store.embedded import Store
from synthwatch.stream.transport.kafka_topics import KafkaTransport, ensure_topics
from synthwatch.stream.transport.memory import CHECKPOINTS_TOPIC

pytestmark = pytest.mark.slow


def _registry():
    return registry_from_config(load_config(env={}, path=None))


def _node(cfg, store, registry, **kw) -> KafkaWorker:
    return KafkaWorker(
        cfg, lambda tr: Worker(tr, [store], model_factory=registry, publish=False), **kw
    )


def _step_until(node: KafkaWorker, predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s} s"
        node.step()


def _checkpoint_records(bootstrap: str, run_id: str):
    records = read_topic(bootstrap, CHECKPOINTS_TOPIC)
    return [r for r in records if r.key == run_id.encode()], [
        r for r in records if r.key.startswith(BLOB_PREFIX.encode())
    ]


def _resend(bootstrap: str, records) -> None:
    producer = KafkaProducer(
        bootstrap_servers=[bootstrap], acks="all", max_request_size=64 * 1024 * 1024
    )
    for r in records:
        producer.send(
            CHECKPOINTS_TOPIC, key=r.key, value=r.value, partition=r.partition, headers=r.headers
        )
    producer.flush()
    producer.close()


def _compact_to(cfg, bootstrap: str, records) -> None:
    """The checkpoints topic as compaction leaves it: only ``records`` (and the arrays)."""
    admin = KafkaAdminClient(bootstrap_servers=[bootstrap])
    try:
        admin.delete_topics([CHECKPOINTS_TOPIC])
        deadline = time.monotonic() + 30
        while CHECKPOINTS_TOPIC in admin.list_topics():
            assert time.monotonic() < deadline, "checkpoints topic not deleted within 30 s"
            time.sleep(0.2)
    finally:
        admin.close()
    deadline = time.monotonic() + 30
    while True:
        try:
            ensure_topics(cfg)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    _resend(bootstrap, records)


@pytest.mark.parametrize("compacted", [False, True], ids=["both-on-the-log", "compacted"])
def test_a_late_checkpoint_of_an_evicted_worker_loses_nothing(kafka_bootstrap, tmp_path, compacted):
    cfg = fresh_topics(kafka_bootstrap, partitions=1, checkpoint_interval_s=3600)
    registry = _registry()
    run_id = "zombie-1"
    sim = simulate("gold", seed=7, duration_s=180.0, interval_s=2.0, run_id=run_id)
    msgs = list(sim.messages())
    parts = [msgs[:30], msgs[30:60], msgs[60:]]
    want = embedded_estimates(msgs, tmp_path, [run_id], registry)
    path = tmp_path / "store.sqlite"
    producer = KafkaTransport(cfg)
    feed = Publisher(producer)
    with Store(path) as store:
        a = _node(cfg, store, registry)
        publish(parts[0], producer, publisher=feed)
        _step_until(a, lambda: a.worker.totals.received >= 30, 60, "A read the first part")
        a.checkpoint(set(a.partitions))
        (old,), blobs = _checkpoint_records(kafka_bootstrap, run_id)
        publish(parts[1], producer, publisher=feed)
        _step_until(a, lambda: a.worker.totals.received >= 60, 60, "A read the second part")
        a.close()  # its newer checkpoint, then its commit past the second part
        newer, _ = _checkpoint_records(kafka_bootstrap, run_id)
        assert len(newer) == 2 and newer[-1].offset > old.offset
        # A, evicted meanwhile, writes its older checkpoint late: it lands after the newer one
        if compacted:
            _compact_to(cfg, kafka_bootstrap, [*blobs, old])
        else:
            _resend(kafka_bootstrap, [old])
        b = _node(cfg, store, registry)
        publish(parts[2], producer, publisher=feed)
        producer.close()
        try:
            _step_until(b, lambda: run_status(path, run_id) == "success", 90, "run stopped")
        finally:
            b.close()
    assert b.restored == 1
    if compacted:  # only the older one is left: the run is replayed from it
        assert b.skipped < 30
    else:  # the newer one is chosen by the offsets it covers
        assert b.stale_checkpoints == 1
    got = stored_estimates(path, [run_id])
    assert got == want, first_difference(got[run_id], want[run_id])
    with Store(path, readonly=True) as store:
        assert store.run(run_id).n_readings == sum(isinstance(m, Reading) for m in msgs)


def _silica_run(run_id: str) -> list:
    sim = StoberSimulator(
        seed=4,
        duration_s=4 * 3600.0,
        interval_s=120.0,
        run_id=run_id,
        label_every_s=900.0,
        label_delay_s=600.0,
        label_delay_jitter_s=300.0,
    )
    return list(sim.messages())


def test_labels_read_in_another_order_after_a_takeover_give_the_same_estimates(
    kafka_bootstrap, tmp_path
):
    cfg = fresh_topics(kafka_bootstrap, partitions=1, checkpoint_interval_s=3600)
    registry = _registry()
    run_id = "labels-1"
    msgs = _silica_run(run_id)
    labels = [m for m in msgs if isinstance(m, Label)]
    assert len(labels) >= 8
    want = embedded_estimates(msgs, tmp_path, [run_id], registry)
    assert any(e.model == "size_calibration" for e in want[run_id])  # the labels matter
    half = len(msgs) // 2
    producer = KafkaTransport(cfg)
    feed = Publisher(producer)
    path = tmp_path / "store.sqlite"
    with Store(path) as store:
        # A reads the first half as it is published (labels and readings in event-time order)
        a = _node(cfg, store, registry)
        _step_until(a, lambda: a.partitions, 30, "A joined the group")
        for m in msgs[:half]:
            publish([m], producer, publisher=feed)
            a.step(timeout_ms=50)
        _step_until(a, lambda: a.worker.totals.received >= half, 60, "A read the first half")
        a.checkpoint(set(a.partitions))
        a._reader.close()
        a.transport.close()  # leaves without a last checkpoint: the next owner replays
        # the rest lands while no one owns the run: the readings first, the labels after
        # them (a collector of readings and a lab system of labels, each with its own lag)
        rest = msgs[half:]
        publish([m for m in rest if not isinstance(m, (Label, RunStop))], producer, publisher=feed)
        publish([m for m in rest if isinstance(m, Label)], producer, publisher=feed)
        publish([m for m in rest if isinstance(m, RunStop)], producer, publisher=feed)
        producer.close()
        # B takes over with small polls: it is handed the readings backlog before the labels
        b = _node(cfg, store, registry, max_batch=5)
        try:
            _step_until(b, lambda: run_status(path, run_id) == "success", 120, "run stopped")
        finally:
            b.close()
    assert b.restored == 1
    got = stored_estimates(path, [run_id])
    assert got == want, first_difference(got[run_id], want[run_id])
