"""A group consumer across a broker outage (scripts/services.sh start kafka, a private broker).

kafka-python 3 raises a failed coordinator lookup (``KafkaConnectionError: 111 ECONNREFUSED``)
out of ``poll`` while the broker is away; the transport must ride through it (two outages of
10 s, polled throughout) and read on from the group's commit once the broker is back. The
replay's reader (an assigned consumer, no coordinator: kafka-python does not raise there) waits
for the broker up to its timeout, then names it.
"""

from __future__ import annotations

import itertools
import threading
import time
import traceback

import pytest
from kafka import TopicPartition
from kafka_helpers import fresh_topics

from synthwatch.stream.replay.from_kafka import _consumer, _read
from synthwatch.stream.runtime.kafka_worker import READINGS_TOPICS
from synthwatch.stream.transport.errors import KafkaTransportError
from synthwatch.stream.transport.kafka_topics import KafkaTransport

pytestmark = pytest.mark.slow

TOPIC = sorted(READINGS_TOPICS)[0]


def _poll_until(transport: KafkaTransport, n: int, timeout_s: float) -> list:
    got: list = []
    deadline = time.monotonic() + timeout_s
    while len(got) < n:
        assert time.monotonic() < deadline, f"{len(got)} of {n} records within {timeout_s} s"
        got += transport.poll([TOPIC], 500, 200)
    return got


def test_poll_rides_through_a_broker_outage(private_kafka):
    cfg = fresh_topics(private_kafka.bootstrap, partitions=1)
    producer = KafkaTransport(cfg)
    consumer = KafkaTransport(cfg, group=True)
    try:
        producer.send(TOPIC, "run-a", b"before")
        producer.flush(30)
        before = _poll_until(consumer, 1, 60)
        assert [r.value for r in before] == [b"before"]
        # the group may rejoin after the outage: it resumes at the committed offset
        consumer.commit({TopicPartition(TOPIC, 0): before[0].offset + 1})
        stop = threading.Event()
        errors: list[BaseException] = []
        polled: list = []

        def poll() -> None:  # through the stop, the outage and the start, short and long polls
            timeouts = itertools.cycle([20, 200, 1000])
            while not stop.is_set():
                try:
                    polled.extend(consumer.poll([TOPIC], 500, next(timeouts)))
                except BaseException as err:  # noqa: BLE001 - reported by the test
                    errors.append(err)
                    return

        poller = threading.Thread(target=poll)
        poller.start()
        try:
            for _ in range(2):
                private_kafka.stop()
                time.sleep(10)
                private_kafka.start()
                time.sleep(2)
        finally:
            stop.set()
            poller.join(60)
        assert not errors, "".join(traceback.format_exception(errors[0])) if errors else ""
        assert polled == []
        producer.send(TOPIC, "run-a", b"after")
        producer.flush(60)
        after = _poll_until(consumer, 1, 120)
        assert [r.value for r in after] == [b"after"], "read on from the commit, once"
    finally:
        consumer.close()
        producer.close()


def test_replay_reader_waits_for_the_broker_then_names_it(private_kafka):
    cfg = fresh_topics(private_kafka.bootstrap, partitions=1)
    producer = KafkaTransport(cfg)
    for i in range(5):
        producer.send(TOPIC, "run-a", f"v{i}".encode())
    producer.flush(30)
    producer.close()
    tp = TopicPartition(TOPIC, 0)
    consumer = _consumer(cfg)
    try:
        assert [r.value for r in _read(consumer, tp, 0, 2, 30, cfg)] == [b"v0", b"v1"]
        private_kafka.stop()
        with pytest.raises(KafkaTransportError, match=r"gave no record at offset 2 .* within 3 s"):
            list(_read(consumer, tp, 2, 5, 3, cfg))
        restarter = threading.Timer(3.0, private_kafka.start)  # still stopped: back in 3 s
        restarter.start()
        try:
            got = [r.value for r in _read(consumer, tp, 2, 5, 120, cfg)]
        finally:
            restarter.join()
        assert got == [b"v2", b"v3", b"v4"]
    finally:
        consumer.close()
