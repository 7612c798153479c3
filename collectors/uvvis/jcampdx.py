"""JCAMP-DX UV/VIS spectra (read with the ``jcamp`` package) and JASCO's JCAMP-like text.

* **JCAMP-DX** (``##TITLE=`` first): ``##DATA TYPE=UV/VIS SPECTRUM`` (or ``UV-VISIBLE``),
  ``##XUNITS=NANOMETERS`` (MICROMETERS, 1/CM), ``##YUNITS=ABSORBANCE`` (TRANSMITTANCE is
  converted); the time from ``##LONGDATE=`` or ``##DATE=``/``##TIME=``; a compound file
  (``##DATA TYPE=LINK``) gives one spectrum per block.
* **JASCO** (Spectra Manager text export): tab-separated ``KEY<TAB>value`` lines (``DATE``,
  ``TIME``, ``XUNITS``, ``YUNITS``, ``NPOINTS``), the line ``XYDATA``, then pairs.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from datetime import datetime, timezone, tzinfo
from pathlib import Path

import jcamp
import numpy as np

from synthwatch.collectors.uvvis.common import Raw, UVVisParseError, make_raw, numeric_block
from synthwatch.collectors.uvvis.times import local_zone, loose_time
from synthwatch.collectors.uvvis.units import to_nm

_XUNITS = {"NANOMETERS": "nm", "NM": "nm", "MICROMETERS": "um", "UM": "um", "MICRONS": "um",
           "1/CM": "cm-1", "CM-1": "cm-1", "WAVENUMBERS": "cm-1", "EV": "eV"}  # fmt: skip
_YUNITS = {"ABSORBANCE": "A", "A": "A", "AU": "A", "ABS": "A", "TRANSMITTANCE": "T",
           "%T": "%T", "PERCENT TRANSMITTANCE": "%T", "T": "T"}  # fmt: skip


def sniff_jcamp(head: list[str]) -> bool:
    first = next((ln.strip() for ln in head if ln.strip()), "")
    return first.upper().startswith("##TITLE")


def sniff_jasco(head: list[str]) -> bool:
    keys = {ln.split("\t", 1)[0].strip().upper() for ln in head if "\t" in ln or ln.strip()}
    return {"XUNITS", "YUNITS", "XYDATA"} <= keys


def _jcamp_time(path: Path, block: dict, line: int, tz: tzinfo | None) -> datetime | None:
    zone = local_zone(tz)
    value = block.get("longdate")
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=zone)).astimezone(timezone.utc)
    if value is not None:
        raise UVVisParseError(
            path, f"expected ##LONGDATE=YYYY/MM/DD HH:MM:SS, got {value!r}", line=line
        )
    if "date" in block and "time" in block:
        text = f"{block['date']} {block['time']}".strip()
        for pattern in ("%y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%d/%m/%y %H:%M:%S"):
            with contextlib.suppress(ValueError):
                naive = datetime.strptime(text.split(".")[0], pattern)
                return naive.replace(tzinfo=zone).astimezone(timezone.utc)
        raise UVVisParseError(path, f"expected ##DATE=YY/MM/DD ##TIME=HH:MM:SS, got {text!r}")
    return None


def read_jcamp(path: Path, lines: list[str], tz: tzinfo | None) -> list[Raw]:
    data_lines = [
        i + 1
        for i, ln in enumerate(lines)
        if ln.upper().startswith(("##XYDATA", "##PEAKTABLE", "##XYPOINTS"))
    ]
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = jcamp.read([ln + "\n" for ln in lines])
    except Exception as err:  # noqa: BLE001 - any failure of the third-party reader
        raise UVVisParseError(
            path, f"not a readable JCAMP-DX file ({type(err).__name__}: {str(err)[:80]})"
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
        kind_text = str(block.get("data type", block.get("datatype", "UV/VIS SPECTRUM"))).upper()
        if "UV" not in kind_text and "VIS" not in kind_text:
            raise UVVisParseError(
                path, f"##DATA TYPE={kind_text}: expected UV/VIS SPECTRUM", line=line
            )
        xunits = str(block.get("xunits", "")).strip().upper()
        unit = _XUNITS.get(xunits)
        if unit is None:
            raise UVVisParseError(
                path,
                f"##XUNITS={xunits or '(none)'}: expected NANOMETERS, MICROMETERS, 1/CM or EV",
                line=line,
            )
        yunits = str(block.get("yunits", "")).strip().upper()
        kind = _YUNITS.get(yunits)
        if kind is None:
            raise UVVisParseError(
                path,
                f"##YUNITS={yunits or '(none)'}: expected ABSORBANCE or TRANSMITTANCE",
                line=line,
            )
        if kind == "T" and "%" in str(block.get("yunits", "")):
            kind = "%T"
        try:
            x = np.asarray(block.get("x", []), dtype=float)
            y = np.asarray(block.get("y", []), dtype=float)
        except (TypeError, ValueError):
            raise UVVisParseError(path, "expected numeric ##XYDATA", line=line) from None
        npoints = block.get("npoints")
        if x.ndim != 1 or x.size != y.size or (isinstance(npoints, int) and npoints != y.size):
            raise UVVisParseError(
                path,
                f"##NPOINTS={npoints} but {y.size} values for {x.size} wavelengths "
                "(file cut short?)",
                line=line,
            )
        if not np.all(np.isfinite(x)) or np.any(np.isinf(y)):
            raise UVVisParseError(path, "expected finite wavelengths and absorbances", line=line)
        meta = {"title": str(block.get("title", ""))}
        t = _jcamp_time(path, block, line or 1, tz)
        out.append(make_raw(path, to_nm(x, unit), y, kind, line or 1, t=t, meta=meta, unit=unit))
    return out


def read_jasco(path: Path, lines: list[str], tz: tzinfo | None) -> list[Raw]:
    meta: dict[str, str] = {}
    start = None
    for i, ln in enumerate(lines):
        key, _, value = ln.partition("\t")
        key = key.strip().upper()
        if key == "XYDATA":
            start = i + 1
            break
        meta[key] = value.strip()
    if start is None:
        raise UVVisParseError(path, "no XYDATA line: expected a JASCO text export")
    unit = _XUNITS.get(meta.get("XUNITS", "").upper())
    if unit is None:
        raise UVVisParseError(
            path, f"XUNITS {meta.get('XUNITS', '')!r}: expected NANOMETERS", column="XUNITS"
        )
    kind = _YUNITS.get(meta.get("YUNITS", "").upper())
    if kind is None:
        raise UVVisParseError(
            path, f"YUNITS {meta.get('YUNITS', '')!r}: expected ABSORBANCE", column="YUNITS"
        )
    rows = []
    for i in range(start, len(lines)):
        ln = lines[i].strip()
        if not ln:
            continue
        if not (ln[0].isdigit() or ln[0] in "-+."):
            break  # a trailing section (##### Extended Information)
        rows.append((i + 1, ln))
    arr = numeric_block(path, rows, "\t", ["wavelength", "value"])
    npoints = meta.get("NPOINTS", "")
    if npoints.isdigit() and int(npoints) != len(rows):
        raise UVVisParseError(
            path, f"NPOINTS {npoints} but {len(rows)} data lines (file cut short?)"
        )
    stamp = f"{meta.get('DATE', '')} {meta.get('TIME', '')}".strip()
    t = None
    with contextlib.suppress(ValueError):  # JASCO writes YY/MM/DD
        naive = datetime.strptime(stamp, "%y/%m/%d %H:%M:%S")
        t = naive.replace(tzinfo=local_zone(tz)).astimezone(timezone.utc)
    t = t or loose_time(stamp, tz)
    return [
        make_raw(
            path, to_nm(arr[:, 0], unit), arr[:, 1], kind, start + 1, t=t, meta=meta, unit=unit
        )
    ]
