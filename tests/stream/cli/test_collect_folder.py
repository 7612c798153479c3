"""``synthwatch collect folder`` against a real broker: folder → Kafka → worker → store.

A folder of UV-Vis exports (spectra of a seeded simulated run, one CSV file each, and a bad
file) is published, the collector crashes mid-folder after handing a file to the producer but
before acknowledging it, and a restarted collector finishes the folder: the worker stores every
spectrum once, seq 0..N-1 without a gap, the crashed file's second copy is dropped as a
duplicate, the bad file is on the dead-letter topic with its name and reason (and in the store,
with the run), and the estimates equal those of ``synthwatch replay --folder`` of the same
folder. The worker stores the collector's dead letters of its runs once, across a crash too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kafka_helpers import first_difference, fresh_topics, read_topic, run_status

from synthwatch.collectors.folder.run import FolderRun
from synthwatch.collectors.impedance.sweep import make_sweep
from synthwatch.collectors.impedance.write import write_sweep
from synthwatch.collectors.sim.scenarios import simulate
from synthwatch.contract.config import load_config
from synthwatch.contract.messages import Descriptor, Reading
from synthwatch.stream.cli import main as cli
from synthwatch.stream.cli.collect import collect_folder
from synthwatch.stream.replay.recorded import FolderSource, replay
from synthwatch.stream.runtime.alerting import registry_from_config
from synthwatch.stream.runtime.kafka_worker import KafkaWorker
from synthwatch.stream.runtime.worker import Worker
from synthwatch.stream.store.embedded import Store
from synthwatch.stream.transport.kafka_topics import KafkaTransport
from synthwatch.stream.transport.memory import DEADLETTER_TOPIC

pytestmark = pytest.mark.slow

MTIME0 = 1_700_000_000.0


def _registry():
    return registry_from_config(load_config(env={}, path=None))


def _touch(path: Path, k: float) -> None:
    os.utime(path, ns=(int((MTIME0 + k) * 1e9),) * 2)


def _spectra_folder(folder: Path, n: int) -> list[Reading]:
    """n CSV exports of a seeded gold run's spectra (exact floats), saved one after another."""
    sim = list(simulate("gold", seed=11, duration_s=2.0 * n, interval_s=2.0).messages())
    desc = next(m for m in sim if isinstance(m, Descriptor) and m.kind == "uvvis")
    spectra = [m for m in sim if isinstance(m, Reading) and m.sensor_id == desc.sensor_id][:n]
    for k, r in enumerate(spectra):
        path = folder / f"spectrum_{k:03d}.csv"
        rows = "".join(f"{x!r},{y!r}\n" for x, y in zip(desc.axis, r.values))
        path.write_text(f"wavelength_nm,{r.t.isoformat()}\n{rows}")
        _touch(path, k)
    bad = folder / "spectrum_002b.csv"
    bad.write_text("wavelength_nm,A\n400,0.1\n410,oops\n")
    _touch(bad, 2.5)
    return spectra


class Crash(Exception):
    pass


class CrashAtFlush:
    """The real transport, crashing at its n-th flush: the file's records are with the
    producer (delivered when it closes), the file is not acknowledged."""

    def __init__(self, inner: KafkaTransport, n: int):
        self.inner, self.n, self.calls = inner, n, 0

    def send(self, *args, **kw) -> None:
        self.inner.send(*args, **kw)

    def send_message(self, *args, **kw) -> None:
        self.inner.send_message(*args, **kw)

    def flush(self, timeout_s=None) -> None:
        self.calls += 1
        if self.calls == self.n:
            raise Crash
        self.inner.flush(timeout_s)


def _work_until_stopped(cfg, path: Path, run_id: str, registry) -> int:
    """Run a worker until the run is stopped in the store; the duplicates it dropped."""
    with Store(path) as store:
        node = KafkaWorker(
            cfg, lambda tr: Worker(tr, [store], model_factory=registry, publish=False)
        )
        try:
            deadline = time.monotonic() + 90
            while run_status(path, run_id) != "success":
                assert time.monotonic() < deadline, f"run {run_id} not stopped within 90 s"
                node.step()
            return node.worker.totals.duplicates
        finally:
            node.close()


def _folder_run(folder: Path, run_id: str) -> FolderRun:
    return FolderRun(
        folder, kind="uvvis", run_id=run_id, reactor="R1", system="Au-citrate", settle_s=0.0
    )


