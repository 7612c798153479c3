"""What the commands share at run time: consoles, the configuration, runs by name, a progress
bar, and a bounded look for a Kafka broker before a command that needs one starts.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from synthwatch.contract.config import Config, KafkaConfig, load_config
from synthwatch.contract.errors import UsageError
from synthwatch.stream.runtime.catalog import settings_from_config
from synthwatch.stream.transport.errors import KafkaTransportError

if TYPE_CHECKING:
    from synthwatch.stream.store.embedded import Store

#: seconds a command waits for some bootstrap server to accept a connection
BROKER_PROBE_S = 5.0


def stdout() -> Console:
    """The console of results. Piped output (CI logs, ``| less``) gets wide tables instead of
    rich's 80-column default; lines of text are never broken (soft wrap)."""
    return Console(width=None if sys.stdout.isatty() else 150, soft_wrap=True)


def stderr() -> Console:
    """The console of progress bars and messages."""
    return Console(stderr=True, width=None if sys.stderr.isatty() else 150, soft_wrap=True)


def load(args: argparse.Namespace) -> Config:
    """The configuration: ``--config`` (else $SYNTHWATCH_CONFIG, ./synthwatch.toml), ``--store``."""
    cfg = load_config(args.config if args.config else "auto")
    settings_from_config(cfg)  # [models] is declared by the models: checked here, for every command
    if args.store is not None:
        cfg.store.path = args.store
    return cfg


def need_store(cfg: Config, command: str) -> None:
    """A UsageError when there is no store file yet."""
    if not Path(cfg.store.path).exists():
        raise UsageError(f"synthwatch {command}: no store at {cfg.store.path}")


def resolve_run(store: Store, run_id: str) -> str:
    """``run_id`` if the store has it (else UnknownRunError); ``latest``: the newest run."""
    if run_id != "latest":
        store.run(run_id)  # UnknownRunError when there is none
        return run_id
    runs = store.runs()
    if not runs:
        raise UsageError(f"no runs in {store.path} yet")
    return max(runs, key=lambda r: r.t_start or r.t_last).run_id


def progress(console: Console, enabled: bool) -> Progress:
    """A replay's progress bar (readings so far, of the total when known)."""
    return Progress(
        TextColumn("replay"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("readings"),
        TimeElapsedColumn(),
        console=console,
        disable=not enabled,
        transient=False,
    )


def _host_port(server: str) -> tuple[str, int]:
    """``host:port``, ``[v6]:port`` or ``host`` (port 9092)."""
    host, sep, port = server.rpartition(":")
    if not sep or "]" in port or not port.isdigit():
        host, port = server, "9092"
    return host.strip("[]"), int(port)


def probe_broker(cfg: KafkaConfig, budget_s: float = BROKER_PROBE_S) -> None:
    """Return when some bootstrap server accepts a TCP connection within ``budget_s``; else
    a KafkaTransportError naming the servers (exit 1), instead of kafka-python's retries."""
    deadline = time.monotonic() + budget_s
    servers = list(cfg.bootstrap_servers)
    reasons: list[str] = []
    while True:
        for server in servers:
            left = deadline - time.monotonic()
            try:
                with socket.create_connection(_host_port(server), timeout=max(0.1, left)):
                    return
            except OSError as err:
                reasons.append(f"{server}: {err.strerror or type(err).__name__}")
        if time.monotonic() + 0.5 > deadline:
            break
        time.sleep(0.5)
    where = f"{','.join(servers)} ({cfg.security_protocol})"
    raise KafkaTransportError(
        f"kafka at {where}: no broker reachable within {budget_s:.0f} s "
        f"({reasons[-1] if reasons else 'no bootstrap servers'}); is it running, are "
        "kafka.bootstrap_servers right?"
    )
