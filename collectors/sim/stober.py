"""A seeded simulator of a 24-hour Stöber silica synthesis seen by an impedance millifluidic cell.

The setup is the one of J. Ferreira et al., ACS Sensors 7 (2022) 1045: the reacting mixture
flows through a millifluidic channel over interdigitated electrodes, whose impedance spectrum is
swept every minute for a day; delayed reference sizes (DLS/TEM of samples) calibrate it.

The chemistry, with the time scales of a room-temperature Stöber run (W. Stöber, A. Fink and
E. Bohn, J. Colloid Interface Sci. 26 (1968) 62):

1. **Hydrolysis** of TEOS to silicic-acid monomers, pseudo-first order in TEOS at fixed water
   and ammonia: hydrolysed fraction ``X(t) = 1 - exp(-k_h t)`` (the rate law of T. Matsoukas
   and E. Gulari, J. Colloid Interface Sci. 124 (1988) 252). The default k_h = 3e-5 1/s and
   k_c = 1e-4 1/s are not from a paper: they are chosen so that growth spans the 24-hour run
   of Ferreira et al.
2. **Condensation** of monomer onto particles, first order in monomer: the consecutive reaction
   TEOS -> monomer -> silica gives the condensed fraction by Bateman's solution
   ``C(t) = 1 - (k_c e^{-k_h t} - k_h e^{-k_c t}) / (k_c - k_h)``.
3. **Particles**: nucleated in a short burst after ``induction_s`` (LaMer type: V. K. LaMer and
   R. H. Dinegar, J. Am. Chem. Soc. 72 (1950) 4847), after which their number is fixed and the
   silica condenses onto them (aggregative growth model, G. H. Bogush and C. F. Zukoski, J.
   Colloid Interface Sci. 142 (1991) 1 and 19): ``d(t)^3 = d_nuc^3 + (d_final^3 - d_nuc^3) C``.

The cell is the equivalent circuit R_s - (R_ct || CPE_dl), ``Z = R_s + R_ct / (1 + R_ct Q
(j w)^alpha)`` (the CPE as in J.-B. Jorcin et al., Electrochim. Acta 51 (2006) 1473), with

* ``R_s = K / kappa``: K the cell constant (``cell_constant_per_cm``, converted to 1/m) and
  kappa the conductivity, falling as hydrolysis consumes water and ionised ammonia (a fraction
  ``kappa_hydrolysis_drop`` at full hydrolysis, phenomenological) and by Maxwell's factor
  ``(1 - phi) / (1 + phi / 2)`` for the non-conducting silica volume fraction phi;
* ``R_ct = R_ct0 (1 + rct_growth C)``: silica depositing on the electrodes blocks the interface
  (the signal Ferreira et al. relate to particle growth);
* ``Q = Q0 (1 - 0.4 C)``, ``alpha = alpha0 - 0.03 C``: less, rougher accessible electrode area.

Instrument effects, each from its own seeded stream (kinetics and cell, events, drift, noise):

* noise: Z' and Z'' each get Gaussian noise of ``noise_rel * |Z|`` (proportional, 1 %);
* slow drift: the cell temperature wanders (random walk plus a daily sinusoid, ~0.5 K), moving
  the conductivity by 2 %/K and Q by 0.5 %/K;
* bubbles (probability ``p_bubble`` per sweep): a bubble settles on the electrodes during the
  sweep; from a random point on, the covered area multiplies R_s and R_ct by 1.5-3 and divides Q
  by as much (a sweep that is not stationary, which a Kramers-Kronig check rejects);
* spikes (probability ``p_spike`` per sweep): 1-3 points of the sweep jump by a factor 2-5.

Z = Z' + j Z'' with Z'' negative for a capacitive cell (``Reading.values`` is Z',
``Reading.values_imag`` is Z'', ohm). Reference sizes (``Label``, quantity ``d_mean_nm``, method
DLS, ``label_noise_rel`` relative error) are sampled every ``label_every_s`` and arrive
``label_delay_s`` plus up to ``label_delay_jitter_s`` later; labels that would arrive after the
run are in :attr:`StoberSimulator.late_labels`, not in the run's messages.

>>> from synthwatch.contract.messages import encode
>>> sim = StoberSimulator(seed=3, duration_s=6 * 3600.0, interval_s=600.0)
>>> msgs = list(sim.messages())
>>> [type(m).__name__ for m in msgs[:3]], type(msgs[-1]).__name__
(['RunStart', 'Descriptor', 'Reading'], 'RunStop')
>>> sum(type(m).__name__ == "Label" for m in msgs), len(sim.late_labels)
(1, 1)
>>> truth = sim.truth[-1]
>>> bool(truth.d_mean_nm > 100), bool(truth.r_ct_ohm > sim.truth[0].r_ct_ohm)
(True, True)
>>> [encode(m) for m in msgs] == [encode(m) for m in StoberSimulator(seed=3, **sim.kwargs)]
True
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

from synthwatch.collectors.sim.run import SimulatedRun
from synthwatch.contract.messages import Descriptor, Label, Reading, RunStart, RunStop

__all__ = ["StoberTruth", "StoberSimulator", "DEFAULT_FREQUENCIES_HZ", "randles_cpe"]

#: 60 log-spaced frequencies from 1 Hz to 1 MHz
DEFAULT_FREQUENCIES_HZ = np.logspace(0.0, 6.0, 60)
DEFAULT_FREQUENCIES_HZ.setflags(write=False)

_DEFAULT_START = datetime(2026, 1, 1, 8, 0, 0, tzinfo=timezone.utc)
#: density of Stöber silica, g/cm^3 (Bogush et al., J. Non-Cryst. Solids 104 (1988) 95)
SIO2_DENSITY_G_PER_CM3 = 2.0
SIO2_MOLAR_MASS_G_PER_MOL = 60.08
_KAPPA_PER_K = 0.02  # relative conductivity change per kelvin (typical of electrolytes)
_Q_PER_K = 0.005


def randles_cpe(freq_hz, r_s_ohm, r_ct_ohm, q_s_alpha, alpha) -> np.ndarray:
    """Impedance of R_s - (R_ct || CPE): ``R_s + R_ct / (1 + R_ct Q (j w)^alpha)``, complex.

    Parameters broadcast against ``freq_hz`` (e.g. one column per sweep).

    >>> z = randles_cpe(np.array([1e-3, 1e9]), 100.0, 1000.0, 1e-6, 1.0)
    >>> np.round(z.real).tolist()
    [1100.0, 100.0]
    """
    jw = 1j * 2.0 * np.pi * np.asarray(freq_hz, dtype=float)
    return r_s_ohm + r_ct_ohm / (1.0 + r_ct_ohm * q_s_alpha * jw**alpha)


@dataclass(frozen=True)
class StoberTruth:
    """What really happened at one sweep: the circuit and the particles.

    ``d_mean_nm`` is NaN before nucleation; ``bubble`` / ``spike`` mark sweeps hit by an event
    (their impedance is not that of the circuit parameters given here).
    """

    t: datetime
    seq: int
    r_s_ohm: float
    r_ct_ohm: float
    cpe_q_s_alpha: float
    cpe_alpha: float
    conductivity_s_per_m: float
    temperature_offset_k: float
    hydrolysed_fraction: float
    condensed_fraction: float
    d_mean_nm: float
    bubble: bool
    spike: bool


class StoberSimulator(SimulatedRun):
    """Seeded, reproducible Stöber synthesis seen by an interdigitated impedance cell.

    Constructor arguments are kept as attributes of the same names (``kwargs`` holds them all,
    to build an identical simulator). Rate constants and the cell's starting values are jittered
    per seed by a lognormal factor of relative width ``jitter`` (the values used are in
    ``params_``). :meth:`messages` yields RunStart, Descriptor, one Reading every ``interval_s``
    and the Labels in event-time order, then RunStop.
    """

    system = "SiO2-Stober"
    run_id_prefix = "sim-sio2-stober"

    def __init__(
        self,
        seed: int = 0,
        duration_s: float = 86400.0,
        interval_s: float = 60.0,
        run_id: str | None = None,
        reactor: str = "R1",
        start: datetime = _DEFAULT_START,
        frequencies_hz: Any = None,
        cell_constant_per_cm: float = 0.5,
        noise_rel: float = 0.01,
        drift: bool = True,
        p_bubble: float = 0.01,
        p_spike: float = 0.01,
        *,
        sensor_id: str = "eis1",
        TEOS_M: float = 0.2,
        NH3_M: float = 0.5,
        H2O_M: float = 5.0,
        k_h_per_s: float = 3.0e-5,
        k_c_per_s: float = 1.0e-4,
        induction_s: float = 900.0,
        d_nucleus_nm: float = 10.0,
        d_final_nm: float = 250.0,
        kappa0_s_per_m: float = 0.012,
        kappa_hydrolysis_drop: float = 0.3,
        r_ct0_ohm: float = 20000.0,
        rct_growth: float = 2.0,
        q0_s_alpha: float = 5.0e-8,
        alpha0: float = 0.9,
        jitter: float = 0.1,
        label_every_s: float = 7200.0,
        label_delay_s: float = 10800.0,
        label_delay_jitter_s: float = 3600.0,
        label_noise_rel: float = 0.03,
    ) -> None:
        self._check_run(seed, duration_s, interval_s, start)
        if not (cell_constant_per_cm > 0 and noise_rel >= 0 and 0 <= p_bubble + p_spike <= 1):
            raise ValueError(
                "expected cell_constant_per_cm > 0, noise_rel >= 0, p_bubble, p_spike >= 0 with "
                "p_bubble + p_spike <= 1"
            )
        if min(p_bubble, p_spike) < 0:
            raise ValueError("expected p_bubble >= 0 and p_spike >= 0")
        if not (k_h_per_s > 0 and k_c_per_s > 0 and k_h_per_s != k_c_per_s and induction_s >= 0):
            raise ValueError("expected k_h_per_s, k_c_per_s > 0 and different, induction_s >= 0")
        if not (0 < d_nucleus_nm < d_final_nm <= 2000.0):
            raise ValueError("expected 0 < d_nucleus_nm < d_final_nm <= 2000 nm")
        if not (kappa0_s_per_m > 0 and 0 <= kappa_hydrolysis_drop < 1 and r_ct0_ohm > 0):
            raise ValueError(
                "expected kappa0_s_per_m > 0, 0 <= kappa_hydrolysis_drop < 1, r_ct0_ohm > 0"
            )
        if not (rct_growth >= 0 and q0_s_alpha > 0 and 0.5 < alpha0 <= 1.0 and jitter >= 0):
            raise ValueError("expected rct_growth >= 0, q0_s_alpha > 0, 0.5 < alpha0 <= 1")
        if not (label_every_s > 0 and label_delay_s >= 0 and label_delay_jitter_s >= 0):
            raise ValueError("expected label_every_s > 0, label_delay(_jitter)_s >= 0")
        if not (TEOS_M > 0 and NH3_M > 0 and H2O_M > 0 and label_noise_rel >= 0):
            raise ValueError("expected TEOS_M, NH3_M, H2O_M > 0 and label_noise_rel >= 0")
        given = dict(locals())
        self.kwargs: dict[str, Any] = {
            k: v for k, v in given.items() if k not in ("self", "seed", "__class__")
        }
        self._set_run(seed, duration_s, interval_s, run_id, reactor, start)
        f = DEFAULT_FREQUENCIES_HZ if frequencies_hz is None else frequencies_hz
        self.frequencies_hz = np.array(f, dtype=float)
        self.frequencies_hz.setflags(write=False)
        if self.frequencies_hz.size < 3 or np.any(np.diff(self.frequencies_hz) <= 0):
            raise ValueError("frequencies_hz: expected 3 or more strictly increasing frequencies")
        if self.frequencies_hz[0] <= 0:
            raise ValueError("frequencies_hz: expected frequencies above 0 Hz")
        self.cell_constant_per_cm = float(cell_constant_per_cm)
        self.noise_rel = float(noise_rel)
        self.drift = bool(drift)
        self.p_bubble = float(p_bubble)
        self.p_spike = float(p_spike)
        self.sensor_id = sensor_id
        self.TEOS_M, self.NH3_M, self.H2O_M = float(TEOS_M), float(NH3_M), float(H2O_M)
        self.k_h_per_s, self.k_c_per_s = float(k_h_per_s), float(k_c_per_s)
        self.induction_s = float(induction_s)
        self.d_nucleus_nm, self.d_final_nm = float(d_nucleus_nm), float(d_final_nm)
        self.kappa0_s_per_m = float(kappa0_s_per_m)
        self.kappa_hydrolysis_drop = float(kappa_hydrolysis_drop)
        self.r_ct0_ohm, self.rct_growth = float(r_ct0_ohm), float(rct_growth)
        self.q0_s_alpha, self.alpha0 = float(q0_s_alpha), float(alpha0)
        self.jitter = float(jitter)
        self.label_every_s = float(label_every_s)
        self.label_delay_s = float(label_delay_s)
        self.label_delay_jitter_s = float(label_delay_jitter_s)
        self.label_noise_rel = float(label_noise_rel)

        # streams: kinetics/cell, events, drift, noise, labels
        self._seeds = np.random.SeedSequence(self.seed).spawn(5)
        self._state = self._kinetics()
        self._events = self._bad_sweeps()
        self._state.update(self._temperature())
        self._truth: tuple[StoberTruth, ...] | None = None
        self._labels, self.late_labels = self._make_labels()

    # ------------------------------------------------------------------ model (vectorised)
    def _kinetics(self) -> dict[str, np.ndarray]:
        rng = np.random.Generator(np.random.PCG64(self._seeds[0]))
        jit = np.exp(self.jitter * rng.standard_normal(6))
        k_h, k_c = self.k_h_per_s * jit[0], self.k_c_per_s * jit[1]
        if abs(k_h - k_c) < 1e-9:
            k_c *= 1.01
        self.params_ = {
            "k_h_per_s": k_h,
            "k_c_per_s": k_c,
            "kappa0_s_per_m": self.kappa0_s_per_m * jit[2],
            "r_ct0_ohm": self.r_ct0_ohm * jit[3],
            "q0_s_alpha": self.q0_s_alpha * jit[4],
            "rct_growth": self.rct_growth * jit[5],
        }
        t = np.arange(self.n_readings) * self.interval_s
        x = -np.expm1(-k_h * t)
        c = 1.0 - (k_c * np.exp(-k_h * t) - k_h * np.exp(-k_c * t)) / (k_c - k_h)
        c = np.clip(c, 0.0, 1.0)
        d3 = self.d_nucleus_nm**3 + (self.d_final_nm**3 - self.d_nucleus_nm**3) * c
        d = np.where(t >= self.induction_s, np.cbrt(d3), np.nan)
        phi_max = self.TEOS_M * SIO2_MOLAR_MASS_G_PER_MOL / SIO2_DENSITY_G_PER_CM3 * 1e-3
        phi = phi_max * c
        maxwell = (1.0 - phi) / (1.0 + phi / 2.0)  # Maxwell (1873), non-conducting spheres
        kappa = self.params_["kappa0_s_per_m"] * (1.0 - self.kappa_hydrolysis_drop * x) * maxwell
        return {
            "t_s": t,
            "hydrolysed": x,
            "condensed": c,
            "d_mean_nm": d,
            "kappa": kappa,
            "r_ct": self.params_["r_ct0_ohm"] * (1.0 + self.params_["rct_growth"] * c),
            "q": self.params_["q0_s_alpha"] * (1.0 - 0.4 * c),
            "alpha": self.alpha0 - 0.03 * c,
        }

    def _temperature(self) -> dict[str, np.ndarray]:
        n = self.n_readings
        if not self.drift:
            return {"dT": np.zeros(n)}
        rng = np.random.Generator(np.random.PCG64(self._seeds[2]))
        walk = np.cumsum(rng.standard_normal(n)) * 0.3 * math.sqrt(self.interval_s / 86400.0)
        phase = rng.uniform(0.0, 2.0 * math.pi)
        daily = 0.4 * np.sin(2.0 * math.pi * self._state["t_s"] / 86400.0 + phase)
        return {"dT": walk + daily}

    def _bad_sweeps(self) -> dict[str, np.ndarray]:
        rng = np.random.Generator(np.random.PCG64(self._seeds[1]))
        n, m = self.n_readings, self.frequencies_hz.size
        u = rng.uniform(size=n)
        bubble = u < self.p_bubble
        spike = (u >= self.p_bubble) & (u < self.p_bubble + self.p_spike)
        # drawn for every sweep, so the stream does not depend on which sweeps are hit
        bubble_from = rng.integers(1, m - 1, size=n)
        bubble_factor = rng.uniform(1.5, 3.0, size=n)
        spike_idx = rng.integers(0, m, size=(n, 3))
        spike_count = rng.integers(1, 4, size=n)
        spike_factor = rng.uniform(2.0, 5.0, size=(n, 3))
        return {
            "bubble": bubble,
            "spike": spike,
            "bubble_from": bubble_from,
            "bubble_factor": bubble_factor,
            "spike_idx": spike_idx,
            "spike_count": spike_count,
            "spike_factor": spike_factor,
        }

    def _circuit(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """R_s, R_ct, Q, alpha and conductivity of every sweep, drift included."""
        st = self._state
        dT = st["dT"]
        kappa = st["kappa"] * (1.0 + _KAPPA_PER_K * dT)
        r_s = self.cell_constant_per_cm * 100.0 / kappa
        q = st["q"] * (1.0 + _Q_PER_K * dT)
        return r_s, st["r_ct"], q, st["alpha"], kappa

    def impedance(self, seq: int) -> np.ndarray:
        """Noise-free complex impedance of sweep ``seq`` (events included), ohm."""
        if not 0 <= seq < self.n_readings:
            raise IndexError(f"seq: expected 0..{self.n_readings - 1}, got {seq}")
        r_s, r_ct, q, alpha, _ = (a[seq] for a in self._circuit())
        f = self.frequencies_hz
        z = randles_cpe(f, r_s, r_ct, q, alpha)
        ev = self._events
        if ev["bubble"][seq]:
            fac = ev["bubble_factor"][seq]
            # swept from high to low frequency: the bubble covers the low-frequency part
            low = np.arange(f.size) < f.size - ev["bubble_from"][seq]
            z[low] = randles_cpe(f[low], r_s * fac, r_ct * fac, q / fac, alpha)
        if ev["spike"][seq]:
            k = ev["spike_count"][seq]
            z[ev["spike_idx"][seq, :k]] *= ev["spike_factor"][seq, :k]
        return z

    def sweeps(self) -> Iterator[tuple[int, np.ndarray]]:
        """(seq, complex impedance with noise) of every sweep, lazily."""
        rng = np.random.Generator(np.random.PCG64(self._seeds[3]))
        m = self.frequencies_hz.size
        for k in range(self.n_readings):
            z = self.impedance(k)
            noise = rng.standard_normal((2, m)) * (self.noise_rel * np.abs(z))
            yield k, z + noise[0] + 1j * noise[1]

    def _make_labels(self) -> tuple[list[Label], list[Label]]:
        rng = np.random.Generator(np.random.PCG64(self._seeds[4]))
        on_time: list[Label] = []
        late: list[Label] = []
        end = self.duration_s
        k = 1
        while k * self.label_every_s < end:
            t_sample = k * self.label_every_s
            k += 1
            e, delay = rng.standard_normal(), rng.uniform(0.0, self.label_delay_jitter_s)
            d = self._d_at(t_sample)
            if not math.isfinite(d):
                continue
            value = d * (1.0 + self.label_noise_rel * e)
            label = Label(
                run_id=self.run_id,
                t=self.start + timedelta(seconds=t_sample + self.label_delay_s + delay),
                sample_t=self.start + timedelta(seconds=t_sample),
                quantity="d_mean_nm",
                value=value,
                uncertainty=self.label_noise_rel * value,
                units="nm",
                method="DLS",
            )
            (on_time if t_sample + self.label_delay_s + delay <= end else late).append(label)
        return on_time, late

    def _d_at(self, t_s: float) -> float:
        """True mean diameter at time ``t_s`` after the start (NaN before nucleation)."""
        if t_s < self.induction_s:
            return math.nan
        k_h, k_c = self.params_["k_h_per_s"], self.params_["k_c_per_s"]
        c = 1.0 - (k_c * math.exp(-k_h * t_s) - k_h * math.exp(-k_c * t_s)) / (k_c - k_h)
        c = min(max(c, 0.0), 1.0)
        return math.cbrt(self.d_nucleus_nm**3 + (self.d_final_nm**3 - self.d_nucleus_nm**3) * c)

    # ------------------------------------------------------------------ messages
    @property
    def labels(self) -> list[Label]:
        """The Labels that arrive during the run (in arrival order)."""
        return sorted(self._labels, key=lambda lab: lab.t)

    def recipe(self) -> dict[str, float]:
        # a room-temperature run: the setpoint the alert rules' temperature limits are set from
        return {"TEOS_M": self.TEOS_M, "NH3_M": self.NH3_M, "H2O_M": self.H2O_M, "T_degC": 25.0}

    def descriptor(self) -> Descriptor:
        return Descriptor(
            run_id=self.run_id,
            t=self.start,
            sensor_id=self.sensor_id,
            kind="impedance",
            axis=self.frequencies_hz.tolist(),
            axis_units="Hz",
            value_units="ohm",
            cell_constant_per_cm=self.cell_constant_per_cm,
            expected_interval_s=self.interval_s,
        )

    def messages(self) -> Iterator[RunStart | Descriptor | Reading | Label | RunStop]:
        """The run as contract messages, lazily and in event-time order."""
        yield self.run_start()
        yield self.descriptor()
        labels = self.labels
        i = 0
        for k, z in self.sweeps():
            t = self.start + timedelta(seconds=k * self.interval_s)
            while i < len(labels) and labels[i].t < t:
                yield labels[i]
                i += 1
            yield Reading(
                run_id=self.run_id,
                t=t,
                sensor_id=self.sensor_id,
                seq=k,
                values=z.real.tolist(),
                values_imag=z.imag.tolist(),
            )
        yield from labels[i:]
        yield self.run_stop()

    def __iter__(self) -> Iterator[RunStart | Descriptor | Reading | Label | RunStop]:
        return self.messages()

    @property
    def truth(self) -> list[StoberTruth]:
        """Ground truth of every sweep (computed once)."""
        if self._truth is None:
            st, ev = self._state, self._events
            r_s, r_ct, q, alpha, kappa = self._circuit()
            self._truth = tuple(
                StoberTruth(
                    t=self.start + timedelta(seconds=k * self.interval_s),
                    seq=k,
                    r_s_ohm=float(r_s[k]),
                    r_ct_ohm=float(r_ct[k]),
                    cpe_q_s_alpha=float(q[k]),
                    cpe_alpha=float(alpha[k]),
                    conductivity_s_per_m=float(kappa[k]),
                    temperature_offset_k=float(st["dT"][k]),
                    hydrolysed_fraction=float(st["hydrolysed"][k]),
                    condensed_fraction=float(st["condensed"][k]),
                    d_mean_nm=float(st["d_mean_nm"][k]),
                    bubble=bool(ev["bubble"][k]),
                    spike=bool(ev["spike"][k]),
                )
                for k in range(self.n_readings)
            )
        return list(self._truth)
