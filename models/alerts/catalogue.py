"""What synthwatch estimates: every measurement and its quantity names, for validating rules.

Rule files and dashboards name quantities as ``"<measurement>.<quantity>"``. This catalogue is
checked against what the models really emit (tests/models/test_catalogue.py runs the simulated
scenarios through the pipeline), so a rule naming a quantity no model produces is refused at
start instead of never firing.

>>> is_known("psd.d_mean_nm"), is_known("psd.d_men_nm"), is_known("golden_batch.z_psd_gsd")
(True, False, True)
"""

from __future__ import annotations

import re

__all__ = ["MEASUREMENTS", "PATTERNS", "is_known", "known_names"]

MEASUREMENTS: dict[str, tuple[str, ...]] = {
    "uvvis_features": (
        "lambda_spr_nm", "fwhm_nm", "a_spr_au", "a_450_au", "a_400_au", "ratio_spr_450",
        "d_haiss_nm", "au0_mM", "noise_au", "lambda_long_nm", "aspect_ratio",
        "a_long_over_a_spr", "red_tail_ratio",
    ),
    "psd": (
        "d_mean_nm", "gsd", "number_per_ml", "d_volume_weighted_mean_nm", "metal0_mM",
        "chi2_red", "rel_rms_residual", "d_mode_nm",
    ),
    "impedance_fit": (
        "r_s_ohm", "r_ct_ohm", "cpe_q_s_alpha", "cpe_alpha", "conductivity_s_per_m",
        "rel_rms_residual", "kk_rel_rms_residual", "kk_max_residual", "delta_criterion",
        "circuit_index",
    ),
    "kinetics": (
        "conversion", "phase_code", "k1_per_s", "k2_per_s", "k_per_s", "avrami_n", "yield",
        "onset_s", "residual_z", "t90_s", "t90_lo_s", "t90_hi_s", "time_to_t90_s",
        "rel_rms_residual",
        "plateau_au0_mM", "plateau_metal0_mM", "plateau_conductivity_s_per_m",
        "aic_weight_finke_watzky", "aic_weight_jmak", "aic_weight_first_order",
    ),
    "calibration": (
        "n_labels", "naive_mae", "pv_abs_error", "pv_mae", "d_mean_nm_pred",
        "pv_abs_error_nm", "uncorrected_abs_error_nm", "pv_mae_nm", "uncorrected_mae_nm",
        "correction_ln",
    ),
    "psd_calibrated": (
        "d_mean_corrected_nm", "correction_ln", "correction_scatter_ln", "n_labels",
    ),
    "golden_batch": ("t2", "t2_quantities"),
    "scalar": ("temperature_degC", "rate_per_min"),
    "pipeline_health": (
        "received_count", "processed_count", "duplicates_count", "late_count",
        "deadlettered_count", "flagged_count", "model_errors_count",
    ),
}  # fmt: skip
#: names built from other names: golden-batch z-scores and contributions, scalar probes
PATTERNS: dict[str, tuple[str, ...]] = {
    "golden_batch": (r"z_[a-z0-9_]+", r"contrib_[a-z0-9_]+"),
    "scalar": (r"[A-Za-z0-9_]+",),  # <quantity>_<units> of any scalar probe's descriptor
}


def is_known(quantity: str) -> bool:
    """Whether ``"<measurement>.<name>"`` (or ``"<measurement>.*"``) is what synthwatch emits."""
    measurement, _, name = quantity.partition(".")
    if measurement not in MEASUREMENTS:
        return False
    if name == "*" or name in MEASUREMENTS[measurement]:
        return True
    return any(re.fullmatch(p, name) for p in PATTERNS.get(measurement, ()))


def known_names() -> tuple[str, ...]:
    """Every ``"<measurement>.<name>"`` of the catalogue (for "did you mean" hints)."""
    return tuple(f"{m}.{n}" for m, names in MEASUREMENTS.items() for n in names)
