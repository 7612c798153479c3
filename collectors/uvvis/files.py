"""Read UV-Vis exports: Ocean Insight OceanView / SpectraSuite text, JCAMP-DX, CSV.

:func:`read_spectra` is the one entry point: it returns the absorbance spectra of one export
file as :class:`Spectrum` objects, and raises :class:`UVVisParseError` (file, line, column, what
was expected) for anything else, whatever the bytes. The format is found from the content
(:func:`detect_format`), so the extension may be anything; ``fmt=`` forces one.

Layouts
-------
* **OceanView** ("ASCII with header"): ``Data from <name> Node``, then ``key: value`` lines
  (``Date: Wed Nov 25 11:38:08 CET 2026``, ``Integration Time (sec)``, ``Number of Pixels in
  Spectrum: N``...), the line ``>>>>>Begin Spectral Data<<<<<``, then one ``wavelength<TAB>value``
  pair per line (a decimal comma is accepted, as OceanView writes in some locales).
* **SpectraSuite**: ``SpectraSuite Data File``, a ``+++`` rule, the same ``key: value`` header
  (``Number of Pixels in Processed Spectrum: N``), ``>>>>>Begin Processed Spectral Data<<<<<``,
  the pairs, and ``>>>>>End Processed Spectral Data<<<<<``.
* **JCAMP-DX** (``##TITLE=`` first; read with the ``jcamp`` package): ``##DATA TYPE=UV/VIS
  SPECTRUM``, ``##XUNITS=NANOMETERS`` (or MICROMETERS), ``##YUNITS=ABSORBANCE``; the time from
  ``##LONGDATE=`` (JCAMP-DX 5.01) or ``##DATE=``/``##TIME=``; a compound file (``##DATA
  TYPE=LINK``) gives one spectrum per block.
* **CSV** (``,``, ``;`` or tab): a header whose first column is the wavelength (``wavelength``,
  ``wavelength_nm``, ``Wavelength (nm)``, ``lambda``, ``nm``) and one column per spectrum. A
  spectrum column's header is its time: ISO 8601 (``2026-11-25T10:00:00Z``), or seconds since
  ``start`` (``120``, ``120s``, ``t=120``); a file of one spectrum may name its column anything
  (``absorbance``), and its time is then unknown (``Spectrum.t`` is None: the folder replay uses
  the file's modification time). Lines starting with ``#`` are comments.

Values are absorbance (AU). The wavelength axis must be finite and strictly monotonic (a
descending axis is reversed), with at least 8 points (a UV-Vis descriptor's minimum); an
absorbance of ``nan`` is a missing point (the models flag it), infinities are refused.

>>> import pathlib, tempfile
>>> from datetime import timezone
>>> p = pathlib.Path(tempfile.mkdtemp()) / "run.csv"
>>> rows = [f"{400 + 10 * i},{0.1 * i:.2f},{0.2 * i:.2f}" for i in range(10)]
>>> _ = p.write_text("wavelength_nm,2026-11-25T10:00:00Z,2026-11-25T10:00:02Z\\n"
...                  + "\\n".join(rows) + "\\n")
>>> spectra = read_spectra(p)
>>> [(s.fmt, s.t.isoformat(), float(s.absorbance_au[3])) for s in spectra]
[('csv', '2026-11-25T10:00:00+00:00', 0.3), ('csv', '2026-11-25T10:00:02+00:00', 0.6)]
>>> _ = p.write_text("wavelength_nm,A\\n400,0.1\\n410,x\\n")
>>> try:
...     read_spectra(p)
... except UVVisParseError as err:
...     print(str(err).split("run.csv")[1])
, line 3: column 'A': expected a number, got 'x'
"""

from __future__ import annotations

import contextlib
import io
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path

import jcamp
import numpy as np

from synthwatch.contract.errors import SynthwatchError

