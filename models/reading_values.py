"""A reading's values as a numpy array, converted once for all the models that see it.

The worker hands the same :class:`~synthwatch.stream.contract.Reading` object to every model of
its sensor (the UV-Vis features, the co-adding wrappers of the lognormal PSD and the shape
check, the NNLS) and to the store, and each used to turn its 601-value list into an array of its
own. :func:`reading_values` converts it once and hands the others the same array, read-only so
no model can change what the next one sees. The array is ``np.asarray(values, dtype=float)``,
the conversion each model made, so the numbers are bit for bit those of before.

The array lives on the reading (its :class:`~synthwatch.stream.contract.ValuesSlot`, not part
of the message) and goes with it: nothing is kept after the reading is dropped. The store,
which reads a recorded reading back from a float64 blob, hands the reading that blob's array
(:func:`share_values`), so a replay converts no list at all. A reading's values are never
changed in place once it is made (messages are frozen; their lists are treated as such
everywhere).

>>> from datetime import datetime, timezone
>>> r = Reading(run_id="r", t=datetime(2026, 1, 1, tzinfo=timezone.utc), sensor_id="uv1",
...             seq=0, values=[0.5, 0.25])
>>> a = reading_values(r)
>>> a.tolist(), a is reading_values(r), a.flags.writeable
([0.5, 0.25], True, False)
"""

from __future__ import annotations

import numpy as np

from synthwatch.stream.contract import Reading

__all__ = ["reading_values", "share_values"]


def reading_values(reading: Reading) -> np.ndarray:
    """``reading.values`` as a read-only float64 array (NaN for missing points), shared."""
    slot = reading._values_slot
    values = reading.values
    entry = slot.entry  # one read: another thread may replace it meanwhile
    if entry is not None and entry[0] is values:
        return entry[1]
    array = np.asarray(values, dtype=float)
    array.setflags(write=False)
    slot.entry = (values, array)
    return array


def share_values(reading: Reading, array: np.ndarray) -> None:
    """Give ``reading`` the array its values were made from (the store's blob, read back).

    ``array`` must hold exactly ``reading.values`` (NaN where it has NaN); it is kept as a
    read-only float64 array and :func:`reading_values` returns it without converting the list.
    """
    array = array.astype(float, copy=False)
    if array.flags.writeable:
        array = array.view()
        array.setflags(write=False)
    reading._values_slot.entry = (reading.values, array)
