"""``synthwatch collect``: publish a collector's messages to Kafka.

    synthwatch collect simulator [--scenario gold|silver|gold-rods|gold-aggregating|silica]
                                 [--seed N] [--speed X|max] [--duration 2h] [--interval 2]
                                 [--run-id ID] [--reactor R1]

    synthwatch collect folder DIR --kind uvvis|impedance --system SYSTEM [--run-id ID]
                              [--once] [--end-run] [--state-dir D] [--settle S] [--poll S]

``collect folder`` publishes a folder's instrument exports as the Readings of one run and
follows the folder as new files arrive (collectors/folder/run.py: the watcher's journal and the
run's journal of sequence numbers, both fsync'd, so a restarted collector neither sends a file
again under new seqs nor skips one). A file that cannot be read is reported (name and reason)
and goes to the dead-letter topic. ``--once`` publishes what the folder holds and exits;
``--end-run`` sends the RunStop when the collector exits (the run then takes no more files).
At exit it prints what became of every file (:mod:`synthwatch.stream.cli.folder_summary`:
refused ones with file, line and reason, skipped ones, counts) and exits with status 2 when the
run has taken no reading at all.

Messages go to the topics of docs/architecture.md keyed by ``run_id`` ([kafka] settings:
brokers, TLS, SASL), paced in event time at ``--speed`` simulated seconds per second (``max``:
no pacing). Readings are flushed to the broker before the RunStop is sent, so a worker that
sees the stop can wait for every reading before it (stream/runtime/kafka_worker.py). A broker
that does not answer within a few seconds ends the command in one line, exit status 1.
"""

from __future__ import annotations

import argparse
import re
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from rich.console import Console

from synthwatch.contract.config import Config, DemoConfig
from synthwatch.contract.errors import UsageError
from synthwatch.contract.messages import SYSTEMS, Message, Reading, RunStop
from synthwatch.stream.cli.args import parse_duration, parse_speed, parse_time, parse_tz, positive
from synthwatch.stream.cli.common import load, probe_broker, stdout
from synthwatch.stream.cli.folder_summary import NoReading, folder_summary
from synthwatch.stream.transport.deadletters import encode_deadletter

if TYPE_CHECKING:
    from synthwatch.collectors.folder.tally import FolderTally
    from synthwatch.stream.runtime.pipeline import Publisher

