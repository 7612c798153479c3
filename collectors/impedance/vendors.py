"""Parsers of vendor impedance exports, each validating the layout and reading through impedance.py.

Every parser locates the vendor's table (header, units, data rows) itself and checks every row
(field count, numbers, finite, frequency above 0 Hz, Z'' sign convention of
:mod:`synthwatch.collectors.impedance.sweep`), so an error names the file and line. The numbers
then come from impedance.py's reader for that format (``impedance.preprocessing.readGamry``,
``readZPlot``, ``readBioLogic``, ``readAutolab``, ``readCHInstruments``, ``readParstat``,
``readPowerSuite``), and both reads must agree point by point: a file the two read differently
is a :class:`ParseError` at the first differing line (a layout variant neither was written for),
never a silent guess. impedance.py's readers are checked against the sample files in
``tests/data/impedance/``; they do not report lines and fail with bare ``IndexError`` or
``UnboundLocalError`` on bad files, hence the validation around them.

Layouts (as exported by the vendors' software; the sample files follow them):

* Gamry ``.DTA`` (Framework / Echem Analyst): ``EXPLAIN`` first, ``TAG``/``DATE``/``TIME``
  ``LABEL`` lines, then ``ZCURVE<TAB>TABLE``, a header row (``Pt Time Freq Zreal Zimag ...``), a
  units row, tab-indented data rows; ``EXPERIMENTABORTED`` may end the table. Zimag is Z''.
* ZPlot ``.z`` (Scribner ZPlot/ZView ``ZPLOT2 ASCII``): a ``key: value`` header with ``Date:``
  and ``Time:``, the column row ``Freq(Hz) Ampl Bias Time(Sec) Z'(a) Z''(b) ...``, then
  ``End Comments`` and tab-separated rows. Z''(b) is Z''.
* BioLogic ``.mpt`` (EC-Lab ASCII): ``EC-Lab ASCII FILE``, ``Nb header lines : N``, the column
  row as line N, tab-separated rows; columns ``freq/Hz``, ``Re(Z)/Ohm``, ``-Im(Z)/Ohm`` (-Z'',
  negated here). ``Acquisition started on : MM/DD/YYYY HH:MM:SS``.
* Autolab (FRA ``Z60W``-compatible text export, as impedance.py's reader): ``"Z60W Data File:
  Version 1.1"``, header lines, the quoted column row ``Freq (Hz) ... Z'(a) Z''(b) ...``,
  comma-separated rows. NOVA's column-named ASCII export (``Frequency (Hz);Z' (Ω);-Z'' (Ω)...``)
  is read by :func:`synthwatch.collectors.impedance.delimited.read_named_table` (no impedance.py
  reader exists for it).
* CH Instruments text (``Convert to txt``): date line, ``A.C. Impedance``, ``key = value``
  parameters, ``Freq/Hz, Z'/ohm, Z"/ohm, Z/ohm, Phase/deg``, a blank line, comma-separated rows.
* Parstat (VersaStudio text export): one tab-separated header row ``Potential (V) Current (A)
  Elapsed Time (s) Frequency (Hz) Zre (ohms) Zim (ohms) ...``; rows whose frequency, Zre and Zim
  are all 0 are the DC segments of the experiment and are left out.
* PowerSuite text: header ``Frequency<TAB>Zre<TAB>Zimg``, tab-separated rows of 3 numbers.
* VersaStudio ``.par``: ``<Application>`` ... ``Name=VersaStudio``, ``<Experiment>`` with
  ``TimeAcquired=9:40:30 AM`` and ``DateAcquired=Thursday, July 19, 2018``, ``<ActionN>``
  sections (``Segments=N``), and the data in ``<Segment1>``: ``Type``, ``Version``, a
  ``Definition=`` column row (``Frequency(Hz)`` 10th, ``Z Real`` 15th, ``Z Imag`` 16th),
  comma-separated rows, ``</Segment1>``. Z Imag is Z''.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo
from pathlib import Path

import numpy as np
from impedance import preprocessing

from synthwatch.collectors.impedance.sweep import ImpedanceSweep, ParseError
from synthwatch.collectors.impedance.table import Table, local_time, scan_rows

__all__ = [
    "read_gamry",
    "read_zplot",
    "read_biologic",
    "read_autolab_z60w",
    "read_chi",
    "read_parstat",
    "read_powersuite",
    "read_versastudio",
]


def _agree(path: Path, table: Table, reader_name: str) -> None:
    """Read ``path`` with impedance.py's ``reader_name``; it must agree with ``table``."""
    try:
        f, z = getattr(preprocessing, reader_name)(str(path))
    except (ValueError, IndexError, AssertionError, NameError, UnicodeError, OSError) as err:
        raise ParseError(
            path, f"impedance.py's {reader_name} cannot read it ({type(err).__name__}: {err})"
        ) from err
    f = np.asarray(f, dtype=float)
    z = np.asarray(z, dtype=complex)
    n = min(f.size, table.frequencies_hz.size)
    ours = np.column_stack([table.frequencies_hz, table.z_real_ohm, table.z_imag_ohm])[:n]
    theirs = np.column_stack([f, z.real, z.imag])[:n]
    differ = np.flatnonzero(~np.all(np.isclose(ours, theirs, rtol=1e-12, atol=0.0), axis=1))
    if differ.size or f.size != table.frequencies_hz.size:
        i = int(differ[0]) if differ.size else n
        line = (
            table.lines[i] if i < len(table.lines) else (table.lines[-1] if table.lines else None)
        )
        raise ParseError(
            path,
            f"impedance.py's {reader_name} reads this file differently (point {i + 1}; "
            f"{f.size} points against {table.frequencies_hz.size}): unexpected layout variant",
            line=line,
        )


