"""The command line: demo, runs, show; one-line errors; a kill -9 of the demo."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from synthwatch.collectors.sim.gold import GoldCitrateSimulator
from synthwatch.contract.messages import Reading, encode
from synthwatch.stream.cli.main import main, parse_duration
from synthwatch.stream.store.embedded import Store


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "synthwatch.stream.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "store.sqlite"
    assert (
        main(
            [
                "--store",
                str(path),
                "demo",
                "--speed",
                "max",
                "--duration",
                "40m",
                "--seed",
                "2",
                "--quiet",
            ]
        )
        == 0
    )
    return path


def test_demo_then_runs_and_show(demo_store, capsys):
    capsys.readouterr()
    assert main(["--store", str(demo_store), "runs"]) == 0
    out = capsys.readouterr().out
    assert "sim-au-citrate-s2" in out and "success" in out and "1200" in out
    assert main(["--store", str(demo_store), "show", "sim-au-citrate-s2", "--rows", "5"]) == 0
    out = capsys.readouterr().out
    assert "final size (Haiss):" in out and " nm at 00:39:58" in out
    assert "pipeline: received 1203, processed 1200, duplicates 0, late 0" in out
    assert main(["--store", str(demo_store), "show", "latest"]) == 0
    assert "final size (Haiss):" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, words",
    [
        (["show", "no-such-run"], "no run 'no-such-run'"),
        (["demo", "--speed", "fast"], "argument --speed: expected a positive factor"),
        (["demo", "--duration=-3h"], "argument --duration: expected a positive duration"),
        (["demo", "--size", "400"], "--size: Input should be less than or equal to 100"),
        (["show", "x", "--rows", "1"], "--rows: expected 2 or more"),
        (["explode"], "invalid choice: 'explode'"),
    ],
)
def test_mistakes_give_one_line(demo_store, args, words):
    proc = cli("--store", str(demo_store), *args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("synthwatch"), proc.stderr
    assert words in lines[0]
    assert "Traceback" not in proc.stderr


def test_bad_config_value_gives_one_line(tmp_path):
    cfg = tmp_path / "sw.toml"
    cfg.write_text("[store]\ncommit_interval_s = 9\n")
    proc = cli("--config", str(cfg), "runs")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"synthwatch: {cfg}: store.commit_interval_s: Input should be less than or equal to 1 "
        "(got 9)"
    )


def test_no_store_yet(tmp_path, capsys):
    assert main(["--store", str(tmp_path / "none.sqlite"), "runs"]) == 0
    assert "no runs yet" in capsys.readouterr().out
    proc = cli("--store", str(tmp_path / "none.sqlite"), "show", "latest")
    assert proc.returncode == 2 and "no store at" in proc.stderr


def test_not_a_store(tmp_path):
    bad = tmp_path / "notes.sqlite"
    bad.write_text("shopping list\n" * 100)
    proc = cli("--store", str(bad), "runs")
    assert proc.returncode == 2 and str(bad) in proc.stderr and "Traceback" not in proc.stderr


def test_parse_duration():
    assert parse_duration("2h") == 7200 and parse_duration("90m") == 5400
    assert parse_duration("15") == 15 and parse_duration("1.5d") == 129600


@pytest.mark.slow
def test_kill_9_of_the_demo_loses_at_most_a_second_and_never_corrupts(tmp_path):
    """Kill the paced demo mid-run; the store opens, is intact, and misses ≤ 1 s of data."""
    path = tmp_path / "store.sqlite"
    speed, interval = 100.0, 2.0
    rate = speed / interval  # readings produced per wall second
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "synthwatch.stream.cli.main",
            "--store",
            str(path),
            "demo",
            "--seed",
            "5",
            "--speed",
            str(speed),
            "--duration",
            "2h",
            "--quiet",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        first_seen = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.05)
            if not path.exists():
                continue
            try:
                with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as con:
                    n = con.execute("SELECT count(*) FROM readings").fetchone()[0]
            except sqlite3.OperationalError:
                continue
            if n > 0 and first_seen is None:
                first_seen = time.monotonic()
            if first_seen is not None and time.monotonic() - first_seen > 3.0:
                break
        assert first_seen is not None, proc.stderr.read() if proc.poll() is not None else ""
        assert proc.poll() is None, "the demo ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with Store(path, readonly=True) as store:
        (run,) = store.runs()
        assert run.status == "running"
        stored = list(store.readings(run.run_id))
    # the first reading was produced at most one commit interval (0.5 s) before it was seen
    produced_upper = (killed_at - first_seen + 0.5 + 0.1) * rate + 1
    assert len(stored) >= produced_upper - rate * 1.0, (len(stored), produced_upper)
    # what is stored is a gap-free prefix of the seeded run, value for value
    assert [r.seq for r in stored] == list(range(len(stored)))
    sim = GoldCitrateSimulator(seed=5, duration_s=7200.0, interval_s=interval)
    expected = [m for m in sim.messages() if isinstance(m, Reading)][: len(stored)]
    assert [encode(r) for r in stored] == [encode(r) for r in expected]
    # and the CLI still reads it
    shown = cli("--store", str(path), "show", run.run_id, "--rows", "3")
    assert shown.returncode == 0 and "running" in shown.stdout


@pytest.mark.slow
def test_silver_scenario_demo_reports_the_size_distribution(tmp_path, capsys):
    store = str(tmp_path / "ag.sqlite")
    args = ["--store", store, "demo", "--scenario", "silver", "--speed", "max", "--quiet"]
    assert main([*args, "--duration", "30m", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "(silver)" in out and "nm (size distribution)" in out
    assert main(["--store", store, "show", "latest", "--rows", "3"]) == 0
    out = capsys.readouterr().out
    assert "size distribution (lognormal fit)" in out
    assert "final size distribution: d_mean" in out