NAME = "collect"
HELP = "publish a collector's readings to Kafka: simulator, folder"
SCENARIOS = ("gold", "silver", "gold-rods", "gold-aggregating", "silica")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``simulator`` and ``folder DIR``, each with its options."""
    sources = parser.add_subparsers(dest="source", required=True, metavar="{simulator,folder}")
    sim = sources.add_parser("simulator", help="a simulated synthesis (as `synthwatch demo`)")
    sim.add_argument("--scenario", choices=SCENARIOS, default="gold", help="default gold")
    sim.add_argument("--seed", type=int, default=0, help="simulator seed (default 0)")
    sim.add_argument(
        "--speed", type=parse_speed, default=1.0, help="simulated s per wall s, or 'max' (1)"
    )
    sim.add_argument("--duration", type=parse_duration, help="simulated duration (scenario's)")
    sim.add_argument("--interval", type=parse_duration, help="s between readings (scenario's)")
    sim.add_argument("--run-id", help="run id (default: the simulator's, from the seed)")
    sim.add_argument("--reactor", default="R1", help="reactor name (default R1)")
    _add_folder_parser(sources)


def _add_folder_parser(sources) -> None:
    fold = sources.add_parser(
        "folder", help="a folder of UV-Vis or impedance exports, followed as files arrive"
    )
    fold.add_argument("folder", type=Path, metavar="DIR", help="the folder the instrument saves to")
    fold.add_argument("--kind", choices=("uvvis", "impedance"), required=True, help="the exports")
    fold.add_argument("--system", choices=SYSTEMS, required=True, help="chemistry of the run")
    fold.add_argument("--run-id", help="run id (default: the folder's name)")
    fold.add_argument("--reactor", default="R1", help="reactor name (default R1)")
    fold.add_argument("--sensor-id", help="sensor id (default uv1 / eis1)")
    fold.add_argument("--state-dir", type=Path, help="journals here, not in the folder")
    fold.add_argument("--settle", type=float, default=2.0, help="s a file must stay unchanged (2)")
    fold.add_argument("--poll", type=positive, default=1.0, help="s between looks (1)")
    fold.add_argument("--once", action="store_true", help="publish what is there, then exit")
    fold.add_argument("--end-run", action="store_true", help="send the RunStop when exiting")
    fold.add_argument("--tz", type=parse_tz, help="zone of the instrument PC for naive times")
    fold.add_argument("--start", type=parse_time, help="run start, for CSV columns in seconds")
    fold.add_argument("--dark", type=Path, metavar="FILE", help="dark spectrum (raw counts)")
    fold.add_argument("--reference", type=Path, metavar="FILE", help="reference (raw counts)")
    fold.add_argument("--path-length-cm", type=positive, default=1.0, help="UV-Vis cell (1 cm)")
    fold.add_argument("--cell-constant-per-cm", type=positive, help="impedance cell constant")
    fold.add_argument("--interval", type=positive, help="expected s between files (stale alerts)")


def simulator_messages(args) -> Iterable[Message]:
    """The messages of the simulator that ``args`` describe; ValueError if they disagree."""
    from synthwatch.collectors.sim.scenarios import simulate
    from synthwatch.collectors.sim.stober import StoberSimulator
    from synthwatch.stream.cli.demo_silica import demo_timing

    demo = DemoConfig(scenario=args.scenario, seed=args.seed)
    if args.duration is not None:
        demo.duration_s = args.duration
    if args.interval is not None:
        demo.interval_s = args.interval
    duration_s, interval_s = demo_timing(demo)
    kw = dict(seed=args.seed, duration_s=duration_s, interval_s=interval_s, reactor=args.reactor)
    if args.run_id:
        kw["run_id"] = args.run_id
    if args.scenario == "silica":
        return StoberSimulator(**kw).messages()
    return simulate(args.scenario, **kw).messages()


def publish(
    messages: Iterable[Message], transport, speed: float = 0.0, publisher: Publisher | None = None
) -> int:
    """Send ``messages`` on their topics, paced at ``speed``; flush before each RunStop.

    Pass the same ``publisher`` to go on with runs whose Descriptors an earlier call sent.
    """
    from synthwatch.stream.runtime.pipeline import Pacer, Publisher

    publisher = Publisher(transport) if publisher is None else publisher
    pacer = Pacer(speed)
    n = 0
    for msg in messages:
        pacer.wait(msg.t)
        if isinstance(msg, RunStop):
            transport.flush()  # every reading is on the broker before the stop
        publisher.send(msg)
        n += 1
    transport.flush()
    return n


def folder_run(args):
    """The :class:`~synthwatch.collectors.folder.run.FolderRun` that ``args`` describe."""
    from synthwatch.collectors.folder.run import FolderRun

    run_id = args.run_id or (
        re.sub(r"[^A-Za-z0-9_.:\-]+", "-", args.folder.resolve().name).strip("-._:") or "folder"
    )
    return FolderRun(
        args.folder,
        kind=args.kind,
        run_id=run_id,
        reactor=args.reactor,
        system=args.system,
        sensor_id=args.sensor_id,
        state_dir=args.state_dir,
        settle_s=args.settle,
        tz=args.tz,
        start=args.start,
        dark=args.dark,
        reference=args.reference,
        path_length_cm=args.path_length_cm,
        cell_constant_per_cm=args.cell_constant_per_cm,
        expected_interval_s=args.interval,
        tags={"folder": str(args.folder.resolve())[:200]},
    )


def collect_folder(
    run,
    transport,
    *,
    once: bool = False,
    end_run: bool = False,
    poll_s: float = 1.0,
    should_stop: Callable[[], bool] = lambda: False,
    report: Callable[[str], None] = lambda text: None,
    tally: FolderTally | None = None,
) -> tuple[int, int]:
    """Publish ``run``'s files as they settle (module doc); (readings, files dead-lettered).

    Each file's messages are sent and flushed before the file is acknowledged; ``once`` stops
    when no file is left to settle, ``should_stop`` between files; ``end_run`` then sends the
    RunStop. Each refused file is ``report``-ed as it comes; ``tally`` (if given) accounts for
    every file of the folder.
    """
    from synthwatch.collectors.folder.impedance import Rejected
    from synthwatch.collectors.folder.tally import FolderTally

    tally = FolderTally(run.folder) if tally is None else tally
    from synthwatch.stream.transport.memory import DEADLETTER_TOPIC, readings_topic, topic_for

    readings = rejected = 0
    while not should_stop():
        files = 0
        for batch in run.poll():
            files += 1
            for item in batch.messages:
                if isinstance(item, Rejected):
                    value = encode_deadletter(item.raw, item.reason, source=item.source)
                    transport.send(DEADLETTER_TOPIC, run.run_id, value)
                elif isinstance(item, Reading):
                    transport.send_message(readings_topic(run.kind), run.run_id, item)
                else:
                    transport.send_message(topic_for(item), run.run_id, item)
            transport.flush()  # the broker has the file's messages before it is acknowledged
            run.done(batch)
            for item in batch.messages:
                if isinstance(item, Rejected):
                    rejected += 1
                    report(f"refused {tally.refuse(item.source, item.reason)}")
            if batch.readings:
                tally.read_file(batch.event.path.name, batch.readings)
            readings += batch.readings
            if should_stop():
                break
        if once and not files and run.pending == 0:
            break
        if not files:
            time.sleep(poll_s)
    if end_run:
        stop = run.end()
        if stop is not None:
            transport.send_message(topic_for(stop), run.run_id, stop)
            transport.flush()
            run.ended(stop)
    tally.skipped = sorted(run.watcher.skipped)
    tally.earlier = len(run.watcher.earlier)
    return readings, rejected


def run_folder(cfg: Config, args, console: Console) -> int:
    from synthwatch.collectors.folder.run import RunJournalError
    from synthwatch.collectors.folder.tally import FolderTally
    from synthwatch.collectors.folder.watch import StateError
    from synthwatch.stream.transport.kafka_topics import KafkaTransport, describe, ensure_topics

    try:
        run = folder_run(args)
    except (RunJournalError, StateError, NotADirectoryError, ValueError) as err:
        raise UsageError(f"synthwatch collect folder: {err}") from None
    probe_broker(cfg.kafka)
    stop = {"now": False}
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.update(now=True))
    ensure_topics(cfg.kafka)
    transport = KafkaTransport(cfg.kafka)
    started = time.monotonic()
    first = run.next_seq
    tally = FolderTally(args.folder)
    try:
        readings, rejected = collect_folder(
            run,
            transport,
            once=args.once,
            end_run=args.end_run,
            poll_s=args.poll,
            should_stop=lambda: stop["now"],
            # --once ends with the summary at once; a follower says so as files are refused
            report=(lambda text: None)
            if args.once
            else (lambda text: console.print(text, markup=False, highlight=False)),
            tally=tally,
        )
    finally:
        transport.close()
        signal.signal(signal.SIGTERM, previous)
        tally.skipped, tally.earlier = sorted(run.watcher.skipped), len(run.watcher.earlier)
        folder_summary(console, tally)
    seqs = f" (seq {first}..{run.next_seq - 1})" if readings else ""
    console.print(
        f"published {readings} readings of run {run.run_id}{seqs} "
        f"to kafka at {describe(cfg.kafka)} in {time.monotonic() - started:.1f} s; "
        f"{rejected} files dead-lettered" + ("; run ended" if args.end_run else ""),
        markup=False,
        highlight=False,
    )
    if run.next_seq == 0:
        why = "every export was refused (listed above)" if tally.refused else "it holds no export"
        raise NoReading(
            f"synthwatch collect folder: no reading taken from {args.folder} for run "
            f"{run.run_id}: {why}"
        )
    return 0


def run(args: argparse.Namespace) -> int:
    from synthwatch.stream.transport.kafka_topics import KafkaTransport, describe, ensure_topics

    cfg, console = load(args), stdout()
    if args.source == "folder":
        return run_folder(cfg, args, console)
    try:
        messages = simulator_messages(args)
    except ValueError as err:
        raise UsageError(f"synthwatch collect simulator: {err}") from None
    probe_broker(cfg.kafka)
    ensure_topics(cfg.kafka)
    transport = KafkaTransport(cfg.kafka)
    started = time.monotonic()
    try:
        n = publish(messages, transport, args.speed)
    finally:
        transport.close()
    console.print(
        f"published {n} messages to kafka at {describe(cfg.kafka)} "
        f"in {time.monotonic() - started:.1f} s"
    )
    return 0
