"""The catalogue of models the registry chooses from, and the ``[models]`` schema built from it.

Each model declares itself next to its class (:func:`synthwatch.models.declare.register`); its
``[models]`` keys likewise (:func:`synthwatch.models.declare.setting`). :data:`MODEL_MODULES`
lists the modules that hold them: adding a model is one line there. Their order is the order in
which a sensor's (or a run's) models are built and fed; the alert engine stays last, so it sees
every other run-level model's estimates.

The configuration layer (:mod:`synthwatch.contract.config`) cannot know these keys (models sit
above it), so it keeps ``[models]`` as given, and :func:`settings_from_config` validates it here
against :func:`settings_model`, a pydantic model made from the declared table: a key is declared
once, and a bad value is still refused with the file (or variable), the key and what was
expected.

>>> [d.name for d in declarations() if d.watches("uvvis", "Au-citrate")]
['uvvis_features', 'psd_lognormal', 'psd_nnls', 'uvvis_shape']
>>> validate_settings({"psd_nnls_every": "30"})["psd_nnls_every"]
30
>>> try:
...     validate_settings({"psd_nnls_every": -1})
... except ConfigError as err:
...     print(err)
models.psd_nnls_every: Input should be greater than or equal to 0 (got -1)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from synthwatch.contract.config import Config, ConfigError, describe_error
from synthwatch.models.declare import SETTINGS, Declaration, Setting, declared_in

__all__ = [
    "MODEL_MODULES",
    "declarations",
    "settings_model",
    "validate_settings",
    "settings_from_config",
]

#: The modules whose declared models the registry chooses from, in the order they are built.
MODEL_MODULES: tuple[str, ...] = (
    "synthwatch.models.scalar",
    "synthwatch.models.uvvis.model",
    "synthwatch.models.psd.lognormal",
    "synthwatch.models.psd.nnls",
    "synthwatch.models.uvvis.shape",
    "synthwatch.models.impedance.model",
    "synthwatch.models.kinetics.model",
    "synthwatch.models.impedance.calibration",
    "synthwatch.models.psd.calibration",
    "synthwatch.models.alerts.golden",
    "synthwatch.models.alerts.engine",  # last: it sees every other run-level model's output
)


def declarations(modules: Sequence[str] = MODEL_MODULES) -> list[Declaration]:
    """The models declared in ``modules`` (imported first), in the modules' order."""
    for name in modules:
        importlib.import_module(name)
    return declared_in(modules)


def settings_model(modules: Sequence[str] = MODEL_MODULES) -> type[BaseModel]:
    """The ``[models]`` section as a pydantic model: every declared key, default and bound."""
    declarations(modules)  # importing the modules declares their keys
    return _model(tuple(sorted(SETTINGS.values(), key=lambda s: s.key)))


@lru_cache(maxsize=8)
def _model(settings: tuple[Setting, ...]) -> type[BaseModel]:
    fields: dict[str, Any] = {
        s.key: (s.type, Field(default=s.default, ge=s.ge, le=s.le, description=s.description))
        for s in settings
    }
    return create_model(
        "ModelsSettings", __config__=ConfigDict(extra="forbid", frozen=True), **fields
    )


def validate_settings(
    values: Mapping[str, Any],
    modules: Sequence[str] = MODEL_MODULES,
    where: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """Every ``[models]`` key: ``values`` checked against the declarations, defaults for the rest.

    :class:`ConfigError` names the key and what was expected, after where the key was set when
    ``where`` (dotted key -> the file or environment variable) is given.
    """
    try:
        return settings_model(modules).model_validate(dict(values)).model_dump()
    except ValidationError as err:
        text = describe_error(err, "models")
        if where is not None:
            key = str(err.errors(include_url=False)[0]["loc"][0])
            text = f"{where(f'models.{key}')}: {text}"
        raise ConfigError(text) from None


def settings_from_config(cfg: Config, modules: Sequence[str] = MODEL_MODULES) -> dict[str, Any]:
    """The validated ``[models]`` of ``cfg``; a bad key or value is refused with where it was set
    (the file, or ``environment SYNTHWATCH_MODELS__<KEY>``)."""
    return validate_settings(cfg.models.model_extra or {}, modules, where=cfg.source_of)
