"""Vendor ASCII layouts: Shimadzu UVProbe, PerkinElmer UV WinLab, Thermo NanoDrop, Avantes.

* **UVProbe** (Shimadzu "Data Print" / ASCII export): a quoted title line, then
  ``"Wavelength nm.","Abs."`` (or ``"%T"``), then ``wavelength,value`` rows; several blocks may
  follow one another.
* **PerkinElmer UV WinLab ASCII** (``.asc``/``.sp`` as text): ``PE UV ...`` first, a fixed
  header (file name, date ``YY/MM/DD``, time, ..., the ordinate ``A`` or ``%T``), ``#DATA``,
  then tab-separated pairs.
* **NanoDrop** (NanoDrop One/Eight/2000 "export spectra", tab or comma): optional
  ``key: value`` lines, a header of sample columns (``Sample Id``, ``Sample Name``,
  ``Date & Time``...) followed by one column per wavelength (``220.0``, ``220.5``...); one
  row per spectrum, timed by its ``Date & Time``.
* **Avantes** (AvaSoft "Export to ASCII"): ``Integration time [ms]: ...`` lines, a header
  ``Wave;Sample;Dark;Reference;Absorbance`` (``;``, decimal comma accepted), a units row
  ``[nm];[counts];...``, then the rows; the absorbance column when present, else
  transmittance, else counts with the file's dark and reference.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone, tzinfo
from pathlib import Path

import numpy as np

from synthwatch.collectors.uvvis.common import (
    Raw,
    UVVisParseError,
    make_raw,
    numeric_block,
    split_fields,
)
from synthwatch.collectors.uvvis.tables import delimiter, fields_of, is_number
from synthwatch.collectors.uvvis.times import local_zone, loose_time
from synthwatch.collectors.uvvis.units import ordinate_kind

_UVPROBE = re.compile(r'^\s*"?wavelength\s*nm\.?"?\s*[,\t;]', re.IGNORECASE)


def sniff_uvprobe(head: list[str]) -> bool:
    return any(_UVPROBE.match(ln) for ln in head[:10])


def sniff_perkinelmer(head: list[str]) -> bool:
    return bool(head) and head[0].lstrip().startswith("PE UV")


def sniff_avantes(head: list[str]) -> bool:
    return any(
        ln.lstrip().lower().startswith(("integration time [ms]", "data measured with spectrometer"))
        or re.match(r"^\s*wave\s*;", ln, re.IGNORECASE)
        for ln in head[:20]
    )


def _wavelength_cells(cells: list[str]) -> int:
    """Index of the first of >= 8 trailing numeric header cells in 150..1100 nm, else -1."""
    n = 0
    for c in range(len(cells) - 1, -1, -1):
        cell = cells[c].strip()
        if is_number(cell) and 150 <= float(cell.replace(",", ".")) <= 1100:
            n += 1
        elif cell == "" and n == 0:
            continue
        else:
            return c + 1 if n >= 8 else -1
    return -1


def sniff_nanodrop(head: list[str]) -> bool:
    for ln in head[:12]:
        delim = "\t" if "\t" in ln else ","
        cells = split_fields(ln, delim)
        if len(cells) >= 10 and _wavelength_cells(cells) > 0:
            return True
    return False


def read_uvprobe(path: Path, lines: list[str]) -> list[Raw]:
    out = []
    i = 0
    while i < len(lines):
        if not _UVPROBE.match(lines[i]):
            i += 1
            continue
        head = split_fields(lines[i], delimiter(lines[i]))
        title = next(
            (lines[j].strip().strip('"') for j in range(i - 1, -1, -1) if lines[j].strip()), ""
        )
        kind = ordinate_kind(head[1]) if len(head) > 1 else None
        if kind not in ("A", "%T", "T"):
            raise UVVisParseError(
                path, f"ordinate {head[1:2]!r}: expected 'Abs.', '%T' or 'T'", line=i + 1
            )
        rows = []
        j = i + 1
        while j < len(lines):
            ln = lines[j]
            if ln.strip():
                first = fields_of(ln, delimiter(ln))[0]
                if not is_number(first):
                    break
                rows.append((j + 1, ln))
            j += 1
        delim = delimiter(rows[0][1]) if rows else ","
        arr = numeric_block(path, rows, delim, ["Wavelength nm.", head[1]])
        out.append(make_raw(path, arr[:, 0], arr[:, 1], kind, i + 1, meta={"title": title}))
        i = j
    if not out:
        raise UVVisParseError(path, 'no \'"Wavelength nm.","Abs."\' header')
    # the title line of a block is the line before its header: drop it from the previous
    return out


def read_perkinelmer(path: Path, lines: list[str], tz: tzinfo | None) -> list[Raw]:
    try:
        begin = next(i for i, ln in enumerate(lines) if ln.strip() == "#DATA")
    except StopIteration:
        raise UVVisParseError(
            path, "no '#DATA' line: expected a PerkinElmer ASCII export"
        ) from None
    header = [ln.strip() for ln in lines[:begin]]
    kind = "A"
    for ln in header[1:]:
        if ln in ("A", "ABS", "%T", "T", "%R", "R"):
            kind = {"ABS": "A"}.get(ln, ln)
    if kind not in ("A", "%T", "T"):
        raise UVVisParseError(path, f"ordinate {kind!r}: expected A, %T or T")
    t = None
    if len(header) > 4:
        try:
            naive = datetime.strptime(f"{header[3]} {header[4].split('.')[0]}", "%y/%m/%d %H:%M:%S")
            t = naive.replace(tzinfo=local_zone(tz)).astimezone(timezone.utc)
        except ValueError:
            t = None
    rows = [(i + 1, ln) for i, ln in enumerate(lines[begin + 1 :], start=begin + 1) if ln.strip()]
    delim = delimiter(rows[0][1]) if rows else "\t"
    arr = numeric_block(path, rows, delim, ["wavelength", kind])
    meta = {"file": header[1] if len(header) > 1 else ""}
    return [make_raw(path, arr[:, 0], arr[:, 1], kind, begin + 2, t=t, meta=meta)]


def read_nanodrop(path: Path, lines: list[str], tz: tzinfo | None) -> list[Raw]:
    k = next(
        i
        for i, ln in enumerate(lines[:12])
        if len(split_fields(ln, "\t" if "\t" in ln else ",")) >= 10
        and _wavelength_cells(split_fields(ln, "\t" if "\t" in ln else ",")) > 0
    )
    delim = "\t" if "\t" in lines[k] else ","
    head = split_fields(lines[k], delim)
    w0 = _wavelength_cells(head)
    last = max(c for c in range(len(head)) if head[c].strip())
    wl = np.array([float(c.replace(",", ".")) for c in head[w0 : last + 1]])
    lower = [h.lower() for h in head[:w0]]
    date_col = next((c for c, h in enumerate(lower) if "date" in h), None)
    time_col = next((c for c, h in enumerate(lower) if h.strip() == "time"), None)
    name_col = next((c for c, h in enumerate(lower) if "name" in h), None)
    if name_col is None:
        name_col = next((c for c, h in enumerate(lower) if "sample" in h), None)
    out = []
    for i in range(k + 1, len(lines)):
        ln = lines[i]
        if not ln.strip():
            continue
        cells = split_fields(ln, delim)
        values = cells[w0 : last + 1]
        values += [""] * (len(wl) - len(values))
        names = [f"{w:g}" for w in wl]
        arr = numeric_block(path, [(i + 1, delim.join(values))], delim, names, allow_empty=True)
        stamp = cells[date_col] if date_col is not None and date_col < len(cells) else ""
        if time_col is not None and time_col < len(cells):
            stamp = f"{stamp} {cells[time_col]}"
        t = loose_time(stamp, tz) if stamp.strip() else None
        name = cells[name_col] if name_col is not None and name_col < len(cells) else ""
        out.append(make_raw(path, wl, arr[0], "A", i + 1, t=t, meta={"sample": name}))
    if not out:
        raise UVVisParseError(path, "a NanoDrop header but no sample rows", line=k + 1)
    return out


def read_avantes(path: Path, lines: list[str]) -> list[Raw]:
    k = next(
        (i for i, ln in enumerate(lines[:40]) if re.match(r"^\s*wave", ln, re.IGNORECASE)), None
    )
    if k is None:
        raise UVVisParseError(path, "no 'Wave;...' header: expected an Avantes ASCII export")
    meta = {}
    for ln in lines[:k]:
        key, sep, value = ln.partition(":")
        if sep:
            meta[key.strip()] = value.strip()
    delim = delimiter(lines[k])
    names = [n for n in fields_of(lines[k], delim)]
    while names and names[-1] == "":
        names.pop()
    rows = []
    for i in range(k + 1, len(lines)):
        ln = lines[i]
        if not ln.strip() or ln.strip().startswith("["):
            continue
        rows.append((i + 1, delim.join(fields_of(ln, delim)[: len(names)])))
    arr = numeric_block(path, rows, delim, names)
    low = [n.lower() for n in names]
    col = {}
    for c, n in enumerate(low[1:], start=1):
        if n.startswith("abs"):
            col.setdefault("A", c)
        elif n.startswith("trans"):
            col.setdefault("%T", c)
        elif n.startswith("dark"):
            col.setdefault("dark", c)
        elif n.startswith("ref"):
            col.setdefault("reference", c)
        elif n.startswith(("sample", "scope", "measurement")):
            col.setdefault("counts", c)
    first = k + 2
    for kind in ("A", "%T"):
        if kind in col:
            return [make_raw(path, arr[:, 0], arr[:, col[kind]], kind, first, meta=meta)]
    if "counts" in col:
        dark = arr[:, col["dark"]] if "dark" in col else None
        ref = arr[:, col["reference"]] if "reference" in col else None
        return [
            make_raw(
                path,
                arr[:, 0],
                arr[:, col["counts"]],
                "counts",
                first,
                meta=meta,
                dark=dark,
                reference=ref,
            )
        ]
    raise UVVisParseError(
        path, f"columns {names[1:]}: expected Absorbance, Transmittance or Sample", line=k + 1
    )
