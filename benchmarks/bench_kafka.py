"""Kafka: worker throughput beside a bare kafka-python loop, and end-to-end latency.

Needs a broker: ``scripts/services.sh start kafka`` (address from
``$SYNTHWATCH_TEST_KAFKA_BOOTSTRAP`` or ``.services/env``). Every part deletes and recreates the
synthwatch topics first.

Throughput (records/s, from the first record received to the last one handled and flushed):

* ``bare loop``: kafka-python's KafkaConsumer in a group, every record produced again
  (acks=all, idempotent) to another topic, nothing decoded: the ceiling of any kafka-python
  application on these records.
* ``worker, models on``: ``synthwatch work``'s KafkaWorker with the default models, the
  embedded store and estimates published, on the same records.
* ``worker, models off``: the same with every model switched off (decode, route, store).

``--profile`` adds a models-on run under cProfile that splits its time into the models
(building them at each run's first message, and updating them) and the rest;
``--pure-python-crc`` makes kafka-python compute record CRCs in Python, as it does without
the crc32c package (the ceiling before crc32c became a dependency).

Latency: ``--reactors`` simulated reactors, one spectrum per second each, paced in real time
(event time = wall time), two workers (subprocesses, each with its own store file as on two
hosts; ``--shared-store`` for one file), reorder window ``--reorder-window``. Per reading,
from its event time to the moment its ``uvvis_features`` estimate was handed to the store
(committed within ``store.commit_interval_s`` = 0.5 s more). Reported: all readings; the
first of each run (it builds the run's models; all runs start together, so they queue); the
first ``--warmup`` s and the rest ("steady"); after the last run's first estimate; and p50/p99
per 10 s. ``--py-spy PREFIX`` profiles the workers (``pip install py-spy``).

    python benchmarks/bench_kafka.py --part throughput --runs 8 --spectra 150
    python benchmarks/bench_kafka.py --part latency --reactors 100 --duration 60 --warmup 30
    python benchmarks/bench_kafka.py --part models --runs 12 --spectra 300   # no broker

``models`` splits the models-on time by run-level model and counts the kinetics' fits that stop
at scipy's evaluation limit, on the throughput part's records through the embedded pipeline.
"""

from __future__ import annotations

import argparse
import cProfile
import heapq
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "stream"))

from kafka import KafkaConsumer, KafkaProducer  # noqa: E402
from kafka_helpers import fresh_topics  # noqa: E402

from synthwatch.collectors.sim.scenarios import simulate  # noqa: E402
from synthwatch.contract.config import KafkaConfig, load_config  # noqa: E402
from synthwatch.contract.messages import Estimate  # noqa: E402
from synthwatch.stream.cli.collect import publish  # noqa: E402
from synthwatch.stream.runtime.alerting import registry_from_config  # noqa: E402
from synthwatch.stream.runtime.kafka_worker import KafkaWorker, limit_blas_threads  # noqa: E402
from synthwatch.stream.runtime.worker import Worker  # noqa: E402
from synthwatch.stream.store.embedded import Store  # noqa: E402
from synthwatch.stream.transport.kafka_topics import KafkaTransport  # noqa: E402
from synthwatch.stream.transport.memory import ESTIMATES_TOPIC, INPUT_TOPICS  # noqa: E402


def bootstrap_address() -> str:
    if b := os.environ.get("SYNTHWATCH_TEST_KAFKA_BOOTSTRAP"):
        return b
    env = Path(os.environ.get("SYNTHWATCH_SERVICES_DIR") or ROOT / ".services") / "env"
    for line in env.read_text().splitlines():
        if line.startswith("SYNTHWATCH_TEST_KAFKA_BOOTSTRAP="):
            return line.split("=", 1)[1]
    raise SystemExit("no Kafka: run scripts/services.sh install kafka && start kafka")


