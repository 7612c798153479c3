"""Axis and ordinate conversions: wavelength in nm, µm, cm⁻¹ or eV to nm; absorbance, %T, T or
raw counts (with dark and reference) to absorbance."""

from __future__ import annotations

import re

import numpy as np

HC_EV_NM = 1239.841984  # h·c in eV·nm

#: ``(unit, pattern)``: the axis unit a column header or a JCAMP ``##XUNITS`` names.
_AXIS_UNITS = (
    ("cm-1", re.compile(r"cm\s*(-1|⁻¹|\^-1|\*\*-1)|1\s*/\s*cm|wavenumber|wave\s*number", re.I)),
    ("um", re.compile(r"µm|μm|\bum\b|micro\s*meter|micrometer|micron", re.I)),
    ("eV", re.compile(r"\bev\b|electron\s*volt|energy", re.I)),
    ("nm", re.compile(r"nm|nanometer|wavelength|lambda|λ|\bwl\b|wave", re.I)),
)


def axis_unit(text: str) -> str | None:
    """``nm``, ``um``, ``cm-1``, ``eV`` from a header or units text, or None."""
    for unit, pattern in _AXIS_UNITS:
        if pattern.search(text):
            return unit
    return None


def to_nm(x: np.ndarray, unit: str) -> np.ndarray:
    """Axis values in ``unit`` as wavelengths in nm (non-positive energies give nan)."""
    x = np.asarray(x, dtype=float)
    if unit == "nm":
        return x
    if unit == "um":
        return x * 1000.0
    with np.errstate(divide="ignore", invalid="ignore"):
        if unit == "cm-1":
            out = 1e7 / x
        elif unit == "eV":
            out = HC_EV_NM / x
        else:
            raise ValueError(unit)
    out[~(x > 0)] = np.nan
    return out


_ORDINATES = (
    ("%T", re.compile(r"%\s*t|t\s*%|percent\s*trans|%\s*transm", re.I)),
    ("counts", re.compile(r"count|intensity|scope|raw|signal|sample\s*\[", re.I)),
    ("T", re.compile(r"^\s*t\s*$|^\s*t\.\s*$|transmittance|transmission|^\s*trans", re.I)),
    ("A", re.compile(r"abs|^\s*a\s*$|^\s*a\.\s*$|^\s*od\s*$|optical\s*density|a\.?u\.?", re.I)),
)


def ordinate_kind(text: str) -> str | None:
    """``A``, ``%T``, ``T`` or ``counts`` from a column header or units text, or None."""
    for kind, pattern in _ORDINATES:
        if pattern.search(text):
            return kind
    return None


def to_absorbance(
    y: np.ndarray,
    kind: str,
    *,
    dark: np.ndarray | None = None,
    reference: np.ndarray | None = None,
) -> np.ndarray:
    """Ordinates of ``kind`` as absorbance; a transmittance at or below 0 is a missing point."""
    y = np.asarray(y, dtype=float)
    if kind == "A":
        return y
    if kind == "counts":
        if reference is None:
            raise ValueError("raw counts need a reference spectrum (and a dark one)")
        d = 0.0 if dark is None else dark
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (y - d) / (reference - d)
    elif kind == "%T":
        t = y / 100.0
    elif kind == "T":
        t = y
    else:
        raise ValueError(kind)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = -np.log10(t)
    a[~np.isfinite(a) & ~np.isnan(y)] = np.nan
    a[~(t > 0)] = np.nan
    return a
