"""Scalar probes (temperature, pH, pressure...): each reading becomes an estimate alert rules see.

:class:`ScalarValue` passes a scalar sensor's value on, named ``<quantity>_<units>`` from its
Descriptor (``temperature`` in ``degC`` gives ``temperature_degC``), under measurement
``scalar``. A missing or non-finite value is flagged ``missing`` with no value, so it is seen, not
dropped. It also reports ``rate_per_min``, the change per minute since the previous reading, so
that a runaway (a heater stuck on) shows before the limit is reached.

>>> from datetime import datetime, timedelta, timezone
>>> from synthwatch.contract.messages import Descriptor, Reading
>>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> desc = Descriptor(run_id="r1", t=t0, sensor_id="T1", kind="scalar", axis=[],
...                   value_units="degC", quantity="temperature")
>>> m = ScalarValue(desc)
>>> m.update(Reading(run_id="r1", t=t0, sensor_id="T1", seq=0, values=[99.8]))
>>> m.update(Reading(run_id="r1", t=t0 + timedelta(seconds=30), sensor_id="T1", seq=1,
...                  values=[100.3]))
>>> [(q.name, q.value) for q in m.estimate.quantities]
[('temperature_degC', 100.3), ('rate_per_min', 1.0)]
"""

from __future__ import annotations

import math
import re
from typing import Any

from synthwatch.contract.messages import Descriptor, Estimate, Reading
from synthwatch.models.base import Model, build_estimate
from synthwatch.models.declare import register

__all__ = ["ScalarValue", "scalar_quantity_name"]


def scalar_quantity_name(descriptor: Descriptor) -> str:
    """``<quantity>_<units>`` with anything but letters, digits and '_' made '_'."""
    base = descriptor.quantity or "value"
    name = f"{base}_{descriptor.value_units}" if descriptor.value_units else base
    return re.sub(r"[^A-Za-z0-9_]", "_", name)[:64]


@register(kinds=("scalar",), cost="cheap", build=lambda ctx: ScalarValue(ctx.descriptor))
class ScalarValue(Model):
    """A scalar sensor's reading as an estimate (measurement ``scalar``)."""

    name = "scalar"
    version = "1"

    def __init__(self, descriptor: Descriptor):
        self.descriptor = descriptor
        self._qname = scalar_quantity_name(descriptor)
        self._prev: tuple[Any, float] | None = None
        self._out: Estimate | None = None

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        from datetime import datetime, timezone

        t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
        desc = Descriptor(
            run_id="r1", t=t0, sensor_id="uv1", kind="scalar", axis=[], value_units="degC",
            quantity="temperature",
        )  # fmt: skip
        return {"descriptor": desc}

    def update(self, message: Any) -> None:
        self._out = None
        if not isinstance(message, Reading) or message.sensor_id != self.descriptor.sensor_id:
            return
        v = message.values[0] if message.values else math.nan
        if not math.isfinite(v):
            q = [(self._qname, None, self.descriptor.value_units, None)]
            self._out = build_estimate(message, self, "scalar", q, ["missing"])
            return
        rate = None
        if self._prev is not None:
            dt = (message.t - self._prev[0]).total_seconds()
            if dt > 0:
                rate = (v - self._prev[1]) / dt * 60.0
        self._prev = (message.t, v)
        units = self.descriptor.value_units
        q = [(self._qname, v, units, None), ("rate_per_min", rate, f"{units}/min", None)]
        self._out = build_estimate(message, self, "scalar", q, [])

    @property
    def estimate(self) -> Estimate | None:
        return self._out
