"""``synthwatch replay kafka``: a run's window read back from a real broker (services.sh).

A seeded simulated run is published with ``collect simulator``'s code path, a window of it is
replayed from the topics, and the estimates are compared, point for point, with a store replay
of the same readings; the window replayed twice gives identical estimates.
"""

from __future__ import annotations

import heapq
from datetime import timedelta

import pytest
from kafka import KafkaProducer, TopicPartition
from kafka.partitioner.default import murmur2
from kafka_helpers import first_difference, fresh_topics

from synthwatch.collectors.sim.scenarios import simulate
from synthwatch.contract.config import load_config
from synthwatch.contract.messages import Descriptor, Reading, RunStart, RunStop, encode
from synthwatch.stream.cli import main as cli
from synthwatch.stream.cli.collect import publish
from synthwatch.stream.replay.from_kafka import KafkaSource, runs_in_window
from synthwatch.stream.replay.recorded import ReplayError, StoreSource, replay
from synthwatch.stream.runtime.alerting import registry_from_config
from synthwatch.stream.runtime.pipeline import run_embedded
from synthwatch.stream.store.embedded import Store
from synthwatch.stream.transport.kafka_topics import KafkaTransport
from synthwatch.stream.transport.memory import readings_topic

pytestmark = pytest.mark.slow

PARTITIONS = 4


def _registry():
    return registry_from_config(load_config(env={}, path=None))


def _same_partition(run_id: str, prefix: str) -> str:
    """A run id whose records share ``run_id``'s partitions (records to skip by key)."""
    want = (murmur2(run_id.encode()) & 0x7FFFFFFF) % PARTITIONS
    i = 0
    while (murmur2(f"{prefix}{i}".encode()) & 0x7FFFFFFF) % PARTITIONS != want:
        i += 1
    return f"{prefix}{i}"


def _window(messages, t_from, t_to) -> list:
    """RunStart, Descriptors, the readings of [t_from, t_to], a RunStop at the last of them."""
    out = [m for m in messages if isinstance(m, (RunStart, Descriptor))]
    out += [m for m in messages if isinstance(m, Reading) and t_from <= m.t <= t_to]
    out.sort(key=lambda m: (not isinstance(m, RunStart), not isinstance(m, Descriptor), m.t))
    run_id = out[0].run_id
    out.append(RunStop(run_id=run_id, t=out[-1].t, status="success", reason="window"))
    return out


def _plain(estimates) -> list:
    return [e.model_copy(update={"run_id": "-"}) for e in estimates]


def test_window_equals_store_replay_and_is_deterministic(kafka_bootstrap, tmp_path):
    cfg = fresh_topics(kafka_bootstrap, partitions=PARTITIONS)
    registry = _registry()
    run_id = "kreplay-1"
    other_id = _same_partition(run_id, "kreplay-other-")
    sim = list(simulate("gold", seed=5, duration_s=240.0, interval_s=2.0, run_id=run_id).messages())
    other = simulate("gold", seed=6, duration_s=240.0, interval_s=2.0, run_id=other_id)
    producer = KafkaTransport(cfg)
    publish(heapq.merge(sim, other.messages(), key=lambda m: m.t), producer)
    producer.close()
    t0 = sim[0].t
    t_from, t_to = t0 + timedelta(seconds=60), t0 + timedelta(seconds=150)
    window = _window(sim, t_from, t_to)
    n_readings = sum(isinstance(m, Reading) for m in window)
    assert n_readings > 40

    path = tmp_path / "store.sqlite"
    with Store(path) as store:
        run_embedded(window, [store], model_factory=registry)  # the recorded window
        from_store = replay(StoreSource(store, run_id), store, tag="store", model_factory=registry)
        runs = []
        for tag in ("kafka-a", "kafka-b"):
            source = KafkaSource(cfg, run_id, t_from, t_to)
            runs.append(replay(source, store, tag=tag, model_factory=registry))
            assert source.rejected == []
            assert source.partition == (murmur2(run_id.encode()) & 0x7FFFFFFF) % PARTITIONS
        want = _plain(store.estimates(from_store.run_id))
        got_a = _plain(store.estimates(runs[0].run_id))
        got_b = _plain(store.estimates(runs[1].run_id))
        assert store.run(runs[0].run_id).n_readings == n_readings
        assert runs[0].readings == n_readings and runs[0].rejected == 0
        assert store.run_start(runs[0].run_id).t == t0  # event times preserved
        assert store.run_start(runs[0].run_id).tags["replay_of"] == run_id
        readings = list(store.readings_by_time(runs[0].run_id))
        assert t_from <= readings[0].t and readings[-1].t <= t_to
        assert store.deadletters() == []
    assert len(want) > 50
    assert got_a == want, first_difference(got_a, want)
    assert got_b == got_a, first_difference(got_b, got_a)
    assert runs_in_window(cfg, t_from, t_to) == sorted([run_id, other_id])
    assert runs_in_window(cfg, t0 + timedelta(days=1), t0 + timedelta(days=2)) == []
    with pytest.raises(ReplayError, match="no RunStart"):
        KafkaSource(cfg, "no-such-run", t_from, t_to)
    with pytest.raises(ReplayError, match="nothing between"):
        KafkaSource(cfg, run_id, t0 - timedelta(hours=2), t0 - timedelta(hours=1))


