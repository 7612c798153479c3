"""A run's report: one self-contained HTML file with interactive plotly plots (no CDN, no server).

:func:`render_report` takes a :class:`ReportData` -- plain dataclasses and numpy arrays, built
from the store by ``synthwatch report`` (:mod:`synthwatch.stream.cli.report`) -- and returns the
HTML text: plotly.js is inlined once, each figure is a ``<div>`` drawn by it, so the file opens
anywhere, offline, years later. Sections (each only when the run has the data):

1. run metadata (system, reactor, recipe, sensors, status, model versions);
2. spectra over time (heatmap of absorbance against time and wavelength, and a few spectra);
3. size distribution over time (heatmap of the stored distributions) and mean sizes;
4. kinetics: the fitted conversion and the t90 forecast with its 95 % interval over time;
5. impedance parameters (equivalent-circuit fit) over time;
6. alerts on a timeline (firing and resolved, per rule).

Times are hours since the run's start.

>>> import numpy as np
>>> data = ReportData(run_id="r1", title="run r1", metadata=[("system", "Au-citrate")],
...     series=[SeriesPanel("Sizes", [Series("d_mean_nm", "nm", np.arange(3.0),
...     np.array([5.0, 8.0, 10.0]))])])
>>> html = render_report(data)
>>> import re
>>> external = bool(re.search("<script[^>]*src=", html))
>>> html.startswith("<!DOCTYPE html>"), external, html.count('id="fig')
(True, False, 1)
"""

from __future__ import annotations

import html as _html
from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

__all__ = ["Series", "SeriesPanel", "Heatmap", "AlertMark", "ReportData", "render_report"]

_SEVERITY_COLOUR = {"info": "#1f77b4", "warning": "#ff7f0e", "critical": "#d62728"}


@dataclass(frozen=True)
class Series:
    """One quantity over time: ``t_h`` hours since the start, values, optional 95 % band."""

    name: str
    units: str
    t_h: np.ndarray
    values: np.ndarray
    lo: np.ndarray | None = None
    hi: np.ndarray | None = None
    mode: str = "lines"


@dataclass(frozen=True)
class SeriesPanel:
    """Series plotted together: one panel, one y axis (``log_y`` for e.g. ohms)."""

    title: str
    series: list[Series]
    log_y: bool = False
    y_title: str = ""


@dataclass(frozen=True)
class Heatmap:
    """``z[i, j]`` at time ``t_h[i]`` and axis value ``axis[j]`` (wavelength, diameter...)."""

    title: str
    t_h: np.ndarray
    axis: np.ndarray
    z: np.ndarray
    axis_title: str
    z_title: str


@dataclass(frozen=True)
class AlertMark:
    t_h: float
    rule: str
    severity: str
    state: str
    message: str


@dataclass(frozen=True)
class ReportData:
    """Everything a report shows (see the module doc)."""

    run_id: str
    title: str
    metadata: list[tuple[str, str]]
    spectra: Heatmap | None = None
    psd: Heatmap | None = None
    series: list[SeriesPanel] = field(default_factory=list)
    alerts: list[AlertMark] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _band(fig: go.Figure, s: Series, colour: str, **where) -> None:
    if s.lo is None or s.hi is None:
        return
    ok = np.isfinite(s.lo) & np.isfinite(s.hi)
    if not ok.any():
        return
    t = s.t_h[ok]
    fig.add_trace(
        go.Scatter(
            x=np.concatenate([t, t[::-1]]),
            y=np.concatenate([s.hi[ok], s.lo[ok][::-1]]),
            fill="toself",
            line={"width": 0},
            fillcolor=colour,
            opacity=0.2,
            hoverinfo="skip",
            showlegend=False,
            name=f"{s.name} 95 %",
        ),
        **where,
    )


def _series_figure(panel: SeriesPanel) -> go.Figure:
    fig = go.Figure()
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"]
    for k, s in enumerate(panel.series):
        c = colours[k % len(colours)]
        _band(fig, s, c)
        fig.add_trace(
            go.Scatter(
                x=s.t_h,
                y=s.values,
                mode=s.mode,
                name=f"{s.name} ({s.units})" if s.units else s.name,
                line={"color": c},
                marker={"size": 4, "color": c},
            )
        )
    fig.update_layout(title=panel.title, xaxis_title="time since start (h)", height=380)
    fig.update_yaxes(title_text=panel.y_title, type="log" if panel.log_y else "linear")
    return fig


