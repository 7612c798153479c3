"""The v1 write path against a real InfluxDB 1.x (Debian's 1.6.7, run by scripts/services.sh).

A simulated run goes through the embedded pipeline into the store and InfluxDB; the InfluxDB
side is read back with InfluxQL and compared point for point with the store. The outage tests
stop and restart a private influxd mid-run: every point arrives once.
"""

from __future__ import annotations

import base64
import itertools
import time
import urllib.parse
import urllib.request
from datetime import datetime, timezone

import pytest
from influx_helpers import InfluxQL, sample_estimates

from synthwatch.collectors.sim.scenarios import simulate
from synthwatch.contract.messages import Alert, Estimate, RunStart
from synthwatch.stream.runtime.pipeline import run_embedded
from synthwatch.stream.sinks.influx import InfluxSink
from synthwatch.stream.sinks.influx_points import timestamp_us
from synthwatch.stream.store.embedded import Store

pytestmark = pytest.mark.slow
MEASUREMENTS = ("uvvis_features", "psd", "kinetics", "pipeline_health")
_db_counter = itertools.count()


def _db() -> str:
    return f"sw_test_{int(time.time() * 1000)}_{next(_db_counter)}"


def _messages(seed: int = 3, duration_s: float = 240.0):
    return simulate("gold", seed=seed, duration_s=duration_s, interval_s=2.0).messages()


def _read_back(url: str, db: str, run_id: str) -> dict[tuple, dict]:
    """Every point of the run in InfluxDB, keyed by (measurement, model, sensor_id, t_us, bin)."""
    q = InfluxQL(url)
    points = {}
    for m in MEASUREMENTS:
        for row in q.series(f"SELECT * FROM \"{m}\" WHERE run_id = '{run_id}' GROUP BY *", db):
            key = (m, row["model"], row["sensor_id"], row["time"], row.get("d_nm") or None)
            assert key not in points, f"two points for {key}"
            points[key] = row
    return points


def _expected(store_path, run_id: str) -> tuple[dict[tuple, dict[str, float]], str]:
    """The same keys and numeric fields, computed from the embedded store's estimates."""
    with Store(store_path, readonly=True) as store:
        ests: list[Estimate] = store.estimates(run_id)
        reactor = store.run(run_id).reactor
    expected = {}
    for e in ests:
        fields = {"flag_count": float(len(e.flags))}
        for qty in e.quantities:
            if qty.value is not None:
                fields[qty.name] = qty.value
                if qty.uncertainty is not None:
                    fields[f"{qty.name}_sd"] = qty.uncertainty
        t_us = timestamp_us(e.t)
        expected[(e.measurement, e.model, e.sensor_id, t_us, None)] = fields
        if e.distribution is not None:
            d = e.distribution
            for centre, v, u in zip(d.axis, d.values, d.uncertainties or [None] * len(d.axis)):
                bin_fields = {f"bin_{d.quantity}": v}
                if u is not None:
                    bin_fields[f"bin_{d.quantity}_sd"] = u
                expected[(e.measurement, e.model, e.sensor_id, t_us, f"{centre:g}")] = bin_fields
    return expected, reactor


def _assert_point_for_point(url: str, db: str, store_path, run_id: str) -> int:
    expected, reactor = _expected(store_path, run_id)
    got = _read_back(url, db, run_id)
    assert set(got) == set(expected), (
        f"{len(set(expected) - set(got))} points missing, {len(set(got) - set(expected))} extra"
    )
    for key, fields in expected.items():
        row = got[key]
        assert row["reactor"] == reactor
        values = {k: v for k, v in row.items() if v is not None and k in fields}
        assert values == fields, key  # exact: floats survive line protocol and InfluxQL JSON
    assert (
        {"uvvis_features", "psd", "pipeline_health"}
        <= {k[0] for k in expected}
        <= set(MEASUREMENTS)
    )
    return len(expected)


