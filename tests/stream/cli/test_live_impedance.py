"""The live view of a silica run shows the impedance quantities and the calibrated size."""

from __future__ import annotations

from rich.console import Console

from synthwatch.collectors.sim.stober import StoberSimulator
from synthwatch.stream.cli.live import LiveView
from synthwatch.stream.runtime.pipeline import run_embedded
from synthwatch.stream.runtime.registry import ModelRegistry


def test_live_view_of_a_silica_run():
    sim = StoberSimulator(seed=1, duration_s=10 * 3600.0, interval_s=600.0)
    view = LiveView(sim.duration_s, 0.0)
    hooked = {}

    def on_message(msg, worker):
        if not hooked:
            worker.on_output(view.on_output)
            hooked["yes"] = True
        view.on_input(msg)

    run_embedded(sim.messages(), [], on_message=on_message, model_factory=ModelRegistry())
    console = Console(record=True, width=160)
    console.print(view)
    text = console.export_text()
    assert "SiO2-Stober" in text and "equivalent circuit (last valid sweep)" in text
    assert "R_ct Ω" in text and "d predicted nm" in text and "PV MAE nm" in text
    r_ct = view.latest_fit_clean.get("r_ct_ohm").value
    assert f"{r_ct:.0f}" in text
    assert view.latest_prediction is not None and view.latest_score is not None
