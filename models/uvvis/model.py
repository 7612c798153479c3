"""The UV-Vis feature model: SPR peak, width, absorbances and, for gold, the Haiss size.

:class:`UVVisFeatures` turns each UV-Vis :class:`~synthwatch.contract.messages.Reading` into an
:class:`~synthwatch.contract.messages.Estimate`. The computation, the choices made (peak fit,
baseline, width) and their sources (Haiss et al. 2007, Hendel et al. 2014, Link and El-Sayed
1999) are in :mod:`synthwatch.models.uvvis.features`, whose names are re-exported here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from synthwatch.contract.messages import Descriptor, Estimate, Reading
from synthwatch.models.alerts.quality import FlaggedFrames
from synthwatch.models.base import Model, build_estimate
from synthwatch.models.declare import register
from synthwatch.models.reading_values import frame_result
from synthwatch.models.uvvis.features import (
    FLAGS,
    HAISS_B1,
    HAISS_B2,
    HAISS_CALIBRATION_REL,
    HAISS_EXPERIMENT,
    HAISS_RANGE_NM,
    HAISS_THEORY,
    QUANTITY_UNITS,
    SYSTEM_WINDOWS_NM,
    FeaturePlan,
    UVVisResult,
    haiss_diameter_nm,
    hendel_au0_mM,
    uvvis_features,
)

__all__ = [
    "UVVisFeatures",
    "FeaturePlan",
    "UVVisResult",
    "uvvis_features",
    "haiss_diameter_nm",
    "SYSTEM_WINDOWS_NM",
    "QUANTITY_UNITS",
    "HAISS_B1",
    "HAISS_B2",
    "HAISS_THEORY",
    "HAISS_EXPERIMENT",
    "HAISS_RANGE_NM",
    "HAISS_CALIBRATION_REL",
    "FLAGS",
]


@register(
    kinds=("uvvis",),
    systems=tuple(SYSTEM_WINDOWS_NM),
    cost="cheap",
    build=lambda ctx: UVVisFeatures(ctx.descriptor, system=ctx.system),
    rules=lambda ctx: [FlaggedFrames(model=UVVisFeatures.name)],
)
class UVVisFeatures(Model):
    """SPR position, width, absorbances and Haiss diameter from each UV-Vis reading.

    Haiss et al., Anal. Chem. 79 (2007) 4215, eq 11 for the diameter; Hendel et al., Anal.
    Chem. 86 (2014) 11114 for A_400; see :mod:`synthwatch.models.uvvis.features` for the
    choices made.
    ``update`` never raises on a bad frame: the estimate then has None quantities and flags
    saying why.

    >>> import numpy as np
    >>> from datetime import datetime, timezone
    >>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> wl = np.arange(300.0, 901.0)
    >>> desc = Descriptor(run_id="r1", t=t0, sensor_id="uv1", kind="uvvis", axis=list(wl),
    ...                   axis_units="nm", value_units="AU", path_length_cm=1.0)
    >>> spr = 0.6 / (1 + ((wl - 522.0) / 40.0) ** 2)         # plasmon band
    >>> interband = 0.45 * np.exp(-(wl - 400.0) / 100.0)     # rises towards the UV
    >>> model = UVVisFeatures(desc)
    >>> model.update(Reading(run_id="r1", t=t0, sensor_id="uv1", seq=0,
    ...                      values=list(spr + interband)))
    >>> est = model.estimate
    >>> d = est.get("d_haiss_nm")
    >>> lam = est.get("lambda_spr_nm").value
    >>> round(lam, 1), round(d.value, 1), round(d.uncertainty, 1), d.units
    (520.2, 23.8, 2.6, 'nm')
    >>> est.flags
    []
    >>> model.update(Reading(run_id="r1", t=t0, sensor_id="uv1", seq=1, values=[0.1] * 5))
    >>> model.estimate.get("lambda_spr_nm").value, model.estimate.flags
    (None, ['shape_mismatch'])
    """

    name = "uvvis_features"
    version = "1"

    def __init__(
        self,
        descriptor: Descriptor,
        system: str = "Au-citrate",
        smooth_window_nm: float = 15.0,
        baseline_window_nm: tuple[float, float] | None = None,
        peak_fit_half_width_nm: float = 15.0,
        max_missing_fraction: float = 0.05,
        min_signal_au: float = 0.01,
        haiss_coefficients: tuple[float, float] = (HAISS_B1, HAISS_B2),
        haiss_calibration_rel: float = HAISS_CALIBRATION_REL,
    ):
        self.descriptor = descriptor
        self.system = system
        self.smooth_window_nm = smooth_window_nm
        self.baseline_window_nm = baseline_window_nm
        self.peak_fit_half_width_nm = peak_fit_half_width_nm
        self.max_missing_fraction = max_missing_fraction
        self.min_signal_au = min_signal_au
        self.haiss_coefficients = haiss_coefficients
        self.haiss_calibration_rel = haiss_calibration_rel
        if descriptor.kind != "uvvis":
            raise ValueError(
                f"UVVisFeatures needs a 'uvvis' descriptor, got kind={descriptor.kind!r} "
                f"for sensor {descriptor.sensor_id!r}"
            )
        self._plan = FeaturePlan(
            np.asarray(descriptor.axis, dtype=float),
            system=system,
            smooth_window_nm=smooth_window_nm,
            baseline_window_nm=baseline_window_nm,
            saturation_au=descriptor.saturation_au,
            peak_fit_half_width_nm=peak_fit_half_width_nm,
            max_missing_fraction=max_missing_fraction,
            min_signal_au=min_signal_au,
            haiss_coefficients=haiss_coefficients,
            haiss_calibration_rel=haiss_calibration_rel,
        )
        self._last: tuple[Reading, UVVisResult] | None = None
        self._estimate: Estimate | None = None

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        from datetime import datetime, timezone

        descriptor = Descriptor(
            run_id="r1",
            t=datetime(2026, 1, 1, tzinfo=timezone.utc),
            sensor_id="uv1",
            kind="uvvis",
            axis=[300.0 + 2 * i for i in range(301)],
            axis_units="nm",
            value_units="AU",
            path_length_cm=1.0,
        )
        return {"descriptor": descriptor}

    def update(self, message: Reading) -> None:
        """Compute the features of one reading (never raises on a bad frame)."""
        plan = self._plan
        result = frame_result(message, self.descriptor.sensor_id, plan.n, plan.run, plan.empty)
        self._last = (message, result)
        self._estimate = None

    @property
    def result(self) -> UVVisResult | None:
        """The features of the last reading as plain numbers, or None before the first."""
        return None if self._last is None else self._last[1]

    @property
    def estimate(self) -> Estimate | None:
        """The contract :class:`Estimate` for the last reading, or None before the first."""
        if self._last is None:
            return None
        if self._estimate is None:
            reading, res = self._last
            values, uncertainties = res.values, res.uncertainties
            quantities = [
                (name, values[name], units, uncertainties.get(name))
                for name, units in QUANTITY_UNITS.items()
            ]
            if self.system == "Au-citrate":
                a400, u400 = values["a_400_au"], uncertainties.get("a_400_au") or 0.0
                c, u = (None, None)
                if a400 is not None and math.isfinite(a400):
                    c, u = hendel_au0_mM(a400, u400, self.descriptor.path_length_cm)
                quantities.append(("au0_mM", c, "mM", u))
            self._estimate = build_estimate(reading, self, "uvvis_features", quantities, res.flags)
        return self._estimate
