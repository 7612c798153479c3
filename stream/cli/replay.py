"""``synthwatch replay``: re-estimate a stored run, a folder of exports, or a Kafka window.

``synthwatch replay RUN``                 re-estimate a stored run with today's models
``synthwatch replay --folder DIR ...``    a folder of UV-Vis / impedance exports as a run
``synthwatch replay kafka --from T0 --to T1 [--run RUN]``  runs on the Kafka topics, a time window
                                          (:mod:`synthwatch.stream.cli.replay_kafka`)

A replay lands in a new run ``<run>:<tag>`` (see :mod:`synthwatch.stream.replay.recorded`); the
original is never written to. Mistakes end in one line on stderr and exit status 2; Ctrl-C keeps
what was stored (exit 130), and so does SIGTERM during a replay (exit 143).
"""

from __future__ import annotations

import argparse
import signal
from pathlib import Path

from synthwatch.contract.config import Config
from synthwatch.contract.errors import UsageError
from synthwatch.contract.messages import SYSTEMS, Message
from synthwatch.stream.cli.args import parse_replay_speed, parse_time, parse_tz, positive
from synthwatch.stream.cli.common import load, progress, stderr, stdout
from synthwatch.stream.cli.folder_summary import NoReading, folder_summary

NAME = "replay"
HELP = "re-estimate a stored run (or a folder of exports) with today's models"
DESCRIPTION = "The replay lands in a new run <run>:<tag>; the original is never changed."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """RUN or --folder DIR, the replay's options, and those of ``replay kafka``."""
    parser.add_argument("run_id", metavar="RUN", nargs="?", help="a run of the store to replay")
    parser.add_argument("--folder", type=Path, help="replay a folder of UV-Vis/impedance exports")
    parser.add_argument("--system", choices=SYSTEMS, help="chemistry of a folder's run (required)")
    parser.add_argument("--reactor", default="replay", help="reactor name of a folder's run")
    parser.add_argument(
        "--tz", type=parse_tz, help="zone of the instrument PC for times without one"
    )
    parser.add_argument("--start", type=parse_time, help="run start, for CSV columns in seconds")
    parser.add_argument(
        "--dark", type=Path, metavar="FILE", help="dark spectrum of raw-count UV-Vis exports"
    )
    parser.add_argument(
        "--reference", type=Path, metavar="FILE", help="reference (blank) of raw-count exports"
    )
    parser.add_argument("--path-length-cm", type=positive, default=1.0, help="UV-Vis cell (1 cm)")
    parser.add_argument("--cell-constant-per-cm", type=positive, help="impedance cell constant")
    parser.add_argument("--tag", help="tag of the replay run (default replay-v<version>)")
    parser.add_argument("--as", dest="as_run_id", metavar="RUN_ID", help="name the replay run")
    parser.add_argument(
        "--speed",
        type=parse_replay_speed,
        default=0.0,
        help="'realtime', a factor such as 60, or 'max' (default: as fast as possible)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    kafka = parser.add_argument_group(
        "replay kafka --from T0 --to T1 (stream/replay/from_kafka.py)"
    )
    kafka.add_argument("--from", dest="t_from", type=parse_time, help="window start (event time)")
    kafka.add_argument("--to", dest="t_to", type=parse_time, help="window end (event time)")
    kafka.add_argument("--run", dest="kafka_run", metavar="RUN", help="the run (default: all)")
    kafka.add_argument(
        "--timeout", type=positive, default=30.0, help="s a partition may stay silent (30)"
    )


class Terminated(KeyboardInterrupt):
    """SIGTERM during a replay (a supervisor stopping it): taken as Ctrl-C, so what went through
    is kept and the run is closed as aborted; the exit status is 143 (128 + SIGTERM)."""

    exit_status = 143


def _terminate(signum, frame) -> None:
    raise Terminated


def run(args: argparse.Namespace) -> int:
    """Replay (SIGTERM taken as Ctrl-C meanwhile)."""
    cfg = load(args)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _replay(cfg, args)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _not_a_path(cfg: Config, run_id: str) -> None:
    """A UsageError when RUN names a file or folder rather than a run of the store."""
    from synthwatch.stream.store.embedded import Store, UnknownRunError

    if not Path(run_id).exists():
        return
    if Path(cfg.store.path).exists():
        with Store(cfg.store.path, readonly=True) as store:
            try:
                store.run(run_id)
                return
            except UnknownRunError:
                pass
    raise UsageError(
        f"{run_id!r} is a path, not a stored run: replay a folder of exports with "
        f"`synthwatch replay --folder {run_id} --system ...`"
    )


