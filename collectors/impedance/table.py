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

__all__ = [
    "MAX_BYTES",
    "Table",
    "read_lines",
    "to_float",
    "cut_short",
    "scan_rows",
    "local_time",
]

#: a number as instruments write it: sign, digits, optional decimal part and exponent
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$|^[+-]?(?:nan|inf|infinity)$")


#: largest export read (a 1000-point sweep in the widest layout is about 300 kB)
MAX_BYTES = 16 * 1024 * 1024


def read_lines(path: Path) -> list[str]:
    """The file's lines without their line ends; UTF-8 (BOM allowed), UTF-16 with its byte-order
    mark, else Latin-1 (Gamry). A file that ends with a line end has ``""`` as its last line, so
    ``lines[-1] != ""`` tells that the last line was not terminated (a cut file, or an editor's).

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
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            raw = raw.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError as err:
            raise ParseError(
                path, f"expected UTF-16 text after the UTF-16 byte-order mark ({err.reason})"
            ) from err
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
    #: the ``extra_columns`` of each row (NaN where not a number), shape (rows, len(extra))
    extra: np.ndarray | None = None
    #: rows left out by ``skip`` (e.g. GEIS rows at 0 Hz)
    skipped: int = 0
    #: 1-based line of a footer (non-numeric text after the data), if any
    footer: int | None = None

    def take(self, rows: np.ndarray) -> Table:
        """The rows selected by index array ``rows`` (file order kept)."""
        return Table(
            self.frequencies_hz[rows],
            self.z_real_ohm[rows],
            self.z_imag_ohm[rows],
            tuple(self.lines[i] for i in rows),
            None if self.extra is None else self.extra[rows],
        )

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


def _fields(split: Callable[[str], list[str]], text: str) -> list[str]:
    """A row's fields without the empty ones a trailing delimiter leaves."""
    fields = split(text)
    while fields and not fields[-1].strip():
        fields.pop()
    return fields


def _numeric(token: str, decimal_comma: bool = False) -> bool:
    text = token.strip().strip('"')
    return bool(_NUMBER.match(text.replace(",", ".") if decimal_comma else text))


def _shape(token: str) -> tuple[int, int] | None:
    """(decimals, exponent digits) of a number as written; None when not a plain number."""
    m = re.match(r"^[+-]?\d*(?:\.(\d*))?(?:[eE][+-]?(\d*))?$", token.strip().strip('"'))
    if not m:
        return None
    return len(m.group(1) or ""), -1 if m.group(2) is None else len(m.group(2))


def cut_short(token: str, column: Sequence[str]) -> bool:
    """Whether ``token``, the last field of an unterminated last row, was cut inside a number.

    Judged against the same field of the rows above (``column``): a number ending in ``.``,
    ``e`` or ``e+``; an exponent with fewer digits, or gone, where every row above has one of
    a fixed width; fewer decimals where every row above has the same number of decimals.
    """
    text = token.strip().strip('"')
    if re.search(r"(?:[.eE]|[eE][+-])$", text):
        return True
    mine = _shape(text)
    shapes = {_shape(t) for t in column[-20:]}
    if mine is None or None in shapes or len(shapes) != 1 or len(column) < 2:
        return False
    (decimals, exponent) = shapes.pop()
    if exponent >= 0 and mine[1] < exponent:
        return True
    return exponent < 0 and mine[1] < 0 and mine[0] < decimals


