"""Checkpoints: a run's whole worker state with the input offsets it covers.

A checkpoint is the latest record of its run (key ``run_id``) in the compacted topic
``synthwatch.checkpoints``; the key puts it on the same partition number as the run's input, so a
worker assigned partition ``p`` reads partition ``p`` of the checkpoints topic and nothing else.
It holds the run's :class:`~synthwatch.stream.runtime.worker.RunState` (models, reorder buffers,
counters) and, per input topic, the first offset of the run's partition that the state has NOT
seen: a worker that restores it skips the run's records below those offsets and handles the rest,
so the run continues as if one worker had seen everything. ``state=None`` marks a run that is
over (its records are skipped; nothing is restored). A tombstone (no value) forgets the run.

The state is pickled (the models' own pickling, which tests/models/test_protocol.py checks) and
compressed with zlib behind a magic prefix and version; a header (:data:`OFFSETS_HEADER`) repeats
the offsets, so that a reader can tell which of two checkpoints of a run covers more input
without unpickling them. Numpy arrays of 16 kB and more (the size-distribution kernels,
mostly: 3 MB of a UV-Vis run's 3.1 MB), and read-only arrays of 512 bytes and more (tables the
models share between runs), are written once, as records ``blob:<sha256>`` on the same
partition, and referred to by digest, so a checkpoint of a UV-Vis run is about 55 kB instead of
3 MB. A writer that keeps a :class:`BlobCache` hashes a read-only array once and does not
serialize again an array already on the broker: a UV-Vis run's checkpoint then takes about 5 ms
instead of 90 ms. Unpickling runs code chosen by whoever can write the topic: give only the
workers write access to ``synthwatch.checkpoints`` (Kafka ACLs), as to the other topics.

>>> from synthwatch.stream.runtime.worker import RunState
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

import hashlib
import io
import pickle
import zlib
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from synthwatch.contract.errors import FAILURE, SynthwatchError
from synthwatch.stream.runtime.worker import RunState

MAGIC = b"SWCP\x01"
#: Key prefix of the array records that checkpoints refer to (see :func:`encode_checkpoint`).
BLOB_PREFIX = "blob:"
#: Arrays at least this large go to their own, content-addressed records.
BLOB_MIN_BYTES = 16 * 1024
#: Read-only arrays (the tables models share between runs) from this size on, too: written once
#: per partition, hashed once per process, they are not pickled again at every checkpoint.
READONLY_BLOB_MIN_BYTES = 512


class CheckpointError(SynthwatchError, ValueError):
    """A checkpoint record that cannot be restored; the message says where and why."""

    exit_code = FAILURE


@dataclass
class Checkpoint:
    """A run's state and the input it covers (see the module docstring)."""

    run_id: str
    partition: int
    #: input topic → first offset, on the run's partition, that ``state`` has not seen
    offsets: dict[str, int]
    #: the run's worker state; None once the run is over
    state: RunState | None
    #: the consumer-group generation of the member that wrote it (-1: unknown), for the logs:
    #: a member evicted from the group may still write a late checkpoint (see KafkaWorker)
    generation: int = -1

    def newer_than(self, other: Checkpoint) -> bool:
        """Whether this checkpoint's state has seen more of the run's input than ``other``'s."""
        return sum(self.offsets.values()) > sum(other.offsets.values())


#: Header of a checkpoint record: the input offsets it covers, ``topic=offset`` joined by ``,``.
OFFSETS_HEADER = "offsets"


def offsets_header(offsets: Mapping[str, int]) -> bytes:
    """The value of a checkpoint record's :data:`OFFSETS_HEADER` for ``offsets``."""
    return ",".join(f"{t}={o}" for t, o in sorted(offsets.items())).encode()


def covered_by(headers) -> int | None:
    """How much input a checkpoint record covers (the sum of its offsets); None: unknown."""
    for name, value in headers or ():
        if name == OFFSETS_HEADER:
            try:
                return sum(int(pair.rsplit(b"=", 1)[1]) for pair in value.split(b",") if pair)
            except (IndexError, ValueError):
                return None
    return None


class BlobCache:
    """What a writer of checkpoints remembers between two checkpoints, so that they stay cheap.

    ``digests``: the digest of each read-only array hashed so far (a read-only array does not
    change; the array is held so that its id is not reused). ``written``: the digests whose
    array records are on the broker already, which are neither serialized nor compressed again.
    """

    MAX_DIGESTS = 4096

    def __init__(self) -> None:
        self.digests: dict[int, tuple[np.ndarray, str]] = {}
        self.written: set[str] = set()

    def digest(self, obj: np.ndarray) -> str:
        frozen = _frozen(obj)
        if frozen:
            hit = self.digests.get(id(obj))
            if hit is not None and hit[0] is obj:
                return hit[1]
        digest = _digest(obj)
        if frozen:
            if len(self.digests) >= self.MAX_DIGESTS:
                self.digests.clear()
            self.digests[id(obj)] = (obj, digest)
        return digest


