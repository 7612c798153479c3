"""Co-adding consecutive spectra before a model fits them (a spectrometer's "scans to average").

A spectrometer read at 1 Hz gives a spectrum a second, but the particles of a synthesis change on
the scale of minutes, and the noise of one spectrum sets the precision of a size fit. Averaging
``n`` consecutive spectra before fitting divides the noise sd by sqrt(n) and the cost of the fit
by n: the standard signal averaging of spectroscopy (Skoog, Holler & Crouch, *Principles of
Instrumental Analysis*, 7th ed., section 5C-2, "ensemble averaging": S/N grows as sqrt(n)).
:class:`Coadd` wraps a spectrum model (the lognormal size distribution, the shape check) and
feeds it the mean of every ``n`` good spectra; its estimate carries the time and sequence number
of the block's last spectrum, so it uses no spectrum from the future of its time stamp.

What is not averaged, so that a bad frame is never hidden inside a mean: a reading with flags,
with a missing or non-finite value, with a value at or above ``saturation_au`` (averaged with
good frames, a saturated pixel would fall below the saturation level and be fitted as if it were
true), or with another number of points than the block. Such a reading goes to the model alone,
at once, and the model flags its estimate as it would without the wrapper; the block goes on.
Spectra of a block not yet full when the run ends are stored as readings but give no estimate.

>>> from datetime import datetime, timedelta, timezone
>>> from synthwatch.contract.messages import Reading
>>> class Mean(Model):
...     name, version = "mean", "1"
...     def __init__(self):
...         self._last = None
...     def update(self, message) -> None:
...         self._last = (message.seq, round(sum(message.values) / len(message.values), 3))
...     @property
...     def estimate(self):
...         return self._last
>>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> avg = Coadd(Mean(), n=3, saturation_au=10.0)
>>> out = []
>>> for k, v in enumerate([1.0, 2.0, 3.0, 12.0, 4.0, 5.0, 6.0]):
...     r = Reading(run_id="r", t=t0 + timedelta(seconds=k), sensor_id="uv1", seq=k,
...                 values=[v, v])
...     avg.update(r)
...     out.append(avg.estimate)
>>> out                                   # 12 is saturated: passed on alone, not averaged
[None, None, (2, 2.0), (3, 12.0), None, None, (6, 5.0)]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from synthwatch.contract.messages import Reading
from synthwatch.models.base import Model, Wrapper
from synthwatch.models.reading_values import reading_values

__all__ = ["Coadd"]


class Coadd(Wrapper, Model):
    """Feeds ``model`` the mean of every ``n`` consecutive good spectra (module doc); its
    ``estimate`` is the model's after a full block or a bad frame, else None."""

    def __init__(self, model: Model, n: int = 5, saturation_au: float | None = None):
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n: expected an integer >= 1 (spectra per average), got {n!r}")
        if saturation_au is not None and not (
            isinstance(saturation_au, (int, float)) and saturation_au > 0
        ):
            raise ValueError(
                f"saturation_au: expected a positive number or None, got {saturation_au!r}"
            )
        self.model = model
        self.n = n
        self.saturation_au = saturation_au
        self._sum: np.ndarray | None = None
        self._count = 0
        self._fresh = False

    def update(self, message: Any) -> None:
        """Add a spectrum to the block (fit the mean when it is full); pass anything else on."""
        self._fresh = False
        if not isinstance(message, Reading) or self.n == 1:
            self.model.update(message)
            self._fresh = True
            return
        values = reading_values(message)
        if not self._good(message, values):
            self.model.update(message)  # alone, at once: the model flags it
            self._fresh = True
            return
        if self._sum is None:
            self._sum = values.copy()
        else:
            self._sum += values
        self._count += 1
        if self._count < self.n:
            return
        mean = self._sum / self._count
        self._sum, self._count = None, 0
        self.model.update(
            message.model_copy(
                update={"values": mean.tolist(), "counts": None, "dark": None, "reference": None}
            )
        )
        self._fresh = True

    def _good(self, message: Reading, values: np.ndarray) -> bool:
        if message.flags or not np.isfinite(values).all():
            return False
        if self._sum is not None and values.size != self._sum.size:
            return False
        sat = self.saturation_au
        return sat is None or not (values.size and float(values.max()) >= sat)

    @property
    def pending(self) -> int:
        """Spectra in the block not yet averaged."""
        return self._count

    def clone(self) -> Model:
        return Coadd(self.model.clone(), self.n, self.saturation_au)

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        from synthwatch.models.alerts.quality import FlaggedFrames

        return {"model": FlaggedFrames(), "n": 2, "saturation_au": 3.0}


def spectra_per_average(average_s: float, interval_s: float | None) -> int:
    """How many spectra at ``interval_s`` make an average over ``average_s`` (at least 1).

    >>> spectra_per_average(5.0, 1.0), spectra_per_average(5.0, 2.0), spectra_per_average(0, 1.0)
    (5, 2, 1)
    """
    if not average_s > 0 or interval_s is None or not interval_s > 0:
        return 1
    return max(1, math.floor(average_s / interval_s + 1e-9))
