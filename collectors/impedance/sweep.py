"""One impedance sweep read from an instrument, and the error every impedance parser raises.

Sign convention (shared by every collector and model of synthwatch): Z = Z' + jZ''.
``z_imag_ohm`` is Z'' *with its sign*, negative for capacitive behaviour. Vendor files that store
-Z'' (BioLogic ``-Im(Z)/Ohm``, Autolab NOVA ``-Z'' (Ω)``, CSV headers starting with ``-``) are
converted by their parser.

A sweep is stored in increasing frequency (the contract's axes are strictly increasing), whatever
the order of the file; ``lines`` keeps the 1-based line of the file that each point came from, so
a model that flags a point can point back at the file.

>>> import numpy as np
>>> sweep = make_sweep("cell.csv", [1e3, 10.0, 100.0], [10.0, 12.0, 11.0], [-1.0, -5.0, -3.0],
...                    lines=[2, 3, 4], fmt="csv")
>>> sweep.frequencies_hz.tolist(), sweep.z_imag_ohm.tolist(), sweep.lines
([10.0, 100.0, 1000.0], [-5.0, -3.0, -1.0], (3, 4, 2))
>>> try:
...     make_sweep("cell.csv", [1e3, 0.0, 100.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0],
...                lines=[2, 3, 4], fmt="csv")
... except ParseError as err:
...     print(err)
cell.csv, line 3: frequency: expected a frequency above 0 Hz, got 0.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from synthwatch.contract.errors import SynthwatchError

__all__ = ["MIN_POINTS", "ParseError", "ImpedanceSweep", "make_sweep"]

#: fewest points a sweep may have (the contract's impedance descriptor needs 3 frequencies)
MIN_POINTS = 3


class ParseError(SynthwatchError, ValueError):
    """An impedance export that cannot be read: names the file, the line and what was expected.

    ``line`` is 1-based (``None`` when the file as a whole is wrong, e.g. empty), ``column`` the
    column or field concerned when known.
    """

    def __init__(
        self,
        source: str | Path,
        reason: str,
        *,
        line: int | None = None,
        column: str | None = None,
    ):
        self.source = Path(source)
        self.reason = reason
        self.line = line
        self.column = column
        where = str(source) if line is None else f"{source}, line {line}"
        what = reason if column is None else f"{column}: {reason}"
        super().__init__(f"{where}: {what}")


@dataclass(frozen=True, eq=False)
class ImpedanceSweep:
    """One frequency sweep: Z(f) = z_real_ohm + j z_imag_ohm at ``frequencies_hz`` (increasing).

    ``source`` is the file (or instrument resource) it came from, ``fmt`` its format name,
    ``started_at`` when the sweep started if the file says so (timezone-aware, else ``None``),
    ``lines`` the 1-based line of each point in the file (empty for instruments), ``flags``
    per-sweep quality flags from the source (e.g. an instrument's overload status), ``meta``
    selected header fields as text (instrument, amplitude...). A file of several sweeps (a
    looped EC-Lab PEIS, several Gamry ZCURVE tables) gives one sweep each: ``index`` is its
    0-based position in the file and ``of`` how many the file holds.
    """

    frequencies_hz: np.ndarray
    z_real_ohm: np.ndarray
    z_imag_ohm: np.ndarray
    source: Path
    fmt: str
    started_at: datetime | None = None
    lines: tuple[int, ...] = ()
    flags: tuple[str, ...] = ()
    meta: tuple[tuple[str, str], ...] = field(default=())
    index: int = 0
    of: int = 1

    @property
    def n_points(self) -> int:
        """Number of frequencies."""
        return int(self.frequencies_hz.size)

    @property
    def z_complex_ohm(self) -> np.ndarray:
        """Z' + jZ'' as complex numbers (what impedance.py's fitting takes)."""
        return self.z_real_ohm + 1j * self.z_imag_ohm

    def same_data(self, other: ImpedanceSweep, rtol: float = 0.0) -> bool:
        """Same frequencies and impedances (to ``rtol``), whatever the source."""
        return (
            self.n_points == other.n_points
            and np.allclose(self.frequencies_hz, other.frequencies_hz, rtol=rtol, atol=0.0)
            and np.allclose(self.z_real_ohm, other.z_real_ohm, rtol=rtol, atol=0.0)
            and np.allclose(self.z_imag_ohm, other.z_imag_ohm, rtol=rtol, atol=0.0)
        )


def make_sweep(
    source: str | Path,
    frequencies_hz: Sequence[float] | np.ndarray,
    z_real_ohm: Sequence[float] | np.ndarray,
    z_imag_ohm: Sequence[float] | np.ndarray,
    *,
    lines: Sequence[int] = (),
    fmt: str,
    started_at: datetime | None = None,
    flags: Sequence[str] = (),
    meta: Sequence[tuple[str, str]] = (),
    allow_nan_z: bool = False,
    index: int = 0,
    of: int = 1,
) -> ImpedanceSweep:
    """Validate the columns of a sweep and return it sorted by increasing frequency.

    Every frequency must be finite, above 0 Hz and distinct; every Z' and Z'' finite (unless
    ``allow_nan_z``: an instrument point flagged bad travels as NaN); at least
    :data:`MIN_POINTS` points. A failure raises :class:`ParseError` naming the line of the point.
    """
    f = np.asarray(frequencies_hz, dtype=float)
    zr = np.asarray(z_real_ohm, dtype=float)
    zi = np.asarray(z_imag_ohm, dtype=float)
    line_no = tuple(int(n) for n in lines)
    if not (f.shape == zr.shape == zi.shape) or f.ndim != 1:
        raise ParseError(source, f"expected 3 equal columns, got shapes {f.shape}/{zr.shape}")
    if line_no and len(line_no) != f.size:
        raise ParseError(source, f"expected one line number per point, got {len(line_no)}")

    def line_of(i: int) -> int | None:
        return line_no[i] if line_no else None

    for name, col, expected in (
        ("frequency", f, "a finite frequency in Hz"),
        ("Z'", zr, "a finite Z' in ohm"),
        ("Z''", zi, "a finite Z'' in ohm"),
    ):
        if allow_nan_z and name != "frequency":
            bad = np.flatnonzero(np.isinf(col))
        else:
            bad = np.flatnonzero(~np.isfinite(col))
        if bad.size:
            i = int(bad[0])
            raise ParseError(
                source, f"expected {expected}, got {float(col[i])!r}", line=line_of(i), column=name
            )
    nonpos = np.flatnonzero(f <= 0)
    if nonpos.size:
        i = int(nonpos[0])
        raise ParseError(
            source,
            f"expected a frequency above 0 Hz, got {float(f[i])!r}",
            line=line_of(i),
            column="frequency",
        )
    if f.size < MIN_POINTS:
        raise ParseError(
            source,
            f"expected at least {MIN_POINTS} data points, got {f.size}"
            + (" (truncated or empty file?)" if f.size == 0 else ""),
            line=line_of(f.size - 1) if f.size else None,
        )
    order = np.argsort(f, kind="stable")
    fs = f[order]
    dup = np.flatnonzero(np.diff(fs) == 0)
    if dup.size:
        i = int(order[dup[0] + 1])
        raise ParseError(
            source,
            f"expected distinct frequencies, {float(fs[dup[0]])!r} Hz appears twice",
            line=line_of(i),
            column="frequency",
        )
    return ImpedanceSweep(
        frequencies_hz=fs,
        z_real_ohm=zr[order],
        z_imag_ohm=zi[order],
        source=Path(source),
        fmt=fmt,
        started_at=started_at,
        lines=tuple(line_no[i] for i in order) if line_no else (),
        flags=tuple(flags),
        meta=tuple(meta),
        index=index,
        of=of,
    )
