"""The ``synthwatch`` command line.

``synthwatch demo``          simulate a gold synthesis, run the pipeline, watch it live
                            (``--system silica``: a Stöber run seen by an impedance cell)
``synthwatch runs``          the runs in the store
``synthwatch show RUN``      a run's estimates over time and its final state
``synthwatch dashboards``    Grafana dashboards and alert rules: export, push
``synthwatch golden``        golden-batch envelopes from stored good runs: build, list

Every error a person can cause (a bad option, an unknown run, a bad config value) ends in one
line on stderr and exit status 2, not a traceback.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Sequence

from pydantic import ValidationError
from rich.console import Console
from rich.live import Live
from rich.table import Table

from synthwatch import __version__
from synthwatch.contract.config import Config, ConfigError, load_config
from synthwatch.contract.messages import Estimate, Message
from synthwatch.stream.cli import collect as cli_collect
from synthwatch.stream.cli import dashboards as cli_dashboards
from synthwatch.stream.cli import golden as cli_golden
from synthwatch.stream.cli import replay as cli_replay
from synthwatch.stream.cli import work as cli_work
from synthwatch.stream.cli.demo_silica import (
    SYSTEM_SCENARIOS,
    demo_timing,
    show_impedance,
    silica_simulator,
    silica_summary,
)
from synthwatch.stream.cli.live import (
    FEATURE_COLUMNS,
    PSD_COLUMNS,
    LiveView,
    fmt_elapsed,
    fmt_quantity,
    is_clean,
)
from synthwatch.stream.runtime.alerting import registry_from_config, webhook_sinks
from synthwatch.stream.sinks.influx import influx_sinks
from synthwatch.stream.sinks.influx_spool import SpoolError
from synthwatch.stream.store.embedded import Store, StoreError, UnknownRunError
from synthwatch.stream.transport.errors import KafkaTransportError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*(s|m|min|h|d)?\s*$")
_UNIT_S = {None: 1.0, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


class UsageError(Exception):
    """A mistake on the command line, reported in one line."""


def parse_duration(text: str) -> float:
    """``"2h"`` → 7200.0; plain numbers are seconds."""
    m = _DURATION.match(text)
    if not m or float(m.group(1)) <= 0:
        raise argparse.ArgumentTypeError(
            f"expected a positive duration such as 7200, 90m or 2h, got {text!r}"
        )
    return float(m.group(1)) * _UNIT_S[m.group(2)]


def parse_speed(text: str) -> float:
    """``"1000"`` → 1000.0; ``"max"`` → 0 (as fast as possible)."""
    if text.strip().lower() == "max":
        return 0.0
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(
            f"expected a positive factor (simulated s per wall s) or 'max', got {text!r}"
        )
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="synthwatch", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"synthwatch {__version__}")
    parser.add_argument(
        "--config", help="TOML config file (default: $SYNTHWATCH_CONFIG, ./synthwatch.toml)"
    )
    parser.add_argument("--store", type=Path, help="embedded store file (overrides store.path)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the pipeline does")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    demo = sub.add_parser("demo", help="simulate a citrate gold synthesis and watch it live")
    demo.add_argument(
        "--scenario",
        choices=("gold", "silver", "gold-rods", "gold-aggregating", "silica"),
        help="what to simulate (default gold: citrate gold spheres)",
    )
    demo.add_argument(
        "--system",
        choices=tuple(SYSTEM_SCENARIOS),
        help="chemistry: gold, silver (UV-Vis) or silica (Stöber, impedance cell; 24 h)",
    )
    demo.add_argument("--seed", type=int, help="simulator seed (default 0)")
    demo.add_argument(
        "--speed", type=parse_speed, help="simulated s per wall s, or 'max' (default 1000)"
    )
    demo.add_argument(
        "--duration", type=parse_duration, help="simulated duration, e.g. 2h (default)"
    )
    demo.add_argument("--interval", type=parse_duration, help="seconds between spectra (default 2)")
    demo.add_argument(
        "--size", type=float, dest="d_final_nm", help="final mean diameter, nm (default: scenario)"
    )
    demo.add_argument("--quiet", action="store_true", help="no live view, only the summary")

    sub.add_parser("runs", help="list the runs in the store")

    show = sub.add_parser("show", help="a run's estimates over time and its final state")
    show.add_argument("run_id", metavar="RUN", help="a run id from `synthwatch runs`, or 'latest'")
    show.add_argument("--rows", type=int, default=24, help="rows of the time table (default 24)")

    cli_dashboards.add_parser(sub)
    cli_golden.add_parser(sub)
    cli_replay.add_parsers(sub)
    cli_collect.add_parser(sub, parse_duration, parse_speed)
    cli_work.add_parser(sub)
    return parser


def _config(args: argparse.Namespace) -> Config:
    cfg = load_config(args.config if args.config else "auto")
    if args.store is not None:
        cfg.store.path = args.store
    if args.command == "demo":
        if args.system is not None:
            scenario = SYSTEM_SCENARIOS[args.system]
            if args.scenario is not None and args.scenario != scenario:
                raise UsageError(
                    f"synthwatch demo: --system {args.system} and --scenario {args.scenario} "
                    "disagree; give one of them"
                )
            args.scenario = scenario
        for name, dest in (
            ("scenario", "scenario"),
            ("seed", "seed"),
            ("speed", "speed"),
            ("duration", "duration_s"),
            ("interval", "interval_s"),
            ("d_final_nm", "d_final_nm"),
        ):
            value = getattr(args, name)
            if value is not None:
                try:
                    setattr(cfg.demo, dest, value)
                except ValidationError as err:
                    first = err.errors(include_url=False)[0]
                    option = "size" if name == "d_final_nm" else name
                    raise UsageError(
                        f"synthwatch demo: --{option}: {first['msg']} (got {value!r})"
                    ) from None
    return cfg


def cmd_demo(cfg: Config, args: argparse.Namespace, console: Console) -> int:
    from synthwatch.collectors.sim.scenarios import simulate
    from synthwatch.stream.runtime.pipeline import run_embedded

    d = cfg.demo
    try:
        duration_s, interval_s = demo_timing(d)
    except ValueError as err:
        raise UsageError(f"synthwatch demo: {err}") from None
    if d.scenario == "silica":
        if d.d_final_nm is not None:
            raise UsageError("synthwatch demo: --size applies to the gold and silver scenarios")
        sim = silica_simulator(d, duration_s, interval_s)
    else:
        size = {} if d.d_final_nm is None else {"d_final_nm": d.d_final_nm}
        sim = simulate(
            d.scenario, seed=d.seed, duration_s=duration_s, interval_s=interval_s, **size
        )
    view = LiveView(duration_s, d.speed)
    state = {"listening": False}

    def on_message(msg: Message, worker) -> None:
        if not state["listening"]:
            worker.on_output(view.on_output)
            state["listening"] = True
        view.on_input(msg)

    with (
        Store(cfg.store.path, commit_interval_s=cfg.store.commit_interval_s) as store,
        influx_sinks(cfg.influxdb) as influx,
        webhook_sinks(cfg) as hooks,
    ):
        run = partial(
            run_embedded,
            sim.messages(),
            [store, *influx, *hooks],
            speed=d.speed,
            reorder_window_s=cfg.worker.reorder_window_s,
            max_batch=cfg.worker.max_batch,
            on_message=on_message,
            model_factory=registry_from_config(cfg),
        )
        if args.quiet or not console.is_terminal:
            result = run()
        else:
            with Live(view, console=console, refresh_per_second=8, transient=False):
                result = run()
    run_id = result.run_ids[0]
    if d.scenario == "silica":
        console.print(silica_summary(view, run_id, duration_s, result.wall_s))
        console.print(f"stored in {cfg.store.path}; see it with: synthwatch show {run_id}")
        return 0
    haiss = fmt_quantity(view.latest_clean, "d_haiss_nm", "{:.1f}")
    psd = fmt_quantity(view.latest_psd, "d_mean_nm", "{:.1f}")
    console.print(
        f"run {run_id} ({d.scenario}): {view.readings} spectra, {fmt_elapsed(duration_s)} "
        f"simulated in {result.wall_s:.1f} s wall; final size: {psd} nm (size distribution), "
        f"{haiss} nm (Haiss); {view.alerts_total} alert state changes"
    )
    console.print(f"stored in {cfg.store.path}; see it with: synthwatch show {run_id}")
    for sink in influx:
        console.print(
            f"influxdb {cfg.influxdb.url}: {sink.written} points written, "
            f"{sink.pending} spooled in {cfg.influxdb.spool_dir}"
        )
    return 0


def _no_store(cfg: Config) -> bool:
    return not Path(cfg.store.path).exists()


def cmd_runs(cfg: Config, console: Console) -> int:
    if _no_store(cfg):
        console.print(
            f"no runs yet: there is no store at {cfg.store.path}; `synthwatch demo` makes one"
        )
        return 0
    with Store(cfg.store.path, readonly=True) as store:
        runs = store.runs()
    if not runs:
        console.print(f"no runs in {cfg.store.path} yet; `synthwatch demo` makes one")
        return 0
    table = Table(title=f"runs in {cfg.store.path}")
    for col in (
        "run",
        "system",
        "reactor",
        "started (UTC)",
        "duration",
        "status",
        "readings",
        "estimates",
        "alerts",
    ):
        table.add_column(col)
    for r in runs:
        end = r.t_stop or r.t_last
        duration = fmt_elapsed((end - r.t_start).total_seconds()) if end and r.t_start else "–"
        table.add_row(
            r.run_id,
            r.system,
            r.reactor,
            r.t_start.strftime("%Y-%m-%d %H:%M:%S") if r.t_start else "–",
            duration,
            r.status or "running",
            str(r.n_readings),
            str(r.n_estimates),
            str(r.n_alerts),
        )
    console.print(table)
    return 0


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


def cmd_show(cfg: Config, args: argparse.Namespace, console: Console) -> int:
    if args.rows < 2:
        raise UsageError(f"synthwatch show: --rows: expected 2 or more, got {args.rows}")
    if _no_store(cfg):
        raise UsageError(
            f"synthwatch show: no store at {cfg.store.path}; "
            "`synthwatch demo` makes one, `--store PATH` names another"
        )
    with Store(cfg.store.path, readonly=True) as store:
        run_id = args.run_id
        if run_id == "latest":
            runs = store.runs()
            if not runs:
                raise UsageError(f"synthwatch show: no runs in {cfg.store.path} yet")
            run_id = max(runs, key=lambda r: r.t_start or r.t_last).run_id
        args.run_id = run_id
        summary = store.run(args.run_id)
        features = store.estimates(args.run_id, model="uvvis_features")
        psd = store.estimates(args.run_id, model="psd_lognormal")
        shape = store.estimates(args.run_id, model="uvvis_shape")
        health = store.estimates(args.run_id, measurement="pipeline_health")
        alerts = store.alerts(args.run_id)
        fits = store.estimates(args.run_id, measurement="impedance_fit")
        calibration = store.estimates(args.run_id, measurement="calibration")
        kinetics = store.estimates(args.run_id, measurement="kinetics")
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
        _show_footer(console, alerts, health, t0)
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
    _show_footer(console, alerts, health, t0)
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


def _show_footer(console: Console, alerts, health: list[Estimate], t0) -> None:
    """The alerts of a run and its pipeline counters (end of `synthwatch show`)."""
    for alert in alerts:
        since = fmt_elapsed((alert.t - t0).total_seconds()) if t0 else alert.t.isoformat()
        console.print(f"  alert {alert.state:8s} {since} [{alert.severity}] {alert.message}")
    if health:
        counts = ", ".join(
            f"{q.name.removesuffix('_count')} {q.value:.0f}" for q in health[-1].quantities
        )
        console.print(f"pipeline: {counts}")


def main(argv: Sequence[str] | None = None) -> int:
    # Piped output (CI logs, `| less`) gets wide tables instead of rich's 80-column default.
    # Lines of text are never broken (soft wrap): an error stays on one line.
    console = Console(width=None if sys.stdout.isatty() else 150, soft_wrap=True)
    err = Console(stderr=True, width=None if sys.stderr.isatty() else 150, soft_wrap=True)
    try:
        args = build_parser().parse_args(argv)
        logging.basicConfig(
            level=logging.INFO if args.verbose else logging.WARNING,
            format="%(levelname)s %(name)s: %(message)s",
        )
        if args.command == "dashboards":
            return cli_dashboards.run(args, console, err)
        cfg = _config(args)
        if args.command == "demo":
            return cmd_demo(cfg, args, console)
        if args.command == "runs":
            return cmd_runs(cfg, console)
        if args.command == "golden":
            return cli_golden.run(cfg, args, console)
        if args.command in cli_replay.COMMANDS:
            return cli_replay.run(cfg, args, console, err)
        if args.command in ("collect", "work"):
            return (cli_collect if args.command == "collect" else cli_work).run(cfg, args, console)
        return cmd_show(cfg, args, console)
    except UsageError as e:
        err.print(f"error: {e}", markup=False, highlight=False)
        return 2
    except (ConfigError, UnknownRunError, StoreError, SpoolError, KafkaTransportError) as e:
        text = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        err.print(f"error: {text}", markup=False, highlight=False)
        return 2
    except KeyboardInterrupt as e:  # Ctrl-C; a replay's SIGTERM too (cli_replay.Terminated)
        err.print("interrupted: what was stored up to now is kept", markup=False)
        return getattr(e, "exit_status", 130)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
