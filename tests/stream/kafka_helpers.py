"""Helpers of the Kafka tests and benchmark: a clean slate of topics, a reference run, readers."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError, UnknownTopicOrPartitionError

from synthwatch.contract.config import KafkaConfig
from synthwatch.stream.runtime.pipeline import run_embedded
from synthwatch.stream.store.embedded import Store
from synthwatch.stream.transport.kafka_topics import ALL_TOPICS, ensure_topics


def fresh_topics(bootstrap: str, partitions: int = 4, **kw) -> KafkaConfig:
    """Delete every synthwatch topic, create them again; a config with a group of its own."""
    cfg = KafkaConfig(
        bootstrap_servers=[bootstrap],
        partitions=partitions,
        group_id=f"test-{uuid.uuid4().hex[:8]}",
        checkpoint_interval_s=kw.pop("checkpoint_interval_s", 1.0),
        session_timeout_ms=kw.pop("session_timeout_ms", 6000),
        heartbeat_interval_ms=kw.pop("heartbeat_interval_ms", 300),
        **kw,
    )
    admin = KafkaAdminClient(bootstrap_servers=[bootstrap])
    try:
        existing = [t for t in admin.list_topics() if t in ALL_TOPICS]
        if existing:
            try:
                admin.delete_topics(existing)
            except UnknownTopicOrPartitionError:
                pass
        deadline = time.monotonic() + 30
        while any(t in ALL_TOPICS for t in admin.list_topics()):
            assert time.monotonic() < deadline, "topics not deleted within 30 s"
            time.sleep(0.2)
    finally:
        admin.close()
    deadline = time.monotonic() + 30
    while True:  # the broker may still be removing them
        try:
            ensure_topics(cfg)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    return cfg


def embedded_estimates(messages, tmp: Path, run_ids, model_factory) -> dict:
    """The estimates of an uninterrupted embedded run of ``messages``, per run."""
    path = tmp / f"reference-{uuid.uuid4().hex[:6]}.sqlite"
    with Store(path) as store:
        run_embedded(messages, [store], model_factory=model_factory)
    return stored_estimates(path, run_ids)


def stored_estimates(path: Path, run_ids) -> dict:
    with Store(path, readonly=True) as store:
        return {r: store.estimates(r) for r in run_ids}


def run_status(path: Path, run_id: str) -> str | None:
    if not path.exists():
        return None
    with Store(path, readonly=True) as store:
        try:
            return store.run(run_id).status
        except Exception:  # noqa: BLE001 - not there yet
            return None


def read_topic(bootstrap: str, topic: str, timeout_s: float = 10.0) -> list:
    """Every record of ``topic`` now on the broker."""
    consumer = KafkaConsumer(
        bootstrap_servers=[bootstrap],
        enable_auto_commit=False,
        max_partition_fetch_bytes=64 * 1024 * 1024,  # checkpoints are megabytes
        fetch_max_bytes=64 * 1024 * 1024,
    )
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        out = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise KafkaError(f"{topic}: not read to its end within {timeout_s} s")
            for records in consumer.poll(timeout_ms=200).values():
                out.extend(records)
        return out
    finally:
        consumer.close()


def first_difference(got: list, want: list) -> str:
    """Where two runs' estimate lists part (for assertion messages)."""
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            return (
                f"estimate {i}: got {g.model} t={g.t} seq={g.seq} "
                f"{[(q.name, q.value) for q in g.quantities][:8]} flags={g.flags}; want "
                f"{w.model} t={w.t} seq={w.seq} {[(q.name, q.value) for q in w.quantities][:8]} "
                f"flags={w.flags}"
            )
    return f"lengths {len(got)} != {len(want)}; last got {got[-1] if got else None}"
