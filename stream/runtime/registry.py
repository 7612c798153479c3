"""Which models watch which sensor: the declared models (:mod:`.catalog`) that fit the run.

The worker asks a :class:`ModelRegistry` once per sensor, when its Descriptor arrives, and once
per run for the run-level models (:meth:`ModelRegistry.run_models`, fed the run's estimates and
Labels). Every model declares, next to its class (:func:`synthwatch.models.declare.register`),
the sensor kinds and chemistry systems it watches, the ``[models]`` key that switches it on, its
cost and a ``build`` hook. The registry keeps the declarations that watch the sensor's kind in
the run's system and are switched on, in the catalogue's order, and calls each hook with a
:class:`RunContext`: what only the runtime can make. The built-in ones:

* a scalar probe: ``scalar`` (its value as an estimate, for the alert rules);
* UV-Vis, gold or silver: ``uvvis_features`` (and rule ``flagged_frames`` on its flags),
  ``psd_lognormal``, ``psd_nnls`` (every ``psd_nnls_every``-th spectrum), and for gold
  ``uvvis_shape``; the lognormal PSD and the shape check co-add ``psd_average_s`` of spectra;
* impedance, any system: ``impedance_fit`` (and ``flagged_frames`` on its bad sweeps);
* run level: ``kinetics`` (gold, silver, silica), ``size_calibration`` (the known systems),
  ``uvvis_size_calibration`` (gold, silver: the UV-Vis size corrected by delayed labels),
  ``golden_batch`` (a run tagged with a recipe that has an envelope), ``alert_engine`` (last).

An ``optional`` model whose hook cannot build it for this sensor (ValueError, e.g. an axis
outside the optical constants' range) is left off, with a warning; a sensor with no model still
has its readings archived.

>>> from datetime import datetime, timezone
>>> from synthwatch.contract.messages import Descriptor, RunStart
>>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> start = RunStart(run_id="r1", t=t0, reactor="R1", system="SiO2-Stober")
>>> probe = Descriptor(run_id="r1", t=t0, sensor_id="T1", kind="scalar", axis=[],
...                    value_units="degC", quantity="temperature")
>>> [m.name for m in ModelRegistry()(start, probe).estimators]
['scalar']
>>> [m.name for m in ModelRegistry(kinetics=False, alerts=False).run_models(start)]
['size_calibration']
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthwatch.contract.messages import Descriptor, RunStart
from synthwatch.models.base import Model
from synthwatch.models.declare import Declaration
from synthwatch.models.every import Every
from synthwatch.models.kinetics.model import SOURCES as KINETICS_SOURCE
from synthwatch.models.uvvis.coadd import Coadd, spectra_per_average
from synthwatch.models.uvvis.preprocess import DEFAULT_SATURATION_AU
from synthwatch.stream.runtime.catalog import MODEL_MODULES, declarations, validate_settings
from synthwatch.stream.runtime.kernels import dielectric_for, kernel_for
from synthwatch.stream.store.golden_files import load_envelope

__all__ = ["ModelSet", "ModelRegistry", "RunContext", "models_for", "KINETICS_SOURCE"]
log = logging.getLogger(__name__)


@dataclass
class ModelSet:
    """The models of one sensor: estimators fed readings, rules fed the estimates."""

    estimators: list[Model] = field(default_factory=list)
    rules: list[Model] = field(default_factory=list)


@dataclass
class RunContext:
    """What a declaration's hooks get from the runtime (:class:`~synthwatch.models.declare.
    Context`): the run, the sensor, the settings, and the things models cannot make themselves
    (they do no I/O): the Mie kernel and dielectric function (:mod:`.kernels`, cached), golden
    envelopes (:mod:`~synthwatch.stream.store.golden_files`), the wrappers."""

    start: RunStart | None
    system: str
    descriptor: Descriptor | None
    settings: Mapping[str, Any]
    alerts: bool = True
    alert_rules: tuple[Any, ...] | None = None
    golden_dir: str | None = None

    def kernel(self, n_medium: float) -> Any:
        return kernel_for(self.descriptor, self.system, n_medium)

    def dielectric(self) -> tuple[Any, Any, Any]:
        return dielectric_for(self.system, self.descriptor.axis)

    def envelope(self, recipe: str) -> Any | None:
        return load_envelope(Path(self.golden_dir), recipe) if self.golden_dir else None

    def every(self, model: Model, n: int) -> Model:
        return Every(model, every=n)

    def coadd(self, model: Model, average_s: float) -> Model:
        desc = self.descriptor
        n = spectra_per_average(average_s, desc.expected_interval_s)
        sat = desc.saturation_au or DEFAULT_SATURATION_AU
        return Coadd(model, n=n, saturation_au=sat) if n > 1 else model


class ModelRegistry:
    """Chooses and builds the models of each sensor from the declared ones.

    Keyword arguments are ``[models]`` keys (checked against the declarations:
    :class:`~synthwatch.contract.config.ConfigError` if unknown or out of range), plus:
    ``alerts`` (build the alert engine), ``alert_rules`` (its rules; None: the built-in ones),
    ``golden_dir`` (where golden-batch envelopes are, ``<recipe>.json``; None: none), and
    ``modules`` (the catalogue: :data:`~synthwatch.stream.runtime.catalog.MODEL_MODULES`).

    >>> ModelRegistry(psd_nnls_every=0).settings["psd_nnls_every"]
    0
    """

    def __init__(
        self,
        *,
        alerts: bool = True,
        alert_rules: tuple[Any, ...] | None = None,
        golden_dir: str | None = None,
        modules: Sequence[str] = MODEL_MODULES,
        **settings: Any,
    ):
        self.alerts = alerts
        self.alert_rules = alert_rules
        self.golden_dir = golden_dir
        self.modules = tuple(modules)
        self.settings = validate_settings(settings, self.modules)

    def __call__(self, start: RunStart | None, descriptor: Descriptor) -> ModelSet:
        """The models for ``descriptor``'s sensor in a run of ``start.system`` (gold if no
        start)."""
        ctx = self._context(start, descriptor)
        out = ModelSet()
        for decl in self._chosen(descriptor.kind, ctx.system):
            model = self._build(decl, ctx)
            if model is not None:
                out.estimators.append(model)
                out.rules.extend(decl.rules(ctx) if decl.rules else ())
        if not out.estimators:
            log.info(
                "no model for %s sensor %r in a %s run: readings are archived only",
                descriptor.kind,
                descriptor.sensor_id,
                ctx.system,
            )
        return out

    def run_models(self, start: RunStart) -> list[Model]:
        """The run-level models of a run (the worker feeds them its estimates and Labels)."""
        ctx = self._context(start, None)
        built = (self._build(decl, ctx) for decl in self._chosen("run", ctx.system))
        return [m for m in built if m is not None]

    def _context(self, start: RunStart | None, descriptor: Descriptor | None) -> RunContext:
        system = start.system if start is not None else "Au-citrate"
        return RunContext(
            start, system, descriptor, self.settings, self.alerts, self.alert_rules,
            self.golden_dir,
        )  # fmt: skip

    def _chosen(self, kind: str, system: str) -> list[Declaration]:
        return [
            d
            for d in declarations(self.modules)
            if d.watches(kind, system) and d.enabled(self.settings)
        ]

    @staticmethod
    def _build(decl: Declaration, ctx: RunContext) -> Model | None:
        try:
            return decl.build(ctx)
        except ValueError as err:  # e.g. an axis outside the optical constants' range
            if not decl.optional:
                raise
            sensor = ctx.descriptor.sensor_id if ctx.descriptor is not None else ctx.system
            log.warning("%s: model %s off: %s", sensor, decl.name, err)
            return None

    def __repr__(self) -> str:
        return (
            f"ModelRegistry(alerts={self.alerts}, golden_dir={self.golden_dir!r}, "
            f"settings={self.settings})"
        )


#: The default registry (all models on, NNLS every 60th spectrum: every 2 min at 2 s).
models_for = ModelRegistry()
