"""Uncertainties of a lognormal fit's quantities: a noise part, a model-error part, their total.

Every quantity q of :class:`~synthwatch.models.psd.lognormal.LognormalPSD` is a function of
p = (ln d_mean, s = ln gsd, ln N); they are all positive, so their errors are carried as
relative (log) errors:

* **noise part**: the linearised covariance of p, (J^T J)^-1 s^2 with J the Jacobian of the
  model and s^2 = RSS / (n - 3) (the Gauss-Newton / Hessian approximation), propagated with the
  gradient of ln q; for a fit stopped at a bound of s the Hessian says nothing about the
  interval, and the profile likelihood gives it instead
  (:func:`~synthwatch.models.psd.ensemble.profile_width`; the sd reported is then a quarter of
  the 95 % interval);
* **model part**: the root-mean-square of ln q_k - ln q over the members k of the ensemble of
  kernels, each refitted from the centre (:func:`~synthwatch.models.psd.ensemble.member_fits`),
  times :func:`~synthwatch.models.psd.ensemble.prediction_factor` of the number of sets of
  optical constants (the prediction of a kernel the ensemble does not hold);
* **total**: the root sum of squares.

The 95 % interval is value x exp(+-2 total) unless a profile set it; then each end is the
profile's end widened in quadrature by 2 model sd, and reported as ``lower`` / ``upper``.

>>> parts = QuantityParts(ln_value=0.0, noise_ln=0.03, model_ln=0.04)
>>> round(parts.total_ln, 3), [round(x, 4) for x in parts.interval()]
(0.05, [0.9048, 1.1052])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from synthwatch.models.psd.ensemble import Profile

__all__ = ["QuantityParts", "log_quantities", "parts_of"]


@dataclass(frozen=True)
class QuantityParts:
    """ln of a quantity, its noise and model sd (in ln), and a profile interval (ln) if any."""

    ln_value: float
    noise_ln: float
    model_ln: float = 0.0
    profile_ln: tuple[float, float] | None = None

    @property
    def total_ln(self) -> float:
        return math.hypot(self.noise_ln, self.model_ln)

    def interval(self) -> tuple[float, float]:
        """The 95 % interval of the quantity (not of its ln)."""
        c = self.ln_value
        if self.profile_ln is None:
            return _exp(c - 2.0 * self.total_ln), _exp(c + 2.0 * self.total_ln)
        lo, hi = self.profile_ln
        m2 = 2.0 * self.model_ln
        return (
            _exp(c - math.hypot(max(c - lo, 0.0), m2)),
            _exp(c + math.hypot(max(hi - c, 0.0), m2)),
        )

    def fields(self) -> tuple[float, float, dict[str, float | None]]:
        """(value, total sd, extras) as an Estimate's quantity carries them (sd x value)."""
        v = _exp(self.ln_value)
        extras: dict[str, float | None] = {
            "uncertainty_noise": v * self.noise_ln,
            "uncertainty_model": v * self.model_ln,
        }
        if self.profile_ln is not None:
            extras["lower"], extras["upper"] = self.interval()
        return v, v * self.total_ln, extras


def _exp(x: float) -> float:
    """exp, inf (not OverflowError) above the float range: an interval too wide to state."""
    return math.exp(x) if x < 709.0 else math.inf


#: ln of each quantity from (ln d_mean, s, ln N) and the constant ln(pi/6 rho / M ...) of metal0
LogQuantity = Callable[[np.ndarray], np.ndarray]


def log_quantities(ln_metal0_factor: float) -> dict[str, tuple[LogQuantity, tuple]]:
    """name -> (ln q as a function of p = (ln d_mean, s, ln N) (rows of an (..., 3) array), the
    gradient of ln q at p as a function of s)."""
    return {
        "d_mean_nm": (lambda p: p[..., 0], lambda s: (1.0, 0.0, 0.0)),
        # the sd of gsd relative to gsd is the sd of s: ln q = ln(gsd) = s
        "gsd": (lambda p: p[..., 1], lambda s: (0.0, 1.0, 0.0)),
        "number_per_ml": (lambda p: p[..., 2], lambda s: (0.0, 0.0, 1.0)),
        "d_volume_weighted_mean_nm": (
            lambda p: p[..., 0] + 3.0 * p[..., 1] ** 2,
            lambda s: (1.0, 6.0 * s, 0.0),
        ),
        "metal0_mM": (
            lambda p: ln_metal0_factor + 3.0 * p[..., 0] + 3.0 * p[..., 1] ** 2 + p[..., 2],
            lambda s: (3.0, 6.0 * s, 1.0),
        ),
    }


def parts_of(
    p_hat: np.ndarray,
    cov: np.ndarray,
    members: np.ndarray | None,
    factor: float,
    ln_metal0_factor: float,
    profile: Profile | None,
    ln_d_cond_sd: float,
) -> dict[str, QuantityParts]:
    """The parts of every quantity of a fit at ``p_hat`` = (ln d_mean, s, ln N).

    ``cov`` is the noise covariance of p; ``members`` (M, 3) the members' refits or None;
    ``factor`` the prediction factor; ``profile`` the profile interval of s when the fit is at a
    bound of it, with ``ln_d_cond_sd`` the sd of ln d_mean at fixed s (to widen its range).
    """
    s = float(p_hat[1])
    out: dict[str, QuantityParts] = {}
    for name, (fn, grad) in log_quantities(ln_metal0_factor).items():
        g = np.asarray(grad(s))
        var = float(g @ cov @ g)
        noise = math.sqrt(var) if var >= 0 else math.nan
        centre = float(fn(p_hat))
        model = 0.0
        if members is not None and members.shape[0] > 0:
            dev = fn(members) - centre
            model = factor * math.sqrt(float(np.mean(dev * dev)))
        prof = None
        if profile is not None and name in ("d_mean_nm", "gsd", "number_per_ml"):
            if name == "gsd":
                lo, hi = profile.s_lo, profile.s_hi
            elif name == "d_mean_nm":
                lo = min(profile.ln_d_lo, centre) - 2.0 * ln_d_cond_sd
                hi = max(profile.ln_d_hi, centre) + 2.0 * ln_d_cond_sd
            else:
                lo = min(profile.ln_n_lo, centre - 2.0 * noise)
                hi = max(profile.ln_n_hi, centre + 2.0 * noise)
            prof = (lo, hi)
            noise = max((hi - lo) / 4.0, noise if math.isfinite(noise) else 0.0)
        out[name] = QuantityParts(centre, noise, model, prof)
    return out