__all__ = [
    "FORMATS",
    "Spectrum",
    "UVVisParseError",
    "detect_format",
    "is_uvvis_export",
    "read_spectra",
]

FORMATS = ("oceanview", "spectrasuite", "jcamp", "csv")
MIN_POINTS = 8
MAX_BYTES = 64 << 20

_OV_BEGIN = (">>>>>Begin Spectral Data<<<<<", ">>>>>Begin Processed Spectral Data<<<<<")
_OV_END = ">>>>>End Processed Spectral Data<<<<<"
_NOT_ABSORBANCE = ("transmi", "reflect", "irradiance", "intensity", "scope", "raw")
#: Zone abbreviations the Java date of OceanView/SpectraSuite headers may carry (hours east).
_ZONES = {"UTC": 0, "GMT": 0, "WET": 0, "WEST": 1, "CET": 1, "CEST": 2, "EET": 2, "EEST": 3,
          "BST": 1, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6,
          "PST": -8, "PDT": -7, "JST": 9, "KST": 9, "IST": 5.5, "AEST": 10, "AEDT": 11}  # fmt: skip
_WAVELENGTH_HEADER = re.compile(r"^\s*(wavelength|wl|lambda|λ|nm)(?![a-z])", re.IGNORECASE)
_SECONDS_HEADER = re.compile(r"^\s*(?:t\s*=\s*)?([0-9]+(?:\.[0-9]*)?)\s*s?\s*$", re.IGNORECASE)


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


def _text(path: Path) -> list[str]:
    try:
        raw = path.read_bytes()[: MAX_BYTES + 1]
    except OSError as err:
        raise UVVisParseError(path, f"cannot read ({err.strerror or err})") from None
    if len(raw) > MAX_BYTES:
        raise UVVisParseError(path, f"larger than {MAX_BYTES >> 20} MiB: not a spectrum export")
    if b"\x00" in raw:
        raise UVVisParseError(path, "binary content (NUL bytes); expected a text export")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise UVVisParseError(path, "empty file; expected a UV-Vis export")
    return lines


def detect_format(lines: list[str]) -> str:
    """The format of an export from its lines (``csv`` when no other signature is found)."""
    first = next((ln.strip() for ln in lines if ln.strip()), "")
    if first.upper().startswith("##TITLE"):
        return "jcamp"
    if first.startswith("SpectraSuite Data File"):
        return "spectrasuite"
    if any(ln.strip() in _OV_BEGIN for ln in lines[:60]):
        return "oceanview"
    return "csv"


def is_uvvis_export(path: str | Path) -> bool:
    """Whether a file looks like a UV-Vis export (OceanView, SpectraSuite, JCAMP-DX, or a CSV
    whose first column is the wavelength) rather than, say, an impedance export."""
    try:
        with open(path, "rb") as f:
            head = f.read(8192).decode("utf-8-sig", errors="replace").splitlines()[:60]
    except OSError:
        return False
    if detect_format(head) != "csv":
        return True
    first = next((ln for ln in head if ln.strip() and not ln.startswith("#")), "")
    return bool(_WAVELENGTH_HEADER.match(first.replace(";", ",").replace("\t", ",")))


