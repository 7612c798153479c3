"""Topic setup on a real broker: existing topics with another partition count are refused."""

from __future__ import annotations

import pytest
from kafka_helpers import fresh_topics

from synthwatch.stream.transport.errors import KafkaTransportError
from synthwatch.stream.transport.kafka_topics import ensure_topics

pytestmark = pytest.mark.slow


def test_topics_with_another_partition_count_are_refused_by_name(kafka_bootstrap):
    cfg = fresh_topics(kafka_bootstrap, partitions=4)
    ensure_topics(cfg)  # as created: accepted
    with pytest.raises(KafkaTransportError) as err:
        ensure_topics(cfg.model_copy(update={"partitions": 3}))
    message = str(err.value)
    assert "kafka topic synthwatch." in message and "has 4 partitions" in message, message
    assert "kafka.partitions says 3" in message, message
