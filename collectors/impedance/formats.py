"""Read any supported impedance export: pick the format from the content, parse, validate.

:func:`read_sweep` is the one entry point: it reads a Gamry ``.DTA``, ZPlot ``.z``, BioLogic
``.mpt``, Autolab (Z60W text or NOVA ASCII), CH Instruments, Parstat, PowerSuite, VersaStudio
``.par`` or plain CSV export into an
:class:`~synthwatch.collectors.impedance.sweep.ImpedanceSweep`, and raises
:class:`~synthwatch.collectors.impedance.sweep.ParseError` (file, line, what was expected) for
anything else, whatever the bytes.

The format is found from the first lines (:func:`detect_format`), so a file's extension may be
anything; ``fmt=`` forces one. Layouts: :mod:`synthwatch.collectors.impedance.vendors` and
:mod:`synthwatch.collectors.impedance.delimited`.

>>> import pathlib, tempfile
>>> p = pathlib.Path(tempfile.mkdtemp()) / "chi.txt"
>>> _ = p.write_text("Feb. 20, 2020   15:55:08\\nA.C. Impedance\\n\\n"
...     "Freq/Hz, Z'/ohm, Z\\"/ohm, Z/ohm, Phase/deg\\n\\n"
...     "1.000e+3, 1.0e+2, -1.0e+1, 1.005e+2, -5.7\\n"
...     "1.000e+2, 1.1e+2, -3.0e+1, 1.140e+2, -15.3\\n"
...     "1.000e+1, 1.5e+2, -9.0e+1, 1.749e+2, -31.0\\n")
>>> sweep = read_sweep(p)
>>> sweep.fmt, sweep.frequencies_hz.tolist(), sweep.z_imag_ohm.tolist(), sweep.lines
('chi', [10.0, 100.0, 1000.0], [-90.0, -30.0, -10.0], (8, 7, 6))
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo
from pathlib import Path

from synthwatch.collectors.impedance import vendors
from synthwatch.collectors.impedance.delimited import HeaderError, read_named_table
from synthwatch.collectors.impedance.sweep import ImpedanceSweep, ParseError
from synthwatch.collectors.impedance.table import read_lines

__all__ = ["FORMATS", "detect_format", "read_sweep"]

Parser = Callable[[Path, list[str], tzinfo | None], ImpedanceSweep]


def _named(fmt: str) -> Parser:
    def parse(path: Path, lines: list[str], tz: tzinfo | None = None) -> ImpedanceSweep:
        return read_named_table(path, lines, fmt)

    return parse


def _autolab(path: Path, lines: list[str], tz: tzinfo | None = None) -> ImpedanceSweep:
    if lines[0].lstrip("\ufeff").startswith('"Z60W'):
        return vendors.read_autolab_z60w(path, lines, tz)
    return read_named_table(path, lines, "autolab")


#: format name -> parser(path, lines, tz)
FORMATS: dict[str, Parser] = {
    "gamry": vendors.read_gamry,
    "zplot": vendors.read_zplot,
    "biologic": vendors.read_biologic,
    "autolab": _autolab,
    "chi": vendors.read_chi,
    "parstat": vendors.read_parstat,
    "powersuite": vendors.read_powersuite,
    "versastudio": vendors.read_versastudio,
    "csv": _named("csv"),
}


def detect_format(lines: list[str]) -> str:
    """The format of a file from its first lines (``csv`` when no vendor signature is found)."""
    first = lines[0].lstrip("\ufeff").strip()
    head = lines[:40]
    if first == "EXPLAIN":
        return "gamry"
    if first.startswith("ZPLOT2 ASCII") or any(line.startswith("Freq(Hz)") for line in head):
        return "zplot"
    if first.startswith("EC-Lab ASCII FILE"):
        return "biologic"
    if first.startswith('"Z60W Data File') or first.startswith("Index;Frequency (Hz);Z' (Ω)"):
        return "autolab"
    if any(line.startswith("Freq/Hz,") for line in head):
        return "chi"
    if "Frequency (Hz)" in first and "Zre (ohms)" in first:
        return "parstat"
    if [c.strip() for c in first.split("\t")] == ["Frequency", "Zre", "Zimg"]:
        return "powersuite"
    if first == "<Application>" and any(line.strip() == "Name=VersaStudio" for line in head):
        return "versastudio"
    return "csv"


def read_sweep(
    path: str | Path, fmt: str | None = None, tz: tzinfo | None = None
) -> ImpedanceSweep:
    """Read one impedance export file as a validated sweep (module doc).

    ``fmt`` forces a format (one of :data:`FORMATS`); ``tz`` is the zone of the instrument PC's
    clock for files that carry a start time (default: this machine's zone).
    """
    path = Path(path)
    if fmt is not None and fmt not in FORMATS:
        raise ParseError(path, f"unknown format {fmt!r}: expected one of {sorted(FORMATS)}")
    lines = read_lines(path)
    detected = fmt or detect_format(lines)
    try:
        return FORMATS[detected](path, lines, tz)
    except HeaderError as err:
        if fmt is None and detected == "csv":
            raise ParseError(
                path,
                "no vendor signature found (Gamry EXPLAIN, ZPLOT2 ASCII, EC-Lab ASCII FILE, "
                "Z60W, CHI Freq/Hz, Parstat, PowerSuite, VersaStudio), and as CSV: " + err.reason,
                line=err.line,
                column=err.column,
            ) from err
        raise
