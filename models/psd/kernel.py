"""The extinction kernel the size-distribution estimators invert, as plain data.

``sigma_ext_nm2[i, j]`` is the extinction cross-section (nm²) at ``wavelengths_nm[i]`` of one
sphere of diameter ``diameters_nm[j]`` in a medium of index ``n_medium``, computed by Mie theory
(Bohren & Huffman, Absorption and Scattering of Light by Small Particles, Wiley 1983, ch. 4) from
the Johnson & Christy (1972) constants with the size-dependent damping of the free-electron part
(Kreibig & Vollmer, Optical Properties of Metal Clusters, Springer 1995, sec. 2.2).

Models are pure, so they do not compute it: the worker builds it once per sensor descriptor with
:mod:`synthwatch.collectors.sim.optics` (which caches it on disk keyed by its inputs) and hands it
to
the models as this dataclass. Tests and benchmarks do the same.

The absorbance of a number concentration ``N`` (per mL) of particles with number fractions ``w``
on the grid, in a cell of path ``L`` (cm), is ``A = N · L · (σ @ w) · 1e-14 / ln 10`` (σ in nm²,
1 nm² = 1e-14 cm²): :meth:`PSDKernel.absorbance`.

>>> import numpy as np
>>> k = PSDKernel(metal="Au", n_medium=1.333, path_length_cm=1.0,
...               wavelengths_nm=np.array([400.0, 520.0]), diameters_nm=np.array([10.0, 20.0]),
...               sigma_ext_nm2=np.array([[100.0, 800.0], [200.0, 1600.0]]))
>>> k.absorbance(np.array([1.0, 0.0]), number_per_ml=1e12).round(4)
array([0.4343, 0.8686])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from synthwatch.contract.messages import Estimate, Reading
from synthwatch.models.base import Model, build_estimate

NM2_TO_CM2 = 1e-14
LN10 = math.log(10.0)


@dataclass(frozen=True, eq=False)
class KernelMember:
    """One member of an ensemble of kernels: the cross-sections (nm², same axes as the kernel)
    computed from one published set of optical constants with one surface-damping constant A.

    ``name`` is ``"<set>/A=<A>"`` (e.g. ``"McPeak/A=1.0"``); ``sigma_ext_nm2`` is NaN at the
    wavelengths outside the set's tabulated range.
    """

    name: str
    sigma_ext_nm2: np.ndarray

    @property
    def constants(self) -> str:
        """The name of the set of optical constants (the part of ``name`` before ``/``)."""
        return self.name.split("/", 1)[0]


@dataclass(frozen=True, eq=False)
class PSDKernel:
    """Extinction cross-sections of spheres on a wavelength axis and a diameter grid.

    ``sigma_ext_nm2`` is the reference kernel (Johnson & Christy with A = 1). ``members``, when
    given, is an ensemble of kernels from other published optical constants and damping
    constants, on the same axes, for the models that carry the model error.
    """

    metal: str
    n_medium: float
    path_length_cm: float
    wavelengths_nm: np.ndarray
    diameters_nm: np.ndarray
    sigma_ext_nm2: np.ndarray
    members: tuple[KernelMember, ...] = ()
    _ln_d: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        wl = np.asarray(self.wavelengths_nm, dtype=float)
        d = np.asarray(self.diameters_nm, dtype=float)
        sigma = np.asarray(self.sigma_ext_nm2, dtype=float)
        if wl.ndim != 1 or d.ndim != 1 or sigma.shape != (wl.size, d.size):
            raise ValueError(
                f"sigma_ext_nm2: expected shape (n_wavelengths, n_diameters) = "
                f"({wl.size}, {d.size}), got {sigma.shape}"
            )
        if np.any(np.diff(d) <= 0) or d[0] <= 0:
            raise ValueError("diameters_nm: expected positive, strictly increasing values")
        if not self.path_length_cm > 0:
            raise ValueError(f"path_length_cm: expected > 0, got {self.path_length_cm}")
        for name, arr in (("wavelengths_nm", wl), ("diameters_nm", d), ("sigma_ext_nm2", sigma)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        members = tuple(self.members)
        for m in members:
            if not isinstance(m, KernelMember) or m.sigma_ext_nm2.shape != sigma.shape:
                raise ValueError(
                    f"members: expected KernelMembers of shape {sigma.shape}, got "
                    f"{getattr(getattr(m, 'sigma_ext_nm2', None), 'shape', type(m).__name__)}"
                )
            m.sigma_ext_nm2.setflags(write=False)
        object.__setattr__(self, "members", members)
        object.__setattr__(self, "_ln_d", np.log(d))

    @property
    def ln_d(self) -> np.ndarray:
        """ln of the diameter grid (nm)."""
        return self._ln_d

    @property
    def particle_volume_nm3(self) -> np.ndarray:
        """Volume of one sphere of each grid diameter, nm³."""
        return math.pi / 6.0 * self.diameters_nm**3

    def absorbance(self, weights: np.ndarray, number_per_ml: float) -> np.ndarray:
        """Decadic absorbance of ``number_per_ml`` particles with number fractions ``weights``."""
        scale = number_per_ml * self.path_length_cm * NM2_TO_CM2 / LN10
        return scale * (self.sigma_ext_nm2 @ np.asarray(weights, dtype=float))

    def restricted(self, lo_nm: float, hi_nm: float) -> PSDKernel:
        """The same kernel on the wavelengths within [lo_nm, hi_nm] (a fit window)."""
        sel = (self.wavelengths_nm >= lo_nm) & (self.wavelengths_nm <= hi_nm)
        if sel.sum() < 3:
            raise ValueError(f"window {lo_nm}-{hi_nm} nm holds fewer than 3 kernel wavelengths")
        return PSDKernel(
            metal=self.metal,
            n_medium=self.n_medium,
            path_length_cm=self.path_length_cm,
            wavelengths_nm=self.wavelengths_nm[sel],
            diameters_nm=self.diameters_nm,
            sigma_ext_nm2=self.sigma_ext_nm2[sel],
            members=tuple(KernelMember(m.name, m.sigma_ext_nm2[sel]) for m in self.members),
        )


def flagged(flags: list[str]) -> dict[str, Any]:
    """The result of a size-distribution model's reading that has only ``flags``, no fit."""
    return {"flags": flags}


