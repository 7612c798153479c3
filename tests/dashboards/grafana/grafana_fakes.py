"""Helpers of the dashboards tests: a recording stand-in for Grafana's HTTP API, and the check
that a query reads only what the InfluxDB sink writes. (A plain module, not a conftest.py: the
suite's tests import helpers with ``from conftest import ...``, which a second conftest would
shadow.)"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

from synthwatch.dashboards.queries.layout import MEASUREMENTS, TAGS


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeGrafana:
    """Answers like Grafana 11 for the endpoints ``dashboards push`` uses, and records them.

    ``token``: the only accepted bearer token (401 otherwise). ``fail``: (method, path prefix)
    → (status, message) to inject an error. ``folders`` and ``contact_points``: server state.
    """

    token: str = "glsa_test_token_0123456789"
    fail: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    folders: dict[str, dict] = field(default_factory=dict)
    contact_points: list[dict] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)
    url: str = ""

    def answer(self, method: str, path: str, headers: dict[str, str], body: Any):
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"message": "Invalid API key"}
        for (m, prefix), (status, message) in self.fail.items():
            if m == method and path.startswith(prefix):
                return status, {"message": message}
        if method == "GET" and path.startswith("/api/folders/"):
            uid = path.rsplit("/", 1)[1]
            if uid in self.folders:
                return 200, self.folders[uid]
            return 404, {"message": "folder not found", "status": "not-found"}
        if method == "POST" and path == "/api/folders":
            if not isinstance(body, dict) or "title" not in body:
                return 400, {"message": "bad request data"}
            folder = {"id": len(self.folders) + 1, "uid": body.get("uid"), "title": body["title"]}
            self.folders[folder["uid"]] = folder
            return 200, folder
        if method == "POST" and path == "/api/dashboards/db":
            dash = body["dashboard"]
            if body.get("folderUid") not in self.folders:
                return 400, {"message": "folder not found"}
            self.versions[dash["uid"]] = self.versions.get(dash["uid"], 0) + 1
            return 200, {
                "id": 1,
                "uid": dash["uid"],
                "status": "success",
                "version": self.versions[dash["uid"]],
                "url": f"/d/{dash['uid']}",
            }
        if method == "PUT" and path.startswith("/api/v1/provisioning/folder/"):
            return 200, body
        if method == "GET" and path == "/api/v1/provisioning/contact-points":
            return 200, self.contact_points
        if method == "POST" and path == "/api/v1/provisioning/contact-points":
            self.contact_points.append(body)
            return 202, body
        if method == "PUT" and path.startswith("/api/v1/provisioning/contact-points/"):
            return 202, body
        if method == "PUT" and path == "/api/v1/provisioning/policies":
            return 202, {"message": "policies updated"}
        return 404, {"message": f"no such endpoint in the fake: {method} {path}"}

    def paths(self) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.requests]


def _handler(fake: FakeGrafana):
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            headers = {k.lower(): v for k, v in self.headers.items()}
            path = self.path.split("?", 1)[0]
            fake.requests.append(Recorded(self.command, path, headers, body))
            status, payload = fake.answer(self.command, path, headers, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

    return Handler


@contextlib.contextmanager
def fake_grafana() -> Iterator[FakeGrafana]:
    """A :class:`FakeGrafana` serving on a free port of 127.0.0.1 (``.url``)."""
    fake = FakeGrafana()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    server.shutdown()
    server.server_close()


# --- what a query reads -------------------------------------------------------------------

_FLUX_COLUMNS = {"_time", "_value", "_field", "_measurement", "_start", "_stop"}
#: Columns the Flux queries make themselves (not read from the sink).
_FLUX_OWN = {"stopped"}


def _known(measurements: list[str], name: str) -> bool:
    tags = set(TAGS)
    for m in measurements:
        tags |= set(MEASUREMENTS[m].tags)
    return name in tags or any(MEASUREMENTS[m].has_field(name) for m in measurements)


def unknown_references(query: str) -> list[str]:
    """Measurements, fields and tags the query names that the sink does not write."""
    problems: list[str] = []
    if query.lstrip().startswith(("SELECT", "SHOW")):
        aliases = set(re.findall(r'AS "([^"]+)"', query))
        measurements = re.findall(r'FROM "([^"]+)"', query)
        names = set(re.findall(r'"([^"]+)"', query)) - aliases - set(measurements)
        prefixes = re.findall(r"\(/\^([a-z]\w*?)\(", query)
    else:
        measurements = re.findall(r'r\._measurement == "([^"]+)"', query)
        names = set(re.findall(r'r\._field == "([^"]+)"', query))
        names |= set(re.findall(r"\b[lr]\.([A-Za-z_]\w*)", query)) - _FLUX_COLUMNS - _FLUX_OWN
        names |= {"run_id"} if "${run}" in query or 'tag: "run_id"' in query else set()
        prefixes = re.findall(r"r\._field =~ /\^([a-z]\w*?)\(", query)
    for m in measurements:
        if m not in MEASUREMENTS:
            problems.append(f"measurement {m!r}")
    known = [m for m in measurements if m in MEASUREMENTS]
    for name in names:
        if not _known(known, name):
            problems.append(f"field or tag {name!r} of {known}")
    for prefix in prefixes:
        if not any(MEASUREMENTS[m].has_field(prefix + "_x") for m in known):
            problems.append(f"field prefix {prefix!r} of {known}")
    return problems


def dashboard_queries(data: dict) -> list[tuple[str, dict]]:
    """(where, query object) of every query in a dashboard's JSON."""
    found = []
    for panel in data["panels"]:
        for target in panel.get("targets") or []:
            found.append((f"panel {panel['title']!r} {target['refId']}", target))
    for anno in data.get("annotations", {}).get("list", []):
        if "query" in (anno.get("target") or {}):
            found.append((f"annotation {anno['name']!r}", anno["target"]))
    for var in data.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            found.append((f"variable {var['name']!r}", {"query": var["query"]}))
    return found