def _replay(cfg: Config, args: argparse.Namespace) -> int:
    from synthwatch.stream.cli.replay_kafka import replay_kafka
    from synthwatch.stream.replay.recorded import FolderSource, ReplayError, StoreSource, replay
    from synthwatch.stream.runtime.alerting import registry_from_config
    from synthwatch.stream.store.embedded import Store

    console, err = stdout(), stderr()
    if (args.run_id == "kafka" and (args.t_from or args.t_to)) or args.kafka_run:
        return replay_kafka(cfg, args, console, err)
    if args.t_from or args.t_to:
        raise UsageError("synthwatch replay: --from/--to apply to `synthwatch replay kafka`")
    if (args.run_id is None) == (args.folder is None):
        raise UsageError("synthwatch replay: give a stored RUN or --folder DIR (one of them)")
    if args.folder is not None and args.system is None:
        raise UsageError("synthwatch replay: --folder needs --system (the run's chemistry)")
    if args.folder is None and args.system is not None:
        raise UsageError("synthwatch replay: --system applies to --folder replays")
    if args.run_id is not None:
        _not_a_path(cfg, args.run_id)
    if args.run_id is not None and not Path(cfg.store.path).exists():
        raise UsageError(f"synthwatch replay: no store at {cfg.store.path}")
    registry = registry_from_config(cfg)  # the [models] switches, alert rules, golden batches
    with Store(cfg.store.path, commit_interval_s=cfg.store.commit_interval_s) as store:
        try:
            if args.folder is not None:
                source = FolderSource(
                    args.folder,
                    system=args.system,
                    reactor=args.reactor,
                    tz=args.tz,
                    start=args.start,
                    dark=args.dark,
                    reference=args.reference,
                    path_length_cm=args.path_length_cm,
                    cell_constant_per_cm=args.cell_constant_per_cm,
                )
            else:
                source = StoreSource(store, args.run_id)
        except ReplayError as e:
            raise UsageError(f"synthwatch replay: {e}") from None
        total = source.count()
        show = not args.no_progress and err.is_terminal
        bar = progress(err, show)
        task = bar.add_task("replay", total=total)

        def on_message(msg: Message) -> None:
            if getattr(msg, "seq", None) is not None:
                bar.advance(task)

        try:
            with bar:
                result = replay(
                    source,
                    store,
                    tag=args.tag,
                    as_run_id=args.as_run_id,
                    speed=args.speed,
                    model_factory=registry,
                    reorder_window_s=cfg.worker.reorder_window_s,
                    max_batch=cfg.worker.max_batch,
                    on_message=on_message,
                )
        except ReplayError as e:
            raise UsageError(f"synthwatch replay: {e}") from None
        except BaseException:  # failed or interrupted: what the folder gave so far, then why
            if args.folder is not None:
                folder_summary(console, source.tally)
            raise
        if args.folder is not None:
            folder_summary(console, source.tally)
        n_est = store.count("estimates", result.run_id)
    rejected = f", {result.rejected} dead-lettered" if result.rejected else ""
    console.print(
        f"replayed {result.source_run_id} into run {result.run_id}: {result.readings} readings, "
        f"{n_est} estimates in {result.wall_s:.1f} s{rejected}",
        markup=False,
    )
    if args.folder is not None and result.readings == 0:
        raise NoReading(
            f"synthwatch replay: no reading taken from {args.folder}: every export was refused "
            f"(listed above; `synthwatch deadletters {result.run_id}`); run {result.run_id} "
            "closed as failed"
        )
    console.print(
        f"see it with: synthwatch show {result.run_id}; "
        f"synthwatch compare {result.source_run_id} {result.run_id}"
        if args.folder is None
        else f"see it with: synthwatch show {result.run_id}"
        + (f"; synthwatch deadletters {result.run_id}" if result.rejected else ""),
        markup=False,
    )
    return 0
