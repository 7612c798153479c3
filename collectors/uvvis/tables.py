"""Delimited tables: CSV/TSV/``;`` with one column per spectrum, Agilent Cary paired columns,
and headerless wavelength/value pairs.

* **CSV** (``,``, ``;``, tab or spaces; quoted headers; a decimal comma with ``;`` or tab):
  title or ``key,value`` lines may come first; the header's first column is the axis
  (``wavelength``, ``Wavelength (nm)``, ``nm``, ``lambda``, ``Wavelength (µm)``,
  ``Wavenumber (cm-1)``, ``Energy (eV)``); each other column is a spectrum headed by its time
  (ISO 8601, or seconds/minutes/hours since ``start``: ``120``, ``120s``, ``t=120``,
  ``5 min``, ``1.5 h``), or one spectrum as ordinate columns (``Abs``, ``%T``, ``T``;
  ``Sample``/``Dark``/``Reference`` counts). A file of one spectrum may name its column
  anything (its time is then unknown). Lines starting with ``#`` are comments.
* **Cary** (Agilent Cary WinUV, Cary 50/60 "Save as CSV"): a row of sample names over
  ``Wavelength (nm),Abs`` (or ``%T``) pairs, one pair per sample, each with its own axis and
  length; the method/report trailer after the first blank line is skipped except its
  ``Collection Time:`` lines, which time the samples when their names are not times.
* **xy**: headerless ``wavelength,value`` rows (absorbance).
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo
from pathlib import Path

import numpy as np

from synthwatch.collectors.uvvis.common import (
    NumberedLines,
    Raw,
    UVVisParseError,
    make_raw,
    numeric_block,
    split_fields,
)
from synthwatch.collectors.uvvis.times import column_time, loose_time
from synthwatch.collectors.uvvis.units import axis_unit, ordinate_kind, to_nm

AXIS_HEADER = re.compile(
    r"^\s*(wavelength|wellenl|longueur|wave\b|wl\b|lambda|λ|nm\b|wavenumber|wave\s*number|energy|photon\s*energy|"
    r"ev\b|µm|μm|um\b)",
    re.IGNORECASE,
)
_NUM = re.compile(r"^\s*[-+]?(\d+([.,]\d*)?|[.,]\d+)([eE][-+]?\d+)?\s*$")


def is_number(text: str) -> bool:
    return bool(_NUM.match(text.strip().strip('"')))


def delimiter(line: str) -> str:
    counts = {d: line.count(d) for d in ("\t", ";", ",")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else " "


def fields_of(line: str, delim: str) -> list[str]:
    return line.split() if delim == " " else split_fields(line, delim)


def _rows(lines: list[str]) -> list[tuple[int, str]]:
    return [(i, ln) for i, ln in enumerate(lines, 1) if ln and ln[0] != "#" and not ln.isspace()]


def _header(rows: list[tuple[int, str]], limit: int = 60) -> int | None:
    """Index (in ``rows``) of the first line whose first field names the axis."""
    for k, (_, ln) in enumerate(rows[:limit]):
        f = fields_of(ln, delimiter(ln))
        if len(f) >= 2 and AXIS_HEADER.match(f[0]):
            return k
    return None


def sniff_csv(head: list[str]) -> bool:
    rows = _rows(head)
    k = _header(rows)
    if k is None:
        return False
    if k + 1 >= len(rows):
        return True
    return is_number(fields_of(rows[k + 1][1], delimiter(rows[k][1]))[0])


def sniff_cary(head: list[str]) -> bool:
    for a, b in zip(head[:6], head[1:7]):
        if "," not in b or "," not in a:
            continue
        fa, fb = split_fields(a, ","), split_fields(b, ",")
        if not fb or not AXIS_HEADER.match(fb[0]) or len(fb) < 2 or not fa[0]:
            continue
        if all(not f for f in fa[1:2]) and ordinate_kind(fb[1]) in ("A", "%T", "T"):
            return True
    return False


def sniff_xy(head: list[str]) -> bool:
    rows = _rows(head)
    if len(rows) < 8:
        return False
    for _, ln in rows[:8]:
        f = fields_of(ln, delimiter(ln))
        if len(f) != 2 or not (is_number(f[0]) and is_number(f[1])):
            return False
    x0 = float(fields_of(rows[0][1], delimiter(rows[0][1]))[0].replace(",", "."))
    return 100.0 <= x0 <= 3500.0


def _data_rows(rows: list[tuple[int, str]], delim: str) -> tuple[list[tuple[int, str]], int]:
    """Rows after a header up to a trailer (a non-numeric first field after a blank line)."""
    if not rows or rows[-1][0] - rows[0][0] == len(rows) - 1:
        return rows, len(rows)  # no blank line: no trailer
    prev = rows[0][0]
    for k, (i, ln) in enumerate(rows):
        if i > prev + 1 and k and not is_number(fields_of(ln, delim)[0]):
            return rows[:k], k
        prev = i
    return rows, len(rows)


def _choose_ordinates(names: list[str]) -> dict[str, int] | None:
    """For headers that are ordinates of one spectrum: which column holds what."""
    roles: dict[str, int] = {}
    for c, name in enumerate(names):
        low = name.lower()
        if "dark" in low:
            roles.setdefault("dark", c)
        elif low.startswith("ref") or "reference" in low:
            roles.setdefault("reference", c)
        elif low.startswith(("sample", "scope", "raw", "counts")):
            roles.setdefault("counts", c)
        else:
            kind = ordinate_kind(name)
            if kind is None:
                return None
            roles.setdefault(kind, c)
    return roles


def read_csv(path: Path, lines: list[str], tz: tzinfo | None, start: datetime | None) -> list[Raw]:
    rows = _rows(lines[:200])
    h = _header(rows)
    if h is not None and len(rows) > h + 1 and len(lines) > 200 and "" not in lines:
        # fast: the data taken whole; read again filtered if it holds comments or blanks
        body = NumberedLines(rows[h][0] + 1, lines[rows[h][0] :])
        try:
            return _read_csv_rows(path, rows[: h + 1], tz, start, body)
        except UVVisParseError:
            pass
    return _read_csv_rows(path, _rows(lines), tz, start)


def _read_csv_rows(
    path: Path,
    rows: list[tuple[int, str]],
    tz: tzinfo | None,
    start: datetime | None,
    body: NumberedLines | None = None,
) -> list[Raw]:
    """``rows`` up to the header and the data after it, or ``body`` the data lines after them."""
    if not rows:
        raise UVVisParseError(path, "no header line; expected 'wavelength_nm,<spectrum>,...'")
    k = _header(rows)
    if k is None:
        head_line, head = rows[0]
        first = fields_of(head, delimiter(head))[0]
        raise UVVisParseError(
            path,
            f"first column {first[:40]!r}: expected the wavelength ('wavelength_nm', "
            "'Wavelength (nm)', 'lambda', 'nm', 'Wavenumber (cm-1)', 'Energy (eV)')",
            line=head_line,
        )
    meta = {}
    for _, ln in rows[:k]:
        f = fields_of(ln, delimiter(ln))
        if len(f) >= 2 and f[0]:
            meta[f[0].rstrip(":")] = f[1]
    head_line, head = rows[k]
    delim = delimiter(head)
    names = fields_of(head, delim)
    while len(names) > 2 and names[-1] == "":
        names.pop()
    unit = axis_unit(names[0]) or "nm"
    after = rows[k + 1 :]
    if body is not None:
        after = [*after, *body] if after else body
    data, _ = _data_rows(after, delim)
    spectra = names[1:]
    times = [column_time(path, n, head_line, tz, start) for n in spectra]
    ragged = any(len(fields_of(ln, delim)) > len(names) for _, ln in data[:1])
    if ragged and all(f == "" for f in fields_of(data[0][1], delim)[len(names) :]):
        data = [(i, delim.join(fields_of(ln, delim)[: len(names)])) for i, ln in data]
    arr = numeric_block(path, data, delim, names) if data else np.empty((0, len(names)))
    x = to_nm(arr[:, 0], unit)
    numbers = data.numbers if isinstance(data, NumberedLines) else [i for i, _ in data]
    kw = {"unit": unit, "data_lines": numbers}
    if len(spectra) == 1:
        kind = ordinate_kind(spectra[0]) if times[0] is None else "A"
        if kind == "counts":
            kind = "A" if times[0] is not None else kind
        meta1 = {"column": spectra[0], **meta}
        return [make_raw(path, x, arr[:, 1], kind or "A", head_line, t=times[0], meta=meta1, **kw)]
    if all(t is not None for t in times):
        return [
            make_raw(path, x, arr[:, c + 1], "A", head_line, t=t, meta={"column": n}, **kw)
            for c, (t, n) in enumerate(zip(times, spectra))
        ]
    roles = _choose_ordinates(spectra) if all(t is None for t in times) else None
    if roles:
        col = {r: c + 1 for r, c in roles.items()}
        for kind in ("A", "%T", "T"):
            if kind in col:
                meta1 = {"column": names[col[kind]], **meta}
                return [make_raw(path, x, arr[:, col[kind]], kind, head_line, meta=meta1, **kw)]
        if "counts" in col:
            dark = arr[:, col["dark"]] if "dark" in col else None
            ref = arr[:, col["reference"]] if "reference" in col else None
            meta1 = {"column": names[col["counts"]], **meta}
            y = arr[:, col["counts"]]
            return [
                make_raw(
                    path, x, y, "counts", head_line, dark=dark, reference=ref, meta=meta1, **kw
                )
            ]
    bad = spectra[[t is None for t in times].index(True)]
    raise UVVisParseError(
        path,
        "a file of several spectra needs each column's time in its header (ISO 8601 or "
        "seconds/minutes since the start)",
        line=head_line,
        column=bad,
    )


def read_cary(path: Path, lines: list[str], tz: tzinfo | None, start: datetime | None) -> list[Raw]:
    k = next(i for i in range(min(len(lines) - 1, 6)) if sniff_cary(lines[i : i + 2]))
    names = split_fields(lines[k], ",")
    heads = split_fields(lines[k + 1], ",")
    pairs = [j for j in range(0, len(heads) - 1, 2) if AXIS_HEADER.match(heads[j])]
    rows = [(i + 1, ln) for i, ln in enumerate(lines[k + 2 :], start=k + 2)]
    data, stop = [], len(rows)
    for n, (i, ln) in enumerate(rows):
        if not ln.strip() or not is_number(split_fields(ln, ",")[0]):
            stop = n
            break
        data.append((i, ln))
    trailer = [ln for _, ln in rows[stop:]]
    width = max(pairs) + 2
    cols = [f"{heads[j]}" if j < len(heads) else str(j) for j in range(width)]
    trimmed = [(i, ",".join(split_fields(ln, ",")[:width])) for i, ln in data]
    arr = numeric_block(path, trimmed, ",", cols, allow_empty=True)
    collected = [
        loose_time(ln.split(":", 1)[1].strip(), tz)
        for ln in trailer
        if ln.strip().lower().startswith("collection time:")
    ]
    if start is None and collected and collected[0] is not None:
        start = collected[0]  # names relative to the first collection (Cary kinetics)
    out = []
    for n, j in enumerate(pairs):
        name = names[j] if j < len(names) else f"sample {n + 1}"
        kind = ordinate_kind(heads[j + 1]) or "A"
        if kind == "counts":
            raise UVVisParseError(
                path, f"column {heads[j + 1]!r}: expected Abs, %T or T", line=k + 2
            )
        keep = ~np.isnan(arr[:, j])
        t = column_time(path, name, k + 1, tz, start) if name else None
        if t is None and len(collected) == len(pairs):
            t = collected[n]
        unit = axis_unit(heads[j]) or "nm"
        out.append(
            make_raw(
                path,
                to_nm(arr[keep, j], unit),
                arr[keep, j + 1],
                kind,
                k + 2,
                t=t,
                meta={"sample": name, "column": heads[j + 1]},
                unit=unit,
            )
        )
    return out


def read_xy(path: Path, lines: list[str]) -> list[Raw]:
    rows = _rows(lines)
    delim = delimiter(rows[0][1])
    arr = numeric_block(path, rows, delim, ["wavelength", "absorbance"])
    return [make_raw(path, arr[:, 0], arr[:, 1], "A", rows[0][0], meta={})]