def red_excess(resid: np.ndarray, peak: float, noise: float) -> bool:
    """Whether the residuals of a fit of spheres leave a positive mean over the red third of the
    fit window above 2 % of the ``peak`` absorbance and 5 standard errors of the ``noise``, as
    aggregates or rods give (one of the tests of the ``unexplained`` flag).

    >>> red_excess(np.array([0.0, 0.0, 0.0, 0.05, 0.05, 0.05]), 1.0, 0.001)
    True
    """
    red = resid[-max(resid.size // 3, 1) :]
    red_mean = float(red.mean())
    return red_mean > 0.02 * peak and red_mean > 5.0 * noise / math.sqrt(red.size)


def psd_estimate(
    reading: Reading,
    model: Model,
    res: dict[str, Any],
    units: dict[str, str],
    d_nm: np.ndarray,
    number_per_ml: np.ndarray | None,
    uncertainties: np.ndarray | None = None,
) -> Estimate:
    """The ``psd`` estimate of a size-distribution model: its quantities (``res["values"]``,
    name → (value, sd) or (value, sd, extras): see :func:`~synthwatch.models.base.build_estimate`)
    and, when given, the number of particles per mL in each diameter bin."""
    values = res.get("values", {})
    quantities = []
    for name, unit in units.items():
        v, u, *extras = values.get(name, (None, None))
        quantities.append((name, v, unit, u, *extras))
    distribution = None
    if number_per_ml is not None:
        distribution = {
            "quantity": "number_per_ml",
            "units": "mL^-1",
            "axis_name": "d_nm",
            "axis_units": "nm",
            "axis": np.asarray(d_nm).tolist(),
            "values": np.asarray(number_per_ml).tolist(),
            "uncertainties": None if uncertainties is None else np.asarray(uncertainties).tolist(),
        }
    return build_estimate(
        reading,
        model,
        "psd",
        quantities,
        res["flags"],
        distribution=distribution,
    )
