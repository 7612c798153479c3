"""Collector → Kafka → worker → store against a real broker (scripts/services.sh start kafka).

Every test starts from freshly created topics and a consumer group of its own, and compares what
the workers stored with an uninterrupted embedded run of the same seed, point for point.
"""

from __future__ import annotations

import heapq
import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback

import pytest
from kafka import KafkaProducer
from kafka.partitioner.default import murmur2
from kafka_helpers import (
    embedded_estimates,
    first_difference,
    fresh_topics,
    read_topic,
    run_status,
    stored_estimates,
)

from synthwatch.collectors.sim.scenarios import simulate
from synthwatch.contract.config import load_config
from synthwatch.contract.messages import Reading, encode
from synthwatch.stream.cli.collect import publish
from synthwatch.stream.runtime.alerting import registry_from_config
from synthwatch.stream.runtime.kafka_worker import KafkaWorker
from synthwatch.stream.runtime.pipeline import Publisher
from synthwatch.stream.runtime.worker import Worker
from synthwatch.stream.store.embedded import Store
from synthwatch.stream.transport.kafka_topics import KafkaTransport
from synthwatch.stream.transport.memory import (
    CHECKPOINTS_TOPIC,
    DEADLETTER_TOPIC,
    RUNS_TOPIC,
    readings_topic,
)

pytestmark = pytest.mark.slow


def _messages(run_id: str, seed: int, n: int):
    return simulate("gold", seed=seed, duration_s=2.0 * n, interval_s=2.0, run_id=run_id)


def _registry():
    return registry_from_config(load_config(env={}, path=None))


def _wait(predicate, timeout_s: float, what: str, step=None) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s} s"
        if step is not None:
            step()
        else:
            time.sleep(0.2)


def _node(cfg, store, registry) -> KafkaWorker:
    return KafkaWorker(cfg, lambda tr: Worker(tr, [store], model_factory=registry, publish=False))


def test_simulated_run_end_to_end(kafka_bootstrap, tmp_path):
    cfg = fresh_topics(kafka_bootstrap)
    registry = _registry()
    sim = _messages("e2e-1", seed=3, n=40)
    producer = KafkaTransport(cfg)
    assert publish(sim.messages(), producer) == 43
    producer.close()
    path = tmp_path / "store.sqlite"
    with Store(path) as store:
        node = _node(cfg, store, registry)
        try:
            _wait(lambda: run_status(path, "e2e-1") == "success", 60, "run stopped", node.step)
        finally:
            node.close()
    got = stored_estimates(path, ["e2e-1"])
    want = embedded_estimates(sim.messages(), tmp_path, ["e2e-1"], registry)
    assert len(got["e2e-1"]) > 100
    assert got == want
    with Store(path, readonly=True) as store:
        assert store.run("e2e-1").n_readings == 40
        assert store.deadletters() == []


def _run_ids_on_every_partition(partitions: int) -> list[str]:
    """One run id per partition (Kafka's default partitioner: murmur2 of the key)."""
    chosen: dict[int, str] = {}
    i = 0
    while len(chosen) < partitions:
        run_id = f"kill-run-{i}"
        chosen.setdefault((murmur2(run_id.encode()) & 0x7FFFFFFF) % partitions, run_id)
        i += 1
    return [chosen[p] for p in range(partitions)]


def _work(cfg, store_path, log_path) -> subprocess.Popen:
    env = {
        **os.environ,
        "SYNTHWATCH_KAFKA__BOOTSTRAP_SERVERS": ",".join(cfg.bootstrap_servers),
        "SYNTHWATCH_KAFKA__PARTITIONS": str(cfg.partitions),
        "SYNTHWATCH_KAFKA__GROUP_ID": cfg.group_id,
        "SYNTHWATCH_KAFKA__CHECKPOINT_INTERVAL_S": "1",
        "SYNTHWATCH_KAFKA__SESSION_TIMEOUT_MS": "6000",
        "SYNTHWATCH_KAFKA__HEARTBEAT_INTERVAL_MS": "300",
        "SYNTHWATCH_STORE__PATH": str(store_path),
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "synthwatch.stream.cli.main", "-v", "work", "--no-publish"],
        env=env,
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
    )


def _state_checkpoints(bootstrap: str) -> dict[str, int]:
    """run → size of its latest checkpoint record (a run's state is tens of kB and more)."""
    return {r.key.decode(): len(r.value or b"") for r in read_topic(bootstrap, CHECKPOINTS_TOPIC)}


