"""A folder replay never ends in a traceback nor leaves its run running: an error a parser
should not have raised refuses its file; an error of the pipeline closes the run as failed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

import synthwatch.stream.replay.recorded as recorded
from synthwatch.contract.messages import Reading
from synthwatch.stream.replay.recorded import FolderSource, ReplayFailed, replay
from synthwatch.stream.store.embedded import Store

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)


def _csv(path, k: int) -> None:
    axis = np.arange(400.0, 801.0, 2.0)
    a = 0.2 + 0.5 * np.exp(-(((axis - 520.0) / 40.0) ** 2))
    rows = "".join(f"{x:.1f},{y:.5f}\n" for x, y in zip(axis, a))
    path.write_text(f"wavelength_nm,{(T0 + timedelta(minutes=k)).isoformat()}\n{rows}")


def test_an_unexpected_parser_error_refuses_the_file(tmp_path, monkeypatch):
    folder = tmp_path / "f"
    folder.mkdir()
    _csv(folder / "a.csv", 0)
    (folder / "b.DTA").write_text("whatever\n")

    def broken(path, **kw):
        raise IndexError("list index out of range")

    monkeypatch.setattr(recorded, "read_sweeps", broken)
    source = FolderSource(folder, system="Au-citrate")
    with Store(tmp_path / "s.sqlite") as store:
        result = replay(source, store, as_run_id="r")
        assert (result.readings, result.rejected) == (1, 1)
        (dead,) = store.run_deadletters("r")
        assert dead.source == "b.DTA"
        assert dead.reason == (
            f"{folder / 'b.DTA'}: unexpected error reading it (IndexError: list index out of range)"
        )
        assert store.run("r").status == "success"
    assert [str(r) for r in source.tally.refused] == [
        "b.DTA: unexpected error reading it (IndexError: list index out of range)"
    ]


def test_a_pipeline_error_closes_the_run_as_failed(tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    for k in range(3):
        _csv(folder / f"s{k}.csv", k)

    def explode(msg):
        if isinstance(msg, Reading) and msg.seq == 1:
            raise RuntimeError("sink on fire")

    with Store(tmp_path / "s.sqlite") as store:
        with pytest.raises(ReplayFailed, match=r"failed after 2 readings \(RuntimeError: sink"):
            replay(
                FolderSource(folder, system="Au-citrate"), store, as_run_id="r", on_message=explode
            )
        run = store.run("r")
        assert run.status == "failed" and "RuntimeError: sink on fire" in run.reason
    assert ReplayFailed.exit_code == 1


def test_every_file_refused_stops_the_run_as_failed(tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "x.csv").write_text("wavelength_nm,A\n400,0.1\n410,oops\n")
    with Store(tmp_path / "s.sqlite") as store:
        result = replay(FolderSource(folder, system="Au-citrate"), store, as_run_id="r")
        assert (result.readings, result.rejected) == (0, 1)
        run = store.run("r")
        assert run.status == "failed"
        assert run.reason == "no reading: all 1 files of the folder refused"
        (dead,) = store.run_deadletters("r")
        assert dead.source == "x.csv" and "line 3" in dead.reason


def test_models_that_cannot_be_built_leave_the_readings_archived(tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    _csv(folder / "a.csv", 0)

    def no_models(start, descriptor):
        raise ValueError("smoothing window of 15 nm needs 1501 points")

    with Store(tmp_path / "s.sqlite") as store:
        result = replay(
            FolderSource(folder, system="Au-citrate"), store, as_run_id="r", model_factory=no_models
        )
        assert result.readings == 1 and store.run("r").status == "success"
        (dead,) = store.run_deadletters("r")
        assert dead.source == "worker"
        assert dead.reason.startswith("models of sensor 'uv1' cannot be built (ValueError: smooth")
        (health,) = store.estimates("r", measurement="pipeline_health")
        assert health.get("model_errors_count").value == 1
