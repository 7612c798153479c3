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

import dataclasses
import re
import warnings
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

import numpy as np
from impedance import preprocessing

from synthwatch.collectors.impedance.sweep import ImpedanceSweep, ParseError
from synthwatch.collectors.impedance.table import Table, local_time, scan_rows

__all__ = [
    "CrossCheckWarning",
    "crosscheck",
    "read_gamry",
    "read_zplot",
    "read_biologic",
    "read_autolab_z60w",
    "read_chi",
    "read_parstat",
    "read_powersuite",
    "read_versastudio",
]


class CrossCheckWarning(UserWarning):
    """impedance.py's reader for the format reads a file differently, or cannot read it.

    A warning only: the file was read cleanly by synthwatch's own parser, which checks every
    row and names the line of any problem; the reason also lands in the sweep's
    ``meta['crosscheck']``.
    """


def crosscheck(path: Path, table: Table, reader_name: str) -> str | None:
    """Why impedance.py's ``reader_name`` reads ``path`` differently from ``table``, or None."""
    try:
        f, z = getattr(preprocessing, reader_name)(str(path))
        f = np.asarray(f, dtype=float).ravel()
        z = np.asarray(z, dtype=complex).ravel()
    except Exception as err:  # noqa: BLE001 - its readers fail in many ways on odd files
        return f"impedance.py's {reader_name} cannot read it ({type(err).__name__}: {err})"
    n = min(f.size, z.size, table.frequencies_hz.size)
    ours = np.column_stack([table.frequencies_hz, table.z_real_ohm, table.z_imag_ohm])[:n]
    theirs = np.column_stack([f[:n], z.real[:n], z.imag[:n]])
    differ = np.flatnonzero(~np.all(np.isclose(ours, theirs, rtol=1e-12, atol=0.0), axis=1))
    if differ.size or f.size != table.frequencies_hz.size:
        i = int(differ[0]) if differ.size else n
        line = table.lines[min(i, len(table.lines) - 1)]
        return (
            f"impedance.py's {reader_name} reads it differently from line {line} (point "
            f"{i + 1}; {f.size} points against {table.frequencies_hz.size})"
        )
    return None


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


def _sweeps(
    path: Path,
    table: Table,
    fmt: str,
    started: datetime | ParseError | None,
    reader: str | None,
    *,
    groups: Sequence[np.ndarray] | None = None,
    offsets_s: Sequence[float | None] | None = None,
) -> list[ImpedanceSweep]:
    """Validate the rows (file/line errors first), one sweep per group of rows; cross-check.

    A start time in an unexpected format does not cost the sweep: it gets no ``started_at``,
    the flag ``start_time_unreadable`` and the reason in ``meta['start_time_error']``. Sweep
    ``i`` starts ``offsets_s[i]`` seconds after the file's start when the file says so (its
    elapsed-time column). Rows left out by the parser (GEIS rows at 0 Hz) are counted in
    ``meta['dropped_zero_hz']``; impedance.py's reading of the file, when it differs, is a
    :class:`CrossCheckWarning` and ``meta['crosscheck']``, never a refusal.
    """
    unreadable = isinstance(started, ParseError)
    meta: list[tuple[str, str]] = []
    if unreadable:
        meta.append(("start_time_error", str(started)))
    if table.skipped:
        meta.append(("dropped_zero_hz", str(table.skipped)))
    if table.footer is not None:
        meta.append(("footer_line", str(table.footer)))
    groups = list(groups) if groups else [np.arange(table.frequencies_hz.size)]
    out = []
    for i, rows in enumerate(groups):
        start = None if unreadable else started
        offset = offsets_s[i] if offsets_s is not None else None
        if isinstance(start, datetime) and offset is not None and np.isfinite(offset):
            start = start + timedelta(seconds=float(offset))
        out.append(
            table.take(rows).sweep(
                path,
                fmt,
                started_at=start,
                flags=("start_time_unreadable",) if unreadable else (),
                meta=tuple(meta),
                index=i,
                of=len(groups),
            )
        )
    if reader is not None:
        reason = crosscheck(path, table, reader)
        if reason is not None:
            warnings.warn(CrossCheckWarning(f"{path}: {reason}"), stacklevel=3)
            out = [dataclasses.replace(s, meta=(*s.meta, ("crosscheck", reason))) for s in out]
    return out