def _number(path: Path, text: str, line: int, column: str, *, allow_nan: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UVVisParseError(
            path, f"expected a number, got {text.strip()[:40]!r}", line=line, column=column
        ) from None
    if math.isinf(value) or (math.isnan(value) and not allow_nan):
        what = "a finite number" if not allow_nan else "a number or nan (missing)"
        raise UVVisParseError(
            path, f"expected {what}, got {text.strip()!r}", line=line, column=column
        )
    return value


def _axis(
    path: Path, wl: list[float], values: np.ndarray, line: int
) -> tuple[np.ndarray, np.ndarray]:
    """Check the wavelength axis; reverse a descending one (values along the last axis)."""
    x = np.asarray(wl, dtype=float)
    if x.size < MIN_POINTS:
        raise UVVisParseError(
            path, f"expected at least {MIN_POINTS} wavelengths, got {x.size}", line=line
        )
    d = np.diff(x)
    if np.all(d < 0):
        return x[::-1].copy(), values[..., ::-1].copy()
    if not np.all(d > 0):
        k = int(np.argmax(d <= 0)) + 1
        raise UVVisParseError(
            path,
            f"wavelength {x[k]:g} nm after {x[k - 1]:g} nm: expected a strictly increasing "
            "(or decreasing) axis",
            line=line + k,
        )
    if x[0] <= 0:
        raise UVVisParseError(path, f"expected wavelengths above 0 nm, got {x[0]:g}", line=line)
    return x, values


def _java_date(path: Path, text: str, line: int, tz: tzinfo | None) -> datetime:
    """``Wed Nov 25 11:38:08 CET 2026`` (Java's Date.toString) → aware datetime (UTC)."""
    parts = text.split()
    try:
        if len(parts) == 6:
            zone = parts[4]
            naive = datetime.strptime(" ".join(parts[1:4] + parts[5:]), "%b %d %H:%M:%S %Y")
        elif len(parts) == 5:
            zone, naive = None, datetime.strptime(" ".join(parts[1:]), "%b %d %H:%M:%S %Y")
        else:
            raise ValueError
    except ValueError:
        raise UVVisParseError(
            path,
            f"expected a date like 'Wed Nov 25 11:38:08 CET 2026', got {text.strip()!r}",
            line=line,
            column="Date",
        ) from None
    if zone is not None and zone.upper() in _ZONES:
        zinfo: tzinfo = timezone(timedelta(hours=_ZONES[zone.upper()]))
    elif zone is not None and re.fullmatch(r"(GMT|UTC)[+-]\d\d:?\d\d", zone.upper()):
        sign = 1 if zone[3] == "+" else -1
        digits = zone[4:].replace(":", "")
        zinfo = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    elif zone is not None and tz is None:
        raise UVVisParseError(
            path,
            f"unknown time zone {zone!r}; give the instrument PC's zone (tz=)",
            line=line,
            column="Date",
        )
    else:
        zinfo = tz or datetime.now().astimezone().tzinfo or timezone.utc
    return naive.replace(tzinfo=zinfo).astimezone(timezone.utc)


def _read_ocean(path: Path, lines: list[str], fmt: str, tz: tzinfo | None) -> list[Spectrum]:
    begin = next((i for i, ln in enumerate(lines) if ln.strip() in _OV_BEGIN), None)
    if begin is None:
        raise UVVisParseError(path, f"no {_OV_BEGIN[0]!r} line: expected an {fmt} text export")
    meta: dict[str, str] = {}
    t = None
    pixels = None
    for i, ln in enumerate(lines[:begin], start=1):
        key, sep, value = ln.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        meta[key] = value
        if key == "Date":
            t = _java_date(path, value, i, tz)
        elif key.startswith("Number of Pixels in"):
            pixels = int(_number(path, value, i, key, allow_nan=False))
    title = lines[0].strip().lower() if fmt == "oceanview" else ""
    if title.startswith("data from") and any(k in title for k in _NOT_ABSORBANCE):
        raise UVVisParseError(
            path,
            f"the export is not an absorbance spectrum ({lines[0].strip()!r}); save the "
            "absorbance view",
            line=1,
        )
    wl: list[float] = []
    vals: list[float] = []
    first = begin + 2
    for i in range(begin + 1, len(lines)):
        ln = lines[i].strip()
        if not ln:
            continue
        if ln == _OV_END:
            break
        fields = ln.split("\t") if "\t" in ln else ln.split()
        if len(fields) != 2:
            raise UVVisParseError(
                path, f"expected 'wavelength<TAB>value', got {ln[:60]!r}", line=i + 1
            )
        x_text, y_text = (f.strip().replace(",", ".") for f in fields)
        wl.append(_number(path, x_text, i + 1, "wavelength", allow_nan=False))
        vals.append(_number(path, y_text, i + 1, "value", allow_nan=True))
    if pixels is not None and pixels != len(wl):
        raise UVVisParseError(
            path, f"header says {pixels} pixels, the data has {len(wl)} (file cut short?)"
        )
    x, y = _axis(path, wl, np.asarray(vals, dtype=float), first)
    return [Spectrum(path, fmt, 0, t, x, y, first, meta)]


def _jcamp_time(path: Path, block: dict, line: int, tz: tzinfo | None) -> datetime | None:
    zone = tz or datetime.now().astimezone().tzinfo or timezone.utc
    value = block.get("longdate")
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=zone)).astimezone(timezone.utc)
    if value is not None:
        raise UVVisParseError(
            path, f"expected ##LONGDATE=YYYY/MM/DD HH:MM:SS, got {value!r}", line=line
        )
    if "date" in block and "time" in block:
        text = f"{block['date']} {block['time']}"
        for pattern in ("%y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%d/%m/%y %H:%M:%S"):
            with contextlib.suppress(ValueError):
                naive = datetime.strptime(text, pattern)
                return naive.replace(tzinfo=zone).astimezone(timezone.utc)
        raise UVVisParseError(path, f"expected ##DATE=YY/MM/DD ##TIME=HH:MM:SS, got {text!r}")
    return None


