"""Replay a recorded run through today's models: from the embedded store or a folder of exports.

A replay reads a run's *inputs* (RunStart, descriptors, readings, labels, RunStop) from a
:class:`ReplaySource`, sends them through the embedded pipeline (memory transport, worker, the
registry's models) at the pace asked for, and stores everything under a **new run id**:

* the store keys an estimate by (run, model, quantity names, event time) -- not by model
  version -- so replaying into the original run would overwrite its estimates. A replay
  therefore always lands in a run of its own, ``<source run>:<tag>`` (the tag defaults to
  ``replay-v<synthwatch version>``, so a new release re-estimates into a new run), or the name
  given with ``as_run_id``; the estimates carry the ``model_version`` of the models that made
  them. A target run that already exists is refused: the original run and earlier replays are
  never written to. The replay's RunStart carries the tags ``replay_of``, ``replay_tag``,
  ``replay_source`` and ``synthwatch_version``, so ``synthwatch compare RUN RUN:replay-v0.2``
  shows what the new models changed.
* event times are preserved; ``speed`` is simulated seconds per wall second (1 = real time, 0 =
  as fast as possible), paced by :class:`~synthwatch.stream.runtime.pipeline.Pacer`.
* the same input replayed twice gives identical estimates (the models are pure and seeded).
* Ctrl-C (KeyboardInterrupt) stops between messages: what went through is committed (a prefix
  of the run, SQLite keeps the file consistent), the replay run gets a RunStop ``aborted`` with
  how far it got, and the interrupt is raised again. Any other error of the pipeline closes the
  run ``failed`` and is raised as :class:`ReplayFailed` (one line, exit 1): a replay run is
  never left ``running``.
* a :class:`Rejected` of the source is stored as a dead letter *of the replay run* (source
  ``run <id>: <where>``, :func:`~synthwatch.stream.store.query.run_source`), so ``synthwatch
  show`` counts it and ``synthwatch deadletters RUN`` lists it.

Sources (:class:`ReplaySource`: a ``run_id``, a ``count()`` of readings for progress, and
``messages()`` in event-time order; a :class:`Rejected` among them is dead-lettered):

* :class:`StoreSource`: one run of an embedded store;
* :class:`FolderSource`: a folder of instrument exports -- UV-Vis files read by
  :mod:`synthwatch.collectors.uvvis.files`, impedance files by
  :func:`~synthwatch.collectors.impedance.formats.read_sweep`;
* :class:`~synthwatch.stream.replay.from_kafka.KafkaSource` (``synthwatch replay kafka --from T0
  --to T1``): a run's records on the Kafka topics between two times, from the offsets of the
  start time (``offsets_for_times``, less a 60 s allowance for instrument clocks ahead of the
  collector's) to the first record past the end time.
"""

from __future__ import annotations

import heapq
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import Protocol

import numpy as np

from synthwatch import __version__
from synthwatch.collectors.folder.impedance import Rejected, raw_bytes
from synthwatch.collectors.folder.tally import FolderTally, skip_reason, unexpected
from synthwatch.collectors.impedance.formats import read_sweeps
from synthwatch.collectors.impedance.messages import (
    AxisMismatchError,
    descriptor_for,
    event_times,
    reading_for,
)
from synthwatch.collectors.uvvis.files import is_uvvis_export, order_key, read_spectra
from synthwatch.contract.errors import SynthwatchError
from synthwatch.contract.messages import (
    Descriptor,
    Label,
    Message,
    Reading,
    RunStart,
    RunStop,
)
from synthwatch.stream.runtime.pipeline import run_embedded
from synthwatch.stream.runtime.registry import models_for
from synthwatch.stream.runtime.worker import ModelFactory, Worker
from synthwatch.stream.store.embedded import Store, UnknownRunError
from synthwatch.stream.store.query import run_source

__all__ = [
    "ReplayError",
    "ReplayFailed",
    "ReplaySource",
    "StoreSource",
    "FolderSource",
    "ReplayResult",
    "Rejected",
    "default_tag",
    "replay",
]

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$")


class ReplayError(SynthwatchError, ValueError):
    """A replay that cannot be done as asked (target run exists, bad tag, empty folder...)."""


class ReplayFailed(SynthwatchError, RuntimeError):
    """A replay that broke off on an error of the pipeline; its run is closed as failed."""

    exit_code = 1


def default_tag() -> str:
    """``replay-v<synthwatch version>``: a new release replays into a new run."""
    return f"replay-v{__version__}"


class ReplaySource(Protocol):
    """Where a replay's input comes from (module doc)."""

    #: the run id of the source (for a folder: its name, made a valid run id)
    run_id: str
    #: where it came from, for the replay's RunStart tags and dead letters
    description: str

    def count(self) -> int | None:
        """How many readings it will yield (progress), or None if unknown."""

    def messages(self) -> Iterator[Message | Rejected]:
        """The run's input messages in event-time order: RunStart first, RunStop last."""


