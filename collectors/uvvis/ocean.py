"""Ocean Insight text exports: OceanView "ASCII with header", SpectraSuite, OOIBase32.

* **OceanView**: ``Data from <view>_<serial>__0__<hh-mm-ss-ms>.txt Node``, ``key: value`` lines
  (``Date: Wed Nov 25 11:38:08 CET 2026``, ``Number of Pixels in Spectrum: N``...),
  ``>>>>>Begin Spectral Data<<<<<``, then ``wavelength<TAB>value`` pairs (decimal comma
  accepted). The view in the title gives the ordinate: Absorbance (AU), Transmission (%T,
  converted), Scope/Raw/Intensity (counts: need a dark and a reference).
* **SpectraSuite**: ``SpectraSuite Data File``, ``+++`` rule, the same header
  (``Number of Pixels in Processed Spectrum: N``), ``>>>>>Begin Processed Spectral Data<<<<<``,
  the pairs, ``>>>>>End Processed Spectral Data<<<<<`` (the processed spectrum: absorbance).
* **OOIBase32** (``OOIBase32 Version ... Data File``, ``.scope`` / ``.abs`` / ``.trm``): the
  same block; ``Date: Monday, July 03, 2017, 07:30:30``; the ordinate from the extension or the
  header (a ``.scope`` file holds counts).
"""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo
from pathlib import Path

import numpy as np

from synthwatch.collectors.uvvis.common import (
    Raw,
    UVVisParseError,
    make_raw,
    number,
    parse_block,
)
from synthwatch.collectors.uvvis.times import java_date, local_zone

BEGIN = (">>>>>Begin Spectral Data<<<<<", ">>>>>Begin Processed Spectral Data<<<<<")
END = (">>>>>End Spectral Data<<<<<", ">>>>>End Processed Spectral Data<<<<<")
_REFUSED_VIEWS = ("reflect", "irradiance", "relative", "emission")
_COUNT_VIEWS = ("scope", "raw", "intensity", "counts", "dark", "reference")


def sniff_spectrasuite(head: list[str]) -> bool:
    return any(ln.strip().startswith("SpectraSuite Data File") for ln in head[:3])


def sniff_ooibase32(head: list[str]) -> bool:
    return any(ln.strip().startswith("OOIBase32") for ln in head[:3])


def sniff_oceanview(head: list[str]) -> bool:
    return any(ln.strip() in BEGIN for ln in head)


def _ooi_date(path: Path, text: str, line: int, tz: tzinfo | None) -> datetime:
    try:
        naive = datetime.strptime(text.strip(), "%A, %B %d, %Y, %H:%M:%S")
    except ValueError:
        raise UVVisParseError(
            path,
            f"expected a date like 'Monday, July 03, 2017, 07:30:30', got {text.strip()!r}",
            line=line,
            column="Date",
        ) from None
    return naive.replace(tzinfo=local_zone(tz)).astimezone(timezone.utc)


def read_ocean(path: Path, lines: list[str], fmt: str, tz: tzinfo | None) -> list[Raw]:
    begin = next((i for i, ln in enumerate(lines) if ln.strip() in BEGIN), None)
    if begin is None:
        raise UVVisParseError(path, f"no {BEGIN[0]!r} line: expected an {fmt} text export")
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
            t = (
                _ooi_date(path, value, i, tz)
                if fmt == "ooibase32"
                else java_date(path, value, i, tz)
            )
        elif key.startswith("Number of Pixels in"):
            pixels = int(number(path, value, i, key, allow_nan=False))
    kind = "A"
    title = lines[0].strip().lower()
    if fmt == "oceanview" and title.startswith("data from"):
        view = title[len("data from") :].strip()
        if any(k in view for k in _REFUSED_VIEWS):
            raise UVVisParseError(
                path,
                f"the export is not an absorbance spectrum ({lines[0].strip()!r}); save the "
                "absorbance view",
                line=1,
            )
        if "transmi" in view:
            kind = "%T"
        elif any(k in view for k in _COUNT_VIEWS):
            kind = "counts"
    elif fmt == "ooibase32":
        ext = path.suffix.lower()
        kind = {".trm": "%T", ".abs": "A"}.get(ext, "counts")
    tail = range(len(lines) - 1, max(begin, len(lines) - 6), -1)  # the end marker, if any
    end = next((i for i in tail if lines[i].strip() in END), None)
    block = lines[begin + 1 : end]
    first = begin + 2
    fast = _fast_pairs(block)
    if fast is not None:
        if pixels is not None and pixels != fast.shape[0]:
            raise UVVisParseError(
                path, f"header says {pixels} pixels, the data has {fast.shape[0]} (file cut short?)"
            )
        try:
            return [make_raw(path, fast[:, 0], fast[:, 1], kind, first, t=t, meta=meta)]
        except UVVisParseError:
            pass  # read again line by line, for the line of the fault
    rows = [(i + 1, ln.strip()) for i, ln in enumerate(block, start=begin + 1) if ln.strip()]
    wl, vals = _pairs(path, rows)
    if pixels is not None and pixels != len(wl):
        raise UVVisParseError(
            path, f"header says {pixels} pixels, the data has {len(wl)} (file cut short?)"
        )
    return [make_raw(path, wl, vals, kind, first, t=t, meta=meta, data_lines=[i for i, _ in rows])]


def _fast_pairs(block: list[str]) -> np.ndarray | None:
    """All pairs at once when every line is ``x<TAB>y`` (or blank); None otherwise."""
    if "," in "\n".join(block):
        block = "\n".join(block).replace(",", ".").split("\n")
    return parse_block(block, "\t", 2)


def _pairs(path: Path, rows: list[tuple[int, str]]) -> tuple[np.ndarray, np.ndarray]:
    """``wavelength<TAB>value`` rows: one vectorised conversion, or the first bad line."""
    if rows:
        text = "\n".join(ln for _, ln in rows).replace(",", ".")
        tokens = text.split()
        if len(tokens) == 2 * len(rows):
            try:
                arr = np.array(tokens, dtype=float).reshape(-1, 2)
            except ValueError:
                arr = None
            if arr is not None and np.isfinite(arr[:, 0]).all() and not np.isinf(arr).any():
                return arr[:, 0], arr[:, 1]
    wl = np.empty(len(rows))
    vals = np.empty(len(rows))
    for k, (i, ln) in enumerate(rows):
        fields = ln.split("\t") if "\t" in ln else ln.split()
        if len(fields) != 2:
            raise UVVisParseError(path, f"expected 'wavelength<TAB>value', got {ln[:60]!r}", line=i)
        x_text, y_text = (f.strip().replace(",", ".") for f in fields)
        wl[k] = number(path, x_text, i, "wavelength", allow_nan=False)
        vals[k] = number(path, y_text, i, "value", allow_nan=True)
    return wl, vals
