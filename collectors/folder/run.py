"""One run fed by a watched folder of exports, that a restarted collector continues exactly.

:class:`FolderRun` ties a folder watcher (impedance sweeps:
:class:`~synthwatch.collectors.folder.watch.FolderWatcher`; UV-Vis spectra:
:class:`~synthwatch.collectors.folder.uvvis.UVVisFolderWatcher`), the stream that turns its
events into messages (:class:`~synthwatch.collectors.folder.impedance.SweepStream`,
:class:`~synthwatch.collectors.folder.uvvis.SpectraStream`) and a :class:`RunJournal`, the
run's own fsync'd journal beside the watcher's, so that after a restart the collector neither
sends a file again under new sequence numbers nor skips one, and ``seq`` goes on where it was.

The caller (``synthwatch collect folder``, stream/cli/collect.py) publishes each
:class:`Batch` of :meth:`FolderRun.poll`, one at a time, waits until the broker has it, then calls
:meth:`FolderRun.done`. What is written when:

1. **before publishing** a file's readings, the journal records the seqs they get (file name,
   size, mtime, first seq, count): a file offered again after a crash (published, perhaps only
   in part, but not acknowledged) is sent again under the *same* seqs, which the worker drops
   as duplicates (same sensor, same seq), so nothing is doubled; the next file's seqs follow;
2. **after** the broker acknowledged it (:meth:`FolderRun.done`): the RunStart and the
   Descriptor (so a restart sends them once more only if they may not have arrived; the worker
   ignores an identical second Descriptor), then the watcher's acknowledgement of the file (it
   is never offered again).

A file that cannot be read becomes a :class:`~synthwatch.collectors.folder.impedance.Rejected`
(reason with file and line) for the dead-letter topic; it takes no seq. So does a file on which
a parser or the stream raised something else than its own error (``unexpected error reading
it``): no file ends the collector. The RunStart goes with the first file that gives a message,
at its event time (a folder whose every file is refused opens no run, so none is left
running). :meth:`FolderRun.end` gives the RunStop; once it is recorded
(:meth:`FolderRun.ended`) the run takes no more files: a new run needs a new run id.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from pathlib import Path

from synthwatch.collectors.folder.impedance import Rejected, SweepStream, raw_bytes
from synthwatch.collectors.folder.tally import unexpected
from synthwatch.collectors.folder.uvvis import SpectraFile, SpectraStream, UVVisFolderWatcher
from synthwatch.collectors.folder.watch import (
    FailedFile,
    FileKey,
    FolderWatcher,
    SweepFile,
    journal_lines,
)
from synthwatch.contract.errors import SynthwatchError
from synthwatch.contract.messages import (
    ContractError,
    Descriptor,
    Message,
    Reading,
    RunStart,
    RunStop,
    decode,
    encode,
)

__all__ = ["KINDS", "Batch", "FolderRun", "RunJournal", "RunJournalError", "state_paths"]

KINDS = ("uvvis", "impedance")
_VERSION = 1

Event = SweepFile | SpectraFile | FailedFile


class RunJournalError(SynthwatchError, ValueError):
    """The run's journal is unreadable, of another run, or the run has ended (says which)."""


@dataclass(frozen=True)
class _Seqs:
    first: int
    n: int


def _iso(t: datetime) -> str:
    return t.isoformat()


