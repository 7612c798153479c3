"""Builds the extinction kernel each UV-Vis sensor's size-distribution models invert.

Models are pure, so the worker makes their kernel: once per (metal, wavelength axis, medium,
path length), from the simulator's optics (:mod:`synthwatch.collectors.sim.optics`: Johnson &
Christy constants with size-dependent damping, Mie theory by miepython, cached on disk keyed
by a hash of its inputs, so a second start does not recompute it), held in memory for every run
that shares the axis.

With ``ensemble=True`` (the default) the kernel also carries its ensemble of members (issue 19):
one kernel per published set of optical constants of the metal
(:mod:`synthwatch.collectors.sim.constants`) and surface-damping constant A, on the same axes
(:func:`synthwatch.collectors.sim.optics.member_kernels`; about 2 s cold for gold's 15, then
from the disk cache). Sets the catalogue keeps out of the ensemble (``in_ensemble=False``:
Werner's gold) are always left out.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from synthwatch.collectors.sim.constants import sets
from synthwatch.collectors.sim.optics import (
    dielectric_function,
    ensemble_kernel,
    member_kernels,
    wavelength_range_nm,
)
from synthwatch.contract.messages import Descriptor
from synthwatch.models.psd.kernel import KernelMember, PSDKernel

#: Metal of the particles of each chemistry system with a plasmon band.
METAL_OF_SYSTEM = {"Au-citrate": "Au", "Ag-citrate": "Ag"}
#: Diameter grid of the estimators, nm (issue 3: 2-150 nm).
D_MIN_NM, D_MAX_NM = 2.0, 150.0
WATER_INDEX = 1.333


def kernel_for(
    descriptor: Descriptor,
    system: str,
    n_medium: float = WATER_INDEX,
    *,
    ensemble: bool = True,
    exclude: tuple[str, ...] = (),
) -> PSDKernel:
    """The kernel for a UV-Vis sensor in a run of ``system``; ValueError if it has no metal.

    ``ensemble=True`` adds the ``members`` (one per set of optical constants and damping
    constant A, names ``"<set>/A=<A>"``), leaving out the sets named in ``exclude`` (all their
    A; ValueError for a name the metal has no set of); ``ensemble=False`` gives the reference
    kernel alone, with no members.
    """
    if descriptor.kind != "uvvis":
        raise ValueError(f"sensor {descriptor.sensor_id!r} is {descriptor.kind}, not uvvis")
    metal = METAL_OF_SYSTEM.get(system)
    if metal is None:
        raise ValueError(
            f"system {system!r}: no plasmonic metal known; expected one of "
            f"{', '.join(METAL_OF_SYSTEM)}"
        )
    if isinstance(exclude, str):
        exclude = (exclude,)
    # sets the catalogue keeps out of the ensemble (their note says why) are always left out
    exclude = (*exclude, *(c.name for c in sets(metal) if not c.in_ensemble))
    return _kernel(
        metal,
        tuple(descriptor.axis),
        n_medium,
        float(descriptor.path_length_cm),
        bool(ensemble),
        tuple(sorted(set(exclude))) if ensemble else (),
    )


@lru_cache(maxsize=16)
def _kernel(
    metal: str,
    axis: tuple[float, ...],
    n_medium: float,
    path_cm: float,
    ensemble: bool = False,
    exclude: tuple[str, ...] = (),
) -> PSDKernel:
    wl = np.asarray(axis)
    ens = ensemble_kernel(metal, wl, n_medium, d_min_nm=D_MIN_NM, d_max_nm=D_MAX_NM)
    members: tuple[KernelMember, ...] = ()
    if ensemble:
        members = tuple(
            KernelMember(name, sigma)
            for name, sigma in member_kernels(
                metal, wl, n_medium, d_min_nm=D_MIN_NM, d_max_nm=D_MAX_NM, exclude=exclude
            )
        )
    return PSDKernel(
        metal=metal,
        n_medium=n_medium,
        path_length_cm=path_cm,
        wavelengths_nm=ens.wavelengths_nm,
        diameters_nm=ens.diameters_nm,
        sigma_ext_nm2=ens.sigma_ext_nm2,
        members=members,
    )


def dielectric_for(
    system: str, axis: list[float] | tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bulk dielectric function (wavelengths_nm, ε1, ε2) of the run's metal on a sensor axis.

    Clipped to the wavelength range of the optical constants; for the rod model's Gans
    inversion (:mod:`synthwatch.models.uvvis.shape`).
    """
    metal = METAL_OF_SYSTEM.get(system)
    if metal is None:
        raise ValueError(f"system {system!r}: no plasmonic metal known")
    lo, hi = wavelength_range_nm(metal)
    wl = np.asarray([a for a in axis if lo <= a <= hi], dtype=float)
    if wl.size < 8:
        raise ValueError(f"axis: fewer than 8 wavelengths inside {lo:.0f}-{hi:.0f} nm")
    eps = dielectric_function(metal, wl)
    return wl, eps.real.copy(), eps.imag.copy()
