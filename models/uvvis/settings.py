"""The ``[models]`` keys the UV-Vis spectrum models share (each model's own switch is next to it).

* ``n_medium``: refractive index of the medium, for the Mie kernel of the size distributions
  (:mod:`synthwatch.models.psd`) and the Gans inversion of the shape check
  (:mod:`synthwatch.models.uvvis.shape`); water at 20 °C and 589 nm is 1.333.
* ``psd_average_s``: co-add the spectra of this many seconds before the lognormal PSD and the
  shape check fit them (:mod:`synthwatch.models.uvvis.coadd`).

>>> N_MEDIUM.default, AVERAGE_S.default
(1.333, 0.0)
"""

from __future__ import annotations

from synthwatch.models.declare import setting

__all__ = ["N_MEDIUM", "AVERAGE_S"]

N_MEDIUM = setting("n_medium", 1.333, "Refractive index of the medium (water).", ge=1.0, le=2.0)
AVERAGE_S = setting(
    "psd_average_s",
    0.0,
    "Co-add the spectra of this many seconds (the sensor's expected interval sets how many) "
    "before the lognormal PSD and the shape check fit them; 0 = every spectrum.",
    ge=0,
    le=3600,
)
