"""What the InfluxDB sink writes, as the dashboards and alert rules read it.

One place names every measurement, tag and field that a query may reference, so a test can check
that no panel or rule asks for a series the sink never writes. Fields carry units in their names
(``d_mean_nm``, ``k2_per_s``); an estimate's uncertainty is the field ``<name>_sd``. The alerts
measurement has the tags ``rule``, ``severity`` and ``state`` and a ``message`` string field.

>>> MEASUREMENTS["psd"].has_field("d_mean_nm_sd"), MEASUREMENTS["psd"].has_field("d_nm")
(True, False)
>>> MEASUREMENTS["impedance_fit"].has_field("cpe_q_s_per_ohm")  # a prefix family
True
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from synthwatch.contract.messages import HEALTH_COUNTERS

#: Tags on every estimate point.
TAGS = ("run_id", "reactor", "sensor_id", "model", "model_version")
#: Extra tags of the alerts measurement.
ALERT_TAGS = ("rule", "severity", "state")

#: The InfluxDB data source the dashboards and rules point at (provisioned with this uid).
DATASOURCE_UID = "synthwatch-influxdb"
DATASOURCE_TYPE = "influxdb"
#: Default database (InfluxQL) or bucket (Flux).
DEFAULT_BUCKET = "synthwatch"
#: The compose stack's InfluxDB, as Grafana sees it.
DEFAULT_INFLUX_URL = "http://influxdb:8086"


class Flavour(enum.StrEnum):
    """Query language of the InfluxDB data source."""

    INFLUXQL = "influxql"  # InfluxDB 1.x (and 2.x through its v1 compatibility API)
    FLUX = "flux"  # InfluxDB 2.x


@dataclass(frozen=True)
class Measurement:
    """A measurement: its numeric fields, field-name prefixes, and string fields."""

    name: str
    fields: tuple[str, ...]
    prefixes: tuple[str, ...] = ()
    string_fields: tuple[str, ...] = ()
    with_sd: bool = True
    extra_tags: tuple[str, ...] = field(default=())

    def has_field(self, name: str) -> bool:
        """True if the sink writes ``name`` here (a field, its ``_sd``, or a prefix family)."""
        base = name.removesuffix("_sd") if self.with_sd else name
        return (
            name in self.fields
            or name in self.string_fields
            or base in self.fields
            or any(name.startswith(p) for p in self.prefixes)
        )

    @property
    def tags(self) -> tuple[str, ...]:
        return TAGS + self.extra_tags


_M = (
    Measurement(
        "uvvis_features",
        (
            # models/uvvis/features.py
            "lambda_spr_nm",
            "fwhm_nm",
            "a_spr_au",
            "a_450_au",
            "a_400_au",
            "ratio_spr_450",
            "d_haiss_nm",
            "noise_au",
            # models/uvvis/shape.py (model uvvis_shape, same measurement)
            "lambda_long_nm",
            "aspect_ratio",
            "a_long_over_a_spr",
            "red_tail_ratio",
        ),
    ),
    Measurement(
        "psd",
        (
            "d_mean_nm",
            "gsd",
            "number_per_ml",
            "d_volume_weighted_mean_nm",
            "metal0_mM",
            "chi2_red",
            "rel_rms_residual",
            "d_mode_nm",
        ),
    ),
    Measurement(
        "impedance_fit",
        ("r_s_ohm", "r_ct_ohm", "cpe_alpha", "conductivity_s_per_m"),
        prefixes=("cpe_q",),  # the CPE magnitude, units in the name (issue 4)
    ),
    Measurement(
        "kinetics", ("conversion", "t90_s", "t90_s_lo", "t90_s_hi", "k1_per_s", "k2_per_s")
    ),
    Measurement("calibration", ()),
    Measurement("psd_calibrated", ("d_mean_corrected_nm", "correction_ln")),
    Measurement("alerts", (), string_fields=("message",), with_sd=False, extra_tags=ALERT_TAGS),
    Measurement(
        "pipeline_health",
        tuple(f"{n}_count" for n in HEALTH_COUNTERS),
        with_sd=False,
    ),
)

#: Every measurement by name.
MEASUREMENTS: dict[str, Measurement] = {m.name: m for m in _M}
