"""The 24-hour soak: a simulated day of a synthesis through the whole embedded pipeline.

    python benchmarks/bench_soak.py [--hours 24] [--models all|features] [--json OUT]

The simulated run (one run id, three sensors, built from the project's simulators):

* ``uv1``: UV-Vis spectra (601 wavelengths, 300-900 nm) every second from
  :class:`~synthwatch.collectors.sim.gold.GoldCitrateSimulator` (citrate gold, seeded);
* ``eis1``: impedance sweeps every 10 s from
  :class:`~synthwatch.collectors.sim.stober.StoberSimulator` (its readings re-keyed to the
  run; its delayed DLS labels describe silica and are left out);
* ``temp1``: a ``scalar`` temperature probe every second: the recipe's 100 °C, a daily
  ±0.3 K wave and 0.05 K of Gaussian noise (seeded; a synthetic probe, no paper behind it).

The merged stream (by event time, then sensor) goes through ``run_embedded(..., speed=0)``
(``--source simulator``; by default it is recorded and replayed, below):
memory transport, worker (reorder buffer, every model of the registry for each sensor, the
run-level kinetics), embedded SQLite store in a temporary folder (removed at the end).

``--models all`` is the default registry (features, lognormal PSD every spectrum, NNLS every
60th, shape; impedance fit; kinetics); ``--models averaged`` the same with ``[models]
psd_average_s = 5``: the lognormal PSD and the shape check fit the mean of every 5 spectra
(models/uvvis/coadd.py; every spectrum is still stored, and the features and every other model still
see each one); ``--models thinned`` the lognormal PSD and the shape check on every 5th spectrum
only (a benchmark setting, for comparison); ``--models features`` keeps everything except the
three optical models (lognormal PSD, NNLS, shape), to show what they cost.

``--source store`` (the default) first records the simulated day into a store (untimed: the
recording), then times synthwatch's replay of it (:func:`synthwatch.stream.replay.recorded.replay`
from a
:class:`~synthwatch.stream.replay.recorded.StoreSource` into a new run of a second store);
``--source simulator`` feeds the simulator's messages straight to ``run_embedded``.

Recorded: wall time (generation of the simulated input included: it is the replay's source),
CPU time of the process, peak RSS, RSS at the end of hour 1 and of the last hour, time per
message in hour 1 and in the last hour (wall time of the hour / messages of the hour; also the
process's CPU time per message, which the other processes of a shared machine disturb less),
the load average before and after, and the wall time of generating the input alone
(``--no-source-timing`` skips that extra pass).
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pipeline import machine_info  # noqa: E402

from synthwatch.collectors.sim.gold import GoldCitrateSimulator  # noqa: E402
from synthwatch.collectors.sim.stober import StoberSimulator  # noqa: E402
from synthwatch.contract.messages import Descriptor, Message, Reading, RunStop  # noqa: E402
from synthwatch.models.every import Every  # noqa: E402
from synthwatch.stream.replay.recorded import StoreSource, replay  # noqa: E402
from synthwatch.stream.runtime.pipeline import run_embedded  # noqa: E402
from synthwatch.stream.runtime.registry import ModelRegistry  # noqa: E402
from synthwatch.stream.store.embedded import Store  # noqa: E402

RUN_ID = "soak-24h"
UV_INTERVAL_S = 1.0
EIS_INTERVAL_S = 10.0
TEMP_INTERVAL_S = 1.0


class Thinned:
    """The default registry, with the lognormal PSD and the shape check on every ``every``-th
    spectrum only (wrapped in :class:`~synthwatch.models.base.Every`); a benchmark setting."""

    def __init__(self, registry: ModelRegistry, every: int):
        self.registry = registry
        self.every = every

    def __call__(self, start, descriptor):
        models = self.registry(start, descriptor)
        models.estimators = [
            Every(m, every=self.every) if m.name in ("psd_lognormal", "uvvis_shape") else m
            for m in models.estimators
        ]
        return models

    def run_models(self, start):
        return self.registry.run_models(start)


MODEL_SETS = {
    "all": ModelRegistry(),
    "thinned": Thinned(ModelRegistry(), every=5),
    "averaged": ModelRegistry(psd_average_s=5.0),
    "features": ModelRegistry(psd_lognormal=False, psd_nnls_every=0, shape=False),
}


def _temperature(start, seed: int, duration_s: float, run_id: str) -> Iterator[Reading]:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    n = int(duration_s / TEMP_INTERVAL_S)
    chunk = 3600
    for k0 in range(0, n, chunk):
        k = np.arange(k0, min(k0 + chunk, n))
        t_s = k * TEMP_INTERVAL_S
        temp = 100.0 + 0.3 * np.sin(2 * np.pi * t_s / 86400.0) + 0.05 * rng.standard_normal(k.size)
        for seq, value in zip(k.tolist(), temp.tolist()):
            yield Reading(
                run_id=run_id,
                t=start + timedelta(seconds=seq * TEMP_INTERVAL_S),
                sensor_id="temp1",
                seq=seq,
                values=[value],
            )


def soak_messages(seed: int = 0, hours: float = 24.0, run_id: str = RUN_ID) -> Iterator[Message]:
    """The combined simulated run, lazily, in event-time order (module doc)."""
    duration_s = hours * 3600.0
    gold = GoldCitrateSimulator(
        seed=seed, duration_s=duration_s, interval_s=UV_INTERVAL_S, run_id=run_id
    )
    stober = StoberSimulator(
        seed=seed,
        duration_s=duration_s,
        interval_s=EIS_INTERVAL_S,
        run_id=run_id,
        start=gold.start,
    )
    temp = Descriptor(
        run_id=run_id,
        t=gold.start,
        sensor_id="temp1",
        kind="scalar",
        value_units="degC",
        quantity="temperature",
        expected_interval_s=TEMP_INTERVAL_S,
    )
    yield gold.run_start()
    yield gold.descriptor()
    yield stober.descriptor()
    yield temp
    streams = [
        (m for m in gold.messages() if isinstance(m, Reading)),
        (m for m in stober.messages() if isinstance(m, Reading)),
        _temperature(gold.start, seed, duration_s, run_id),
    ]
    yield from heapq.merge(*streams, key=lambda m: (m.t, m.sensor_id))
    yield RunStop(
        run_id=run_id,
        t=gold.start + timedelta(seconds=duration_s),
        status="success",
        reason="soak simulation finished",
    )


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class HourProbe:
    """Called for every message: at each simulated hour boundary, note wall time, count, RSS."""

    def __init__(self, t0, hours: float, progress=None, task=None):
        self.t0 = t0
        self.last_hour = max(0, int(round(hours * 3600)) // 3600 - 1) if hours >= 1 else 0
        self.n = 0
        self.hour = 0
        self.marks: list[dict[str, float]] = []
        self.wall0 = time.perf_counter()
        self.cpu0 = time.process_time()
        self.progress, self.task = progress, task

    def mark(self) -> None:
        self.marks.append(
            {
                "hour": self.hour,
                "messages": self.n,
                "wall_s": time.perf_counter() - self.wall0,
                "cpu_s": time.process_time() - self.cpu0,
                "rss_mib": _rss_mib(),
            }
        )

    def __call__(self, msg: Message, worker) -> None:
        # the RunStop at exactly the end belongs to the last hour
        hour = min(int((msg.t - self.t0).total_seconds() // 3600), self.last_hour)
        while hour > self.hour:  # the message opens a new hour: close the previous ones
            self.mark()
            self.hour += 1
        self.n += 1
        if self.n % 2000 == 0 and self.progress is not None:
            self.progress.update(self.task, completed=(msg.t - self.t0).total_seconds())

    def finish(self) -> None:
        if not self.marks or self.marks[-1]["messages"] < self.n:
            self.mark()


def per_hour(marks: list[dict[str, float]]) -> list[dict[str, float]]:
    out = []
    prev = {"messages": 0, "wall_s": 0.0, "cpu_s": 0.0}
    for m in marks:
        n = m["messages"] - prev["messages"]
        dt = m["wall_s"] - prev["wall_s"]
        dcpu = m["cpu_s"] - prev["cpu_s"]
        out.append(
            {
                "hour": m["hour"],
                "messages": n,
                "wall_s": dt,
                "us_per_message": 1e6 * dt / n if n else float("nan"),
                "cpu_us_per_message": 1e6 * dcpu / n if n else float("nan"),
                "rss_mib": m["rss_mib"],
            }
        )
        prev = m
    return out


def record(path: Path, seed: int, hours: float) -> float:
    """Write the simulated day's input (no models) into a store at ``path``: the recording a
    replay reads. Returns the wall time it took (not part of the soak's figures)."""
    started = time.perf_counter()
    with Store(path) as rec:
        for msg in soak_messages(seed, hours):
            rec.add(msg)
        rec.flush()
    return time.perf_counter() - started


def run(
    seed: int, hours: float, models: str, show_progress: bool, source: str = "store"
) -> dict[str, Any]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    registry = MODEL_SETS[models]
    with tempfile.TemporaryDirectory(prefix="bench_soak_") as tmp, ExitStack() as stack:
        recording_s = None
        if source == "store":  # the recorded day, replayed by synthwatch's replay path
            rec_path = Path(tmp) / "recording.sqlite"
            recording_s = record(rec_path, seed, hours)
            recorded = StoreSource(stack.enter_context(Store(rec_path, readonly=True)), RUN_ID)
            t0 = recorded.start.t
        else:
            messages = soak_messages(seed, hours)
            first = next(messages)
            t0 = first.t
        load0 = list(os.getloadavg())
        progress = Progress(
            TextColumn("soak"),
            BarColumn(),
            TextColumn("{task.completed:.0f}/{task.total:.0f} simulated s"),
            TimeElapsedColumn(),
            transient=True,
            disable=not show_progress,
        )
        task = progress.add_task("soak", total=hours * 3600.0)
        probe = HourProbe(t0, hours, progress, task)
        cpu0 = time.process_time()
        with progress, Store(Path(tmp) / "soak.sqlite") as store:
            if source == "store":
                result = replay(
                    recorded,
                    store,
                    tag="soak",
                    as_run_id=RUN_ID + "-replay",
                    model_factory=registry,
                    on_message=lambda msg: probe(msg, None),
                )
                run_id = result.run_id
            else:
                result = run_embedded(
                    chain([first], messages),
                    [store],
                    speed=0.0,
                    on_message=probe,
                    model_factory=registry,
                )
                run_id = RUN_ID
            n_messages = result.messages
            probe.finish()  # the last hour ends with the input
            wall = time.perf_counter() - probe.wall0
            counts = {
                what: store.count(what, run_id) for what in ("readings", "estimates", "alerts")
            }
            integrity = store.integrity_check()
        cpu = time.process_time() - cpu0
    hourly = per_hour(probe.marks)
    first_h, last_h = hourly[0], hourly[-1]
    return {
        "models": models,
        "source": source,
        "recording_wall_s": recording_s,
        "hours": hours,
        "seed": seed,
        "messages": n_messages,
        "wall_s": wall,
        "cpu_s": cpu,
        "realtime_factor": hours * 3600.0 / wall,
        "messages_per_s": result.messages / wall,
        "peak_rss_mib": _peak_rss_mib(),
        "rss_hour1_mib": first_h["rss_mib"],
        "rss_last_hour_mib": last_h["rss_mib"],
        "rss_growth_pct": 100 * (last_h["rss_mib"] / first_h["rss_mib"] - 1),
        "us_per_message_hour1": first_h["us_per_message"],
        "us_per_message_last_hour": last_h["us_per_message"],
        "time_per_message_change_pct": 100
        * (last_h["us_per_message"] / first_h["us_per_message"] - 1),
        "cpu_us_per_message_hour1": first_h["cpu_us_per_message"],
        "cpu_us_per_message_last_hour": last_h["cpu_us_per_message"],
        "cpu_per_message_change_pct": 100
        * (last_h["cpu_us_per_message"] / first_h["cpu_us_per_message"] - 1),
        "load_average_start": load0,
        "load_average_end": list(os.getloadavg()),
        "stored": counts,
        "integrity_check": integrity,
        "hourly": hourly,
    }


def source_only(seed: int, hours: float) -> float:
    started = time.perf_counter()
    n = sum(1 for _ in soak_messages(seed, hours))
    assert n > 0
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hours", type=float, default=24.0, help="simulated hours (default 24)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models", choices=tuple(MODEL_SETS), default="all")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--no-source-timing", action="store_true", help="skip the generation pass")
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument(
        "--source",
        choices=("store", "simulator"),
        default="store",
        help="store: record the simulated day first (untimed), then time synthwatch's replay "
        "of the recording (default); simulator: feed the simulator's messages directly "
        "(its generation timed too)",
    )
    args = ap.parse_args(argv)
    if not (0 < args.hours <= 48):
        ap.error(f"--hours: expected 0 < hours <= 48, got {args.hours}")
    out: dict[str, Any] = {
        "command": "python " + " ".join([sys.argv[0], *(argv or sys.argv[1:])]),
        "machine": machine_info(),
    }
    out["result"] = run(args.seed, args.hours, args.models, not args.no_progress, args.source)
    if not args.no_source_timing:
        out["source_only_wall_s"] = source_only(args.seed, args.hours)
    r = out["result"]
    print(
        f"{r['hours']:g} h, models={r['models']}: {r['messages']} messages in {r['wall_s']:.1f} s "
        f"wall ({r['cpu_s']:.1f} s CPU), {r['realtime_factor']:.0f}x real time; peak RSS "
        f"{r['peak_rss_mib']:.0f} MiB; RSS hour 1 {r['rss_hour1_mib']:.0f} MiB -> last hour "
        f"{r['rss_last_hour_mib']:.0f} MiB ({r['rss_growth_pct']:+.1f} %); per message "
        f"{r['us_per_message_hour1']:.0f} us -> {r['us_per_message_last_hour']:.0f} us "
        f"({r['time_per_message_change_pct']:+.1f} %); CPU per message "
        f"{r['cpu_us_per_message_hour1']:.0f} us -> {r['cpu_us_per_message_last_hour']:.0f} us "
        f"({r['cpu_per_message_change_pct']:+.1f} %); integrity {r['integrity_check']}; "
        f"load {r['load_average_start'][0]:.1f} -> {r['load_average_end'][0]:.1f}"
    )
    if r["recording_wall_s"] is not None:
        print(f"recording the simulated day (untimed): {r['recording_wall_s']:.1f} s")
    if "source_only_wall_s" in out:
        print(f"generating the input alone: {out['source_only_wall_s']:.1f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
