"""Plain delimited tables with named columns: CSV, and Autolab NOVA's ASCII export.

The header is the first line that is neither blank nor a ``#`` comment. A comma-separated
file whose first such line is all numbers has no header: its first three columns are frequency,
Z' and Z'' in Hz and ohm (the CSV of impedance.py's ``readCSV``). Its delimiter is a tab,
``;`` or ``,`` (the first of these that cuts the header into at least 3 fields); with a tab or
``;`` a decimal comma is accepted in the numbers. Column names are recognised case-insensitively,
with their units in ``(...)``, ``[...]``, after ``/`` or as a ``_unit`` suffix:

* frequency: ``freq``, ``frequency``, ``f`` in Hz, kHz, MHz or mHz;
* Z': ``Z'``, ``Zre``, ``Zreal``, ``Z_real``, ``Re(Z)``, ``Real(Z)`` in ohm, kohm, Mohm, mohm
  (``Ohm``, ``Ω`` and ``kΩ`` too);
* Z'': ``Z''``, ``Z"``, ``Zim``, ``Zimag``, ``Zimg``, ``Z_imag``, ``Im(Z)``, ``Imag(Z)``, same
  units. A leading ``-`` (``-Z''``, ``-Im(Z)/Ohm``) means the column holds -Z'': it is negated.

Other columns (|Z|, phase, time...) are ignored. Missing or ambiguous columns, an unknown unit,
and every bad cell are :class:`ParseError` with the line.

>>> import pathlib, tempfile
>>> p = pathlib.Path(tempfile.mkdtemp()) / "sweep.csv"
>>> _ = p.write_text("Frequency (kHz),Z' (kOhm),-Z'' (kOhm)\\n1,2,0.5\\n0.1,3,1\\n0.01,4,2\\n")
>>> s = read_csv(p)
>>> s.frequencies_hz.tolist(), s.z_real_ohm.tolist(), s.z_imag_ohm.tolist()
([10.0, 100.0, 1000.0], [4000.0, 3000.0, 2000.0], [-2000.0, -1000.0, -500.0])
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from synthwatch.collectors.impedance.sweep import ImpedanceSweep, ParseError
from synthwatch.collectors.impedance.table import read_lines, scan_rows

__all__ = ["HeaderError", "ColumnSpec", "parse_header", "read_csv", "read_named_table"]

_FREQ_NAMES = {"freq", "frequency", "f"}
_REAL_NAMES = {"z'", "zre", "zreal", "re(z)", "real(z)", "zr", "realz", "rez"}
_IMAG_NAMES = {"z''", "zim", "zimag", "zimg", "im(z)", "imag(z)", "zi", "imagz", "imz"}
#: units by exact spelling first (m/M prefixes differ by case), then case-insensitively
_EXACT_UNITS = {
    "mHz": ("Hz", 1e-3), "MHz": ("Hz", 1e6),
    "mOhm": ("ohm", 1e-3), "mohm": ("ohm", 1e-3), "mΩ": ("ohm", 1e-3),
    "MOhm": ("ohm", 1e6), "Mohm": ("ohm", 1e6), "MΩ": ("ohm", 1e6),
}  # fmt: skip
_UNITS = {
    "hz": ("Hz", 1.0), "khz": ("Hz", 1e3),
    "ohm": ("ohm", 1.0), "ohms": ("ohm", 1.0), "ω": ("ohm", 1.0),
    "kohm": ("ohm", 1e3), "kohms": ("ohm", 1e3), "kω": ("ohm", 1e3),
}  # fmt: skip
_KNOWN = _FREQ_NAMES | _REAL_NAMES | _IMAG_NAMES
_UNIT_TAIL = re.compile(r"^(?P<name>.*?)\s*(?:\((?P<a>[^()]*)\)|\[(?P<b>[^\[\]]*)\])$")


class HeaderError(ParseError):
    """The header row of a named table is missing or not understood (a :class:`ParseError`)."""


@dataclass(frozen=True)
class ColumnSpec:
    """Where the three columns are, and the factor that turns each into Hz or ohm (with sign)."""

    indices: tuple[int, int, int]
    scale: tuple[float, float, float]


def _split_unit(cell: str) -> tuple[str, str]:
    """('name', 'unit') of a header cell: the first split whose name is a known column name.

    Tried in order: the whole cell (``Re(Z)``), a ``(unit)`` or ``[unit]`` tail, a ``/unit``
    tail, a ``_unit`` suffix. When none names a known column, the whole cell with no unit.
    """
    text = cell.strip().strip('"').strip()
    splits = [(text, "")]
    match = _UNIT_TAIL.match(text)
    if match:
        unit = match.group("a") if match.group("a") is not None else match.group("b")
        splits.append((match.group("name"), unit.strip()))
    for sep in ("/", "_"):
        if sep in text:
            name, _, unit = text.rpartition(sep)
            splits.append((name, unit.strip()))
    for name, unit in splits:
        if _normal(name)[0] in _KNOWN:
            return name, unit
    return text, ""


def _normal(name: str) -> tuple[str, bool]:
    """Canonical lower-case name without spaces/underscores, and whether it is negated."""
    key = name.strip().lower().replace("\u2032", "'").replace("\u2019", "'").replace('"', "''")
    key = re.sub(r"[\s_.]", "", key)
    negated = key.startswith("-")
    return key.lstrip("-"), negated


def _unit_factor(unit: str, kind: str, path: Path, line: int, cell: str) -> float:
    """Factor from ``unit`` to Hz or ohm (``kind``); no unit means Hz or ohm."""
    if not unit:
        return 1.0
    found = _EXACT_UNITS.get(unit) or _UNITS.get(unit.lower())
    if found is None or found[0] != kind:
        raise HeaderError(
            path, f"expected a unit of {kind}, got {unit!r}", line=line, column=cell.strip()
        )
    return found[1]


def parse_header(path: Path, header: list[str], line: int) -> ColumnSpec:
    """Find the frequency, Z' and Z'' columns of a header row (see the module doc)."""
    found: dict[str, list[tuple[int, float]]] = {"freq": [], "real": [], "imag": []}
    for i, cell in enumerate(header):
        name, unit = _split_unit(cell)
        key, negated = _normal(name)
        sign = -1.0 if negated else 1.0
        if key in _FREQ_NAMES and not negated:
            found["freq"].append((i, _unit_factor(unit, "Hz", path, line, cell)))
        elif key in _REAL_NAMES and not negated:
            found["real"].append((i, _unit_factor(unit, "ohm", path, line, cell)))
        elif key in _IMAG_NAMES:
            found["imag"].append((i, sign * _unit_factor(unit, "ohm", path, line, cell)))
    expected = {
        "freq": "frequency column (freq, frequency or f, in Hz)",
        "real": "Z' column (Z', Zre, Zreal, Re(Z), in ohm)",
        "imag": "Z'' column (Z'', Zim, Zimag, Im(Z) or -Z'', -Im(Z), in ohm)",
    }
    for kind, hits in found.items():
        if len(hits) != 1:
            got = "none" if not hits else f"{len(hits)} of them"
            raise HeaderError(
                path,
                f"expected exactly one {expected[kind]}, found {got} in the header "
                f"{[c.strip() for c in header]!r}",
                line=line,
            )
    (fi, fs), (ri, rs), (ii, is_) = found["freq"][0], found["real"][0], found["imag"][0]
    return ColumnSpec((fi, ri, ii), (fs, rs, is_))


