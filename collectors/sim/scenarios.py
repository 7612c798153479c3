"""Scenario simulators with ground truth: silver, gold rods and aggregating gold.

All are subclasses of :class:`~synthwatch.collectors.sim.gold.GoldCitrateSimulator` and share
its instrument (noise, drift, saturated and dropped frames, the same seeded streams), its
message API (:meth:`messages`, RunStart / Descriptor / Reading / RunStop) and its laziness; the
ground truth is a list of :class:`ScenarioTruthPoint` (a :class:`TruthPoint` with more fields).
:func:`simulate` picks one by name (:data:`SCENARIOS`).

* ``"gold"``: the citrate gold run itself (:class:`GoldCitrateSimulator`).
* ``"silver"`` (:class:`SilverCitrateSimulator`): citrate reduction of AgNO3 at the boil
  (P. C. Lee and D. Meisel, J. Phys. Chem. 86 (1982) 3391: ~1 mM AgNO3, about an hour,
  polydisperse particles of 40-60 nm). Same Finke-Watzky / nucleation-and-growth model as gold,
  with the density (10.49 g/cm^3) and molar mass (107.87 g/mol) of silver and Johnson & Christy
  silver with the Kreibig size correction; final number-mean diameter 40 nm, gsd 1.25. The SPR
  (Mie, water) lies at 387 nm for 20 nm and 399 nm for 40 nm spheres; measured citrate silver
  colloids sit some 5-15 nm redder (citrate layer, polydispersity).
* ``"gold-rods"`` (:class:`GoldRodsSimulator`): seed-mediated growth of gold rods (B. Nikoobakht
  and M. A. El-Sayed, Chem. Mater. 15 (2003) 1957). A fixed number of seeds (``d_seed_nm``)
  grows as the precursor is reduced (Finke-Watzky conversion); a number fraction
  ``rod_fraction`` grows into rods whose mean aspect ratio rises linearly with conversion from 1
  to ``aspect_ratio_final`` (normal spread of relative sd ``aspect_ratio_sd_rel``, all rods of
  one width at a time), the rest into spheres (the usual by-product) of the same volume,
  lognormal with ``gsd_spheres``. Rods: Gans theory (:mod:`synthwatch.collectors.sim.gans`; R. Gans,
  Ann. Phys. 342 (1912) 881; S. Link, M. B. Mohamed, M. A. El-Sayed, J. Phys. Chem. B 103 (1999)
  3073) with the dielectric function size-corrected at the rod width; spheres: Mie.
* ``"gold-aggregating"`` (:class:`GoldAggregatingSimulator`): the citrate gold run; at
  ``onset_s`` (salt added) a mass fraction of the particles aggregates, rising as
  f(t) = f_max (1 - exp(-(t - t_on)/tau)). **Approximation**: a cluster is optically an
  effective solid gold sphere of the same gold mass (effective diameters lognormal, number-mean
  growing from ``cluster_d_start_nm`` to ``cluster_d_final_nm``, gsd ``cluster_gsd``), Mie
  extinction. This gives what plasmon coupling in aggregates does to the spectrum - the primary
  SPR drops as particles leave it, and a broad red-shifted band / tail over 600-800 nm grows
  (S. K. Ghosh and T. Pal, Chem. Rev. 107 (2007) 4797) - but not the distinct coupled
  (chain) mode of a coupled-dipole calculation, and it overstates scattering. Cheap: the kernel
  of the gold run is reused.

Truth: ``aggregated`` is set when ``aggregated_fraction`` exceeds ``AGGREGATED_THRESHOLD``.

>>> import numpy as np
>>> axis = np.arange(300.0, 801.0, 10.0)
>>> sim = simulate("silver", seed=2, duration_s=3600.0, interval_s=120.0,
...                wavelengths_nm=axis, use_cache=False)
>>> sim.run_start().system, sim.truth[-1].metal, round(sim.truth[-1].d_mean_nm)
('Ag-citrate', 'Ag', 40)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import datetime

import numpy as np

from synthwatch.collectors.sim.gans import gans_cross_sections_from_eps
from synthwatch.collectors.sim.gold import (
    _DEFAULT_START,
    _LN10,
    _NM2_TO_CM2,
    _NM3_TO_CM3,
    GoldCitrateSimulator,
    TruthPoint,
    _absorbance,
    _third_moment_nm3,
)
from synthwatch.collectors.sim.optics import dielectric_function
from synthwatch.contract.messages import RunStart

__all__ = [
    "AG_DENSITY_G_PER_CM3",
    "AG_MOLAR_MASS_G_PER_MOL",
    "AGGREGATED_THRESHOLD",
    "SCENARIOS",
    "ScenarioTruthPoint",
    "SilverCitrateSimulator",
    "GoldRodsSimulator",
    "GoldAggregatingSimulator",
    "simulate",
]

#: density of silver, g/cm^3 (CRC Handbook of Chemistry and Physics)
AG_DENSITY_G_PER_CM3 = 10.49
#: molar mass of silver, g/mol (IUPAC standard atomic weight 107.8682)
AG_MOLAR_MASS_G_PER_MOL = 107.87
#: ``ScenarioTruthPoint.aggregated`` is set above this aggregated mass fraction
AGGREGATED_THRESHOLD = 0.05


@dataclass(frozen=True)
class ScenarioTruthPoint(TruthPoint):
    """A :class:`TruthPoint` with the truth of the scenarios.

    ``metal``: "Au" or "Ag". Rods: ``aspect_ratio_mean`` (number mean over the rods; 1.0 for
    spheres), ``aspect_ratio_sd`` (absolute), ``rod_fraction`` (number fraction of rods among
    the particles), ``rod_width_nm``; there ``d_mean_nm`` is the volume-equivalent diameter of a
    particle (rods and by-product spheres have the same volume) and ``gsd`` that of the spheres.
    Aggregation: ``aggregated_fraction`` (mass fraction of the particles in clusters),
    ``aggregated`` (``aggregated_fraction`` > :data:`AGGREGATED_THRESHOLD`),
    ``cluster_d_mean_nm`` (number-mean effective diameter of the clusters, NaN when none); there
    ``d_mean_nm``, ``gsd`` and ``number_per_ml`` describe all primary particles, free or not.
    """

    metal: str = "Au"
    aspect_ratio_mean: float = 1.0
    aspect_ratio_sd: float = 0.0
    rod_fraction: float = 0.0
    rod_width_nm: float = math.nan
    aggregated_fraction: float = 0.0
    aggregated: bool = False
    cluster_d_mean_nm: float = math.nan


class _ScenarioSimulator(GoldCitrateSimulator):
    """Truth as :class:`ScenarioTruthPoint`; saturation checked on every frame."""

    scenario = "gold"

    def _extra_truth(self) -> dict[str, np.ndarray]:
        return {}

    @property
    def truth(self) -> list[ScenarioTruthPoint]:
        """Ground truth of every reading (a new list each time; computed once)."""
        if getattr(self, "_scenario_truth", None) is None:
            base = super().truth
            extra = self._extra_truth()
            names = [f.name for f in fields(TruthPoint)]
            self._scenario_truth = tuple(
                ScenarioTruthPoint(
                    **{n: getattr(p, n) for n in names},
                    metal=self.metal,
                    **{key: v[k].item() for key, v in extra.items()},
                )
                for k, p in enumerate(base)
            )
        return list(self._scenario_truth)

    def _naturally_saturated(self) -> np.ndarray:
        # the last frame is not necessarily the most absorbing one here: check them all
        return self._saturated_frames()

    def run_start(self) -> RunStart:
        """The RunStart message; ``tags["scenario"]`` names the scenario."""
        rs = super().run_start()
        return rs.model_copy(update={"tags": {**rs.tags, "scenario": self.scenario}})


class SilverCitrateSimulator(_ScenarioSimulator):
    """Citrate silver (Lee-Meisel) synthesis; the amount is ``AgNO3_mM`` (see module doc).

    Same arguments as :class:`GoldCitrateSimulator` with ``AgNO3_mM`` for ``HAuCl4_mM`` and
    silver defaults: 40 nm final size (gsd 1.35 -> 1.25), slower kinetics (induction 5 min,
    k1 1e-4 /s, k2 2.5e-3 /s: about half an hour to the plateau). The default AgNO3_mM = 0.1
    (a Lee-Meisel batch, ~1 mM, diluted 10x in the flow cell) gives an SPR absorbance of ~2.0.
    """

    system = "Ag-citrate"
    metal = "Ag"
    precursor = "AgNO3"
    density_g_per_cm3 = AG_DENSITY_G_PER_CM3
    molar_mass_g_per_mol = AG_MOLAR_MASS_G_PER_MOL
    run_id_prefix = "sim-ag-citrate"
    scenario = "silver"

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
        AgNO3_mM: float = 0.1,
        d_final_nm: float = 40.0,
        *args,
        citrate_to_Ag: float = 3.8,
        **kw,
    ) -> None:
        kw.setdefault("induction_s", 300.0)
        kw.setdefault("k1_per_s", 1.0e-4)
        kw.setdefault("k2_per_s", 2.5e-3)
        kw.setdefault("d_nucleus_nm", 3.0)
        kw.setdefault("gsd_nucleation", 1.35)
        kw.setdefault("gsd_final", 1.25)
        super().__init__(
            seed,
            duration_s,
            interval_s,
            run_id,
            reactor,
            start,
            wavelengths_nm,
            path_length_cm,
            AgNO3_mM,
            d_final_nm,
            *args,
            citrate_to_Au=citrate_to_Ag,
            **kw,
        )
        self.citrate_to_Ag = self.citrate_to_Au


class GoldRodsSimulator(_ScenarioSimulator):
    """Seed-mediated growth of gold rods with sphere by-product (see module doc).

    Extra keyword arguments: ``aspect_ratio_final`` (3.0: a longitudinal band near 670 nm in
    water), ``aspect_ratio_sd_rel`` (0.10), ``rod_fraction`` (0.8, by number), ``width_final_nm``
    (12), ``d_seed_nm`` (4), ``gsd_spheres`` (1.1), ``system`` (default "Au-citrate", so that
    the gold UV-Vis models are attached to the run; the chemistry is CTAB seed-mediated growth,
    pass e.g. "Au-CTAB-seeded" to say so). ``d_final_nm`` is derived (volume-equivalent
    diameter of the final rods); kinetics default to a growth at 30 degC of about half an hour.
    The other arguments are those of :class:`GoldCitrateSimulator`.

    >>> import numpy as np
    >>> axis = np.arange(400.0, 901.0, 5.0)
    >>> sim = GoldRodsSimulator(seed=1, duration_s=3600.0, interval_s=300.0, noise_au=0.0,
    ...                         drift=False, wavelengths_nm=axis, use_cache=False)
    >>> p = sim.truth[-1]
    >>> round(p.aspect_ratio_mean, 2), p.rod_fraction, p.phase
    (3.0, 0.8, 'plateau')
    """

    scenario = "gold-rods"

    def __init__(
        self,
        seed: int = 0,
        *args,
        aspect_ratio_final: float = 3.0,
        aspect_ratio_sd_rel: float = 0.10,
        rod_fraction: float = 0.8,
        width_final_nm: float = 12.0,
        d_seed_nm: float = 4.0,
        gsd_spheres: float = 1.1,
        system: str = "Au-citrate",
        n_aspect_nodes: int = 21,
        **kw,
    ) -> None:
        if not (1.0 <= aspect_ratio_final <= 8.0 and 0 <= aspect_ratio_sd_rel <= 0.3):
            raise ValueError(
                "expected 1 <= aspect_ratio_final <= 8, 0 <= aspect_ratio_sd_rel <= 0.3"
            )
        if not (0.0 <= rod_fraction <= 1.0 and 0 < d_seed_nm < width_final_nm <= 50.0):
            raise ValueError(
                "expected 0 <= rod_fraction <= 1, 0 < d_seed_nm < width_final_nm <= 50"
            )
        self.aspect_ratio_final = float(aspect_ratio_final)
        self.aspect_ratio_sd_rel = float(aspect_ratio_sd_rel)
        self.rod_fraction = float(rod_fraction)
        self.width_final_nm = float(width_final_nm)
        self.d_seed_nm = float(d_seed_nm)
        self.gsd_spheres = float(gsd_spheres)
        self.system = system
        # normal nodes of the aspect-ratio spread (+-3.5 sd, weights from the density)
        self._z = np.linspace(-3.5, 3.5, int(n_aspect_nodes))
        wz = np.exp(-0.5 * self._z**2)
        self._wz = wz / wz.sum()
        d_eq = self.width_final_nm * self.aspect_ratio_final ** (1.0 / 3.0)
        kw.setdefault("d_final_nm", d_eq)
        kw.setdefault("d_nucleus_nm", self.d_seed_nm)
        kw.setdefault("gsd_nucleation", self.gsd_spheres)
        kw.setdefault("gsd_final", self.gsd_spheres)
        kw.setdefault("T_degC", 30.0)
        kw.setdefault("induction_s", 60.0)
        kw.setdefault("k1_per_s", 5.0e-4)
        kw.setdefault("k2_per_s", 3.0e-3)
        kw.setdefault("HAuCl4_mM", 0.1)
        kw.setdefault("run_id", f"sim-au-rods-s{seed}")
        super().__init__(seed, *args, **kw)

    def recipe(self) -> dict[str, float]:
        """The recipe parameters of the RunStart."""
        return {
            "HAuCl4_mM": self.HAuCl4_mM,
            "T_degC": self.T_degC,
            "d_seed_nm": self.d_seed_nm,
            "aspect_ratio_target": self.aspect_ratio_final,
            "width_target_nm": self.width_final_nm,
        }

    def _kinetics(self) -> dict[str, np.ndarray]:
        st = super()._kinetics()  # Finke-Watzky conversion; sizes recomputed for seeds
        conv = st["conversion"]
        v_seed = np.pi / 6.0 * self.d_seed_nm**3
        v_final = np.pi / 6.0 * self.width_final_nm**3 * self.aspect_ratio_final
        v_total_nm3 = self.metal_volume_cm3_per_ml(self.precursor_mM) / _NM3_TO_CM3
        n = v_total_nm3 / (v_final - v_seed)  # seeds' own gold is not counted in the precursor
        v = v_seed + conv * (v_final - v_seed)
        r_mean = 1.0 + (self.aspect_ratio_final - 1.0) * conv
        phase = np.where(conv <= 0, 0, np.where(st["phase"] == 3, 3, 2)).astype(np.int8)
        st.update(
            number_per_ml=np.full(conv.size, n),
            d_mean_nm=np.cbrt(6.0 * v / np.pi),
            gsd=np.full(conv.size, self.gsd_spheres),
            phase=phase,
            aspect_ratio_mean=r_mean,
            rod_width_nm=np.cbrt(6.0 * v / (np.pi * r_mean)),
        )
        return st

    def _extra_truth(self) -> dict[str, np.ndarray]:
        st = self._state
        r = st["aspect_ratio_mean"]
        return {
            "aspect_ratio_mean": r,
            "aspect_ratio_sd": r * self.aspect_ratio_sd_rel,
            "rod_fraction": np.full(r.size, self.rod_fraction),
            "rod_width_nm": st["rod_width_nm"],
        }

    def _clean_rows(self, k0: int, k1: int) -> np.ndarray:
        st = self._state
        idx = np.arange(k0, k1)
        n = st["number_per_ml"][idx]
        scale = _NM2_TO_CM2 * self.path_length_cm / _LN10
        spheres = _absorbance(
            self._kernel,
            n * (1.0 - self.rod_fraction),
            st["d_mean_nm"][idx],
            st["gsd"][idx],
            self.path_length_cm,
        )
        wl = self.wavelengths_nm
        w = st["rod_width_nm"][idx]
        eps = dielectric_function(self.metal, wl, w)  # (n_wl, n), size-corrected at the width
        sigma = np.zeros_like(spheres)
        for z, wz in zip(self._z, self._wz, strict=True):
            r = np.maximum(st["aspect_ratio_mean"][idx] * (1.0 + self.aspect_ratio_sd_rel * z), 1.0)
            vol = np.pi / 6.0 * w**3 * r
            lo, tr = gans_cross_sections_from_eps(eps, wl[:, None], r, vol, self.n_medium)
            sigma += wz * (lo + tr)
        rods = sigma * (n * self.rod_fraction * scale)[None, :]
        return (spheres + rods).T


class GoldAggregatingSimulator(_ScenarioSimulator):
    """Citrate gold run in which part of the particles aggregates after ``onset_s``.

    Extra keyword arguments (see module doc): ``onset_s`` (default half the run),
    ``aggregated_fraction_max`` (0.6), ``aggregation_tau_s`` (900), ``cluster_d_start_nm``
    (60), ``cluster_d_final_nm`` (120), ``cluster_gsd`` (1.3), ``cluster_tau_s`` (1200). The
    onset and the two time constants are jittered per seed (onset +-5 % of the run, times by a
    lognormal factor of relative width 0.2) from their own seeded stream; the values used are
    in ``aggregation_``. The other arguments are those of :class:`GoldCitrateSimulator`.
    """

    scenario = "gold-aggregating"

    def __init__(
        self,
        seed: int = 0,
        *args,
        onset_s: float | None = None,
        aggregated_fraction_max: float = 0.6,
        aggregation_tau_s: float = 900.0,
        cluster_d_start_nm: float = 60.0,
        cluster_d_final_nm: float = 120.0,
        cluster_gsd: float = 1.3,
        cluster_tau_s: float = 1200.0,
        **kw,
    ) -> None:
        if not (0.0 <= aggregated_fraction_max <= 1.0 and aggregation_tau_s > 0):
            raise ValueError("expected 0 <= aggregated_fraction_max <= 1, aggregation_tau_s > 0")
        if not (0 < cluster_d_start_nm <= cluster_d_final_nm <= 150.0 and cluster_tau_s > 0):
            raise ValueError("expected 0 < cluster_d_start_nm <= cluster_d_final_nm <= 150 nm")
        if not (1.0 <= cluster_gsd <= 1.5):
            raise ValueError("expected 1 <= cluster_gsd <= 1.5")
        self.onset_s = onset_s
        self.aggregated_fraction_max = float(aggregated_fraction_max)
        self.aggregation_tau_s = float(aggregation_tau_s)
        self.cluster_d_start_nm = float(cluster_d_start_nm)
        self.cluster_d_final_nm = float(cluster_d_final_nm)
        self.cluster_gsd = float(cluster_gsd)
        self.cluster_tau_s = float(cluster_tau_s)
        kw.setdefault("run_id", f"sim-au-aggregating-s{seed}")
        super().__init__(seed, *args, **kw)

    def _kinetics(self) -> dict[str, np.ndarray]:
        st = super()._kinetics()
        ss = np.random.SeedSequence(self.seed).spawn(5)[4]  # 0-3 are the base streams
        rng = np.random.Generator(np.random.PCG64(ss))
        u = rng.standard_normal(3)
        t_on = 0.5 * self.duration_s if self.onset_s is None else float(self.onset_s)
        t_on = t_on + 0.05 * self.duration_s * float(np.clip(u[0], -2.0, 2.0))
        tau = self.aggregation_tau_s * math.exp(0.2 * u[1])
        tau_c = self.cluster_tau_s * math.exp(0.2 * u[2])
        self.aggregation_ = {"onset_s": t_on, "aggregation_tau_s": tau, "cluster_tau_s": tau_c}
        dt = np.maximum(st["t_s"] - t_on, 0.0)
        frac = self.aggregated_fraction_max * -np.expm1(-dt / tau)
        frac[st["number_per_ml"] <= 0] = 0.0
        d_c = self.cluster_d_final_nm - (self.cluster_d_final_nm - self.cluster_d_start_nm) * (
            np.exp(-dt / tau_c)
        )
        d_c[frac <= 0] = np.nan
        st.update(aggregated_fraction=frac, cluster_d_mean_nm=d_c)
        return st

    def _extra_truth(self) -> dict[str, np.ndarray]:
        st = self._state
        f = st["aggregated_fraction"]
        return {
            "aggregated_fraction": f,
            "aggregated": f > AGGREGATED_THRESHOLD,
            "cluster_d_mean_nm": st["cluster_d_mean_nm"],
        }

    def _clean_rows(self, k0: int, k1: int) -> np.ndarray:
        st = self._state
        free = super()._clean_rows(k0, k1)  # all primaries as if free
        f = st["aggregated_fraction"][k0:k1]
        have = np.flatnonzero(f > 0)
        if have.size == 0:
            return free
        idx = k0 + have
        free[have] *= (1.0 - f[have])[:, None]
        v_metal_nm3 = self.metal_volume_cm3_per_ml(st["au0_mM"][idx]) / _NM3_TO_CM3
        d_cl = st["cluster_d_mean_nm"][idx]
        n_cl = f[have] * v_metal_nm3 / (np.pi / 6.0 * _third_moment_nm3(d_cl, self.cluster_gsd))
        w = self._kernel.weights(d_cl, np.full(d_cl.size, self.cluster_gsd))
        w /= np.maximum(w.sum(axis=0, keepdims=True), 1e-300)  # the tail beyond the grid
        sigma = self._kernel.sigma_ext_nm2 @ w
        scale = _NM2_TO_CM2 * self.path_length_cm / _LN10
        free[have] += (sigma * (n_cl * scale)[None, :]).T
        return free


#: scenario name -> simulator class, for :func:`simulate`
SCENARIOS: dict[str, type[GoldCitrateSimulator]] = {
    "gold": GoldCitrateSimulator,
    "silver": SilverCitrateSimulator,
    "gold-rods": GoldRodsSimulator,
    "gold-aggregating": GoldAggregatingSimulator,
}


def simulate(scenario: str, seed: int = 0, **kw) -> GoldCitrateSimulator:
    """The simulator of ``scenario`` (one of :data:`SCENARIOS`) for ``seed``.

    Keyword arguments go to the simulator's constructor. The same scenario, seed and arguments
    give byte-identical encoded messages; spectra are generated lazily by :meth:`messages`.
    """
    try:
        cls = SCENARIOS[scenario]
    except KeyError:
        raise ValueError(
            f"scenario: expected one of {tuple(SCENARIOS)}, got {scenario!r}"
        ) from None
    return cls(seed=seed, **kw)
