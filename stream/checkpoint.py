"""Checkpoints: a run's whole worker state with the input offsets it covers.

A checkpoint is the latest record of its run (key ``run_id``) in the compacted topic
``synthwatch.checkpoints``; the key puts it on the same partition number as the run's input, so a
worker assigned partition ``p`` reads partition ``p`` of the checkpoints topic and nothing else.
It holds the run's :class:`~synthwatch.stream.worker.RunState` (models, reorder buffers,
counters) and, per input topic, the first offset of the run's partition that the state has NOT
seen: a worker that restores it skips the run's records below those offsets and handles the rest,
so the run continues as if one worker had seen everything. ``state=None`` marks a run that is
over (its records are skipped; nothing is restored). A tombstone (no value) forgets the run.

The state is pickled (the models' own pickling, which tests/models/test_protocol.py checks) and
compressed with zlib behind a magic prefix and version. Unpickling runs code chosen by whoever
can write the topic: give only the workers write access to ``synthwatch.checkpoints`` (Kafka
ACLs), as to the other topics.

>>> from synthwatch.stream.worker import RunState
>>> raw = encode_checkpoint(Checkpoint("r1", 2, {"synthwatch.runs": 5}, RunState("r1")))
>>> cp = decode_checkpoint(raw, "here")
>>> (cp.run_id, cp.partition, cp.offsets, cp.state.run_id)
('r1', 2, {'synthwatch.runs': 5}, 'r1')
>>> try:
...     decode_checkpoint(b"junk", "synthwatch.checkpoints[0]@7")
... except CheckpointError as err:
...     print(str(err).split(" (")[0])
synthwatch.checkpoints[0]@7: not a synthwatch checkpoint
"""

from __future__ import annotations

import pickle
import zlib
from dataclasses import dataclass

from synthwatch.stream.worker import RunState

MAGIC = b"SWCP\x01"


class CheckpointError(ValueError):
    """A checkpoint record that cannot be restored; the message says where and why."""


@dataclass
class Checkpoint:
    """A run's state and the input it covers (see the module docstring)."""

    run_id: str
    partition: int
    #: input topic → first offset, on the run's partition, that ``state`` has not seen
    offsets: dict[str, int]
    #: the run's worker state; None once the run is over
    state: RunState | None


def encode_checkpoint(cp: Checkpoint) -> bytes:
    return MAGIC + zlib.compress(pickle.dumps(cp, protocol=pickle.HIGHEST_PROTOCOL), 1)


def decode_checkpoint(raw: bytes, where: str) -> Checkpoint:
    """The checkpoint in ``raw``; ``where`` (topic, partition, offset) goes into errors."""
    if not raw.startswith(MAGIC):
        raise CheckpointError(
            f"{where}: not a synthwatch checkpoint (expected the prefix {MAGIC!r}, "
            f"got {bytes(raw[: len(MAGIC)])!r})"
        )
    try:
        cp = pickle.loads(zlib.decompress(raw[len(MAGIC) :]))
    except Exception as err:  # noqa: BLE001 - any unpickling failure means the same thing
        raise CheckpointError(
            f"{where}: checkpoint cannot be restored ({type(err).__name__}: {err}); "
            "was it written by another synthwatch version?"
        ) from None
    if not isinstance(cp, Checkpoint):
        raise CheckpointError(f"{where}: expected a Checkpoint, got {type(cp).__name__}")
    return cp