def test_sigkilled_worker_is_taken_over_point_for_point(kafka_bootstrap, tmp_path):
    cfg = fresh_topics(kafka_bootstrap, partitions=4)
    bootstrap = cfg.bootstrap_servers[0]
    registry = _registry()
    run_ids = _run_ids_on_every_partition(4)
    sims = [_messages(r, seed=10 + i, n=120) for i, r in enumerate(run_ids)]
    want = {}  # first: it also warms the optics cache the workers share
    for sim in sims:
        want.update(embedded_estimates(sim.messages(), tmp_path, [sim.run_id], registry))
    merged = list(heapq.merge(*(s.messages() for s in sims), key=lambda m: m.t))
    thirds = [merged[: len(merged) // 3], merged[len(merged) // 3 : 2 * len(merged) // 3]]
    thirds.append(merged[2 * len(merged) // 3 :])
    path = tmp_path / "shared-store.sqlite"
    a_log, b_log = tmp_path / "a.log", tmp_path / "b.log"
    producer = KafkaTransport(cfg)
    feed = Publisher(producer)
    a = _work(cfg, path, a_log)
    b = None
    try:
        publish(thirds[0], producer, publisher=feed)
        # A owns every run and checkpoints each (a state, not a stopped marker)
        _wait(
            lambda: all(_state_checkpoints(bootstrap).get(r, 0) > 10_000 for r in run_ids),
            90,
            "A checkpointed every run",
        )
        b = _work(cfg, path, b_log)  # rebalance: B takes half of the runs from A's checkpoints
        _wait(lambda: "assigned" in b_log.read_text(), 60, "B got partitions")
        publish(thirds[1], producer, publisher=feed)
        time.sleep(3)  # A goes on with its half and checkpoints it
        a.send_signal(signal.SIGKILL)
        a.wait(10)
        publish(
            thirds[2], producer, publisher=feed
        )  # B takes A's runs over after the session timeout
        producer.close()
        _wait(
            lambda: all(run_status(path, r) == "success" for r in run_ids),
            120,
            "every run stopped in the store",
        )
        b.send_signal(signal.SIGTERM)
        b.wait(60)
    finally:
        for proc in (a, b):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)
    out = b_log.read_text()
    assert b.returncode == 0, out[-3000:]
    summary = [line for line in out.splitlines() if line.startswith("worker left the group")]
    assert summary, out[-3000:]
    restored = int(summary[0].split(" runs restored")[0].rsplit(", ", 1)[1])
    # two runs at the rebalance, A's two (or as many as had not stopped) after the kill
    assert restored >= 3, summary[0]
    got = stored_estimates(path, run_ids)
    for r in run_ids:
        assert got[r] == want[r], f"{r}: {first_difference(got[r], want[r])}"


def test_broker_restart_mid_run_loses_and_doubles_nothing(private_kafka, tmp_path):
    cfg = fresh_topics(private_kafka.bootstrap, partitions=2)
    registry = _registry()
    sim = _messages("restart-1", seed=5, n=200)
    path = tmp_path / "store.sqlite"
    stop = threading.Event()
    errors: list[BaseException] = []
    with Store(path) as store:
        node = _node(cfg, store, registry)

        def work() -> None:
            try:
                while not stop.is_set():
                    node.step()
            except BaseException as err:  # noqa: BLE001 - reported by the test
                errors.append(err)

        worker = threading.Thread(target=work)
        worker.start()
        producer = KafkaTransport(cfg)
        feeder = threading.Thread(target=publish, args=(sim.messages(), producer, 50.0))
        feeder.start()  # 400 s simulated at 50x: 8 s
        time.sleep(3)
        seen_before_outage = node.worker.totals.received
        private_kafka.stop()
        time.sleep(1)
        private_kafka.start()
        feeder.join(120)
        producer.close()
        try:
            _wait(lambda: run_status(path, "restart-1") == "success" or errors, 120, "stop")
        finally:
            stop.set()
            worker.join(60)
            node.close()
    assert not errors, "".join(traceback.format_exception(errors[0])) if errors else ""
    assert 0 < seen_before_outage < 203  # the broker went away mid-run
    got = stored_estimates(path, ["restart-1"])
    want = embedded_estimates(sim.messages(), tmp_path, ["restart-1"], registry)
    on_topic = len(read_topic(cfg.bootstrap_servers[0], readings_topic("uvvis")))
    assert got == want, (
        f"{on_topic} readings on the topic; {node.skipped} skipped, {node.restored} restored; "
        + first_difference(got["restart-1"], want["restart-1"])
    )
    with Store(path, readonly=True) as store:
        assert store.run("restart-1").n_readings == 200
    health = got["restart-1"][-1]
    assert health.measurement == "pipeline_health"
    assert health.get("duplicates_count").value == 0
    assert health.get("received_count").value == 203


def test_poison_messages_are_dead_lettered_with_their_reason(kafka_bootstrap, tmp_path):
    cfg = fresh_topics(kafka_bootstrap, partitions=2)
    sim = _messages("poison-1", seed=1, n=3)
    msgs = list(sim.messages())
    reading = next(m for m in msgs if isinstance(m, Reading))
    future = json.loads(encode(reading))
    future["schema"] = "synthwatch.reading/99"
    producer = KafkaProducer(bootstrap_servers=cfg.bootstrap_servers, acks="all")
    producer.send(RUNS_TOPIC, key=b"poison-1", value=b"{not json")
    producer.send(readings_topic("uvvis"), key=b"poison-1", value=json.dumps(future).encode())
    producer.send(readings_topic("uvvis"), key=b"someone-else", value=encode(reading))
    producer.flush()
    producer.close()
    path = tmp_path / "store.sqlite"
    with Store(path) as store:
        node = _node(cfg, store, _registry())
        try:
            _wait(lambda: node.worker.totals.deadlettered >= 3, 60, "3 dead letters", node.step)
            node.checkpoint(set(node.partitions))
        finally:
            node.close()
    letters = [json.loads(r.value) for r in read_topic(cfg.bootstrap_servers[0], DEADLETTER_TOPIC)]
    reasons = sorted(d["reason"] for d in letters)
    assert len(reasons) == 3, reasons
    assert any("synthwatch.runs@" in r and "JSON" in r for r in reasons), reasons
    assert any("synthwatch.reading/99" in r for r in reasons), reasons
    assert any("key 'someone-else' differs from run_id 'poison-1'" in r for r in reasons)
    assert {d["original"][:9] for d in letters} >= {"{not json"}
    with Store(path, readonly=True) as store:
        assert len(store.deadletters()) == 3
