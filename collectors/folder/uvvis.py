"""Watch a folder of UV-Vis exports and turn each new file into one run's messages.

The UV-Vis counterpart of :class:`~synthwatch.collectors.folder.watch.FolderWatcher` (impedance
sweeps) and :class:`~synthwatch.collectors.folder.impedance.SweepStream`:

* :class:`UVVisFolderWatcher` is the same watcher (settling, fsync'd acknowledgement journal,
  restarts, order, files modified after they were read) reading each settled file with
  :func:`~synthwatch.collectors.uvvis.files.read_spectra` (OceanView, SpectraSuite, JCAMP-DX,
  CSV): an event is a :class:`SpectraFile` (a file may hold several spectra) or a
  :class:`~synthwatch.collectors.folder.watch.FailedFile` with the reason (file, line, column).
* :class:`SpectraStream` turns the events into messages: the first good spectrum opens the
  sensor (a Descriptor on its wavelengths), every spectrum becomes a Reading (``seq`` from
  ``first_seq``, one per spectrum), a failed file or a spectrum off the descriptor's axis a
  :class:`~synthwatch.collectors.folder.impedance.Rejected` record for the dead letters.

A spectrum's event time is the time in the file when it has one, else the file's modification
time (UTC), as the folder replay does.

>>> import pathlib, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> rows = "\\n".join(f"{400 + 10 * i},{0.1 * i:.2f}" for i in range(8))
>>> _ = (folder / "a.csv").write_text("wavelength_nm,2026-11-25T10:00:00Z\\n" + rows + "\\n")
>>> _ = (folder / "b.csv").write_text("wavelength_nm,A\\n400,0.1\\n410,x\\n")
>>> watcher = UVVisFolderWatcher(folder, settle_s=0.0)
>>> stream = SpectraStream(run_id="r1", sensor_id="uv1")
>>> for event in watcher.poll():
...     for msg in stream.messages_for(event):
...         reason = getattr(msg, "reason", "").rsplit("/", 1)[-1]
...         print(type(msg).__name__, getattr(msg, "seq", ""), reason)
...     watcher.ack(event)
Descriptor
Reading 0
Rejected  b.csv, line 3: column 'A': expected a number, got 'x'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from synthwatch.collectors.folder.impedance import Rejected, raw_bytes
from synthwatch.collectors.folder.watch import FailedFile, FileKey, FolderWatcher
from synthwatch.collectors.uvvis.files import Spectrum, UVVisParseError, order_key, read_spectra
from synthwatch.contract.messages import Descriptor, Reading

__all__ = ["SpectraFile", "SpectraStream", "UVVisFolderWatcher"]


@dataclass(frozen=True)
class SpectraFile:
    """A new export file, read as one or more spectra."""

    path: Path
    key: FileKey
    spectra: list[Spectrum]


class UVVisFolderWatcher(FolderWatcher):
    """:class:`FolderWatcher` of UV-Vis exports; ``start`` is the run's start for CSV columns
    headed by seconds or minutes since it (:func:`read_spectra`), ``fmt`` one of its formats or
    None, ``dark``/``reference`` the dark and reference spectra (files or arrays) of raw-count
    exports. The files that settle in one poll come in :func:`order_key` order: the time inside
    them, else a number in the name, and only then the modification time."""

    def __init__(
        self, folder, state_path=None, *, start: datetime | None = None, dark=None,
        reference=None, **kw,
    ):  # fmt: skip
        super().__init__(folder, state_path, **kw)
        self.start = start
        self.dark = dark
        self.reference = reference

    def poll(self) -> list[SpectraFile | FailedFile]:  # type: ignore[override]
        events = super().poll()
        good = [k for k, e in enumerate(events) if isinstance(e, SpectraFile)]
        ordered = sorted(
            (events[k] for k in good),
            key=lambda e: order_key(e.path, e.spectra[0].t, _mtime_utc(e.key)),
        )
        for k, e in zip(good, ordered):  # failed files keep their place (modification time)
            events[k] = e
        return events

    def _parse(self, path: Path, key: FileKey) -> SpectraFile | FailedFile:  # type: ignore[override]
        try:
            spectra = read_spectra(
                path, self.fmt, self.tz, self.start, dark=self.dark, reference=self.reference
            )
        except UVVisParseError as err:
            return FailedFile(path, key, str(err), err.line)
        return SpectraFile(path, key, spectra)


def _mtime_utc(key: FileKey) -> datetime:
    return datetime.fromtimestamp(key.mtime_ns / 1e9, tz=timezone.utc)


class SpectraStream:
    """One UV-Vis sensor of one run, fed by :class:`UVVisFolderWatcher` events (module doc).

    Resuming after a restart: pass the ``descriptor`` already sent and the next ``first_seq``;
    :attr:`next_seq` may also be set before :meth:`messages_for` to read a file again under the
    seqs it had (a file offered again after a crash).
    """

    def __init__(
        self,
        *,
        run_id: str,
        sensor_id: str,
        path_length_cm: float = 1.0,
        expected_interval_s: float | None = None,
        descriptor: Descriptor | None = None,
        first_seq: int = 0,
    ):
        self.run_id = run_id
        self.sensor_id = sensor_id
        self.path_length_cm = path_length_cm
        self.expected_interval_s = expected_interval_s
        self.descriptor = descriptor
        self.next_seq = first_seq

    def messages_for(
        self, event: SpectraFile | FailedFile
    ) -> list[Descriptor | Reading | Rejected]:
        """The messages (or rejections) one watcher event becomes."""
        if isinstance(event, FailedFile):
            return [
                Rejected(
                    raw_bytes(event.path), event.reason, str(event.path), _mtime_utc(event.key)
                )
            ]
        out: list[Descriptor | Reading | Rejected] = []
        for s in event.spectra:
            t = s.t or _mtime_utc(event.key)
            axis = s.wavelengths_nm.tolist()
            if self.descriptor is None:
                self.descriptor = Descriptor(
                    run_id=self.run_id,
                    t=t,
                    sensor_id=self.sensor_id,
                    kind="uvvis",
                    axis=axis,
                    axis_units="nm",
                    value_units="AU",
                    path_length_cm=self.path_length_cm,
                    expected_interval_s=self.expected_interval_s,
                )
                out.append(self.descriptor)
            elif len(self.descriptor.axis) != len(axis) or not np.allclose(
                self.descriptor.axis, axis, rtol=1e-6, atol=0.0
            ):
                d = self.descriptor.axis
                reason = (
                    f"{event.path}: spectrum {s.index} has {len(axis)} wavelengths "
                    f"({axis[0]:g}..{axis[-1]:g} nm) where sensor {self.sensor_id!r} has "
                    f"{len(d)} ({d[0]:g}..{d[-1]:g} nm): a sensor keeps one axis"
                )
                out.append(Rejected(raw_bytes(event.path), reason, str(event.path), t))
                continue
            out.append(
                Reading(
                    run_id=self.run_id,
                    t=t,
                    sensor_id=self.sensor_id,
                    seq=self.next_seq,
                    values=s.absorbance_au.tolist(),
                )
            )
            self.next_seq += 1
        return out
