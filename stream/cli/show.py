"""``synthwatch show RUN``: a run's estimates over time and its final state.

Tables of the UV-Vis estimates and the size distribution at evenly spaced times (``--rows``),
the impedance fits and calibration when the run has them, the kinetics fit, the alerts and the
pipeline's counters. ``RUN`` may be ``latest``.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

from synthwatch.contract.errors import UsageError
from synthwatch.contract.messages import Estimate
from synthwatch.stream.cli.common import load, resolve_run, stdout
from synthwatch.stream.cli.demo_silica import show_impedance
from synthwatch.stream.cli.live import (
    FEATURE_COLUMNS,
    PSD_COLUMNS,
    fmt_elapsed,
    fmt_quantity,
    is_clean,
)

NAME = "show"
HELP = "a run's estimates over time and its final state"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run_id", metavar="RUN", help="a run id from `synthwatch runs`, or 'latest'"
    )
    parser.add_argument("--rows", type=int, default=24, help="rows of the time table (default 24)")


def _sample(items: list[Estimate], rows: int) -> list[Estimate]:
    if len(items) <= rows:
        return items
    step = (len(items) - 1) / (rows - 1)
    return [items[round(i * step)] for i in range(rows)]


def _time_table(title: str, estimates: list[Estimate], columns, t0, rows: int) -> Table:
    table = Table(title=title)
    table.add_column("t since start", justify="right")
    for _, label, _ in columns:
        table.add_column(label, justify="right")
    table.add_column("flags")
    for est in _sample(estimates, rows):
        since = fmt_elapsed((est.t - t0).total_seconds()) if t0 else est.t.isoformat()
        table.add_row(
            since, *(fmt_quantity(est, n, f) for n, _, f in columns), ", ".join(est.flags)
        )
    return table


def run(args: argparse.Namespace) -> int:
    from synthwatch.stream.store.embedded import Store

    cfg = load(args)
    console = stdout()
    if args.rows < 2:
        raise UsageError(f"synthwatch show: --rows: expected 2 or more, got {args.rows}")
    if not Path(cfg.store.path).exists():
        raise UsageError(
            f"synthwatch show: no store at {cfg.store.path}; "
            "`synthwatch demo` makes one, `--store PATH` names another"
        )
    with Store(cfg.store.path, readonly=True) as store:
        args.run_id = resolve_run(store, args.run_id)
        summary = store.run(args.run_id)
        features = store.estimates(args.run_id, model="uvvis_features")
        psd = store.estimates(args.run_id, model="psd_lognormal")
        shape = store.estimates(args.run_id, model="uvvis_shape")
        health = store.estimates(args.run_id, measurement="pipeline_health")
        alerts = store.alerts(args.run_id)
        fits = store.estimates(args.run_id, measurement="impedance_fit")
        calibration = store.estimates(args.run_id, measurement="calibration")
        kinetics = store.estimates(args.run_id, measurement="kinetics")
        letters = store.run_deadletters(args.run_id)
    # the worker counts its own dead letters in pipeline_health; a folder's refused files are not
    refused = sum(d.source != "worker" for d in letters)
    t0 = summary.t_start
    kinetics_line = _kinetics_line(kinetics)
    if fits or calibration:
        show_impedance(console, args.run_id, fits, calibration, t0, args.rows)
    if fits and not features:
        console.print(
            f"status: {summary.status}; {summary.n_readings} readings; "
            f"{len(alerts)} alert state changes"
        )
        if kinetics_line:
            console.print(kinetics_line)
        _show_footer(console, alerts, health, t0, refused, args.run_id)
        return 0
    title = f"run {args.run_id}: UV-Vis estimates over time"
    console.print(_time_table(title, features, FEATURE_COLUMNS, t0, args.rows))
    if psd:
        title = f"run {args.run_id}: size distribution (lognormal fit) over time"
        console.print(_time_table(title, psd, PSD_COLUMNS, t0, args.rows))

    clean = [e for e in features if is_clean(e)]
    flags = Counter(f for e in features for f in e.flags)
    flag_text = ", ".join(f"{name} {n}" for name, n in flags.most_common()) or "none"
    console.print(
        f"status: {summary.status}; {summary.n_readings} readings; "
        f"{len(alerts)} alert state changes; frames flagged: {flag_text}"
    )
    if clean:
        last = clean[-1]
        since = fmt_elapsed((last.t - t0).total_seconds()) if t0 else last.t.isoformat()
        console.print(
            f"final size (Haiss): {fmt_quantity(last, 'd_haiss_nm', '{:.1f}')} nm at "
            f"{since}; λ_SPR {fmt_quantity(last, 'lambda_spr_nm', '{:.1f}')} nm, "
            f"A_400 {fmt_quantity(last, 'a_400_au', '{:.3f}')}"
        )
    else:
        console.print("final size: no clean spectrum yet")
    fitted = [e for e in psd if e.get("d_mean_nm").value is not None]
    if fitted:
        last = fitted[-1]
        console.print(
            f"final size distribution: d_mean {fmt_quantity(last, 'd_mean_nm', '{:.1f}')} nm, "
            f"gsd {fmt_quantity(last, 'gsd', '{:.3f}')}, "
            f"N {fmt_quantity(last, 'number_per_ml', '{:.3g}')} per mL"
            + (f" [{', '.join(last.flags)}]" if last.flags else "")
        )
    shape_flags = Counter(
        f for e in shape for f in e.flags if f in ("rods_detected", "aggregation_suspected")
    )
    if shape_flags:
        console.print(
            "shape: " + ", ".join(f"{name} in {n} spectra" for name, n in shape_flags.most_common())
        )
    if kinetics_line:
        console.print(kinetics_line)
    _show_footer(console, alerts, health, t0, refused, args.run_id)
    return 0


_MECHANISMS = {"finke_watzky": "Finke-Watzky", "jmak": "JMAK", "first_order": "first order"}


def _kinetics_line(kinetics: list[Estimate]) -> str:
    """'kinetics: Finke-Watzky (AIC weight 1.00), k1 ..., t90 20.2 min (19.8-20.6), ...'."""
    fitted = [e for e in kinetics if any(q.name == "t90_s" for q in e.quantities)]
    if not fitted:
        return ""
    last = fitted[-1]
    q = {x.name: x for x in last.quantities}
    weights = {m: q[f"aic_weight_{m}"].value or 0.0 for m in _MECHANISMS if f"aic_weight_{m}" in q}
    best = max(weights, key=weights.get) if weights else ""
    consts = ", ".join(
        f"{n} {q[n].value:.3g}" + (f" ± {q[n].uncertainty:.2g}" if q[n].uncertainty else "")
        for n in ("k1_per_s", "k2_per_s", "k_per_s", "avrami_n")
        if n in q and q[n].value is not None
    )

    def minutes(name: str) -> str:
        v = q.get(name)
        return "?" if v is None or v.value is None else f"{v.value / 60:.1f}"

    conv = q.get("conversion")
    conv_text = f"{conv.value:.0%}" if conv is not None and conv.value is not None else "?"
    return (
        f"kinetics: {_MECHANISMS.get(best, best)} (AIC weight {weights.get(best, 0):.2f}); "
        f"{consts}; t90 {minutes('t90_s')} min ({minutes('t90_lo_s')}-{minutes('t90_hi_s')}); "
        f"conversion {conv_text}"
    )


def _show_footer(
    console: Console, alerts, health: list[Estimate], t0, refused: int, run_id: str
) -> None:
    """The alerts of a run and its pipeline counters, the worker's dead letters plus the
    ``refused`` files of a folder (end of `synthwatch show`)."""
    for alert in alerts:
        since = fmt_elapsed((alert.t - t0).total_seconds()) if t0 else alert.t.isoformat()
        console.print(f"  alert {alert.state:8s} {since} [{alert.severity}] {alert.message}")
    quantities = health[-1].quantities if health else []
    counts = {q.name.removesuffix("_count"): q.value or 0.0 for q in quantities}
    dead = counts.get("deadlettered", 0.0) + refused
    if counts:
        counts["deadlettered"] = dead
        console.print("pipeline: " + ", ".join(f"{k} {v:.0f}" for k, v in counts.items()))
    if dead:
        console.print(
            f"dead letters: {dead:.0f}; `synthwatch deadletters {run_id}` lists them with why",
            markup=False,
        )