def test_folder_to_store_with_a_collector_crash_mid_folder(kafka_bootstrap, tmp_path):
    cfg = fresh_topics(kafka_bootstrap)
    registry = _registry()
    folder = tmp_path / "exports"
    folder.mkdir()
    n = 30
    spectra = _spectra_folder(folder, n)
    run_id = "collect-folder-1"

    inner = KafkaTransport(cfg)
    with pytest.raises(Crash):  # at the 13th file (the bad one is the 4th)
        collect_folder(_folder_run(folder, run_id), CrashAtFlush(inner, 13))
    inner.close()  # delivers what the producer holds: the 13th file's reading
    transport = KafkaTransport(cfg)
    try:
        restarted = _folder_run(folder, run_id)
        assert restarted.next_seq == 12  # the 13th file's seq was journaled before publishing
        readings, rejected = collect_folder(restarted, transport, once=True, end_run=True)
    finally:
        transport.close()
    assert (readings, rejected) == (n - 11, 0)
    assert restarted.next_seq == n

    path = tmp_path / "store.sqlite"
    duplicates = _work_until_stopped(cfg, path, run_id, registry)
    assert duplicates == 1  # the crashed file, sent again under its seq
    with Store(path, readonly=True) as store:
        stored = list(store.readings(run_id, "uv1"))
        got = store.estimates(run_id)
    assert [r.seq for r in stored] == list(range(n))
    assert [(r.t, r.values) for r in stored] == [(r.t, r.values) for r in spectra]
    [letter] = [r for r in read_topic(kafka_bootstrap, DEADLETTER_TOPIC) if r.key]
    assert letter.key.decode() == run_id
    reason = json.loads(letter.value)["reason"]
    assert "spectrum_002b.csv, line 3: column 'A': expected a number, got 'oops'" in reason
    with Store(path, readonly=True) as store:  # in the store before the run's stop
        assert [(d.source, d.reason) for d in store.run_deadletters(run_id)] == [
            ("spectrum_002b.csv", reason)
        ]

    with Store(tmp_path / "replay.sqlite") as store:
        source = FolderSource(folder, system="Au-citrate", run_id=run_id)
        result = replay(source, store, tag="folder", model_factory=registry)
        want = store.estimates(result.run_id)
    [health] = [e for e in got if e.measurement == "pipeline_health"]  # says what happened
    assert {q.name: q.value for q in health.quantities}["duplicates_count"] == 1
    got = [e.model_copy(update={"run_id": "-"}) for e in got if e is not health]
    want = [
        e.model_copy(update={"run_id": "-"}) for e in want if e.measurement != "pipeline_health"
    ]
    assert len(want) > 50
    assert got == want, first_difference(got, want)


def _sweep_file(folder: Path, k: int) -> None:
    sweep = make_sweep(
        "s",
        [10.0, 100.0, 1e3, 1e4],
        [120.0 + k, 105.0, 100.0, 99.0],
        [-30.0, -8.0, -1.5, -0.4],
        fmt="memory",
    )
    _touch(write_sweep(sweep, folder / f"sweep_{k:03d}.DTA", "gamry"), k)


def test_cli_impedance_folder_restarted(kafka_bootstrap, tmp_path, monkeypatch, capsys):
    cfg = fresh_topics(kafka_bootstrap)
    folder = tmp_path / "eis"
    folder.mkdir()
    for k in range(3):
        _sweep_file(folder, k)
    monkeypatch.setenv("SYNTHWATCH_KAFKA__BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("SYNTHWATCH_KAFKA__PARTITIONS", str(cfg.partitions))
    argv = ["collect", "folder", str(folder), "--kind", "impedance", "--system", "SiO2-Stober"]
    argv += ["--run-id", "eis-run", "--settle", "0", "--state-dir", str(tmp_path / "state")]
    assert cli.main([*argv, "--once"]) == 0
    assert "published 3 readings of run eis-run (seq 0..2)" in capsys.readouterr().out
    for k in range(3, 5):
        _sweep_file(folder, k)
    (folder / "sweep_bad.DTA").write_text("not an impedance export\n")
    _touch(folder / "sweep_bad.DTA", 10)
    assert cli.main([*argv, "--once", "--end-run"]) == 0
    out = capsys.readouterr().out
    assert "published 2 readings of run eis-run (seq 3..4)" in out
    assert "refused sweep_bad.DTA" in out
    assert "1 files dead-lettered; run ended" in out
    assert cli.main([*argv, "--once"]) == 2  # the run was ended
    assert "was ended" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path / "state")) == [
        ".synthwatch-eis-run.run.jsonl",
        ".synthwatch-eis-run.watch.jsonl",
    ]

    path = tmp_path / "store.sqlite"
    _work_until_stopped(cfg, path, "eis-run", _registry())
    with Store(path, readonly=True) as store:
        stored = list(store.readings("eis-run", "eis1"))
        assert store.run("eis-run").reactor == "R1"
    assert [r.seq for r in stored] == [0, 1, 2, 3, 4]
    assert [r.values[0] for r in stored] == [120.0, 121.0, 122.0, 123.0, 124.0]


