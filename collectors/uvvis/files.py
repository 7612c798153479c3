"""Read UV-Vis exports, whatever the instrument: :func:`read_spectra` is the one entry point.

It returns the absorbance spectra of one export file as :class:`Spectrum` objects, and raises
:class:`UVVisParseError` (file, line, column, what was expected) for anything else, whatever the
bytes (UTF-8 with or without BOM, UTF-16 with BOM, Latin-1). The layout is found from the
content (:func:`detect_format`, never the file name); ``fmt=`` forces one. A file no layout
recognises is refused with ``not a recognised UV-Vis export (tried: jcamp, spectrasuite, ...)``
(an impedance export offered to the UV-Vis channel gets that, never an impedance error).

Layouts (one module each): :mod:`.ocean` (OceanView, SpectraSuite, OOIBase32),
:mod:`.jcampdx` (JCAMP-DX, JASCO), :mod:`.tables` (CSV/TSV/``;``, Agilent Cary paired
columns, headerless pairs), :mod:`.vendors` (Shimadzu UVProbe, PerkinElmer UV WinLab ASCII,
Thermo NanoDrop, Avantes). Axes in nm, µm, cm⁻¹ or eV become nm (:mod:`.units`); ordinates in
absorbance are kept, %T and T are converted (A = -log10 T; T <= 0 is a missing point, nan), raw
counts need a reference and a dark: the file's own columns, or ``dark=``/``reference=`` (a file
or an array on the same axis).

The wavelength axis must be finite and strictly monotonic (a descending axis is reversed), with
at least 8 points (a UV-Vis descriptor's minimum); an absorbance of ``nan`` is a missing point
(the models flag it), infinities are refused. ``Spectrum.t`` is the time in the file (UTC) or
None; :func:`order_key` orders files of one spectrum by that time, else a number in the name,
else the modification time.

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

import re
from datetime import datetime, tzinfo
from pathlib import Path

import numpy as np

from synthwatch.collectors.uvvis import jcampdx, ocean, tables, vendors
from synthwatch.collectors.uvvis.common import (
    MAX_BYTES,
    MIN_POINTS,
    Raw,
    Spectrum,
    UVVisParseError,
    decode,
    read_lines,
)
from synthwatch.collectors.uvvis.detect import FORMATS, detect_format
from synthwatch.collectors.uvvis.units import to_absorbance

__all__ = [
    "FORMATS",
    "MAX_BYTES",
    "MIN_POINTS",
    "Spectrum",
    "UVVisParseError",
    "detect_format",
    "is_uvvis_export",
    "order_key",
    "read_counts",
    "read_spectra",
]


def is_uvvis_export(path: str | Path) -> bool:
    """Whether a file's content is one of the UV-Vis layouts (:func:`detect_format`) rather
    than, say, an impedance export."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(16384)
    except OSError:
        return False
    try:
        head = decode(path, raw)[:-1] if len(raw) == 16384 else decode(path, raw)
    except UVVisParseError:
        return False
    return detect_format(head) is not None


def _raws(path: Path, lines: list[str], fmt: str, tz, start) -> list[Raw]:
    if fmt in ("oceanview", "spectrasuite", "ooibase32"):
        return ocean.read_ocean(path, lines, fmt, tz)
    if fmt == "jcamp":
        return jcampdx.read_jcamp(path, lines, tz)
    if fmt == "jasco":
        return jcampdx.read_jasco(path, lines, tz)
    if fmt == "perkinelmer":
        return vendors.read_perkinelmer(path, lines, tz)
    if fmt == "avantes":
        return vendors.read_avantes(path, lines)
    if fmt == "uvprobe":
        return vendors.read_uvprobe(path, lines)
    if fmt == "nanodrop":
        return vendors.read_nanodrop(path, lines, tz)
    if fmt == "cary":
        return tables.read_cary(path, lines, tz, start)
    if fmt == "xy":
        return tables.read_xy(path, lines)
    return tables.read_csv(path, lines, tz, start)


def _refusal(path: Path, lines: list[str], tz, start) -> UVVisParseError:
    tried = ", ".join(FORMATS)
    try:  # say what the CSV reader would have wanted, when the file is a table of some kind
        tables.read_csv(path, lines, tz, start)
    except UVVisParseError as err:
        return UVVisParseError(
            path,
            f"not a recognised UV-Vis export (tried: {tried}); as CSV: {err.reason}",
            line=err.line,
            column=err.column,
        )
    except Exception:  # noqa: BLE001 - only a hint; the refusal stands
        pass
    return UVVisParseError(path, f"not a recognised UV-Vis export (tried: {tried})")