class StoreSource:
    """One run of an embedded store: RunStart, descriptors, readings and labels merged by event
    time (a label comes when it arrived, ``Label.t``, as it did live), RunStop."""

    def __init__(self, store: Store, run_id: str):
        self.store = store
        self.run_id = run_id
        self.description = f"store {store.path} run {run_id}"
        self.start = store.run_start(run_id)  # UnknownRunError if there is no such run

    def count(self) -> int:
        return self.store.count("readings", self.run_id)

    def messages(self) -> Iterator[Message]:
        yield self.start
        yield from self.store.descriptors(self.run_id)
        labels = sorted(self.store.labels(self.run_id), key=lambda m: (m.t, m.quantity))
        readings: Iterable[Message] = self.store.readings_by_time(self.run_id)
        # labels after readings of the same instant, as they arrive after the samples they label
        yield from heapq.merge(readings, labels, key=lambda m: (m.t, isinstance(m, Label)))
        stop = self.store.run_stop(self.run_id)
        if stop is not None:
            yield stop


def _safe_run_id(name: str) -> str:
    text = re.sub(r"[^A-Za-z0-9_.:\-]+", "-", name).strip("-._:") or "folder"
    return text[:100]


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)


@dataclass(frozen=True)
class _Event:
    t: datetime
    sensor: str
    order: tuple
    axis: np.ndarray | None = None
    values: np.ndarray | None = None
    imag: np.ndarray | None = None
    sweep: object | None = None
    rejected: Rejected | None = None
    untimed: bool = False  # a spectrum whose file gave no time: its time is the file's mtime


def _order_untimed(events: list[_Event], paths: dict[int, Path]) -> list[_Event]:
    """Spectra whose files carry no time are put in the order of the number in their file name
    (``spec_0012.txt``), and only then of modification time (:func:`order_key`): ``cp -r``
    scrambles mtimes. They keep the folder's modification times as event times, handed out
    in that order, so the spacing of the run is kept."""
    untimed = [e for e in events if e.untimed]
    if len(untimed) < 2:
        return events
    ordered = sorted(untimed, key=lambda e: (order_key(paths[e.order[0]], None, e.t), e.order[1]))
    times = sorted(e.t for e in untimed)
    return [e for e in events if not e.untimed] + [replace(e, t=t) for e, t in zip(ordered, times)]


