"""CONTRACT tests of the v2 write path (InfluxDB 2.x cannot be installed here).

The sink writes to a local HTTP server (tests/stream/influx_helpers.py) that records every
request and injects 429 with Retry-After, 503, timeouts, 400 and 401. These tests check what
synthwatch sends and how it reacts; they do not prove what an InfluxDB 2 server makes of it (the
v1 path is tested against a real InfluxDB 1.x in test_influx_v1.py, with the same line protocol).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import pytest
from influx_helpers import Reply, sample_estimates

from synthwatch.contract.config import ConfigError
from synthwatch.contract.messages import Alert, RunStart
from synthwatch.stream.sinks.influx import InfluxSink
from synthwatch.stream.sinks.influx_points import alert_lines, estimate_lines

TOKEN = "s3cr3t-T0ken-never-shown"
T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)


def _v2(influx_config, server, **kw):
    return influx_config(server.url, api="v2", token=TOKEN, org="lab", bucket="runs", **kw)


def _expected(ests, reactor="R1") -> list[str]:
    return [x for e in ests for x in estimate_lines(e, reactor)]


def test_v2_request_shape_token_precision_and_lines(contract_server, influx_config):
    ests = sample_estimates(5)
    alert = Alert(
        run_id="r1", t=T0, rule="no_data", severity="critical", state="firing", message="silent"
    )
    with InfluxSink(_v2(influx_config, contract_server)) as sink:
        sink.add(RunStart(run_id="r1", t=T0, reactor="R1", system="Au-citrate"))
        for e in ests:
            sink.add(e)
        sink.add(alert)
        assert sink.wait_drained(10)
    (req,) = contract_server.writes()
    assert req.method == "POST" and req.path == "/api/v2/write"
    assert req.query == {"org": "lab", "bucket": "runs", "precision": "us"}
    assert req.headers["Authorization"] == f"Token {TOKEN}"
    assert req.headers["Content-Type"].startswith("text/plain")
    assert req.lines == _expected(ests) + alert_lines(alert, "R1")


def test_429_retry_after_is_honoured_and_points_arrive_once(contract_server, influx_config):
    contract_server.add(Reply(429, {"Retry-After": "1"}), Reply(204))
    ests = sample_estimates(3)
    with InfluxSink(_v2(influx_config, contract_server)) as sink:
        for e in ests:
            sink.add(e)
        assert sink.wait_drained(10)
    first, second = contract_server.writes()
    assert (first.status, second.status) == (429, 204)
    assert second.t - first.t >= 0.95  # waited Retry-After: 1 (the retry interval is 0.05 s)
    assert contract_server.written_lines() == _expected(ests, reactor=None)


def test_503_and_timeouts_are_retried(contract_server, influx_config):
    contract_server.add(Reply(503), Reply(204, delay_s=1.5), Reply(204))
    ests = sample_estimates(4)
    with InfluxSink(_v2(influx_config, contract_server, timeout_s=0.5, max_retries=3)) as sink:
        for e in ests:
            sink.add(e)
        assert sink.wait_drained(15)
        assert sink.failures == 0  # all within one request's retries
    statuses = [r.status for r in contract_server.writes()]
    assert statuses == [503, 204, 204]
    # the timed-out request reached the server too: the rewrite is the same points (idempotent)
    lines = contract_server.written_lines()
    assert lines == _expected(ests, None) * 2


def test_outage_longer_than_the_retries_keeps_points_and_drains_in_order(
    contract_server, influx_config
):
    contract_server.add(*[Reply(503)] * 9)  # 3 requests x (1 + 2 retries)
    ests = sample_estimates(50)
    with InfluxSink(_v2(influx_config, contract_server, batch_size=10)) as sink:
        for e in ests:
            sink.add(e)
        assert sink.wait_drained(20)
        assert sink.failures == 3 and sink.written == 50
    assert contract_server.written_lines() == _expected(ests, None)  # once each, in order


def test_400_is_dead_lettered_and_the_next_batches_go_on(contract_server, influx_config, caplog):
    contract_server.add(Reply(400, body=b'{"code":"invalid","message":"bad line 1"}'))
    ests = sample_estimates(20)
    with InfluxSink(_v2(influx_config, contract_server, batch_size=10)) as sink:
        for e in ests[:10]:
            sink.add(e)
        sink.flush()
        for e in ests[10:]:
            sink.add(e)
        assert sink.wait_drained(10)
        assert sink.deadlettered == 10
        dead = sink._spool.deadletters()
    assert [line for line, _ in dead] == _expected(ests[:10], None)
    assert "HTTP 400" in dead[0][1] and "bad line 1" in dead[0][1]
    assert contract_server.written_lines() == _expected(ests[10:], None)
    assert "10 points dead-lettered" in caplog.text


def test_secrets_never_in_logs_repr_or_errors(contract_server, influx_config, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    contract_server.add(*[Reply(401, body=b'{"code":"unauthorized"}')] * 2)
    cfg = influx_config(
        contract_server.url, api="v2", token_file=token_file, org="lab", bucket="runs"
    )
    with InfluxSink(cfg) as sink:
        for e in sample_estimates(3):
            sink.add(e)
        assert sink.wait_drained(10)  # 401 twice (kept, retried later), then 204
        assert sink.failures == 2
        text = repr(sink) + repr(cfg) + str(cfg.model_dump())
    assert contract_server.writes()[0].headers["Authorization"] == f"Token {TOKEN}"
    assert "HTTP 401" in caplog.text
    assert TOKEN not in caplog.text and TOKEN not in text


def test_v2_needs_token_and_org(influx_config, tmp_path):
    with pytest.raises(ConfigError, match="influxdb.token"):
        InfluxSink(influx_config("http://127.0.0.1:1", api="v2", org="lab"))
    with pytest.raises(ConfigError, match="influxdb.org"):
        InfluxSink(influx_config("http://127.0.0.1:1", api="v2", token="x"))
    missing = tmp_path / "nope"
    sink = InfluxSink(influx_config("http://127.0.0.1:1", api="v2", org="o", token_file=missing))
    with pytest.raises(ConfigError, match=f"influxdb.token_file: cannot read {missing}"):
        sink.setup()
