"""What every UV-Vis reader shares: the error, the spectrum, text decoding, numbers, the axis."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from synthwatch.contract.errors import SynthwatchError

MIN_POINTS = 8
MAX_BYTES = 64 << 20


class UVVisParseError(SynthwatchError, ValueError):
    """A UV-Vis export that cannot be read: names the file, the line and what was expected."""

    def __init__(
        self, source: str | Path, reason: str, *, line: int | None = None, column: str | None = None
    ):
        self.source = Path(source)
        self.reason = reason
        self.line = line
        self.column = column
        where = str(source) if line is None else f"{source}, line {line}"
        what = reason if column is None else f"column {column!r}: {reason}"
        super().__init__(f"{where}: {what}")


@dataclass(frozen=True, eq=False)
class Spectrum:
    """One absorbance spectrum of an export file.

    ``index`` is its place in the file (0 for a file of one spectrum), ``line`` the line of its
    first data point or column header, ``t`` its time (UTC) or None when the file has none.
    """

    source: Path
    fmt: str
    index: int
    t: datetime | None
    wavelengths_nm: np.ndarray
    absorbance_au: np.ndarray
    line: int
    meta: dict[str, str] = field(default_factory=dict)


def decode(path: Path, raw: bytes) -> list[str]:
    """The lines of an export's bytes: UTF-8 (BOM or not), UTF-16 (BOM), else Latin-1."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError:
            raise UVVisParseError(path, "invalid UTF-16 text; expected a text export") from None
    else:
        if b"\x00" in raw:
            raise UVVisParseError(path, "binary content (NUL bytes); expected a text export")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
    if "\x00" in text:
        raise UVVisParseError(path, "binary content (NUL characters); expected a text export")
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise UVVisParseError(path, "empty file; expected a UV-Vis export")
    return lines


def read_lines(path: Path) -> list[str]:
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as err:
        raise UVVisParseError(path, f"cannot read ({err.strerror or err})") from None
    if len(raw) > MAX_BYTES:
        raise UVVisParseError(path, f"larger than {MAX_BYTES >> 20} MiB: not a spectrum export")
    return decode(path, raw)


def number(path: Path, text: str, line: int, column: str, *, allow_nan: bool) -> float:
    """A float from a field (a decimal comma is accepted), or the error naming line and column."""
    t = text.strip().strip('"')
    try:
        value = float(t)
    except ValueError:
        try:
            value = float(t.replace(",", "."))
        except ValueError:
            raise UVVisParseError(
                path, f"expected a number, got {t[:40]!r}", line=line, column=column
            ) from None
    if math.isinf(value) or (math.isnan(value) and not allow_nan):
        what = "a finite number" if not allow_nan else "a number or nan (missing)"
        raise UVVisParseError(path, f"expected {what}, got {t[:40]!r}", line=line, column=column)
    return value


