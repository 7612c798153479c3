"""Configuration: one TOML file with environment overrides, validated field by field.

Where settings come from, later ones winning:

1. the embedded defaults (these classes),
2. the TOML file given by ``--config``, else ``$SYNTHWATCH_CONFIG``, else ``./synthwatch.toml``
   if it exists,
3. environment variables ``SYNTHWATCH_<SECTION>__<KEY>``, e.g.
   ``SYNTHWATCH_STORE__PATH=/data/sw.sqlite`` or ``SYNTHWATCH_WORKER__REORDER_WINDOW_S=5``.

A bad value is refused with an error naming the file (or variable), the field and what was
expected.

>>> cfg = load_config(env={"SYNTHWATCH_WORKER__REORDER_WINDOW_S": "5"}, path=None)
>>> cfg.worker.reorder_window_s
5.0
>>> try:
...     load_config(env={"SYNTHWATCH_WORKER__REORDER_WINDOW_S": "-1"}, path=None)
... except ConfigError as err:
...     for part in str(err).split(": "):
...         print(part)
environment SYNTHWATCH_WORKER__REORDER_WINDOW_S
worker.reorder_window_s
Input should be greater than or equal to 0 (got '-1')
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal, Mapping

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from synthwatch.contract.errors import SynthwatchError

ENV_PREFIX = "SYNTHWATCH_"
DEFAULT_FILE = "synthwatch.toml"


class ConfigError(SynthwatchError, ValueError):
    """A configuration value that cannot be used; the message says where and why."""


def default_data_dir() -> Path:
    """``$SYNTHWATCH_HOME``, else ``$XDG_DATA_HOME/synthwatch``, else
    ``~/.local/share/synthwatch``."""
    if home := os.environ.get("SYNTHWATCH_HOME"):
        return Path(home)
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "synthwatch"


def _comma_separated(value: Any) -> Any:
    """A list from a comma-separated string (as the environment gives lists); else ``value``."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class StoreConfig(_Section):
    path: Path = Field(
        default_factory=lambda: default_data_dir() / "store.sqlite",
        description="The embedded store (SQLite file).",
    )
    commit_interval_s: float = Field(
        default=0.5, gt=0, le=1.0, description="Longest time between commits (≤ 1 s)."
    )

    @field_validator("path")
    @classmethod
    def _expand_user(cls, value: Path) -> Path:
        return value.expanduser()


class WorkerConfig(_Section):
    reorder_window_s: float = Field(
        default=2.0, ge=0, le=3600, description="Event-time wait for out-of-order readings."
    )
    max_batch: int = Field(default=500, ge=1, description="Records handled per poll.")


class TransportConfig(_Section):
    kind: Literal["memory", "kafka"] = Field(
        default="memory", description="'memory' (embedded, no server) or 'kafka' (see [kafka])."
    )


class ModelsConfig(_Section):
    """``[models]``: the models' switches and parameters, taken as given here.

    The models declare their keys themselves, next to their classes
    (:func:`synthwatch.models.declare.setting`), and this layer sits below them, so it only
    checks that each value is a plain bool, number or string; the runtime validates the section
    against the declarations (``synthwatch.stream.runtime.catalog.settings_from_config``), naming
    the file or variable a bad key came from (:meth:`Config.source_of`).
    """

    model_config = ConfigDict(extra="allow", validate_assignment=True)
    __pydantic_extra__: dict[str, bool | int | float | str]


class DemoConfig(_Section):
    seed: int = Field(default=0, ge=0, description="Simulator seed.")
    duration_s: float = Field(
        default=7200.0,
        gt=0,
        le=7 * 86400,
        description="Simulated time; when not set, the scenario's (2 h, 24 h for silica).",
    )
    speed: float = Field(
        default=1000.0,
        ge=0,
        description="Simulated seconds per wall second; 0 = as fast as possible.",
    )
    interval_s: float = Field(
        default=2.0,
        gt=0,
        description="Seconds between readings; when not set, the scenario's (2 s; 60 s silica).",
    )
    scenario: Literal["gold", "silver", "gold-rods", "gold-aggregating", "silica"] = Field(
        default="gold",
        description=(
            "What to simulate (collectors/sim/scenarios.py; silica: collectors/sim/stober.py)."
        ),
    )
    d_final_nm: float | None = Field(
        default=None, ge=5, le=100, description="Final mean diameter; default: the scenario's."
    )


