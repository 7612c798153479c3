"""Thinned reads of a run for reports and comparisons: at most N estimates or readings, evenly
spread in time, without decoding the rest.

A 24-hour run at 1 Hz holds 86,400 spectra and as many estimates per model; decoding them all
(``Store.estimates``) takes gigabytes. These queries first read the row ids and times only (an
index scan), pick at most ``most`` rows evenly spread (first and last included), and decode
those alone, with the store's own row codecs.
"""

from __future__ import annotations

import numpy as np

from synthwatch.contract.messages import Estimate, Reading
from synthwatch.stream.store.embedded import Store
from synthwatch.stream.store.rows import (
    ESTIMATE_COLUMNS,
    READING_COLUMNS,
    estimate_from_row,
    reading_from_row,
)

__all__ = ["pick", "thinned_estimates", "thinned_readings"]

_CHUNK = 500  # row ids per IN (...) query (SQLite allows 32766 parameters)


def pick(n: int, most: int) -> np.ndarray:
    """Indices of at most ``most`` of ``n`` items, evenly spread, first and last included."""
    if n <= most:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, most).round().astype(int))


def _by_rowid(store: Store, table: str, columns: str, rowids: list[int]) -> list[tuple]:
    out: list[tuple] = []
    for k in range(0, len(rowids), _CHUNK):
        part = rowids[k : k + _CHUNK]
        marks = ",".join("?" * len(part))
        rows = store.query(f"SELECT rowid, {columns} FROM {table} WHERE rowid IN ({marks})", part)
        order = {r: i for i, r in enumerate(part)}
        out += [row[1:] for row in sorted(rows, key=lambda row: order[row[0]])]
    return out


def thinned_estimates(
    store: Store, run_id: str, model: str, most: int, *, with_distribution: bool = False
) -> list[Estimate]:
    """At most ``most`` of the run's estimates of ``model`` (with a distribution, if asked),
    evenly spread in event-time order."""
    sql = "SELECT rowid FROM estimates WHERE run_id = ? AND model = ?"
    if with_distribution:
        sql += " AND distribution IS NOT NULL"
    ids = [r for (r,) in store.query(sql + " ORDER BY t, qkey", (run_id, model))]
    chosen = [ids[i] for i in pick(len(ids), most)]
    rows = _by_rowid(store, "estimates", ESTIMATE_COLUMNS, chosen)
    return [estimate_from_row(r) for r in rows]


def thinned_readings(
    store: Store, run_id: str, sensor_id: str, most: int
) -> tuple[int, list[Reading]]:
    """(how many readings the sensor has, at most ``most`` of them evenly spread by seq)."""
    ids = [
        r
        for (r,) in store.query(
            "SELECT rowid FROM readings WHERE run_id = ? AND sensor_id = ? ORDER BY seq",
            (run_id, sensor_id),
        )
    ]
    chosen = [ids[i] for i in pick(len(ids), most)]
    rows = _by_rowid(store, "readings", READING_COLUMNS, chosen)
    return len(ids), [reading_from_row(r) for r in rows]
