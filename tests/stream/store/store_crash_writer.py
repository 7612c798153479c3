"""Child process of the store crash test (tests/stream/test_store.py): write readings forever.

Usage: python store_crash_writer.py STORE_PATH RUN_ID LOG_PATH

Adds Reading(seq=0, 1, 2, ...) of a 601-point spectrum to the store as fast as a lab would never
need (with a tiny pause so the disk is not flooded), and after each ``add`` returns appends
``"<seq> <wall time>\\n"`` to LOG_PATH, flushed per line. Never flushes the store itself: only the
store's own commit policy decides what survives the parent's SIGKILL.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta, timezone

from synthwatch.contract.messages import Descriptor, Reading, RunStart
from synthwatch.stream.store.embedded import Store

N_POINTS = 601


def spectrum(seq: int) -> list[float]:
    """Values that tell readings apart (and carry non-round floats)."""
    return [seq + i / 7.0 for i in range(N_POINTS)]


def main() -> None:
    path, run_id, log_path = sys.argv[1:4]
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    store = Store(path)
    store.setup()
    store.add(RunStart(run_id=run_id, t=t0, reactor="R1", system="Au-citrate"))
    store.add(
        Descriptor(
            run_id=run_id,
            t=t0,
            sensor_id="uv1",
            kind="uvvis",
            axis=[300.0 + i for i in range(N_POINTS)],
            axis_units="nm",
            value_units="AU",
            path_length_cm=1.0,
        )
    )
    store.flush()
    with open(log_path, "w", buffering=1) as log:
        log.write("ready\n")
        seq = 0
        while True:
            reading = Reading(
                run_id=run_id,
                t=t0 + timedelta(seconds=seq),
                sensor_id="uv1",
                seq=seq,
                values=spectrum(seq),
            )
            store.add(reading)
            log.write(f"{seq} {time.time():.6f}\n")
            seq += 1
            time.sleep(0.0005)


if __name__ == "__main__":
    main()