def _find(lines: Sequence[str], test: Callable[[str], bool]) -> list[int]:
    return [i for i, text in enumerate(lines) if test(text)]


def _expect_first(path: Path, lines: Sequence[str], prefix: str, what: str) -> None:
    if not lines[0].strip().lstrip("\ufeff").startswith(prefix):
        raise ParseError(path, f"expected {prefix!r} first ({what}), got {lines[0][:40]!r}", line=1)


def _expect_columns(
    path: Path, fields: Sequence[str], wanted: dict[int, str], line: int, what: str
) -> None:
    for index, name in wanted.items():
        got = fields[index].strip().strip('"') if index < len(fields) else "<missing>"
        if got.lower() != name.lower():
            raise ParseError(
                path,
                f"expected column {index + 1} to be {name!r} ({what}), got {got!r}",
                line=line,
            )


def _start_time(
    text: str, formats: tuple[str, ...], tz: tzinfo | None, path: Path, line: int
) -> datetime | ParseError:
    """The file's start time, or the error saying why it is unreadable (flagged, see _sweep)."""
    try:
        return local_time(text, formats, tz, path, line)
    except ParseError as err:
        return err


def _sweep(
    path: Path, table: Table, fmt: str, started: datetime | ParseError | None, reader: str
) -> ImpedanceSweep:
    """Validate the rows (file/line errors first), then require impedance.py's read to agree.

    A start time in an unexpected format does not cost the sweep: it gets no ``started_at``,
    the flag ``start_time_unreadable`` and the reason in ``meta['start_time_error']``.
    """
    unreadable = isinstance(started, ParseError)
    sweep = table.sweep(
        path,
        fmt,
        started_at=None if unreadable else started,
        flags=("start_time_unreadable",) if unreadable else (),
        meta=(("start_time_error", str(started)),) if unreadable else (),
    )
    _agree(path, table, reader)
    return sweep


def read_gamry(path: Path, lines: list[str], tz: tzinfo | None = None) -> ImpedanceSweep:
    """Gamry EIS ``.DTA`` (module doc)."""
    _expect_first(path, lines, "EXPLAIN", "a Gamry .DTA file")
    tables = _find(lines, lambda t: t.split("\t")[:2] == ["ZCURVE", "TABLE"])
    if len(tables) != 1:
        raise ParseError(
            path, f"expected one 'ZCURVE<TAB>TABLE' section (Gamry EIS), found {len(tables)}"
        )
    z = tables[0]
    if z + 2 >= len(lines):
        raise ParseError(path, "expected a header and a units row after ZCURVE", line=z + 1)
    header = lines[z + 1].split()
    _expect_columns(path, header, {2: "Freq", 3: "Zreal", 4: "Zimag"}, z + 2, "Gamry ZCURVE")
    started = None
    date = _find(lines[:z], lambda t: t.startswith("DATE\tLABEL\t"))
    clock = _find(lines[:z], lambda t: t.startswith("TIME\tLABEL\t"))
    if date and clock:
        stamp = lines[date[0]].split("\t")[2] + " " + lines[clock[0]].split("\t")[2]
        started = _start_time(stamp, ("%m/%d/%Y %H:%M:%S",), tz, path, date[0] + 1)
    table = scan_rows(
        path,
        lines,
        z + 3,
        str.split,
        (2, 3, 4),
        min_fields=5,
        stop=lambda t: "EXPERIMENTABORTED" in t,
        decimal_comma=True,
    )
    return _sweep(path, table, "gamry", started, "readGamry")