class RunJournal:
    """The run's journal (JSON lines, one fsync'd append per record; module doc).

    Line 1 names the run and the sensor kind; then records ``{"start": RunStart}``,
    ``{"descriptor": Descriptor}``, ``{"file", "size", "mtime_ns", "seq", "n", "t"}`` (the
    seqs given to a file's readings, the last reading's time) and ``{"stop": RunStop}``. A last
    line without its newline was cut short by a crash and is dropped.
    """

    def __init__(self, path: str | Path, *, run_id: str, kind: str):
        self.path = Path(path)
        self.run_id = run_id
        self.kind = kind
        self.start: RunStart | None = None
        self.descriptor: Descriptor | None = None
        self.stop: RunStop | None = None
        self.next_seq = 0
        self.last_t: datetime | None = None
        self._files: dict[FileKey, _Seqs] = {}
        self._load()

    def _header(self) -> str:
        return json.dumps(
            {"synthwatch_folder_run": _VERSION, "run_id": self.run_id, "kind": self.kind}
        )

    def _load(self) -> None:
        if not self.path.exists():
            return
        try:
            lines = journal_lines(self.path)
        except OSError as err:
            raise RunJournalError(f"{self.path}: cannot read the run's journal ({err})") from err
        if not lines or lines[0] != self._header():
            raise RunJournalError(
                f"{self.path}, line 1: expected the journal of run {self.run_id!r} "
                f"({self.kind}), got {(lines[0] if lines else '')[:80]!r}"
            )
        for number, text in enumerate(lines[1:], start=2):
            try:
                self._apply(json.loads(text))
            except (ValueError, TypeError, KeyError) as err:  # JSON, ContractError, shape
                raise RunJournalError(
                    f"{self.path}, line {number}: expected a start, descriptor, file or stop "
                    f"record, got {text[:60]!r} ({err})"
                ) from None

    def _apply(self, record: dict) -> None:
        if not isinstance(record, dict) or len(record) == 0:
            raise ValueError("not a JSON object")
        if "start" in record:
            self.start = _decode(record["start"], RunStart)
        elif "descriptor" in record:
            self.descriptor = _decode(record["descriptor"], Descriptor)
        elif "stop" in record:
            self.stop = _decode(record["stop"], RunStop)
        else:
            key = FileKey(record["file"], record["size"], record["mtime_ns"])
            seqs = _Seqs(record["seq"], record["n"])
            if not all(isinstance(v, int) for v in (key.size, key.mtime_ns, seqs.first, seqs.n)):
                raise ValueError("size, mtime_ns, seq and n must be integers")
            self._files[key] = seqs
            self.next_seq = max(self.next_seq, seqs.first + seqs.n)
            t = datetime.fromisoformat(record["t"])
            self.last_t = t if self.last_t is None else max(self.last_t, t)

    def _append(self, record: dict) -> None:
        new = not self.path.exists()
        with open(self.path, "a", encoding="utf-8") as out:
            if new:
                out.write(self._header() + "\n")
            out.write(json.dumps(record, sort_keys=True) + "\n")
            out.flush()
            os.fsync(out.fileno())
        if new:  # the file's directory entry too
            fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        self._apply(record)

    def seqs_of(self, key: FileKey) -> int | None:
        """The first seq given to this file (name, size, mtime) earlier, or None."""
        seqs = self._files.get(key)
        return None if seqs is None else seqs.first

    def assign(self, key: FileKey, first: int, n: int, t: datetime) -> None:
        self._append(
            {"file": key.name, "size": key.size, "mtime_ns": key.mtime_ns, "seq": first, "n": n}
            | {"t": _iso(t)}
        )

    def record(self, msg: RunStart | Descriptor | RunStop) -> None:
        name = {RunStart: "start", Descriptor: "descriptor", RunStop: "stop"}[type(msg)]
        self._append({name: encode(msg).decode()})


def _decode(text: str, kind: type) -> Message:
    try:
        msg = decode(text)
    except ContractError as err:
        raise ValueError(str(err)) from None
    if not isinstance(msg, kind):
        raise ValueError(f"expected a {kind.__name__}, got a {type(msg).__name__}")
    return msg


def state_paths(folder: Path, run_id: str, state_dir: Path | None = None) -> tuple[Path, Path]:
    """(watcher journal, run journal) of ``run_id``: hidden files in the folder or state_dir."""
    base = Path(state_dir) if state_dir is not None else Path(folder)
    stem = f".synthwatch-{run_id.replace(':', '_')}"
    return base / f"{stem}.watch.jsonl", base / f"{stem}.run.jsonl"


@dataclass
class Batch:
    """What one file becomes: messages to publish, rejections to dead-letter (in order)."""

    event: Event
    messages: list[Message | Rejected] = field(default_factory=list)

    @property
    def readings(self) -> int:
        return sum(isinstance(m, Reading) for m in self.messages)