def _raws_of(path, fmt, tz, start) -> tuple[str, list[Raw]]:
    lines = read_lines(path)
    fmt = fmt or detect_format(lines)
    if fmt is None:
        raise _refusal(path, lines, tz, start)
    try:
        return fmt, _raws(path, lines, fmt, tz, start)
    except UVVisParseError:
        raise
    except (ValueError, IndexError, KeyError, StopIteration, TypeError, OverflowError) as err:
        raise UVVisParseError(
            path, f"not a readable {fmt} export ({type(err).__name__}: {str(err)[:80]})"
        ) from None


def read_counts(path: str | Path, tz: tzinfo | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The axis (nm) and raw values of a dark or reference spectrum file (any layout)."""
    path = Path(path)
    _, raws = _raws_of(path, None, tz, None)
    return raws[0].x_nm, raws[0].y


def _on_axis(path: Path, what: str, given, x: np.ndarray, tz) -> np.ndarray | None:
    if given is None:
        return None
    if isinstance(given, (str, Path)):
        gx, gy = read_counts(given, tz)
        if gx.size != x.size or not np.allclose(gx, x, rtol=1e-6, atol=1e-6):
            raise UVVisParseError(
                path,
                f"the {what} spectrum {given} has {gx.size} wavelengths "
                f"({gx[0]:g}..{gx[-1]:g} nm), the spectrum {x.size} ({x[0]:g}..{x[-1]:g} nm)",
            )
        return gy
    arr = np.asarray(given, dtype=float)
    if arr.shape != x.shape:
        raise UVVisParseError(
            path, f"the {what} has {arr.size} values, the spectrum {x.size} wavelengths"
        )
    return arr


def read_spectra(
    path: str | Path,
    fmt: str | None = None,
    tz: tzinfo | None = None,
    start: datetime | None = None,
    *,
    dark=None,
    reference=None,
) -> list[Spectrum]:
    """The absorbance spectra of one export file (module doc); :class:`UVVisParseError` if not.

    ``tz``: the instrument PC's zone for times written without one (default: this machine's);
    ``start``: the run's start, for CSV columns headed by seconds or minutes since the start;
    ``dark``, ``reference``: for raw counts, a file or an array on the spectrum's axis (the
    file's own dark and reference columns come first).
    """
    path = Path(path)
    if fmt is not None and fmt not in FORMATS:
        raise UVVisParseError(path, f"unknown format {fmt!r}: expected one of {list(FORMATS)}")
    fmt, raws = _raws_of(path, fmt, tz, start)
    out = []
    for k, r in enumerate(raws):
        y = r.y
        if r.kind == "counts":
            ref = (
                r.reference
                if r.reference is not None
                else _on_axis(path, "reference", reference, r.x_nm, tz)
            )
            drk = r.dark if r.dark is not None else _on_axis(path, "dark", dark, r.x_nm, tz)
            if ref is None:
                raise UVVisParseError(
                    path,
                    "raw counts: give the reference (and dark) spectrum with --reference FILE "
                    "(and --dark FILE), or export the absorbance view",
                    line=r.line,
                )
            y = to_absorbance(y, "counts", dark=drk, reference=ref)
        elif r.kind != "A":
            y = to_absorbance(y, r.kind)
        meta = {**r.meta, "ordinate": r.kind} if r.kind != "A" else r.meta
        out.append(Spectrum(path, fmt, k, r.t, r.x_nm, y, r.line, meta))
    if not out:
        raise UVVisParseError(path, "no spectrum in the file")
    return out


_NUMBER_IN_NAME = re.compile(r"(\d+)(?!.*\d)")


def order_key(path: str | Path, t: datetime | None, mtime: datetime) -> tuple:
    """Sort key for files of one spectrum: the time inside the file, else the last number in
    the name (``spec_0012.txt``), else the modification time (which ``cp -r`` scrambles)."""
    name = Path(path).name
    m = _NUMBER_IN_NAME.search(Path(path).stem)
    if t is not None:
        return (0, t, 0, mtime, name)
    if m is not None:
        return (1, None, int(m.group(1)), mtime, name)
    return (2, None, 0, mtime, name)
