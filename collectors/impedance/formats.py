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

__all__ = ["FORMATS", "SIGNATURES", "detect_format", "read_sweep", "read_sweeps"]

Parser = Callable[[Path, list[str], tzinfo | None], list[ImpedanceSweep]]


def _named(fmt: str) -> Parser:
    def parse(path: Path, lines: list[str], tz: tzinfo | None = None) -> list[ImpedanceSweep]:
        return [read_named_table(path, lines, fmt)]

    return parse


def _autolab(path: Path, lines: list[str], tz: tzinfo | None = None) -> list[ImpedanceSweep]:
    if lines[0].lstrip("\ufeff").startswith('"Z60W'):
        return vendors.read_autolab_z60w(path, lines, tz)
    return [read_named_table(path, lines, "autolab")]


#: format name -> parser(path, lines, tz) -> the file's sweeps
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

#: what each vendor signature is, for the message of a file that has none
SIGNATURES = (
    "gamry (EXPLAIN)",
    "zplot (ZPLOT2 ASCII, ZPlotW Data File)",
    "biologic (EC-Lab ASCII FILE)",
    "autolab (Z60W, NOVA columns)",
    "chi (Freq/Hz, Z'/ohm)",
    "parstat (Frequency (Hz)/Zre (ohms))",
    "powersuite (Frequency/Zre/Zimg)",
    "versastudio (<Application> VersaStudio)",
)


def detect_format(lines: list[str]) -> str:
    """The format of a file from its first lines (``csv`` when no vendor signature is found)."""
    first = lines[0].lstrip("\ufeff").strip()
    head = lines[:40]
    if first == "EXPLAIN":
        return "gamry"
    if (
        first.startswith("ZPLOT2 ASCII")
        or first.startswith('"ZPlotW Data File')
        or any(line.startswith("Freq(Hz)") for line in head)
    ):
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


def read_sweeps(
    path: str | Path, fmt: str | None = None, tz: tzinfo | None = None
) -> list[ImpedanceSweep]:
    """Read one impedance export file as its validated sweeps, in file order (module doc).

    Most files hold one sweep; a looped EC-Lab PEIS/GEIS (``cycle number``) or a Gamry file of
    several ``ZCURVE`` tables gives one per sweep (``sweep.index`` of ``sweep.of``). ``fmt``
    forces a format (one of :data:`FORMATS`); ``tz`` is the zone of the instrument PC's clock
    for files that carry a start time (default: this machine's zone). A file with no vendor
    signature that is not a CSV of named columns either (a UV-Vis export, say) is
    ``not a recognised impedance export (tried: ...)``.
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
                f"not a recognised impedance export (tried: {', '.join(SIGNATURES)}; "
                f"csv: {err.reason})",
                line=err.line,
                column=err.column,
            ) from err
        raise


def read_sweep(
    path: str | Path, fmt: str | None = None, tz: tzinfo | None = None
) -> ImpedanceSweep:
    """Read a file of one sweep (:func:`read_sweeps`); a file of several is a :class:`ParseError`
    (read it with :func:`read_sweeps`, one reading per sweep)."""
    sweeps = read_sweeps(path, fmt, tz)
    if len(sweeps) != 1:
        raise ParseError(
            path, f"expected one sweep, the file holds {len(sweeps)} (read it with read_sweeps)"
        )
    return sweeps[0]
