"""Grafana provisioning files from the dashboards and alerting objects.

:func:`build_bundle` makes everything for one data-source flavour: the two dashboards' JSON,
the rule group, contact point and notification policy (the SDK's HTTP-API models).
:func:`write_tree` writes what Grafana reads at start from ``/etc/grafana/provisioning``::

    DIR/dashboards/synthwatch.yaml           the dashboards provider (apiVersion 1)
    DIR/dashboards/json/synthwatch-*.json    the dashboards
    DIR/datasources/synthwatch.yaml          the InfluxDB data source (uid synthwatch-influxdb)
    DIR/alerting/synthwatch.yaml             groups, contactPoints, policies (apiVersion 1)

Secrets are never written: the data-source file refers to environment variables that Grafana
substitutes when it reads the file (``$INFLUXDB_TOKEN``, ...; docker/grafana.env.example).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from synthwatch.dashboards.grafana import alerting
from synthwatch.dashboards.grafana import fleet as fleet_dashboard
from synthwatch.dashboards.grafana import run as run_dashboard
from synthwatch.dashboards.queries.datasource import register
from synthwatch.dashboards.queries.layout import (
    DATASOURCE_TYPE,
    DATASOURCE_UID,
    DEFAULT_BUCKET,
    DEFAULT_INFLUX_URL,
    Flavour,
)

#: Where the compose stack mounts the exported tree in the Grafana container.
CONTAINER_DIR = "/etc/grafana/provisioning"
#: Environment variables Grafana substitutes into the data-source file (docker/grafana.env).
ENV_ORG = "$INFLUXDB_ORG"
ENV_TOKEN = "$INFLUXDB_TOKEN"
ENV_USER = "$INFLUXDB_USER"
ENV_PASSWORD = "$INFLUXDB_PASSWORD"


def to_json(obj: Any) -> Any:
    """An SDK object as plain JSON data (through the SDK's own encoder)."""
    return json.loads(json.dumps(obj, cls=JSONEncoder))


def dashboard_json(builder: db.Dashboard) -> dict[str, Any]:
    """The dashboard's JSON with every panel numbered (Grafana needs unique panel ids)."""
    data = to_json(builder.build())
    for number, panel in enumerate(data["panels"], start=1):
        panel["id"] = number
    return data


@dataclass
class Bundle:
    """Everything synthwatch provisions into Grafana, for one flavour."""

    flavour: Flavour
    bucket: str
    dashboards: dict[str, dict[str, Any]]
    rule_group: dict[str, Any]
    contact_point: dict[str, Any]
    policy: dict[str, Any]
    folder_uid: str = alerting.FOLDER_UID
    folder_title: str = alerting.FOLDER_TITLE


def build_bundle(
    flavour: Flavour,
    settings: alerting.RuleSettings | None = None,
    webhook_url: str | None = None,
) -> Bundle:
    register()
    settings = settings or alerting.RuleSettings()
    bucket = settings.bucket
    dashboards = {
        m.UID: dashboard_json(m.build(flavour, bucket)) for m in (run_dashboard, fleet_dashboard)
    }
    return Bundle(
        flavour=flavour,
        bucket=bucket,
        dashboards=dashboards,
        rule_group=to_json(alerting.rule_group(flavour, settings)),
        contact_point=to_json(alerting.contact_point(webhook_url or alerting.WEBHOOK_ENV)),
        policy=to_json(alerting.notification_policy()),
    )


_RULE_KEYS = (
    "uid",
    "title",
    "condition",
    "data",
    "noDataState",
    "execErrState",
    "for",
    "annotations",
    "labels",
    "isPaused",
)


def _duration_text(seconds: int) -> str:
    return f"{seconds // 60}m" if seconds % 60 == 0 else f"{seconds}s"


def alerting_file(bundle: Bundle, org_id: int = 1) -> dict[str, Any]:
    """The alerting provisioning file: the HTTP-API objects mapped to the file shape."""
    group = bundle.rule_group
    rules = [{k: rule[k] for k in _RULE_KEYS if k in rule} for rule in group["rules"]]
    cp = bundle.contact_point
    receiver = {k: cp[k] for k in ("uid", "type", "settings", "disableResolveMessage") if k in cp}
    return {
        "apiVersion": 1,
        "groups": [
            {
                "orgId": org_id,
                "name": group["title"] if "title" in group else alerting.GROUP,
                "folder": bundle.folder_title,
                "interval": _duration_text(int(group["interval"])),
                "rules": rules,
            }
        ],
        "contactPoints": [{"orgId": org_id, "name": cp["name"], "receivers": [receiver]}],
        "policies": [{"orgId": org_id, **bundle.policy}],
    }


def datasource_file(
    flavour: Flavour, url: str = DEFAULT_INFLUX_URL, bucket: str = DEFAULT_BUCKET
) -> dict[str, Any]:
    """The InfluxDB data source, credentials by environment reference only."""
    source: dict[str, Any] = {
        "name": "synthwatch InfluxDB",
        "uid": DATASOURCE_UID,
        "type": DATASOURCE_TYPE,
        "access": "proxy",
        "url": url,
        "isDefault": True,
        "editable": True,
    }
    if flavour is Flavour.FLUX:
        source["jsonData"] = {
            "version": "Flux",
            "organization": ENV_ORG,
            "defaultBucket": bucket,
            "httpMode": "POST",
        }
        source["secureJsonData"] = {"token": ENV_TOKEN}
    else:
        source["jsonData"] = {"version": "InfluxQL", "dbName": bucket, "httpMode": "POST"}
        source["user"] = ENV_USER
        source["secureJsonData"] = {"password": ENV_PASSWORD}
    return {"apiVersion": 1, "datasources": [source]}


def provider_file(container_dir: str = CONTAINER_DIR) -> dict[str, Any]:
    """The dashboards provider: load the JSON files into the synthwatch folder."""
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "synthwatch",
                "orgId": 1,
                "folder": alerting.FOLDER_TITLE,
                "folderUid": alerting.FOLDER_UID,
                "type": "file",
                "disableDeletion": False,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 30,
                "options": {"path": f"{container_dir}/dashboards/json"},
            }
        ],
    }


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the queries) as literal blocks, so the files read like the code."""


def _str(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _str)


def _yaml(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_tree(
    directory: Path,
    bundle: Bundle,
    *,
    influx_url: str = DEFAULT_INFLUX_URL,
    container_dir: str = CONTAINER_DIR,
) -> list[Path]:
    """Write the provisioning tree under ``directory``; returns the files written."""
    directory = Path(directory)
    written = [
        _yaml(directory / "dashboards" / "synthwatch.yaml", provider_file(container_dir)),
        _yaml(
            directory / "datasources" / "synthwatch.yaml",
            datasource_file(bundle.flavour, influx_url, bundle.bucket),
        ),
        _yaml(directory / "alerting" / "synthwatch.yaml", alerting_file(bundle)),
    ]
    json_dir = directory / "dashboards" / "json"
    json_dir.mkdir(parents=True, exist_ok=True)
    for uid, data in bundle.dashboards.items():
        path = json_dir / f"{uid}.json"
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written
