"""Online equivalent-circuit model of an impedance cell: KK check, warm-started fits, selection.

Per sweep (one :class:`~synthwatch.contract.messages.Reading`, Z = Z' + j Z'' with Z'' negative
for a capacitive cell):

1. **Validity**: the Lin-KK test (:func:`~synthwatch.models.impedance.kk.lin_kk`, Schönleber et
   al., Electrochim. Acta 131 (2014) 20). A sweep whose largest relative residual exceeds
   ``kk_max_residual`` (a bubble settling during the sweep, a spike) is flagged ``kk_invalid``
   and not fitted: garbage in, no numbers out.
2. **Fits** of every circuit in ``circuits`` (:mod:`~synthwatch.models.impedance.fit`),
   warm-started from the previous sweep's parameters. A warm fit whose residual is more than
   ``reset_factor`` times the KK residual (the noise level of this sweep) is redone from a cold
   start and the better one is kept: a jump (a step in the cell, a restart) resets the warm
   start.
3. **Selection** by AIC (or BIC): the first circuit is the default, another one is chosen when
   its criterion is lower by more than ``margin``. The other circuits are only fitted when the
   first one leaves more than ``alt_gate`` times the KK residual unexplained: when the first
   circuit already fits to the noise level, no circuit with more parameters can win by AIC
   worth the time (and the extra elements are not identifiable, which makes their fits slow).

The default circuits are R_s - (R_ct || CPE) (a Randles cell with a constant-phase double
layer), R_s - CPE_dl - (R_ct || CPE), where R_ct || CPE is the particle (film) term and
CPE_dl a blocking double layer in series (the two-time-constant cell of interdigitated
electrodes, J. Ferreira et al., ACS Sensors 7 (2022) 1045), and R_s - L_s - (R_ct || CPE), a
series inductance ``l_s_h`` for the inductive high-frequency tail (Z'' > 0) that leads and
cables give a low-impedance cell (M. E. Orazem and B. Tribollet, Electrochemical Impedance
Spectroscopy, 2nd ed., Wiley 2017, ch. 22): chosen by AIC like the others, so only when the
tail is there.

**Divergence**: a fit whose parameters end non-finite or outside :data:`PHYSICAL_BOUNDS` (a
resistance above 1e12 ohm or below 1e-9 ohm, a capacitance or Q above 1, a CPE exponent that
is 0 or above 1: a log- or logit-scaled parameter that ran off to its boundary, as a purely
capacitive line makes R_ct do) is never reported: it is left out of the selection, and when
every fit diverged the quantities are None and the flag is ``fit_diverged``
(``fit_failed``: no fit converged at all). The conductivity is K / R_s with
K the descriptor's cell constant (1/cm, times 100 for 1/m).

The estimate (measurement ``impedance_fit``) holds the chosen circuit's parameters with units in
their names (``r_s_ohm``, ``r_ct_ohm``, ``cpe_q_s_alpha``, ``cpe_alpha`` ...) and 1-sd
uncertainties, ``conductivity_s_per_m``, ``circuit_index`` (position in ``circuits``),
``delta_criterion`` (best other circuit minus the chosen one; NaN when no other circuit was
fitted), ``rel_rms_residual`` (flagged ``poor_fit`` when above ``reset_factor`` times the KK
residual: no circuit describes the sweep),
``kk_max_residual`` and ``kk_rel_rms_residual``.

>>> import numpy as np
>>> from datetime import datetime, timezone
>>> from synthwatch.contract.messages import Descriptor, Reading
>>> f = np.logspace(0, 6, 60)
>>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> desc = Descriptor(run_id="r1", t=t0, sensor_id="eis1", kind="impedance", axis=f.tolist(),
...                   axis_units="Hz", value_units="ohm", cell_constant_per_cm=0.5)
>>> rng = np.random.default_rng(0)
>>> z = 4000 + 20000 / (1 + 20000 * 5e-8 * (2j * np.pi * f) ** 0.9)
>>> z = z + 0.01 * np.abs(z) * (rng.standard_normal(60) + 1j * rng.standard_normal(60))
>>> model = ImpedanceFit(desc)
>>> model.update(Reading(run_id="r1", t=t0, sensor_id="eis1", seq=0,
...                      values=z.real.tolist(), values_imag=z.imag.tolist()))
>>> est = model.estimate
>>> round(est.get("r_ct_ohm").value / 1000), round(est.get("conductivity_s_per_m").value, 4)
(20, 0.0125)
>>> est.flags, est.get("circuit_index").value
([], 0.0)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from synthwatch.contract.messages import Descriptor, Estimate, Reading
from synthwatch.models.alerts.quality import FlaggedFrames
from synthwatch.models.base import Model, build_estimate
from synthwatch.models.declare import register, setting
from synthwatch.models.impedance.circuits import Circuit
from synthwatch.models.impedance.fit import CircuitFit, fit_circuit, initial_guess
from synthwatch.models.impedance.kk import lin_kk

__all__ = [
    "ImpedanceFit",
    "DEFAULT_CIRCUITS",
    "BAD_FLAGS",
    "PHYSICAL_BOUNDS",
    "diverged",
    "units_of",
]

DEFAULT_CIRCUITS = ("R_s-p(R_ct,CPE)", "R_s-CPE_dl-p(R_ct,CPE)", "R_s-L_s-p(R_ct,CPE)")

#: Physical bounds of fitted parameters by name suffix, (low, high): a fit that ends outside
#: (or with a non-finite value) has run off to a boundary of its log or logit scale - a
#: resistance of 1e167 ohm, a series resistance of 1e-17 ohm - and is ``fit_diverged``.
PHYSICAL_BOUNDS = {
    "ohm": (1e-9, 1e12),
    "f": (1e-18, 1.0),
    "q_s_alpha": (1e-18, 1.0),
    "h": (1e-15, 1.0),
    "alpha": (1e-6, 1.0),
    "sigma_ohm_s_half": (1e-9, 1e12),
}

_UNITS = {
    "ohm": "ohm",
    "q_s_alpha": "S s^alpha",
    "alpha": "1",
    "f": "F",
    "h": "H",
    "sigma_ohm_s_half": "ohm s^-1/2",
}


def diverged(names: tuple[str, ...], params: np.ndarray) -> list[str]:
    """The parameters of a fit that are non-finite or outside :data:`PHYSICAL_BOUNDS`.

    >>> diverged(("r_s_ohm", "r_ct_ohm", "cpe_alpha"), np.array([10.0, 1e167, 0.9]))
    ['r_ct_ohm']
    """
    out = []
    for name, p in zip(names, params):
        suffix = next(
            (s for s in sorted(PHYSICAL_BOUNDS, key=len, reverse=True) if name.endswith("_" + s)),
            None,
        )
        lo, hi = PHYSICAL_BOUNDS.get(suffix, (-math.inf, math.inf))
        if not (math.isfinite(p) and lo <= p <= hi):
            out.append(name)
    return out


def units_of(name: str) -> str:
    """Units of a circuit parameter from its name's suffix (``r_s_ohm`` -> ``ohm``)."""
    for suffix in sorted(_UNITS, key=len, reverse=True):
        if name.endswith("_" + suffix):
            return _UNITS[suffix]
    return "1"


