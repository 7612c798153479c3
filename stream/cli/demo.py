"""``synthwatch demo``: simulate a synthesis, run the pipeline on it, watch it live.

``--system silica`` (or ``--scenario silica``) is a 24-h Stöber run seen by an impedance cell
(:mod:`synthwatch.stream.cli.demo_silica`); the other scenarios are UV-Vis runs of gold or
silver. The options override the ``[demo]`` section of the configuration.
"""

from __future__ import annotations

import argparse
from functools import partial

from pydantic import ValidationError
from rich.live import Live

from synthwatch.contract.config import Config
from synthwatch.contract.errors import UsageError
from synthwatch.contract.messages import Message
from synthwatch.stream.cli.args import parse_duration, parse_speed
from synthwatch.stream.cli.common import load, stdout
from synthwatch.stream.cli.demo_silica import (
    SYSTEM_SCENARIOS,
    demo_timing,
    silica_simulator,
    silica_summary,
)
from synthwatch.stream.cli.live import LiveView, fmt_elapsed, fmt_quantity

NAME = "demo"
HELP = "simulate a citrate gold synthesis and watch it live"
SCENARIOS = ("gold", "silver", "gold-rods", "gold-aggregating", "silica")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scenario",
        choices=SCENARIOS,
        help="what to simulate (default gold: citrate gold spheres)",
    )
    parser.add_argument(
        "--system",
        choices=tuple(SYSTEM_SCENARIOS),
        help="chemistry: gold, silver (UV-Vis) or silica (Stöber, impedance cell; 24 h)",
    )
    parser.add_argument("--seed", type=int, help="simulator seed (default 0)")
    parser.add_argument(
        "--speed", type=parse_speed, help="simulated s per wall s, or 'max' (default 1000)"
    )
    parser.add_argument(
        "--duration", type=parse_duration, help="simulated duration, e.g. 2h (default)"
    )
    parser.add_argument(
        "--interval", type=parse_duration, help="seconds between spectra (default 2)"
    )
    parser.add_argument(
        "--size", type=float, dest="d_final_nm", help="final mean diameter, nm (default: scenario)"
    )
    parser.add_argument("--quiet", action="store_true", help="no live view, only the summary")


def demo_config(args: argparse.Namespace) -> Config:
    """The configuration with the demo's options applied (a bad value: one UsageError)."""
    cfg = load(args)
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


def run(args: argparse.Namespace) -> int:
    from synthwatch.collectors.sim.scenarios import simulate
    from synthwatch.stream.runtime.alerting import registry_from_config, webhook_sinks
    from synthwatch.stream.runtime.pipeline import run_embedded
    from synthwatch.stream.sinks.influx import influx_sinks
    from synthwatch.stream.store.embedded import Store

    cfg = demo_config(args)
    console = stdout()
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
        go = partial(
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
            result = go()
        else:
            with Live(view, console=console, refresh_per_second=8, transient=False):
                result = go()
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
