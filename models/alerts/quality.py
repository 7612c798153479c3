"""Sensor-quality alert rule: too many flagged frames in a row of readings.

A spectrometer that keeps returning saturated or dropped frames (a bubble in the flow cell, a
lamp going out, a fibre knocked loose) needs a person. This rule watches the quality flags of a
sensor's estimates over a sliding window of the last ``window`` estimates and fires when at least
``fire_fraction`` of them carry one of the watched flags; it resolves, with hysteresis, only when
the fraction falls to ``resolve_fraction`` or below. One alert per state change, never repeated
while the state holds (de-duplication).

This is a plain statistical quality gate (a moving proportion with hysteresis, as in the
"k out of n" rules of statistical process control; Montgomery, Introduction to Statistical
Quality Control, 7th ed., Wiley 2012, sec. 6.3); the full alert engine is a later issue.

>>> from datetime import datetime, timedelta, timezone
>>> from synthwatch.contract.messages import Estimate, Quantity
>>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> def est(k, flags):
...     return Estimate(run_id="r1", t=t0 + timedelta(seconds=2 * k), sensor_id="uv1",
...                     model="uvvis_features", model_version="1", measurement="uvvis_features",
...                     quantities=[Quantity(name="a_400_au", value=0.5, units="AU")],
...                     flags=flags)
>>> rule = FlaggedFrames(window=4, fire_fraction=0.5, resolve_fraction=0.0)
>>> for k, flags in enumerate([[], ["dropout"], ["saturated"], [], [], [], []]):
...     rule.update(est(k, flags))
...     for alert in rule.alerts:
...         print(k, alert.state, alert.values["flagged_fraction"])
2 firing 0.5
6 resolved 0.0
"""

from __future__ import annotations

from collections import deque

from synthwatch.contract.messages import Alert, Estimate
from synthwatch.models.base import Model

#: Flags that mean the instrument delivered a bad frame. ``no_peak`` and ``low_signal`` are not
#: among them: before nucleation there is no plasmon band to see, and that is chemistry.
DEFAULT_FLAGS = ("saturated", "dropout", "shape_mismatch", "sensor_mismatch")


class FlaggedFrames(Model):
    """Fires when a sensor's recent estimates are too often flagged as bad frames.

    ``update(estimate)`` takes the estimates of one sensor (of ``model`` only, when given, so a
    frame seen by several models counts once); ``alerts`` holds the alerts (0 or 1) that the last
    update produced; ``firing`` and ``flagged_fraction`` read the state.
    """

    name = "flagged_frames"
    version = "1"

    def __init__(
        self,
        window: int = 20,
        fire_fraction: float = 0.25,
        resolve_fraction: float = 0.05,
        flags: tuple[str, ...] = DEFAULT_FLAGS,
        severity: str = "warning",
        model: str | None = "uvvis_features",
    ):
        if window < 1:
            raise ValueError(f"window: expected an integer >= 1, got {window}")
        if not 0.0 < fire_fraction <= 1.0:
            raise ValueError(f"fire_fraction: expected 0 < value <= 1, got {fire_fraction}")
        if not 0.0 <= resolve_fraction < fire_fraction:
            raise ValueError(
                f"resolve_fraction: expected 0 <= value < fire_fraction ({fire_fraction}), "
                f"got {resolve_fraction}"
            )
        if severity not in ("info", "warning", "critical"):
            raise ValueError(f"severity: expected info, warning or critical, got {severity!r}")
        self.window = window
        self.fire_fraction = fire_fraction
        self.resolve_fraction = resolve_fraction
        self.flags = tuple(flags)
        self.severity = severity
        self.model = model
        self._recent: deque[bool] = deque(maxlen=window)
        self._firing = False
        self._alerts: tuple[Alert, ...] = ()

    def update(self, estimate: Estimate) -> None:
        self._alerts = ()
        if self.model is not None and estimate.model != self.model:
            return  # one vote per frame: only the estimates of the watched model count
        bad = [f for f in estimate.flags if f in self.flags]
        self._recent.append(bool(bad))
        fraction = self.flagged_fraction
        self._alerts = ()
        if not self._firing and fraction >= self.fire_fraction:
            self._firing = True
            self._alerts = (self._alert(estimate, "firing", fraction, bad),)
        elif self._firing and fraction <= self.resolve_fraction:
            self._firing = False
            self._alerts = (self._alert(estimate, "resolved", fraction, bad),)

    def _alert(self, est: Estimate, state: str, fraction: float, bad: list[str]) -> Alert:
        n_bad = sum(self._recent)
        if state == "firing":
            what = ", ".join(sorted(set(bad))) or "bad frames"
            message = (
                f"sensor {est.sensor_id}: {n_bad} of the last {self.window} frames flagged "
                f"({what}). Check the flow cell for bubbles, the lamp and the fibre connections."
            )
        else:
            message = (
                f"sensor {est.sensor_id}: frames clean again ({n_bad} of the last "
                f"{self.window} flagged)."
            )
        return Alert(
            run_id=est.run_id,
            t=est.t,
            rule=f"{self.name}:{est.sensor_id}",
            severity="info" if state == "resolved" else self.severity,
            state=state,
            sensor_id=est.sensor_id,
            values={"flagged_fraction": round(fraction, 6), "window_frames": self.window},
            message=message,
        )

    @property
    def alerts(self) -> tuple[Alert, ...]:
        """Alerts produced by the last update (state changes only)."""
        return self._alerts

    @property
    def firing(self) -> bool:
        return self._firing

    @property
    def flagged_fraction(self) -> float:
        """Flagged estimates among the last ``window``, over ``window`` (unseen count as clean)."""
        return sum(self._recent) / self.window
