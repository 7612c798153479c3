"""``synthwatch replay``, ``synthwatch report`` and ``synthwatch compare`` (parsers + dispatch).

``synthwatch replay RUN``                 re-estimate a stored run with today's models
``synthwatch replay --folder DIR ...``    a folder of UV-Vis / impedance exports as a run
``synthwatch replay kafka --from T0 --to T1 [--run RUN]``  runs on the Kafka topics, a time window
``synthwatch report RUN [-o FILE]``       one self-contained HTML report of a run
``synthwatch compare RUN RUN... [--html]`` trajectories side by side, similarity per pair

A replay lands in a new run ``<run>:<tag>`` (see :mod:`synthwatch.stream.replay.recorded`); the
original
is never written to. Errors end in one line on stderr and exit status 2; Ctrl-C keeps what was
stored (exit 130), and so does SIGTERM during a replay (exit 143).
"""

from __future__ import annotations

import argparse
import signal
from datetime import datetime, timedelta, timezone
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from synthwatch.contract.config import Config
from synthwatch.contract.messages import SYSTEMS, Message
from synthwatch.stream.runtime.alerting import registry_from_config
from synthwatch.stream.store.embedded import Store, StoreError, UnknownRunError

COMMANDS = ("replay", "report", "compare")


class CommandError(Exception):
    """A mistake a person made (bad option value, unknown run...): one line, exit 2."""


def parse_replay_speed(text: str) -> float:
    """``realtime`` → 1, ``max`` → 0 (as fast as possible), ``60`` or ``60x`` → 60."""
    t = text.strip().lower()
    if t in ("realtime", "real-time", "1x"):
        return 1.0
    if t == "max":
        return 0.0
    try:
        value = float(t.removesuffix("x"))
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(
            f"expected 'realtime', 'max' or a factor such as 60 (simulated s per wall s), "
            f"got {text!r}"
        )
    return value


def parse_tz(text: str) -> timezone:
    """``+01:00`` / ``-0500`` / ``UTC`` → a fixed zone."""
    t = text.strip().upper()
    if t in ("UTC", "Z", "GMT"):
        return timezone.utc
    try:
        sign = {"+": 1, "-": -1}[t[0]]
        digits = t[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:] or 0)
        if len(digits) not in (2, 4) or hours > 14 or minutes > 59:
            raise ValueError
    except (KeyError, ValueError, IndexError):
        raise argparse.ArgumentTypeError(
            f"expected a UTC offset such as +01:00 or -05:00, or UTC, got {text!r}"
        ) from None
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def parse_time(text: str) -> datetime:
    """ISO 8601, with a zone (``2026-11-25T09:00:00+01:00`` or ``...Z``)."""
    try:
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        t = None
    if t is None or t.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 time with its zone, e.g. 2026-11-25T09:00:00Z, got {text!r}"
        )
    return t.astimezone(timezone.utc)


def positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def add_parsers(sub) -> None:
    """Add the replay, report and compare subcommands to ``synthwatch``'s subparsers."""
    rp = sub.add_parser(
        "replay",
        help="re-estimate a stored run (or a folder of exports) with today's models",
        description="The replay lands in a new run <run>:<tag>; the original is never changed.",
    )
    rp.add_argument("run_id", metavar="RUN", nargs="?", help="a run of the store to replay")
    rp.add_argument("--folder", type=Path, help="replay a folder of UV-Vis/impedance exports")
    rp.add_argument("--system", choices=SYSTEMS, help="chemistry of a folder's run (required)")
    rp.add_argument("--reactor", default="replay", help="reactor name of a folder's run")
    rp.add_argument("--tz", type=parse_tz, help="zone of the instrument PC for times without one")
    rp.add_argument("--start", type=parse_time, help="run start, for CSV columns in seconds")
    rp.add_argument("--path-length-cm", type=positive, default=1.0, help="UV-Vis cell (1 cm)")
    rp.add_argument("--cell-constant-per-cm", type=positive, help="impedance cell constant")
    rp.add_argument("--tag", help="tag of the replay run (default replay-v<version>)")
    rp.add_argument("--as", dest="as_run_id", metavar="RUN_ID", help="name the replay run")
    rp.add_argument(
        "--speed",
        type=parse_replay_speed,
        default=0.0,
        help="'realtime', a factor such as 60, or 'max' (default: as fast as possible)",
    )
    rp.add_argument("--no-progress", action="store_true", help="no progress bar")
    kafka = rp.add_argument_group("replay kafka --from T0 --to T1 (stream/replay/from_kafka.py)")
    kafka.add_argument("--from", dest="t_from", type=parse_time, help="window start (event time)")
    kafka.add_argument("--to", dest="t_to", type=parse_time, help="window end (event time)")
    kafka.add_argument("--run", dest="kafka_run", metavar="RUN", help="the run (default: all)")
    kafka.add_argument(
        "--timeout", type=positive, default=30.0, help="s a partition may stay silent (30)"
    )

    rep = sub.add_parser("report", help="one self-contained HTML report of a run")
    rep.add_argument("run_id", metavar="RUN", help="a run id, or 'latest'")
    rep.add_argument("-o", "--output", type=Path, help="HTML file (default: report-<run>.html)")

    cmp_ = sub.add_parser("compare", help="trajectories of runs side by side, similarity per pair")
    cmp_.add_argument("run_ids", metavar="RUN", nargs="+", help="two or more run ids")
    cmp_.add_argument("--html", type=Path, help="also write the comparison as an HTML file")
    cmp_.add_argument("--rows", type=int, default=12, help="rows of the side-by-side table")


