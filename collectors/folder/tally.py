"""Account for every file of a folder of exports: read, refused (with why), or skipped.

``synthwatch replay --folder`` and ``synthwatch collect folder`` end with this summary, so no
file is dropped silently:

* :func:`skip_reason` says which names are not exports at all (hidden files such as the
  watcher's journals, files still being written, notes such as a README): they are skipped,
  and listed as skipped;
* :func:`refusal` turns the reason a file was refused (``<path>, line <l>: <why>``, as the
  parsers word it) into a :class:`Refusal`: the file's name, the line, and the why;
* :func:`unexpected` words an exception a parser should not have raised (not a
  :class:`~synthwatch.contract.errors.SynthwatchError`): the file is refused with it, the
  command goes on;
* :class:`FolderTally` counts them and prints the summary (:meth:`FolderTally.lines`).

>>> tally = FolderTally("exports")
>>> tally.read_file("a.csv", 2)
>>> str(tally.refuse("/data/exports/b.txt", "/data/exports/b.txt, line 3: expected a number"))
'b.txt:3: expected a number'
>>> tally.skip(".synthwatch-r1.watch.jsonl")
>>> print("\\n".join(tally.lines()))
refused b.txt:3: expected a number
skipped (not an export): .synthwatch-r1.watch.jsonl
folder exports: 3 files: 1 read (2 readings), 1 refused, 1 skipped
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["FolderTally", "Refusal", "refusal", "skip_reason", "unexpected"]

#: names that are written in place and renamed when complete (never read while so named)
TEMPORARY_SUFFIXES = (".tmp", ".part", "~")
#: suffixes of files a person keeps beside the exports, never an instrument's export
NOTE_SUFFIXES = (".md", ".pdf", ".png", ".jpg", ".jpeg", ".doc", ".docx")


def skip_reason(name: str) -> str | None:
    """Why the file ``name`` of a folder is not an export (so it is skipped), or None."""
    lower = name.lower()
    if name.startswith("."):
        return "hidden"
    if lower.endswith(TEMPORARY_SUFFIXES):
        return "being written"
    if lower.startswith("readme") or lower.endswith(NOTE_SUFFIXES):
        return "a note, not an export"
    return None


@dataclass(frozen=True)
class Refusal:
    """One refused file: its name, the line the parser named (if any), and why."""

    name: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = self.name if self.line is None else f"{self.name}:{self.line}"
        return f"{where}: {self.reason}"


def refusal(path: str | Path, reason: str) -> Refusal:
    """The :class:`Refusal` of the file ``path`` (or of a file of that name) refused with
    ``reason``.

    A reason that starts with the file (``<path>: ...`` or ``<path>, line <l>: ...``, as the
    parsers write them, whatever folder the path names) loses that prefix: the name and line
    stand before it instead.
    """
    name = Path(path).name
    text = " ".join(reason.split())
    where = re.compile(rf"^(?:.*?[/\\])?{re.escape(name)}(?:, line (\d+))?: (.*)$", re.DOTALL)
    m = where.match(text)
    if m is None:
        return Refusal(name, None, text)
    return Refusal(name, int(m.group(1)) if m.group(1) else None, m.group(2))


def unexpected(path: str | Path, err: BaseException) -> str:
    """The reason of a file whose parser raised ``err``, an error it should not have raised."""
    text = " ".join(str(err).split()) or "no message"
    return f"{path}: unexpected error reading it ({type(err).__name__}: {text})"


@dataclass
class FolderTally:
    """What became of each file of ``folder`` (module doc).

    ``earlier`` counts files a restarted collector had handled in an earlier session (they are
    not read again); ``readings`` is the readings taken from the folder by this command.
    """

    folder: str | Path
    read: dict[str, int] = field(default_factory=dict)
    refused: list[Refusal] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    earlier: int = 0

    @property
    def readings(self) -> int:
        return sum(self.read.values())

    @property
    def files(self) -> int:
        """Every file accounted for (one refused in part and read in part counts once)."""
        names = set(self.read) | {r.name for r in self.refused}
        return len(names) + len(self.skipped) + self.earlier

    @property
    def refused_files(self) -> int:
        """Files refused, wholly or in part (a spectrum off the run's axis)."""
        return len({r.name for r in self.refused})

    def read_file(self, name: str, readings: int) -> None:
        """The file ``name`` gave ``readings`` readings (added to what it gave before)."""
        self.read[name] = self.read.get(name, 0) + readings

    def refuse(self, path: str | Path, reason: str) -> Refusal:
        """The file ``path`` (or part of it) was refused with ``reason``."""
        item = refusal(path, reason)
        self.refused.append(item)
        return item

    def skip(self, name: str) -> None:
        """The file ``name`` is not an export (:func:`skip_reason`)."""
        if name not in self.skipped:
            self.skipped.append(name)

    def lines(self) -> list[str]:
        """The summary: one ``refused NAME:LINE: reason`` line per refusal, the skipped files,
        then the counts."""
        out = [f"refused {r}" for r in self.refused]
        if self.skipped:
            out.append(f"skipped (not an export): {', '.join(sorted(self.skipped))}")
        counts = [
            f"{len(self.read)} read ({self.readings} readings)",
            f"{self.refused_files} refused",
            f"{len(self.skipped)} skipped",
        ]
        if self.earlier:
            counts.append(f"{self.earlier} handled in an earlier session")
        name = Path(self.folder).name or str(self.folder)
        files = f"{self.files} file" + ("" if self.files == 1 else "s")
        out.append(f"folder {name}: {files}: {', '.join(counts)}")
        return out
