"""The folder watcher: settling, restarts, corrupt files, order, state file; a fake clock."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import ROOT
from synthwatch.collectors.folder.watch import (
    FailedFile,
    FolderWatcher,
    StateError,
    SweepFile,
)
from synthwatch.collectors.impedance.sweep import make_sweep
from synthwatch.collectors.impedance.write import write_sweep

DATA = ROOT / "tests" / "data" / "impedance"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def sweep(k: int):
    """A small distinct sweep per k (its first Z' is 100 + k)."""
    return make_sweep(
        "s", [10.0, 100.0, 1000.0], [100.0 + k, 90.0, 80.0], [-5.0, -3.0, -1.0], fmt="memory"
    )


def put(folder: Path, name: str, k: int, mtime_s: float | None = None, fmt: str = "gamry") -> Path:
    path = write_sweep(sweep(k), folder / name, fmt)
    if mtime_s is not None:
        os.utime(path, ns=(int(mtime_s * 1e9), int(mtime_s * 1e9)))
    return path


def drain(watcher: FolderWatcher, clock: Clock, ack: bool = True) -> list[SweepFile | FailedFile]:
    """Poll until nothing settles any more (the clock moves past the settle time)."""
    events = []
    for _ in range(3):
        got = watcher.poll()
        if ack:
            for event in got:
                watcher.ack(event)
        events += got
        clock.advance(watcher.settle_s + 0.1)
    return events


def names(events) -> list[str]:
    return [e.path.name for e in events]


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "exports"
    path.mkdir()
    return path


def test_partial_write_is_read_once_complete(folder):
    clock = Clock()
    w = FolderWatcher(folder, clock=clock, settle_s=2.0)
    full = (DATA / "randles.DTA").read_bytes()
    target = folder / "sweep.DTA"
    target.write_bytes(full[: len(full) // 2])
    assert w.poll() == []
    clock.advance(1.0)
    with open(target, "ab") as out:  # the instrument writes more before the settle time
        out.write(full[len(full) // 2 : -40])
    os.utime(target, ns=(10**18, 10**18))  # and its mtime moves
    assert w.poll() == []
    clock.advance(1.5)
    assert w.poll() == []  # changed 1.5 s ago: not settled yet
    target.write_bytes(full)
    os.utime(target, ns=(2 * 10**18, 2 * 10**18))
    clock.advance(1.0)
    assert w.poll() == []
    clock.advance(2.0)
    [event] = w.poll()
    assert isinstance(event, SweepFile) and event.sweep.n_points == 31


def test_a_file_read_too_early_fails_then_is_retried_when_it_changes(folder):
    clock = Clock()
    w = FolderWatcher(folder, clock=clock, settle_s=1.0)
    full = (DATA / "randles.csv").read_bytes()
    target = folder / "slow.csv"
    target.write_bytes(full[:70])  # writer stalls longer than settle_s mid-row
    clock.advance(0.0)
    w.poll()
    clock.advance(1.5)
    [failed] = w.poll()
    assert isinstance(failed, FailedFile)
    assert "slow.csv, line" in failed.reason and failed.line is not None
    w.ack(failed)
    assert w.poll() == []  # failure recorded: not reported again while unchanged
    target.write_bytes(full)
    os.utime(target, ns=(10**18, 10**18))
    events = drain(w, clock)
    assert [type(e) for e in events] == [SweepFile]


def test_restart_mid_folder_reads_no_sweep_twice_and_skips_none(folder):
    clock = Clock()
    for i in range(4):
        put(folder, f"s{i}.DTA", i, mtime_s=1000 + i)
    w = FolderWatcher(folder, clock=clock, settle_s=1.0)
    w.poll()
    clock.advance(1.5)
    events = w.poll()
    assert names(events) == ["s0.DTA", "s1.DTA", "s2.DTA", "s3.DTA"]
    w.ack(events[0])
    w.ack(events[1])  # crash here: s2, s3 handed over but not acknowledged
    for i in range(4, 6):  # files arrive while the watcher is down
        put(folder, f"s{i}.DTA", i, mtime_s=1000 + i)
    restarted = FolderWatcher(folder, clock=Clock(), settle_s=0.0)
    again = restarted.poll()
    assert names(again) == ["s2.DTA", "s3.DTA", "s4.DTA", "s5.DTA"]
    assert [e.sweep.z_real_ohm[0] for e in again] == [102.0, 103.0, 104.0, 105.0]
    for event in again:
        restarted.ack(event)
    assert FolderWatcher(folder, clock=Clock(), settle_s=0.0).poll() == []


def test_unacknowledged_events_are_not_offered_twice_in_one_process(folder):
    clock = Clock()
    put(folder, "a.DTA", 1)
    w = FolderWatcher(folder, clock=clock, settle_s=0.0)
    assert len(w.poll()) == 1
    assert w.poll() == []


def test_a_corrupt_file_among_good_ones_is_reported_and_the_watch_goes_on(folder):
    clock = Clock()
    put(folder, "a.DTA", 1, mtime_s=1000)
    (folder / "b.DTA").write_bytes((DATA / "bad_truncated.DTA").read_bytes())
    os.utime(folder / "b.DTA", ns=(1001 * 10**9, 1001 * 10**9))
    put(folder, "c.DTA", 3, mtime_s=1002)
    w = FolderWatcher(folder, clock=clock, settle_s=0.5)
    events = drain(w, clock)
    assert names(events) == ["a.DTA", "b.DTA", "c.DTA"]
    good, bad, more = events
    assert isinstance(good, SweepFile) and isinstance(more, SweepFile)
    assert isinstance(bad, FailedFile)
    assert bad.reason.startswith(f"{folder / 'b.DTA'}, line 21: ") and bad.line == 21
    state = (folder / ".synthwatch-watch.jsonl").read_text()
    assert '"status": "failed"' in state and "line 21" in state


def test_order_is_modification_time_then_name_not_alphabetical(folder):
    clock = Clock()
    put(folder, "zz_first.DTA", 1, mtime_s=100)
    put(folder, "aa_third.DTA", 3, mtime_s=300)
    put(folder, "mm_second.DTA", 2, mtime_s=200)
    put(folder, "bb_tie.DTA", 4, mtime_s=300)
    w = FolderWatcher(folder, clock=clock, settle_s=0.0)
    assert names(w.poll()) == ["zz_first.DTA", "mm_second.DTA", "aa_third.DTA", "bb_tie.DTA"]


def test_every_format_and_ignored_names(folder):
    clock = Clock()
    for i, fmt in enumerate(["gamry", "zplot", "biologic", "chi", "csv"]):
        put(folder, f"s{i}.{fmt}", i, mtime_s=100 + i, fmt=fmt)
    (folder / "partial.csv.part").write_text("freq,zre,zim\n")
    (folder / "notes.tmp").write_text("x")
    (folder / ".hidden").write_text("x")
    (folder / "sub").mkdir()
    w = FolderWatcher(folder, clock=clock, settle_s=0.0)
    events = w.poll()
    assert [e.sweep.fmt for e in events] == ["gamry", "zplot", "biologic", "chi", "csv"]
    only = FolderWatcher(folder, folder / ".other.json", clock=clock, suffixes=(".GAMRY",))
    clock.advance(5)
    only.poll()
    clock.advance(5)
    assert names(only.poll()) == ["s0.gamry"]


def test_a_file_modified_after_it_was_read_is_reported_not_read_again(folder):
    clock = Clock()
    path = put(folder, "a.DTA", 1, mtime_s=100)
    w = FolderWatcher(folder, clock=clock, settle_s=0.0)
    for event in w.poll():
        w.ack(event)
    put(folder, "a.DTA", 9, mtime_s=200)
    [event] = w.poll()
    assert isinstance(event, FailedFile) and "modified after it was read" in event.reason
    w.ack(event)
    assert w.poll() == []
    assert path.exists()


def test_a_vanished_pending_file_is_forgotten(folder):
    clock = Clock()
    path = put(folder, "a.DTA", 1)
    w = FolderWatcher(folder, clock=clock, settle_s=5.0)
    w.poll()
    path.unlink()
    clock.advance(10)
    assert w.poll() == []


def test_state_file_problems_are_explained(folder, tmp_path):
    state = tmp_path / "state.jsonl"
    state.write_text("{not json\n")
    with pytest.raises(StateError, match=r"state.jsonl, line 1: expected a synthwatch folder"):
        FolderWatcher(folder, state)
    header = json.dumps({"synthwatch_folder_watch": 1, "folder": str(folder.resolve())})
    state.write_text(header + '\n{"name": "a", "size": 1}\n')
    with pytest.raises(StateError, match=r"line 2: expected a record \{name, size, mtime_ns"):
        FolderWatcher(folder, state)
    state.write_text(json.dumps({"synthwatch_folder_watch": 1, "folder": "/elsewhere"}) + "\n")
    with pytest.raises(StateError, match="line 1: expected a synthwatch folder-watch journal"):
        FolderWatcher(folder, state)
    with pytest.raises(NotADirectoryError, match="expected a folder"):
        FolderWatcher(tmp_path / "missing")
    with pytest.raises(ValueError, match="--settle: expected seconds >= 0"):
        FolderWatcher(folder, settle_s=-1)


def test_an_acknowledgement_cut_short_by_a_crash_counts_as_not_given(folder):
    clock = Clock()
    put(folder, "a.DTA", 1, mtime_s=100)
    put(folder, "b.DTA", 2, mtime_s=200)
    w = FolderWatcher(folder, clock=clock, settle_s=0.0)
    for event in w.poll():
        w.ack(event)
    journal = folder / ".synthwatch-watch.jsonl"
    text = journal.read_text()
    assert len(text.splitlines()) == 3  # header + one line per acknowledged file
    journal.write_text(text[:-25])  # the crash cut b's record mid-line
    restarted = FolderWatcher(folder, clock=Clock(), settle_s=0.0)
    assert names(restarted.poll()) == ["b.DTA"]
    assert journal.read_text() == "".join(text.splitlines(keepends=True)[:2])


def test_the_same_folder_named_relatively_after_a_restart(folder, monkeypatch):
    put(folder, "a.DTA", 1)
    w = FolderWatcher(folder, clock=Clock(), settle_s=0.0)
    for event in w.poll():
        w.ack(event)
    monkeypatch.chdir(folder.parent)
    assert FolderWatcher(folder.name, clock=Clock(), settle_s=0.0).poll() == []


def test_the_journal_grows_by_one_line_per_acknowledgement(folder):
    clock = Clock()
    for i in range(5):
        put(folder, f"s{i}.DTA", i, mtime_s=100 + i)
    w = FolderWatcher(folder, clock=clock, settle_s=0.0)
    for event in w.poll():
        w.ack(event)
    lines = (folder / ".synthwatch-watch.jsonl").read_text().splitlines()
    assert len(lines) == 6
    assert json.loads(lines[3]) == {
        "name": "s2.DTA",
        "size": (folder / "s2.DTA").stat().st_size,
        "mtime_ns": 102 * 10**9,
        "status": "read",
    }
    assert not list(folder.glob("*.tmp"))