def _run(tmp_path, sink: InfluxSink, messages, on_message=None):
    store_path = tmp_path / "store.sqlite"
    with Store(store_path) as store:
        result = run_embedded(messages, [store, sink], on_message=on_message)
    return store_path, result.run_ids[0]


def test_simulated_run_reads_back_point_for_point(tmp_path, influxdb_url, influx_config):
    db = _db()
    cfg = influx_config(influxdb_url, database=db, batch_size=500)
    with InfluxSink(cfg) as sink:
        store_path, run_id = _run(tmp_path, sink, _messages())
        assert sink.wait_drained(60)
    n = _assert_point_for_point(influxdb_url, db, store_path, run_id)
    assert n == sink.written > 300  # estimates + distribution bins, nothing else, each once

    # a replay rewrites the same points: nothing is added
    (tmp_path / "replay").mkdir()
    with InfluxSink(influx_config(influxdb_url, database=db, spool_dir=tmp_path / "s2")) as again:
        _run(tmp_path / "replay", again, _messages())
        assert again.wait_drained(60)
    assert again.written == n
    assert _assert_point_for_point(influxdb_url, db, store_path, run_id) == n


def test_alerts_and_awkward_strings_round_trip(influxdb_url, influx_config):
    db = _db()
    t = datetime(2026, 3, 1, 0, 0, 0, 1, tzinfo=timezone.utc)
    reactor = 'R 7,"east"=hood\\1'
    message = 'd_mean 31 nm > 25 nm:\ncheck the "citrate" dose, then =, \\ and ünïcödé'
    alert = Alert(
        run_id="r-alert",
        t=t,
        rule="size out,of=spec",
        severity="critical",
        state="firing",
        sensor_id="uv1",
        values={"d_mean_nm": 31.25},
        message=message,
    )
    with InfluxSink(influx_config(influxdb_url, database=db)) as sink:
        sink.add(RunStart(run_id="r-alert", t=t, reactor=reactor, system="Au-citrate"))
        sink.add(alert)
        assert sink.wait_drained(10)
    (row,) = InfluxQL(influxdb_url).series("SELECT * FROM alerts GROUP BY *", db)
    assert row["time"] == timestamp_us(t)  # microseconds: precision 'u', not the 'us' trap
    assert (row["reactor"], row["rule"], row["state"]) == (reactor, "size out,of=spec", "firing")
    assert (row["message"], row["firing"], row["d_mean_nm"]) == (message, 1.0, 31.25)


def test_server_refusal_is_dead_lettered_not_lost(influxdb_url, influx_config, caplog):
    db = _db()
    q = InfluxQL(influxdb_url)
    q.command(f'CREATE DATABASE "{db}"')
    ests = sample_estimates(5)
    # a string field where the sink writes floats, in the same shard (field types are per
    # shard): the real server answers 400, field type conflict
    body = f'uvvis_features,run_id=r0 a_400_au="text" {timestamp_us(ests[0].t)}'.encode()
    url = f"{influxdb_url}/write?db={db}&precision=u"
    urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST"), timeout=5).close()
    with InfluxSink(influx_config(influxdb_url, database=db, batch_size=5)) as sink:
        for e in ests:
            sink.add(e)
        assert sink.wait_drained(10)
        dead = sink._spool.deadletters()
    assert sink.deadlettered == 5 and len(dead) == 5
    assert "HTTP 400" in dead[0][1] and "field type conflict" in dead[0][1]
    assert "dead-lettered" in caplog.text