class FolderSource:
    """A folder of instrument exports (not its subfolders), as one run.

    Every file is read whole before the replay starts (exports of a run fit in memory) and the
    spectra and sweeps are sorted by event time: the time in the file when it has one, else the
    file's modification time. The first good spectrum (sweep) describes the UV-Vis (impedance)
    sensor; a later one on another axis, and any file that does not parse (or on which a parser
    raised an error of its own: ``unexpected error reading it``), is dead-lettered with the
    reason (file, line) and the replay goes on. Files that are not exports (hidden files, notes:
    :func:`~synthwatch.collectors.folder.tally.skip_reason`) are skipped. :attr:`tally` accounts
    for every file once :meth:`messages` has run; the RunStop is ``failed`` when no file gave a
    reading.
    """

    def __init__(
        self,
        folder: str | Path,
        *,
        system: str,
        reactor: str = "replay",
        run_id: str | None = None,
        tz: tzinfo | None = None,
        start: datetime | None = None,
        dark: str | Path | None = None,
        reference: str | Path | None = None,
        path_length_cm: float = 1.0,
        cell_constant_per_cm: float | None = None,
        uvvis_sensor: str = "uv1",
        impedance_sensor: str = "eis1",
    ):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise ReplayError(f"{self.folder}: not a folder; expected a folder of exports")
        self.system = system
        self.reactor = reactor
        self.run_id = run_id or _safe_run_id(self.folder.resolve().name)
        self.tz = tz
        self.start = start
        self.dark = dark
        self.reference = reference
        self.path_length_cm = path_length_cm
        self.cell_constant_per_cm = cell_constant_per_cm
        self.uvvis_sensor = uvvis_sensor
        self.impedance_sensor = impedance_sensor
        self.description = f"folder {self.folder}"
        self.tally = FolderTally(self.folder)
        self._sweep_times: set[datetime] = set()  # given to sweeps so far: none shares one
        self.files: list[Path] = []
        for path in sorted(p for p in self.folder.iterdir() if p.is_file()):
            if skip_reason(path.name) is None:
                self.files.append(path)
            else:
                self.tally.skip(path.name)
        if not self.files:
            skipped = f" (skipped, not exports: {', '.join(self.tally.skipped)})"
            raise ReplayError(
                f"{self.folder}: no files{skipped if self.tally.skipped else ''}; "
                "expected UV-Vis or impedance exports"
            )
        self._events = self._read()

    def _read(self) -> list[_Event]:
        events: list[_Event] = []
        for n, path in enumerate(self.files):
            try:
                events += self._read_file(n, path)
            except SynthwatchError as err:  # the parsers' errors name the file and the line
                events.append(self._refused(n, path, str(err)))
            except Exception as err:  # noqa: BLE001
                # the one per-file boundary: whatever else a parser raises on this file (a bug,
                # an input it did not foresee) refuses the file, not the replay
                events.append(self._refused(n, path, unexpected(path, err)))
        events = _order_untimed(events, dict(enumerate(self.files)))
        events.sort(key=lambda e: (e.t, e.sensor, e.order))
        return events

    def _read_file(self, n: int, path: Path) -> list[_Event]:
        """The events of one file: a spectrum each (UV-Vis), or its sweep (impedance)."""
        if not is_uvvis_export(path):
            sweeps = read_sweeps(path, tz=self.tz)  # one event per sweep, each its own time
            return [
                _Event(t, self.impedance_sensor, (n, sweep.index), sweep=sweep)
                for sweep, t in zip(sweeps, event_times(sweeps, _mtime(path), self._sweep_times))
            ]
        out = []
        spectra = read_spectra(
            path, tz=self.tz, start=self.start, dark=self.dark, reference=self.reference
        )
        for s in spectra:
            t = s.t or _mtime(path)
            wl, a = s.wavelengths_nm, s.absorbance_au
            out.append(_Event(t, self.uvvis_sensor, (n, s.index), wl, a, untimed=s.t is None))
        return out

    def _refused(self, n: int, path: Path, reason: str) -> _Event:
        t = self.start or _mtime(path)
        return _Event(t, "", (n, 0), rejected=Rejected(raw_bytes(path), reason, path.name, t))

    def count(self) -> int:
        return sum(e.rejected is None for e in self._events)

    def messages(self) -> Iterator[Message | Rejected]:
        good = [e for e in self._events if e.rejected is None]
        t0 = self.start or (good[0].t if good else self._events[0].t)
        t_end = max(self._events[-1].t, t0)
        yield RunStart(
            run_id=self.run_id,
            t=t0,
            reactor=self.reactor,
            system=self.system,
            tags={"source": "folder", "folder": str(self.folder.resolve())[:200]},
        )
        self.tally = FolderTally(self.folder, skipped=list(self.tally.skipped))
        descriptors: dict[str, Descriptor] = {}
        seqs: dict[str, int] = {}
        for e in self._events:
            path = self.files[e.order[0]]
            if e.rejected is not None:
                self.tally.refuse(path, e.rejected.reason)
                yield e.rejected
                continue
            try:
                desc, reading = self._reading(
                    e, descriptors.get(e.sensor), seqs.get(e.sensor, 0), t0
                )
            except SynthwatchError as err:  # off the sensor's axis; a message the contract refuses
                reason = str(err) if str(err).startswith(str(path)) else f"{path}: {err}"
                self.tally.refuse(path, reason)
                yield Rejected(raw_bytes(path), reason, path.name, e.t)
                continue
            if e.sensor not in descriptors:
                descriptors[e.sensor] = desc
                yield desc
            seqs[e.sensor] = seqs.get(e.sensor, 0) + 1
            self.tally.read_file(path.name, 1)
            yield reading
        if self.tally.readings:
            yield RunStop(
                run_id=self.run_id, t=t_end, status="success", reason="replayed from folder"
            )
        else:
            yield RunStop(
                run_id=self.run_id,
                t=t_end,
                status="failed",
                reason=f"no reading: all {self.tally.refused_files} files of the folder refused",
            )

    def _reading(
        self, e: _Event, desc: Descriptor | None, seq: int, t0: datetime
    ) -> tuple[Descriptor, Reading]:
        """The sensor's descriptor (``desc``, or a new one from ``e``) and ``e``'s Reading;
        AxisMismatchError when ``e`` is off the descriptor's axis."""
        if e.sweep is not None:
            if desc is None:
                desc = descriptor_for(
                    e.sweep,
                    run_id=self.run_id,
                    sensor_id=e.sensor,
                    t=t0,
                    cell_constant_per_cm=self.cell_constant_per_cm,
                )
            return desc, reading_for(e.sweep, desc, seq=seq, t=e.t)
        if desc is None:
            desc = Descriptor(
                run_id=self.run_id,
                t=t0,
                sensor_id=e.sensor,
                kind="uvvis",
                axis=e.axis.tolist(),
                axis_units="nm",
                value_units="AU",
                path_length_cm=self.path_length_cm,
            )
        elif len(desc.axis) != e.axis.size or not np.allclose(
            desc.axis, e.axis, rtol=1e-6, atol=0.0
        ):
            raise AxisMismatchError(
                f"spectrum of {e.axis.size} wavelengths ({e.axis[0]:g}..{e.axis[-1]:g}"
                f" nm) where sensor {e.sensor!r} has {len(desc.axis)} "
                f"({desc.axis[0]:g}..{desc.axis[-1]:g} nm): a sensor keeps one axis"
            )
        reading = Reading(
            run_id=self.run_id, t=e.t, sensor_id=e.sensor, seq=seq, values=e.values.tolist()
        )
        return desc, reading