def _progress(console: Console, total: int | None, enabled: bool) -> Progress:
    return Progress(
        TextColumn("replay"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("readings"),
        TimeElapsedColumn(),
        console=console,
        disable=not enabled,
        transient=False,
    )


class Terminated(KeyboardInterrupt):
    """SIGTERM during a replay (a supervisor stopping it): taken as Ctrl-C, so what went through
    is kept and the run is closed as aborted; the exit status is 143 (128 + SIGTERM)."""

    exit_status = 143


def _terminate(signum, frame) -> None:
    raise Terminated


def cmd_replay(cfg: Config, args: argparse.Namespace, console: Console, err: Console) -> int:
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _cmd_replay(cfg, args, console, err)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _cmd_replay(cfg: Config, args: argparse.Namespace, console: Console, err: Console) -> int:
    from synthwatch.stream.replay.recorded import FolderSource, ReplayError, StoreSource, replay

    if (args.run_id == "kafka" and (args.t_from or args.t_to)) or args.kafka_run:
        from synthwatch.stream.cli.replay_kafka import cmd_replay_kafka

        return cmd_replay_kafka(cfg, args, console, err)
    if args.t_from or args.t_to:
        raise CommandError("synthwatch replay: --from/--to apply to `synthwatch replay kafka`")
    if (args.run_id is None) == (args.folder is None):
        raise CommandError("synthwatch replay: give a stored RUN or --folder DIR (one of them)")
    if args.folder is not None and args.system is None:
        raise CommandError("synthwatch replay: --folder needs --system (the run's chemistry)")
    if args.folder is None and args.system is not None:
        raise CommandError("synthwatch replay: --system applies to --folder replays")
    if args.run_id is not None and not Path(cfg.store.path).exists():
        raise CommandError(f"synthwatch replay: no store at {cfg.store.path}")
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
                    path_length_cm=args.path_length_cm,
                    cell_constant_per_cm=args.cell_constant_per_cm,
                )
            else:
                source = StoreSource(store, args.run_id)
        except ReplayError as e:
            raise CommandError(f"synthwatch replay: {e}") from None
        total = source.count()
        show = not args.no_progress and err.is_terminal
        progress = _progress(err, total, show)
        task = progress.add_task("replay", total=total)

        def on_message(msg: Message) -> None:
            if getattr(msg, "seq", None) is not None:
                progress.advance(task)

        try:
            with progress:
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
            raise CommandError(f"synthwatch replay: {e}") from None
        n_est = store.count("estimates", result.run_id)
    rejected = f", {result.rejected} files dead-lettered" if result.rejected else ""
    console.print(
        f"replayed {result.source_run_id} into run {result.run_id}: {result.readings} readings, "
        f"{n_est} estimates in {result.wall_s:.1f} s{rejected}"
    )
    console.print(
        f"see it with: synthwatch show {result.run_id}; "
        f"synthwatch compare {result.source_run_id} {result.run_id}"
        if args.folder is None
        else f"see it with: synthwatch show {result.run_id}"
    )
    return 0


def run(cfg: Config, args: argparse.Namespace, console: Console, err: Console) -> int:
    """Run one of :data:`COMMANDS`; a person's mistake ends in one line and exit 2."""
    try:
        if args.command == "replay":
            return cmd_replay(cfg, args, console, err)
        if args.command == "report":
            from synthwatch.stream.cli.report import cmd_report

            return cmd_report(cfg, args, console)
        from synthwatch.stream.cli.compare import cmd_compare

        return cmd_compare(cfg, args, console)
    except (CommandError, StoreError, UnknownRunError) as e:
        text = str(e)
        err.print(f"error: {text}", markup=False, highlight=False)
        return 2
