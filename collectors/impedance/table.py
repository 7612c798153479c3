"""Text-table helpers shared by the impedance parsers: read a file's lines, split and convert rows.

Every helper raises :class:`~synthwatch.collectors.impedance.sweep.ParseError` naming the file,
the 1-based line and what was expected. Lines are split on ``\\n``, ``\\r\\n`` and ``\\r`` only
(Python's universal newlines), so line numbers match what an editor and impedance.py's readers
(``readlines()``) see.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

import numpy as np

from synthwatch.collectors.impedance.sweep import ImpedanceSweep, ParseError, make_sweep

__all__ = ["MAX_BYTES", "Table", "read_lines", "to_float", "scan_rows", "local_time"]

#: a number as instruments write it: sign, digits, optional decimal part and exponent
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$|^[+-]?(?:nan|inf|infinity)$")


#: largest export read (a 1000-point sweep in the widest layout is about 300 kB)
MAX_BYTES = 16 * 1024 * 1024


def read_lines(path: Path) -> list[str]:
    """The file's lines without their line ends; UTF-8 (BOM allowed), else Latin-1 (Gamry).

    An unreadable, empty, binary (NUL bytes) or oversized (:data:`MAX_BYTES`) file is a
    :class:`ParseError`.
    """
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ParseError(
                path, f"expected an export of at most {MAX_BYTES} bytes, the file has {size}"
            )
        raw = path.read_bytes()
    except OSError as err:
        raise ParseError(path, f"cannot read the file ({err.strerror or err})") from err
    if not raw.strip():
        raise ParseError(path, "the file is empty (expected an impedance export)")
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        raise ParseError(path, "expected a text export, found a NUL byte (binary file?)", line=line)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def to_float(
    token: str, path: Path, line: int, column: str, *, decimal_comma: bool = False
) -> float:
    """One number of a table cell; anything else is a :class:`ParseError` for that cell."""
    text = token.strip().strip('"')
    if decimal_comma:
        text = text.replace(",", ".")
    if not _NUMBER.match(text):
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise ParseError(path, f"expected a number, got {shown!r}", line=line, column=column)
    return float(text)


@dataclass(frozen=True)
class Table:
    """The numeric columns read from a table, in file order, with each row's 1-based line."""

    frequencies_hz: np.ndarray
    z_real_ohm: np.ndarray
    z_imag_ohm: np.ndarray
    lines: tuple[int, ...]

    def sweep(self, path: str | Path, fmt: str, **kw: Any) -> ImpedanceSweep:
        """The validated sweep of these rows (:func:`~.sweep.make_sweep`; ``kw``: its options)."""
        return make_sweep(
            path,
            self.frequencies_hz,
            self.z_real_ohm,
            self.z_imag_ohm,
            lines=self.lines,
            fmt=fmt,
            **kw,
        )


def scan_rows(
    path: Path,
    lines: Sequence[str],
    start: int,
    split: Callable[[str], list[str]],
    columns: tuple[int, int, int],
    *,
    min_fields: int,
    stop: Callable[[str], bool] = lambda line: False,
    skip: Callable[[list[float]], bool] = lambda values: False,
    scale: tuple[float, float, float] = (1.0, 1.0, 1.0),
    decimal_comma: bool = False,
) -> Table:
    """Read data rows from ``lines[start:]`` (0-based index) up to the end or ``stop(line)``.

    ``split`` cuts a row into fields, ``columns`` gives the field index of frequency, Z' and Z''
    (multiplied by ``scale``, e.g. -1 for a -Z'' column), every row needs ``min_fields`` fields.
    Blank lines are skipped; rows for which ``skip(values)`` is true (non-impedance records of
    a mixed file) are left out.
    """
    names = ("frequency", "Z'", "Z''")
    f: list[float] = []
    zr: list[float] = []
    zi: list[float] = []
    rows: list[int] = []
    for index in range(start, len(lines)):
        text = lines[index]
        if stop(text):
            break
        if not text.strip():
            continue
        line = index + 1
        fields = split(text)
        if len(fields) < min_fields:
            hint = " (truncated file?)" if index == len(lines) - 1 else ""
            raise ParseError(
                path,
                f"expected at least {min_fields} fields, got {len(fields)}{hint}",
                line=line,
            )
        values = [
            to_float(fields[c], path, line, name, decimal_comma=decimal_comma) * s
            for c, name, s in zip(columns, names, scale)
        ]
        if skip(values):
            continue
        f.append(values[0])
        zr.append(values[1])
        zi.append(values[2])
        rows.append(line)
    if not rows:
        raise ParseError(
            path,
            f"expected impedance data rows after line {start}, found none (truncated file?)",
            line=min(start, len(lines)) or None,
        )
    return Table(np.array(f), np.array(zr), np.array(zi), tuple(rows))


def local_time(
    text: str, formats: Sequence[str], tz: tzinfo | None, path: Path, line: int
) -> datetime:
    """A date written by the instrument's PC (no zone) as an aware datetime in ``tz``.

    ``tz=None`` takes the zone of this machine (the instrument PC is usually the lab's).
    """
    for fmt in formats:
        try:
            naive = datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
        return naive.replace(tzinfo=tz) if tz is not None else naive.astimezone()
    raise ParseError(
        path, f"expected a date like {' or '.join(formats)}, got {text.strip()!r}", line=line
    )