def registry(models: bool):
    env = {}
    if not models:
        env = {
            f"SYNTHWATCH_MODELS__{k.upper()}": "false"
            for k in ("psd_lognormal", "shape", "impedance_fit", "calibration", "kinetics")
        }
        env["SYNTHWATCH_MODELS__PSD_NNLS_EVERY"] = "0"
        env["SYNTHWATCH_ALERTS__ENABLED"] = "false"
    return registry_from_config(load_config(env=env, path=None))


def load(bootstrap: str, runs: int, spectra: int, partitions: int) -> tuple[KafkaConfig, int]:
    cfg = fresh_topics(
        bootstrap, partitions=partitions, checkpoint_interval_s=10.0, blas_threads=BLAS_THREADS
    )
    sims = [
        simulate("gold", seed=i, duration_s=2.0 * spectra, run_id=f"bench-{i}") for i in range(runs)
    ]
    producer = KafkaTransport(cfg)
    n = publish(heapq.merge(*(s.messages() for s in sims), key=lambda m: m.t), producer)
    producer.close()
    return cfg, n


def bare_loop(cfg: KafkaConfig, n: int) -> float:
    consumer = KafkaConsumer(
        *INPUT_TOPICS,
        bootstrap_servers=cfg.bootstrap_servers,
        group_id=f"bare-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    producer = KafkaProducer(
        bootstrap_servers=cfg.bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        batch_size=256 * 1024,  # as the transport's producer
    )
    seen, t0 = 0, None
    while seen < n:
        for records in consumer.poll(timeout_ms=200, max_records=500).values():
            if t0 is None:
                t0 = time.perf_counter()
            for r in records:
                producer.send(ESTIMATES_TOPIC, key=r.key, value=r.value)
            seen += len(records)

    producer.flush()
    dt = time.perf_counter() - t0
    consumer.close()
    producer.close()
    return n / dt


#: kafka.blas_threads of the benchmark's workers: two workers, the broker and the collector
#: share 2 cores, where OpenBLAS's own threads only contend (building a run's models: 5 ms with
#: one thread, 24 ms with two)
BLAS_THREADS = 1

#: A worker that receives nothing for this long is stuck (seen once: kafka-python 3.0.12
#: looking for the group coordinator of a new group without end, right after the topics were
#: deleted and created again): the part fails instead of waiting forever.
STALL_S = 120.0


def worker_loop(cfg: KafkaConfig, n: int, models: bool, tmp: Path) -> float:
    limit_blas_threads(cfg.blas_threads)  # as `synthwatch work` does (BLAS_THREADS below)
    reg = registry(models)
    with Store(tmp / f"store-{uuid.uuid4().hex[:6]}.sqlite") as store:
        node = KafkaWorker(cfg, lambda tr: Worker(tr, [store], model_factory=reg))
        t0 = None
        last = time.monotonic()
        while node.worker.totals.received + node.skipped < n:
            got = node.step()
            if got and t0 is None:
                t0 = time.perf_counter()
            if got:
                last = time.monotonic()
            elif time.monotonic() - last > STALL_S:
                raise SystemExit(
                    f"worker: nothing received for {STALL_S} s "
                    f"({node.worker.totals.received + node.skipped} of {n} records; "
                    f"partitions {sorted(node.partitions)}): run the part again"
                )
        node.worker.flush()
        dt = time.perf_counter() - t0
        node.close()
    return n / dt


def pure_python_crc() -> None:
    """kafka-python's CRC-32C in Python, as without the crc32c package (the old ceiling)."""
    from kafka.record import _crc32c, util

    util.calc_crc32c.__defaults__ = (_crc32c.crc,)


def model_split(stats: pstats.Stats) -> tuple[float, float]:
    """(s in the models, s building them), from the calls stream/runtime/worker.py makes into
    them."""
    in_models = building = 0.0
    for (filename, _, name), (_, _, _, _, callers) in stats.stats.items():
        if "/models/" not in filename and not filename.endswith("runtime/registry.py"):
            continue
        for (caller_file, _, _), (_, _, _, cumtime) in callers.items():
            if caller_file.endswith("stream/runtime/worker.py"):
                in_models += cumtime
                if name in ("__call__", "run_models"):
                    building += cumtime
    return in_models, building


