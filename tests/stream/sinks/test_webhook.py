"""Webhook delivery of alerts: retries on 503/429 with Retry-After, nothing silently dropped."""

from __future__ import annotations

import json
import socket
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from synthwatch.contract.messages import Alert, Estimate, Quantity
from synthwatch.stream.sinks.webhook import WebhookSink

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def alert(state="firing"):
    return Alert(
        run_id="r1",
        t=T0,
        rule="size_high",
        severity="critical",
        state=state,
        sensor_id="uv1",
        values={"d_mean_nm": 22.0},
        message="mean size 22 nm, above the limit 20 nm for 60 s at 12 min.",
    )


class Recorder(BaseHTTPRequestHandler):
    script: list[tuple[int, dict]] = []
    bodies: list[dict] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        status, headers = self.script.pop(0) if self.script else (200, {})
        if status == 200:
            type(self).bodies.append(body)
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    Recorder.script, Recorder.bodies = [], []
    httpd = HTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/hook"
    httpd.shutdown()


def test_alerts_are_delivered_through_503_and_429(server):
    Recorder.script = [(503, {}), (429, {"Retry-After": "0"}), (200, {})]
    with WebhookSink([server], backoff_s=0.01) as sink:
        sink.add(alert())
        sink.add(
            Estimate(
                run_id="r1",
                t=T0,
                sensor_id="uv1",
                model="m",
                model_version="1",
                measurement="psd",
                quantities=[Quantity(name="d_mean_nm", value=15.0, units="nm")],
            )
        )  # not an alert: not sent
        sink.flush()
        assert sink.delivered == 1 and sink.undelivered == 0
    (body,) = Recorder.bodies
    assert body["alert"]["rule"] == "size_high" and body["alert"]["state"] == "firing"
    assert body["text"].startswith("[critical] size_high firing (run r1, sensor uv1): mean size 22")


def test_an_unreachable_webhook_keeps_its_alerts(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    out = tmp_path / "undelivered.jsonl"
    sink = WebhookSink(
        [f"http://127.0.0.1:{port}/hook?token=secret"],
        retries=1,
        backoff_s=0.01,
        undelivered_path=out,
    )
    with sink:
        sink.add(alert())
        sink.add(alert("resolved"))
        sink.flush()
        assert sink.undelivered == 2
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["body"]["alert"]["state"] for x in lines] == ["firing", "resolved"]


def test_a_failed_delivery_is_retried_at_the_next_flush(server):
    Recorder.script = [(500, {})] * 3
    with WebhookSink([server], retries=2, backoff_s=0.01) as sink:
        sink.add(alert())
        sink.flush()
        assert sink.undelivered == 1 and Recorder.bodies == []
        sink.flush()  # the server answers 200 now
        assert sink.undelivered == 0 and len(Recorder.bodies) == 1
