"""Impedance sweeps as contract messages: one Descriptor per sensor, one Reading per sweep.

The Descriptor (kind ``impedance``) carries the frequency axis in Hz (increasing) and the cell
constant; each Reading carries Z' in ``values`` and Z'' (signed, negative for capacitive
behaviour) in ``values_imag``, in ohm, on that axis.

**Axis policy** (decided here, documented for the models): a sensor has one fixed axis per run.
A sweep whose frequencies differ from the descriptor's (another count, or any frequency off by
more than ``rtol``, default 1e-6 relative — instruments round the same list identically every
sweep) raises :class:`AxisMismatchError`: the sweep is not silently re-gridded, and no second
descriptor is sent for the sensor. The folder-stream turns it into a dead-letter record and the
run goes on; a lab that changes the frequency list starts a new run (or a new ``sensor_id``).

>>> from datetime import datetime, timezone
>>> from synthwatch.collectors.impedance.sweep import make_sweep
>>> s = make_sweep("a.csv", [10.0, 100.0, 1e3], [120.0, 105.0, 100.0], [-30.0, -8.0, -1.5],
...                fmt="csv")
>>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> d = descriptor_for(s, run_id="r1", sensor_id="cell1", t=t, cell_constant_per_cm=1.2)
>>> r = reading_for(s, d, seq=0, t=t)
>>> d.axis, r.values, r.values_imag
([10.0, 100.0, 1000.0], [120.0, 105.0, 100.0], [-30.0, -8.0, -1.5])
>>> other = make_sweep("b.csv", [10.0, 100.0, 2e3], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0], fmt="csv")
>>> try:
...     reading_for(other, d, seq=1, t=t)
... except AxisMismatchError as err:
...     print(err)
b.csv: sensor 'cell1' sweeps 3 frequencies, point 3 is 2000 Hz where the descriptor has
1000 Hz (rtol 1e-06): a sensor keeps one frequency axis per run
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np

from synthwatch.collectors.impedance.sweep import ImpedanceSweep
from synthwatch.contract.errors import SynthwatchError
from synthwatch.contract.messages import Descriptor, Reading

__all__ = [
    "AxisMismatchError",
    "EventTimeWarning",
    "descriptor_for",
    "reading_for",
    "axis_matches",
    "event_times",
]

#: how far apart sweeps that would share an event time are put (the store keys estimates by time)
EVENT_TIME_STEP = timedelta(milliseconds=1)


class AxisMismatchError(SynthwatchError, ValueError):
    """A sweep whose frequencies are not its sensor's descriptor axis (module doc)."""


class EventTimeWarning(UserWarning):
    """Sweeps that would share an event time were given distinct ones (:func:`event_times`)."""


def event_times(
    sweeps: Sequence[ImpedanceSweep], fallback: datetime, used: set[datetime] | None = None
) -> list[datetime]:
    """One distinct event time per sweep of a file, so that no estimate overwrites another.

    The store keys estimates by run, model, quantities and event time (rewrites are
    idempotent), so two sweeps at one time would keep one fit. A sweep's time is its start from
    the file, else ``fallback`` (the file's modification time); a sweep whose time is already
    taken (by an earlier sweep of the file, or in ``used``, the times already given on this
    sensor, updated here) moves :data:`EVENT_TIME_STEP` later until free, with an
    :class:`EventTimeWarning` naming the file.

    >>> from datetime import timezone
    >>> from synthwatch.collectors.impedance.sweep import make_sweep
    >>> s = [make_sweep("loop.mpt", [1.0, 2.0, 3.0], [1.0] * 3, [0.0] * 3, fmt="csv")] * 3
    >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     [x.microsecond for x in event_times(s, t)], len(w)
    ([0, 1000, 2000], 1)
    """
    taken = used if used is not None else set()
    out: list[datetime] = []
    moved = 0
    for sweep in sweeps:
        t = sweep.started_at or fallback
        if t in taken:
            moved += 1
            while t in taken:
                t = t + EVENT_TIME_STEP
        taken.add(t)
        out.append(t)
    if moved:
        source = sweeps[0].source if sweeps else "?"
        warnings.warn(
            EventTimeWarning(
                f"{source}: {moved} of {len(sweeps)} sweeps shared an event time with an "
                f"earlier sweep of this sensor; moved {EVENT_TIME_STEP.total_seconds() * 1e3:g} "
                "ms apart so that every fit is kept"
            ),
            stacklevel=2,
        )
    return out


def descriptor_for(
    sweep: ImpedanceSweep,
    *,
    run_id: str,
    sensor_id: str,
    t: datetime,
    cell_constant_per_cm: float | None = None,
    expected_interval_s: float | None = None,
) -> Descriptor:
    """The Descriptor of an impedance sensor whose axis is this sweep's frequencies."""
    return Descriptor(
        run_id=run_id,
        t=t,
        sensor_id=sensor_id,
        kind="impedance",
        axis=[float(f) for f in sweep.frequencies_hz],
        axis_units="Hz",
        value_units="ohm",
        cell_constant_per_cm=cell_constant_per_cm,
        expected_interval_s=expected_interval_s,
    )


def axis_matches(sweep: ImpedanceSweep, descriptor: Descriptor, rtol: float = 1e-6) -> str | None:
    """``None`` when the sweep is on the descriptor's axis, else why not (a sentence)."""
    axis = np.asarray(descriptor.axis, dtype=float)
    f = sweep.frequencies_hz
    if f.size != axis.size:
        return (
            f"sensor {descriptor.sensor_id!r} sweeps {f.size} frequencies "
            f"({f[0]:g}..{f[-1]:g} Hz) where the descriptor has {axis.size} "
            f"({axis[0]:g}..{axis[-1]:g} Hz)"
        )
    off = np.flatnonzero(~np.isclose(f, axis, rtol=rtol, atol=0.0))
    if off.size:
        i = int(off[0])
        return (
            f"sensor {descriptor.sensor_id!r} sweeps {f.size} frequencies, point {i + 1} is "
            f"{f[i]:g} Hz where the descriptor has {axis[i]:g} Hz (rtol {rtol:g})"
        )
    return None


def reading_for(
    sweep: ImpedanceSweep,
    descriptor: Descriptor,
    *,
    seq: int,
    t: datetime,
    flags: Sequence[str] = (),
    rtol: float = 1e-6,
) -> Reading:
    """The Reading of one sweep on ``descriptor``'s axis; :class:`AxisMismatchError` if off it."""
    why = axis_matches(sweep, descriptor, rtol)
    if why is not None:
        raise AxisMismatchError(f"{sweep.source}: {why}: a sensor keeps one frequency axis per run")
    return Reading(
        run_id=descriptor.run_id,
        t=t,
        sensor_id=descriptor.sensor_id,
        seq=seq,
        values=[float(v) for v in sweep.z_real_ohm],
        values_imag=[float(v) for v in sweep.z_imag_ohm],
        flags=list(dict.fromkeys([*sweep.flags, *flags])),
    )
