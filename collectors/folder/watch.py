"""Watch a folder of impedance exports (one file per sweep) and hand over each new file once.

Labs save one export per sweep into a folder. :class:`FolderWatcher` polls it with
``os.scandir`` (no inotify) and turns each new file into a :class:`SweepFile` (parsed sweep) or
a :class:`FailedFile` (the reason, with file and line: a dead-letter record for the caller to
report; the watch goes on).

* **Files still being written**: a file is read only once its size and modification time have
  not changed for ``settle_s`` seconds of the injected ``clock``. If it is read too early anyway
  (a writer that pauses longer than that) it fails to parse, is reported as failed, and is read
  again as soon as it changes: a failed file is retried whenever its size or mtime change.
* **Restarts**: a small state journal (JSON lines) records every file handed over and
  acknowledged (name, size, mtime, read or failed). Delivery is acknowledged:
  :meth:`FolderWatcher.poll` offers events, the caller processes each and calls
  :meth:`FolderWatcher.ack`, which appends one fsync'd line (a line cut short by a crash counts
  as not acknowledged). An event offered but not acknowledged before a crash is offered again
  after the restart; an acknowledged one never is. Files that arrived while the watcher was
  down are not in the journal, so they are picked up. Within one process an unacknowledged
  event is not offered twice.
* **Order**: the events of one poll come by modification time, then name (so ``b.z`` saved
  before ``a.z`` comes first); across polls, in the order the files settle.
* A file changed after it was read is reported once as failed ("modified after it was read")
  and not read again (no sweep twice). Files that are not exports
  (:func:`~synthwatch.collectors.folder.tally.skip_reason`: hidden files such as the state
  file, names ending in ``.tmp``, ``.part`` or ``~``, notes such as a README) are skipped and
  listed in :attr:`FolderWatcher.skipped`; directories are ignored. Files an earlier session
  handled are not offered again; :attr:`FolderWatcher.earlier` names those seen.

>>> import pathlib, tempfile
>>> from synthwatch.collectors.impedance.sweep import make_sweep
>>> from synthwatch.collectors.impedance.write import write_sweep
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> now = [0.0]
>>> watcher = FolderWatcher(folder, clock=lambda: now[0], settle_s=2.0)
>>> s = make_sweep("s", [10.0, 100.0, 1e3], [120.0, 105.0, 100.0], [-30.0, -8.0, -1.5],
...                fmt="memory")
>>> _ = write_sweep(s, folder / "sweep_001.DTA", "gamry")
>>> watcher.poll()          # seen, not settled yet
[]
>>> now[0] = 2.5
>>> [event] = watcher.poll()
>>> event.path.name, event.sweep.fmt, event.sweep.n_points
('sweep_001.DTA', 'gamry', 3)
>>> watcher.ack(event)
>>> FolderWatcher(folder, clock=lambda: 99.0, settle_s=0.0).poll()   # after a restart
[]
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path

from synthwatch.collectors.folder.tally import skip_reason, unexpected
from synthwatch.collectors.impedance.formats import read_sweeps
from synthwatch.collectors.impedance.sweep import ImpedanceSweep, ParseError
from synthwatch.contract.errors import SynthwatchError

__all__ = ["FileKey", "SweepFile", "FailedFile", "StateError", "FolderWatcher", "journal_lines"]

_STATE_VERSION = 1


@dataclass(frozen=True)
class FileKey:
    """A file's identity for the watcher: name, size and modification time (ns)."""

    name: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class SweepFile:
    """A new export file, read as a sweep (``sweeps``: every sweep of a multi-sweep file)."""

    path: Path
    key: FileKey
    sweep: ImpedanceSweep
    sweeps: tuple[ImpedanceSweep, ...] = ()


@dataclass(frozen=True)
class FailedFile:
    """A new export file that could not be read: ``reason`` says why (file, line, expected)."""

    path: Path
    key: FileKey
    reason: str
    line: int | None = None


class StateError(SynthwatchError, ValueError):
    """The watcher's state file is unreadable or not a state file (names it and the problem)."""


