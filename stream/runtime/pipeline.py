"""The embedded pipeline: a collector's messages → memory transport → worker → store.

Everything runs in one process and one thread, with no server: the collector's messages are
published on the memory transport exactly as they would be on Kafka, paced against the wall
clock at ``speed`` simulated seconds per second, and the worker takes them from there.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterable

from synthwatch.contract.messages import Descriptor, Message, Reading
from synthwatch.stream.runtime.registry import models_for
from synthwatch.stream.runtime.worker import ModelFactory, Worker
from synthwatch.stream.sinks.base import Sink
from synthwatch.stream.transport.memory import MemoryTransport, Transport, topic_for


class Publisher:
    """Publishes a collector's messages on their topics, keyed by run_id.

    It remembers each sensor's kind from its Descriptor, which routes its readings.
    """

    def __init__(self, transport: Transport):
        self.transport = transport
        self._kinds: dict[tuple[str, str], str] = {}

    def send(self, msg: Message) -> None:
        kind = None
        if isinstance(msg, Descriptor):
            self._kinds[(msg.run_id, msg.sensor_id)] = msg.kind
        elif isinstance(msg, Reading):
            kind = self._kinds.get((msg.run_id, msg.sensor_id))
            if kind is None:
                raise ValueError(
                    f"run {msg.run_id!r}: Reading of sensor {msg.sensor_id!r} before its "
                    "Descriptor; a collector describes each sensor first"
                )
        self.transport.send_message(topic_for(msg, kind), msg.run_id, msg)


class Pacer:
    """Holds messages back until their event time, scaled by ``speed``, has come.

    ``speed`` is simulated seconds per wall second; 0 means as fast as possible.
    """

    def __init__(self, speed: float, clock: Callable[[], float] = time.monotonic):
        if speed < 0:
            raise ValueError(f"speed: expected >= 0, got {speed}")
        self.speed = speed
        self._clock = clock
        self._t0: datetime | None = None
        self._wall0 = 0.0

    def wait(self, t: datetime) -> None:
        if self.speed == 0:
            return
        if self._t0 is None:
            self._t0, self._wall0 = t, self._clock()
            return
        due = self._wall0 + (t - self._t0).total_seconds() / self.speed
        delay = due - self._clock()
        if delay > 0:
            time.sleep(delay)


@dataclass
class PipelineResult:
    run_ids: list[str]
    messages: int
    wall_s: float


def run_embedded(
    messages: Iterable[Message],
    sinks: list[Sink],
    *,
    speed: float = 0.0,
    reorder_window_s: float = 2.0,
    max_batch: int = 500,
    on_message: Callable[[Message, Worker], None] | None = None,
    serialize: bool = False,
    model_factory: ModelFactory = models_for,
) -> PipelineResult:
    """Push ``messages`` through a memory transport and a worker into ``sinks``.

    ``serialize=True`` sends JSON bytes through the transport, as Kafka will.
    """
    transport = MemoryTransport(serialize=serialize)
    # Estimates and alerts go to the sinks; nobody in this process reads them back from topics.
    worker = Worker(
        transport,
        sinks,
        reorder_window_s=reorder_window_s,
        publish=False,
        model_factory=model_factory,
    )
    publisher = Publisher(transport)
    pacer = Pacer(speed)
    started = time.monotonic()
    n = 0
    run_ids: list[str] = []
    try:
        for msg in messages:
            pacer.wait(msg.t)
            publisher.send(msg)
            worker.poll(max_batch)
            transport.trim()
            n += 1
            if msg.run_id not in run_ids:
                run_ids.append(msg.run_id)
            if on_message is not None:
                on_message(msg, worker)
        worker.drain()
    finally:
        worker.flush()
    return PipelineResult(run_ids, n, time.monotonic() - started)
