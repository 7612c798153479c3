"""Runs compared, as one self-contained HTML file: trajectories side by side, scores per pair.

:func:`render_compare` takes plain data (built from the store by ``synthwatch compare``,
:mod:`synthwatch.stream.cli.compare`): per trajectory, each run's times (hours since its start)
and values; per pair of runs, the distance of each trajectory and the similarity score (defined
in :mod:`synthwatch.stream.replay.compare`). plotly.js is inlined, as in the run report.

>>> import numpy as np
>>> panel = TrajectoryPanel("d_mean", "nm", [("a", np.arange(3.0), np.ones(3))])
>>> html = render_compare("a vs b", [panel], [PairRow("a", "b", {"d_mean": 0.1}, 0.9)])
>>> html.startswith("<!DOCTYPE html>"), "0.900" in html
(True, True)
"""

from __future__ import annotations

import html as _html
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

__all__ = ["TrajectoryPanel", "PairRow", "render_compare"]


@dataclass(frozen=True)
class TrajectoryPanel:
    """One trajectory of every run: (run id, hours since its start, values)."""

    name: str
    units: str
    runs: list[tuple[str, np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class PairRow:
    run_a: str
    run_b: str
    distances: dict[str, float]
    score: float | None


def _figure(panel: TrajectoryPanel, k: int) -> str:
    fig = go.Figure()
    for run_id, t_h, values in panel.runs:
        fig.add_trace(go.Scatter(x=t_h, y=values, mode="lines", name=run_id))
    fig.update_layout(
        title=f"{panel.name} ({panel.units})",
        xaxis_title="time since start (h)",
        height=360,
        template="plotly_white",
        margin={"l": 70, "r": 30, "t": 60, "b": 50},
    )
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"traj{k}")


def render_compare(title: str, panels: list[TrajectoryPanel], pairs: list[PairRow]) -> str:
    """The comparison as one self-contained HTML document (module doc)."""
    esc = _html.escape
    names = [p.name for p in panels]
    head = "".join(f"<th>{esc(n)}</th>" for n in names)
    rows = []
    for p in pairs:
        cells = "".join(
            f"<td>{p.distances[n]:.3f}</td>" if n in p.distances else "<td>–</td>" for n in names
        )
        score = "–" if p.score is None else f"{p.score:.3f}"
        rows.append(
            f"<tr><td>{esc(p.run_a)}</td><td>{esc(p.run_b)}</td>{cells}<td><b>{score}</b></td></tr>"
        )
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{esc(title)}</title>",
            "<style>body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px}"
            "table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #ddd;"
            "text-align:right}</style>",
            f'<script type="text/javascript">{get_plotlyjs()}</script>',
            "</head><body>",
            f"<h1>{esc(title)}</h1>",
            "<h2>Similarity per pair</h2>",
            "<p>Distance: RMS difference of the two trajectories on their common time, in units "
            "of the range (P95 - P5) they span; similarity = mean over trajectories of "
            "max(0, 1 - distance).</p>",
            f"<table><tr><th>run A</th><th>run B</th>{head}<th>similarity</th></tr>",
            *rows,
            "</table>",
            "<h2>Trajectories</h2>",
            *(_figure(p, k) for k, p in enumerate(panels)),
            "</body></html>",
        ]
    )
