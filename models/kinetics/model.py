"""Online reaction kinetics: conversion fitted to Finke-Watzky, JMAK and first order, by AICc.

:class:`Kinetics` is fed the run's estimates. It takes one quantity of one source model, by
default Au(0) (``au0_mM``, Hendel et al., Anal. Chem. 86 (2014) 11114, from ``uvvis_features``)
or an impedance feature's change since the start (``relative=True``: conductivity falls as
TEOS hydrolyses and ammonia is consumed). Every ``refit_every_s`` of event time it fits
``y(t) = plateau * f(t - onset)`` for each mechanism of
:mod:`~synthwatch.models.kinetics.curves` (Finke-Watzky two-step, JMAK, first order) and keeps
the one with the lowest AICc. The plateau is fitted, so the conversion is y / plateau. A
RunStart with the precursor's concentration in its recipe (``HAuCl4_mM``, ``AgNO3_mM``) also
gives ``yield`` = plateau / precursor.

It reports (measurement ``kinetics``):

* ``conversion``, the fitted conversion at the estimate's time;
* the rate constants with their 1-sd uncertainties (``k1_per_s`` and ``k2_per_s`` for
  Finke-Watzky, with k2 the pseudo-first-order k2 [A]0; ``k_per_s`` and ``avrami_n`` for JMAK;
  ``k_per_s`` for first order);
* ``t90_s``, the forecast time of 90 % conversion since the run's start, with a 95 % interval
  ``t90_lo_s`` .. ``t90_hi_s`` (delta method on ln t90), and ``time_to_t90_s`` from now;
* ``phase_code``: 0 induction, 1 nucleation, 2 growth, 3 plateau. Conversion below 2 % is
  induction. Nucleation is while the Finke-Watzky nucleation rate k1 exceeds the autocatalytic
  one, k2 x conversion, or conversion is below 10 % for the other mechanisms. Conversion from
  95 % on is the plateau.
* ``residual_z``: the latest observation's residual from the fit in noise sd (what a drift rule
  watches: a run leaving its own kinetics);
* ``aic_weight_<mechanism>`` (Akaike weights, Burnham & Anderson, Model Selection and
  Multimodel Inference, 2002, sec. 2.9), ``plateau_<quantity>`` and ``rel_rms_residual``.

Before the signal rises above ``min_signal_sd`` noise standard deviations nothing is fitted,
and the estimate says induction. The noise is taken from successive differences.

The onset of the curve is fitted too (``fit_onset=True``, reported as ``onset_s``): mixing, heating
or a separate induction delay then does not masquerade as slow nucleation (on the simulator's
gold run with a 208 s delay: k1 1.92e-4 s^-1 with the onset fitted, 4.5e-5 without, true
1.83e-4).

Cost is bounded: the history is a :class:`~synthwatch.models.kinetics.fit.BinnedHistory` of at
most ``max_bins`` bins, so a refit at hour 24 costs what one at hour 1 does. Between estimates
``update`` only adds to a bin and ``estimate`` is None. An estimate refits only once a bin's
width of data has come since the last fit (bins widen as the run grows: 10 s for the first 40
min, 640 s at hour 24 with the defaults); before that, the last fit is evaluated at the new
time and observation (conversion, forecast, ``residual_z``), since the new data can move the
fit by at most the weight of one of its ``max_bins`` bins.

>>> import math
>>> from datetime import datetime, timedelta, timezone
>>> from synthwatch.contract.messages import Estimate, Quantity
>>> from synthwatch.models.kinetics.curves import MECHANISMS
>>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> fw, theta = MECHANISMS["finke_watzky"], np.log([2e-4, 5e-3])
>>> model = Kinetics(refit_every_s=600.0)
>>> for k in range(0, 1500, 10):        # noise-free Au(0) of 0.25 mM at full conversion
...     y = 0.25 * float(fw.conversion(np.array([float(k)]), theta)[0])
...     model.update(Estimate(run_id="r1", t=t0 + timedelta(seconds=k), sensor_id="uv1",
...         model="uvvis_features", model_version="1", measurement="uvvis_features",
...         quantities=[Quantity(name="au0_mM", value=y, units="mM")]))
>>> est = model.last_estimate
>>> round(est.get("k1_per_s").value, 6), round(est.get("k2_per_s").value, 5)
(0.0002, 0.005)
>>> round(est.get("t90_s").value), est.get("phase_code").value
(1050, 3.0)
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import numpy as np

from synthwatch.contract.messages import Estimate, RunStart
from synthwatch.models.base import Model, build_estimate
from synthwatch.models.declare import Context, register, setting
from synthwatch.models.kinetics.curves import MECHANISMS
from synthwatch.models.kinetics.fit import BinnedHistory, CurveFit, fit_curve

__all__ = ["Kinetics", "PHASES", "PRECURSORS", "SOURCES"]

PHASES = ("induction", "nucleation", "growth", "plateau")
#: recipe keys of the precursor concentration (mM), per source quantity
PRECURSORS = {"au0_mM": ("HAuCl4_mM",), "metal0_mM": ("HAuCl4_mM", "AgNO3_mM")}
_Z95 = 1.959964
#: What the model follows per system: (source model, quantity, relative to the start). Au(0)
#: by Hendel from A_400 for gold; Ag(0) in the fitted particles for silver (there is no A_400
#: calibration for silver).
SOURCES = {
    "Au-citrate": ("uvvis_features", "au0_mM", False),
    "Ag-citrate": ("psd_lognormal", "metal0_mM", False),
    # the change of conductivity since the start: on the Stöber simulator its t90 is that of
    # condensation (80,844 s fitted against 80,100 s true, seed 0)
    "SiO2-Stober": ("impedance_fit", "conductivity_s_per_m", True),
}
SWITCH = setting(
    "kinetics",
    True,
    "Conversion kinetics (Finke-Watzky, JMAK, first order) and t90 forecast.",
)


def _build(ctx: Context) -> Model:
    """Following the system's source quantity, from the run's start (time origin, precursor)."""
    source, quantity, relative = SOURCES[ctx.system]
    kinetics = Kinetics(source=source, quantity=quantity, relative=relative)
    kinetics.update(ctx.start)
    return kinetics


@register(
    kinds=("run",), systems=tuple(SOURCES), switch=SWITCH, cost="per-spectrum fit", build=_build
)
class Kinetics(Model):
    """Conversion kinetics of a run, fitted online; mechanism chosen by AICc."""

    name = "kinetics"
    version = "1"

    def __init__(
        self,
        source: str = "uvvis_features",
        quantity: str = "au0_mM",
        mechanisms: tuple[str, ...] = ("finke_watzky", "jmak", "first_order"),
        target_conversion: float = 0.9,
        refit_every_s: float = 30.0,
        max_bins: int = 240,
        bin_s: float = 10.0,
        fit_onset: bool = True,
        min_signal_sd: float = 8.0,
        relative: bool = False,
        n_baseline: int = 5,
    ):
        unknown = [m for m in mechanisms if m not in MECHANISMS]
        if unknown or not mechanisms:
            raise ValueError(
                f"mechanisms: unknown {unknown}; expected some of {sorted(MECHANISMS)}"
            )
        if not 0.0 < target_conversion < 1.0:
            raise ValueError(f"target_conversion: expected 0 < c < 1, got {target_conversion}")
        if not refit_every_s >= 0:
            raise ValueError(f"refit_every_s: expected >= 0, got {refit_every_s}")
        self.source = source
        self.quantity = quantity
        self.mechanisms = tuple(mechanisms)
        self.target_conversion = target_conversion
        self.refit_every_s = refit_every_s
        self.max_bins = max_bins
        self.bin_s = bin_s
        self.fit_onset = fit_onset
        self.min_signal_sd = min_signal_sd
        self.relative = relative
        self.n_baseline = n_baseline
        self._baseline: list[float] = []
        self._history = BinnedHistory(max_bins, bin_s)
        self._t_start: datetime | None = None
        self._precursor: float | None = None
        self._last_y: float | None = None
        self._d2_sum = 0.0
        self._d2_n = 0
        self._last_estimate_t = -math.inf
        self._last_refit_t = -math.inf  # the last fit
        self._best: CurveFit | None = None
        self._fits: dict[str, CurveFit] = {}
        self._output: Estimate | None = None
        self._last_estimate: Estimate | None = None

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        return {"refit_every_s": 60.0}

    # ------------------------------------------------------------------------------ update
    def update(self, message: Any) -> None:
        """Take a RunStart (time origin, precursor) or a source estimate; refit when due."""
        self._output = None
        if isinstance(message, RunStart):
            self._t_start = message.t
            for key in PRECURSORS.get(self.quantity, ()):
                value = message.recipe.get(key)
                if isinstance(value, (int, float)) and value > 0:
                    self._precursor = float(value)
            return
        if not isinstance(message, Estimate) or message.model != self.source or message.flags:
            return  # a flagged estimate (saturated, a bubble in the cell...) is not a conversion
        q = next((q for q in message.quantities if q.name == self.quantity), None)
        if q is None or q.value is None or not math.isfinite(q.value):
            return
        if self._t_start is None:
            self._t_start = message.t
        t_s = (message.t - self._t_start).total_seconds()
        y = float(q.value)
        if self.relative:  # the change since the start (the mean of the first n_baseline)
            if len(self._baseline) < self.n_baseline:
                self._baseline.append(y)
            y -= sum(self._baseline) / len(self._baseline)
        if self._last_y is not None:
            self._d2_sum += (y - self._last_y) ** 2
            self._d2_n += 1
        self._last_y = y
        self._history.add(t_s, y)
        if t_s - self._last_estimate_t >= self.refit_every_s:
            self._last_estimate_t = t_s
            if self._best is None or t_s - self._last_refit_t >= self._history.bin_s:
                self._last_refit_t = t_s
                self._output = self._refit(message, t_s)
            else:  # less than a bin of new data since the last fit: evaluate that fit
                self._output = self._build(message, t_s, self._best, self._fits)
            self._last_estimate = self._output

    # ------------------------------------------------------------------------------- fits
    def _noise_sd(self) -> float:
        return math.sqrt(self._d2_sum / (2 * self._d2_n)) if self._d2_n else math.nan

    def _refit(self, source: Estimate, t_s: float) -> Estimate:
        t, y, n = self._history.arrays()
        noise = self._noise_sd()
        signal = float(np.max(np.abs(y))) if y.size else 0.0
        if not (y.size >= 8 and (not noise > 0 or signal > self.min_signal_sd * noise)):
            self._best = None
            return self._build(source, t_s, None, {})
        fits: dict[str, CurveFit] = {}
        for name in self.mechanisms:
            prev = self._fits.get(name)
            fit = fit_curve(
                MECHANISMS[name],
                t,
                y,
                n,
                theta0=None if prev is None else prev.theta,
                amplitude0=None if prev is None else prev.amplitude,
                onset0=0.0 if prev is None else prev.onset_s,
                fit_onset=self.fit_onset,
            )
            if fit is not None and math.isfinite(fit.aicc):
                fits[name] = fit
        self._fits = fits
        self._best = min(fits.values(), key=lambda f: f.aicc) if fits else None
        return self._build(source, t_s, self._best, fits)

    def _build(
        self, source: Estimate, t_s: float, best: CurveFit | None, fits: dict[str, CurveFit]
    ) -> Estimate:
        q: list[tuple[str, float | None, str, float | None]] = []
        if best is None:
            q.append(("phase_code", 0.0, "1", None))
            q.append(("conversion", None, "1", None))
        else:
            conv = float(best.conversion(np.array([t_s]))[0])
            q.append(("conversion", conv, "1", None))
            q.append(("phase_code", float(self._phase(best, conv)), "1", None))
            sd = np.sqrt(np.clip(np.diag(best.cov), 0, None))
            for j, pname in enumerate(best.mechanism.param_names):
                v = math.exp(best.theta[j])
                q.append((pname, v, _units(pname), v * sd[j]))
            k = best.mechanism.n_params
            q.append((f"plateau_{self.quantity}", best.amplitude, _units(self.quantity), sd[k]))
            if self._precursor:
                q.append(("yield", best.amplitude / self._precursor, "1", sd[k] / self._precursor))
            if self.fit_onset:
                q.append(("onset_s", best.onset_s, "s", sd[k + 1]))
            c = self.target_conversion
            tag = f"t{round(100 * c)}"
            try:
                t_c = best.time_to(c)
                sd_ln = best.time_to_sd_ln(c)
            except (ValueError, OverflowError, ZeroDivisionError):
                t_c, sd_ln = math.nan, math.nan
            q.append((f"{tag}_s", t_c, "s", t_c * sd_ln if math.isfinite(sd_ln) else None))
            # an early fit can be so loose that exp() overflows: no interval then (None)
            spread = math.exp(min(_Z95 * sd_ln, 700.0)) if math.isfinite(sd_ln) else math.nan
            q.append((f"{tag}_lo_s", t_c / spread, "s", None))
            q.append((f"{tag}_hi_s", t_c * spread if spread < 1e300 else math.nan, "s", None))
            q.append((f"time_to_{tag}_s", max(t_c - t_s, 0.0), "s", None))
            amin = min(f.aicc for f in fits.values())
            weights = {m: math.exp(-0.5 * (f.aicc - amin)) for m, f in fits.items()}
            total = sum(weights.values())
            for m in self.mechanisms:
                q.append((f"aic_weight_{m}", weights.get(m, 0.0) / total, "1", None))
            scale = abs(best.amplitude) if best.amplitude else math.nan
            q.append(("rel_rms_residual", best.sigma / scale, "1", None))
            if self._last_y is not None and best.sigma > 0:  # for drift detectors
                z = (self._last_y - best.amplitude * conv) / best.sigma
                q.append(("residual_z", z, "1", None))
        return build_estimate(source, self, "kinetics", q, [])

    @staticmethod
    def _phase(fit: CurveFit, conversion: float) -> int:
        if conversion < 0.02:
            return 0
        if conversion >= 0.95:
            return 3
        if fit.mechanism.name == "finke_watzky":
            k1, k2 = math.exp(fit.theta[0]), math.exp(fit.theta[1])
            return 1 if k1 > k2 * conversion else 2
        return 1 if conversion < 0.1 else 2

    # ---------------------------------------------------------------------------- read-outs
    @property
    def estimate(self) -> Estimate | None:
        """The ``kinetics`` estimate of this update if it refitted, else None."""
        return self._output

    @property
    def last_estimate(self) -> Estimate | None:
        """The latest ``kinetics`` estimate, whenever it was made."""
        return self._last_estimate

    @property
    def fits(self) -> dict[str, CurveFit]:
        """The latest fit of each mechanism (by name)."""
        return dict(self._fits)


def _units(name: str) -> str:
    for suffix, units in (("_per_s", "s^-1"), ("_mM", "mM"), ("_s", "s")):
        if name.endswith(suffix):
            return units
    return "1"
