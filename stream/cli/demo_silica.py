"""The impedance channel in the CLI: the silica demo's simulator and what `show` prints of it.

``synthwatch demo --system silica`` simulates a 24-hour Stöber run watched by an impedance
millifluidic cell (:class:`~synthwatch.collectors.sim.stober.StoberSimulator`, a sweep a
minute, DLS sizes arriving hours late); the worker fits each sweep and calibrates the size on
the labels. ``synthwatch show`` prints those estimates for any run that has them.
"""

from __future__ import annotations

from datetime import datetime

from rich.console import Console
from rich.table import Table

from synthwatch.contract.config import DemoConfig
from synthwatch.contract.messages import Estimate
from synthwatch.stream.cli.live import (
    CALIBRATION_COLUMNS,
    IMPEDANCE_COLUMNS,
    LABEL_COLUMNS,
    fmt_elapsed,
    fmt_quantity,
    is_clean,
)

#: --system -> demo scenario
SYSTEM_SCENARIOS = {"gold": "gold", "silver": "silver", "silica": "silica"}
#: scenario -> (duration s, interval s) when the configuration does not set them
SCENARIO_TIMING = {"silica": (86400.0, 60.0)}
_DEFAULT_TIMING = (7200.0, 2.0)


def demo_timing(demo: DemoConfig) -> tuple[float, float]:
    """Duration and interval of the demo: the configured ones, else the scenario's."""
    duration, interval = SCENARIO_TIMING.get(demo.scenario, _DEFAULT_TIMING)
    if "duration_s" in demo.model_fields_set:
        duration = demo.duration_s
    if "interval_s" in demo.model_fields_set:
        interval = demo.interval_s
    if interval > duration:
        raise ValueError(
            f"demo: interval ({interval:g} s) longer than the duration ({duration:g} s)"
        )
    return duration, interval


def silica_simulator(demo: DemoConfig, duration_s: float, interval_s: float):
    """The Stöber simulator of the silica demo."""
    from synthwatch.collectors.sim.stober import StoberSimulator

    return StoberSimulator(seed=demo.seed, duration_s=duration_s, interval_s=interval_s)


def silica_summary(view, run_id: str, duration_s: float, wall_s: float) -> str:
    """The demo's closing line for a silica run."""
    fit = view.latest_fit_clean
    pred = fmt_quantity(view.latest_prediction, "d_mean_nm_pred", "{:.1f}")
    mae = fmt_quantity(view.latest_score, "pv_mae", "{:.1f}")
    naive = fmt_quantity(view.latest_score, "naive_mae", "{:.1f}")
    return (
        f"run {run_id} (silica): {view.readings} impedance sweeps ({view.flagged} flagged), "
        f"{fmt_elapsed(duration_s)} simulated in {wall_s:.1f} s wall; final R_s "
        f"{fmt_quantity(fit, 'r_s_ohm', '{:.0f}')} ohm, R_ct "
        f"{fmt_quantity(fit, 'r_ct_ohm', '{:.0f}')} ohm, conductivity "
        f"{fmt_quantity(fit, 'conductivity_s_per_m', '{:.4g}')} S/m; calibrated size {pred} nm "
        f"(progressive-validation MAE {mae} nm, last-label baseline {naive} nm); "
        f"{view.alerts_total} alert state changes"
    )


def _table(title: str, estimates: list[Estimate], columns, t0: datetime | None, rows: int):
    table = Table(title=title)
    table.add_column("t since start", justify="right")
    for _, label, _ in columns:
        table.add_column(label, justify="right")
    table.add_column("flags")
    if len(estimates) > rows:
        step = (len(estimates) - 1) / (rows - 1)
        estimates = [estimates[round(i * step)] for i in range(rows)]
    for est in estimates:
        since = fmt_elapsed((est.t - t0).total_seconds()) if t0 else est.t.isoformat()
        table.add_row(
            since, *(fmt_quantity(est, n, f) for n, _, f in columns), ", ".join(est.flags)
        )
    return table


def show_impedance(
    console: Console,
    run_id: str,
    fits: list[Estimate],
    calibration: list[Estimate],
    t0: datetime | None,
    rows: int,
) -> None:
    """Print a run's impedance fits and size calibration over time, and their final state."""
    if fits:
        title = f"run {run_id}: impedance circuit fits over time"
        console.print(_table(title, fits, IMPEDANCE_COLUMNS, t0, rows))
        bad = [e for e in fits if not is_clean(e)]
        clean = [e for e in fits if is_clean(e)]
        text = f"sweeps fitted: {len(clean)} of {len(fits)}"
        if bad:
            flags: dict[str, int] = {}
            for e in bad:
                for f in e.flags:
                    flags[f] = flags.get(f, 0) + 1
            text += "; flagged: " + ", ".join(f"{k} {v}" for k, v in sorted(flags.items()))
        console.print(text)
        if clean:
            last = clean[-1]
            console.print(
                "final circuit: "
                + ", ".join(
                    f"{label} {fmt_quantity(last, n, f)}" for n, label, f in IMPEDANCE_COLUMNS[:5]
                )
            )
    predictions = [e for e in calibration if any(q.name.endswith("_pred") for q in e.quantities)]
    scores = [e for e in calibration if any(q.name == "n_labels" for q in e.quantities)]
    scores = [e for e in scores if e not in predictions]
    if scores:
        title = f"run {run_id}: delayed labels, scored before learning (progressive validation)"
        console.print(_table(title, scores, LABEL_COLUMNS, t0, rows))
    if predictions:
        last = predictions[-1]
        console.print(
            f"calibrated size: {fmt_quantity(last, CALIBRATION_COLUMNS[0][0], '{:.1f}')} nm "
            f"from {fmt_quantity(last, 'n_labels', '{:.0f}')} labels"
        )