def test_event_time_stamps_bad_records_and_cli(kafka_bootstrap, tmp_path, monkeypatch, capsys):
    """Records stamped with their event time: offsets_for_times skips what lies before the
    window; records that do not decode are counted, named and dead-lettered; the CLI."""
    cfg = fresh_topics(kafka_bootstrap, partitions=PARTITIONS)
    run_id = "kreplay-2"
    sim = list(simulate("gold", seed=7, duration_s=120.0, interval_s=2.0, run_id=run_id).messages())
    kinds = {m.sensor_id: m.kind for m in sim if isinstance(m, Descriptor)}
    producer = KafkaProducer(bootstrap_servers=[kafka_bootstrap], acks="all")
    key = run_id.encode()
    t0 = sim[0].t
    t_from, t_to = t0 + timedelta(seconds=40), t0 + timedelta(seconds=80)
    uvvis = readings_topic("uvvis")
    for m in sim:
        topic = readings_topic(kinds[m.sensor_id]) if isinstance(m, Reading) else "synthwatch.runs"
        stamp = int(m.t.timestamp() * 1000)
        producer.send(topic, key=key, value=encode(m), timestamp_ms=stamp)
        if isinstance(m, Reading) and m.t == t0 + timedelta(seconds=50) and topic == uvvis:
            producer.send(uvvis, key=key, value=b'{"schema": "nonsense"', timestamp_ms=stamp)
            producer.send(uvvis, key=key, value=encode(sim[-1]), timestamp_ms=stamp)  # a RunStop
    producer.flush()
    producer.close()
    before = sum(
        isinstance(m, Reading) and m.t < t_from and kinds[m.sensor_id] == "uvvis" for m in sim
    )
    in_window = sum(isinstance(m, Reading) and t_from <= m.t <= t_to for m in sim)

    with Store(tmp_path / "s.sqlite") as store:
        source = KafkaSource(cfg, run_id, t_from, t_to, lookback_s=0.0)
        result = replay(source, store, tag="k", model_factory=_registry())
        tp = TopicPartition(uvvis, source.partition)
        assert source.offsets[tp][0] == before  # started at the window, not at the beginning
        assert result.readings == in_window
        assert result.rejected == 2
        assert [(r.topic, r.partition) for r in source.rejected] == [(uvvis, source.partition)] * 2
        assert "not valid JSON" in source.rejected[0].reason
        assert "expected a Reading or Label" in source.rejected[1].reason
        assert source.rejected[1].offset == source.rejected[0].offset + 1
        letters = store.deadletters()
        assert len(letters) == 2
        assert f"{uvvis}[{source.partition}]@{source.rejected[0].offset}" in letters[0].reason

    store_path = tmp_path / "cli.sqlite"
    monkeypatch.setenv("SYNTHWATCH_KAFKA__BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("SYNTHWATCH_STORE__PATH", str(store_path))
    argv = ["replay", "kafka", "--from", t_from.isoformat(), "--to", t_to.isoformat()]
    assert cli.main([*argv, "--tag", "cli", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"into run {run_id}:cli: {in_window} readings" in out
    assert f"{uvvis}[{source.partition}]@{source.rejected[0].offset}: message: not valid" in out
    assert cli.main([*argv, "--tag", "cli", "--run", run_id]) == 2  # never over a run
    assert "already in" in capsys.readouterr().err
    assert cli.main(["replay", "some-run", "--from", t_from.isoformat()]) == 2
    assert (
        cli.main(["replay", "kafka", "--from", t_to.isoformat(), "--to", t_from.isoformat()]) == 2
    )