def _runs(keys: np.ndarray) -> list[np.ndarray]:
    """Row indices of each run of equal consecutive ``keys`` (NaN keys join the run before)."""
    runs: list[list[int]] = []
    current = None
    for i, key in enumerate(keys):
        if not runs or (np.isfinite(key) and current is not None and key != current):
            runs.append([])
        if np.isfinite(key):
            current = key
        runs[-1].append(i)
    return [np.array(r) for r in runs]


def _restarts(f: np.ndarray) -> list[np.ndarray]:
    """Split rows where a frequency sweep starts again (looped sweeps without a cycle column).

    A new sweep starts at a row whose frequency goes against the direction of the sweep so
    far and lies within 1 % of that sweep's first frequency; otherwise the rows stay one sweep.
    """
    bounds = [0]
    for i in range(2, f.size):
        first, prev = f[bounds[-1]], f[i - 1]
        if i - bounds[-1] < 2:
            continue
        direction = np.sign(f[bounds[-1] + 1] - first)
        if np.sign(f[i] - prev) == -direction and np.isclose(f[i], first, rtol=0.01):
            bounds.append(i)
    bounds.append(f.size)
    return [np.arange(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


_GAMRY_TABLE = re.compile(r"^\S+\tTABLE\b")
_GAMRY_Z = re.compile(r"^ZCURVE\d*\tTABLE\b")


def read_gamry(path: Path, lines: list[str], tz: tzinfo | None = None) -> list[ImpedanceSweep]:
    """Gamry EIS ``.DTA`` (module doc): one sweep per ``ZCURVE`` table (``ZCURVE2``...)."""
    _expect_first(path, lines, "EXPLAIN", "a Gamry .DTA file")
    tables = _find(lines, lambda t: bool(_GAMRY_Z.match(t)))
    if not tables:
        raise ParseError(path, "expected a 'ZCURVE<TAB>TABLE' section (Gamry EIS), found none")
    started = None
    date = _find(lines[: tables[0]], lambda t: t.startswith("DATE\tLABEL\t"))
    clock = _find(lines[: tables[0]], lambda t: t.startswith("TIME\tLABEL\t"))
    if date and clock:
        stamp = lines[date[0]].split("\t")[2] + " " + lines[clock[0]].split("\t")[2]
        started = _start_time(stamp, ("%m/%d/%Y %H:%M:%S",), tz, path, date[0] + 1)
    parts: list[Table] = []
    for z in tables:
        if z + 2 >= len(lines):
            raise ParseError(path, "expected a header and a units row after ZCURVE", line=z + 1)
        header = lines[z + 1].split()
        _expect_columns(path, header, {2: "Freq", 3: "Zreal", 4: "Zimag"}, z + 2, "Gamry ZCURVE")
        parts.append(
            scan_rows(
                path,
                lines,
                z + 3,
                str.split,
                (2, 3, 4),
                min_fields=5,
                header_fields=len(header),
                stop=lambda t: "EXPERIMENTABORTED" in t or bool(_GAMRY_TABLE.match(t)),
                decimal_comma=True,
                extra_columns=(1,) if header[1].lower() == "time" else (),
            )
        )
    table, groups = _concat(parts)
    offsets = None
    if len(parts) > 1 and all(p.extra is not None and p.extra.shape[1] for p in parts):
        first = [float(p.extra[0, 0]) for p in parts]
        offsets = [t - first[0] for t in first]
    return _sweeps(path, table, "gamry", started, "readGamry", groups=groups, offsets_s=offsets)


def _concat(parts: Sequence[Table]) -> tuple[Table, list[np.ndarray]]:
    """One table of several (file order) and the row indices of each part."""
    if len(parts) == 1:
        return parts[0], [np.arange(parts[0].frequencies_hz.size)]
    sizes = np.cumsum([0] + [p.frequencies_hz.size for p in parts])
    table = Table(
        np.concatenate([p.frequencies_hz for p in parts]),
        np.concatenate([p.z_real_ohm for p in parts]),
        np.concatenate([p.z_imag_ohm for p in parts]),
        tuple(n for p in parts for n in p.lines),
        skipped=sum(p.skipped for p in parts),
        footer=parts[-1].footer,
    )
    return table, [np.arange(a, b) for a, b in zip(sizes[:-1], sizes[1:])]


def read_zplot(path: Path, lines: list[str], tz: tzinfo | None = None) -> list[ImpedanceSweep]:
    """ZPlot ``.z`` (module doc): ZPlot2 ``ZPLOT2 ASCII``, and ZPlotW 3.x's older layout."""
    if lines[0].lstrip("\ufeff").startswith('"ZPlotW Data File'):
        return _read_zplotw(path, lines, tz)
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
    table = scan_rows(
        path,
        lines,
        start,
        lambda t: re.split("\t|, ", t),
        (0, 4, 5),
        min_fields=6,
        header_fields=len(fields),
    )
    return _sweeps(path, table, "zplot", started, "readZPlot")


def _read_zplotw(path: Path, lines: list[str], tz: tzinfo | None) -> list[ImpedanceSweep]:
    """ZPlotW 3.x: ``"ZPlotW Data File: Version 3.2c"``, ``Date: 12-17-2019    Time: 16:24:35``
    on one line, a point count (of the planned list) before the quoted column row
    ``"  Freq(Hz)    Ampl ... Z'(a)    Z''(b) ..."``, then rows separated by ``", "``."""
    heads = _find(lines[:60], lambda t: t.strip().startswith('"') and "Freq(Hz)" in t)
    if not heads:
        raise ParseError(path, "expected a quoted '\"  Freq(Hz) ... Z'(a) Z''(b)' row (ZPlotW)")
    head = heads[0]
    fields = lines[head].strip().strip('"').split()
    _expect_columns(path, fields, {0: "Freq(Hz)", 4: "Z'(a)", 5: "Z''(b)"}, head + 1, "ZPlotW")
    started = None
    for i, text in enumerate(lines[:head]):
        m = re.match(r"^\s*Date:\s*(\S+)\s+Time:\s*(\S+)\s*$", text)
        if m:
            stamp = f"{m.group(1)} {m.group(2)}"
            started = _start_time(stamp, ("%m-%d-%Y %H:%M:%S",), tz, path, i + 1)
            break
    table = scan_rows(
        path,
        lines,
        head + 1,
        lambda t: t.split(","),
        (0, 4, 5),
        min_fields=6,
        header_fields=len(fields),
    )
    return _sweeps(path, table, "zplot", started, "readZPlot")


#: EC-Lab writes its start time with or without milliseconds, with / or - in the date
_ECLAB_TIMES = (
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M:%S.%f",
    "%m-%d-%Y %H:%M:%S",
    "%m-%d-%Y %H:%M:%S.%f",
)


def read_biologic(path: Path, lines: list[str], tz: tzinfo | None = None) -> list[ImpedanceSweep]:
    """BioLogic EC-Lab ``.mpt`` (module doc).

    A looped PEIS/GEIS gives one sweep per ``cycle number`` (or ``z cycle``) value, or, without
    such a column, per restart of the frequency list; each starts at the acquisition start plus
    the ``time/s`` of its first row. Rows at 0 Hz (GEIS records between sweeps) are dropped and
    counted (``meta['dropped_zero_hz']``).
    """
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
    while header and not header[-1].strip():
        header.pop()
    index = {}
    for name in ("freq/Hz", "Re(Z)/Ohm", "-Im(Z)/Ohm"):
        if name not in header:
            raise ParseError(
                path, f"expected a column {name!r} in the header row", line=n_head, column=name
            )
        index[name] = header.index(name)
    cycle = next((header.index(c) for c in ("cycle number", "z cycle") if c in header), None)
    clock = header.index("time/s") if "time/s" in header else None
    started = None
    acq = _find(lines[:n_head], lambda t: t.startswith("Acquisition started on :"))
    if acq:
        stamp = lines[acq[0]].split(":", 1)[1]
        started = _start_time(stamp, _ECLAB_TIMES, tz, path, acq[0] + 1)
    cols = (index["freq/Hz"], index["Re(Z)/Ohm"], index["-Im(Z)/Ohm"])
    extra = tuple(c for c in (cycle, clock) if c is not None)
    table = scan_rows(
        path,
        lines,
        n_head,
        lambda t: t.split("\t"),
        cols,
        min_fields=max(cols) + 1,
        header_fields=len(header),
        scale=(1.0, 1.0, -1.0),
        skip=lambda v: v[0] == 0.0,
        extra_columns=extra,
    )
    groups = None
    if cycle is not None:
        cycles = table.extra[:, 0]
        if np.unique(cycles[np.isfinite(cycles)]).size > 1:
            groups = _runs(cycles)
    if groups is None:
        groups = _restarts(table.frequencies_hz)
    offsets = None
    if clock is not None:
        times = table.extra[:, extra.index(clock)]
        offsets = [float(times[g[0]]) for g in groups]
        if len(groups) == 1:
            offsets = None  # a single sweep starts when the file says
    return _sweeps(
        path, table, "biologic", started, "readBioLogic", groups=groups, offsets_s=offsets
    )


def read_autolab_z60w(
    path: Path, lines: list[str], tz: tzinfo | None = None
) -> list[ImpedanceSweep]:
    """Autolab FRA text export in the Z60W layout (module doc)."""
    _expect_first(path, lines, '"Z60W Data File', "an Autolab Z60W text export")
    heads = _find(lines, lambda t: "Freq" in t)
    if not heads:
        raise ParseError(path, "expected a quoted column row with 'Freq (Hz) ... Z'(a) Z''(b)'")
    head = heads[-1]
    fields = lines[head].strip().strip('"').split()
    wanted = {0: "Freq", 1: "(Hz)", 5: "Z'(a)", 6: "Z''(b)"}
    _expect_columns(path, fields, wanted, head + 1, "Autolab Z60W")
    table = scan_rows(
        path,
        lines,
        head + 1,
        lambda t: t.split(","),
        (0, 4, 5),
        min_fields=6,
        header_fields=len(fields) - 1,  # "Freq (Hz)" is one column written as two words
    )
    return _sweeps(path, table, "autolab", None, "readAutolab")


def read_chi(path: Path, lines: list[str], tz: tzinfo | None = None) -> list[ImpedanceSweep]:
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
    table = scan_rows(
        path,
        lines,
        head + 2,
        lambda t: t.split(","),
        (0, 1, 2),
        min_fields=3,
        header_fields=len(fields),
    )
    return _sweeps(path, table, "chi", started, "readCHInstruments")


def read_parstat(path: Path, lines: list[str], tz: tzinfo | None = None) -> list[ImpedanceSweep]:
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
        header_fields=len([c for c in header if c.strip()]),
        skip=lambda v: v[0] == 0.0 and v[1] == 0.0 and v[2] == 0.0,
    )
    return _sweeps(path, _no_skip(table), "parstat", None, "readParstat")


def _no_skip(table: Table) -> Table:
    """The table without its skip count (Parstat's DC rows are not 0 Hz impedance rows)."""
    return dataclasses.replace(table, skipped=0)


def read_powersuite(path: Path, lines: list[str], tz: tzinfo | None = None) -> list[ImpedanceSweep]:
    """PowerSuite text export (module doc)."""
    header = [c.strip() for c in lines[0].split("\t")]
    if header != ["Frequency", "Zre", "Zimg"]:
        raise ParseError(
            path,
            f"expected the header 'Frequency, Zre, Zimg' (tab-separated), got {header}",
            line=1,
        )
    table = scan_rows(
        path, lines, 1, lambda t: t.split("\t"), (0, 1, 2), min_fields=3, header_fields=3
    )
    return _sweeps(path, table, "powersuite", None, "readPowerSuite")


def read_versastudio(
    path: Path, lines: list[str], tz: tzinfo | None = None
) -> list[ImpedanceSweep]:
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
        [*lines[:end], ""],
        start + 4,
        lambda t: t.split(","),
        (9, 14, 15),
        min_fields=16,  # rows have one field fewer than the Definition names (VersaStudio 2.x)
    )
    return _sweeps(path, table, "versastudio", started, "readVersaStudio")
