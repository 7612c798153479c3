"""Turn a watched folder's events into one run's messages (Descriptor, Readings, rejections).

:class:`SweepStream` takes the events of a
:class:`~synthwatch.collectors.folder.watch.FolderWatcher` one at a time and returns the
messages each one becomes, for the caller to publish before it acknowledges the event
(``watcher.ack(event)``), so a crash in between re-offers the file instead of losing it:

* the first good sweep opens the sensor: a Descriptor whose axis is its frequencies
  (:mod:`synthwatch.collectors.impedance.messages`), then its Reading (``seq`` from
  ``first_seq``, increasing by one);
* every later good sweep becomes a Reading on that axis;
* a file that failed to parse, or whose sweep is off the descriptor's axis, becomes a
  :class:`Rejected` record (raw bytes, reason with file and line, source): the caller's
  dead-letter sink stores it (``Sink.add_deadletter(raw, reason, source)``), the run goes on.

A file of several sweeps (a looped EC-Lab PEIS, several Gamry ZCURVE tables) becomes one Reading
per sweep. Event time: the sweep's start from the file when it has one, else the file's
modification time (UTC); sweeps that would share one are moved 1 ms apart with a warning
(:func:`~synthwatch.collectors.impedance.messages.event_times`), since the store keys estimates
by event time and would otherwise keep one fit of them. The RunStart is the caller's (it knows
reactor, system and recipe); so is resuming after a restart: pass the descriptor already sent
and the next ``first_seq``.

>>> import os, pathlib, tempfile
>>> from synthwatch.collectors.folder.watch import FolderWatcher
>>> from synthwatch.collectors.impedance.sweep import make_sweep
>>> from synthwatch.collectors.impedance.write import write_sweep
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> s = make_sweep("s", [10.0, 100.0, 1e3], [120.0, 105.0, 100.0], [-30.0, -8.0, -1.5],
...                fmt="memory")
>>> _ = write_sweep(s, folder / "a.csv", "csv")
>>> _ = (folder / "b.csv").write_text("freq,zre,zim\\n10,1,x\\n")
>>> os.utime(folder / "b.csv", (2e9, 2e9))
>>> watcher = FolderWatcher(folder, settle_s=0.0)
>>> stream = SweepStream(run_id="r1", sensor_id="eis1", cell_constant_per_cm=1.0)
>>> for event in watcher.poll():
...     for msg in stream.messages_for(event):
...         print(type(msg).__name__, getattr(msg, "seq", ""), getattr(msg, "reason", "")[-46:])
...     watcher.ack(event)
Descriptor
Reading 0
Rejected  b.csv, line 2: Z'': expected a number, got 'x'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from synthwatch.collectors.folder.watch import FailedFile, SweepFile
from synthwatch.collectors.impedance.messages import (
    AxisMismatchError,
    descriptor_for,
    event_times,
    reading_for,
)
from synthwatch.contract.messages import Descriptor, Reading

__all__ = ["MAX_RAW_BYTES", "Rejected", "SweepStream", "raw_bytes"]

#: at most this many bytes of a rejected file travel in its dead-letter record
MAX_RAW_BYTES = 1 << 20


@dataclass(frozen=True)
class Rejected:
    """A file that did not become a Reading: its bytes, why, and where it came from."""

    raw: bytes
    reason: str
    source: str
    t: datetime


def _mtime_utc(event: SweepFile | FailedFile) -> datetime:
    return datetime.fromtimestamp(event.key.mtime_ns / 1e9, tz=timezone.utc)


def raw_bytes(path: str | Path) -> bytes:
    """The first ``MAX_RAW_BYTES`` of a rejected file, for its dead letter (or why it could
    not be read)."""
    try:
        with open(path, "rb") as f:
            return f.read(MAX_RAW_BYTES)
    except OSError as err:
        return f"<unreadable: {err}>".encode()


class SweepStream:
    """One impedance sensor of one run, fed by folder-watch events (module doc)."""

    def __init__(
        self,
        *,
        run_id: str,
        sensor_id: str,
        cell_constant_per_cm: float | None = None,
        expected_interval_s: float | None = None,
        descriptor: Descriptor | None = None,
        first_seq: int = 0,
    ):
        self.run_id = run_id
        self.sensor_id = sensor_id
        self.cell_constant_per_cm = cell_constant_per_cm
        self.expected_interval_s = expected_interval_s
        self.descriptor = descriptor
        self.next_seq = first_seq
        self._times: set[datetime] = set()  # event times given on this sensor (event_times)

    def messages_for(self, event: SweepFile | FailedFile) -> list[Descriptor | Reading | Rejected]:
        """The messages (or rejection) one watcher event becomes."""
        if isinstance(event, FailedFile):
            return [
                Rejected(raw_bytes(event.path), event.reason, str(event.path), _mtime_utc(event))
            ]
        sweeps = event.sweeps or (event.sweep,)
        times = event_times(sweeps, _mtime_utc(event), self._times)
        out: list[Descriptor | Reading | Rejected] = []
        for sweep, t in zip(sweeps, times):
            if self.descriptor is None:
                self.descriptor = descriptor_for(
                    sweep,
                    run_id=self.run_id,
                    sensor_id=self.sensor_id,
                    t=t,
                    cell_constant_per_cm=self.cell_constant_per_cm,
                    expected_interval_s=self.expected_interval_s,
                )
                out.append(self.descriptor)
            try:
                reading = reading_for(sweep, self.descriptor, seq=self.next_seq, t=t)
            except AxisMismatchError as err:
                where = f" (sweep {sweep.index + 1} of {sweep.of})" if sweep.of > 1 else ""
                out.append(Rejected(raw_bytes(event.path), f"{err}{where}", str(event.path), t))
                continue
            self.next_seq += 1
            out.append(reading)
        return out