def _frozen(obj: np.ndarray) -> bool:
    """Read-only, and so is the memory it views (a read-only view of a writeable array is not)."""
    if obj.flags.writeable:
        return False
    base = obj.base
    while isinstance(base, np.ndarray):
        if base.flags.writeable:
            return False
        base = base.base
    return not isinstance(base, (bytearray, memoryview))


def _digest(obj: np.ndarray) -> str:
    data = np.ascontiguousarray(obj)
    h = hashlib.sha256(f"{data.dtype.str}{data.shape}".encode())
    h.update(memoryview(data).cast("B"))
    return h.hexdigest()[:40]


class _Pickler(pickle.Pickler):
    """Pickles large numpy arrays by reference to their content (a sha256 digest)."""

    def __init__(self, file, blobs: dict[str, bytes], cache: BlobCache | None = None):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.blobs = blobs
        self.cache = cache

    def persistent_id(self, obj):
        if type(obj) is not np.ndarray or obj.dtype.hasobject:
            return None
        if obj.nbytes < (BLOB_MIN_BYTES if obj.flags.writeable else READONLY_BLOB_MIN_BYTES):
            return None
        cache = self.cache
        digest = _digest(obj) if cache is None else cache.digest(obj)
        if digest not in self.blobs and (cache is None or digest not in cache.written):
            data = np.ascontiguousarray(obj)
            buf = io.BytesIO()
            np.save(buf, data, allow_pickle=False)
            self.blobs[digest] = zlib.compress(buf.getvalue(), 1)
        # the object's id keeps two references to one array as one array after the restore
        return ("ndarray", digest, bool(obj.flags.writeable), id(obj))


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, blobs: Mapping[str, bytes], shared: dict, where: str):
        super().__init__(file)
        self.blobs, self.shared, self.where = blobs, shared, where
        self._local: dict[tuple[str, int], np.ndarray] = {}

    def persistent_load(self, pid):
        kind, digest, writeable, obj_id = pid
        if kind != "ndarray":
            raise CheckpointError(f"{self.where}: unknown reference {kind!r}")
        if (digest, obj_id) in self._local:
            return self._local[(digest, obj_id)]
        if digest not in self.shared:
            raw = self.blobs.get(digest)
            if raw is None:
                raise CheckpointError(
                    f"{self.where}: array {BLOB_PREFIX}{digest} not found on the checkpoint's "
                    "partition"
                )
            arr = np.load(io.BytesIO(zlib.decompress(raw)), allow_pickle=False)
            arr.flags.writeable = False
            self.shared[digest] = arr  # read-only arrays are shared by every restored run
        arr = self.shared[digest]
        if writeable:
            arr = arr.copy()
        self._local[(digest, obj_id)] = arr
        return arr


def encode_checkpoint(
    cp: Checkpoint, blobs: dict[str, bytes] | None = None, cache: BlobCache | None = None
) -> bytes:
    """The checkpoint record; large arrays go to ``blobs`` (digest → record) instead.

    Without ``blobs`` everything is in the one record. With a ``cache``, arrays whose digest is
    in ``cache.written`` are referred to but not added to ``blobs``.
    """
    buf = io.BytesIO()
    if blobs is None:
        pickle.dump(cp, buf, protocol=pickle.HIGHEST_PROTOCOL)
    else:
        _Pickler(buf, blobs, cache).dump(cp)
    return MAGIC + zlib.compress(buf.getvalue(), 1)


def decode_checkpoint(
    raw: bytes,
    where: str,
    blobs: Mapping[str, bytes] | None = None,
    shared: dict | None = None,
) -> Checkpoint:
    """The checkpoint in ``raw``; ``where`` (topic, partition, offset) goes into errors.

    ``blobs`` are the array records it refers to; ``shared`` caches the read-only arrays
    restored so far (pass the same dict for every checkpoint of a restore).
    """
    if not raw.startswith(MAGIC):
        raise CheckpointError(
            f"{where}: not a synthwatch checkpoint (expected the prefix {MAGIC!r}, "
            f"got {bytes(raw[: len(MAGIC)])!r})"
        )
    try:
        data = zlib.decompress(raw[len(MAGIC) :])
        cp = _Unpickler(io.BytesIO(data), blobs or {}, {} if shared is None else shared, where)
        cp = cp.load()
    except CheckpointError:
        raise
    except Exception as err:  # noqa: BLE001 - any unpickling failure means the same thing
        raise CheckpointError(
            f"{where}: checkpoint cannot be restored ({type(err).__name__}: {err}); "
            "was it written by another synthwatch version?"
        ) from None
    if not isinstance(cp, Checkpoint):
        raise CheckpointError(f"{where}: expected a Checkpoint, got {type(cp).__name__}")
    return cp