class FolderRun:
    """The run ``run_id`` fed by ``folder``'s exports of ``kind`` (module doc)."""

    def __init__(
        self,
        folder: str | Path,
        *,
        kind: str,
        run_id: str,
        reactor: str,
        system: str,
        sensor_id: str | None = None,
        state_dir: str | Path | None = None,
        settle_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        tz: tzinfo | None = None,
        start: datetime | None = None,
        dark: str | Path | None = None,
        reference: str | Path | None = None,
        fmt: str | None = None,
        path_length_cm: float = 1.0,
        cell_constant_per_cm: float | None = None,
        expected_interval_s: float | None = None,
        tags: dict[str, str] | None = None,
    ):
        if kind not in KINDS:
            raise ValueError(f"kind {kind!r}: expected one of {', '.join(KINDS)}")
        self.folder = Path(folder)
        self.kind = kind
        self.run_id = run_id
        self.reactor = reactor
        self.system = system
        self.tags = dict(tags or {})
        watch_path, run_path = state_paths(self.folder, run_id, state_dir)
        if state_dir is not None:
            Path(state_dir).mkdir(parents=True, exist_ok=True)
        self.journal = RunJournal(run_path, run_id=run_id, kind=kind)
        if self.journal.stop is not None:
            raise RunJournalError(
                f"run {run_id!r} was ended ({run_path}); give another run id for a new run"
            )
        self._start: RunStart | None = None  # made, not yet known to be on the broker
        sensor_id = sensor_id or ("uv1" if kind == "uvvis" else "eis1")
        common = dict(clock=clock, settle_s=settle_s, fmt=fmt, tz=tz)
        if kind == "uvvis":
            self.watcher: FolderWatcher = UVVisFolderWatcher(
                self.folder, watch_path, start=start, dark=dark, reference=reference, **common
            )
            self.stream: SpectraStream | SweepStream = SpectraStream(
                run_id=run_id,
                sensor_id=sensor_id,
                path_length_cm=path_length_cm,
                expected_interval_s=expected_interval_s,
                descriptor=self.journal.descriptor,
                first_seq=self.journal.next_seq,
            )
        else:
            self.watcher = FolderWatcher(self.folder, watch_path, **common)
            self.stream = SweepStream(
                run_id=run_id,
                sensor_id=sensor_id,
                cell_constant_per_cm=cell_constant_per_cm,
                expected_interval_s=expected_interval_s,
                descriptor=self.journal.descriptor,
                first_seq=self.journal.next_seq,
            )

    @property
    def next_seq(self) -> int:
        return self.journal.next_seq

    @property
    def pending(self) -> int:
        """Files seen that have not settled yet."""
        return self.watcher.pending

    def poll(self) -> Iterator[Batch]:
        """A batch per file settled since the last poll, made (and its seqs journaled) only
        when the caller asks for it, so that the caller publishes each before the next."""
        for event in self.watcher.poll():
            yield self._batch(event)

    def _batch(self, event: Event) -> Batch:
        again = self.journal.seqs_of(event.key)
        first = self.journal.next_seq if again is None else again
        self.stream.next_seq = first
        produced = self._messages_for(event)
        self.stream.next_seq = max(self.stream.next_seq, self.journal.next_seq)
        batch = Batch(event)
        good = [m for m in produced if not isinstance(m, Rejected)]
        if good and self.journal.start is None and self._start is None:
            self._start = RunStart(
                run_id=self.run_id,
                t=min(m.t for m in good),
                reactor=self.reactor,
                system=self.system,
                tags={"source": "folder", **self.tags},
            )
            batch.messages.append(self._start)
        batch.messages += produced
        readings = [m for m in produced if isinstance(m, Reading)]
        if readings and again is None:
            self.journal.assign(event.key, first, len(readings), max(m.t for m in readings))
        return batch

    def _messages_for(self, event: Event) -> list[Message | Rejected]:
        """The stream's messages of ``event``; a file it cannot turn into messages (a Descriptor
        or Reading the contract refuses, an error nobody foresaw) is refused with why."""
        descriptor, seq = self.stream.descriptor, self.stream.next_seq
        try:
            return self.stream.messages_for(event)
        except Exception as err:  # noqa: BLE001
            # the one per-file boundary of the stream: this file is refused, the run goes on
            # as if it had not been offered (no descriptor, no seq taken)
            self.stream.descriptor, self.stream.next_seq = descriptor, seq
            reason = str(err) if isinstance(err, SynthwatchError) else unexpected(event.path, err)
            if not reason.startswith(str(event.path)):
                reason = f"{event.path}: {reason}"
            t = datetime.fromtimestamp(event.key.mtime_ns / 1e9, tz=timezone.utc)
            return [Rejected(raw_bytes(event.path), reason, str(event.path), t)]

    def done(self, batch: Batch) -> None:
        """The broker has ``batch``: record its run documents, acknowledge its file."""
        for msg in batch.messages:
            if isinstance(msg, RunStart) and self.journal.start is None:
                self.journal.record(msg)
            elif isinstance(msg, Descriptor) and self.journal.descriptor is None:
                self.journal.record(msg)
        self.watcher.ack(batch.event)

    def end(self, reason: str = "the collector ended the run") -> RunStop | None:
        """The RunStop to publish (None if nothing was published): at the last reading's time."""
        if self.journal.start is None:
            return None
        t = max(self.journal.start.t, self.journal.last_t or self.journal.start.t)
        return RunStop(run_id=self.run_id, t=t, status="success", reason=reason)

    def ended(self, stop: RunStop) -> None:
        """The broker has the RunStop: the run takes no more files."""
        self.journal.record(stop)
