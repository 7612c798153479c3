"""Helpers of the InfluxDB tests and benchmarks: a contract server and sample estimates.

:class:`ContractServer` is a local HTTP server that stands in for InfluxDB.

It records every request (method, path, query, headers, body) and answers from a script of
:class:`Reply` objects (status, headers, delay), then 204 once the script is used up. It speaks
just enough of both APIs: ``POST /api/v2/write`` and ``POST /write`` (write), ``POST /query``
(``CREATE DATABASE``), ``GET /ping``. It is NOT InfluxDB: it does not parse line protocol, so
the contract tests check what synthwatch sends, and the real InfluxDB 1.x tests check what a
server makes of it.

A reply with ``delay_s`` longer than the client's timeout injects a timeout: the request was
received (and counts as written, as on a real server that wrote it but answered too late).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

#: the services script the tests and benchmarks start servers with
SERVICES = Path(__file__).resolve().parents[2] / "scripts" / "services.sh"


@dataclass(frozen=True)
class Reply:
    status: int = 204
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    body: bytes = b""


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    status: int
    t: float

    @property
    def lines(self) -> list[str]:
        return [x for x in self.body.decode().split("\n") if x]


class ContractServer:
    """``with ContractServer() as srv: ... srv.url ... srv.requests``."""

    WRITE_PATHS = ("/api/v2/write", "/write")

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.script: deque[Reply] = deque()
        self.query_script: deque[Reply] = deque()  # answers to POST /query
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def _answer(self, body: bytes) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                reply = Reply()
                if parts.path in ContractServer.WRITE_PATHS:
                    with server._lock:
                        if server.script:
                            reply = server.script.popleft()
                elif parts.path == "/query":
                    reply = Reply(200, {"Content-Type": "application/json"}, 0, b'{"results":[{}]}')
                    with server._lock:
                        if server.query_script:
                            reply = server.query_script.popleft()
                rec = Recorded(
                    self.command,
                    parts.path,
                    query,
                    dict(self.headers.items()),
                    body,
                    reply.status,
                    time.monotonic(),
                )
                with server._lock:
                    server.requests.append(rec)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                try:
                    self.send_response(reply.status)
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:  # the client gave up (timeout injection)
                    pass

            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                self._answer(self.rfile.read(n))

            def do_GET(self) -> None:
                self._answer(b"")

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, *replies: Reply) -> None:
        with self._lock:
            self.script.extend(replies)

    def writes(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path in self.WRITE_PATHS]

    def written_lines(self) -> list[str]:
        """Lines of every write the server answered 2xx (in arrival order)."""
        return [x for r in self.writes() if 200 <= r.status < 300 for x in r.lines]

    def __enter__(self) -> ContractServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def sample_estimates(n: int, run_id: str = "r1", t0=None, step_s: float = 2.0) -> list:
    """``n`` uvvis_features estimates of one run, ``step_s`` apart."""
    from datetime import datetime, timedelta, timezone

    from synthwatch.contract.messages import Estimate, Quantity

    t0 = t0 or datetime(2026, 3, 1, tzinfo=timezone.utc)
    return [
        Estimate(
            run_id=run_id,
            t=t0 + timedelta(seconds=i * step_s),
            sensor_id="uv1",
            seq=i,
            model="uvvis_features",
            model_version="1",
            measurement="uvvis_features",
            quantities=[
                Quantity(name="lambda_spr_nm", value=520.0 + i * 1e-3, units="nm", uncertainty=0.1),
                Quantity(name="a_400_au", value=0.01 * i, units="AU"),
            ],
        )
        for i in range(n)
    ]


class InfluxQL:
    """Minimal InfluxQL client for reading back (GET/POST /query, epoch=u)."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")

    def query(self, q: str, db: str | None = None, method: str = "GET") -> list[dict]:
        params = {"q": q, "epoch": "u"}
        if db:
            params["db"] = db
        data = urllib.parse.urlencode(params)
        if method == "GET":
            req = urllib.request.Request(f"{self.url}/query?{data}")
        else:
            req = urllib.request.Request(f"{self.url}/query", data=data.encode(), method="POST")
        with urllib.request.urlopen(req, timeout=30) as resp:
            results = json.load(resp)["results"]
        for r in results:
            if "error" in r:
                raise RuntimeError(f"InfluxQL {q!r}: {r['error']}")
        return results

    def series(self, q: str, db: str) -> list[dict]:
        """Rows of every series of ``q`` as dicts (tags included when grouped by *)."""
        rows = []
        for result in self.query(q, db):
            for s in result.get("series", []):
                for values in s["values"]:
                    row = dict(zip(s["columns"], values))
                    row.update(s.get("tags") or {})
                    row["_measurement"] = s["name"]
                    rows.append(row)
        return rows

    def command(self, q: str) -> None:
        self.query(q, method="POST")


def ping(url: str) -> bool:
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/ping", timeout=2) as resp:
            return resp.status == 204
    except (OSError, urllib.error.URLError):
        return False
