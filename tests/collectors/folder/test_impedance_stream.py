"""A watched folder as one run's messages, stored end to end in the embedded store."""

from __future__ import annotations

import os
from datetime import datetime, timezone

import numpy as np

from conftest import ROOT
from synthwatch.collectors.folder.impedance import Rejected, SweepStream
from synthwatch.collectors.folder.watch import FolderWatcher
from synthwatch.collectors.impedance.sweep import make_sweep
from synthwatch.collectors.impedance.write import write_sweep
from synthwatch.contract.messages import Descriptor, Reading, RunStart
from synthwatch.stream.store.embedded import Store

DATA = ROOT / "tests" / "data" / "impedance"
T0 = datetime(2026, 3, 14, 8, 0, tzinfo=timezone.utc)


def test_folder_to_store_with_a_corrupt_file_and_an_off_axis_sweep(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    f = np.logspace(0, 5, 11)
    for i in range(3):
        s = make_sweep("s", f, 100.0 + i + 0 * f, -10.0 + 0 * f, fmt="memory")
        write_sweep(s, folder / f"sweep_{i}.z", "zplot", started_at=datetime(2026, 3, 14, 9, i))
        os.utime(folder / f"sweep_{i}.z", (1000 + 10 * i, 1000 + 10 * i))
    (folder / "sweep_1b.DTA").write_bytes((DATA / "bad_truncated.DTA").read_bytes())
    os.utime(folder / "sweep_1b.DTA", (1015, 1015))
    write_sweep(make_sweep("o", f * 2, 0 * f + 1, 0 * f, fmt="memory"), folder / "other.csv", "csv")
    os.utime(folder / "other.csv", (1100, 1100))

    watcher = FolderWatcher(folder, settle_s=0.0, tz=timezone.utc)
    stream = SweepStream(run_id="stober-1", sensor_id="eis1", cell_constant_per_cm=0.9)
    store = Store(tmp_path / "store.sqlite")
    store.setup()
    store.add(RunStart(run_id="stober-1", t=T0, reactor="R1", system="SiO2-Stober"))
    kinds = []
    for event in watcher.poll():
        for msg in stream.messages_for(event):
            kinds.append(type(msg).__name__)
            if isinstance(msg, Rejected):
                store.add_deadletter(msg.raw, msg.reason, msg.source)
            else:
                store.add(msg)
        watcher.ack(event)
    store.flush()
    assert kinds == ["Descriptor", "Reading", "Reading", "Rejected", "Reading", "Rejected"]
    [d] = store.descriptors("stober-1")
    assert isinstance(d, Descriptor) and d.cell_constant_per_cm == 0.9
    readings = list(store.readings("stober-1"))
    assert [r.seq for r in readings] == [0, 1, 2]
    assert all(isinstance(r, Reading) for r in readings)
    assert [r.values[0] for r in readings] == [100.0, 101.0, 102.0]
    assert readings[1].t == datetime(2026, 3, 14, 9, 1, tzinfo=timezone.utc)
    dead = store.deadletters()
    assert [x.source.rsplit("/", 1)[-1] for x in dead] == ["sweep_1b.DTA", "other.csv"]
    assert "line 21" in dead[0].reason and "sensor 'eis1' sweeps 11 frequencies" in dead[1].reason
    store.close()
