"""The store's table layout and the row <-> message codecs (used by :mod:`.embedded`,
:mod:`.query` and :mod:`.thinned`).

The SQL schema, the upsert statements the writer runs (``WRITES``: message type -> statement and
its parameters), the errors a store raises, and the helpers that turn contract messages into
column values and back (:func:`reading_from_row` and :func:`estimate_from_row` decode the rows
every reader selects): times as integer microseconds since the epoch (UTC), reading arrays as
little-endian float64 blobs, everything else as Python's JSON (NaN/Infinity survive). See
:mod:`synthwatch.stream.store.embedded` for why and how.

>>> from datetime import datetime, timezone
>>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> from_us(to_us(t)) == t, _unblob(_blob([0.5, float("nan")]))
(True, [0.5, nan])
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import TypeAdapter

from synthwatch.contract.errors import SynthwatchError
from synthwatch.contract.messages import (
    Alert,
    Descriptor,
    Estimate,
    Label,
    Message,
    Quantity,
    Reading,
    RunStart,
    RunStop,
)
from synthwatch.models.reading_values import reading_values

__all__ = [
    "SCHEMA_VERSION",
    "APPLICATION_ID",
    "SCHEMA",
    "WRITES",
    "REGISTER_RUN",
    "INSERT_DEADLETTER",
    "READING_COLUMNS",
    "ESTIMATE_COLUMNS",
    "StoreError",
    "SchemaVersionError",
    "UnknownRunError",
    "to_us",
    "from_us",
    "reading_from_row",
    "estimate_from_row",
]

#: Version of the table layout written by this synthwatch (``PRAGMA user_version``).
SCHEMA_VERSION = 1
#: ``PRAGMA application_id`` of a synthwatch store: b"SWST".
APPLICATION_ID = 0x53575354

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id    TEXT PRIMARY KEY,
    reactor   TEXT,
    system    TEXT,
    recipe    TEXT,              -- JSON object
    operator  TEXT,
    tags      TEXT,              -- JSON object
    t_start   INTEGER,           -- us since epoch, UTC (RunStart.t)
    t_stop    INTEGER,           -- us since epoch, UTC (RunStop.t)
    status    TEXT NOT NULL,     -- unknown | running | success | aborted | failed
    reason    TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS descriptors (
    run_id    TEXT NOT NULL,
    sensor_id TEXT NOT NULL,
    kind      TEXT NOT NULL,
    t         INTEGER NOT NULL,
    msg       TEXT NOT NULL,     -- the Descriptor, JSON
    PRIMARY KEY (run_id, sensor_id)
);
CREATE TABLE IF NOT EXISTS readings (
    run_id    TEXT NOT NULL,
    sensor_id TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    t         INTEGER NOT NULL,
    vals      BLOB NOT NULL,     -- float64 little-endian
    imag      BLOB,
    counts    BLOB,
    dark      BLOB,
    reference BLOB,
    flags     TEXT,              -- JSON list, NULL when empty
    UNIQUE (run_id, sensor_id, seq)
);
CREATE TABLE IF NOT EXISTS labels (
    run_id    TEXT NOT NULL,
    quantity  TEXT NOT NULL,
    method    TEXT NOT NULL,
    sample_t  INTEGER NOT NULL,
    t         INTEGER NOT NULL,
    msg       TEXT NOT NULL,     -- the Label, JSON
    UNIQUE (run_id, quantity, method, sample_t)
);
CREATE TABLE IF NOT EXISTS estimates (
    run_id        TEXT NOT NULL,
    model         TEXT NOT NULL,
    qkey          TEXT NOT NULL,  -- sorted quantity names joined by ','
    t             INTEGER NOT NULL,
    model_version TEXT NOT NULL,
    measurement   TEXT NOT NULL,
    sensor_id     TEXT NOT NULL,
    seq           INTEGER,
    quantities    TEXT NOT NULL,  -- JSON list of {name, value, units, uncertainty}
    flags         TEXT,           -- JSON list, NULL when empty
    distribution  TEXT,           -- JSON Distribution (e.g. the PSD), NULL when none
    UNIQUE (run_id, model, qkey, t)
);
CREATE INDEX IF NOT EXISTS estimates_by_time ON estimates (run_id, t);
CREATE TABLE IF NOT EXISTS alerts (
    run_id     TEXT NOT NULL,
    rule       TEXT NOT NULL,
    sensor_key TEXT NOT NULL,    -- sensor_id, '' when the alert has none
    t          INTEGER NOT NULL,
    state      TEXT NOT NULL,
    severity   TEXT NOT NULL,
    msg        TEXT NOT NULL,    -- the Alert, JSON
    UNIQUE (run_id, rule, sensor_key, t, state)
);
CREATE TABLE IF NOT EXISTS deadletters (
    id      INTEGER PRIMARY KEY,
    raw     BLOB NOT NULL,
    reason  TEXT NOT NULL,
    source  TEXT NOT NULL,
    time    INTEGER NOT NULL,    -- wall time it was stored, us since epoch
    digest  BLOB NOT NULL,       -- sha256 of raw
    UNIQUE (digest, source, reason)
);
"""

