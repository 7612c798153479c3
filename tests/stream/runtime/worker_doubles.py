"""Test doubles of the worker's tests: a model that echoes each reading, a sink that lists.

Shared by test_worker.py and test_worker_run_models.py (pytest puts this folder on the path).
"""

from __future__ import annotations

from synthwatch.contract import messages as c
from synthwatch.models.base import Model
from synthwatch.stream.sinks.base import Sink


class Echo(Model):
    """Test model: remembers the seqs it saw and estimates the reading's first value."""

    name = "echo"
    version = "1"

    def __init__(self, sensor_id: str = "uv1"):
        self.sensor_id = sensor_id
        self._seen: list[int] = []
        self._last: c.Estimate | None = None

    def update(self, reading: c.Reading) -> None:
        self._seen.append(reading.seq)
        self._last = c.Estimate(
            run_id=reading.run_id,
            t=reading.t,
            sensor_id=reading.sensor_id,
            seq=reading.seq,
            model=self.name,
            model_version=self.version,
            measurement="echo",
            quantities=[c.Quantity(name="x_au", value=reading.values[0], units="AU")],
            flags=["dropout"] if reading.values[0] < 0 else [],
        )

    @property
    def estimate(self) -> c.Estimate | None:
        return self._last


class ListSink(Sink):
    """A plain in-memory sink for the tests (the real store has its own tests)."""

    def __init__(self):
        self.messages: list[c.Message] = []
        self.deadletters: list[tuple[bytes, str]] = []
        self.flushes = 0

    def add(self, message):
        self.messages.append(message)

    def add_deadletter(self, raw, reason, source):
        self.deadletters.append((raw, reason))

    def flush(self):
        self.flushes += 1

    def of(self, kind):
        return [m for m in self.messages if isinstance(m, kind)]