def scan_rows(
    path: Path,
    lines: Sequence[str],
    start: int,
    split: Callable[[str], list[str]],
    columns: tuple[int, int, int],
    *,
    min_fields: int,
    header_fields: int | None = None,
    stop: Callable[[str], bool] = lambda line: False,
    skip: Callable[[list[float]], bool] = lambda values: False,
    scale: tuple[float, float, float] = (1.0, 1.0, 1.0),
    decimal_comma: bool = False,
    extra_columns: Sequence[int] = (),
) -> Table:
    """Read data rows from ``lines[start:]`` (0-based index) up to the end or ``stop(line)``.

    ``split`` cuts a row into fields, ``columns`` gives the field index of frequency, Z' and Z''
    (multiplied by ``scale``, e.g. -1 for a -Z'' column), every row needs ``min_fields`` fields,
    as many as the first data row and, when ``header_fields`` is given, as many as the header
    names (empty fields left by a trailing delimiter are not counted). Blank lines are skipped
    anywhere; rows for which ``skip(values)`` is true (non-impedance records of a mixed file)
    are left out and counted.

    After at least one data row, a line that does not start with a number and is followed by
    no other data row is a footer: reading stops there. The last line of a file that does not
    end with a line end is checked for a number cut short (:func:`cut_short`): a truncated
    file is an error at that line, never a smaller number. ``extra_columns`` are other fields
    read as numbers per row (NaN when not a number, e.g. a cycle number or elapsed time).
    """
    names = ("frequency", "Z'", "Z''")
    need = max(min_fields, header_fields or 0)
    f: list[float] = []
    zr: list[float] = []
    zi: list[float] = []
    rows: list[int] = []
    extra: list[list[float]] = []
    last_fields: list[list[str]] = []
    skipped = 0
    first = 0
    footer = None
    unterminated = len(lines) - 1 if lines and lines[-1] != "" else -1
    end = len(lines)
    for index in range(start, len(lines)):
        if stop(lines[index]):
            end = index
            break
    for index in range(start, end):
        text = lines[index]
        if not text.strip():
            continue
        line = index + 1
        fields = _fields(split, text)
        if (rows or skipped) and not (fields and _numeric(fields[0], decimal_comma)):
            later = next(
                (
                    j
                    for j in range(index + 1, end)
                    if lines[j].strip()
                    and _numeric((_fields(split, lines[j]) or [""])[0], decimal_comma)
                ),
                None,
            )
            if later is None:
                footer = line
                break
        cut = index == unterminated
        if len(fields) < need or (last_fields and len(fields) < len(last_fields[0])):
            what = "as the header names" if header_fields and need == header_fields else ""
            if len(fields) >= need:
                need, what = len(last_fields[0]), f"as the first data row (line {first})"
            hint = " (row cut short: truncated file?)" if cut else ""
            raise ParseError(
                path,
                f"expected {need} fields{' ' + what if what else ''}, got {len(fields)}{hint}",
                line=line,
            )
        if cut and last_fields and len(fields) <= len(last_fields[-1]):
            last = len(fields) - 1
            column = [r[last] for r in last_fields if len(r) > last]
            if cut_short(fields[last], column):
                raise ParseError(
                    path,
                    f"expected a complete number, got {fields[last].strip()!r} on the last line, "
                    "which has no line end (row cut inside a number: truncated file?)",
                    line=line,
                    column=f"field {last + 1}",
                )
        values = [
            to_float(fields[c], path, line, name, decimal_comma=decimal_comma) * s
            for c, name, s in zip(columns, names, scale)
        ]
        if not last_fields:
            first = line
        last_fields.append(fields)
        if len(last_fields) > 21:
            del last_fields[1]  # the first data row stays: the field count every row needs
        if skip(values):
            skipped += 1
            continue
        f.append(values[0])
        zr.append(values[1])
        zi.append(values[2])
        rows.append(line)
        if extra_columns:
            extra.append(
                [
                    float(fields[c].strip().replace(",", ".") if decimal_comma else fields[c])
                    if c < len(fields) and _numeric(fields[c], decimal_comma)
                    else float("nan")
                    for c in extra_columns
                ]
            )
    if not rows:
        raise ParseError(
            path,
            f"expected impedance data rows after line {start}, found none (truncated file?)",
            line=min(start, len(lines)) or None,
        )
    return Table(
        np.array(f),
        np.array(zr),
        np.array(zi),
        tuple(rows),
        np.array(extra, dtype=float).reshape(len(rows), len(extra_columns)),
        skipped,
        footer,
    )


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
