"""Model declarations, next to each model's class: what it watches, its ``[models]`` keys, its cost.

As impedance.py's ``circuit_elements`` (and :func:`~synthwatch.models.impedance.circuits.element`,
:func:`~synthwatch.models.kinetics.curves.mechanism`), a decorator fills one table:

* :func:`setting` declares a ``[models]`` configuration key once: its default (whose type is the
  key's type), its bounds and what it means. The table :data:`SETTINGS` is the schema of the
  section (the runtime validates the configuration against it: stream/runtime/catalog.py).
* :func:`register` declares a model class in :data:`MODELS`: its name and version (the class's
  own), the sensor kinds it watches (``uvvis``, ``impedance``, ``scalar``, or ``run`` for a
  run-level model fed the run's estimates and Labels), the chemistry systems (None: all), the
  setting that switches it on (a false or zero value: off), its cost class, and a factory hook
  ``build(ctx)`` that makes it for one sensor (or run) from what the runtime supplies through
  :class:`Context` (the Mie kernel, the wrappers, golden envelopes, alert rules). ``rules(ctx)``
  gives the alert rules that watch its estimates. An ``optional`` model whose hook raises
  ValueError (a sensor it cannot serve, e.g. an axis outside its optical constants) is left
  off with a warning; otherwise the error stands.

Nothing here does I/O: the runtime imports the modules it lists and builds what they declare.

>>> from synthwatch.models.base import Model
>>> PEAK_EVERY = setting("doc_peak_every", 1, "Run the peak model every n-th spectrum.", ge=0)
>>> @register(kinds=("uvvis",), systems=("Au-citrate",), switch=PEAK_EVERY, cost="cheap")
... class Peak(Model):
...     name, version = "doc_peak", "1"
...     def update(self, message) -> None:
...         pass
>>> d = MODELS["doc_peak"]
>>> d.version, d.watches("uvvis", "Au-citrate"), d.watches("uvvis", "SiO2-Stober")
('1', True, False)
>>> d.enabled({"doc_peak_every": 0}), d.enabled({"doc_peak_every": 60})
(False, True)
>>> _ = MODELS.pop("doc_peak"), SETTINGS.pop("doc_peak_every")
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from synthwatch.contract.messages import Descriptor, RunStart
from synthwatch.models.base import Model

__all__ = [
    "KINDS",
    "COSTS",
    "Setting",
    "SETTINGS",
    "setting",
    "Context",
    "Declaration",
    "MODELS",
    "register",
    "declared_in",
]

#: What a model watches: a sensor's kind, or ``run`` (fed the run's estimates and Labels).
KINDS = ("uvvis", "impedance", "scalar", "run")
#: Cost classes: ``cheap`` (well under a millisecond a message), ``per-spectrum fit`` (a fit of
#: every reading, about a millisecond), ``slow`` (tens of milliseconds: thin it out).
COSTS = ("cheap", "per-spectrum fit", "slow")
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass(frozen=True)
class Setting:
    """One ``[models]`` key: its default (bool, int or float: the key's type), bounds, meaning.

    >>> Setting("psd_average_s", 0.0, "Co-add this many seconds.", ge=0, le=3600).type
    <class 'float'>
    """

    key: str
    default: bool | int | float
    description: str
    ge: float | None = None
    le: float | None = None

    @property
    def type(self) -> type:
        return type(self.default)


#: ``[models]`` key → :class:`Setting`; filled by :func:`setting`.
SETTINGS: dict[str, Setting] = {}


def setting(
    key: str,
    default: bool | int | float,
    description: str,
    *,
    ge: float | None = None,
    le: float | None = None,
) -> Setting:
    """Declare the ``[models]`` key ``key`` once (ValueError if declared otherwise already)."""
    if not _KEY.match(key):
        raise ValueError(f"setting {key!r}: expected lower_snake_case, at most 64 characters")
    if type(default) not in (bool, int, float):
        raise ValueError(f"setting {key!r}: default must be a bool, int or float")
    if (ge is not None and default < ge) or (le is not None and default > le):
        raise ValueError(f"setting {key!r}: default {default!r} outside [{ge}, {le}]")
    new = Setting(key, default, description, ge, le)
    old = SETTINGS.get(key)
    if old is not None and old != new:  # the same declaration again (a reload) is no conflict
        raise ValueError(f"setting {key!r} is already declared: {old}")
    SETTINGS[key] = new
    return new


class Context(Protocol):
    """What the runtime gives a declaration's ``build`` and ``rules`` hooks (one sensor or run).

    ``descriptor`` is None for run-level models; ``settings`` holds every ``[models]`` key,
    validated; ``alert_rules`` None means the alert engine's own defaults.
    """

    start: RunStart | None
    system: str
    descriptor: Descriptor | None
    settings: Mapping[str, Any]
    alerts: bool
    alert_rules: tuple[Any, ...] | None

    def kernel(self, n_medium: float) -> Any:
        """The Mie extinction kernel of the sensor's axis and the run's metal (PSDKernel)."""

    def dielectric(self) -> tuple[Any, Any, Any]:
        """The metal's dielectric function on the sensor's axis: (wavelengths_nm, ε1, ε2)."""

    def envelope(self, recipe: str) -> Any | None:
        """The golden-batch envelope of ``recipe``, or None."""

    def every(self, model: Model, n: int) -> Model:
        """``model`` run on every ``n``-th message only."""

    def coadd(self, model: Model, average_s: float) -> Model:
        """``model`` fed the mean of the spectra of every ``average_s`` seconds (0: as is)."""


Build = Callable[[Context], Model | None]
Rules = Callable[[Context], Sequence[Model]]


@dataclass(frozen=True)
class Declaration:
    """A registered model: what it watches and how the runtime builds it."""

    name: str
    version: str
    cls: type
    kinds: tuple[str, ...]
    systems: tuple[str, ...] | None
    switch: Setting | None
    cost: str
    build: Build
    rules: Rules | None
    module: str
    optional: bool = False

    def watches(self, kind: str, system: str) -> bool:
        """True if the model is for a ``kind`` sensor (or ``run``) in a ``system`` run."""
        return kind in self.kinds and (self.systems is None or system in self.systems)

    def enabled(self, settings: Mapping[str, Any]) -> bool:
        """Its switch is on (no switch: always); a count of 0 is off."""
        return self.switch is None or bool(settings.get(self.switch.key, self.switch.default))


#: model name → :class:`Declaration`; filled by :func:`register`.
MODELS: dict[str, Declaration] = {}


def register(
    *,
    kinds: tuple[str, ...],
    cost: str,
    systems: tuple[str, ...] | None = None,
    switch: Setting | None = None,
    build: Build | None = None,
    rules: Rules | None = None,
    optional: bool = False,
):
    """Declare the decorated model class (see the module doc); ``build`` defaults to ``cls()``."""
    if not kinds or not set(kinds) <= set(KINDS):
        raise ValueError(f"kinds {kinds!r}: expected some of {', '.join(KINDS)}")
    if cost not in COSTS:
        raise ValueError(f"cost {cost!r}: expected one of {', '.join(COSTS)}")

    def decorate(cls: type) -> type:
        old = MODELS.get(cls.name)
        if old is not None and (old.module, old.cls.__qualname__) != (
            cls.__module__,
            cls.__qualname__,
        ):
            raise ValueError(f"model {cls.name!r} is already registered by {old.module}")
        MODELS[cls.name] = Declaration(
            name=cls.name,
            version=cls.version,
            cls=cls,
            kinds=tuple(kinds),
            systems=None if systems is None else tuple(systems),
            switch=switch,
            cost=cost,
            build=build if build is not None else (lambda ctx: cls()),
            rules=rules,
            module=cls.__module__,
            optional=optional,
        )
        return cls

    return decorate


def declared_in(modules: Sequence[str]) -> list[Declaration]:
    """The declarations of ``modules``, in their order (then in registration order)."""
    rank = {m: i for i, m in enumerate(modules)}
    found = [d for d in MODELS.values() if d.module in rank]
    return sorted(found, key=lambda d: rank[d.module])
