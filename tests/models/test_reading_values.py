"""A reading's values as one shared, read-only array (models/reading_values.py)."""

from __future__ import annotations

import copy
import math
import pickle
from datetime import datetime, timezone

import numpy as np
import pytest

from synthwatch.models.reading_values import reading_values, share_values
from synthwatch.stream.contract import Reading
from synthwatch.stream.store import Store

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _reading(values, seq=0) -> Reading:
    return Reading(run_id="r", t=T0, sensor_id="uv1", seq=seq, values=values)


def test_converted_once_read_only_and_nan_for_null():
    r = _reading([0.5, None, 0.25])
    a = reading_values(r)
    assert a is reading_values(r)
    assert not a.flags.writeable
    assert a.dtype == np.float64 and math.isnan(a[1]) and a[[0, 2]].tolist() == [0.5, 0.25]
    with pytest.raises(ValueError):
        a[0] = 1.0


def test_a_copy_with_other_values_never_gets_the_old_array():
    r = _reading([0.5, 0.25])
    a = reading_values(r)
    same = r.model_copy(update={"seq": 1})  # shares the slot and the values list: shares the array
    assert reading_values(same) is a
    other = r.model_copy(update={"values": [1.0, 2.0]})  # shares the slot, not the list
    assert reading_values(other).tolist() == [1.0, 2.0]
    assert reading_values(r).tolist() == [0.5, 0.25]


def test_the_slot_is_not_part_of_the_message():
    r = _reading([0.5, 0.25])
    fresh = _reading([0.5, 0.25])
    reading_values(r)
    assert r == fresh and fresh == r
    back = pickle.loads(pickle.dumps(r))
    assert back == r and back._values_slot.entry is None
    assert copy.deepcopy(r) == r
    assert "_values_slot" not in r.model_dump() and "slot" not in r.model_dump_json()


def test_the_store_hands_back_the_blobs_array(tmp_path):
    written = [_reading([0.1 * i, math.nan, 2.0], seq=i) for i in range(3)]
    with Store(tmp_path / "s.sqlite") as store:
        for r in written:
            store.add(r)
        store.flush()
        back = list(store.readings("r", "uv1"))
    assert back == written
    for w, b in zip(written, back):
        shared = b._values_slot.entry
        assert shared is not None and shared[0] is b.values  # set by the store, not converted
        np.testing.assert_array_equal(reading_values(b), reading_values(w))
        assert not reading_values(b).flags.writeable


def test_share_values_makes_a_writeable_array_read_only():
    r = _reading([1.0, 2.0])
    mine = np.array([1.0, 2.0])
    share_values(r, mine)
    assert reading_values(r).tolist() == [1.0, 2.0] and not reading_values(r).flags.writeable
    assert mine.flags.writeable  # the caller's array is left alone