def profiled_worker_loop(cfg: KafkaConfig, n: int, tmp: Path) -> float:
    """The models-on worker under cProfile: how much of its time the models take."""
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    worker_loop(cfg, n, True, tmp)
    prof.disable()
    total = time.perf_counter() - t0
    in_models, building = model_split(pstats.Stats(prof))
    print(
        f"profiled (cProfile) models-on worker: {total:.1f} s in all, {in_models:.1f} s in the "
        f"models ({in_models / total:.0%}; building them at each run's first message "
        f"{building:.1f} s), {total - in_models:.1f} s elsewhere (Kafka, decoding, store, "
        "checkpoints)"
    )
    return n / total


def throughput(args) -> dict:
    if args.pure_python_crc:
        pure_python_crc()
    bootstrap = bootstrap_address()
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, fn in (
            ("bare loop", lambda cfg, n: bare_loop(cfg, n)),
            ("worker, models off", lambda cfg, n: worker_loop(cfg, n, False, Path(tmp))),
            ("worker, models on", lambda cfg, n: worker_loop(cfg, n, True, Path(tmp))),
            *(
                [("profiled", lambda cfg, n: profiled_worker_loop(cfg, n, Path(tmp)))]
                if args.profile
                else []
            ),
        ):
            cfg, n = load(bootstrap, args.runs, args.spectra, args.partitions)
            rate = fn(cfg, n)
            out[name] = rate
            print(f"{name}: {n} records, {rate:,.0f} records/s", flush=True)
    for name in ("worker, models off", "worker, models on"):
        print(f"{name} / bare loop = {out[name] / out['bare loop']:.3f}")
    print(f"load average {os.getloadavg()[0]:.2f}")
    return out


# -- models (no broker) -----------------------------------------------------------------------


def models(args) -> dict:
    """Where the models-on worker's time goes, without Kafka: the throughput part's records
    (``--runs`` gold runs of ``--spectra`` spectra, 2 s apart) through the embedded pipeline
    with the default models, ``perf_counter`` around each run-level model's ``update``, and a
    census of the kinetics' ``least_squares`` fits: how many stopped at scipy's evaluation
    limit (``status`` 0, which ``fit_curve`` rejects) and the time they took."""
    from scipy.optimize import OptimizeResult

    from synthwatch.models.kinetics import fit as kinetics_fit
    from synthwatch.stream.runtime.pipeline import run_embedded
    from synthwatch.stream.runtime.registry import ModelRegistry

    spent: dict[str, float] = {}
    fits: list[tuple[int, int, float]] = []  # (status, nfev, s)

    def timed(model):
        update, name = model.update, type(model).__name__

        def update_timed(msg) -> None:
            t = time.perf_counter()
            update(msg)
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - t

        model.update = update_timed
        return model

    class Timed(ModelRegistry):
        def run_models(self, start):
            return [timed(m) for m in super().run_models(start)]

    least_squares = kinetics_fit.least_squares

    def counted(*a, **kw) -> OptimizeResult:
        t = time.perf_counter()
        res = least_squares(*a, **kw)
        fits.append((int(res.status), int(res.nfev), time.perf_counter() - t))
        return res

    sims = [
        simulate("gold", seed=i, duration_s=2.0 * args.spectra, run_id=f"bench-{i}")
        for i in range(args.runs)
    ]
    msgs = list(heapq.merge(*(s.messages() for s in sims), key=lambda m: m.t))
    kinetics_fit.least_squares = counted
    try:
        with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "m.sqlite") as store:
            t0 = time.perf_counter()
            result = run_embedded(msgs, [store], model_factory=Timed())
            total = time.perf_counter() - t0
    finally:
        kinetics_fit.least_squares = least_squares
    n = result.messages
    capped = [f for f in fits if f[0] == 0]
    converged = sorted(f[1] for f in fits if f[0] > 0)
    out = {
        "messages": n,
        "total_s": total,
        "run_models_s": spent,
        "fits": len(fits),
        "fits_at_max_nfev": len(capped),
        "fits_at_max_nfev_s": sum(f[2] for f in capped),
        "fits_s": sum(f[2] for f in fits),
        "converged_nfev": converged,
    }
    print(f"{n} messages through the embedded pipeline in {total:.1f} s")
    for name, s in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"  {name}: {s:.2f} s ({s / total:.0%})")
    print(
        f"kinetics fits: {len(fits)}, {out['fits_s']:.1f} s; stopped at max_nfev (rejected): "
        f"{len(capped)}, {out['fits_at_max_nfev_s']:.1f} s; converged: {len(converged)}, "
        f"evaluations {converged[:1]}..{converged[-1:]}, "
        f"{sum(v > 118 for v in converged)} above 118"
    )
    return out


