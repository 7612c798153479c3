"""[kafka] settings, what reaches kafka-python, secrets, and the checkpoint codec (no broker)."""

from __future__ import annotations

import logging
import pickle

import pytest
from kafka_helpers import fresh_topics  # noqa: F401 - the helpers import without a broker

from synthwatch.collectors.sim.scenarios import simulate
from synthwatch.contract.config import ConfigError, KafkaConfig, load_config
from synthwatch.stream.cli.main import build_parser, main
from synthwatch.stream.runtime import checkpoint as checkpoint_module
from synthwatch.stream.runtime.checkpoint import (
    OFFSETS_HEADER,
    BlobCache,
    Checkpoint,
    CheckpointError,
    covered_by,
    decode_checkpoint,
    encode_checkpoint,
    offsets_header,
)
from synthwatch.stream.runtime.worker import Worker
from synthwatch.stream.transport.errors import KafkaTransportError
from synthwatch.stream.transport.kafka_topics import client_settings, describe
from synthwatch.stream.transport.memory import MemoryTransport


def test_env_names_of_the_compose_stack():
    cfg = load_config(
        env={
            "SYNTHWATCH_TRANSPORT__KIND": "kafka",
            "SYNTHWATCH_KAFKA__BOOTSTRAP_SERVERS": "kafka:9092, k2:9093",
            "SYNTHWATCH_KAFKA__PARTITIONS": "12",
        },
        path=None,
    )
    assert cfg.transport.kind == "kafka"
    assert cfg.kafka.bootstrap_servers == ["kafka:9092", "k2:9093"]
    assert cfg.kafka.partitions == 12


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("BOOTSTRAP_SERVERS", "kafka", "expected host:port"),
        ("BOOTSTRAP_SERVERS", "user:pw@kafka:9092", "no credentials"),
        ("PARTITIONS", "0", "greater than or equal to 1"),
        ("SECURITY_PROTOCOL", "SASL_SSL", "needs sasl_mechanism"),
        ("SASL_MECHANISM", "PLAIN", "needs security_protocol SASL_PLAINTEXT or SASL_SSL"),
        ("HEARTBEAT_INTERVAL_MS", "5000", "at most a third of session_timeout_ms"),
    ],
)
def test_bad_values_name_the_variable_and_what_is_expected(key, value, expected):
    with pytest.raises(ConfigError) as err:
        load_config(env={f"SYNTHWATCH_KAFKA__{key}": value}, path=None)
    assert f"environment SYNTHWATCH_KAFKA__{key}" in str(err.value)
    assert expected in str(err.value)


def test_tls_and_sasl_pass_through_and_secrets_stay_secret(tmp_path, caplog):
    pw = tmp_path / "sasl.pw"
    pw.write_text("s3cret-sasl\n")
    cfg = KafkaConfig(
        bootstrap_servers=["broker:9093"],
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="lab",
        sasl_password_file=pw,
        ssl_cafile=tmp_path / "ca.pem",
        ssl_password="s3cret-key",
        ssl_check_hostname=False,
    )
    settings = client_settings(cfg)
    assert settings["security_protocol"] == "SASL_SSL"
    assert settings["sasl_mechanism"] == "SCRAM-SHA-512"
    assert settings["sasl_plain_username"] == "lab"
    assert settings["sasl_plain_password"] == "s3cret-sasl"
    assert settings["ssl_cafile"] == str(tmp_path / "ca.pem")
    assert settings["ssl_password"] == "s3cret-key"
    assert settings["ssl_check_hostname"] is False
    for text in (repr(cfg), str(cfg), describe(cfg), cfg.model_dump_json()):
        assert "s3cret" not in text
    assert describe(cfg) == "broker:9093 (SASL_SSL)"
    plain = client_settings(KafkaConfig())
    assert "sasl_plain_password" not in plain and "ssl_cafile" not in plain


def test_an_unreadable_password_file_is_named(tmp_path):
    cfg = KafkaConfig(
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_password_file=tmp_path / "missing.pw",
    )
    with pytest.raises(KafkaTransportError, match=r"kafka.sasl_password_file: cannot read .*"):
        client_settings(cfg)


def test_both_secret_and_file_is_refused(tmp_path):
    with pytest.raises(ValueError, match="give one of them, not both"):
        KafkaConfig(
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism="PLAIN",
            sasl_password="x",
            sasl_password_file=tmp_path / "pw",
        )


