"""Fixtures for the real services (scripts/services.sh) and the InfluxDB contract server.

``influxdb_url``: the InfluxDB 1.x that ``scripts/services.sh start`` runs, found in
``$SYNTHWATCH_TEST_INFLUXDB_URL`` or in ``${SYNTHWATCH_SERVICES_DIR:-<repo>/.services}/env``.
With ``CI=true`` a missing or silent server FAILS the test; otherwise it skips, saying how to
start one.

``private_influxd``: an InfluxDB 1.x of the test's own (same script, its own state directory),
which the test may stop and restart; its address stays the same across restarts.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ENV_KEY = "SYNTHWATCH_TEST_INFLUXDB_URL"
HOW = "start it with `scripts/services.sh install && scripts/services.sh start` (see README)"

if str(HERE) not in sys.path:  # influx_helpers.py beside this file
    sys.path.insert(0, str(HERE))


from influx_helpers import SERVICES, ping  # noqa: E402


def _root_conftest():
    """tests/conftest.py, loaded under a name of its own.

    pytest imports every conftest.py outside a package as the module ``conftest``, the last one
    loaded winning in ``sys.modules``; tests elsewhere write ``from conftest import ROOT`` (or
    ``source_modules``) and mean tests/conftest.py. Its helpers are re-exported below, so those
    imports keep working once this file has been loaded.
    """
    spec = importlib.util.spec_from_file_location(
        "_synthwatch_tests_conftest", HERE.parent / "conftest.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_root = _root_conftest()
FOLDERS = _root.FOLDERS
source_modules = _root.source_modules
assemble_package = _root.assemble_package
assert ROOT == _root.ROOT


def _services_dir() -> Path:
    return Path(os.environ.get("SYNTHWATCH_SERVICES_DIR") or ROOT / ".services")


def _env_file_value(key: str) -> str | None:
    path = _services_dir() / "env"
    if not path.exists():
        return None
    for line in path.read_text().splitlines():
        name, _, value = line.partition("=")
        if name.strip() == key:
            return value.strip()
    return None


def _unavailable(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}; {HOW}", pytrace=False)
    pytest.skip(f"{reason}; {HOW}")


@pytest.fixture(scope="session")
def influxdb_url() -> str:
    url = os.environ.get(ENV_KEY) or _env_file_value(ENV_KEY)
    if not url:
        _unavailable(f"no InfluxDB 1.x address (${ENV_KEY} or {_services_dir()}/env)")
    if not ping(url):
        _unavailable(f"InfluxDB at {url} does not answer /ping")
    return url


class PrivateInfluxd:
    """An influxd of one test, run by scripts/services.sh in its own state directory."""

    def __init__(self, state_dir: Path):
        self.env = {**os.environ, "SYNTHWATCH_SERVICES_DIR": str(state_dir)}
        self.state_dir = state_dir
        self.url = ""

    def _run(self, action: str) -> None:
        proc = subprocess.run(
            ["bash", str(SERVICES), action, "influxdb"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"services.sh {action} influxdb: {proc.stderr.strip()}")

    def start(self) -> str:
        self._run("start")
        env = (self.state_dir / "env").read_text()
        url = env.split(f"{ENV_KEY}=", 1)[1].split()[0]
        assert not self.url or url == self.url, "a restarted influxd keeps its address"
        self.url = url
        return url

    def stop(self) -> None:
        self._run("stop")


@pytest.fixture
def private_influxd(tmp_path):
    if subprocess.run(["bash", "-c", "command -v influxd"], capture_output=True).returncode:
        _unavailable("influxd is not installed")
    server = PrivateInfluxd(tmp_path / "services")
    try:
        server.start()
    except RuntimeError as err:
        _unavailable(str(err))
    yield server
    server.stop()


@pytest.fixture
def contract_server():
    from influx_helpers import ContractServer

    with ContractServer() as server:
        yield server


@pytest.fixture
def influx_config(tmp_path):
    """Factory of an enabled InfluxConfig with a private spool and fast retries."""
    from synthwatch.contract.config import InfluxConfig

    def make(url: str, **kw) -> InfluxConfig:
        base = dict(
            enabled=True,
            url=url,
            spool_dir=tmp_path / "spool",
            batch_size=100,
            flush_interval_s=0.05,
            timeout_s=2.0,
            max_retries=2,
            retry_interval_s=0.05,
            max_retry_delay_s=0.2,
            close_timeout_s=5.0,
        )
        base.update(kw)
        return InfluxConfig(**base)

    return make


# -- Kafka (scripts/services.sh start kafka) ---------------------------------------------------

KAFKA_ENV_KEY = "SYNTHWATCH_TEST_KAFKA_BOOTSTRAP"


def kafka_answers(bootstrap: str, timeout_s: float = 5.0) -> bool:
    """True when a Kafka broker at ``bootstrap`` answers a metadata request."""
    from kafka import KafkaConsumer
    from kafka.errors import KafkaError

    try:
        consumer = KafkaConsumer(bootstrap_servers=[bootstrap], request_timeout_ms=5000)
    except KafkaError:
        return False
    try:
        return consumer.topics() is not None
    except KafkaError:
        return False
    finally:
        consumer.close()


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """host:port of the broker that ``scripts/services.sh start kafka`` runs."""
    bootstrap = os.environ.get(KAFKA_ENV_KEY) or _env_file_value(KAFKA_ENV_KEY)
    if not bootstrap:
        _unavailable(f"no Kafka address (${KAFKA_ENV_KEY} or {_services_dir()}/env)")
    if not kafka_answers(bootstrap):
        _unavailable(f"Kafka at {bootstrap} does not answer")
    return bootstrap


class PrivateKafka:
    """A Kafka broker of one test, run by scripts/services.sh in its own state directory."""

    def __init__(self, state_dir: Path):
        self.env = {**os.environ, "SYNTHWATCH_SERVICES_DIR": str(state_dir)}
        self.state_dir = state_dir
        self.bootstrap = ""

    def _run(self, action: str) -> None:
        proc = subprocess.run(
            ["bash", str(SERVICES), action, "kafka"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"services.sh {action} kafka: {proc.stderr.strip()}")

    def start(self) -> str:
        self._run("start")
        env = (self.state_dir / "env").read_text()
        bootstrap = env.split(f"{KAFKA_ENV_KEY}=", 1)[1].split()[0]
        assert not self.bootstrap or bootstrap == self.bootstrap, "a restart keeps its address"
        self.bootstrap = bootstrap
        return bootstrap

    def stop(self) -> None:
        self._run("stop")


@pytest.fixture
def private_kafka(tmp_path):
    """A broker the test may stop and restart (same address, same data)."""
    server = PrivateKafka(tmp_path / "services")
    try:
        server._run("install")
        server.start()
    except RuntimeError as err:
        _unavailable(str(err))
    yield server
    server.stop()