@dataclass(frozen=True)
class ReplayResult:
    """What a replay did: the run it wrote, how many messages and dead letters, how long."""

    source_run_id: str
    run_id: str
    messages: int
    readings: int
    rejected: int
    wall_s: float
    interrupted: bool = False


def _retarget(msg: Message, run_id: str, tags: dict[str, str]) -> Message:
    update: dict[str, object] = {"run_id": run_id}
    if isinstance(msg, RunStart):
        update["tags"] = {**msg.tags, **tags}
    return msg.model_copy(update=update)


def replay(
    source: ReplaySource,
    store: Store,
    *,
    tag: str | None = None,
    as_run_id: str | None = None,
    speed: float = 0.0,
    model_factory: ModelFactory = models_for,
    reorder_window_s: float = 2.0,
    max_batch: int = 500,
    on_message: Callable[[Message], None] | None = None,
) -> ReplayResult:
    """Replay ``source`` into ``store`` under a new run id (module doc); returns what it did."""
    tag = default_tag() if tag is None else tag
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}", tag):
        raise ReplayError(
            f"tag {tag!r}: expected 1-32 letters, digits, '_', '.', '-' (e.g. replay-v0.2)"
        )
    target = as_run_id or f"{source.run_id}:{tag}"
    if not _ID.match(target):
        raise ReplayError(f"run id {target!r}: expected 1-128 letters, digits, '_', '.', ':', '-'")
    if target == source.run_id:
        raise ReplayError(f"run {target!r}: a replay never writes over its source run")
    try:
        store.run(target)
    except UnknownRunError:
        pass
    else:
        raise ReplayError(
            f"run {target!r} is already in {store.path}: a replay never writes over a run; "
            "give another tag (--tag) or run id (--as)"
        )
    tags = {
        "replay_of": source.run_id[:128],
        "replay_tag": tag,
        "replay_source": source.description[:200],
        "synthwatch_version": __version__,
    }
    counts = {"messages": 0, "readings": 0, "rejected": 0}
    last: list[datetime] = []

    def inputs() -> Iterator[Message]:
        for item in source.messages():
            if isinstance(item, Rejected):
                counts["rejected"] += 1
                store.add_deadletter(item.raw, item.reason, run_source(target, item.source))
                continue
            yield _retarget(item, target, tags)

    def seen(msg: Message, worker: Worker) -> None:
        counts["messages"] += 1
        if isinstance(msg, Reading):
            counts["readings"] += 1
        if not last:
            last.append(msg.t)
        last[0] = msg.t
        if on_message is not None:
            on_message(msg)

    started = time.monotonic()
    try:
        run_embedded(
            inputs(),
            [store],
            speed=speed,
            reorder_window_s=reorder_window_s,
            max_batch=max_batch,
            on_message=seen,
            model_factory=model_factory,
        )
    except KeyboardInterrupt:
        # run_embedded flushed what went through; close the replay run as aborted
        _close(
            store,
            target,
            last,
            "aborted",
            f"replay interrupted after {counts['readings']} readings",
        )
        raise
    except Exception as err:  # noqa: BLE001
        # whatever broke the pipeline, the replay run is closed as failed (never left running)
        # and the error reported in one line by the command
        what = f"{type(err).__name__}: {' '.join(str(err).split())}"
        _close(
            store,
            target,
            last,
            "failed",
            f"replay failed after {counts['readings']} readings ({what})",
        )
        if isinstance(err, SynthwatchError):
            raise
        raise ReplayFailed(
            f"replay of {source.run_id} into run {target} failed after {counts['readings']} "
            f"readings ({what}); the run is closed as failed"
        ) from err
    return ReplayResult(
        source.run_id,
        target,
        counts["messages"],
        counts["readings"],
        counts["rejected"],
        time.monotonic() - started,
    )


def _close(store: Store, run_id: str, last: list[datetime], status: str, reason: str) -> None:
    """Close ``run_id`` with a RunStop ``status`` at the last event time that went through, if
    the store has the run and it is still running; commit."""
    store.flush()
    try:
        summary = store.run(run_id)
    except UnknownRunError:
        return  # nothing went through: no run to close
    if summary.t_stop is None:
        t = last[0] if last else summary.t_start
        if t is not None:
            store.add(RunStop(run_id=run_id, t=t, status=status, reason=reason[:500]))
    store.flush()