# -- latency ----------------------------------------------------------------------------------


def latency_worker(args) -> None:
    """One of the two workers: records (wall − event time) of each uvvis_features estimate."""
    cfg = KafkaConfig.model_validate_json(args.cfg_json)
    limit_blas_threads(cfg.blas_threads)  # as `synthwatch work` does
    reg = registry(True)
    lat: list[tuple[float, float, bool]] = []  # (event time, latency, first of its run)
    runs: set[str] = set()

    def on_output(msg) -> None:
        if isinstance(msg, Estimate) and msg.model == "uvvis_features":
            t = msg.t.timestamp()
            first = msg.run_id not in runs
            runs.add(msg.run_id)
            lat.append((t, time.time() - t, first))

    with Store(Path(args.store)) as store:
        node = KafkaWorker(
            cfg,
            lambda tr: Worker(tr, [store], model_factory=reg, reorder_window_s=args.reorder_window),
        )
        node.worker.on_output(on_output)
        deadline = time.monotonic() + args.duration + 30
        node.run(lambda: time.monotonic() > deadline or Path(args.done).exists())
    Path(args.out).write_text(json.dumps(lat))


def latency(args) -> dict:
    bootstrap = bootstrap_address()
    cfg = fresh_topics(
        bootstrap,
        partitions=args.partitions,
        checkpoint_interval_s=args.checkpoint_interval,
        blas_threads=BLAS_THREADS,
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        done = tmp / "done"
        procs, outs = [], []
        for i in range(2):
            out = tmp / f"lat-{i}.json"
            outs.append(out)
            cmd = [
                sys.executable,
                __file__,
                "--part",
                "latency-worker",
                "--cfg-json",
                cfg.model_dump_json(),
                "--store",
                str(tmp / ("store.sqlite" if args.shared_store else f"store-{i}.sqlite")),
                "--out",
                str(out),
                "--done",
                str(done),
                "--duration",
                str(args.duration),
                "--reorder-window",
                str(args.reorder_window),
            ]
            if args.py_spy:
                cmd = [
                    "py-spy",
                    "record",
                    "-r",
                    "50",
                    "-o",
                    f"{args.py_spy}-{i}.txt",
                    "-f",
                    "raw",
                    "--",
                    *cmd,
                ]
            procs.append(subprocess.Popen(cmd, env={**os.environ, "PYTHONWARNINGS": "ignore"}))
        time.sleep(10)  # both join the group, warm their optics cache
        start = datetime.now(timezone.utc) + timedelta(seconds=2)
        sims = [
            simulate(
                "gold",
                seed=i,
                duration_s=args.duration,
                interval_s=1.0,
                run_id=f"lat-{i}",
                reactor=f"R{i}",
                start=start,
            )
            for i in range(args.reactors)
        ]
        producer = KafkaTransport(cfg)
        behind: list[float] = []
        msgs = heapq.merge(*(s.messages() for s in sims), key=lambda m: m.t)

        def paced():
            for m in msgs:
                wait = m.t.timestamp() - time.time()
                if wait > 0:
                    time.sleep(wait)
                else:
                    behind.append(-wait)
                yield m

        publish(paced(), producer)
        producer.close()
        time.sleep(5)
        done.touch()
        for p in procs:
            p.wait(120)
        rows = [tuple(x) for out in outs for x in json.loads(out.read_text())]
    t0 = start.timestamp()

    def quantiles(xs: list[float]) -> dict:
        if len(xs) < 2:
            return {"n": len(xs)}
        q = statistics.quantiles(xs, n=100)
        return {
            "n": len(xs),
            "p50_ms": round(q[49] * 1000),
            "p99_ms": round(q[98] * 1000),
            "max_ms": round(max(xs) * 1000),
        }

    startup_done = max((t + x for t, x, first in rows if first), default=t0)
    res = {
        "reactors": args.reactors,
        "duration_s": args.duration,
        "spectra_expected": args.reactors * int(args.duration),
        "all": quantiles([x for _, x, _ in rows]),
        # a run's first spectrum builds its models (and, with many runs starting together,
        # waits behind the other runs' first spectra): the start-up
        "first_of_run": quantiles([x for _, x, first in rows if first]),
        "startup": quantiles([x for t, x, _ in rows if t - t0 < args.warmup]),
        # after the first --warmup s, by when every run has built its models
        "steady": quantiles([x for t, x, _ in rows if t - t0 >= args.warmup]),
        "warmup_s": args.warmup,
        # when the last run's first estimate came out: from then on every run has its models
        "startup_done_s": round(startup_done - t0, 1),
        "after_startup": quantiles([x for t, x, _ in rows if t > startup_done]),
        "collector_max_behind_ms": round(max(behind, default=0.0) * 1000),
        "checkpoint_interval_s": args.checkpoint_interval,
        "shared_store": args.shared_store,
        "loadavg_1_5_15": [round(x, 2) for x in os.getloadavg()],
        # per 10 s of event time: [start s, spectra, p50 ms, p99 ms] (where the tail comes from)
        "windows": [
            [k * 10, q["n"], q.get("p50_ms"), q.get("p99_ms")]
            for k in range(int(args.duration // 10))
            for q in [quantiles([x for t, x, _ in rows if k * 10 <= t - t0 < (k + 1) * 10])]
        ],
    }
    print(json.dumps(res))
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--part", choices=("throughput", "models", "latency", "latency-worker"), required=True
    )
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--spectra", type=int, default=150)
    ap.add_argument("--partitions", type=int, default=6)
    ap.add_argument("--reactors", type=int, default=100)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--reorder-window", type=float, default=0.0)
    ap.add_argument("--warmup", type=float, default=30.0)
    ap.add_argument("--checkpoint-interval", type=float, default=10.0)
    ap.add_argument(
        "--shared-store",
        action="store_true",
        help="both workers write one SQLite file (default: one each, as on two hosts)",
    )
    ap.add_argument(
        "--pure-python-crc",
        action="store_true",
        help="record CRCs in kafka-python's pure Python code, as without the crc32c package",
    )
    ap.add_argument("--profile", action="store_true", help="split the models-on time (cProfile)")
    ap.add_argument("--py-spy", help="profile the workers with py-spy into PREFIX-<i>.txt")
    ap.add_argument("--cfg-json")
    ap.add_argument("--store")
    ap.add_argument("--out")
    ap.add_argument("--done")
    args = ap.parse_args()
    if args.part == "throughput":
        throughput(args)
    elif args.part == "models":
        models(args)
    elif args.part == "latency":
        latency(args)
    else:
        latency_worker(args)


if __name__ == "__main__":
    main()
