"""Online correction of the UV-Vis (lognormal Mie) size by delayed TEM, SAXS or DLS labels.

The size that :class:`~synthwatch.models.psd.lognormal.LognormalPSD` inverts from a spectrum
carries a model error: the optical constants of real particles differ from the published ones,
so for a given metal, recipe and size range the size is biased, mostly systematically (e.g.
15 % low for one batch of gold). A run-level model, :class:`UVVisSizeCalibration`, learns that
bias from the reference sizes a chemist sends, hours after the sample, as
:class:`~synthwatch.contract.messages.Label` messages of quantity ``d_mean_nm``.

Method. The correction is a log-bias ``b``: the true size is ``d_est * exp(b)``. Clean
``psd_lognormal`` estimates (``psd`` measurement; a None ``d_mean_nm`` is skipped; flags
``dropout`` and ``saturated``, points left out of a fit that was still made, ``unexplained``
and ``at_bound:*`` do not disqualify, every other flag does, see :data:`USABLE_FLAGS`) are
kept in a bounded history (``max_history`` entries, ``history_s`` seconds) as (event time,
sensor, ln d_mean, noise sd and model sd of ln d): the parts ``uncertainty_noise`` and
``uncertainty_model`` of the size, or, without them, its whole ``uncertainty`` as noise and
``default_model_rel_sd`` as the
model part. A size pinned at its fit bound (``at_bound:d_mean_nm``) is corrected but never
matched to a label: a label beyond the bound would teach the bound, not the model error.

A label is matched to the estimates within ``match_window_s`` of its *sample* time (not its
arrival): a polynomial in time of degree ``match_degree`` (default 2), fitted to ln d_mean over
the window by least squares, evaluated at ``sample_t`` (degree 0 is the window's mean). While
particles grow, ln d is curved in time, and the mean over +-300 s misses the size at the sample
time: by -4 % at 11 nm and -9 % at 7 nm on the simulated gold run, as large as the bias to be
learned; the local quadratic removes that (and a linear trend over a window with estimates on
one side only, where the degree is at most 1). The noise sd of the matched ln d is that of the
linear smoother, sqrt(sum c_i^2 noise_i^2) (sqrt(mean noise^2 / k) for the mean of k fits).
The label's residual ``r = ln(d_label) - ln d_matched`` has variance
``sigma^2 = (label sd / label)^2 + noise^2`` (a label without an uncertainty gets the relative
sd ``default_label_rel_sd``; sigma is at least ``1e-3``).

``b`` is learned online by river's ``linear_model.BayesianLinearRegression`` (C. M. Bishop,
Pattern Recognition and Machine Learning, Springer 2006, sec. 3.3: Gaussian prior, Gaussian
noise, posterior in closed form) with one feature, ``bias``. Each label is weighted by its
variance by feeding ``x = 1/sigma`` and ``y = r/sigma`` with noise precision ``beta = 1``, so
the posterior precision of ``b`` is ``alpha + sum 1/sigma_i^2`` and its mean
``sum(r_i/sigma_i^2) / precision``. The prior ``b ~ N(0, 1/alpha)`` is the model error:
``alpha = 1/(model sd / d)^2`` of the first matched estimate (``uncertainty_model``, the spread
over an ensemble of optical constants, or ``default_model_rel_sd`` when the estimate has none;
the relative sd clipped to ``prior_rel_sd_range``). With no label the prior says "the size is
off by about the model error". The posterior mean and variance come from
``predict_one({"bias": 1.0}, with_dist=True)``: mean ``b``, variance ``1/beta + var(b)``; the
subtraction of 1 loses about 1e-16 / var(b) relative, 1e-10 at a 0.1 % posterior sd (checked
against the conjugate-normal arithmetic in the tests). Of river's model only ``learn_one``
without ``smoothing`` is used: its precision accumulator starts at ``I / alpha`` instead of
``alpha I`` (river 0.26), which only ``learn_many`` and ``smoothing`` read; the covariance that
``learn_one`` updates (Sherman-Morrison) starts right, at ``I / alpha``.

One constant ``b`` per run (across its spectrometers). A bias that changes with size would
show as labels scattered about ``b`` by more than their sigmas: that excess is estimated as
the between-label variance ``tau^2`` of a random-effects meta-analysis (R. DerSimonian and N.
Laird, Controlled Clinical Trials 7 (1986) 177: ``tau^2 = max(0, (Q - (n - 1)) /
(sum w - sum w^2 / sum w))``, Q the weighted sum of squares of the residuals about their
weighted mean, w = 1/sigma^2, accumulated by D. H. D. West's update, Commun. ACM 22 (1979)
532) and added to the model part of the corrected size's uncertainty, so it is not claimed
away. A second feature ``ln(d_est / d_ref)`` (a size-dependent bias) is not fitted: with the
few labels of a run it cannot be told from label noise, and no labelled data yet show that it
predicts better; ``tau`` reports what a constant leaves.

Progressive validation (A. Blum, A. Kalai and J. Langford, COLT 1999): every matched label is
first predicted, ``exp(ln d_matched + b)`` with the ``b`` learned so far (0, the prior mean,
before the first label: unlike SizeCalibration the first label is scored too), its absolute
error added to ``pv_mae_nm`` and the uncorrected error ``|exp(ln d_matched) - d_label|`` to
``uncorrected_mae_nm`` (the same labels), and only then learned.

Estimates (model ``uvvis_size_calibration``, measurement ``psd_calibrated``):

* on every clean ``psd_lognormal`` estimate once ``min_labels`` labels were learned (sensor and
  seq of the PSD estimate): ``d_mean_corrected_nm = d_est * exp(b)`` with
  ``uncertainty_noise`` the estimate's noise part times ``exp(b)``, ``uncertainty_model =
  d_corrected * sqrt(var(b) + tau^2)``, ``uncertainty`` their root sum of squares, and the 95 %
  interval (``lower``, ``upper``) in ln d: half-widths of the estimate (its own ``lower`` or
  ``upper`` when given, else 1.96 noise sds) and 1.96 sqrt(var(b) + tau^2) added in quadrature;
  ``correction_ln`` (b, its posterior sd), ``correction_scatter_ln`` (tau), ``n_labels``;
* on every label (sensor ``calibration``): ``pv_abs_error_nm``, ``uncorrected_abs_error_nm``,
  ``pv_mae_nm``, ``uncorrected_mae_nm``, ``n_labels``, ``correction_ln`` (after learning it);
  flag ``label_unmatched`` when no estimate was near its sample time, ``label_invalid`` when its
  value is not positive or its units are not ``nm`` (neither is learned).

The model is plain data (river's regressor holds numpy arrays), so the worker checkpoints it
with the run's state and a restored copy goes on exactly as the original.

>>> import math, random
>>> from datetime import datetime, timedelta, timezone
>>> from synthwatch.contract.messages import Estimate, Label, Quantity
>>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> def psd(minute, d_nm):  # a UV-Vis size 15 % low, 1 % noise, 20 % model error
...     q = Quantity(name="d_mean_nm", value=d_nm, units="nm", uncertainty=0.2 * d_nm,
...                  uncertainty_noise=0.01 * d_nm, uncertainty_model=0.2 * d_nm)
...     return Estimate(run_id="r1", t=t0 + timedelta(minutes=minute), sensor_id="uv1",
...                     model="psd_lognormal", model_version="1", measurement="psd",
...                     quantities=[q])
>>> def label(minute, d_nm):  # TEM, 3 % sd, arriving 4 h after the sample
...     return Label(run_id="r1", t=t0 + timedelta(minutes=minute + 240), quantity="d_mean_nm",
...                  sample_t=t0 + timedelta(minutes=minute), value=d_nm,
...                  uncertainty=0.03 * d_nm, units="nm", method="TEM")
>>> size_nm = lambda minute: 10.0 + minute / 6.0  # the true size grows
>>> cal = UVVisSizeCalibration()
>>> for minute in range(0, 240):
...     cal.update(psd(minute, 0.85 * size_nm(minute)))
>>> rng = random.Random(0)
>>> for minute in (30, 90, 150):
...     cal.update(label(minute, size_nm(minute) * (1 + rng.gauss(0.0, 0.03))))
>>> cal.n_labels, round(cal.correction_ln, 3), round(-math.log(0.85), 3)
(3, 0.15, 0.163)
>>> cal.pv_mae_nm < cal.uncorrected_mae_nm
True
>>> cal.update(psd(240, 0.85 * size_nm(240)))
>>> q = cal.estimate.get("d_mean_corrected_nm")
>>> round(q.value, 1), size_nm(240), round(q.uncertainty_model, 2), round(q.uncertainty, 2)
(49.4, 50.0, 1.3, 1.39)
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from typing import Any

import numpy as np
from river import linear_model

from synthwatch.contract.messages import Estimate, Label, Quantity
from synthwatch.models.base import Model, quantity_fields
from synthwatch.models.declare import register, setting

__all__ = ["UVVisSizeCalibration", "USABLE_FLAGS"]

#: flags of a ``psd_lognormal`` estimate that leave its size usable: points left out of a fit
#: that was still made (``dropout``, ``saturated``), a parameter at a bound (``at_bound:*``,
#: with its own interval), and ``unexplained`` (a misfit beyond the noise: on real particles that
#: is what the optical constants' error looks like, the very error the labels correct; a fit
#: too poor to read has no d_mean and is skipped); every other flag of LognormalPSD.FLAGS (and
#: any unknown) disqualifies
USABLE_FLAGS = frozenset({"dropout", "saturated", "unexplained"})
_USABLE_PREFIXES = ("at_bound:",)
#: a size at its fit bound: corrected, never matched to a label
_PINNED = "at_bound:d_mean_nm"
#: the 0.975 quantile of the standard normal distribution
_Z95 = 1.959963984540054
#: smallest sd of a label's log-residual (an exact label with a noiseless fit)
_MIN_SIGMA_LN = 1e-3
_SOURCE = ("psd", "psd_lognormal")  # (measurement, model) of the sizes corrected
_QUANTITY = "d_mean_nm"

SWITCH = setting(
    "uvvis_size_calibration",
    True,
    "Correct the lognormal UV-Vis size by delayed TEM/SAXS/DLS labels (gold, silver).",
)


def usable(flags: list[str]) -> bool:
    """Whether an estimate with ``flags`` is a clean source of sizes.

    >>> usable([]), usable(["dropout", "at_bound:gsd"]), usable(["at_grid_edge"])
    (True, True, False)
    """
    return all(f in USABLE_FLAGS or f.startswith(_USABLE_PREFIXES) for f in flags)


@register(kinds=("run",), systems=("Au-citrate", "Ag-citrate"), switch=SWITCH, cost="cheap")
class UVVisSizeCalibration(Model):
    """Log-bias of the UV-Vis size learned from delayed labels (Bayesian, progressive validation).

    Properties: ``estimate`` (the output of the last update, or None), ``n_labels``,
    ``unmatched``, ``pv_mae_nm`` and ``uncorrected_mae_nm`` (NaN before the first matched
    label), ``correction_ln`` (b; 0 before the first label), ``correction_sd_ln`` (its posterior
    sd; NaN before the first label), ``correction_scatter_ln`` (tau).
    """

    name = "uvvis_size_calibration"
    version = "1"

    def __init__(
        self,
        match_window_s: float = 300.0,
        match_degree: int = 2,
        history_s: float = 48 * 3600.0,
        max_history: int = 20_000,
        min_labels: int = 1,
        default_label_rel_sd: float = 0.05,
        default_model_rel_sd: float = 0.15,
        prior_rel_sd_range: tuple[float, float] = (0.01, 1.0),
    ):
        if not (match_window_s > 0 and history_s > 0 and max_history >= 1 and min_labels >= 0):
            raise ValueError(
                "expected match_window_s > 0, history_s > 0, max_history >= 1, min_labels >= 0"
            )
        if match_degree not in (0, 1, 2):
            raise ValueError(f"match_degree: expected 0, 1 or 2, got {match_degree!r}")
        if not (default_label_rel_sd > 0 and default_model_rel_sd > 0):
            raise ValueError("expected default_label_rel_sd > 0 and default_model_rel_sd > 0")
        lo, hi = prior_rel_sd_range
        if not 0 < lo <= hi:
            raise ValueError(f"prior_rel_sd_range: expected 0 < low <= high, got {lo}, {hi}")
        self.match_window_s = match_window_s
        self.match_degree = match_degree
        self.history_s = history_s
        self.max_history = max_history
        self.min_labels = min_labels
        self.default_label_rel_sd = default_label_rel_sd
        self.default_model_rel_sd = default_model_rel_sd
        self.prior_rel_sd_range = prior_rel_sd_range
        # history, sorted by event time: (sensor_id, ln d, noise sd of ln d, model sd of ln d)
        self._times: deque[float] = deque()
        self._rows: deque[tuple[str, float, float, float]] = deque()
        self._regressor: linear_model.BayesianLinearRegression | None = None
        self._b = 0.0  # posterior mean of the log-bias
        self._b_var = math.nan  # its posterior variance (NaN: no prior chosen yet)
        # weighted residual statistics for the between-label variance (DerSimonian-Laird)
        self._sum_w = 0.0
        self._sum_w2 = 0.0
        self._mean_r = 0.0
        self._q = 0.0
        self._n_labels = 0
        self._n_scored = 0
        self._pv_sum = 0.0
        self._raw_sum = 0.0
        self._unmatched = 0
        self._estimate: Estimate | None = None
        self._out: dict[str, Any] | None = None

    # ------------------------------------------------------------------ update
    def update(self, message: Estimate | Label) -> None:
        self._out = None
        self._estimate = None
        if isinstance(message, Label):
            if message.quantity == _QUANTITY:
                self._on_label(message)
        elif isinstance(message, Estimate) and (message.measurement, message.model) == _SOURCE:
            self._on_psd(message)

    def _on_psd(self, est: Estimate) -> None:
        if not usable(est.flags):
            return
        try:
            q = est.get(_QUANTITY)
        except KeyError:
            return
        d = q.value
        if d is None or not (math.isfinite(d) and d > 0):
            return
        noise_sd, model_sd = _parts(q)
        noise_ln = noise_sd / d
        model_ln = model_sd / d if model_sd is not None else self.default_model_rel_sd
        if _PINNED not in est.flags:
            self._remember(est.t.timestamp(), (est.sensor_id, math.log(d), noise_ln, model_ln))
        if self._n_labels < self.min_labels:
            return
        b = self._b
        b_var = self._b_var if self._n_labels else self._prior_var(model_ln)
        model_var_ln = b_var + self.correction_scatter_ln**2
        d_corr = d * math.exp(b)
        # 95 % half-widths in ln d: the estimate's own (its interval, else 1.96 noise sds) and
        # the correction's, added in quadrature
        lo_ln = math.log(d / q.lower) if q.lower is not None and 0 < q.lower < d else None
        hi_ln = math.log(q.upper / d) if q.upper is not None and q.upper > d else None
        own = _Z95 * noise_ln
        corr2 = _Z95 * _Z95 * model_var_ln
        lower = d_corr * math.exp(-math.sqrt((own if lo_ln is None else lo_ln) ** 2 + corr2))
        upper = d_corr * math.exp(math.sqrt((own if hi_ln is None else hi_ln) ** 2 + corr2))
        extras = {
            "uncertainty_noise": d_corr * noise_ln,
            "uncertainty_model": d_corr * math.sqrt(model_var_ln),
            "lower": lower,
            "upper": upper,
        }
        total = d_corr * math.sqrt(noise_ln * noise_ln + model_var_ln)
        self._out = {
            "run_id": est.run_id,
            "t": est.t,
            "sensor_id": est.sensor_id,
            "seq": est.seq,
            "quantities": [
                ("d_mean_corrected_nm", d_corr, "nm", total, extras),
                ("correction_ln", b, "1", math.sqrt(b_var), None),
                ("correction_scatter_ln", self.correction_scatter_ln, "1", None, None),
                ("n_labels", float(self._n_labels), "1", None, None),
            ],
            "flags": [],
        }

    def _remember(self, t: float, row: tuple[str, float, float, float]) -> None:
        """Insert ``row`` at its event time (sensors interleave), then trim the history."""
        times = self._times
        if not times or t >= times[-1]:
            times.append(t)
            self._rows.append(row)
        else:
            i = bisect.bisect_right(times, t)
            times.insert(i, t)
            self._rows.insert(i, row)
        newest = times[-1]
        while times and (len(times) > self.max_history or newest - times[0] > self.history_s):
            times.popleft()
            self._rows.popleft()

    def _matched(self, label: Label) -> tuple[float, float, float] | None:
        """(ln d at the sample time, its noise sd, mean model sd of ln d), or None.

        A polynomial in time of degree ``match_degree`` (lowered to what the window's distinct
        times support, and to 1 when they all lie on one side of the sample) is fitted by least
        squares to ln d in the window and evaluated at ``sample_t``: with degree 0 the mean.
        Its noise sd is that of the linear smoother, sqrt(sum c_i^2 noise_i^2).
        """
        t = label.sample_t.timestamp()
        lo = bisect.bisect_left(self._times, t - self.match_window_s)
        hi = bisect.bisect_right(self._times, t + self.match_window_s)
        if hi <= lo:
            return None
        x = (np.array([self._times[i] for i in range(lo, hi)]) - t) / self.match_window_s
        rows = [self._rows[i] for i in range(lo, hi)]
        ln_d = np.array([r[1] for r in rows])
        noise = np.array([r[2] for r in rows])
        model_ln = sum(r[3] for r in rows) / len(rows)
        degree = min(self.match_degree, np.unique(x).size - 1)
        if x.min() > 0 or x.max() < 0:  # one-sided: no quadratic extrapolation
            degree = min(degree, 1)
        if degree <= 0:
            c = np.full(x.size, 1.0 / x.size)
        else:
            design = np.vander(x, degree + 1, increasing=True)  # 1, x, x^2 at x = 0: row e0
            c = np.linalg.pinv(design)[0]  # smoother weights of the value at the sample time
        value = float(c @ ln_d)
        sd = float(np.sqrt(np.sum(c * c * noise * noise)))
        if not math.isfinite(value):
            return None
        return value, sd, model_ln

    def _on_label(self, label: Label) -> None:
        base: dict[str, Any] = {"run_id": label.run_id, "t": label.t, "sensor_id": "calibration"}
        if label.units != "nm" or not label.value > 0:
            self._out = {**base, "quantities": self._score(None, None), "flags": ["label_invalid"]}
            return
        match = self._matched(label)
        if match is None:
            self._unmatched += 1
            self._out = {
                **base,
                "quantities": self._score(None, None),
                "flags": ["label_unmatched"],
            }
            return
        ln_d, noise_ln, model_ln = match
        # progressive validation: predict with what is known, then learn
        pv_err = abs(math.exp(ln_d + self._b) - label.value)
        raw_err = abs(math.exp(ln_d) - label.value)
        self._n_scored += 1
        self._pv_sum += pv_err
        self._raw_sum += raw_err
        rel_sd = (
            label.uncertainty / label.value
            if label.uncertainty is not None
            else self.default_label_rel_sd
        )
        sigma = max(math.sqrt(rel_sd * rel_sd + noise_ln * noise_ln), _MIN_SIGMA_LN)
        r = math.log(label.value) - ln_d
        self._learn(r, sigma, model_ln)
        self._out = {**base, "quantities": self._score(pv_err, raw_err), "flags": []}

    def _prior_var(self, model_ln: float) -> float:
        lo, hi = self.prior_rel_sd_range
        s = min(max(model_ln, lo), hi)
        return s * s

    def _learn(self, r: float, sigma: float, model_ln: float) -> None:
        if self._regressor is None:
            alpha = 1.0 / self._prior_var(model_ln)
            self._regressor = linear_model.BayesianLinearRegression(alpha=alpha, beta=1.0)
        self._regressor.learn_one({"bias": 1.0 / sigma}, r / sigma)
        dist = self._regressor.predict_one({"bias": 1.0}, with_dist=True)
        self._b = float(dist.mu)
        self._b_var = max(float(dist.sigma) ** 2 - 1.0, 0.0)  # predictive = 1/beta + posterior
        w = 1.0 / (sigma * sigma)
        self._sum_w += w
        self._sum_w2 += w * w
        delta = r - self._mean_r
        self._mean_r += delta * w / self._sum_w
        self._q += w * delta * (r - self._mean_r)
        self._n_labels += 1

    def _score(self, pv_err: float | None, raw_err: float | None) -> list[tuple]:
        sd = math.sqrt(self._b_var) if self._n_labels else None
        return [
            ("pv_abs_error_nm", pv_err, "nm", None, None),
            ("uncorrected_abs_error_nm", raw_err, "nm", None, None),
            ("pv_mae_nm", self.pv_mae_nm, "nm", None, None),
            ("uncorrected_mae_nm", self.uncorrected_mae_nm, "nm", None, None),
            ("n_labels", float(self._n_labels), "1", None, None),
            ("correction_ln", self._b if self._n_labels else None, "1", sd, None),
        ]

    # ------------------------------------------------------------------ results
    @property
    def estimate(self) -> Estimate | None:
        """The output of the last update: a corrected size or a label's score (else None)."""
        if self._out is None:
            return None
        if self._estimate is None:
            out = self._out
            quantities = [Quantity(**quantity_fields(*q)) for q in out["quantities"]]
            self._estimate = Estimate(
                run_id=out["run_id"],
                t=out["t"],
                sensor_id=out["sensor_id"],
                seq=out.get("seq"),
                model=self.name,
                model_version=self.version,
                measurement="psd_calibrated",
                quantities=quantities,
                flags=out["flags"],
            )
        return self._estimate

    @property
    def n_labels(self) -> int:
        """Labels learned."""
        return self._n_labels

    @property
    def unmatched(self) -> int:
        """Labels with no clean estimate within ``match_window_s`` of their sample time."""
        return self._unmatched

    @property
    def pv_mae_nm(self) -> float:
        """Progressive-validation mean absolute error of the corrected size (NaN: no label)."""
        return self._pv_sum / self._n_scored if self._n_scored else math.nan

    @property
    def uncorrected_mae_nm(self) -> float:
        """Mean absolute error of the uncorrected size on the same labels (NaN: no label)."""
        return self._raw_sum / self._n_scored if self._n_scored else math.nan

    @property
    def correction_ln(self) -> float:
        """The posterior mean of the log-bias b (0, the prior's, before the first label)."""
        return self._b

    @property
    def correction_sd_ln(self) -> float:
        """The posterior sd of b (NaN before the first label: the prior is not chosen yet)."""
        return math.sqrt(self._b_var)

    @property
    def correction_scatter_ln(self) -> float:
        """Scatter of the labels' log-residuals about b beyond their sds (tau; 0 below 2)."""
        n = self._n_labels
        if n < 2:
            return 0.0
        denom = self._sum_w - self._sum_w2 / self._sum_w
        if not denom > 0:
            return 0.0
        return math.sqrt(max(0.0, (self._q - (n - 1)) / denom))


def _parts(q: Quantity) -> tuple[float, float | None]:
    """(noise sd, model sd or None) of a size: the parts when given, else the total is noise."""
    total, noise, model = q.uncertainty, q.uncertainty_noise, q.uncertainty_model
    if noise is None:
        if total is None:
            noise = 0.0
        elif model is not None:
            noise = math.sqrt(max(total * total - model * model, 0.0))
        else:
            noise = total
    return max(noise, 0.0), model
