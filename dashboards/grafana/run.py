"""The per-run dashboard: one synthesis, chosen with the ``run`` variable.

Rows: size (mean ± 1 sd from the lognormal fit beside the Haiss estimate, the size distribution
as a heatmap over time, its width), spectral features, kinetics (conversion, the t90 forecast
with its interval, rate constants), impedance fit parameters, and the run's firing alerts. The
engine's alert state changes are drawn as annotations on every time panel.

>>> d = build(Flavour.INFLUXQL).build()
>>> d.uid, d.templating.list_val[0].name
('synthwatch-run', 'run')
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models import dashboard as dm

from synthwatch.dashboards.grafana.panels import (
    band,
    query,
    size_heatmap,
    stat_panel,
    table_panel,
    time_series,
)
from synthwatch.dashboards.queries import alert_queries as aq
from synthwatch.dashboards.queries import panel_queries as q
from synthwatch.dashboards.queries.datasource import (
    InfluxAnnotationTargetBuilder,
    datasource_ref,
)
from synthwatch.dashboards.queries.layout import DEFAULT_BUCKET, Flavour

UID = "synthwatch-run"
TITLE = "synthwatch: run"
TAGS = ["synthwatch"]

#: A titled row of panels.
Section = tuple[str, list]


def _run_variable(flavour: Flavour, bucket: str) -> dashboard.QueryVariable:
    target = q.run_values(bucket=bucket)
    return (
        dashboard.QueryVariable("run")
        .label("Run")
        .datasource(datasource_ref())
        .query(target.text(flavour))
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_DESC)
    )


def _alert_annotations(flavour: Flavour, bucket: str) -> dashboard.AnnotationQuery:
    target = aq.alert_annotations(bucket=bucket)
    influx = query("Anno", target, flavour)
    if flavour is Flavour.INFLUXQL:
        influx.annotation_columns(text="message", tags="rule,severity,state")
    return (
        dashboard.AnnotationQuery()
        .name("Engine alerts")
        .datasource(datasource_ref())
        .enable(True)
        .icon_color("red")
        .target(InfluxAnnotationTargetBuilder(influx))
    )


def _size_row(flavour: Flavour, bucket: str) -> Section:
    lognormal = q.series("psd", ("d_mean_nm",), model="psd_lognormal", band=True, bucket=bucket)
    haiss = q.series("uvvis_features", ("d_haiss_nm",), model="uvvis_features", bucket=bucket)
    mean_size = band(
        time_series(
            "Mean size ± 1 sd",
            [lognormal, haiss],
            flavour,
            unit="suffix: nm",
            description="Number-weighted mean diameter of the lognormal fit (Mie inversion), "
            "shaded ± 1 sd, and the Haiss estimate from the SPR ratio.",
        ),
        "d_mean_nm - sd",
        "d_mean_nm + sd",
    )
    heat = size_heatmap(
        "Size distribution over time",
        q.size_distribution(bucket=bucket),
        flavour,
        description="Lognormal number density per unit ln d, from each interval's fitted "
        "d_mean_nm and gsd (models/psd/lognormal.py).",
    )
    width = time_series(
        "Distribution width (gsd)",
        [q.series("psd", ("gsd",), model="psd_lognormal", band=True, bucket=bucket)],
        flavour,
        unit="none",
        span=12,
    )
    band(width, "gsd - sd", "gsd + sd")
    concentration = time_series(
        "Particles and reduced metal",
        [q.series("psd", ("number_per_ml", "metal0_mM"), model="psd_lognormal", bucket=bucket)],
        flavour,
        unit="short",
        span=12,
    )
    return "Size", [mean_size, heat, width, concentration]


def _spectral_row(flavour: Flavour, bucket: str) -> Section:
    positions = q.series(
        "uvvis_features", ("lambda_spr_nm", "fwhm_nm"), model="uvvis_features", bucket=bucket
    )
    absorbances = q.series(
        "uvvis_features",
        ("a_spr_au", "a_450_au", "a_400_au"),
        model="uvvis_features",
        bucket=bucket,
    )
    return "Spectral features", [
        time_series("SPR position and width", [positions], flavour, unit="suffix: nm"),
        time_series("Absorbances", [absorbances], flavour, unit="suffix: AU"),
    ]


def _kinetics_row(flavour: Flavour, bucket: str) -> Section:
    conversion = time_series(
        "Conversion",
        [q.series("kinetics", ("conversion",), bucket=bucket)],
        flavour,
        unit="percentunit",
        span=8,
        min_value=0.0,
        max_value=1.0,
    )
    t90 = band(
        time_series(
            "Forecast: time to 90 % conversion",
            [q.series("kinetics", ("t90_s", "t90_s_lo", "t90_s_hi"), bucket=bucket)],
            flavour,
            unit="s",
            span=8,
            description="Forecast t90 with its interval (t90_s_lo to t90_s_hi).",
        ),
        "t90_s_lo",
        "t90_s_hi",
    )
    rates = time_series(
        "Rate constants (Finke–Watzky)",
        [q.series("kinetics", ("k1_per_s", "k2_per_s"), bucket=bucket)],
        flavour,
        unit="suffix: /s",
        span=8,
    )
    return "Kinetics", [conversion, t90, rates]


def _impedance_row(flavour: Flavour, bucket: str) -> Section:
    resistances = q.series("impedance_fit", ("r_s_ohm", "r_ct_ohm"), band=False, bucket=bucket)
    return "Impedance fit", [
        time_series("Resistances", [resistances], flavour, unit="ohm", span=8),
        time_series(
            "Constant-phase element",
            [
                q.series("impedance_fit", ("cpe_alpha",), bucket=bucket),
                q.prefixed_series("impedance_fit", "cpe_q", bucket=bucket),
            ],
            flavour,
            unit="short",
            span=8,
        ),
        time_series(
            "Conductivity",
            [q.series("impedance_fit", ("conductivity_s_per_m",), bucket=bucket)],
            flavour,
            unit="suffix: S/m",
            span=8,
        ),
    ]


def _alerts_row(flavour: Flavour, bucket: str) -> Section:
    firing = table_panel(
        "Firing alerts of this run",
        [aq.firing_alerts(per_run=True, bucket=bucket)],
        flavour,
        description="Rules of the engine whose latest state change in this run is 'firing'.",
        span=16,
    )
    counters = stat_panel(
        "Pipeline (at run stop)",
        q.run_counters(
            ("received_count", "processed_count", "late_count", "deadlettered_count"),
            bucket=bucket,
        ),
        flavour,
        description="The worker's counters for this run: readings received and processed, "
        "late ones, and those sent to the dead-letter topic with their reason.",
        span=8,
        height=8,
    )
    return "Alerts and pipeline", [firing, counters]


def build(flavour: Flavour, bucket: str = DEFAULT_BUCKET) -> dashboard.Dashboard:
    """The per-run dashboard builder for ``flavour``."""
    dash = (
        dashboard.Dashboard(TITLE)
        .uid(UID)
        .tags(TAGS)
        .description("One synthesis: size, distribution, spectra, kinetics, impedance, alerts.")
        .time("now-6h", "now")
        .refresh("30s")
        .timezone("utc")
        .with_variable(_run_variable(flavour, bucket))
        .annotation(_alert_annotations(flavour, bucket))
    )
    for section in (_size_row, _spectral_row, _kinetics_row, _impedance_row, _alerts_row):
        title, panels = section(flavour, bucket)
        dash.with_row(dashboard.Row(title).collapsed(False))  # expanded: panels follow it
        for panel in panels:
            dash.with_panel(panel)
    return dash