_UPSERT_READING = """
INSERT INTO readings (run_id, sensor_id, seq, t, vals, imag, counts, dark, reference, flags)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id, sensor_id, seq) DO UPDATE SET
    t = excluded.t, vals = excluded.vals, imag = excluded.imag, counts = excluded.counts,
    dark = excluded.dark, reference = excluded.reference, flags = excluded.flags
"""
_UPSERT_ESTIMATE = """
INSERT INTO estimates (run_id, model, qkey, t, model_version, measurement, sensor_id, seq,
                       quantities, flags, distribution)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id, model, qkey, t) DO UPDATE SET
    model_version = excluded.model_version, measurement = excluded.measurement,
    sensor_id = excluded.sensor_id, seq = excluded.seq, quantities = excluded.quantities,
    flags = excluded.flags, distribution = excluded.distribution
"""
_UPSERT_ALERT = """
INSERT INTO alerts (run_id, rule, sensor_key, t, state, severity, msg)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id, rule, sensor_key, t, state) DO UPDATE SET
    severity = excluded.severity, msg = excluded.msg
"""
_UPSERT_LABEL = """
INSERT INTO labels (run_id, quantity, method, sample_t, t, msg) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id, quantity, method, sample_t) DO UPDATE SET t = excluded.t, msg = excluded.msg
"""
_UPSERT_DESCRIPTOR = """
INSERT INTO descriptors (run_id, sensor_id, kind, t, msg) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (run_id, sensor_id) DO UPDATE SET kind = excluded.kind, t = excluded.t,
    msg = excluded.msg
"""
_UPSERT_RUN_START = """
INSERT INTO runs (run_id, reactor, system, recipe, operator, tags, t_start, status)
VALUES (?, ?, ?, ?, ?, ?, ?, 'running')
ON CONFLICT (run_id) DO UPDATE SET
    reactor = excluded.reactor, system = excluded.system, recipe = excluded.recipe,
    operator = excluded.operator, tags = excluded.tags, t_start = excluded.t_start,
    status = CASE WHEN runs.t_stop IS NULL THEN 'running' ELSE runs.status END
"""
_UPSERT_RUN_STOP = """
INSERT INTO runs (run_id, t_stop, status, reason) VALUES (?, ?, ?, ?)
ON CONFLICT (run_id) DO UPDATE SET
    t_stop = excluded.t_stop, status = excluded.status, reason = excluded.reason
"""
REGISTER_RUN = "INSERT OR IGNORE INTO runs (run_id, status) VALUES (?, 'unknown')"
INSERT_DEADLETTER = """
INSERT INTO deadletters (raw, reason, source, time, digest) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (digest, source, reason) DO NOTHING
"""
#: The columns :func:`reading_from_row` decodes, in its order.
READING_COLUMNS = "run_id, sensor_id, seq, t, vals, imag, counts, dark, reference, flags"
#: The columns :func:`estimate_from_row` decodes, in its order.
ESTIMATE_COLUMNS = (
    "run_id, model, t, model_version, measurement, sensor_id, seq, quantities, flags, distribution"
)


class StoreError(SynthwatchError):
    """The store file cannot be used (not a database, not a synthwatch store, unwritable...)."""


class SchemaVersionError(StoreError):
    """The store was written by a newer synthwatch (a newer schema) than this one."""


class UnknownRunError(SynthwatchError, KeyError):
    """No run of that id in the store."""

    def __init__(self, run_id: str, path: Path | str | None = None):
        self.run_id = run_id
        where = f" in {path}" if path is not None else ""
        self.message = f"no run {run_id!r}{where}; `synthwatch runs` lists the runs there are"
        super().__init__(self.message)

    def __str__(self) -> str:  # KeyError would show the repr of the message
        return self.message


def to_us(t: datetime) -> int:
    """A time as the store keeps it: integer microseconds since the epoch (UTC)."""
    return (t - _EPOCH) // _US


def from_us(us: int | None) -> datetime | None:
    """The time of a stored column (None stays None)."""
    return None if us is None else _EPOCH + timedelta(microseconds=us)


def _blob(values: Sequence[float] | None) -> bytes | None:
    if values is None:
        return None
    return np.asarray(values, dtype="<f8").tobytes()


