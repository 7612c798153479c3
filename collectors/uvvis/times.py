"""Times of spectra: column headers (ISO 8601, seconds, minutes, hours since the start), Java
dates of Ocean headers, and the zones they may carry."""

from __future__ import annotations

import contextlib
import re
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path

from synthwatch.collectors.uvvis.common import UVVisParseError

#: Zone abbreviations the Java date of OceanView/SpectraSuite headers may carry (hours east).
ZONES = {"UTC": 0, "GMT": 0, "WET": 0, "WEST": 1, "CET": 1, "CEST": 2, "EET": 2, "EEST": 3,
         "BST": 1, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6,
         "PST": -8, "PDT": -7, "JST": 9, "KST": 9, "IST": 5.5, "AEST": 10, "AEDT": 11}  # fmt: skip
_RELATIVE = re.compile(
    r"^\s*(?:t\s*=\s*)?([0-9]+(?:[.,][0-9]*)?)\s*"
    r"(s|sec|secs|seconds?|min|mins|minutes?|h|hr|hrs|hours?)?\s*\.?\s*$",
    re.IGNORECASE,
)
_FACTOR = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}


def local_zone(tz: tzinfo | None) -> tzinfo:
    return tz or datetime.now().astimezone().tzinfo or timezone.utc


def relative_seconds(text: str) -> float | None:
    """Seconds from ``120``, ``120s``, ``t=120``, ``5 min``, ``1.5 h``; None if not such."""
    m = _RELATIVE.match(text.strip().strip('"'))
    if not m:
        return None
    unit = (m.group(2) or "").lower()
    key = "" if not unit else ("m" if unit.startswith("m") else unit[0])
    return float(m.group(1).replace(",", ".")) * _FACTOR[key]


def column_time(
    path: Path, name: str, line: int, tz: tzinfo | None, start: datetime | None
) -> datetime | None:
    """A spectrum column's time from its header, or None when the header is not a time."""
    text = name.strip().strip('"')
    seconds = relative_seconds(text)
    if seconds is not None:
        if start is None:
            raise UVVisParseError(
                path,
                f"a time in seconds ({text!r}) needs the run's start time: pass --start",
                line=line,
                column=text,
            )
        return start + timedelta(seconds=seconds)
    return iso_time(text, tz)


def iso_time(text: str, tz: tzinfo | None) -> datetime | None:
    """An ISO 8601 time (a ``Z`` suffix accepted) as UTC, or None."""
    text = text.strip()
    if len(text) < 10 or not text[:4].isdigit():
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=local_zone(tz))).astimezone(timezone.utc)


def loose_time(text: str, tz: tzinfo | None) -> datetime | None:
    """A date-time as instruments print it (ISO, ``M/D/YYYY h:mm:ss AM``, ``D.M.YYYY``...)."""
    t = iso_time(text, tz)
    if t is not None:
        return t
    text = text.strip()
    offset = None
    m = re.search(r"\(([+-]\d\d):?(\d\d)\)\s*$", text)
    if m:
        sign = 1 if m.group(1)[0] == "+" else -1
        offset = timezone(sign * timedelta(hours=int(m.group(1)[1:]), minutes=int(m.group(2))))
        text = text[: m.start()].strip()
    for pattern in ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M:%S",
                    "%d.%m.%Y %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%y/%m/%d %H:%M:%S",
                    "%d/%m/%y %H:%M:%S", "%Y-%m-%d %H:%M:%S"):  # fmt: skip
        with contextlib.suppress(ValueError):
            naive = datetime.strptime(text, pattern)
            return naive.replace(tzinfo=offset or local_zone(tz)).astimezone(timezone.utc)
    return None


def java_date(path: Path, text: str, line: int, tz: tzinfo | None) -> datetime:
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
    if zone is not None and zone.upper() in ZONES:
        zinfo: tzinfo = timezone(timedelta(hours=ZONES[zone.upper()]))
    elif zone is not None and re.fullmatch(r"(GMT|UTC)[+-]\d\d:?\d\d", zone.upper()):
        sign = 1 if zone[3] == "+" else -1
        digits = zone[4:].replace(":", "")
        zinfo = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    elif zone is not None and tz is None:
        raise UVVisParseError(
            path,
            f"unknown time zone {zone!r}; give the instrument PC's zone with --tz (e.g. +01:00)",
            line=line,
            column="Date",
        )
    else:
        zinfo = local_zone(tz)
    return naive.replace(tzinfo=zinfo).astimezone(timezone.utc)
