"""``synthwatch work``: a worker in the Kafka consumer group, until SIGTERM or Ctrl-C.

    synthwatch work [--max-runtime S] [--no-publish]

It owns the runs of the partitions the group assigns it, runs their models, writes the results
to the embedded store (``store.path``) and InfluxDB when enabled, publishes estimates and alerts
on their topics (unless ``--no-publish``), and checkpoints every ``kafka.checkpoint_interval_s``
(stream/runtime/kafka_worker.py). On SIGTERM it checkpoints and leaves the group, so another worker
takes its runs over at once; after a SIGKILL the group notices within
``kafka.session_timeout_ms``.

Before it joins, the worker looks for a broker for at most a few seconds (``--max-runtime`` if
shorter): with none reachable it ends in one line naming the bootstrap servers, exit status 1,
rather than in kafka-python's retries.
"""

from __future__ import annotations

import argparse
import signal
import time

from synthwatch.stream.cli.common import BROKER_PROBE_S, load, probe_broker, stdout

NAME = "work"
HELP = "run a worker in the Kafka consumer group"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-runtime", type=float, default=None, help="leave after this many seconds"
    )
    parser.add_argument(
        "--no-publish", action="store_true", help="do not publish estimates and alerts to Kafka"
    )


def run(args: argparse.Namespace) -> int:
    cfg, console = load(args), stdout()
    budget = BROKER_PROBE_S if args.max_runtime is None else min(BROKER_PROBE_S, args.max_runtime)
    probe_broker(cfg.kafka, budget)

    from synthwatch.stream.runtime.alerting import registry_from_config
    from synthwatch.stream.runtime.kafka_worker import KafkaWorker, limit_blas_threads
    from synthwatch.stream.runtime.worker import Worker
    from synthwatch.stream.sinks.influx import influx_sinks
    from synthwatch.stream.store.embedded import Store
    from synthwatch.stream.transport.kafka_topics import describe

    limit_blas_threads(cfg.kafka.blas_threads)

    stop = {"now": False}

    def on_signal(signum, frame) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, on_signal)
    deadline = None if args.max_runtime is None else time.monotonic() + args.max_runtime
    registry = registry_from_config(cfg)
    with (
        Store(cfg.store.path, commit_interval_s=cfg.store.commit_interval_s) as store,
        influx_sinks(cfg.influxdb) as influx,
    ):

        def make_worker(transport) -> Worker:
            return Worker(
                transport,
                [store, *influx],
                reorder_window_s=cfg.worker.reorder_window_s,
                model_factory=registry,
                publish=not args.no_publish,
            )

        node = KafkaWorker(cfg.kafka, make_worker, max_batch=cfg.worker.max_batch)
        console.print(
            f"worker in group {cfg.kafka.group_id!r} at {describe(cfg.kafka)}; "
            f"store {cfg.store.path}"
        )
        try:
            node.run(lambda: stop["now"] or (deadline is not None and time.monotonic() > deadline))
        except KeyboardInterrupt:
            node.close()
            raise
    t = node.worker.totals
    console.print(
        f"worker left the group: {t.received} messages, {t.estimates} estimates, "
        f"{t.alerts} alerts, {t.deadlettered} dead-lettered, {node.refusals} files collectors "
        f"refused stored with their runs, {node.restored} runs restored from "
        f"checkpoints, {node.skipped} records they covered skipped, "
        f"{node.checkpoints_written} checkpoints written"
    )
    return 0