def check_axis(
    path: Path,
    wl,
    values: np.ndarray,
    line: int,
    *,
    unit: str = "nm",
    data_lines: Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Check a wavelength axis (nm); reverse a descending one (values along the last axis)."""
    x = np.asarray(wl, dtype=float)
    if x.size < MIN_POINTS:
        raise UVVisParseError(
            path, f"expected at least {MIN_POINTS} wavelengths, got {x.size}", line=line
        )
    if not np.all(np.isfinite(x)):
        raise UVVisParseError(path, "expected finite wavelengths", line=line)
    d = np.diff(x)
    if np.all(d < 0):
        x, values = x[::-1].copy(), values[..., ::-1].copy()
    elif not np.all(d > 0):
        k = int(np.argmax(d <= 0)) + 1
        raise UVVisParseError(
            path,
            f"wavelength {x[k]:g} {unit} after {x[k - 1]:g} {unit}: expected a strictly "
            "increasing (or decreasing) axis",
            line=data_lines[k] if data_lines is not None and k < len(data_lines) else line + k,
        )
    if x[0] <= 0:
        raise UVVisParseError(path, f"expected wavelengths above 0 nm, got {x[0]:g}", line=line)
    if np.isinf(values).any():
        raise UVVisParseError(path, "expected finite absorbances (or nan for missing)", line=line)
    return x, values


@dataclass
class Raw:
    """A spectrum as a reader found it: the axis in nm and the ordinates of ``kind`` (``A``,
    ``%T``, ``T`` or ``counts``); dark and reference counts when the file holds them."""

    t: datetime | None
    x_nm: np.ndarray
    y: np.ndarray
    kind: str
    line: int
    meta: dict[str, str] = field(default_factory=dict)
    dark: np.ndarray | None = None
    reference: np.ndarray | None = None


def make_raw(
    path: Path,
    x_nm,
    y,
    kind: str,
    line: int,
    *,
    t: datetime | None = None,
    meta: dict[str, str] | None = None,
    dark=None,
    reference=None,
    unit: str = "nm",
    data_lines: Sequence[int] | None = None,
) -> Raw:
    """A :class:`Raw` with its axis checked (ascending; ordinates and dark/reference follow)."""
    rows = [np.asarray(y, dtype=float)]
    for extra in (dark, reference):
        if extra is not None:
            rows.append(np.asarray(extra, dtype=float))
    x, stacked = check_axis(path, x_nm, np.vstack(rows), line, unit=unit, data_lines=data_lines)
    k = 1
    d = r = None
    if dark is not None:
        d, k = stacked[k], k + 1
    if reference is not None:
        r = stacked[k]
    return Raw(t, x, stacked[0], kind, line, meta or {}, d, r)


class NumberedLines(Sequence):
    """Consecutive lines as ``(line number, text)`` pairs, without building the pairs: what the
    table readers take as rows, for the fast path over a long data block."""

    __slots__ = ("first", "lines")

    def __init__(self, first: int, lines: list[str]):
        self.first = first
        self.lines = lines

    def __len__(self) -> int:
        return len(self.lines)

    def __getitem__(self, k):
        if isinstance(k, slice):
            start, stop, step = k.indices(len(self.lines))
            if step == 1:
                return NumberedLines(self.first + start, self.lines[start:stop])
            return [self[i] for i in range(start, stop, step)]
        text = self.lines[k]
        return (self.first + (k if k >= 0 else k + len(self.lines)), text)

    def __iter__(self):
        return zip(range(self.first, self.first + len(self.lines)), self.lines)

    @property
    def numbers(self) -> range:
        return range(self.first, self.first + len(self.lines))


def split_fields(line: str, delim: str) -> list[str]:
    """The fields of a delimited line (quotes removed; a quoted field may hold the delimiter)."""
    if '"' not in line:
        return [f.strip() for f in line.split(delim)]
    out, cur, quoted = [], [], False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == delim and not quoted:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur).strip())
    return out


def parse_block(lines: list[str], delim: str | None, n: int) -> np.ndarray | None:
    """``lines`` of ``n`` numbers split by ``delim`` (None: whitespace) in one C-level parse, or
    None when any line is irregular (a field count other than ``n``, a field that is not a plain
    number, quotes, a nan wavelength in the first column, an infinity): the caller then reads the
    lines one by one, to name the line and column at fault. Empty lines are skipped."""
    if not any(lines):
        return None
    try:
        arr = np.loadtxt(lines, dtype=float, delimiter=delim, comments=None, ndmin=2)
    except (ValueError, TypeError):
        return None
    if arr.shape[1] != n or not np.isfinite(arr[:, 0]).all() or np.isinf(arr).any():
        return None
    return arr


def numeric_block(
    path: Path,
    rows: list[tuple[int, str]] | NumberedLines,
    delim: str,
    names: list[str],
    *,
    allow_empty: bool = False,
) -> np.ndarray:
    """The rows' numbers as an array (rows × len(names)); the first column may not be nan.

    Fast path: the whole block in one :func:`parse_block` (a decimal comma replaced on the
    block's text); on any irregularity the slow path reads field by field and names the first
    bad line and column.
    """
    n = len(names)
    if rows and not allow_empty:
        lines = rows.lines if isinstance(rows, NumberedLines) else [ln for _, ln in rows]
        if delim != ",":
            text = "\n".join(lines)
            if "," in text:
                lines = text.replace(",", ".").split("\n")
        arr = parse_block(lines, delim if delim.strip() else None, n)
        if arr is not None and arr.shape[0] == len(rows):
            return arr
    out = np.empty((len(rows), n))
    for r, (i, ln) in enumerate(rows):
        fields = split_fields(ln, delim) if delim.strip() else ln.split()
        if allow_empty:
            while len(fields) > n and fields[-1] == "":
                fields.pop()
            fields += [""] * (n - len(fields))
        if len(fields) != n:
            raise UVVisParseError(
                path, f"expected {n} fields like the header, got {len(fields)}", line=i
            )
        for c, (f, name) in enumerate(zip(fields, names)):
            if allow_empty and f == "":
                out[r, c] = np.nan
            else:
                out[r, c] = number(path, f, i, name, allow_nan=c > 0)
    return out