def _delimiter(header: str) -> str | None:
    for sep in ("\t", ";", ","):
        if len(header.split(sep)) >= 3:
            return sep
    return None


def _all_numbers(fields: list[str]) -> bool:
    return all(re.match(r"^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$", c) for c in fields)


def read_named_table(path: Path, lines: list[str], fmt: str) -> ImpedanceSweep:
    """Read a delimited table with a named header (module doc) as a sweep of format ``fmt``."""
    start = next(
        (i for i, text in enumerate(lines) if text.strip() and not text.lstrip().startswith("#")),
        None,
    )
    if start is None:
        raise HeaderError(path, "expected a header row, found only blank or comment lines")
    sep = _delimiter(lines[start])
    if sep == "," and _all_numbers(lines[start].split(sep)):
        # impedance.py's CSV: no header, frequency, Z', Z'' in the first three columns
        table = scan_rows(
            path, lines, start, lambda text: text.split(sep), (0, 1, 2), min_fields=3,
            header_fields=len(lines[start].split(sep)),
        )  # fmt: skip
        return table.sweep(path, fmt, meta=(("header", "none: frequency, Z', Z''"),))
    if sep is None:
        raise HeaderError(
            path,
            "expected a header of at least 3 columns separated by tab, ';' or ','",
            line=start + 1,
        )
    spec = parse_header(path, lines[start].split(sep), start + 1)
    table = scan_rows(
        path,
        lines,
        start + 1,
        lambda text: text.split(sep),
        spec.indices,
        min_fields=max(spec.indices) + 1,
        header_fields=len(lines[start].rstrip(sep + " ").split(sep)),
        scale=spec.scale,
        decimal_comma=sep != ",",
    )
    return table.sweep(path, fmt)


def read_csv(path: str | Path) -> ImpedanceSweep:
    """Read a plain delimited table of frequency, Z', Z'' with named columns (module doc)."""
    path = Path(path)
    return read_named_table(path, read_lines(path), "csv")
