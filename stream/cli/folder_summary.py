"""The end of ``synthwatch replay --folder`` and ``synthwatch collect folder``: what became of
each file of the folder, so that none is dropped silently.

:func:`folder_summary` prints a
:class:`~synthwatch.collectors.folder.tally.FolderTally`: one ``refused NAME:LINE: reason`` line
per refused file, the files skipped as not exports, and the counts. A command that took no
reading from the folder then raises :class:`NoReading` (exit status 2, one line).
"""

from __future__ import annotations

from rich.console import Console

from synthwatch.collectors.folder.tally import FolderTally
from synthwatch.contract.errors import SynthwatchError

__all__ = ["NoReading", "folder_summary"]


class NoReading(SynthwatchError):
    """No reading was taken from the folder: every export was refused (an input mistake)."""


def folder_summary(console: Console, tally: FolderTally) -> None:
    """Print ``tally`` as plain text (module doc)."""
    for line in tally.lines():
        console.print(line, markup=False, highlight=False)