def test_outage_mid_run_every_point_arrives_once(tmp_path, private_influxd, influx_config):
    db = _db()
    cfg = influx_config(
        private_influxd.url,
        database=db,
        batch_size=50,
        max_retries=1,
        timeout_s=1.0,
        retry_interval_s=0.1,
        max_retry_delay_s=0.5,
    )
    seen = {"n": 0, "spooled_at_restart": 0}
    with InfluxSink(cfg) as sink:

        def on_message(msg, worker) -> None:
            seen["n"] += 1
            if seen["n"] == 60:  # of ~310 messages (300 spectra)
                assert sink.wait_drained(30)  # the server has had some of the run
                private_influxd.stop()
            elif seen["n"] == 240:
                deadline = time.monotonic() + 30
                while sink.failures < 2 and time.monotonic() < deadline:
                    time.sleep(0.05)
                seen["spooled_at_restart"] = sink.pending
                private_influxd.start()

        messages = _messages(seed=5, duration_s=600)
        store_path, run_id = _run(tmp_path, sink, messages, on_message)
        assert sink.wait_drained(60)
    assert seen["n"] > 240 and sink.failures >= 2 and seen["spooled_at_restart"] > 100
    n = _assert_point_for_point(private_influxd.url, db, store_path, run_id)
    assert n == sink.written  # every point once: none lost, none sent twice


def test_synthwatch_restart_drains_the_old_spool(tmp_path, private_influxd, influx_config):
    db = _db()
    private_influxd.stop()
    cfg = influx_config(private_influxd.url, database=db, batch_size=200, close_timeout_s=0.5)
    with InfluxSink(cfg) as first:
        store_path, run_id = _run(tmp_path, first, _messages(seed=7, duration_s=120))
    assert first.pending > 200 and first.written == 0  # all spooled on disk
    private_influxd.start()
    with InfluxSink(cfg) as second:  # "synthwatch restarted": a new sink over the same spool
        assert second.wait_drained(60)
    assert _assert_point_for_point(private_influxd.url, db, store_path, run_id) == second.written


def test_v1_request_shape_basic_auth_password_file(contract_server, influx_config, tmp_path):
    secret = "pa:ss w0rd\u00e9"
    pw = tmp_path / "pw"
    pw.write_text(secret + "\n")
    cfg = influx_config(
        contract_server.url,
        database="lab",
        retention_policy="one_week",
        username="writer",
        password_file=pw,
    )
    with InfluxSink(cfg) as sink:
        for e in sample_estimates(2):
            sink.add(e)
        assert sink.wait_drained(10)
    create, write = contract_server.requests
    assert create.path == "/query"
    assert urllib.parse.parse_qs(create.body.decode()) == {"q": ['CREATE DATABASE "lab"']}
    assert write.path == "/write"
    assert write.query == {"db": "lab", "rp": "one_week", "precision": "u"}
    auth = base64.b64decode(write.headers["Authorization"].removeprefix("Basic ")).decode()
    assert auth == f"writer:{secret}"
    assert secret not in repr(sink) + repr(cfg)


def test_demo_writes_to_influxdb_when_enabled(tmp_path, influxdb_url, monkeypatch, capsys):
    from synthwatch.stream.cli.main import main

    db = _db()
    for key, value in {
        "ENABLED": "true",
        "URL": influxdb_url,
        "DATABASE": db,
        "SPOOL_DIR": str(tmp_path / "spool"),
    }.items():
        monkeypatch.setenv(f"SYNTHWATCH_INFLUXDB__{key}", value)
    store_path = tmp_path / "store.sqlite"
    argv = ["--store", str(store_path), "demo", "--duration", "3m", "--speed", "max", "--quiet"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    with Store(store_path, readonly=True) as store:
        (run,) = store.runs()
    n = _assert_point_for_point(influxdb_url, db, store_path, run.run_id)
    assert f"influxdb {influxdb_url}: {n} points written, 0 spooled" in out


def test_create_database_refused_to_a_non_admin_still_writes(
    contract_server, influx_config, caplog
):
    from influx_helpers import Reply

    contract_server.query_script.append(Reply(403, body=b'{"error":"requires admin privilege"}'))
    with InfluxSink(
        influx_config(contract_server.url, username="writer", password="pw-S3CRET-9")
    ) as sink:
        for e in sample_estimates(3):
            sink.add(e)
        assert sink.wait_drained(10)
    assert [r.path for r in contract_server.requests] == ["/query", "/write"]
    assert "cannot CREATE DATABASE synthwatch (HTTP 403" in caplog.text
    assert "pw-S3CRET-9" not in caplog.text
