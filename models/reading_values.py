"""A reading's values as a numpy array, converted once for all the models that see it.

The worker hands the same :class:`~synthwatch.contract.messages.Reading` object to every model of
its sensor (the UV-Vis features, the co-adding wrappers of the lognormal PSD and the shape
check, the NNLS) and to the store, and each used to turn its 601-value list into an array of its
own. :func:`reading_values` converts it once and hands the others the same array, read-only so
no model can change what the next one sees. The array is ``np.asarray(values, dtype=float)``,
the conversion each model made, so the numbers are bit for bit those of before.

Only the most recent reading is remembered (by identity, holding a reference to it so its id
cannot be reused): no state grows, and a replay gives identical estimates. A reading's values
are never changed in place once it is made (messages are frozen; their lists are treated as
such everywhere).

>>> from datetime import datetime, timezone
>>> r = Reading(run_id="r", t=datetime(2026, 1, 1, tzinfo=timezone.utc), sensor_id="uv1",
...             seq=0, values=[0.5, 0.25])
>>> a = reading_values(r)
>>> a.tolist(), a is reading_values(r), a.flags.writeable
([0.5, 0.25], True, False)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np

from synthwatch.contract.messages import Reading

__all__ = ["reading_values", "frame_result"]

R = TypeVar("R")

_last: tuple[Reading, np.ndarray] | None = None


def reading_values(reading: Reading) -> np.ndarray:
    """``reading.values`` as a read-only float64 array (NaN for missing points), shared."""
    global _last
    last = _last  # one read: another thread may replace it meanwhile
    if last is not None and last[0] is reading:
        return last[1]
    values = np.asarray(reading.values, dtype=float)
    values.setflags(write=False)
    _last = (reading, values)
    return values


def frame_result(
    message: Reading,
    sensor_id: str,
    n_values: int,
    run: Callable[[np.ndarray], R],
    failed: Callable[[list[str]], R],
) -> R:
    """What a per-spectrum model makes of one reading, never raising on a bad frame.

    ``run(values)`` (:func:`reading_values`, NumPy's floating-point warnings silenced) for a
    reading of ``sensor_id`` with ``n_values`` values; else ``failed([flag])``, the flag
    ``sensor_mismatch``, ``shape_mismatch``, or ``model_error`` when ``run`` raised (a numerical
    failure is caught so that the pipeline goes on).

    >>> from datetime import datetime, timezone
    >>> r = Reading(run_id="r", t=datetime(2026, 1, 1, tzinfo=timezone.utc), sensor_id="uv1",
    ...             seq=0, values=[0.5, 0.25])
    >>> frame_result(r, "uv1", 2, lambda v: float(v.sum()), tuple)
    0.75
    >>> frame_result(r, "uv1", 3, len, tuple), frame_result(r, "uv1", 2, lambda v: 1 / 0, tuple)
    (('shape_mismatch',), ('model_error',))
    """
    if message.sensor_id != sensor_id:
        return failed(["sensor_mismatch"])
    if len(message.values) != n_values:
        return failed(["shape_mismatch"])
    try:
        with np.errstate(all="ignore"):
            return run(reading_values(message))
    except Exception:  # noqa: BLE001 - a frame must never stop the pipeline
        return failed(["model_error"])
