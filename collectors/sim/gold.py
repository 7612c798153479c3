"""A seeded simulator of a citrate (Turkevich) gold synthesis watched by an in-situ UV-Vis probe.

The chemistry (simplified, but with the right shape and time scales for a run at the boil):

1. **Induction** (a few minutes): citrate reduces Au(III) to Au(I) species; no Au(0) yet, the
   spectrum is flat.
2. **Nucleation burst**: the first Au(0) forms many small nuclei (number-mean diameter
   ``d_nucleus_nm`` = 2.5 nm, geometric standard deviation 1.3). While nuclei form, every new
   Au(0) atom goes into new nuclei, until their number reaches the final particle number.
3. **Growth**: the remaining Au(III) is reduced onto the existing particles; the particle number
   stays constant, so the mean particle volume is (Au(0) / number of particles), and the size
   distribution focuses (geometric sd 1.3 -> 1.1, interpolated in ln gsd against conversion).
4. **Plateau**: conversion above 99 %.

The mechanism (fast nucleation, then growth of a fixed number of particles, size focusing) is the
one J. Polte et al. derived from in-situ SAXS/XANES, J. Am. Chem. Soc. 132 (2010) 1296. Au(III) ->
Au(0) conversion follows the two-step Finke-Watzky law (slow continuous nucleation A -> B, k1,
autocatalytic surface growth A + B -> 2B, k2): M. A. Watzky and R. G. Finke, J. Am. Chem. Soc. 119
(1997) 10382, closed form (their eq. 4) for [A]/[A]0 = (k1/k2' + 1) / (1 + k1/k2' exp((k1 + k2')
t)), k2' = k2 [A]0. The particle number follows from the mass balance of Au(0) (density
19.3 g/cm^3, molar mass 196.97 g/mol) and the final number-mean diameter ``d_final_nm``.

The size distribution is lognormal in number; ``d_mean_nm`` is everywhere the **number-weighted
arithmetic mean diameter**, exp(mu + s^2/2) for ln d ~ N(mu, s^2), s = ln gsd. Its third moment is
d_mean^3 exp(3 s^2).

Absorbance is Beer-Lambert over the ensemble: A(lambda) = N * sum_d w(d) sigma_ext(lambda, d) *
L / ln 10, with N in particles per cm^3, sigma_ext in cm^2 from Mie theory with size-corrected
Johnson & Christy gold (:mod:`synthwatch.collectors.sim.optics`) in water (n = 1.333), L in cm.

Instrument effects, all drawn from numpy Generators seeded by ``seed`` (independent streams for
kinetics, bad frames, baseline drift and noise, so changing one does not shift the others):

* white noise of standard deviation ``noise_au`` on every point;
* baseline drift: an offset and a linear tilt across the axis, each a random walk plus a slow
  lamp sinusoid, a few mAU over two hours;
* saturated frames (probability ``p_saturated`` per frame): a bubble or a stray-light burst
  raises a contiguous region (30-100 % of the axis) above ``saturation_au``, where the detector
  clips; every value is clipped at ``saturation_au`` anyway;
* dropped frames (probability ``p_dropout`` per frame): half of them all null, half with a
  contiguous block of 30-90 % of the points null.

The instrument does not flag any of this in ``Reading.flags``: the models must find out. The
ground truth, frame by frame, is :attr:`GoldCitrateSimulator.truth`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
from scipy.special import expit

from synthwatch.collectors.sim.optics import EnsembleKernel, ensemble_kernel
from synthwatch.collectors.sim.run import SimulatedRun
from synthwatch.contract.messages import Descriptor, Reading, RunStart, RunStop

__all__ = [
    "AU_DENSITY_G_PER_CM3",
    "AU_MOLAR_MASS_G_PER_MOL",
    "PHASES",
    "DEFAULT_WAVELENGTHS_NM",
    "TruthPoint",
    "GoldCitrateSimulator",
    "au_volume_cm3_per_ml",
    "number_per_ml_from_au0",
    "au0_mM_from_number",
    "noise_free_spectrum",
]

#: density of gold, g/cm^3 (CRC Handbook of Chemistry and Physics)
AU_DENSITY_G_PER_CM3 = 19.3
#: molar mass of gold, g/mol (IUPAC standard atomic weight 196.966570)
AU_MOLAR_MASS_G_PER_MOL = 196.97
#: the phases of a synthesis, in order
PHASES = ("induction", "nucleation", "growth", "plateau")
#: the default wavelength axis of the simulated spectrometer, nm
DEFAULT_WAVELENGTHS_NM = np.arange(300.0, 901.0, 1.0)
DEFAULT_WAVELENGTHS_NM.setflags(write=False)

_LN10 = math.log(10.0)
_NM3_TO_CM3 = 1e-21
_NM2_TO_CM2 = 1e-14
_CHUNK = 256  # readings generated per matrix product; fixed, so noise draws are reproducible
_PLATEAU_CONVERSION = 0.99
_DEFAULT_START = datetime(2026, 1, 1, 9, 0, 0, tzinfo=timezone.utc)


def au_volume_cm3_per_ml(au0_mM: float | np.ndarray) -> float | np.ndarray:
    """Volume of gold (cm^3) in 1 mL of solution holding ``au0_mM`` mmol/L of Au(0) atoms."""
    return np.asarray(au0_mM) * 1e-6 * AU_MOLAR_MASS_G_PER_MOL / AU_DENSITY_G_PER_CM3


def _third_moment_nm3(d_mean_nm, gsd):
    s = np.log(np.asarray(gsd, dtype=float))
    return np.asarray(d_mean_nm, dtype=float) ** 3 * np.exp(3.0 * s * s)


def number_per_ml_from_au0(au0_mM, d_mean_nm, gsd=1.0):
    """Particles per mL holding ``au0_mM`` of Au(0) in a lognormal PSD (number-mean d, gsd).

    >>> round(float(number_per_ml_from_au0(0.25, 15.0, 1.0)) / 1e12, 2)   # 1e12 per mL
    1.44
    """
    v_particle_cm3 = np.pi / 6.0 * _third_moment_nm3(d_mean_nm, gsd) * _NM3_TO_CM3
    return au_volume_cm3_per_ml(au0_mM) / v_particle_cm3


def au0_mM_from_number(number_per_ml, d_mean_nm, gsd=1.0):
    """Au(0) concentration (mM) in ``number_per_ml`` particles of a lognormal PSD."""
    return np.asarray(number_per_ml) / number_per_ml_from_au0(1.0, d_mean_nm, gsd)


def _absorbance(kernel: EnsembleKernel, number_per_ml, d_mean_nm, gsd, path_length_cm):
    """(n_wavelengths, n) noise-free absorbance; rows of the kernel sliced to the support."""
    w = kernel.weights(d_mean_nm, gsd)
    nz = np.flatnonzero(w.any(axis=1))
    if nz.size == 0:
        return np.zeros((kernel.wavelengths_nm.size, w.shape[1]))
    lo, hi = nz[0], nz[-1] + 1
    sigma = kernel.sigma_ext_nm2[:, lo:hi] @ w[lo:hi]  # nm^2 per particle
    n = np.atleast_1d(np.asarray(number_per_ml, dtype=float))
    return sigma * (n * _NM2_TO_CM2 * path_length_cm / _LN10)[None, :]


def noise_free_spectrum(
    d_mean_nm: float,
    gsd: float = 1.0,
    *,
    au0_mM: float | None = None,
    number_per_ml: float | None = None,
    wavelengths_nm: object = None,
    metal: str = "Au",
    path_length_cm: float = 1.0,
    n_medium: float = 1.333,
    use_cache: bool = True,
) -> np.ndarray:
    """Noise-free absorbance of a lognormal ensemble of spheres, on ``wavelengths_nm``.

    Give the amount either as ``au0_mM`` (metal atoms in particles, mmol/L; converted with the
    density and molar mass of gold, so meant for ``metal="Au"``) or as ``number_per_ml``.
    ``d_mean_nm`` is the number-weighted mean diameter, ``gsd`` the geometric standard
    deviation (1.0: all spheres alike). Default axis: 300-900 nm in 1 nm steps. The kernel is
    built once per axis (about 2 s for 600 wavelengths), kept in memory and cached on disk unless
    ``use_cache=False`` (see :mod:`~synthwatch.collectors.sim.optics`).

    >>> import numpy as np
    >>> wl = np.arange(400.0, 701.0, 2.0)
    >>> a = noise_free_spectrum(20.0, 1.1, au0_mM=0.25, wavelengths_nm=wl, use_cache=False)
    >>> int(wl[np.argmax(a)]), round(float(a[0]), 1)     # SPR peak (nm), A at 400 nm
    (522, 0.6)
    """
    if (au0_mM is None) == (number_per_ml is None):
        raise ValueError("give exactly one of au0_mM or number_per_ml")
    wl = DEFAULT_WAVELENGTHS_NM if wavelengths_nm is None else wavelengths_nm
    kernel = ensemble_kernel(metal, wl, n_medium, use_cache=use_cache)
    if not kernel.covers(d_mean_nm, gsd):
        raise ValueError(
            f"d_mean_nm={d_mean_nm}, gsd={gsd}: the size distribution reaches beyond "
            f"{kernel.diameters_nm[0]:.2g}-{kernel.diameters_nm[-1]:.3g} nm"
        )
    if number_per_ml is None:
        number_per_ml = float(number_per_ml_from_au0(au0_mM, d_mean_nm, gsd))
    return _absorbance(kernel, number_per_ml, d_mean_nm, gsd, path_length_cm)[:, 0]


@dataclass(frozen=True)
class TruthPoint:
    """What really happened at one reading of the simulator.

    ``d_mean_nm`` is the number-weighted arithmetic mean diameter (NaN while there are no
    particles), ``gsd`` the geometric standard deviation of the lognormal number distribution
    (NaN likewise), ``number_per_ml`` particles per mL, ``au0_mM`` Au(0) in particles (mmol/L;
    the reduced metal of the simulator, e.g. Ag(0) for silver),
    ``conversion`` the reduced fraction of the gold precursor, ``phase`` one of :data:`PHASES`.
    ``saturated``: the frame was saturated by an injected event (bubble, stray light) or the
    noise-free absorbance plus drift reaches the saturation level; ``dropout``: the frame has
    null values.
    """

    t: datetime
    seq: int
    d_mean_nm: float
    gsd: float
    number_per_ml: float
    au0_mM: float
    conversion: float
    phase: str
    saturated: bool
    dropout: bool


class GoldCitrateSimulator(SimulatedRun):
    """Seeded, reproducible citrate gold synthesis seen by an in-situ UV-Vis spectrometer.

    The constructor arguments are kept as attributes of the same names (``wavelengths_nm`` as
    a read-only float array; ``run_id`` defaults to ``"sim-au-citrate-s<seed>"``).
    :meth:`messages` yields the run lazily: RunStart, one Descriptor, one Reading every
    ``interval_s`` (seq 0, 1, ...; t = start + seq * interval_s) and RunStop. :attr:`truth`
    holds the ground truth of every reading. The same seed gives byte-identical messages.

    Kinetic constants (``induction_s``, ``k1_per_s``, ``k2_per_s``) are jittered per seed by
    a lognormal factor of relative width ``kinetics_jitter`` (the values used are in
    ``kinetics_``); the final size is not. The extinction kernel is built on construction
    (1.6 s for the default axis the first time, milliseconds from the cache).

    >>> import numpy as np
    >>> from synthwatch.contract.messages import encode
    >>> axis = np.arange(400.0, 701.0, 10.0)
    >>> kw = dict(duration_s=2400.0, interval_s=60.0, wavelengths_nm=axis, use_cache=False)
    >>> sim = GoldCitrateSimulator(seed=1, **kw)
    >>> msgs = list(sim.messages())
    >>> [type(m).__name__ for m in msgs[:3]], type(msgs[-1]).__name__, len(msgs)
    (['RunStart', 'Descriptor', 'Reading'], 'RunStop', 43)
    >>> sorted({p.phase for p in sim.truth}) == sorted(PHASES)
    True
    >>> round(sim.truth[-1].d_mean_nm, 1), sim.truth[-1].phase
    (15.0, 'plateau')
    >>> [encode(m) for m in msgs] == [encode(m) for m in GoldCitrateSimulator(seed=1, **kw)]
    True
    """

    #: chemistry system of the RunStart; the hooks below let a subclass simulate another metal
    #: (:class:`synthwatch.collectors.sim.scenarios.SilverCitrateSimulator`)
    system = "Au-citrate"
    #: metal of the particles (optical constants, :data:`~synthwatch.collectors.sim.optics.METALS`)
    metal = "Au"
    #: precursor; the amount is the constructor's ``HAuCl4_mM``, kept as ``<precursor>_mM``
    precursor = "HAuCl4"
    #: density (g/cm^3) and molar mass (g/mol) of the metal, for the mass balance
    density_g_per_cm3 = AU_DENSITY_G_PER_CM3
    molar_mass_g_per_mol = AU_MOLAR_MASS_G_PER_MOL
    #: the default run_id is ``<run_id_prefix>-s<seed>``
    run_id_prefix = "sim-au-citrate"

    def __init__(
        self,
        seed: int = 0,
        duration_s: float = 7200.0,
        interval_s: float = 2.0,
        run_id: str | None = None,
        reactor: str = "R1",
        start: datetime = _DEFAULT_START,
        wavelengths_nm: object = None,
        path_length_cm: float = 1.0,
        HAuCl4_mM: float = 0.25,
        d_final_nm: float = 15.0,
        noise_au: float = 0.002,
        drift: bool = True,
        p_saturated: float = 1.0e-3,
        p_dropout: float = 1.5e-3,
        *,
        sensor_id: str = "uv1",
        saturation_au: float = 3.0,
        T_degC: float = 100.0,
        citrate_to_Au: float = 3.5,
        induction_s: float = 180.0,
        k1_per_s: float = 2.0e-4,
        k2_per_s: float = 5.0e-3,
        kinetics_jitter: float = 0.1,
        d_nucleus_nm: float = 2.5,
        gsd_nucleation: float = 1.3,
        gsd_final: float = 1.1,
        n_medium: float = 1.333,
        use_cache: bool = True,
    ) -> None:
        self._check_run(seed, duration_s, interval_s, start)
        if not (HAuCl4_mM > 0 and path_length_cm > 0 and noise_au >= 0 and saturation_au > 0):
            raise ValueError(
                "expected HAuCl4_mM > 0, path_length_cm > 0, noise_au >= 0, saturation_au > 0"
            )
        if not (0 <= p_saturated and 0 <= p_dropout and p_saturated + p_dropout <= 1):
            raise ValueError("expected 0 <= p_saturated, p_dropout and their sum <= 1")
        if not (1.0 <= gsd_final <= gsd_nucleation < 2.0):
            raise ValueError("expected 1 <= gsd_final <= gsd_nucleation < 2")
        if not (0 < d_nucleus_nm < d_final_nm <= 100.0):
            raise ValueError("expected 0 < d_nucleus_nm < d_final_nm <= 100 nm")
        if not (induction_s >= 0 and k1_per_s > 0 and k2_per_s > 0 and kinetics_jitter >= 0):
            raise ValueError(
                "expected induction_s >= 0, k1_per_s > 0, k2_per_s > 0, kinetics_jitter >= 0"
            )
        self._set_run(seed, duration_s, interval_s, run_id, reactor, start)
        wl = DEFAULT_WAVELENGTHS_NM if wavelengths_nm is None else wavelengths_nm
        self.wavelengths_nm = np.array(wl, dtype=float)
        self.wavelengths_nm.setflags(write=False)
        self.path_length_cm = float(path_length_cm)
        setattr(self, f"{self.precursor}_mM", float(HAuCl4_mM))  # HAuCl4_mM for gold
        self.precursor_mM = float(HAuCl4_mM)
        self.d_final_nm = float(d_final_nm)
        self.noise_au = float(noise_au)
        self.drift = bool(drift)
        self.p_saturated = float(p_saturated)
        self.p_dropout = float(p_dropout)
        self.sensor_id = sensor_id
        self.saturation_au = float(saturation_au)
        self.T_degC = float(T_degC)
        self.citrate_to_Au = float(citrate_to_Au)
        self.induction_s = float(induction_s)
        self.k1_per_s = float(k1_per_s)
        self.k2_per_s = float(k2_per_s)
        self.kinetics_jitter = float(kinetics_jitter)
        self.d_nucleus_nm = float(d_nucleus_nm)
        self.gsd_nucleation = float(gsd_nucleation)
        self.gsd_final = float(gsd_final)
        self.n_medium = float(n_medium)

        self._seeds = np.random.SeedSequence(self.seed).spawn(4)  # kinetics, events, drift, noise
        self.use_cache = bool(use_cache)
        self._kernel = ensemble_kernel(
            self.metal, self.wavelengths_nm, self.n_medium, use_cache=self.use_cache
        )
        if not self._kernel.covers(self.d_nucleus_nm, self.gsd_nucleation) or not (
            self._kernel.covers(self.d_final_nm, self.gsd_final)
        ):
            raise ValueError("d_nucleus_nm / d_final_nm: outside the simulated size range")
        self._state = self._kinetics()
        self._events = self._bad_frames()
        self._baseline = self._drift()
        self._truth: tuple[TruthPoint, ...] | None = None

    # ------------------------------------------------------------------ model (vectorised)

    def _kinetics(self) -> dict[str, np.ndarray]:
        """Conversion, particle number, mean size and gsd at every reading."""
        rng = np.random.Generator(np.random.PCG64(self._seeds[0]))
        jit = np.exp(self.kinetics_jitter * rng.standard_normal(3))
        t_ind, k1, k2 = self.induction_s * jit[0], self.k1_per_s * jit[1], self.k2_per_s * jit[2]
        self.kinetics_ = {"induction_s": t_ind, "k1_per_s": k1, "k2_per_s": k2}
        t_s = np.arange(self.n_readings) * self.interval_s
        tau = np.maximum(t_s - t_ind, 0.0)
        # Finke-Watzky: [A]/[A]0 = (r + 1) / (1 + r exp((k1 + k2) tau)), r = k1 / k2
        r = k1 / k2
        remaining = (r + 1.0) * expit(-((k1 + k2) * tau + math.log(r)))
        conversion = np.clip(1.0 - remaining, 0.0, 1.0)
        conversion[t_s <= t_ind] = 0.0

        v_total_nm3 = self.metal_volume_cm3_per_ml(self.precursor_mM) / _NM3_TO_CM3  # per mL
        m_nuc = np.pi / 6.0 * _third_moment_nm3(self.d_nucleus_nm, self.gsd_nucleation)
        m_fin = np.pi / 6.0 * _third_moment_nm3(self.d_final_nm, self.gsd_final)
        n_final = v_total_nm3 / m_fin
        x_nuc = m_nuc / m_fin  # conversion at which nucleation ends
        v_nm3 = conversion * v_total_nm3
        number = np.minimum(n_final, v_nm3 / m_nuc)
        frac = np.clip((conversion - x_nuc) / (1.0 - x_nuc), 0.0, 1.0)
        s_nuc, s_fin = math.log(self.gsd_nucleation), math.log(self.gsd_final)
        s = s_nuc + (s_fin - s_nuc) * frac
        with np.errstate(invalid="ignore", divide="ignore"):
            d_mean = np.cbrt(v_nm3 / number * 6.0 / np.pi * np.exp(-3.0 * s * s))
        nucleating = (conversion > 0) & (conversion <= x_nuc)
        d_mean[nucleating] = self.d_nucleus_nm  # exact, not the round-trip of the cbrt
        phase = np.full(self.n_readings, 3, dtype=np.int8)
        phase[conversion < _PLATEAU_CONVERSION] = 2
        phase[nucleating] = 1
        phase[conversion <= 0] = 0
        none = conversion <= 0
        d_mean[none] = np.nan
        gsd = np.exp(s)
        gsd[none] = np.nan
        number[none] = 0.0
        return {
            "t_s": t_s,
            "conversion": conversion,
            "au0_mM": conversion * self.precursor_mM,
            "number_per_ml": number,
            "d_mean_nm": d_mean,
            "gsd": gsd,
            "phase": phase,
        }

    def _bad_frames(self) -> dict[str, np.ndarray]:
        """Which frames are saturated or dropped, and how (all drawn up front)."""
        rng = np.random.Generator(np.random.PCG64(self._seeds[1]))
        n, m = self.n_readings, self.wavelengths_nm.size
        u = rng.random(n)
        saturated = u < self.p_saturated
        dropout = (u >= self.p_saturated) & (u < self.p_saturated + self.p_dropout)
        frac = rng.uniform(0.3, 1.0, n)  # saturated: share of the axis raised
        sat_width = np.maximum(1, np.round(frac * m)).astype(int)
        sat_start = (rng.random(n) * (m - sat_width + 1)).astype(int)
        sat_raise = self.saturation_au * rng.uniform(1.05, 2.0, n)
        whole = rng.random(n) < 0.5  # dropout: all null, or a block
        frac = rng.uniform(0.3, 0.9, n)
        drop_width = np.where(whole, m, np.maximum(1, np.round(frac * m)).astype(int))
        drop_start = (rng.random(n) * (m - drop_width + 1)).astype(int)
        return {
            "saturated": saturated,
            "dropout": dropout,
            "sat_start": sat_start,
            "sat_stop": sat_start + sat_width,
            "sat_raise": sat_raise,
            "drop_start": drop_start,
            "drop_stop": drop_start + drop_width,
        }

    def _drift(self) -> tuple[np.ndarray, np.ndarray]:
        """Baseline offset and tilt (AU) per reading: random walks plus a lamp sinusoid."""
        n = self.n_readings
        if not self.drift:
            return np.zeros(n), np.zeros(n)
        rng = np.random.Generator(np.random.PCG64(self._seeds[2]))
        t_s = np.arange(n) * self.interval_s
        step = np.sqrt(self.interval_s / 7200.0)  # random walks of ~1 sd per 2 h
        walk_offset = 2.0e-3 * step * np.cumsum(rng.standard_normal(n))
        walk_tilt = 1.0e-3 * step * np.cumsum(rng.standard_normal(n))
        period_s = rng.uniform(900.0, 2400.0)
        phase0 = rng.uniform(0.0, 2.0 * np.pi)
        amp = rng.uniform(0.5e-3, 1.5e-3)
        offset = walk_offset + amp * np.sin(2.0 * np.pi * t_s / period_s + phase0)
        return offset, walk_tilt

    def _baseline_rows(self, k0: int, k1: int) -> np.ndarray:
        wl = self.wavelengths_nm
        mid, half = 0.5 * (wl[0] + wl[-1]), max(0.5 * (wl[-1] - wl[0]), 1e-9)
        x = (wl - mid) / half
        offset, tilt = self._baseline
        return offset[k0:k1, None] + tilt[k0:k1, None] * x[None, :]

    def _clean_rows(self, k0: int, k1: int) -> np.ndarray:
        """Noise-free absorbance of readings k0..k1-1, shape (k1 - k0, n_wavelengths)."""
        st = self._state
        out = np.zeros((k1 - k0, self.wavelengths_nm.size))
        have = np.flatnonzero(st["number_per_ml"][k0:k1] > 0)
        if have.size:
            idx = k0 + have
            a = _absorbance(
                self._kernel,
                st["number_per_ml"][idx],
                st["d_mean_nm"][idx],
                st["gsd"][idx],
                self.path_length_cm,
            )
            out[have] = a.T
        return out

    def _rows(self, k0: int, k1: int, noise: np.ndarray) -> np.ndarray:
        values = self._clean_rows(k0, k1) + self._baseline_rows(k0, k1) + noise
        ev = self._events
        for k in np.flatnonzero(ev["saturated"][k0:k1]) + k0:
            values[k - k0, ev["sat_start"][k] : ev["sat_stop"][k]] += ev["sat_raise"][k]
        np.minimum(values, self.saturation_au, out=values)
        for k in np.flatnonzero(ev["dropout"][k0:k1]) + k0:
            values[k - k0, ev["drop_start"][k] : ev["drop_stop"][k]] = np.nan
        return np.round(values, 5)

    # ------------------------------------------------------------------ public API

    def metal_volume_cm3_per_ml(self, metal0_mM: float | np.ndarray) -> float | np.ndarray:
        """Volume of metal (cm^3) in 1 mL holding ``metal0_mM`` mmol/L of reduced metal atoms."""
        return np.asarray(metal0_mM) * 1e-6 * self.molar_mass_g_per_mol / self.density_g_per_cm3

    def recipe(self) -> dict[str, float]:
        """The recipe parameters of the RunStart."""
        return {
            f"{self.precursor}_mM": self.precursor_mM,
            "T_degC": self.T_degC,
            f"citrate_to_{self.metal}": self.citrate_to_Au,
            "d_target_nm": self.d_final_nm,
        }

    @property
    def kernel(self) -> EnsembleKernel:
        """The extinction kernel on this simulator's wavelength axis (the metal in the medium)."""
        return self._kernel

    def times(self) -> list[datetime]:
        """Event time of every reading."""
        return [self.start + timedelta(seconds=k * self.interval_s) for k in range(self.n_readings)]

    def spectra(self) -> Iterator[tuple[int, np.ndarray]]:
        """(seq, absorbance array) of every reading, lazily: the values of :meth:`messages`."""
        rng = np.random.Generator(np.random.PCG64(self._seeds[3]))
        m = self.wavelengths_nm.size
        for k0 in range(0, self.n_readings, _CHUNK):
            k1 = min(k0 + _CHUNK, self.n_readings)
            noise = rng.standard_normal((k1 - k0, m)) * self.noise_au
            rows = self._rows(k0, k1, noise)
            for i in range(k1 - k0):
                yield k0 + i, rows[i]

    def _run_tags(self) -> dict[str, str]:
        return {"recipe": f"{self.system}-{self.d_final_nm:g}nm"}  # the golden batch's key

    def descriptor(self) -> Descriptor:
        """The Descriptor of the spectrometer."""
        return Descriptor(
            run_id=self.run_id,
            t=self.start,
            sensor_id=self.sensor_id,
            kind="uvvis",
            axis=self.wavelengths_nm.tolist(),
            axis_units="nm",
            value_units="AU",
            path_length_cm=self.path_length_cm,
            expected_interval_s=self.interval_s,
            saturation_au=self.saturation_au,
        )

    def messages(self) -> Iterator[RunStart | Descriptor | Reading | RunStop]:
        """The run as contract messages, lazily and in order."""
        yield self.run_start()
        yield self.descriptor()
        dt = timedelta(seconds=self.interval_s)
        for k, values in self.spectra():
            yield Reading(
                run_id=self.run_id,
                t=self.start + k * dt,
                sensor_id=self.sensor_id,
                seq=k,
                values=values.tolist(),
            )
        yield self.run_stop()

    def __iter__(self) -> Iterator[RunStart | Descriptor | Reading | RunStop]:
        return self.messages()

    def _naturally_saturated(self) -> np.ndarray:
        """Frames whose noise-free absorbance plus drift reaches the saturation level."""
        last = self._clean_rows(self.n_readings - 1, self.n_readings).max()
        drift_max = np.abs(self._baseline[0]).max() + np.abs(self._baseline[1]).max()
        if last + drift_max < 0.8 * self.saturation_au:
            # the plateau is the most absorbing state; far below saturation
            return np.zeros(self.n_readings, dtype=bool)
        return self._saturated_frames()

    def _saturated_frames(self) -> np.ndarray:
        """Frames whose noise-free absorbance plus drift reaches the saturation level, each
        checked."""
        out = np.zeros(self.n_readings, dtype=bool)
        for k0 in range(0, self.n_readings, _CHUNK):
            k1 = min(k0 + _CHUNK, self.n_readings)
            a = self._clean_rows(k0, k1) + self._baseline_rows(k0, k1)
            out[k0:k1] = a.max(axis=1) >= self.saturation_au
        return out

    @property
    def truth(self) -> list[TruthPoint]:
        """Ground truth of every reading (a new list each time; computed once)."""
        if self._truth is None:
            st, ev = self._state, self._events
            natural = self._naturally_saturated()
            times = self.times()
            self._truth = tuple(
                TruthPoint(
                    t=times[k],
                    seq=k,
                    d_mean_nm=float(st["d_mean_nm"][k]),
                    gsd=float(st["gsd"][k]),
                    number_per_ml=float(st["number_per_ml"][k]),
                    au0_mM=float(st["au0_mM"][k]),
                    conversion=float(st["conversion"][k]),
                    phase=PHASES[st["phase"][k]],
                    saturated=bool(ev["saturated"][k] or natural[k]),
                    dropout=bool(ev["dropout"][k]),
                )
                for k in range(self.n_readings)
            )
        return list(self._truth)

    def noise_free_spectrum(
        self,
        d_mean_nm: float,
        gsd: float = 1.0,
        *,
        au0_mM: float | None = None,
        number_per_ml: float | None = None,
    ) -> np.ndarray:
        """Noise-free absorbance on this simulator's axis and path (see module function)."""
        if (au0_mM is None) == (number_per_ml is None):
            raise ValueError("give exactly one of au0_mM or number_per_ml")
        if number_per_ml is None:
            v_particle_cm3 = np.pi / 6.0 * _third_moment_nm3(d_mean_nm, gsd) * _NM3_TO_CM3
            number_per_ml = float(self.metal_volume_cm3_per_ml(au0_mM) / v_particle_cm3)
        return _absorbance(self._kernel, number_per_ml, d_mean_nm, gsd, self.path_length_cm)[:, 0]

    def noise_free_reading(self, seq: int) -> np.ndarray:
        """Noise-free absorbance of reading ``seq``: no drift, no noise, no bad frames."""
        if not 0 <= seq < self.n_readings:
            raise IndexError(f"seq: expected 0..{self.n_readings - 1}, got {seq}")
        return self._clean_rows(seq, seq + 1)[0]
