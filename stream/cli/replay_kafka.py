"""``synthwatch replay kafka --from T0 --to T1 [--run RUN]``: runs on the Kafka topics, a window.

Each run of the window (``--run``, or every run open at some time between T0 and T1) is read
from the broker ([kafka] settings) by :class:`~synthwatch.stream.replay.from_kafka.KafkaSource` and
replayed into a new run ``<run>:<tag>`` of the embedded store, with the options of the other
replays (``--speed``, ``--tag``, ``--as`` for a single run). Records that do not decode are
dead-lettered in the store and listed by topic, partition and offset. A broker that cannot be
reached is a KafkaTransportError (exit 1); a mistake in the options, a UsageError (exit 2).
"""

from __future__ import annotations

import argparse

from rich.console import Console

from synthwatch.contract.config import Config
from synthwatch.contract.errors import UsageError
from synthwatch.contract.messages import Message, Reading
from synthwatch.stream.cli.common import progress
from synthwatch.stream.runtime.alerting import registry_from_config
from synthwatch.stream.store.embedded import Store

#: rejected records listed one per line; the rest are counted
SHOWN_REJECTED = 10


def replay_kafka(cfg: Config, args: argparse.Namespace, console: Console, err: Console) -> int:
    """Replay the runs of the window (``synthwatch replay kafka``); 0 when done."""
    from synthwatch.stream.replay.from_kafka import KafkaSource, runs_in_window
    from synthwatch.stream.replay.recorded import ReplayError, replay

    if args.run_id != "kafka":
        raise UsageError("synthwatch replay: --run applies to `synthwatch replay kafka`")
    if args.t_from is None or args.t_to is None:
        raise UsageError("synthwatch replay kafka: give the window, --from T0 and --to T1")
    if args.folder is not None or args.system is not None:
        raise UsageError("synthwatch replay kafka: --folder/--system apply to folder replays")
    registry = registry_from_config(cfg)
    try:
        runs = (
            [args.kafka_run]
            if args.kafka_run
            else runs_in_window(cfg.kafka, args.t_from, args.t_to, timeout_s=args.timeout)
        )
        if not runs:
            raise UsageError(
                f"synthwatch replay kafka: no run on the topics between "
                f"{args.t_from.isoformat()} and {args.t_to.isoformat()}"
            )
        if args.as_run_id and len(runs) > 1:
            raise UsageError(
                f"synthwatch replay kafka: --as names one run, the window has {len(runs)} "
                f"({', '.join(runs)}); pick one with --run"
            )
        with Store(cfg.store.path, commit_interval_s=cfg.store.commit_interval_s) as store:
            for run_id in runs:
                source = KafkaSource(
                    cfg.kafka,
                    run_id,
                    args.t_from,
                    args.t_to,
                    speed=args.speed,
                    timeout_s=args.timeout,
                )
                bar = progress(err, not args.no_progress and err.is_terminal)
                task = bar.add_task("replay", total=None)

                def on_message(msg: Message, bar=bar, task=task) -> None:
                    if isinstance(msg, Reading):
                        bar.advance(task)

                with bar:
                    result = replay(
                        source,
                        store,
                        tag=args.tag,
                        as_run_id=args.as_run_id,
                        speed=0.0,  # the source paces from the window's first reading
                        model_factory=registry,
                        reorder_window_s=cfg.worker.reorder_window_s,
                        max_batch=cfg.worker.max_batch,
                        on_message=on_message,
                    )
                n_est = store.count("estimates", result.run_id)
                console.print(
                    f"replayed {run_id} from kafka into run {result.run_id}: "
                    f"{result.readings} readings, {n_est} estimates in {result.wall_s:.1f} s"
                )
                if source.rejected:
                    console.print(
                        f"{len(source.rejected)} records did not decode or were not the run's "
                        "(dead-lettered in the store):"
                    )
                    for rejected in source.rejected[:SHOWN_REJECTED]:
                        console.print(f"  {rejected}", markup=False, highlight=False)
                    if len(source.rejected) > SHOWN_REJECTED:
                        console.print(f"  ... and {len(source.rejected) - SHOWN_REJECTED} more")
    except ReplayError as e:
        raise UsageError(f"synthwatch replay kafka: {e}") from None
    return 0
