"""kernel_for with its ensemble of members (issue 19): names, axes, exclude, the reference alone."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from synthwatch.collectors.sim.optics import ensemble_kernel
from synthwatch.contract.messages import Descriptor
from synthwatch.stream.runtime.kernels import D_MAX_NM, D_MIN_NM, kernel_for

WL = np.arange(400.0, 801.0, 10.0)


def descriptor(axis=WL) -> Descriptor:
    return Descriptor(
        run_id="r1",
        t=datetime(2026, 1, 1, tzinfo=timezone.utc),
        sensor_id="uv1",
        kind="uvvis",
        axis=list(axis),
        axis_units="nm",
        value_units="AU",
        path_length_cm=1.0,
    )


def test_ensemble_false_is_todays_kernel_without_members():
    k = kernel_for(descriptor(), "Au-citrate", ensemble=False)
    ref = ensemble_kernel("Au", WL, 1.333, d_min_nm=D_MIN_NM, d_max_nm=D_MAX_NM)
    assert k.members == ()
    np.testing.assert_array_equal(k.sigma_ext_nm2, ref.sigma_ext_nm2)
    np.testing.assert_array_equal(k.diameters_nm, ref.diameters_nm)


# gold: 6 sets x 3 A, less Werner's (kept out of the ensemble: see collectors/sim/constants.py)
@pytest.mark.parametrize(("system", "count"), [("Au-citrate", 15), ("Ag-citrate", 15)])
def test_the_default_kernel_carries_every_member_on_its_axes(system, count):
    k = kernel_for(descriptor(), system)
    assert len(k.members) == count
    assert k.members[1].name == "Johnson/A=1.0" and k.members[1].constants == "Johnson"
    for m in k.members:
        assert m.sigma_ext_nm2.shape == k.sigma_ext_nm2.shape
        assert np.all(np.isfinite(m.sigma_ext_nm2))  # 400-800 nm: inside every set
    johnson = k.members[1].sigma_ext_nm2
    np.testing.assert_allclose(johnson, k.sigma_ext_nm2, rtol=1e-3)
    # the reference is unchanged by the ensemble
    np.testing.assert_array_equal(
        k.sigma_ext_nm2, kernel_for(descriptor(), system, ensemble=False).sigma_ext_nm2
    )


def test_exclude_and_ensemble_are_part_of_the_cache_key():
    full = kernel_for(descriptor(), "Au-citrate")
    assert kernel_for(descriptor(), "Au-citrate") is full
    # Werner's set is never in the ensemble: excluding it names the same kernel
    assert not any(m.constants == "Werner" for m in full.members) and len(full.members) == 15
    assert kernel_for(descriptor(), "Au-citrate", exclude=("Werner",)) is full
    without = kernel_for(descriptor(), "Au-citrate", exclude=("Babar",))
    assert without is not full and len(without.members) == 12
    assert kernel_for(descriptor(), "Au-citrate", exclude=["Babar"]) is without
    assert kernel_for(descriptor(), "Au-citrate", exclude="Babar") is without
    two = kernel_for(descriptor(), "Au-citrate", exclude=("McPeak", "Babar"))
    assert len(two.members) == 9
    assert kernel_for(descriptor(), "Au-citrate", exclude=("Babar", "McPeak")) is two
    assert kernel_for(descriptor(), "Au-citrate", ensemble=False).members == ()


def test_an_unknown_set_in_exclude_is_refused():
    with pytest.raises(ValueError, match="exclude: no set 'Yang' for Au"):
        kernel_for(descriptor(), "Au-citrate", exclude=("Yang",))


def test_members_are_nan_outside_their_sets_and_restricted_with_the_kernel():
    axis = np.arange(250.0, 901.0, 10.0)
    k = kernel_for(descriptor(axis), "Au-citrate")
    mcpeak = next(m for m in k.members if m.name == "McPeak/A=1.0")
    below = axis < 300.0
    assert np.isnan(mcpeak.sigma_ext_nm2[below]).all()
    assert np.isfinite(mcpeak.sigma_ext_nm2[~below]).all()
    assert np.isfinite(k.members[1].sigma_ext_nm2).all()  # Johnson & Christy reach 188 nm
    window = k.restricted(450.0, 650.0)
    assert len(window.members) == 15 and all(
        np.isfinite(m.sigma_ext_nm2).all() for m in window.members
    )
