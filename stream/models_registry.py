"""Which models watch which sensor: chosen from the run's chemistry and the sensor's kind.

The worker asks :func:`models_for` once per sensor, when its Descriptor arrives. Estimators turn
readings into estimates; rules turn those estimates into alerts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from synthwatch.models.base import Model
from synthwatch.models.quality import FlaggedFrames
from synthwatch.models.uvvis import UVVisFeatures
from synthwatch.stream.contract import Descriptor, RunStart

log = logging.getLogger(__name__)

#: Chemistry systems the UV-Vis features model understands.
UVVIS_SYSTEMS = ("Au-citrate", "Ag-citrate")


@dataclass
class ModelSet:
    """The models of one sensor: estimators fed readings, rules fed the estimates."""

    estimators: list[Model] = field(default_factory=list)
    rules: list[Model] = field(default_factory=list)


def models_for(start: RunStart | None, descriptor: Descriptor) -> ModelSet:
    """The models for ``descriptor``'s sensor in a run of ``start.system``.

    A sensor with no model for it (an impedance cell before that issue lands, a UV-Vis sensor on
    a silica run) still has its readings archived; it just gets no estimates.
    """
    system = start.system if start is not None else "Au-citrate"
    if descriptor.kind == "uvvis" and system in UVVIS_SYSTEMS:
        return ModelSet(
            estimators=[UVVisFeatures(descriptor, system=system)],
            rules=[FlaggedFrames()],
        )
    log.info(
        "no model for %s sensor %r in a %s run: readings are archived only",
        descriptor.kind,
        descriptor.sensor_id,
        system,
    )
    return ModelSet()
