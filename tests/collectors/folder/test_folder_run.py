"""A run fed by a watched folder: seqs journaled before publishing, restarts, the run journal."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from synthwatch.collectors.folder.impedance import Rejected
from synthwatch.collectors.folder.run import FolderRun, RunJournal, RunJournalError, state_paths
from synthwatch.collectors.impedance.sweep import make_sweep
from synthwatch.collectors.impedance.write import write_sweep
from synthwatch.contract.messages import Descriptor, Reading, RunStart

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
WAVELENGTHS = np.arange(400.0, 710.0, 10.0)


def put_spectrum(folder: Path, name: str, k: int, axis=WAVELENGTHS) -> Path:
    """A one-spectrum CSV export taken k minutes after T0 (its mtime too: k s after 1e9)."""
    t = (T0 + timedelta(minutes=k)).isoformat()
    a = 0.2 + 0.01 * k * np.exp(-(((axis - 520.0) / 40.0) ** 2))
    path = folder / name
    path.write_text(
        f"wavelength_nm,{t}\n" + "".join(f"{x},{float(y)!r}\n" for x, y in zip(axis, a))
    )
    os.utime(path, ns=(int((1e9 + k) * 1e9),) * 2)
    return path


def folder_run(folder: Path, **kw) -> FolderRun:
    kw = {"kind": "uvvis", "run_id": "fr-1", "reactor": "R1", "system": "Au-citrate", **kw}
    return FolderRun(folder, settle_s=0.0, **kw)


def publish_all(run: FolderRun) -> list:
    out = []
    for batch in run.poll():
        out += batch.messages
        run.done(batch)
    return out


def test_first_files_then_restart_continues_the_seq(tmp_path):
    for k in range(3):
        put_spectrum(tmp_path, f"s{k}.csv", k)
    bad = tmp_path / "s1b.csv"
    bad.write_text("wavelength_nm,A\n400,0.1\n410,x\n")
    os.utime(bad, ns=(int((1e9 + 1.5) * 1e9),) * 2)
    got = publish_all(folder_run(tmp_path))
    # the refused file takes no seq and opens no run (its place among the others is the
    # watcher's order); the RunStart goes with the first good file
    assert [type(m).__name__ for m in got if not isinstance(m, Rejected)] == [
        "RunStart",
        "Descriptor",
        "Reading",
        "Reading",
        "Reading",
    ]
    assert sum(isinstance(m, Rejected) for m in got) == 1
    got = [m for m in got if not isinstance(m, Rejected)] + [
        m for m in got if isinstance(m, Rejected)
    ]
    assert got[0].t == T0 and got[0].tags["source"] == "folder"
    assert [m.seq for m in got if isinstance(m, Reading)] == [0, 1, 2]
    [rejected] = [m for m in got if isinstance(m, Rejected)]
    assert "s1b.csv, line 3: column 'A': expected a number, got 'x'" in rejected.reason
    again = folder_run(tmp_path)
    assert list(again.poll()) == []  # every file acknowledged
    assert again.next_seq == 3 and again.stream.descriptor == got[1]
    put_spectrum(tmp_path, "s3.csv", 3)
    [reading] = publish_all(again)  # no second RunStart or Descriptor
    assert reading.seq == 3 and reading.t == T0 + timedelta(minutes=3)
    stop = again.end()
    assert stop.t == reading.t and stop.status == "success"
    again.ended(stop)
    with pytest.raises(RunJournalError, match="was ended"):
        folder_run(tmp_path)
    other = folder_run(tmp_path, run_id="fr-2")  # another run reads the folder anew
    assert [m.seq for m in publish_all(other) if isinstance(m, Reading)] == [0, 1, 2, 3]


def test_a_file_not_acknowledged_is_sent_again_under_its_seqs(tmp_path):
    for k in range(2):
        put_spectrum(tmp_path, f"s{k}.csv", k)
    run = folder_run(tmp_path)
    first, second = run.poll()
    run.done(first)  # crash: the second was published (perhaps) but not acknowledged
    assert [m.seq for m in second.messages if isinstance(m, Reading)] == [1]
    put_spectrum(tmp_path, "s2.csv", 2)
    restarted = folder_run(tmp_path)
    got = publish_all(restarted)
    assert [(type(m).__name__, getattr(m, "seq", None)) for m in got] == [
        ("Reading", 1),  # the same seq: the worker drops it if it had it
        ("Reading", 2),
    ]
    assert restarted.next_seq == 3


def test_crash_before_the_descriptor_was_recorded_sends_it_again(tmp_path):
    put_spectrum(tmp_path, "s0.csv", 0)
    [batch] = folder_run(tmp_path).poll()  # never acknowledged
    got = publish_all(folder_run(tmp_path))
    assert [type(m) for m in got] == [RunStart, Descriptor, Reading]
    assert got == batch.messages


def test_axis_change_is_rejected_and_takes_no_seq(tmp_path):
    put_spectrum(tmp_path, "s0.csv", 0)
    put_spectrum(tmp_path, "s1.csv", 1, axis=WAVELENGTHS[:-1])
    put_spectrum(tmp_path, "s2.csv", 2)
    got = publish_all(folder_run(tmp_path))
    assert [getattr(m, "seq", type(m).__name__) for m in got[2:]] == [0, "Rejected", 1]
    assert "a sensor keeps one axis" in got[3].reason


def test_impedance_kind(tmp_path):
    for k in range(2):
        sweep = make_sweep(
            "s", [10.0, 100.0, 1e3], [120.0 + k, 105.0, 100.0], [-30.0, -8.0, -1.5], fmt="memory"
        )
        path = write_sweep(sweep, tmp_path / f"z{k}.DTA", "gamry")
        os.utime(path, ns=(int((1e9 + k) * 1e9),) * 2)
    got = publish_all(folder_run(tmp_path, kind="impedance", system="SiO2-Stober"))
    assert [type(m).__name__ for m in got] == ["RunStart", "Descriptor", "Reading", "Reading"]
    assert got[1].kind == "impedance" and got[1].sensor_id == "eis1"
    assert got[3].values_imag is not None and got[3].seq == 1


def test_run_journal_errors_and_a_torn_last_line(tmp_path):
    put_spectrum(tmp_path, "s0.csv", 0)
    publish_all(folder_run(tmp_path, state_dir=tmp_path / "state"))
    _, path = state_paths(tmp_path, "fr-1", tmp_path / "state")
    text = path.read_text()
    path.write_text(text + '{"file": "s9.csv", "si')  # an append cut short by a crash
    journal = RunJournal(path, run_id="fr-1", kind="uvvis")
    assert journal.next_seq == 1 and path.read_text() == text
    with pytest.raises(RunJournalError, match="line 1: expected the journal of run 'fr-9'"):
        RunJournal(path, run_id="fr-9", kind="uvvis")
    path.write_text(text + '{"file": "s9.csv"}\n')
    with pytest.raises(RunJournalError, match="line 5: expected a start, descriptor, file or"):
        RunJournal(path, run_id="fr-1", kind="uvvis")
    path.write_text(text + '{"start": "{}"}\n')
    with pytest.raises(RunJournalError, match="line 5"):
        RunJournal(path, run_id="fr-1", kind="uvvis")
    with pytest.raises(ValueError, match="kind 'ir': expected one of uvvis, impedance"):
        folder_run(tmp_path, kind="ir")