#: Flags of a sweep that mean the instrument delivered a bad one (rule ``flagged_frames``).
BAD_FLAGS = ("kk_invalid", "missing_points", "missing_imag", "fit_failed", "fit_diverged")
BAD_FLAGS += ("poor_fit",)
SWITCH = setting(
    "impedance_fit", True, "Kramers-Kronig check and circuit fit of every impedance sweep."
)


@register(
    kinds=("impedance",),
    switch=SWITCH,
    cost="per-spectrum fit",
    build=lambda ctx: ImpedanceFit(ctx.descriptor),
    rules=lambda ctx: [FlaggedFrames(model=ImpedanceFit.name, flags=BAD_FLAGS)],
)
class ImpedanceFit(Model):
    """Kramers-Kronig check and equivalent-circuit fit of every sweep of one impedance sensor.

    ``descriptor`` is the sensor's (kind ``impedance``); ``estimate`` is the Estimate of the
    last sweep; ``resets`` counts the warm starts that were redone cold.
    """

    name = "impedance_fit"
    version = "1"

    def __init__(
        self,
        descriptor: Descriptor,
        circuits: tuple[str, ...] = DEFAULT_CIRCUITS,
        criterion: str = "aic",
        margin: float = 2.0,
        kk_max_residual: float = 0.08,
        reset_factor: float = 2.0,
        min_points_fraction: float = 0.8,
        alt_gate: float = 1.25,
        max_nfev: int = 60,
    ):
        if descriptor.kind != "impedance":
            raise ValueError(f"descriptor: expected kind 'impedance', got {descriptor.kind!r}")
        if not circuits:
            raise ValueError("circuits: expected one or more circuit strings")
        if criterion not in ("aic", "bic"):
            raise ValueError(f"criterion: expected 'aic' or 'bic', got {criterion!r}")
        if not (kk_max_residual > 0 and reset_factor >= 1 and 0 < min_points_fraction <= 1):
            raise ValueError(
                "expected kk_max_residual > 0, reset_factor >= 1, 0 < min_points_fraction <= 1"
            )
        self.descriptor = descriptor
        self.circuits = circuits
        self.criterion = criterion
        self.margin = margin
        self.kk_max_residual = kk_max_residual
        self.reset_factor = reset_factor
        self.min_points_fraction = min_points_fraction
        self.alt_gate = alt_gate
        self.max_nfev = max_nfev
        self._circuits = [Circuit(c) for c in circuits]  # CircuitSyntaxError if one is wrong
        self._freq = np.asarray(descriptor.axis, dtype=float)
        k = descriptor.cell_constant_per_cm
        self._cell_per_m = None if k is None else 100.0 * k
        self._warm: list[np.ndarray | None] = [None] * len(circuits)
        self._resets = 0
        self._result: tuple[Reading, list, list[str]] | None = None
        self._estimate: Estimate | None = None

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        from datetime import datetime, timezone

        f = np.logspace(0, 6, 30)
        desc = Descriptor(
            run_id="r1",
            t=datetime(2026, 1, 1, tzinfo=timezone.utc),
            sensor_id="eis1",
            kind="impedance",
            axis=f.tolist(),
            axis_units="Hz",
            value_units="ohm",
            cell_constant_per_cm=0.5,
        )
        return {"descriptor": desc}

    # ------------------------------------------------------------------ update
    def update(self, message: Reading) -> None:
        if not isinstance(message, Reading) or message.sensor_id != self.descriptor.sensor_id:
            raise ValueError(
                f"impedance_fit of sensor {self.descriptor.sensor_id!r}: expected its Readings, "
                f"got {type(message).__name__} of {getattr(message, 'sensor_id', None)!r}"
            )
        self._estimate = None
        self._result = (message, *self._evaluate(message))

    def _evaluate(self, reading: Reading) -> tuple[list, list[str]]:
        n_axis = self._freq.size
        if len(reading.values) != n_axis:
            return self._empty(), [f"length_mismatch:{len(reading.values)}!={n_axis}"]
        if reading.values_imag is None:
            return self._empty(), ["missing_imag"]
        z = np.empty(n_axis, dtype=complex)
        z.real, z.imag = reading.values, reading.values_imag  # no 1j * inf = nan + inf j
        ok = np.isfinite(z) & (np.abs(z) > 0)
        if ok.sum() < max(self.min_points_fraction * n_axis, 8):
            return self._empty(), ["missing_points"]
        f, z = self._freq[ok], z[ok]
        flags = [] if ok.all() else ["missing_points_dropped"]
        try:
            kk = lin_kk(f, z)
        except (ValueError, np.linalg.LinAlgError):  # e.g. |Z| of 1e-320 ohm: 1/|Z| overflows
            return self._empty(), flags + ["kk_invalid"]
        kk_q = [
            ("kk_max_residual", kk.max_residual, "1", None),
            ("kk_rel_rms_residual", kk.rms_residual, "1", None),
        ]
        if not math.isfinite(kk.max_residual) or kk.max_residual > self.kk_max_residual:
            return self._empty() + kk_q, flags + ["kk_invalid"]
        fits = [self._fit(0, f, z, kk.rms_residual)]
        noise = max(kk.rms_residual, 1e-6)
        gate = (
            not fits[0].ok
            or fits[0].rel_rms_residual > self.alt_gate * noise
            or bool(diverged(fits[0].names, fits[0].params))
        )
        fits += [
            self._fit(i, f, z, kk.rms_residual) if gate else None
            for i in range(1, len(self._circuits))
        ]
        done = [i for i, fit in enumerate(fits) if fit is not None and fit.ok]
        if not done:
            return self._empty() + kk_q, flags + ["fit_failed"]
        good = [i for i in done if not diverged(fits[i].names, fits[i].params)]
        if not good:  # every fit ran off to a bound: no number is better than a wrong one
            return self._empty() + kk_q, flags + ["fit_diverged"]
        crit = {i: getattr(fits[i], self.criterion) for i in good}
        best = good[0]
        challenger = min(good, key=crit.__getitem__)
        if crit[challenger] < crit[best] - self.margin:
            best = challenger
        chosen = fits[best]
        if chosen.rel_rms_residual > self.reset_factor * noise:
            flags.append("poor_fit")
        others = [c for i, c in crit.items() if i != best]
        delta = min(others) - crit[best] if others else math.nan
        q = [
            (n, float(p), units_of(n), float(s))
            for n, p, s in zip(chosen.names, chosen.params, chosen.sigmas)
        ]
        r_s = chosen.params[0]
        sig_rs = chosen.sigmas[0]
        if self._cell_per_m is not None and chosen.names[0].endswith("_ohm") and r_s > 0:
            # the first element of every default circuit is the series (solution) resistance
            kappa = self._cell_per_m / r_s
            q.append(("conductivity_s_per_m", kappa, "S/m", kappa * sig_rs / r_s))
        else:
            q.append(("conductivity_s_per_m", None, "S/m", None))
        q += [
            ("circuit_index", float(best), "1", None),
            ("delta_criterion", delta, "1", None),
            ("rel_rms_residual", chosen.rel_rms_residual, "1", None),
        ] + kk_q
        return q, flags

    def _fit(self, i: int, f: np.ndarray, z: np.ndarray, noise: float) -> CircuitFit:
        circuit = self._circuits[i]
        warm = self._warm[i]
        n = self.max_nfev
        if warm is None:
            fit = self._cold_fit(i, f, z)
        else:
            fit = fit_circuit(circuit, f, z, warm, max_nfev=n)
            if not fit.ok or fit.rel_rms_residual > self.reset_factor * max(noise, 1e-6):
                cold = self._cold_fit(i, f, z)
                if cold.ok and (not fit.ok or cold.rss < fit.rss):
                    self._resets += 1
                    fit = cold
        if fit.ok and not diverged(fit.names, fit.params):
            self._warm[i] = fit.params.copy()
        return fit

    def _cold_fit(self, i: int, f: np.ndarray, z: np.ndarray) -> CircuitFit:
        """Best fit from the generic guess and (other circuits) from the first circuit's fit."""
        circuit = self._circuits[i]
        guess = initial_guess(circuit, f, z)
        best = fit_circuit(circuit, f, z, guess, max_nfev=self.max_nfev)
        if i > 0 and self._warm[0] is not None:
            other = fit_circuit(circuit, f, z, self._from_first(i, guess), max_nfev=self.max_nfev)
            if other.ok and (not best.ok or other.rss < best.rss):
                best = other
        return best

    def _from_first(self, i: int, guess: np.ndarray) -> np.ndarray:
        """A start for circuit ``i`` with the first circuit's values for the shared names."""
        circuit = self._circuits[i]
        guess = guess.copy()
        first = dict(zip(self._circuits[0].names, self._warm[0]))
        q_ref = next((v for n, v in first.items() if n.endswith("_q_s_alpha")), None)
        for j, name in enumerate(circuit.names):
            if name in first:
                guess[j] = first[name]
            elif name.endswith("_q_s_alpha") and q_ref is not None:
                guess[j] = 100.0 * q_ref  # an extra series CPE starts nearly transparent
        return guess

    def _empty(self) -> list:
        names = self._circuits[0].names
        return [(n, None, units_of(n), None) for n in names] + [
            ("conductivity_s_per_m", None, "S/m", None)
        ]

    # ------------------------------------------------------------------ results
    @property
    def estimate(self) -> Estimate | None:
        """The Estimate of the last sweep (None before the first)."""
        if self._result is None:
            return None
        if self._estimate is None:
            reading, quantities, flags = self._result
            self._estimate = build_estimate(reading, self, "impedance_fit", quantities, flags)
        return self._estimate

    @property
    def resets(self) -> int:
        """How many warm starts were redone from a cold start (jumps)."""
        return self._resets