def _heatmap_figure(h: Heatmap, lines: int = 0) -> go.Figure:
    if lines:
        fig = make_subplots(rows=1, cols=2, column_widths=[0.62, 0.38], horizontal_spacing=0.1)
    else:
        fig = go.Figure()
    where = {"row": 1, "col": 1} if lines else {}
    finite = h.z[np.isfinite(h.z)]
    # robust colour range: one saturated frame must not wash out the rest
    zmin, zmax = np.percentile(finite, [0.5, 99.5]) if finite.size else (0.0, 1.0)
    fig.add_trace(
        go.Heatmap(
            x=h.axis,
            y=h.t_h,
            z=h.z,
            zmin=float(zmin),
            zmax=float(zmax) if zmax > zmin else float(zmin) + 1.0,
            colorscale="Viridis",
            colorbar={"title": {"text": h.z_title}, "x": 0.56 if lines else 1.02},
            hovertemplate=f"{h.axis_title} %{{x}}<br>t %{{y:.3f}} h<br>%{{z:.4g}}<extra></extra>",
        ),
        **where,
    )
    if lines:
        picks = np.unique(np.linspace(0, len(h.t_h) - 1, min(lines, len(h.t_h))).astype(int))
        for i in picks:
            fig.add_trace(
                go.Scatter(x=h.axis, y=h.z[i], mode="lines", name=f"{h.t_h[i]:.2f} h"),
                row=1,
                col=2,
            )
        fig.update_xaxes(title_text=h.axis_title, row=1, col=2)
        fig.update_yaxes(title_text=h.z_title, row=1, col=2)
    fig.update_xaxes(title_text=h.axis_title, **where)
    fig.update_yaxes(title_text="time since start (h)", **where)
    fig.update_layout(title=h.title, height=460)
    return fig


def _alerts_figure(alerts: list[AlertMark]) -> go.Figure:
    fig = go.Figure()
    for state, symbol in (("firing", "triangle-up"), ("resolved", "circle-open")):
        marks = [a for a in alerts if a.state == state]
        if not marks:
            continue
        fig.add_trace(
            go.Scatter(
                x=[a.t_h for a in marks],
                y=[a.rule for a in marks],
                mode="markers",
                name=state,
                marker={
                    "symbol": symbol,
                    "size": 11,
                    "color": [_SEVERITY_COLOUR.get(a.severity, "#7f7f7f") for a in marks],
                },
                text=[f"[{a.severity}] {a.message}" for a in marks],
                hovertemplate="%{y} at %{x:.3f} h<br>%{text}<extra></extra>",
            )
        )
    rules = sorted({a.rule for a in alerts})
    fig.update_layout(
        title="Alerts (triangle: firing, circle: resolved; colour: severity)",
        xaxis_title="time since start (h)",
        height=160 + 40 * len(rules),
    )
    return fig


def _div(fig: go.Figure, div_id: str) -> str:
    fig.update_layout(template="plotly_white", margin={"l": 70, "r": 30, "t": 60, "b": 50})
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id)


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table.meta { border-collapse: collapse; font-size: 0.9em; }
table.meta td { padding: 2px 12px 2px 0; vertical-align: top; }
table.meta td:first-child { color: #666; white-space: nowrap; }
p.note { color: #666; font-size: 0.9em; }
"""


def render_report(data: ReportData) -> str:
    """The report as one self-contained HTML document (module doc)."""
    esc = _html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(data.title)}</title>",
        f"<style>{_STYLE}</style>",
        f'<script type="text/javascript">{get_plotlyjs()}</script>',
        "</head><body>",
        f"<h1>{esc(data.title)}</h1>",
        "<h2>Run</h2>",
        '<table class="meta">',
        *(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in data.metadata),
        "</table>",
    ]
    parts += [f'<p class="note">{esc(n)}</p>' for n in data.notes]
    n = 0
    if data.spectra is not None:
        parts.append("<h2>Spectra over time</h2>")
        parts.append(_div(_heatmap_figure(data.spectra, lines=6), f"fig{n}"))
        n += 1
    if data.psd is not None:
        parts.append("<h2>Size distribution over time</h2>")
        parts.append(_div(_heatmap_figure(data.psd), f"fig{n}"))
        n += 1
    for panel in data.series:
        parts.append(f"<h2>{esc(panel.title)}</h2>")
        parts.append(_div(_series_figure(panel), f"fig{n}"))
        n += 1
    parts.append("<h2>Alerts</h2>")
    if data.alerts:
        parts.append(_div(_alerts_figure(data.alerts), f"fig{n}"))
    else:
        parts.append('<p class="note">No alert fired during this run.</p>')
    parts.append("</body></html>")
    return "\n".join(parts)