def _spectrum_file(folder: Path, k: int) -> None:
    """Spectrum k (one CSV, 16 wavelengths, k s after T0), saved under a temporary name and
    renamed, as a careful instrument does."""
    t = f"2026-11-25T09:{k // 60:02d}:{k % 60:02d}Z"
    rows = "".join(f"{400 + 20 * i},{0.1 + 0.001 * k + 0.01 * i}\n" for i in range(16))
    tmp = folder / f"s_{k:03d}.csv.tmp"
    tmp.write_text(f"wavelength_nm,{t}\n{rows}")
    _touch(tmp, k)
    tmp.rename(folder / f"s_{k:03d}.csv")


def _journal_files(path: Path) -> int:
    if not path.exists():
        return 0
    return sum('"file"' in line for line in path.read_text().splitlines())


def test_collector_killed_while_following_a_folder(kafka_bootstrap, tmp_path):
    """A real collector process following the folder is SIGKILLed while files arrive; the
    restarted one finishes: every file once, seq 0..N-1."""
    cfg = fresh_topics(kafka_bootstrap)
    folder = tmp_path / "live"
    folder.mkdir()
    env = {
        **os.environ,
        "SYNTHWATCH_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
        "SYNTHWATCH_KAFKA__PARTITIONS": str(cfg.partitions),
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
    }
    argv = [sys.executable, "-m", "synthwatch.stream.cli.main", "collect", "folder", str(folder)]
    argv += ["--kind", "uvvis", "--system", "Au-citrate", "--run-id", "live-1", "--settle", "0"]
    journal = folder / ".synthwatch-live-1.run.jsonl"
    n, k = 60, 0
    log = (tmp_path / "collector.log").open("w")
    proc = subprocess.Popen([*argv, "--poll", "0.02"], env=env, stdout=log, stderr=log)
    try:
        while _journal_files(journal) < 25:  # files keep arriving while it publishes
            assert proc.poll() is None, (tmp_path / "collector.log").read_text()
            if k < 40:
                _spectrum_file(folder, k)
                k += 1
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        log.close()
    assert 25 <= _journal_files(journal) <= k  # killed while following the folder
    for later in range(k, n):  # more files arrive while no collector runs
        _spectrum_file(folder, later)
    done = subprocess.run(
        [*argv, "--once", "--end-run"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "0 files dead-lettered; run ended" in done.stdout

    path = tmp_path / "store.sqlite"
    _work_until_stopped(cfg, path, "live-1", _registry())
    with Store(path, readonly=True) as store:
        stored = list(store.readings("live-1", "uv1"))
    assert [r.seq for r in stored] == list(range(n))
    assert [r.values[0] for r in stored] == [pytest.approx(0.1 + 0.001 * i) for i in range(n)]


def test_cli_collect_folder_once_accounts_for_every_file(
    kafka_bootstrap, tmp_path, monkeypatch, capsys
):
    """A mixed folder: the summary lists each refused file with its reason and the skipped one;
    a folder whose every file is refused exits 2 and opens no run."""
    cfg = fresh_topics(kafka_bootstrap)
    folder = tmp_path / "mixed"
    folder.mkdir()
    _spectra_folder(folder, 2)  # two good spectra and spectrum_002b.csv (line 3: a bad number)
    (folder / "garbage.txt").write_text("hello, not a spectrum\n")
    (folder / "empty.csv").write_text("")
    (folder / "README.md").write_text("# run of Tuesday\n")
    monkeypatch.setenv("SYNTHWATCH_KAFKA__BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("SYNTHWATCH_KAFKA__PARTITIONS", str(cfg.partitions))
    argv = ["collect", "folder", str(folder), "--kind", "uvvis", "--system", "Au-citrate"]
    argv += ["--run-id", "mixed-1", "--settle", "0", "--state-dir", str(tmp_path / "state")]
    assert cli.main([*argv, "--once"]) == 0
    lines = capsys.readouterr().out.splitlines()
    refused = sorted(ln for ln in lines if ln.startswith("refused "))
    assert [ln.split(":")[0] for ln in refused] == [
        "refused empty.csv",
        "refused garbage.txt",
        "refused spectrum_002b.csv",
    ]
    assert any(ln.startswith("refused spectrum_002b.csv:3: ") for ln in refused)
    assert "skipped (not an export): README.md" in lines
    assert "folder mixed: 6 files: 2 read (2 readings), 3 refused, 1 skipped" in lines
    assert any(ln.startswith("published 2 readings of run mixed-1 (seq 0..1)") for ln in lines)
    letters = [r for r in read_topic(kafka_bootstrap, DEADLETTER_TOPIC) if r.key == b"mixed-1"]
    assert len(letters) == 3

    assert cli.main([*argv, "--once"]) == 0  # again: nothing new, every file accounted for
    lines = capsys.readouterr().out.splitlines()
    assert (
        "folder mixed: 6 files: 0 read (0 readings), 0 refused, 1 skipped, "
        "5 handled in an earlier session"
    ) in lines

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "garbage.txt").write_text("hello\n")
    argv = ["collect", "folder", str(bad), "--kind", "uvvis", "--system", "Au-citrate"]
    assert cli.main([*argv, "--run-id", "bad-1", "--settle", "0", "--once"]) == 2
    out, err = capsys.readouterr()
    assert "refused garbage.txt:1: " in out
    assert "skipped (not an export): .synthwatch-bad-1.watch.jsonl" in out  # its journal
    assert "folder bad: 2 files: 0 read (0 readings), 1 refused, 1 skipped" in out
    assert f"no reading taken from {bad} for run bad-1: every export was refused" in err
    assert "Traceback" not in err

    # the worker that owns the runs stores the collector's dead letters with their run, once
    # across a crash: a worker that never commits, then one that reads the topic again
    topic = {json.loads(r.value)["reason"] for r in letters}
    cfg = cfg.model_copy(update={"checkpoint_interval_s": 3600.0})  # no commit before close
    path = tmp_path / "store.sqlite"
    _work_until_refusals(cfg, path, 4, crash=True)  # mixed-1's three, bad-1's one
    _work_until_refusals(cfg, path, 4)  # nothing was committed: all read again
    with Store(path, readonly=True) as store:
        stored = store.run_deadletters("mixed-1")
        assert [d.source for d in store.run_deadletters("bad-1")] == ["garbage.txt"]
        assert len(store.deadletters()) == 4
    assert sorted(d.source for d in stored) == ["empty.csv", "garbage.txt", "spectrum_002b.csv"]
    assert {d.reason for d in stored} == topic
    [bad_number] = [d for d in stored if d.source == "spectrum_002b.csv"]
    assert "line 3: column 'A': expected a number, got 'oops'" in bad_number.reason
    assert bad_number.raw == (folder / "spectrum_002b.csv").read_bytes()

    assert cli.main(["--store", str(path), "deadletters", "mixed-1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "3 dead letters of run mixed-1"
    shown = sorted(ln.split("  ", 1)[1] for ln in lines[:-1])
    assert [ln.split(":")[0] for ln in shown] == ["empty.csv", "garbage.txt", "spectrum_002b.csv"]
    assert shown[-1].startswith("spectrum_002b.csv:3: ")
    assert all(str(folder) not in ln for ln in lines)  # the name, not the collector's path
    assert cli.main(["--store", str(path), "show", "mixed-1"]) == 0
    assert "dead letters: 3; `synthwatch deadletters mixed-1`" in capsys.readouterr().out


def _work_until_refusals(cfg, path: Path, n: int, crash: bool = False) -> None:
    """Run a worker until it has stored ``n`` collectors' dead letters; with ``crash`` it then
    stops like a killed process: the store is flushed, nothing is checkpointed or committed."""
    with Store(path) as store:
        node = KafkaWorker(
            cfg, lambda tr: Worker(tr, [store], model_factory=_registry(), publish=False)
        )
        try:
            deadline = time.monotonic() + 60
            while node.refusals < n:
                assert time.monotonic() < deadline, f"{node.refusals} dead letters within 60 s"
                node.step()
            assert node.refusals == n
            assert node.worker.totals.deadlettered == 0  # not the worker's: not counted
        finally:
            if crash:
                node.worker.flush()
                node._reader.close()
                node.transport.close()
            else:
                node.close()
