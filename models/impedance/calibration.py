"""Online calibration of sensor features to a reference size, learning from delayed labels.

A run-level model: fed every estimate of the run's sensor models and every
:class:`~synthwatch.contract.messages.Label`. Clean estimates of the watched measurements
(``impedance_fit``, and ``uvvis_features`` when the run has a spectrometer) update the run's
current feature vector, kept with its event time in a bounded history (``max_history`` entries,
``history_s`` seconds). A Label of ``quantity`` (e.g. a DLS size, arriving hours after its
sample) is matched to the features at the *sample's* event time: the mean of the feature vectors
within ``match_window_s`` of ``sample_t``. Then, in progressive validation (predict, then learn;
A. Blum, A. Kalai and J. Langford, COLT 1999; river's ``evaluate.progressive_val_score``), the
regressor predicts the label from those features, the absolute error is added to the running
mean absolute error, and only then does the regressor learn the label. The naive baseline (the
last label received predicts the next one) is scored on the same labels.

Features are relative to the run's first clean estimate, so runs with different cells compare:
``ln(x / x0)`` for positive quantities (resistances, conductivity, Q), ``x - x0`` for the
others (CPE alpha, SPR wavelength). The regressor is river's Bayesian linear regression
(C. M. Bishop, Pattern Recognition and Machine Learning, Springer 2006, sec. 3.3: the posterior
of the weights is updated in closed form, so a handful of labels suffice) with a bias feature;
its predictive standard deviation is the prediction's uncertainty.

Estimates (measurement ``calibration``, sensor ``calibration``): on every clean feature update
once ``min_labels`` labels were learned, ``<quantity>_pred`` (e.g. ``d_mean_nm_pred``) with its
uncertainty; on every label, ``pv_abs_error``, ``pv_mae``, ``naive_mae``, ``n_labels`` (the
progressive-validation figures, in the label's units), flagged ``label_unmatched`` when no
features were near its sample time.

>>> from datetime import datetime, timedelta, timezone
>>> from synthwatch.contract.messages import Estimate, Label, Quantity
>>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> def fit(k, r_ct):
...     return Estimate(run_id="r1", t=t0 + timedelta(hours=k), sensor_id="eis1",
...                     model="impedance_fit", model_version="1", measurement="impedance_fit",
...                     quantities=[Quantity(name="r_ct_ohm", value=r_ct, units="ohm")])
>>> def label(k, size):
...     return Label(run_id="r1", t=t0 + timedelta(hours=k + 3), sample_t=t0 + timedelta(hours=k),
...                  quantity="d_mean_nm", value=size, units="nm", method="DLS")
>>> cal = SizeCalibration()
>>> for k in range(8):
...     cal.update(fit(k, 1000.0 * (1 + 0.25 * k)))
>>> for k in (1, 2, 3):
...     cal.update(label(k, 100.0 + 40.0 * __import__("math").log(1 + 0.25 * k)))
>>> cal.n_labels, round(cal.pv_mae, 1) < round(cal.naive_mae, 1)
(3, True)
>>> cal.update(fit(8, 3000.0))
>>> round(cal.estimate.get("d_mean_nm_pred").value)
144
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from datetime import datetime
from typing import Any

from river import linear_model

from synthwatch.contract.messages import SYSTEMS, Estimate, Label, Quantity
from synthwatch.models.base import Model, finite_or_none
from synthwatch.models.declare import register, setting

__all__ = ["SizeCalibration", "DEFAULT_FEATURES"]

#: (measurement, quantity, transform): "log" for ln(x / x0), "delta" for x - x0
DEFAULT_FEATURES: tuple[tuple[str, str, str], ...] = (
    ("impedance_fit", "r_ct_ohm", "log"),
    ("impedance_fit", "conductivity_s_per_m", "log"),
    ("impedance_fit", "cpe_q_s_alpha", "log"),
    ("impedance_fit", "cpe_alpha", "delta"),
    ("uvvis_features", "lambda_spr_nm", "delta"),
    ("uvvis_features", "a_400_au", "delta"),
)

#: flags that do not disqualify an estimate as a source of features
_INFO_FLAGS = frozenset(
    {"missing_points_dropped", "haiss_not_applicable", "haiss_out_of_range", "missing_interpolated"}
)


SWITCH = setting("calibration", True, "Size calibration from delayed labels (silica runs).")


@register(kinds=("run",), systems=SYSTEMS, switch=SWITCH, cost="cheap")
class SizeCalibration(Model):
    """Online regressor from sensor features to a delayed reference (progressive validation).

    Properties: ``estimate`` (the output of the last update, or None), ``n_labels``,
    ``pv_mae`` and ``naive_mae`` (NaN before the first scored label), ``unmatched`` (labels
    with no features near their sample time).
    """

    name = "size_calibration"
    version = "1"

    def __init__(
        self,
        quantity: str = "d_mean_nm",
        features: tuple[tuple[str, str, str], ...] = DEFAULT_FEATURES,
        match_window_s: float = 300.0,
        history_s: float = 48 * 3600.0,
        max_history: int = 20_000,
        min_labels: int = 2,
        prior_alpha: float = 1e-4,
        noise_beta: float = 0.02,
    ):
        if not (match_window_s > 0 and history_s > 0 and max_history >= 1 and min_labels >= 1):
            raise ValueError(
                "expected match_window_s > 0, history_s > 0, max_history >= 1, min_labels >= 1"
            )
        if not (prior_alpha > 0 and noise_beta > 0):
            raise ValueError("expected prior_alpha > 0 and noise_beta > 0")
        for feat in features:
            if len(feat) != 3 or feat[2] not in ("log", "delta"):
                raise ValueError(
                    f"features: expected (measurement, quantity, 'log' | 'delta'), got {feat!r}"
                )
        self.quantity = quantity
        self.features = features
        self.match_window_s = match_window_s
        self.history_s = history_s
        self.max_history = max_history
        self.min_labels = min_labels
        self.prior_alpha = prior_alpha
        self.noise_beta = noise_beta
        self._regressor = linear_model.BayesianLinearRegression(alpha=prior_alpha, beta=noise_beta)
        self._watched = {m for m, _, _ in features}
        self._origin: dict[str, float] = {}
        self._current: dict[str, float] = {}
        self._times: deque[float] = deque()
        self._history: deque[dict[str, float]] = deque()
        self._n_labels = 0
        self._n_scored = 0
        self._abs_error_sum = 0.0
        self._naive_n = 0
        self._naive_sum = 0.0
        self._last_label: float | None = None
        self._unmatched = 0
        self._units = ""  # the labels' units, from the first label
        self._estimate: Estimate | None = None
        self._out: dict[str, Any] | None = None

    # ------------------------------------------------------------------ update
    def update(self, message: Estimate | Label) -> None:
        self._out = None
        self._estimate = None
        if isinstance(message, Label):
            if message.quantity == self.quantity:
                self._on_label(message)
        elif isinstance(message, Estimate) and message.measurement in self._watched:
            self._on_features(message)

    def _on_features(self, est: Estimate) -> None:
        if set(est.flags) - _INFO_FLAGS:
            return
        changed = False
        for measurement, qname, transform in self.features:
            if measurement != est.measurement:
                continue
            try:
                value = est.get(qname).value
            except KeyError:
                continue
            if value is None or (transform == "log" and value <= 0):
                continue
            key = f"{measurement}:{qname}"
            x0 = self._origin.setdefault(key, value)
            self._current[key] = math.log(value / x0) if transform == "log" else value - x0
            changed = True
        if not changed:
            return
        t = est.t.timestamp()
        if self._times and t < self._times[-1]:
            return  # out of order: the history stays sorted (the worker orders each sensor)
        self._times.append(t)
        self._history.append(dict(self._current))
        while self._times and (
            len(self._times) > self.max_history or t - self._times[0] > self.history_s
        ):
            self._times.popleft()
            self._history.popleft()
        if self._n_labels >= self.min_labels:
            dist = self._regressor.predict_one(self._x(self._current), with_dist=True)
            self._out = {
                "run_id": est.run_id,
                "t": est.t,
                "quantities": [
                    (f"{self.quantity}_pred", dist.mu, self._units, dist.sigma),
                    ("n_labels", float(self._n_labels), "1", None),
                ],
                "flags": [],
            }

    def _on_label(self, label: Label) -> None:
        self._units = label.units
        x = self._features_at(label.sample_t)
        if x is None:
            self._unmatched += 1
            self._out = {
                "run_id": label.run_id,
                "t": label.t,
                "quantities": [
                    ("pv_abs_error", None, label.units, None),
                    ("n_labels", float(self._n_labels), "1", None),
                ],
                "flags": ["label_unmatched"],
            }
            return
        err = None
        if self._n_labels > 0:
            err = abs(self._regressor.predict_one(self._x(x)) - label.value)
            self._n_scored += 1
            self._abs_error_sum += err
        if self._last_label is not None:
            self._naive_n += 1
            self._naive_sum += abs(self._last_label - label.value)
        self._regressor.learn_one(self._x(x), label.value)
        self._n_labels += 1
        self._last_label = label.value
        self._out = {
            "run_id": label.run_id,
            "t": label.t,
            "quantities": [
                ("pv_abs_error", err, label.units, None),
                ("pv_mae", self.pv_mae, label.units, None),
                ("naive_mae", self.naive_mae, label.units, None),
                ("n_labels", float(self._n_labels), "1", None),
            ],
            "flags": [],
        }

    def _features_at(self, when: datetime) -> dict[str, float] | None:
        """Mean feature vector within ``match_window_s`` of ``when`` (None if there is none)."""
        t = when.timestamp()
        times = self._times
        lo = bisect.bisect_left(times, t - self.match_window_s)
        hi = bisect.bisect_right(times, t + self.match_window_s)
        if hi <= lo:
            return None
        rows = [self._history[i] for i in range(lo, hi)]
        keys = set().union(*rows)
        return {k: sum(r[k] for r in rows if k in r) / sum(k in r for r in rows) for k in keys}

    @staticmethod
    def _x(features: dict[str, float]) -> dict[str, float]:
        return {"bias": 1.0, **features}

    # ------------------------------------------------------------------ results
    @property
    def estimate(self) -> Estimate | None:
        """The output of the last update: a prediction or a label's score (None otherwise)."""
        if self._out is None:
            return None
        if self._estimate is None:
            out = self._out
            self._estimate = Estimate(
                run_id=out["run_id"],
                t=out["t"],
                sensor_id="calibration",
                model=self.name,
                model_version=self.version,
                measurement="calibration",
                quantities=[
                    Quantity(
                        name=n, value=finite_or_none(v), units=u, uncertainty=finite_or_none(s)
                    )
                    for n, v, u, s in out["quantities"]
                ],
                flags=out["flags"],
            )
        return self._estimate

    @property
    def n_labels(self) -> int:
        """Labels learned."""
        return self._n_labels

    @property
    def pv_mae(self) -> float:
        """Progressive-validation mean absolute error (NaN before the second label)."""
        return self._abs_error_sum / self._n_scored if self._n_scored else math.nan

    @property
    def naive_mae(self) -> float:
        """Mean absolute error of predicting the last label (NaN before the second label)."""
        return self._naive_sum / self._naive_n if self._naive_n else math.nan

    @property
    def unmatched(self) -> int:
        """Labels with no features within ``match_window_s`` of their sample time."""
        return self._unmatched