def journal_lines(path: Path) -> list[str]:
    """The complete lines of an append-only journal; a torn last line (a crash mid-write) is
    cut off the file. OSError if it cannot be read or cut."""
    raw = path.read_bytes()
    complete = raw[: raw.rfind(b"\n") + 1]
    if len(complete) != len(raw):
        with open(path, "r+b") as f:
            f.truncate(len(complete))
    return complete.decode("utf-8", errors="replace").splitlines()


@dataclass
class _Pending:
    size: int
    mtime_ns: int
    since: float


class FolderWatcher:
    """Poll ``folder`` for new impedance exports (module doc).

    ``state_path`` defaults to ``folder/.synthwatch-watch.jsonl``; ``clock`` returns seconds
    (monotonic; tests pass a fake); ``settle_s`` is how long a file must stay unchanged;
    ``fmt``/``tz`` go to :func:`~synthwatch.collectors.impedance.formats.read_sweep`;
    ``suffixes`` (lower case, e.g. ``(".dta", ".z")``) limits the files looked at (default all).
    """

    def __init__(
        self,
        folder: str | Path,
        state_path: str | Path | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        settle_s: float = 2.0,
        fmt: str | None = None,
        tz: tzinfo | None = None,
        suffixes: tuple[str, ...] = (),
    ):
        if settle_s < 0:
            raise ValueError(f"--settle: expected seconds >= 0, got {settle_s:g}")
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise NotADirectoryError(f"{self.folder}: not a folder; expected a folder of exports")
        self.state_path = (
            Path(state_path) if state_path else self.folder / ".synthwatch-watch.jsonl"
        )
        self.clock = clock
        self.settle_s = settle_s
        self.fmt = fmt
        self.tz = tz
        self.suffixes = tuple(s.lower() for s in suffixes)
        self._done: dict[str, dict[str, object]] = self._load()
        self._pending: dict[str, _Pending] = {}
        self._offered: set[FileKey] = set()
        #: files that are not exports, with why (:func:`skip_reason`), as seen by the polls
        self.skipped: dict[str, str] = {}
        #: files an earlier session handled, seen by the polls and not offered again
        self.earlier: set[str] = set()
        self._handled: set[str] = set()  # acknowledged by this watcher

    # state ------------------------------------------------------------------------------
    def _load(self) -> dict[str, dict[str, object]]:
        """Replay the journal: the last record of each name wins.

        A last line without its newline is an acknowledgement cut short by a crash: it is
        dropped (the event was not acknowledged, so it is offered again), and the file is
        truncated back to the last complete record. Any other bad line is a :class:`StateError`.
        """
        if not self.state_path.exists():
            return {}
        try:
            lines = journal_lines(self.state_path)
        except OSError as err:
            raise StateError(f"{self.state_path}: cannot read the watcher's state ({err})") from err
        first = lines[0] if lines else ""
        if first != self._header():
            raise StateError(
                f"{self.state_path}, line 1: expected a synthwatch folder-watch journal of "
                f"version {_STATE_VERSION} for {self.folder}, got {first[:60]!r}"
                "; move it away to re-read every file of the folder"
            )
        files: dict[str, dict[str, object]] = {}
        for number, text in enumerate(lines[1:], start=2):
            try:
                record = json.loads(text)
            except json.JSONDecodeError:
                record = None
            if not (
                isinstance(record, dict)
                and isinstance(record.get("name"), str)
                and isinstance(record.get("size"), int)
                and isinstance(record.get("mtime_ns"), int)
                and record.get("status") in ("read", "failed", "modified")
            ):
                raise StateError(
                    f"{self.state_path}, line {number}: expected a record "
                    f"{{name, size, mtime_ns, status}}, got {text[:60]!r}"
                )
            files[record.pop("name")] = record
        return files

    def _header(self) -> str:
        return json.dumps(
            {"synthwatch_folder_watch": _STATE_VERSION, "folder": str(self.folder.resolve())}
        )

    def _append(self, record: dict[str, object]) -> None:
        """Append one record and fsync it (O(1) per acknowledgement, crash-safe)."""
        new = not self.state_path.exists()
        with open(self.state_path, "a", encoding="utf-8") as out:
            if new:
                out.write(self._header() + "\n")
            out.write(json.dumps(record, sort_keys=True) + "\n")
            out.flush()
            os.fsync(out.fileno())

    def _recorded(self, key: FileKey) -> dict[str, object] | None:
        entry = self._done.get(key.name)
        if entry and entry["size"] == key.size and entry["mtime_ns"] == key.mtime_ns:
            return entry
        return None

    # polling ----------------------------------------------------------------------------
    def _candidates(self) -> list[FileKey]:
        keys = []
        with os.scandir(self.folder) as entries:
            for entry in entries:
                name = entry.name
                why = skip_reason(name)
                if why is not None:
                    if entry.is_file():
                        self.skipped[name] = why
                    continue
                if self.suffixes and not name.lower().endswith(self.suffixes):
                    continue
                try:
                    if not entry.is_file():
                        continue
                    st = entry.stat()
                except FileNotFoundError:
                    continue  # removed between listing and stat: never a sweep
                keys.append(FileKey(name, st.st_size, st.st_mtime_ns))
        return keys

    def poll(self) -> list[SweepFile | FailedFile]:
        """Events for files that settled since the last poll (module doc), in order."""
        now = self.clock()
        ready: list[FileKey] = []
        seen = set()
        for key in self._candidates():
            seen.add(key.name)
            if key in self._offered or self._recorded(key) is not None:
                self._pending.pop(key.name, None)
                if key not in self._offered and key.name not in self._handled:
                    self.earlier.add(key.name)
                continue
            pending = self._pending.get(key.name)
            if pending is None or (pending.size, pending.mtime_ns) != (key.size, key.mtime_ns):
                self._pending[key.name] = pending = _Pending(key.size, key.mtime_ns, now)
            if now - pending.since >= self.settle_s:
                ready.append(key)
        for name in set(self._pending) - seen:
            del self._pending[name]
        events = []
        for key in sorted(ready, key=lambda k: (k.mtime_ns, k.name)):
            del self._pending[key.name]
            self._offered.add(key)
            events.append(self._read(key))
        return events

    def _read(self, key: FileKey) -> SweepFile | FailedFile:
        path = self.folder / key.name
        previous = self._done.get(key.name)
        if previous is not None and previous["status"] in ("read", "modified"):
            return FailedFile(
                path, key, f"{path}: modified after it was read; not read again (no sweep twice)"
            )
        try:
            return self._parse(path, key)
        except SynthwatchError as err:  # a parser's error that _parse did not turn into one
            return FailedFile(path, key, str(err), getattr(err, "line", None))
        except Exception as err:  # noqa: BLE001
            # the one per-file boundary: whatever else a parser raises on this file (a bug, an
            # input it did not foresee) refuses the file with the error, and the watch goes on
            return FailedFile(path, key, unexpected(path, err))

    def _parse(self, path: Path, key: FileKey) -> SweepFile | FailedFile:
        """Read one settled file; a watcher of other exports overrides this (uvvis_folder)."""
        try:
            sweeps = read_sweeps(path, self.fmt, self.tz)
            return SweepFile(path, key, sweeps[0], tuple(sweeps))
        except ParseError as err:
            return FailedFile(path, key, str(err), err.line)

    @property
    def pending(self) -> int:
        """How many files were seen but have not settled yet (a drain waits for them)."""
        return len(self._pending)

    def ack(self, event: SweepFile | FailedFile) -> None:
        """Record ``event`` as handled in the state file: it is never offered again."""
        previous = self._done.get(event.key.name)
        if not isinstance(event, FailedFile):
            status = "read"
        elif previous is not None and previous["status"] in ("read", "modified"):
            status = "modified"
        else:
            status = "failed"
        record: dict[str, object] = {
            "size": event.key.size,
            "mtime_ns": event.key.mtime_ns,
            "status": status,
        }
        if isinstance(event, FailedFile):
            record["reason"] = event.reason
        self._append({"name": event.key.name, **record})
        self._done[event.key.name] = record
        self._handled.add(event.key.name)
        self._offered.discard(event.key)