class AlertsConfig(_Section):
    enabled: bool = Field(default=True, description="Run the alert engine on every run.")
    rules_file: Path | None = Field(
        default=None,
        description="TOML file of [[rule]] tables (models/alerts/rules.py); none: the defaults.",
    )
    default_rules: bool = Field(
        default=True, description="Keep the built-in rules (stale data, saturation, bubbles...)."
    )
    golden_dir: Path = Field(
        default_factory=lambda: default_data_dir() / "golden",
        description="Golden-batch envelopes, one <recipe>.json each (synthwatch golden build).",
    )
    webhooks: list[str] = Field(
        default_factory=list, description="URLs that receive every alert as JSON (POST)."
    )
    webhook_timeout_s: float = Field(default=5.0, gt=0, le=60, description="Per request.")
    webhook_retries: int = Field(default=5, ge=0, le=20, description="Retries per alert.")

    @field_validator("webhooks", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return _comma_separated(value)

    @field_validator("webhooks")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"expected http:// or https:// URLs, got {url!r}")
        return value


class InfluxConfig(_Section):
    """The InfluxDB sink (stream/sinks/influx.py): v1 ``/write`` (InfluxDB 1.x) or v2
    (influxdb-client).

    Secrets come from the environment (``SYNTHWATCH_INFLUXDB__TOKEN``,
    ``SYNTHWATCH_INFLUXDB__PASSWORD``) or from files (``token_file``, ``password_file``), and are
    never shown in repr, logs or errors.
    """

    enabled: bool = Field(default=False, description="Write results to InfluxDB too.")
    api: Literal["v1", "v2"] = Field(
        default="v1", description="'v1': /write of InfluxDB 1.x; 'v2': InfluxDB 2.x API."
    )
    url: str = Field(
        default="http://127.0.0.1:8086",
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        description="Server URL, http(s)://host:port.",
    )
    database: str = Field(
        default="synthwatch",
        pattern=r"^[A-Za-z0-9_.\-]{1,64}$",
        description="v1: database (letters, digits, '_', '.', '-').",
    )
    retention_policy: str = Field(default="", description="v1: retention policy ('' = default).")
    username: str = Field(default="", description="v1: user ('' = no authentication).")
    password: SecretStr | None = Field(default=None, description="v1: password.")
    password_file: Path | None = Field(default=None, description="v1: file holding the password.")
    create_database: bool = Field(
        default=True, description="v1: CREATE DATABASE (idempotent) before the first write."
    )
    token: SecretStr | None = Field(default=None, description="v2: API token.")
    token_file: Path | None = Field(default=None, description="v2: file holding the token.")
    org: str = Field(default="", description="v2: organization.")
    bucket: str = Field(default="synthwatch", min_length=1, description="v2: bucket.")
    batch_size: int = Field(default=1000, ge=1, le=100_000, description="Points per write.")
    flush_interval_s: float = Field(
        default=1.0, gt=0, le=3600, description="Longest time a point waits before its write."
    )
    timeout_s: float = Field(default=10.0, gt=0, le=600, description="HTTP timeout per request.")
    max_retries: int = Field(
        default=3, ge=0, le=100, description="Retries of one request (429, 503, timeouts)."
    )
    retry_interval_s: float = Field(default=1.0, gt=0, description="First retry delay, s.")
    max_retry_delay_s: float = Field(default=30.0, gt=0, description="Longest retry delay, s.")
    exponential_base: float = Field(default=2.0, ge=1, description="Backoff growth per retry.")
    spool_dir: Path = Field(
        default_factory=lambda: default_data_dir() / "influx-spool",
        description="Disk spool of points not yet written (kept across restarts).",
    )
    max_spool_points: int = Field(
        default=20_000_000, ge=1, description="Spool size at which the sink pushes back."
    )
    write_distribution: bool = Field(
        default=True, description="Write each distribution bin as a point (psd heatmaps)."
    )
    close_timeout_s: float = Field(
        default=10.0, ge=0, le=3600, description="On close, how long to keep draining the spool."
    )

    @field_validator("url")
    @classmethod
    def _no_credentials_in_url(cls, value: str) -> str:
        if "@" in value.split("://", 1)[1].split("/", 1)[0]:
            raise ValueError(
                "credentials do not go in the URL (it is logged): use username and password "
                "(or password_file), or token (or token_file)"
            )
        return value

    @field_validator("spool_dir", "password_file", "token_file")
    @classmethod
    def _expand_user(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser()

    @model_validator(mode="after")
    def _check_api(self) -> InfluxConfig:
        if self.password is not None and self.password_file is not None:
            raise ValueError("password, password_file: give one of them, not both")
        if self.token is not None and self.token_file is not None:
            raise ValueError("token, token_file: give one of them, not both")
        # that api 'v2' has a token and an org is checked by the sink (InfluxSink), once every
        # source of settings has been read
        return self


class KafkaConfig(_Section):
    """The Kafka transport (stream/transport/kafka_topics.py) of ``synthwatch collect`` and
    ``work``.

    TLS and SASL settings go to kafka-python as they are. Secrets come from the environment
    (``SYNTHWATCH_KAFKA__SASL_PASSWORD``, ``SYNTHWATCH_KAFKA__SSL_PASSWORD``) or from files
    (``sasl_password_file``, ``ssl_password_file``), and are never shown in repr, logs or errors.
    """

    bootstrap_servers: list[str] = Field(
        default_factory=lambda: ["127.0.0.1:9092"],
        description="Brokers, host:port (comma-separated in the environment).",
    )
    client_id: str = Field(default="synthwatch", min_length=1, description="Client id prefix.")
    group_id: str = Field(
        default="synthwatch-workers", min_length=1, description="Consumer group of the workers."
    )
    partitions: int = Field(
        default=6, ge=1, le=10_000, description="Partitions of every topic (co-partitioned)."
    )
    replication_factor: int = Field(default=1, ge=1, le=32, description="Replicas per topic.")
    create_topics: bool = Field(
        default=True, description="Create missing topics at start (needs the right ACLs)."
    )
    checkpoint_interval_s: float = Field(
        default=10.0, gt=0, le=3600, description="Time between checkpoints of the runs' state."
    )
    session_timeout_ms: int = Field(
        default=10_000, ge=1000, le=600_000, description="A silent worker is dropped after this."
    )
    heartbeat_interval_ms: int = Field(
        default=1000, ge=100, le=60_000, description="Group heartbeats (< session timeout / 3)."
    )
    request_timeout_ms: int = Field(default=30_000, ge=1000, le=600_000, description="Per request.")
    blas_threads: int = Field(
        default=0,
        ge=0,
        le=256,
        description=(
            "BLAS threads of a worker process (0: the library's default, one per core); 1 when "
            "workers share the cores (their number changes the last bits of some estimates)."
        ),
    )
    max_message_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024 * 1024,
        le=256 * 1024 * 1024,
        description="Largest record (a checkpoint holds a run's model state).",
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="As kafka-python's security_protocol."
    )
    ssl_cafile: Path | None = Field(default=None, description="CA bundle (PEM).")
    ssl_certfile: Path | None = Field(default=None, description="Client certificate (PEM).")
    ssl_keyfile: Path | None = Field(default=None, description="Client key (PEM).")
    ssl_password: SecretStr | None = Field(default=None, description="Password of the key.")
    ssl_password_file: Path | None = Field(default=None, description="File holding it.")
    ssl_check_hostname: bool = Field(default=True, description="Check the broker's hostname.")
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        default=None, description="SASL mechanism (with SASL_PLAINTEXT or SASL_SSL)."
    )
    sasl_username: str = Field(default="", description="SASL user.")
    sasl_password: SecretStr | None = Field(default=None, description="SASL password.")
    sasl_password_file: Path | None = Field(default=None, description="File holding it.")

    @field_validator("bootstrap_servers", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return _comma_separated(value)

    @field_validator("bootstrap_servers")
    @classmethod
    def _host_port(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("expected at least one host:port")
        for server in value:
            host, _, port = server.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536 or "@" in host:
                raise ValueError(f"expected host:port (no credentials), got {server!r}")
        return value

    @field_validator(
        "ssl_cafile", "ssl_certfile", "ssl_keyfile", "ssl_password_file", "sasl_password_file"
    )
    @classmethod
    def _expand_user(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser()

    @model_validator(mode="after")
    def _check_security(self) -> KafkaConfig:
        if self.sasl_password is not None and self.sasl_password_file is not None:
            raise ValueError("sasl_password, sasl_password_file: give one of them, not both")
        if self.ssl_password is not None and self.ssl_password_file is not None:
            raise ValueError("ssl_password, ssl_password_file: give one of them, not both")
        sasl = self.security_protocol.startswith("SASL_")
        if sasl and self.sasl_mechanism is None:
            raise ValueError(f"security_protocol {self.security_protocol} needs sasl_mechanism")
        if not sasl and self.sasl_mechanism is not None:
            raise ValueError(
                f"sasl_mechanism {self.sasl_mechanism} needs security_protocol SASL_PLAINTEXT "
                f"or SASL_SSL, not {self.security_protocol}"
            )
        if self.heartbeat_interval_ms * 3 > self.session_timeout_ms:
            raise ValueError(
                f"heartbeat_interval_ms {self.heartbeat_interval_ms}: expected at most a third "
                f"of session_timeout_ms {self.session_timeout_ms}"
            )
        return self


class Config(_Section):
    store: StoreConfig = Field(default_factory=StoreConfig)
    worker: WorkerConfig = Field(default_factory=WorkerConfig)
    transport: TransportConfig = Field(default_factory=TransportConfig)
    models: ModelsConfig = Field(default_factory=ModelsConfig)
    demo: DemoConfig = Field(default_factory=DemoConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)

    influxdb: InfluxConfig = Field(default_factory=InfluxConfig)
    kafka: KafkaConfig = Field(default_factory=KafkaConfig)

    #: "section.key" -> where :func:`load_config` read it: the file, or "environment VAR"
    _sources: dict[str, str] = PrivateAttr(default_factory=dict)

    def source_of(self, dotted: str) -> str:
        """Where ``section.key`` was set: the file, ``environment <VAR>``, or ``defaults``."""
        return self._sources.get(dotted, "defaults")


def describe_error(err: ValidationError, section: str = "") -> str:
    """``section.field: what was expected (got value)`` for the first error of ``err``."""
    first = err.errors(include_url=False)[0]
    loc = ".".join(str(p) for p in ([section] if section else []) + list(first["loc"]))
    got = first.get("input")
    got_text = "" if isinstance(got, dict) else f" (got {got!r})"
    return f"{loc}: {first['msg']}{got_text}"


def _set(tree: dict[str, Any], dotted: list[str], value: Any) -> None:
    node = tree
    for part in dotted[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{'.'.join(dotted)}: expected a section, found a value")
    node[dotted[-1]] = value


def load_config(path: str | Path | None = "auto", env: Mapping[str, str] | None = None) -> Config:
    """Defaults, then the TOML file, then the environment; :class:`ConfigError` if invalid.

    ``path="auto"`` looks at ``$SYNTHWATCH_CONFIG`` then ``./synthwatch.toml``; ``None`` reads no
    file.
    """
    env = os.environ if env is None else env
    if path == "auto":
        path = env.get(ENV_PREFIX + "CONFIG") or (
            DEFAULT_FILE if Path(DEFAULT_FILE).exists() else None
        )
    tree: dict[str, Any] = {}
    sources: dict[str, str] = {}  # "section.key" -> the file or variable it came from
    if path is not None:
        p = Path(path)
        try:
            tree = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{p}: config file not found") from None
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{p}: not valid TOML: {err}") from None
        try:
            Config.model_validate(tree)
        except ValidationError as err:
            raise ConfigError(f"{p}: {describe_error(err)}") from None
        sources.update(
            (f"{name}.{key}", str(p))
            for name, section in tree.items()
            if isinstance(section, dict)
            for key in section
        )
    cfg_tree = dict(tree)
    for key in sorted(env):
        if not key.startswith(ENV_PREFIX) or "__" not in key:
            continue
        dotted = key[len(ENV_PREFIX) :].lower().split("__")
        _set(cfg_tree, dotted, env[key])
        sources[".".join(dotted)] = f"environment {key}"
        try:
            Config.model_validate(cfg_tree)
        except ValidationError as err:
            raise ConfigError(f"environment {key}: {describe_error(err)}") from None
    cfg = Config.model_validate(cfg_tree)
    cfg._sources = sources
    return cfg
