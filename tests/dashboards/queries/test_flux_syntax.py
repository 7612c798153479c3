"""Every Flux query of the dashboards and rules through Flux's own parser and type checker.

No InfluxDB 2 can run here, so the Flux queries cannot be executed; this at least runs them
through the Flux language server's analyser (@influxdata/flux-lsp-browser, wasm, under node):
syntax, types and builtin signatures. Optional: set FLUX_LSP_DIR to the installed package
(``npm install @influxdata/flux-lsp-browser@0.8.40`` then
``FLUX_LSP_DIR=$PWD/node_modules/@influxdata/flux-lsp-browser``); skipped otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from synthwatch.dashboards.grafana import alerting
from synthwatch.dashboards.grafana import fleet as fleet_dashboard
from synthwatch.dashboards.grafana import run as run_dashboard
from synthwatch.dashboards.grafana.provisioning import dashboard_json, to_json
from synthwatch.dashboards.queries.layout import Flavour

HERE = Path(__file__).parent


def flux_queries() -> list[tuple[str, str]]:
    found = []
    for module in (run_dashboard, fleet_dashboard):
        data = dashboard_json(module.build(Flavour.FLUX))
        for panel in data["panels"]:
            for t in panel.get("targets") or []:
                found.append((f"{panel['title']} {t['refId']}", t["query"]))
        for anno in data.get("annotations", {}).get("list", []):
            found.append((anno["name"], anno["target"]["query"]))
        for var in data.get("templating", {}).get("list", []):
            found.append((var["name"], var["query"]))
    for rule in to_json(alerting.rule_group(Flavour.FLUX, alerting.RuleSettings()))["rules"]:
        found.append((rule["uid"], rule["data"][0]["model"]["query"]))
    # Grafana replaces the dashboard variable before the query reaches InfluxDB
    return [(where, text.replace("${run}", "r-1")) for where, text in found]


def test_flux_queries_parse_and_type_check(tmp_path):
    package = os.environ.get("FLUX_LSP_DIR")
    node = shutil.which("node")
    if not package or node is None:
        pytest.skip("optional: needs node and FLUX_LSP_DIR (see the module docstring)")
    queries = flux_queries()
    assert len(queries) > 25
    path = tmp_path / "queries.json"
    path.write_text(json.dumps(queries))
    bad = [["broken", 'from(bucket: "b") |> range(strt: -1h)']]
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    check = [node, str(HERE / "flux_check.mjs"), package]
    control = subprocess.run([*check, str(tmp_path / "bad.json")], capture_output=True, text=True)
    assert control.returncode == 1, "the checker must reject a wrong argument name"
    run = subprocess.run([*check, str(path)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