def _unblob(blob: bytes | None) -> list[float] | None:
    if blob is None:
        return None
    arr = np.frombuffer(blob, dtype="<f8")
    out = arr.tolist()
    if np.isnan(arr).any():  # the contract's own missing-point marker is math.nan
        out = [math.nan if v != v else v for v in out]
    return out


def _json_default(obj: Any) -> Any:
    if isinstance(obj, datetime):
        return obj.isoformat()
    raise TypeError(f"cannot store {type(obj).__name__} as JSON")  # pragma: no cover


def _dumps(obj: Any) -> str:
    # Python's JSON keeps NaN and +-Infinity (as NaN / Infinity), unlike strict JSON.
    return json.dumps(obj, default=_json_default, separators=(",", ":"))


def _flags(flags: list[str]) -> str | None:
    return _dumps(flags) if flags else None


def _unflags(text: str | None) -> list[str]:
    return json.loads(text) if text else []


# ------------------------------------------------------------------ row -> message (reading)


def reading_from_row(row: tuple) -> Reading:
    """The Reading of a ``readings`` row selected as :data:`READING_COLUMNS`."""
    run_id, sensor_id, seq, t, vals, imag, counts, dark, reference, flags = row
    return Reading(
        run_id=run_id,
        t=from_us(t),
        sensor_id=sensor_id,
        seq=seq,
        values=_unblob(vals),
        values_imag=_unblob(imag),
        counts=_unblob(counts),
        dark=_unblob(dark),
        reference=_unblob(reference),
        flags=_unflags(flags),
    )


def estimate_from_row(row: tuple) -> Estimate:
    """The Estimate of an ``estimates`` row selected as :data:`ESTIMATE_COLUMNS`."""
    run_id, model, t, version, measurement, sensor_id, seq, quantities, flags, dist = row
    return Estimate(
        run_id=run_id,
        model=model,
        t=from_us(t),
        model_version=version,
        measurement=measurement,
        sensor_id=sensor_id,
        seq=seq,
        quantities=json.loads(quantities),
        flags=_unflags(flags),
        distribution=None if dist is None else json.loads(dist),
    )


# ------------------------------------------------------------------ message -> row (writing)


def _reading_row(m: Reading) -> tuple:
    # the values array is converted once and shared with the models the worker feeds next
    return (
        m.run_id,
        m.sensor_id,
        m.seq,
        to_us(m.t),
        reading_values(m).astype("<f8", copy=False).tobytes(),
        _blob(m.values_imag),
        _blob(m.counts),
        _blob(m.dark),
        _blob(m.reference),
        _flags(m.flags),
    )


#: Serialises an estimate's quantities in one call (pydantic-core; 4x faster than json.dumps).
#: A Quantity holds finite numbers or None, so nothing is lost to JSON.
_QUANTITIES = TypeAdapter(list[Quantity])


def _estimate_row(m: Estimate) -> tuple:
    return (
        m.run_id,
        m.model,
        m.identity[2],
        to_us(m.t),
        m.model_version,
        m.measurement,
        m.sensor_id,
        m.seq,
        _QUANTITIES.dump_json(m.quantities).decode(),
        _flags(m.flags),
        None if m.distribution is None else m.distribution.model_dump_json(),
    )


def _alert_row(m: Alert) -> tuple:
    return (
        m.run_id,
        m.rule,
        m.sensor_id or "",
        to_us(m.t),
        m.state,
        m.severity,
        _dumps(m.model_dump(by_alias=True)),
    )


def _label_row(m: Label) -> tuple:
    return (
        m.run_id,
        m.quantity,
        m.method,
        to_us(m.sample_t),
        to_us(m.t),
        _dumps(m.model_dump(by_alias=True)),
    )


def _descriptor_row(m: Descriptor) -> tuple:
    return (m.run_id, m.sensor_id, m.kind, to_us(m.t), _dumps(m.model_dump(by_alias=True)))


def _run_start_row(m: RunStart) -> tuple:
    return (
        m.run_id,
        m.reactor,
        m.system,
        _dumps(m.recipe),
        m.operator,
        _dumps(m.tags),
        to_us(m.t),
    )


def _run_stop_row(m: RunStop) -> tuple:
    return (m.run_id, to_us(m.t), m.status, m.reason)


#: message type -> (upsert statement, the statement's parameters from the message)
WRITES: dict[type[Message], tuple[str, Callable[[Any], tuple]]] = {
    Reading: (_UPSERT_READING, _reading_row),
    Estimate: (_UPSERT_ESTIMATE, _estimate_row),
    Alert: (_UPSERT_ALERT, _alert_row),
    Label: (_UPSERT_LABEL, _label_row),
    Descriptor: (_UPSERT_DESCRIPTOR, _descriptor_row),
    RunStart: (_UPSERT_RUN_START, _run_start_row),
    RunStop: (_UPSERT_RUN_STOP, _run_stop_row),
}
