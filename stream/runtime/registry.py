"""Which models watch which sensor: chosen from the run's chemistry and the sensor's kind.

The worker asks a :class:`ModelRegistry` once per sensor, when its Descriptor arrives.
Estimators turn readings into estimates; rules turn those estimates into alerts. For a UV-Vis
sensor in a gold or silver run:

* ``uvvis_features`` — SPR peak, FWHM, A_400, Au(0) (Hendel), size by Haiss (every spectrum);
* ``psd_lognormal`` — lognormal size distribution and number concentration by Mie inversion
  (every spectrum, or the mean of the spectra of every ``psd_average_s`` seconds:
  :mod:`synthwatch.models.uvvis.coadd`; the shape check likewise);
* ``uvvis_shape`` — longitudinal band of rods (Gans aspect ratio), aggregation tail;
* ``psd_nnls`` — non-parametric size distribution (every ``psd_nnls_every``-th spectrum: it
  costs tens of milliseconds);
* rule ``flagged_frames`` on the features' quality flags.

The extinction kernel and the metal's dielectric function come from :mod:`.kernels`, built once
per wavelength axis and cached on disk.

For an impedance sensor (any chemistry): ``impedance_fit`` (Kramers-Kronig check, then the
equivalent-circuit fits, every sweep) and rule ``flagged_frames`` on its flags. Run-level models
(:meth:`ModelRegistry.run_models`, fed the run's estimates and Labels by the worker): the size
calibration from delayed labels (``size_calibration``) in a run of a known system
(``SiO2-Stober``, ``Au-citrate``, ``Ag-citrate``): it learns as soon as Labels arrive.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from synthwatch.contract.messages import SYSTEMS, Descriptor, RunStart
from synthwatch.models.alerts.engine import DEFAULT_RULES, AlertEngine
from synthwatch.models.alerts.golden import GoldenBatch
from synthwatch.models.alerts.quality import FlaggedFrames
from synthwatch.models.alerts.rules import Rule
from synthwatch.models.base import Model
from synthwatch.models.every import Every
from synthwatch.models.impedance.calibration import SizeCalibration
from synthwatch.models.impedance.model import ImpedanceFit
from synthwatch.models.kinetics.model import Kinetics
from synthwatch.models.psd.lognormal import LognormalPSD
from synthwatch.models.psd.nnls import NNLSPSD
from synthwatch.models.scalar import ScalarValue
from synthwatch.models.uvvis.coadd import Coadd, spectra_per_average
from synthwatch.models.uvvis.model import UVVisFeatures
from synthwatch.models.uvvis.preprocess import DEFAULT_SATURATION_AU
from synthwatch.models.uvvis.shape import ShapeCheck
from synthwatch.stream.runtime.kernels import METAL_OF_SYSTEM, dielectric_for, kernel_for
from synthwatch.stream.store.golden_files import load_envelope

log = logging.getLogger(__name__)

#: Chemistry systems the UV-Vis models understand.
UVVIS_SYSTEMS = tuple(METAL_OF_SYSTEM)
#: Systems whose rods and aggregates the shape model knows (its envelope is gold's).
SHAPE_SYSTEMS = ("Au-citrate",)
#: Systems whose size the calibration learns from delayed labels (impedance and/or UV-Vis
#: features; a run without labels never gets a prediction).
CALIBRATION_SYSTEMS = SYSTEMS
#: What the kinetics model follows per system: (source model, quantity, relative to the start).
#: Au(0) by Hendel from A_400 for gold; Ag(0) in the fitted particles for silver (there is no
#: A_400 calibration for silver).
KINETICS_SOURCE = {
    "Au-citrate": ("uvvis_features", "au0_mM", False),
    "Ag-citrate": ("psd_lognormal", "metal0_mM", False),
    # the change of conductivity since the start: on the Stöber simulator its t90 is that of
    # condensation (80,844 s fitted against 80,100 s true, seed 0)
    "SiO2-Stober": ("impedance_fit", "conductivity_s_per_m", True),
}
#: Flags of an impedance sweep that mean the instrument delivered a bad one.
IMPEDANCE_BAD_FLAGS = ("kk_invalid", "missing_points", "missing_imag", "fit_failed", "poor_fit")


@dataclass
class ModelSet:
    """The models of one sensor: estimators fed readings, rules fed the estimates."""

    estimators: list[Model] = field(default_factory=list)
    rules: list[Model] = field(default_factory=list)


@dataclass(frozen=True)
class ModelRegistry:
    """Chooses and builds the models of each sensor (configuration section ``[models]``)."""

    psd_lognormal: bool = True
    psd_nnls_every: int = 60
    shape: bool = True
    #: co-add the spectra of this many seconds before the lognormal PSD and the shape check fit
    #: them (models/uvvis/coadd.py); 0: fit every spectrum
    psd_average_s: float = 0.0
    n_medium: float = 1.333
    impedance_fit: bool = True
    calibration: bool = True
    kinetics: bool = True
    alerts: bool = True
    #: the alert engine's rules; None: the built-in ones (models/alerts/engine.py DEFAULT_RULES)
    alert_rules: tuple[Rule, ...] | None = None
    #: where golden-batch envelopes are (<recipe>.json); None: no golden batch
    golden_dir: str | None = None

    def __call__(self, start: RunStart | None, descriptor: Descriptor) -> ModelSet:
        """The models for ``descriptor``'s sensor in a run of ``start.system``.

        A sensor with no model for it (a UV-Vis sensor on a silica run) still has its readings
        archived; it just gets no estimates. A scalar probe's value is passed on as an estimate
        (measurement ``scalar``) for the alert rules.
        """
        system = start.system if start is not None else "Au-citrate"
        if descriptor.kind == "scalar":
            return ModelSet(estimators=[ScalarValue(descriptor)])
        if descriptor.kind == "impedance" and self.impedance_fit:
            return ModelSet(
                estimators=[ImpedanceFit(descriptor)],
                rules=[FlaggedFrames(model=ImpedanceFit.name, flags=IMPEDANCE_BAD_FLAGS)],
            )
        if descriptor.kind != "uvvis" or system not in UVVIS_SYSTEMS:
            log.info(
                "no model for %s sensor %r in a %s run: readings are archived only",
                descriptor.kind,
                descriptor.sensor_id,
                system,
            )
            return ModelSet()
        models: list[Model] = [UVVisFeatures(descriptor, system=system)]
        try:
            models += self._optical_models(descriptor, system)
        except ValueError as err:  # e.g. an axis outside the optical constants' range
            log.warning(
                "sensor %r: size-distribution and shape models off: %s", descriptor.sensor_id, err
            )
        return ModelSet(estimators=models, rules=[FlaggedFrames(model=UVVisFeatures.name)])

    def run_models(self, start: RunStart) -> list[Model]:
        """The run-level models of a run (the worker feeds them its estimates and Labels)."""
        models: list[Model] = []
        source = KINETICS_SOURCE.get(start.system)
        if self.kinetics and source is not None:
            kinetics = Kinetics(source=source[0], quantity=source[1], relative=source[2])
            kinetics.update(start)  # the time origin and the precursor of the recipe
            models.append(kinetics)
        if self.calibration and start.system in CALIBRATION_SYSTEMS:
            models.append(SizeCalibration())
        recipe = start.tags.get("recipe")
        if self.golden_dir and recipe:
            envelope = load_envelope(Path(self.golden_dir), recipe)
            if envelope is not None:
                golden = GoldenBatch(envelope)
                golden.update(start)
                models.append(golden)
        if self.alerts:
            engine = AlertEngine(DEFAULT_RULES if self.alert_rules is None else self.alert_rules)
            engine.update(start)
            models.append(engine)  # last: it sees every estimate, the golden batch's too
        return models

    def _optical_models(self, descriptor: Descriptor, system: str) -> list[Model]:
        out: list[Model] = []
        sensor = descriptor.sensor_id
        if self.psd_lognormal or self.psd_nnls_every:
            kernel = kernel_for(descriptor, system, self.n_medium)
            if self.psd_lognormal:
                out.append(
                    LognormalPSD(
                        kernel,
                        sensor_id=sensor,
                        saturation_au=descriptor.saturation_au or DEFAULT_SATURATION_AU,
                    )
                )
            if self.psd_nnls_every:
                out.append(Every(NNLSPSD(kernel, sensor_id=sensor), every=self.psd_nnls_every))
        n_avg = spectra_per_average(self.psd_average_s, descriptor.expected_interval_s)
        if n_avg > 1:
            sat = descriptor.saturation_au or DEFAULT_SATURATION_AU
            out = [
                Coadd(m, n=n_avg, saturation_au=sat) if m.name == LognormalPSD.name else m
                for m in out
            ]
        if self.shape and system in SHAPE_SYSTEMS:
            wl, eps_real, eps_imag = dielectric_for(system, descriptor.axis)
            out.append(
                ShapeCheck(
                    descriptor,
                    eps_wavelengths_nm=wl,
                    eps_real=eps_real,
                    eps_imag=eps_imag,
                    n_medium=self.n_medium,
                    system=system,
                )
            )
            if n_avg > 1:
                out[-1] = Coadd(out[-1], n=n_avg, saturation_au=sat)
        return out


#: The default registry (all models on, NNLS every 60th spectrum: every 2 min at 2 s).
models_for = ModelRegistry()
