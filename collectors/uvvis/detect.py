"""Which UV-Vis layout an export is, from its content (never its name)."""

from __future__ import annotations

from collections.abc import Callable

from synthwatch.collectors.uvvis import jcampdx, ocean, tables, vendors

#: ``(format, sniff)`` in the order they are tried; the first that recognises the head wins.
SNIFFERS: tuple[tuple[str, Callable[[list[str]], bool]], ...] = (
    ("jcamp", jcampdx.sniff_jcamp),
    ("spectrasuite", ocean.sniff_spectrasuite),
    ("ooibase32", ocean.sniff_ooibase32),
    ("oceanview", ocean.sniff_oceanview),
    ("jasco", jcampdx.sniff_jasco),
    ("perkinelmer", vendors.sniff_perkinelmer),
    ("avantes", vendors.sniff_avantes),
    ("uvprobe", vendors.sniff_uvprobe),
    ("nanodrop", vendors.sniff_nanodrop),
    ("cary", tables.sniff_cary),
    ("csv", tables.sniff_csv),
    ("xy", tables.sniff_xy),
)
FORMATS = tuple(name for name, _ in SNIFFERS)
HEAD_LINES = 60


def detect_format(lines: list[str]) -> str | None:
    """The format of an export from its first lines, or None when no layout recognises it."""
    head = lines[:HEAD_LINES]
    for name, sniff in SNIFFERS:
        if sniff(head):
            return name
    return None