def read_zplot(path: Path, lines: list[str], tz: tzinfo | None = None) -> ImpedanceSweep:
    """ZPlot ``.z`` (module doc)."""
    heads = _find(lines, lambda t: "Freq(Hz)" in t)
    if not heads:
        raise ParseError(path, "expected a 'Freq(Hz) ... Z'(a) Z''(b)' column row (ZPlot .z)")
    head = heads[-1]
    fields = re.split("\t|, ", lines[head].strip())
    _expect_columns(path, fields, {0: "Freq(Hz)", 4: "Z'(a)", 5: "Z''(b)"}, head + 1, "ZPlot")
    ends = _find(lines, lambda t: "End Comments" in t)
    start = ends[-1] + 1 if ends else head + 1
    started = None
    date = _find(lines[:start], lambda t: t.strip().startswith("Date:"))
    clock = _find(lines[:start], lambda t: t.strip().startswith("Time:"))
    if date and clock:
        stamp = lines[date[0]].split(":", 1)[1].strip() + " " + lines[clock[0]].split(":", 1)[1]
        started = _start_time(stamp, ("%m-%d-%Y %H:%M:%S",), tz, path, date[0] + 1)
    table = scan_rows(path, lines, start, lambda t: re.split("\t|, ", t), (0, 4, 5), min_fields=6)
    return _sweep(path, table, "zplot", started, "readZPlot")


def read_biologic(path: Path, lines: list[str], tz: tzinfo | None = None) -> ImpedanceSweep:
    """BioLogic EC-Lab ``.mpt`` (module doc)."""
    _expect_first(path, lines, "EC-Lab ASCII FILE", "a BioLogic .mpt file")
    match = re.match(r"^Nb header lines\s*:\s*(\d+)\s*$", lines[1] if len(lines) > 1 else "")
    if not match:
        raise ParseError(path, "expected 'Nb header lines : <number>'", line=2)
    n_head = int(match.group(1))
    if not 3 <= n_head <= len(lines):
        raise ParseError(
            path, f"expected 3..{len(lines)} header lines (the file's length), got {n_head}", line=2
        )
    header = lines[n_head - 1].split("\t")
    index = {}
    for name in ("freq/Hz", "Re(Z)/Ohm", "-Im(Z)/Ohm"):
        if name not in header:
            raise ParseError(
                path, f"expected a column {name!r} in the header row", line=n_head, column=name
            )
        index[name] = header.index(name)
    started = None
    acq = _find(lines[:n_head], lambda t: t.startswith("Acquisition started on :"))
    if acq:
        stamp = lines[acq[0]].split(":", 1)[1]
        started = _start_time(stamp, ("%m/%d/%Y %H:%M:%S",), tz, path, acq[0] + 1)
    cols = (index["freq/Hz"], index["Re(Z)/Ohm"], index["-Im(Z)/Ohm"])
    table = scan_rows(
        path,
        lines,
        n_head,
        lambda t: t.split("\t"),
        cols,
        min_fields=max(cols) + 1,
        scale=(1.0, 1.0, -1.0),
    )
    return _sweep(path, table, "biologic", started, "readBioLogic")


def read_autolab_z60w(path: Path, lines: list[str], tz: tzinfo | None = None) -> ImpedanceSweep:
    """Autolab FRA text export in the Z60W layout (module doc)."""
    _expect_first(path, lines, '"Z60W Data File', "an Autolab Z60W text export")
    heads = _find(lines, lambda t: "Freq" in t)
    if not heads:
        raise ParseError(path, "expected a quoted column row with 'Freq (Hz) ... Z'(a) Z''(b)'")
    head = heads[-1]
    fields = lines[head].strip().strip('"').split()
    wanted = {0: "Freq", 1: "(Hz)", 5: "Z'(a)", 6: "Z''(b)"}
    _expect_columns(path, fields, wanted, head + 1, "Autolab Z60W")
    table = scan_rows(path, lines, head + 1, lambda t: t.split(","), (0, 4, 5), min_fields=6)
    return _sweep(path, table, "autolab", None, "readAutolab")


