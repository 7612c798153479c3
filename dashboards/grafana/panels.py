"""Panel helpers shared by the dashboards: every panel gets its queries in one flavour."""

from __future__ import annotations

from grafana_foundation_sdk.builders import heatmap, stat, table, timeseries
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import heatmap as hm

from synthwatch.dashboards.queries.datasource import InfluxQueryBuilder, datasource_ref
from synthwatch.dashboards.queries.layout import Flavour
from synthwatch.dashboards.queries.text import Target

REF_IDS = "ABCDEFGHIJ"


def query(ref_id: str, target: Target, flavour: Flavour) -> InfluxQueryBuilder:
    """The target's query in ``flavour``, as a raw query of the InfluxDB data source."""
    q = (
        InfluxQueryBuilder(ref_id)
        .query(target.text(flavour))
        .raw_query()
        .result_format(target.result_format)  # type: ignore[arg-type]
    )
    if flavour is Flavour.INFLUXQL and target.result_format == "time_series":
        q.alias(target.alias)  # legend: e.g. the column alias, not "measurement.alias"
    return q


def _with_targets(panel, targets: list[Target], flavour: Flavour):
    panel.datasource(datasource_ref())
    for ref_id, target in zip(REF_IDS, targets):
        panel.with_target(query(ref_id, target, flavour))
    return panel


def band(panel: timeseries.Panel, lower: str, upper: str) -> timeseries.Panel:
    """Shade between the fields ``lower`` and ``upper`` (drawn without lines)."""
    panel.override_by_name(
        upper,
        [
            dm.DynamicConfigValue(id_val="custom.fillBelowTo", value=lower),
            dm.DynamicConfigValue(id_val="custom.lineWidth", value=0),
            dm.DynamicConfigValue(id_val="custom.fillOpacity", value=20),
        ],
    )
    panel.override_by_name(lower, [dm.DynamicConfigValue(id_val="custom.lineWidth", value=0)])
    return panel


def time_series(
    title: str,
    targets: list[Target],
    flavour: Flavour,
    *,
    unit: str,
    description: str = "",
    span: int = 12,
    min_value: float | None = None,
    max_value: float | None = None,
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .span(span)
        .height(8)
        .line_width(2)
        .show_points(common.VisibilityMode.NEVER)
        .span_nulls(True)
    )
    if min_value is not None:
        panel.min(min_value)
    if max_value is not None:
        panel.max(max_value)
    return _with_targets(panel, targets, flavour)


def size_heatmap(
    title: str, target: Target, flavour: Flavour, *, description: str = "", span: int = 12
) -> heatmap.Panel:
    """A heatmap whose rows are the target's columns (bucket = column name, in nm)."""
    panel = (
        heatmap.Panel()
        .title(title)
        .description(description)
        .span(span)
        .height(8)
        .calculate(False)
        .rows_frame(
            heatmap.RowsHeatmapOptions().layout(common.HeatmapCellLayout.AUTO).value("n(ln d)")
        )
        .y_axis(heatmap.YAxisConfig().unit("suffix: nm").axis_label("diameter"))
        .color(
            heatmap.HeatmapColorOptions()
            .mode(hm.HeatmapColorMode.SCHEME)
            .scheme("Viridis")
            .scale(hm.HeatmapColorScale.LINEAR)
            .steps(64)
        )
        .cell_gap(0)
    )
    return _with_targets(panel, [target], flavour)


def table_panel(
    title: str,
    targets: list[Target],
    flavour: Flavour,
    *,
    description: str = "",
    span: int = 24,
    height: int = 8,
) -> table.Panel:
    panel = table.Panel().title(title).description(description).span(span).height(height)
    return _with_targets(panel, targets, flavour)


def stat_panel(
    title: str,
    target: Target,
    flavour: Flavour,
    *,
    description: str = "",
    span: int = 24,
    height: int = 4,
) -> stat.Panel:
    """Big numbers: one per field of the target's (single-row) result."""
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .span(span)
        .height(height)
        .unit("short")
        .decimals(0)
        .no_value("run still going")
    )
    return _with_targets(panel, [target], flavour)