def _read_jcamp(path: Path, lines: list[str], tz: tzinfo | None) -> list[Spectrum]:
    data_lines = [i + 1 for i, ln in enumerate(lines) if ln.upper().startswith("##XYDATA")]
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):  # the jcamp package prints its data checks
            parsed = jcamp.read([ln + "\n" for ln in lines])
    except Exception as err:  # noqa: BLE001 - any failure of the third-party reader
        raise UVVisParseError(
            path, f"not a readable JCAMP-DX file ({type(err).__name__}: {err})"
        ) from None
    if printed.getvalue().strip():
        raise UVVisParseError(
            path,
            f"JCAMP-DX data check failed: {printed.getvalue().strip().splitlines()[0]}",
            line=data_lines[0] if data_lines else None,
        )
    blocks = parsed.get("children") or [parsed]
    out = []
    for k, block in enumerate(blocks):
        line = data_lines[k] if k < len(data_lines) else None
        kind = str(block.get("data type", block.get("datatype", "UV/VIS SPECTRUM"))).upper()
        if "UV" not in kind and "VIS" not in kind:
            raise UVVisParseError(path, f"##DATA TYPE={kind}: expected UV/VIS SPECTRUM", line=line)
        xunits = str(block.get("xunits", "")).upper()
        scale = {"NANOMETERS": 1.0, "NM": 1.0, "MICROMETERS": 1000.0, "UM": 1000.0}.get(xunits)
        if scale is None:
            raise UVVisParseError(
                path, f"##XUNITS={xunits or '(none)'}: expected NANOMETERS", line=line
            )
        yunits = str(block.get("yunits", "")).upper()
        if yunits not in ("ABSORBANCE", "A", "AU"):
            raise UVVisParseError(
                path, f"##YUNITS={yunits or '(none)'}: expected ABSORBANCE", line=line
            )
        x = np.asarray(block.get("x", []), dtype=float) * scale
        y = np.asarray(block.get("y", []), dtype=float)
        npoints = block.get("npoints")
        if x.size != y.size or (isinstance(npoints, int) and npoints != y.size):
            raise UVVisParseError(
                path,
                f"##NPOINTS={npoints} but {y.size} values for {x.size} wavelengths "
                "(file cut short?)",
                line=line,
            )
        if not np.all(np.isfinite(x)) or np.any(np.isinf(y)):
            raise UVVisParseError(path, "expected finite wavelengths and absorbances", line=line)
        x, y = _axis(path, x.tolist(), y, line or 1)
        meta = {"title": str(block.get("title", ""))}
        out.append(Spectrum(path, "jcamp", k, _jcamp_time(path, block, line or 1, tz), x, y,
                            line or 1, meta))  # fmt: skip
    return out


