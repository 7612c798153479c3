"""``synthwatch dashboards export``: a provisioning tree Grafana can load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from synthwatch.dashboards.grafana.provisioning import CONTAINER_DIR, alerting_file, build_bundle
from synthwatch.dashboards.queries.layout import DATASOURCE_UID, Flavour
from synthwatch.stream.cli.main import main

RULE_FILE_KEYS = {"uid", "title", "condition", "data", "noDataState", "execErrState", "for"}


def _export(tmp_path: Path, *extra: str) -> Path:
    out = tmp_path / "provisioning"
    assert main(["dashboards", "export", str(out), *extra]) == 0
    return out


@pytest.mark.parametrize("flavour", list(Flavour))
def test_export_writes_a_loadable_tree(tmp_path, flavour, capsys):
    out = _export(tmp_path, "--flavour", flavour.value)
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == [
        "alerting/synthwatch.yaml",
        "dashboards/json/synthwatch-fleet.json",
        "dashboards/json/synthwatch-run.json",
        "dashboards/synthwatch.yaml",
        "datasources/synthwatch.yaml",
    ]
    assert "wrote 5 Grafana provisioning files" in capsys.readouterr().out

    provider = yaml.safe_load((out / "dashboards/synthwatch.yaml").read_text())
    assert provider["apiVersion"] == 1
    (p,) = provider["providers"]
    assert p["type"] == "file" and {"name", "orgId", "folder", "options"} <= set(p)
    assert p["options"]["path"] == f"{CONTAINER_DIR}/dashboards/json"

    sources = yaml.safe_load((out / "datasources/synthwatch.yaml").read_text())
    (ds,) = sources["datasources"]
    assert ds["uid"] == DATASOURCE_UID and ds["type"] == "influxdb"
    secrets = json.dumps(ds.get("secureJsonData"))
    assert "$" in secrets  # a reference to the environment, never the secret itself
    expected = "Flux" if flavour is Flavour.FLUX else "InfluxQL"
    assert ds["jsonData"]["version"] == expected

    for path in (out / "dashboards/json").glob("*.json"):
        data = json.loads(path.read_text())
        assert data["uid"] == path.stem and data["title"]
        used = {t["datasource"]["uid"] for p in data["panels"] for t in p.get("targets") or []}
        assert used == {DATASOURCE_UID}

    rules = yaml.safe_load((out / "alerting/synthwatch.yaml").read_text())
    assert rules["apiVersion"] == 1
    (group,) = rules["groups"]
    assert {"orgId", "name", "folder", "interval", "rules"} <= set(group)
    for rule in group["rules"]:
        assert RULE_FILE_KEYS <= set(rule)
        assert not {"folderUID", "ruleGroup", "orgID"} & set(rule)  # HTTP-API-only keys
        for query in rule["data"]:
            assert {"refId", "datasourceUid", "model", "relativeTimeRange"} <= set(query)
    (cp,) = rules["contactPoints"]
    assert cp["receivers"][0]["type"] == "webhook"
    (policy,) = rules["policies"]
    assert policy["receiver"] == cp["name"]


def test_queries_survive_yaml_unchanged(tmp_path):
    out = _export(tmp_path, "--flavour", "influxql")
    loaded = yaml.safe_load((out / "alerting/synthwatch.yaml").read_text())
    assert loaded == alerting_file(build_bundle(Flavour.INFLUXQL))


def test_bucket_and_spec_options_reach_the_files(tmp_path):
    out = _export(tmp_path, "--bucket", "lab_a", "--size-min-nm", "10", "--size-max-nm", "20")
    text = (out / "alerting/synthwatch.yaml").read_text()
    assert 'from(bucket: "lab_a")' in text
    assert "- 10.0\n" in text and "- 20.0\n" in text
    assert "defaultBucket: lab_a" in (out / "datasources/synthwatch.yaml").read_text()


def test_export_errors_are_one_line(tmp_path, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert main(["dashboards", "export", str(a_file)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a directory" in err
    assert main(["dashboards", "export", str(tmp_path), "--size-min-nm", "90"]) == 2
    assert "size_min_nm < size_max_nm" in capsys.readouterr().err
    assert main(["dashboards", "export", str(tmp_path), "--flavour", "sql"]) == 2
    assert "invalid choice" in capsys.readouterr().err
    assert main(["dashboards", "export", str(tmp_path), "--influx-url", "influxdb:8086"]) == 2
    assert "--influx-url: expected http(s)://host" in capsys.readouterr().err


def test_the_subcommand_is_required(capsys):
    assert main(["dashboards"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "{export,push}" in err
