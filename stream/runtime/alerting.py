"""Alert rules on disk, and the model registry built from the configuration.

* :func:`load_rules` reads a rule file, checks it against the catalogue of quantities, and
  refuses it with the line that is wrong. Nothing is guessed at start.
* :func:`registry_from_config` gives the worker its :class:`ModelRegistry`, with the
  ``[models]`` switches (validated against the models' declarations), the rules and the
  golden-batch directory
  (:mod:`~synthwatch.stream.store.golden_files`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from synthwatch.contract.config import Config, ConfigError
from synthwatch.models.alerts.catalogue import is_known, known_names
from synthwatch.models.alerts.chart_rules import explain_chart_rules
from synthwatch.models.alerts.engine import DEFAULT_RULES
from synthwatch.models.alerts.rules import Rule, parse_rules
from synthwatch.stream.runtime.catalog import settings_from_config
from synthwatch.stream.runtime.registry import ModelRegistry
from synthwatch.stream.sinks.webhook import WebhookSink

__all__ = ["load_rules", "rules_from_config", "registry_from_config", "webhook_sinks"]
log = logging.getLogger(__name__)


def load_rules(path: Path) -> tuple[Rule, ...]:
    """The rules of ``path``; :class:`ConfigError` with ``path:line`` and the reason otherwise."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the rule file: {e.strerror or e}") from None
    try:
        return tuple(parse_rules(text, str(path), is_known, known_names()))
    except ValueError as e:
        raise ConfigError(str(e)) from None


def rules_from_config(cfg: Config) -> tuple[Rule, ...]:
    """The built-in rules (unless ``default_rules = false``) and those of ``rules_file``.

    A rule in the file with a built-in rule's name replaces it.
    """
    own = load_rules(cfg.alerts.rules_file) if cfg.alerts.rules_file else ()
    names = {r.name for r in own}
    if not cfg.alerts.default_rules:
        return own
    return tuple(r for r in DEFAULT_RULES if r.name not in names) + own


def registry_from_config(cfg: Config) -> ModelRegistry:
    """The worker's registry: ``[models]`` switches, alert rules, golden-batch directory.

    ``[models]`` is checked against the models' declarations (:mod:`.catalog`): a bad key or
    value is a :class:`ConfigError` naming the file or variable it came from.
    """
    settings = settings_from_config(cfg)
    rules = rules_from_config(cfg) if cfg.alerts.enabled else ()
    for line in explain_chart_rules(rules):  # control-chart rules: how each limit comes about
        log.info("alert chart rule %s", line)
    return ModelRegistry(
        **settings,
        alert_rules=rules,
        alerts=cfg.alerts.enabled,
        golden_dir=str(cfg.alerts.golden_dir),
    )


@contextmanager
def webhook_sinks(cfg: Config) -> Iterator[list[WebhookSink]]:
    """``[WebhookSink]`` for ``[alerts] webhooks``, else ``[]``; closed (flushed) on exit."""
    if not cfg.alerts.webhooks:
        yield []
        return
    sink = WebhookSink(
        cfg.alerts.webhooks,
        timeout_s=cfg.alerts.webhook_timeout_s,
        retries=cfg.alerts.webhook_retries,
        undelivered_path=cfg.alerts.golden_dir.parent / "webhook-undelivered.jsonl",
    )
    with sink:
        yield [sink]