def _column_time(
    path: Path, name: str, line: int, tz: tzinfo | None, start: datetime | None
) -> datetime | None:
    text = name.strip().strip('"')
    m = _SECONDS_HEADER.match(text)
    if m:
        if start is None:
            raise UVVisParseError(
                path,
                f"a time in seconds ({text!r}) needs the run's start time (start=)",
                line=line,
                column=text,
            )
        return start + timedelta(seconds=float(m.group(1)))
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    zone = tz or datetime.now().astimezone().tzinfo or timezone.utc
    return (t if t.tzinfo else t.replace(tzinfo=zone)).astimezone(timezone.utc)


def _read_csv(
    path: Path, lines: list[str], tz: tzinfo | None, start: datetime | None
) -> list[Spectrum]:
    rows = [(i + 1, ln) for i, ln in enumerate(lines) if ln.strip() and not ln.startswith("#")]
    if not rows:
        raise UVVisParseError(path, "no header line; expected 'wavelength_nm,<spectrum>,...'")
    head_line, head = rows[0]
    delim = max((",", ";", "\t"), key=head.count)
    names = [c.strip().strip('"') for c in head.split(delim)]
    if not _WAVELENGTH_HEADER.match(names[0]):
        raise UVVisParseError(
            path,
            f"first column {names[0]!r}: expected the wavelength ('wavelength_nm', "
            "'Wavelength (nm)', 'lambda', 'nm')",
            line=head_line,
        )
    if len(names) < 2:
        raise UVVisParseError(path, "no spectrum column after the wavelength", line=head_line)
    times = [_column_time(path, n, head_line, tz, start) for n in names[1:]]
    if len(names) > 2 and any(t is None for t in times):
        bad = names[1 + times.index(None)]
        raise UVVisParseError(
            path,
            "a file of several spectra needs each column's time in its header (ISO 8601 or "
            "seconds since the start)",
            line=head_line,
            column=bad,
        )
    wl: list[float] = []
    table: list[list[float]] = []
    for i, ln in rows[1:]:
        fields = ln.split(delim)
        if len(fields) != len(names):
            raise UVVisParseError(
                path, f"expected {len(names)} fields like the header, got {len(fields)}", line=i
            )
        wl.append(_number(path, fields[0], i, names[0], allow_nan=False))
        table.append(
            [_number(path, f, i, n, allow_nan=True) for f, n in zip(fields[1:], names[1:])]
        )
    x, y = _axis(path, wl, np.asarray(table, dtype=float).T.reshape(len(times), -1), head_line + 1)
    return [
        Spectrum(path, "csv", k, t, x, y[k], head_line, {"column": names[k + 1]})
        for k, t in enumerate(times)
    ]


def read_spectra(
    path: str | Path,
    fmt: str | None = None,
    tz: tzinfo | None = None,
    start: datetime | None = None,
) -> list[Spectrum]:
    """The absorbance spectra of one export file (module doc); :class:`UVVisParseError` if not.

    ``tz``: the instrument PC's zone for times written without one (default: this machine's);
    ``start``: the run's start, for CSV columns headed by seconds since the start.
    """
    path = Path(path)
    if fmt is not None and fmt not in FORMATS:
        raise UVVisParseError(path, f"unknown format {fmt!r}: expected one of {list(FORMATS)}")
    lines = _text(path)
    fmt = fmt or detect_format(lines)
    if fmt in ("oceanview", "spectrasuite"):
        return _read_ocean(path, lines, fmt, tz)
    if fmt == "jcamp":
        return _read_jcamp(path, lines, tz)
    return _read_csv(path, lines, tz, start)
