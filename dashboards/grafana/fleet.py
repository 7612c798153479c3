"""The fleet overview: every run with data in the time range, its status and last estimates,
and the alerts firing anywhere.

The runs table joins, by ``run_id``, the last size (lognormal fit), SPR position, conversion,
conductivity and the pipeline-health point the worker writes at RunStop: a run with that point
shows "stopped", the others "running". Each run links to the per-run dashboard.

>>> d = build(Flavour.FLUX).build()
>>> d.uid, [p.title for p in d.panels][:2]
('synthwatch-fleet', ['Runs: status and last estimates', 'Firing alerts'])
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models import dashboard as dm

from synthwatch.dashboards.grafana.panels import table_panel, time_series
from synthwatch.dashboards.grafana.run import UID as RUN_UID
from synthwatch.dashboards.queries import alert_queries as aq
from synthwatch.dashboards.queries import panel_queries as q
from synthwatch.dashboards.queries.layout import DEFAULT_BUCKET, Flavour

UID = "synthwatch-fleet"
TITLE = "synthwatch: fleet"
TAGS = ["synthwatch"]


def _status_override(panel) -> None:
    """``processed_count`` (present only after RunStop) shown as the run's status."""
    mappings = [
        dm.RangeMap(
            options=dm.DashboardRangeMapOptions(
                from_val=0.0,
                to=1e18,
                result=dm.ValueMappingResult(text="stopped", color="blue"),
            )
        ),
        dm.SpecialValueMap(
            options=dm.DashboardSpecialValueMapOptions(
                match=dm.SpecialValueMatch.NULL,
                result=dm.ValueMappingResult(text="running", color="green"),
            )
        ),
    ]
    panel.override_by_name(
        "processed_count",
        [
            dm.DynamicConfigValue(id_val="displayName", value="status"),
            dm.DynamicConfigValue(id_val="mappings", value=mappings),
        ],
    )
    panel.override_by_name(
        "run_id",
        [
            dm.DynamicConfigValue(
                id_val="links",
                value=[
                    {
                        "title": "Open run",
                        "url": f"/d/{RUN_UID}?var-run=${{__value.raw}}&${{__url_time_range}}",
                    }
                ],
            )
        ],
    )


def _runs_table(flavour: Flavour, bucket: str):
    targets = [
        q.last_per_run("psd", "d_mean_nm", model="psd_lognormal", bucket=bucket),
        q.last_per_run("uvvis_features", "lambda_spr_nm", model="uvvis_features", bucket=bucket),
        q.last_per_run("kinetics", "conversion", bucket=bucket),
        q.last_per_run("impedance_fit", "conductivity_s_per_m", bucket=bucket),
        q.last_per_run("pipeline_health", "processed_count", bucket=bucket),
    ]
    panel = table_panel(
        "Runs: status and last estimates",
        targets,
        flavour,
        description="Runs with estimates in the time range; 'stopped' once the worker has "
        "written the run's pipeline-health point (at RunStop).",
        height=10,
    )
    panel.with_transformation(
        dm.DataTransformerConfig(
            id_val="joinByField", options={"byField": "run_id", "mode": "outer"}
        )
    )
    _status_override(panel)
    return panel


def build(flavour: Flavour, bucket: str = DEFAULT_BUCKET) -> dashboard.Dashboard:
    """The fleet-overview dashboard builder for ``flavour``."""
    firing = table_panel(
        "Firing alerts",
        [aq.firing_alerts(bucket=bucket)],
        flavour,
        description="Engine rules whose latest state change (last 48 h) is 'firing', all runs.",
    )
    size = time_series(
        "Mean size, all runs",
        [q.series_by_run("psd", "d_mean_nm", model="psd_lognormal", bucket=bucket)],
        flavour,
        unit="suffix: nm",
    )
    conversion = time_series(
        "Conversion, all runs",
        [q.series_by_run("kinetics", "conversion", bucket=bucket)],
        flavour,
        unit="percentunit",
        min_value=0.0,
        max_value=1.0,
    )
    return (
        dashboard.Dashboard(TITLE)
        .uid(UID)
        .tags(TAGS)
        .description("All runs: status, last estimates, firing alerts.")
        .time("now-1h", "now")
        .refresh("30s")
        .timezone("utc")
        .with_panel(_runs_table(flavour, bucket))
        .with_panel(firing)
        .with_panel(size)
        .with_panel(conversion)
    )
