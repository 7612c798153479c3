"""Every file of a watched folder is accounted for: read, refused with why, or skipped; an
error a parser should not raise refuses its file instead of ending the watch."""

from __future__ import annotations

import os

import pytest
from test_folder_run import folder_run, publish_all, put_spectrum

import synthwatch.collectors.folder.uvvis as uvvis_folder
import synthwatch.collectors.folder.watch as watch
from synthwatch.collectors.folder.impedance import Rejected
from synthwatch.collectors.folder.tally import FolderTally, refusal, skip_reason, unexpected
from synthwatch.collectors.folder.watch import FailedFile, FolderWatcher
from synthwatch.contract.messages import Descriptor, Reading, RunStart


@pytest.mark.parametrize(
    ("name", "why"),
    [
        (".synthwatch-r.watch.jsonl", "hidden"),
        ("s1.csv.part", "being written"),
        ("s1.csv~", "being written"),
        ("README", "a note, not an export"),
        ("readme.txt", "a note, not an export"),
        ("notes.md", "a note, not an export"),
        ("s1.csv", None),
        ("sweep.DTA", None),
    ],
)
def test_skip_reason(name, why):
    assert skip_reason(name) == why


def test_refusal_takes_name_and_line_from_the_reason():
    assert (
        str(refusal("/d/a.csv", "/d/a.csv, line 3: column 'A': bad")) == "a.csv:3: column 'A': bad"
    )
    assert str(refusal("/d/a.csv", "other/a.csv: empty file")) == "a.csv: empty file"
    assert str(refusal("a.csv", "no prefix\nat all")) == "a.csv: no prefix at all"
    assert (
        unexpected("/d/a.csv", KeyError("x"))
        == "/d/a.csv: unexpected error reading it (KeyError: 'x')"
    )


def test_tally_counts_a_file_refused_in_part_once():
    tally = FolderTally("/data/exp")
    tally.read_file("a.csv", 3)
    tally.refuse("/data/exp/a.csv", "/data/exp/a.csv: spectrum 3 off the axis")
    tally.refuse("/data/exp/b.csv", "/data/exp/b.csv, line 2: bad")
    tally.skip("README")
    tally.earlier = 4
    assert tally.lines() == [
        "refused a.csv: spectrum 3 off the axis",
        "refused b.csv:2: bad",
        "skipped (not an export): README",
        "folder exp: 7 files: 1 read (3 readings), 2 refused, 1 skipped, "
        "4 handled in an earlier session",
    ]


@pytest.mark.parametrize("error", [IndexError("list index out of range"), UnicodeDecodeError(
    "utf-8", b"\xff", 0, 1, "invalid start byte")])  # fmt: skip
def test_an_unexpected_parser_error_refuses_the_file(tmp_path, monkeypatch, error):
    (tmp_path / "sweep.DTA").write_text("x\n")

    def broken(*args, **kw):
        raise error

    monkeypatch.setattr(watch, "read_sweeps", broken)
    [event] = FolderWatcher(tmp_path, settle_s=0.0).poll()
    assert isinstance(event, FailedFile)
    assert event.reason.startswith(f"{tmp_path / 'sweep.DTA'}: unexpected error reading it (")
    assert type(error).__name__ in event.reason


def test_uvvis_watcher_too_and_the_run_goes_on(tmp_path, monkeypatch):
    put_spectrum(tmp_path, "s0.csv", 0)
    put_spectrum(tmp_path, "s1.csv", 1)
    real = uvvis_folder.read_spectra

    def flaky(path, *args, **kw):
        if path.name == "s0.csv":
            raise ValueError("could not convert string to float: 'µ'")
        return real(path, *args, **kw)

    monkeypatch.setattr(uvvis_folder, "read_spectra", flaky)
    got = publish_all(folder_run(tmp_path))
    assert sorted(type(m).__name__ for m in got) == [
        "Descriptor",
        "Reading",
        "Rejected",
        "RunStart",
    ]
    [rejected] = [m for m in got if isinstance(m, Rejected)]
    assert "unexpected error reading it (ValueError: could not convert" in rejected.reason


def test_a_folder_of_refused_files_opens_no_run(tmp_path):
    (tmp_path / "a.csv").write_text("wavelength_nm,A\n400,0.1\n410,x\n")
    (tmp_path / "README.txt").write_text("notes\n")
    run = folder_run(tmp_path)
    got = publish_all(run)
    assert [type(m) for m in got] == [Rejected]
    assert run.journal.start is None and run.end() is None
    assert run.watcher.skipped == {"README.txt": "a note, not an export"}
    put_spectrum(tmp_path, "b.csv", 1)
    got = publish_all(run)
    assert [type(m) for m in got] == [RunStart, Descriptor, Reading]


def test_a_stream_error_refuses_the_file_and_keeps_the_seq(tmp_path, monkeypatch):
    put_spectrum(tmp_path, "s0.csv", 0)
    run = folder_run(tmp_path)

    def broken(event):
        run.stream.next_seq += 5  # half-done work is undone
        raise RuntimeError("stream bug")

    monkeypatch.setattr(run.stream, "messages_for", broken)
    [batch] = list(run.poll())
    [rejected] = batch.messages
    assert "unexpected error reading it (RuntimeError: stream bug)" in rejected.reason
    assert run.stream.next_seq == 0 and run.stream.descriptor is None


def test_files_of_an_earlier_session_are_counted(tmp_path):
    put_spectrum(tmp_path, "s0.csv", 0)
    publish_all(folder_run(tmp_path))
    os.utime(tmp_path, None)
    again = folder_run(tmp_path)
    assert publish_all(again) == []
    assert again.watcher.earlier == {"s0.csv"}
