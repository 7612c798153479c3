"""``synthwatch collect``: publish a collector's messages to Kafka.

    synthwatch collect simulator [--scenario gold|silver|gold-rods|gold-aggregating|silica]
                                 [--seed N] [--speed X|max] [--duration 2h] [--interval 2]
                                 [--run-id ID] [--reactor R1]

Messages go to the topics of DESIGN.md keyed by ``run_id`` ([kafka] settings: brokers, TLS,
SASL), paced in event time at ``--speed`` simulated seconds per second (``max``: no pacing).
Readings are flushed to the broker before the RunStop is sent, so a worker that sees the stop
can wait for every reading before it (stream/kafka_worker.py).
"""

from __future__ import annotations

import time
from typing import Callable, Iterable

from rich.console import Console

from synthwatch.stream.config import Config, DemoConfig
from synthwatch.stream.contract import Message, RunStop
from synthwatch.stream.demo_silica import demo_timing
from synthwatch.stream.pipeline import Pacer, Publisher

SCENARIOS = ("gold", "silver", "gold-rods", "gold-aggregating", "silica")


def add_parser(sub, parse_duration: Callable, parse_speed: Callable) -> None:
    collect = sub.add_parser("collect", help="publish a collector's readings to Kafka")
    sources = collect.add_subparsers(dest="source", required=True)
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


def simulator_messages(args) -> Iterable[Message]:
    """The messages of the simulator that ``args`` describe; ValueError if they disagree."""
    from synthwatch.collectors.scenarios import simulate
    from synthwatch.collectors.stober_sim import StoberSimulator

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


def run(cfg: Config, args, console: Console) -> int:
    from synthwatch.stream.kafka_transport import KafkaTransport, describe, ensure_topics

    messages = simulator_messages(args)
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
