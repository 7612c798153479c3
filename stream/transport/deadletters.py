"""The value of a record on the dead-letter topic, written by workers and folder collectors.

One JSON object: ``reason``, ``original`` (the refused bytes, undecodable ones escaped) and, for a
collector's refused file, ``source`` (the file's path on the collector's host). A worker's own
records have no ``source``: its sinks already hold them. The worker that owns a run stores the
collector's records of that run (stream/runtime/kafka_runs.py) under the file's name.

>>> value = encode_deadletter(b"1,2,x", "line 1: expected a number", source="/data/run/a.csv")
>>> decode_collector_deadletter(value)
(b'1,2,x', 'line 1: expected a number', 'a.csv')
>>> decode_collector_deadletter(encode_deadletter(b"{}", "unknown schema")) is None
True
"""

from __future__ import annotations

import json

__all__ = ["encode_deadletter", "decode_collector_deadletter"]


def encode_deadletter(raw: bytes, reason: str, source: str | None = None) -> bytes:
    """The dead-letter topic's value for ``raw`` refused with ``reason`` (module doc)."""
    doc = {"reason": reason, "original": raw.decode("utf-8", errors="backslashreplace")}
    if source is not None:
        doc["source"] = source
    return json.dumps(doc).encode()


def decode_collector_deadletter(value: object) -> tuple[bytes, str, str] | None:
    """A collector's dead-letter record as (original bytes, reason, file name); None for a
    worker's own (no ``source``) or anything that is not such a record."""
    if not isinstance(value, (bytes, bytearray, str)):
        return None
    try:
        doc = json.loads(value)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    reason, original, source = doc.get("reason"), doc.get("original"), doc.get("source")
    if not (isinstance(reason, str) and isinstance(original, str) and isinstance(source, str)):
        return None
    name = source.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or source
    return original.encode("utf-8", errors="backslashreplace"), reason, name