def test_checkpoint_restores_a_run_that_continues_identically():
    """A run's state through the checkpoint codec continues as the original does."""
    msgs = list(simulate("gold", seed=2, duration_s=60, interval_s=2).messages())
    half = len(msgs) // 2

    def run(messages, worker):
        for m in messages:
            worker.handle_message(m)

    original = Worker(MemoryTransport(), [], publish=False, reorder_window_s=0)
    outputs: list = []
    original.on_output(outputs.append)
    run(msgs[:half], original)
    state = original.run_state(msgs[0].run_id)
    blobs: dict[str, bytes] = {}
    raw = encode_checkpoint(Checkpoint(state.run_id, 3, {"synthwatch.runs": 7}, state), blobs)
    assert len(raw) < 200_000 < sum(map(len, blobs.values()))  # the kernels are blobs
    with pytest.raises(CheckpointError, match=r"^test: array blob:\w+ not found"):
        decode_checkpoint(raw, "test", {})
    cp = decode_checkpoint(raw, "test", blobs)
    assert (cp.partition, cp.offsets) == (3, {"synthwatch.runs": 7})
    again: dict[str, bytes] = {}
    encode_checkpoint(Checkpoint(state.run_id, 3, {}, cp.state), again)
    assert again.keys() == blobs.keys()  # restored arrays have the same content

    restored = Worker(MemoryTransport(), [], publish=False, reorder_window_s=0)
    restored.adopt_run(cp.state)
    after_restore: list = []
    restored.on_output(after_restore.append)
    run(msgs[half:], restored)
    n = len(outputs)
    run(msgs[half:], original)
    assert after_restore == outputs[n:] and len(after_restore) > 10


def test_a_blob_cache_writes_each_array_once_and_hashes_read_only_ones_once(monkeypatch):
    msgs = list(simulate("gold", seed=2, duration_s=20, interval_s=2).messages())
    worker = Worker(MemoryTransport(), [], publish=False, reorder_window_s=0)
    for m in msgs[:-1]:
        worker.handle_message(m)
    state = worker.run_state(msgs[0].run_id)
    cache = BlobCache()
    first: dict[str, bytes] = {}
    encode_checkpoint(Checkpoint(state.run_id, 0, {}, state), first, cache)
    assert first
    cache.written |= set(first)
    hashed: list[int] = []
    real = checkpoint_module._digest
    monkeypatch.setattr(checkpoint_module, "_digest", lambda a: hashed.append(a.nbytes) or real(a))
    second: dict[str, bytes] = {}
    raw = encode_checkpoint(Checkpoint(state.run_id, 0, {}, state), second, cache)
    assert second == {}  # on the broker already: neither serialized nor compressed again
    assert max(hashed, default=0) < 1_000_000  # the 2 MB read-only kernel is not hashed again
    cp = decode_checkpoint(raw, "test", first)
    assert cp.state.run_id == state.run_id


def test_the_offsets_header_orders_checkpoints():
    older = Checkpoint("r", 0, {"a": 5, "b": 9}, None)
    newer = Checkpoint("r", 0, {"a": 7, "b": 9}, None)
    assert newer.newer_than(older) and not older.newer_than(newer)
    assert covered_by([(OFFSETS_HEADER, offsets_header(newer.offsets))]) == 16
    assert covered_by([]) is None and covered_by([(OFFSETS_HEADER, b"a=x")]) is None


def test_checkpoint_errors_say_where_and_why():
    with pytest.raises(CheckpointError, match=r"^cp\[1\]@5: not a synthwatch checkpoint"):
        decode_checkpoint(b"{}", "cp[1]@5")
    with pytest.raises(CheckpointError, match=r"^cp\[1\]@6: checkpoint cannot be restored"):
        decode_checkpoint(b"SWCP\x01garbage", "cp[1]@6")
    bad = b"SWCP\x01" + __import__("zlib").compress(pickle.dumps({"run_id": "r"}))
    with pytest.raises(CheckpointError, match="expected a Checkpoint, got dict"):
        decode_checkpoint(bad, "cp[0]@0")


def test_cli_work_without_a_broker_fails_in_one_line(capsys, monkeypatch):
    monkeypatch.setenv("SYNTHWATCH_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:9")
    monkeypatch.setenv("SYNTHWATCH_KAFKA__REQUEST_TIMEOUT_MS", "2000")
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    assert main(["work", "--max-runtime", "1"]) == 1  # a runtime failure, not a usage mistake
    err = capsys.readouterr().err
    assert err.startswith("synthwatch: kafka at 127.0.0.1:9 (PLAINTEXT): ") and err.count("\n") == 1


def test_cli_collect_usage_errors(capsys):
    assert main(["collect", "simulator", "--speed", "0"]) == 2
    assert "--speed" in capsys.readouterr().err
    assert main(["collect"]) == 2


def test_the_compose_stack_settings_load():
    """docker/compose.yaml's environment and synthwatch.env.example are valid settings."""
    import yaml

    from conftest import ROOT

    compose = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())
    env = dict(compose["x-synthwatch"]["environment"])
    for line in (ROOT / "docker" / "synthwatch.env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, value = line.split("=", 1)
            env[key] = value
    assert all(k.startswith("SYNTHWATCH_") and "__" in k for k in env)
    cfg = load_config(env=env, path=None)
    assert cfg.transport.kind == "kafka" and cfg.kafka.bootstrap_servers == ["kafka:9092"]
    assert cfg.influxdb.enabled and cfg.influxdb.api == "v2" and cfg.influxdb.token is not None
    for name in ("collector", "worker-1"):
        command = compose["services"][name]["command"]
        args = build_parser().parse_args(command)  # the CLI accepts the stack's commands
        assert args.command == command[0]
