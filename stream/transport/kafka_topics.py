"""The Kafka transport (kafka-python): the topics and keys of docs/architecture.md.

Every topic has the same number of partitions and every record is keyed by its ``run_id``, so
Kafka's default partitioner puts all of a run on the same partition number of every topic
(co-partitioning), and the range assignor gives that partition number of every input topic to one
worker of the group: one worker owns all of a run. Producers wait for every in-sync replica
(``acks="all"``) and are idempotent, so a retry after a broker hiccup does not write a record
twice. TLS and SASL settings are handed to kafka-python as configured; passwords are read from
the configuration's secrets or files when a client is built and never logged.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.errors import IllegalStateError, KafkaError, TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata

from synthwatch.contract.config import KafkaConfig
from synthwatch.contract.messages import Message, encode
from synthwatch.stream.transport.errors import KafkaTransportError
from synthwatch.stream.transport.memory import (
    ALERTS_TOPIC,
    CHECKPOINTS_TOPIC,
    DEADLETTER_TOPIC,
    ESTIMATES_TOPIC,
    INPUT_TOPICS,
    Record,
)

log = logging.getLogger(__name__)

#: Every topic of synthwatch; the checkpoints topic is compacted (the latest record per run).
ALL_TOPICS = (*INPUT_TOPICS, ESTIMATES_TOPIC, ALERTS_TOPIC, DEADLETTER_TOPIC, CHECKPOINTS_TOPIC)


def _secret(value, path: Path | None, what: str) -> str | None:
    if value is not None:
        return value.get_secret_value()
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as err:
        raise KafkaTransportError(f"kafka.{what}: cannot read {path} ({err.strerror})") from None


def client_settings(cfg: KafkaConfig) -> dict[str, Any]:
    """kafka-python keyword arguments common to producers, consumers and the admin client."""
    settings: dict[str, Any] = dict(
        bootstrap_servers=list(cfg.bootstrap_servers),
        client_id=cfg.client_id,
        request_timeout_ms=cfg.request_timeout_ms,
        bootstrap_timeout_ms=cfg.request_timeout_ms,
        security_protocol=cfg.security_protocol,
    )
    if cfg.security_protocol in ("SSL", "SASL_SSL"):
        settings.update(
            ssl_cafile=None if cfg.ssl_cafile is None else str(cfg.ssl_cafile),
            ssl_certfile=None if cfg.ssl_certfile is None else str(cfg.ssl_certfile),
            ssl_keyfile=None if cfg.ssl_keyfile is None else str(cfg.ssl_keyfile),
            ssl_password=_secret(cfg.ssl_password, cfg.ssl_password_file, "ssl_password_file"),
            ssl_check_hostname=cfg.ssl_check_hostname,
        )
    if cfg.sasl_mechanism is not None:
        settings.update(
            sasl_mechanism=cfg.sasl_mechanism,
            sasl_plain_username=cfg.sasl_username,
            sasl_plain_password=_secret(
                cfg.sasl_password, cfg.sasl_password_file, "sasl_password_file"
            ),
        )
    return settings


def describe(cfg: KafkaConfig) -> str:
    """Where a client connects, for logs and errors: servers and protocol, never secrets."""
    return f"{','.join(cfg.bootstrap_servers)} ({cfg.security_protocol})"


def ensure_topics(cfg: KafkaConfig) -> None:
    """Create the missing topics; check that existing ones are co-partitioned as configured."""
    try:
        admin = KafkaAdminClient(**client_settings(cfg))
    except KafkaError as err:
        raise KafkaTransportError(f"kafka at {describe(cfg)}: cannot connect ({err})") from None
    try:
        existing = set(admin.list_topics())
        missing = [t for t in ALL_TOPICS if t not in existing]
        if missing and not cfg.create_topics:
            raise KafkaTransportError(
                f"kafka at {describe(cfg)}: topics {', '.join(missing)} do not exist and "
                "kafka.create_topics is false; create them with kafka.partitions partitions each"
            )
        new = [
            NewTopic(
                name=t,
                num_partitions=cfg.partitions,
                replication_factor=cfg.replication_factor,
                topic_configs=_topic_configs(cfg, t),
            )
            for t in missing
        ]
        if new:
            try:
                admin.create_topics(new, validate_only=False)
            except TopicAlreadyExistsError:
                pass  # another worker created them meanwhile
            log.info("created topics %s on %s", ", ".join(missing), describe(cfg))
        for meta in admin.describe_topics([t for t in ALL_TOPICS if t != CHECKPOINTS_TOPIC]):
            n = len(meta.get("partitions") or ())
            if n and n != cfg.partitions:
                # kafka-python names the topic "topic" (2.x) or "name" (newer responses)
                name = meta.get("topic") or meta.get("name") or "?"
                raise KafkaTransportError(
                    f"kafka topic {name}: has {n} partitions, kafka.partitions says "
                    f"{cfg.partitions}; every synthwatch topic needs the same count "
                    "(co-partitioning keeps a run on one worker)"
                )
    except KafkaError as err:
        raise KafkaTransportError(f"kafka at {describe(cfg)}: topic setup failed ({err})") from None
    finally:
        admin.close()


def _topic_configs(cfg: KafkaConfig, topic: str) -> dict[str, str]:
    configs = {"max.message.bytes": str(cfg.max_message_bytes)}
    if topic == CHECKPOINTS_TOPIC:
        configs.update({"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.1"})
    return configs


def make_producer(cfg: KafkaConfig) -> KafkaProducer:
    """An idempotent producer that waits for every in-sync replica."""
    try:
        return KafkaProducer(
            **client_settings(cfg),
            acks="all",
            enable_idempotence=True,
            max_request_size=cfg.max_message_bytes,
            linger_ms=5,
            batch_size=256 * 1024,  # a spectrum is ~5-10 kB of JSON; the 16 kB default sends one
        )
    except KafkaError as err:
        raise KafkaTransportError(f"kafka at {describe(cfg)}: cannot connect ({err})") from None


class KafkaTransport:
    """The :class:`~synthwatch.stream.transport.memory.Transport` interface over Kafka.

    A collector uses the producer side only. A worker passes ``group=True``: its consumer joins
    ``kafka.group_id``, subscribes at the first :meth:`poll`, commits offsets only through
    :meth:`commit` (after the checkpoint that covers them), and tells ``on_assigned``,
    ``on_revoked`` (a clean hand-over) and ``on_lost`` (this member was evicted: another one may
    own them already) which partitions it gains and loses.
    """

    def __init__(
        self,
        cfg: KafkaConfig,
        *,
        group: bool = False,
        on_assigned: Callable[[set[TopicPartition]], None] | None = None,
        on_revoked: Callable[[set[TopicPartition]], None] | None = None,
        on_lost: Callable[[set[TopicPartition]], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.producer = make_producer(cfg)
        self.consumer: KafkaConsumer | None = None
        self._errors: list[str] = []
        self._subscribed = False
        self._on_assigned = on_assigned
        self._on_revoked = on_revoked
        self._on_lost = on_lost
        if group:
            try:
                self.consumer = KafkaConsumer(
                    **client_settings(cfg),
                    group_id=cfg.group_id,
                    enable_auto_commit=False,
                    auto_offset_reset="earliest",
                    partition_assignment_strategy=[RangePartitionAssignor],
                    session_timeout_ms=cfg.session_timeout_ms,
                    heartbeat_interval_ms=cfg.heartbeat_interval_ms,
                    max_partition_fetch_bytes=cfg.max_message_bytes,
                    fetch_max_bytes=max(cfg.max_message_bytes, 52_428_800),
                )
            except KafkaError as err:
                self.producer.close()
                raise KafkaTransportError(
                    f"kafka at {describe(cfg)}: cannot connect ({err})"
                ) from None

    # -- producing -------------------------------------------------------------------------
    def send(
        self,
        topic: str,
        key: str,
        value: bytes | None,
        partition: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        """Publish ``value`` (None: a tombstone) on ``topic`` under ``key``.

        ``partition`` overrides the key's partition (the checkpoints' array records).
        """
        future = self.producer.send(
            topic, key=key.encode(), value=value, partition=partition, headers=headers
        )
        future.add_errback(self._failed, topic, key)

    def send_message(self, topic: str, key: str, msg: Message) -> None:
        self.send(topic, key, encode(msg))

    def _failed(self, topic: str, key: str, err: Exception) -> None:
        self._errors.append(f"{topic} key {key!r}: {type(err).__name__}: {err}")

    def flush(self, timeout_s: float | None = None) -> None:
        """Block until every record sent is acknowledged; raise if any was refused."""
        self.producer.flush(timeout=timeout_s)
        if self._errors:
            errors, self._errors = self._errors, []
            raise KafkaTransportError(
                f"kafka at {describe(self.cfg)}: {len(errors)} records not delivered, first: "
                f"{errors[0]}"
            )

    # -- consuming -------------------------------------------------------------------------
    def poll(
        self, topics: Iterable[str] = INPUT_TOPICS, max_records: int = 500, timeout_ms: int = 200
    ) -> list[Record]:
        """Up to ``max_records`` records of ``topics`` (subscribed at the first call)."""
        if self.consumer is None:
            raise KafkaTransportError("this transport has no consumer: build it with group=True")
        if not self._subscribed:
            self.consumer.subscribe(list(topics), listener=_Listener(self))
            self._subscribed = True
        try:
            batches = self.consumer.poll(timeout_ms=timeout_ms, max_records=max_records)
        except KafkaError as err:
            if not err.retriable:
                raise
            # the broker is away (restarting): kafka-python 3 raises the failed coordinator
            # lookup out of poll; the consumer keeps its position and the next poll retries
            log.warning("kafka at %s: poll failed, retrying: %s", describe(self.cfg), err)
            time.sleep(timeout_ms / 1000)
            return []
        out: list[Record] = []
        for tp, records in batches.items():
            for r in records:
                key = r.key.decode("utf-8", errors="replace") if r.key else ""
                out.append(Record(tp.topic, key, r.value, r.offset, tp.partition))
        return out

    def position(self, tp: TopicPartition) -> int:
        return self.consumer.position(tp)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.consumer.seek(tp, offset)

    def start_offset(self, tp: TopicPartition) -> int:
        """Where the group resumes ``tp``: its committed offset, else the log's beginning."""
        committed = self.consumer.committed(tp)
        if committed is None:
            committed = self.consumer.beginning_offsets([tp])[tp]
        return committed

    def caught_up(self, tp: TopicPartition) -> bool:
        """Whether every record of ``tp`` that the broker had at the last fetch was returned.

        False for a partition this member no longer has (revoked meanwhile).
        """
        try:
            highwater = self.consumer.highwater(tp)
            return highwater is not None and self.consumer.position(tp) >= highwater
        except IllegalStateError:
            return False

    def generation(self) -> int:
        """The consumer group's generation this member joined last (-1 when unknown)."""
        try:
            return int(self.consumer._coordinator._generation.generation_id)
        except AttributeError:
            return -1

    def end_offsets(self, tps: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        return self.consumer.end_offsets(list(tps))

    def commit(self, offsets: dict[TopicPartition, int]) -> None:
        """Commit the consumer group's offsets (the next record to read of each partition)."""
        if offsets:
            self.consumer.commit({tp: OffsetAndMetadata(o, "", -1) for tp, o in offsets.items()})

    def close(self) -> None:
        if self.consumer is not None:
            self.consumer.close(autocommit=False)
        self.producer.close()


class _Listener(ConsumerRebalanceListener):
    """kafka-python's rebalance listener, forwarding to the transport's callbacks."""

    def __init__(self, transport: KafkaTransport) -> None:
        self.transport = transport

    def on_partitions_revoked(self, revoked) -> None:
        if self.transport._on_revoked is not None and revoked:
            self.transport._on_revoked(set(revoked))

    def on_partitions_lost(self, lost) -> None:
        callback = self.transport._on_lost or self.transport._on_revoked
        if callback is not None and lost:
            callback(set(lost))

    def on_partitions_assigned(self, assigned) -> None:
        if self.transport._on_assigned is not None and assigned:
            self.transport._on_assigned(set(assigned))
