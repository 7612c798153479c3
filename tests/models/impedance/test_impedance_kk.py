"""Lin-KK: valid spectra pass at the noise level, non-stationary ones do not."""

from __future__ import annotations

import numpy as np
import pytest

from synthwatch.models.impedance.kk import lin_kk

F = np.logspace(0, 6, 60)
W = 2 * np.pi * F


def randles(r_s=4000.0, r_ct=2e4, q=5e-8, a=0.9):
    return r_s + r_ct / (1 + r_ct * q * (1j * W) ** a)


def test_noise_free_valid_spectrum_fits_exactly():
    assert lin_kk(F, randles()).max_residual < 1e-3


def test_noisy_valid_spectrum_residuals_are_the_noise():
    rng = np.random.default_rng(1)
    z = randles()
    z = z + 0.01 * np.abs(z) * (rng.standard_normal(60) + 1j * rng.standard_normal(60))
    res = lin_kk(F, z)
    assert 0.005 < res.rms_residual < 0.015
    assert res.max_residual < 0.05


def test_drift_during_the_sweep_is_caught():
    z = randles()
    z[:25] = randles(r_s=8000.0, r_ct=4e4, q=2.5e-8)[:25]  # a bubble settled mid-sweep
    assert lin_kk(F, z).max_residual > 0.1


def test_a_spike_is_caught():
    z = randles()
    z[30] *= 2.0
    assert lin_kk(F, z).max_residual > 0.1


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="same length"):
        lin_kk(F[:10], randles()[:9])