def read_chi(path: Path, lines: list[str], tz: tzinfo | None = None) -> ImpedanceSweep:
    """CH Instruments ``Convert to txt`` A.C. impedance export (module doc)."""
    heads = _find(lines, lambda t: t.startswith("Freq/Hz"))
    if len(heads) != 1:
        raise ParseError(
            path, f"expected one column row starting 'Freq/Hz, Z'/ohm' (CHI), found {len(heads)}"
        )
    head = heads[0]
    fields = [c.strip() for c in lines[head].split(",")]
    _expect_columns(path, fields, {1: "Z'/ohm", 2: 'Z"/ohm'}, head + 1, "CH Instruments")
    if head + 1 >= len(lines) or lines[head + 1].strip():
        raise ParseError(path, "expected a blank line after the column row (CHI)", line=head + 2)
    started = None
    if re.match(r"^[A-Z][a-z]{2}\.? +\d", lines[0]):
        stamp = re.sub(r"\s+", " ", lines[0].replace(".", "").strip())
        started = _start_time(stamp, ("%b %d, %Y %H:%M:%S",), tz, path, 1)
    table = scan_rows(path, lines, head + 2, lambda t: t.split(","), (0, 1, 2), min_fields=3)
    return _sweep(path, table, "chi", started, "readCHInstruments")


def read_parstat(path: Path, lines: list[str], tz: tzinfo | None = None) -> ImpedanceSweep:
    """Parstat / VersaStudio text export (module doc)."""
    header = lines[0].split("\t")
    wanted = {3: "Frequency (Hz)", 4: "Zre (ohms)", 5: "Zim (ohms)"}
    _expect_columns(path, header, wanted, 1, "Parstat text export")
    table = scan_rows(
        path,
        lines,
        1,
        str.split,
        (3, 4, 5),
        min_fields=6,
        skip=lambda v: v[0] == 0.0 and v[1] == 0.0 and v[2] == 0.0,
    )
    return _sweep(path, table, "parstat", None, "readParstat")


def read_powersuite(path: Path, lines: list[str], tz: tzinfo | None = None) -> ImpedanceSweep:
    """PowerSuite text export (module doc)."""
    header = [c.strip() for c in lines[0].split("\t")]
    if header != ["Frequency", "Zre", "Zimg"]:
        raise ParseError(
            path,
            f"expected the header 'Frequency, Zre, Zimg' (tab-separated), got {header}",
            line=1,
        )

    for index, text in enumerate(lines[1:], start=2):
        if text.strip() and len(text.split("\t")) != 3:
            raise ParseError(
                path, f"expected 3 tab-separated fields, got {len(text.split(chr(9)))}", line=index
            )
    table = scan_rows(path, lines, 1, lambda t: t.split("\t"), (0, 1, 2), min_fields=3)
    return _sweep(path, table, "powersuite", None, "readPowerSuite")


def read_versastudio(path: Path, lines: list[str], tz: tzinfo | None = None) -> ImpedanceSweep:
    """VersaStudio ``.par`` (module doc)."""
    _expect_first(path, lines, "<Application>", "a VersaStudio .par file")
    opens = _find(lines, lambda t: t.strip() == "<Segment1>")
    closes = _find(lines, lambda t: t.strip() == "</Segment1>")
    if len(opens) != 1 or len(closes) != 1 or closes[0] < opens[0] + 4:
        raise ParseError(
            path, "expected one <Segment1> ... </Segment1> section with Type, Version, Definition"
        )
    start, end = opens[0], closes[0]
    definition = lines[start + 3]
    if not definition.startswith("Definition="):
        raise ParseError(path, "expected the 'Definition=' column row", line=start + 4)
    fields = definition.split("=", 1)[1].split(",")
    wanted = {9: "Frequency(Hz)", 14: "Z Real", 15: "Z Imag"}
    _expect_columns(path, fields, wanted, start + 4, "VersaStudio segment")
    started = None
    clock = _find(lines[:start], lambda t: t.startswith("TimeAcquired="))
    date = _find(lines[:start], lambda t: t.startswith("DateAcquired="))
    if date and clock:
        stamp = lines[date[0]].split("=", 1)[1] + " " + lines[clock[0]].split("=", 1)[1]
        started = _start_time(stamp, ("%A, %B %d, %Y %I:%M:%S %p",), tz, path, date[0] + 1)
    table = scan_rows(
        path,
        lines[:end],
        start + 4,
        lambda t: t.split(","),
        (9, 14, 15),
        min_fields=16,
    )
    return _sweep(path, table, "versastudio", started, "readVersaStudio")
