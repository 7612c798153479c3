"""Nothing silent: ``replay --folder`` accounts for every file, ``show`` counts the refused
ones, ``deadletters`` lists them with why, and no input leaves a traceback or a running run."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from synthwatch.collectors.impedance.sweep import make_sweep
from synthwatch.collectors.impedance.write import write_sweep
from synthwatch.stream.cli.main import main
from synthwatch.stream.store.embedded import Store

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)
AXIS = np.arange(400.0, 801.0, 2.0)


def _spectrum(path: Path, k: int) -> None:
    """A gold-like absorbance spectrum (SPR near 520 nm) as a one-spectrum CSV at T0 + k min."""
    a = 0.2 + 0.5 * np.exp(-(((AXIS - 520.0) / 40.0) ** 2)) + 0.3 * (400.0 / AXIS) ** 4
    rows = "".join(f"{x:.1f},{y * (1 + 0.1 * k):.5f}\n" for x, y in zip(AXIS, a))
    path.write_text(f"wavelength_nm,{(T0 + timedelta(minutes=k)).isoformat()}\n{rows}")


def mixed_folder(folder: Path) -> Path:
    """Two good UV-Vis exports, an impedance export, a garbage file, an empty file, a README
    and a hidden file."""
    folder.mkdir()
    _spectrum(folder / "spec_001.csv", 0)
    _spectrum(folder / "spec_002.csv", 1)
    sweep = make_sweep(
        "s", [10.0, 100.0, 1e3, 1e4], [120.0, 105.0, 100.0, 99.0], [-30.0, -8.0, -1.5, -0.4],
        fmt="memory",
    )  # fmt: skip
    write_sweep(sweep, folder / "eis_001.DTA", "gamry", started_at=T0 + timedelta(minutes=2))
    (folder / "garbage.txt").write_text("hello\x01 this is not an export\n")
    (folder / "empty.csv").write_text("")
    (folder / "README.md").write_text("# exports of the 25 November run\n")
    (folder / ".DS_Store").write_bytes(b"\x00\x01")
    return folder


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def store(tmp_path) -> str:
    return str(tmp_path / "store.sqlite")


def _replay(store: str, folder: Path, *more: str) -> list[str]:
    return ["--store", store, "replay", "--folder", str(folder), "--system", "Au-citrate",
            "--no-progress", *more]  # fmt: skip


def test_mixed_folder_lists_refusals_and_show_and_deadletters_count_them(tmp_path, store, capsys):
    folder = mixed_folder(tmp_path / "mixed")
    code, out, err = _cli(capsys, *_replay(store, folder, "--as", "mixed-run"))
    assert code == 0, err
    lines = out.splitlines()
    refused = [ln for ln in lines if ln.startswith("refused ")]
    assert len(refused) == 2, out
    assert any(ln.startswith("refused empty.csv: ") and "empty" in ln for ln in refused)
    assert any(ln.startswith("refused garbage.txt") for ln in refused)
    assert "skipped (not an export): .DS_Store, README.md" in lines
    assert "folder mixed: 7 files: 3 read (3 readings), 2 refused, 2 skipped" in lines
    assert "Traceback" not in err
    with Store(store, readonly=True) as s:
        assert s.run("mixed-run").status == "success"
        assert s.count("readings", "mixed-run", "uv1") == 2
        assert s.count("readings", "mixed-run", "eis1") == 1

    code, out, _ = _cli(capsys, "--store", store, "show", "mixed-run")
    assert code == 0
    assert "deadlettered 2" in out
    assert "synthwatch deadletters mixed-run" in out

    code, out, _ = _cli(capsys, "--store", store, "deadletters", "latest")
    assert code == 0
    lines = out.splitlines()
    assert lines[-1] == "2 dead letters of run mixed-run"
    assert {ln.split("  ", 1)[1].split(":")[0] for ln in lines[:-1]} == {"empty.csv", "garbage.txt"}
    assert all(str(folder) not in ln for ln in lines)  # the name, not the path twice

    code, out, _ = _cli(capsys, "--store", store, "deadletters", "mixed-run", "--limit", "1")
    assert (
        code == 0 and out.splitlines()[-1] == "2 dead letters of run mixed-run (the last 1 shown)"
    )
    assert len(out.splitlines()) == 2


def test_all_refused_exits_2_with_the_summary_and_closes_the_run(tmp_path, store, capsys):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "garbage.txt").write_text("hello\n")
    (folder / "empty.csv").write_text("")
    code, out, err = _cli(capsys, *_replay(store, folder, "--as", "bad-run"))
    assert code == 2
    assert "refused garbage.txt" in out and "refused empty.csv" in out
    assert "folder bad: 2 files: 0 read (0 readings), 2 refused, 0 skipped" in out
    assert err.strip().splitlines() == [
        "synthwatch replay: no reading taken from "
        f"{folder}: every export was refused (listed above; `synthwatch deadletters bad-run`); "
        "run bad-run closed as failed"
    ]
    with Store(store, readonly=True) as s:
        run = s.run("bad-run")
        assert run.status == "failed" and "refused" in run.reason
        assert len(s.run_deadletters("bad-run")) == 2
    code, out, _ = _cli(capsys, "--store", store, "runs")
    assert "running" not in out


def test_a_micrometre_axis_gives_no_traceback_and_the_run_is_closed(tmp_path, store, capsys):
    folder = tmp_path / "um"
    folder.mkdir()
    rows = "".join(f"{0.4 + 0.01 * i:.2f},{0.1 + 0.01 * i:.3f}\n" for i in range(41))
    (folder / "spec.csv").write_text("Wavelength (µm),2026-11-25T10:00:00Z\n" + rows, "utf-8")
    code, out, err = _cli(capsys, *_replay(store, folder, "--as", "um-run"))
    assert code in (0, 2), err
    assert "Traceback" not in err and "Traceback" not in out
    assert "folder um: 1 file: " in out
    with Store(store, readonly=True) as s:
        assert s.run("um-run").status in ("success", "failed")


def test_deadletters_mistakes_and_an_empty_list(tmp_path, store, capsys):
    code, _, err = _cli(capsys, "--store", store, "deadletters", "x")
    assert code == 2 and "no store at" in err
    folder = tmp_path / "good"
    folder.mkdir()
    _spectrum(folder / "a.csv", 0)
    assert _cli(capsys, *_replay(store, folder, "--as", "good-run"))[0] == 0
    code, out, _ = _cli(capsys, "--store", store, "deadletters", "good-run")
    assert code == 0 and out.strip() == "0 dead letters of run good-run"
    code, _, err = _cli(capsys, "--store", store, "deadletters", "nope")
    assert code == 2 and "no run 'nope'" in err
    code, _, err = _cli(capsys, "--store", store, "deadletters", "good-run", "--limit", "0")
    assert code == 2 and "--limit: expected 1 or more" in err


def test_a_folder_of_notes_only_is_refused_before_any_run(tmp_path, store, capsys):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "README.txt").write_text("nothing yet\n")
    os.mkdir(folder / "sub")
    code, _, err = _cli(capsys, *_replay(store, folder))
    assert code == 2
    assert "no files (skipped, not exports: README.txt)" in err
