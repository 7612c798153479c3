"""Replay: from the store and from a folder of exports, deterministic, never over a run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from datetime import timedelta, timezone

import numpy as np
import pytest

from synthwatch.collectors.impedance.sweep import make_sweep
from synthwatch.collectors.impedance.write import write_sweep
from synthwatch.collectors.sim.gold import GoldCitrateSimulator
from synthwatch.collectors.sim.stober import StoberSimulator
from synthwatch.stream.cli.main import main
from synthwatch.stream.replay.recorded import FolderSource, ReplayError, StoreSource, replay
from synthwatch.stream.runtime.pipeline import run_embedded
from synthwatch.stream.store.embedded import Store
from uvvis_writers import write_csv, write_jcamp, write_oceanview

AXIS = np.arange(400.0, 801.0, 4.0)
RUN = "sim-au-citrate-s5"


def _gold(**kw) -> GoldCitrateSimulator:
    args = dict(seed=5, duration_s=1800.0, interval_s=20.0, wavelengths_nm=AXIS) | kw
    return GoldCitrateSimulator(**args)


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    path = tmp_path_factory.mktemp("replay") / "store.sqlite"
    with Store(path) as store:
        run_embedded(_gold().messages(), [store])
    return path


def _essence(estimates):
    """Everything of the estimates but their run id."""
    return [e.model_dump(exclude={"run_id"}) for e in estimates]


def test_replay_twice_gives_identical_estimates_in_new_runs(stored, tmp_path):
    path = tmp_path / "s.sqlite"
    path.write_bytes(stored.read_bytes())
    with Store(path) as store:
        original = store.estimates(RUN)
        n_readings = store.count("readings", RUN)
        a = replay(StoreSource(store, RUN), store)
        b = replay(StoreSource(store, RUN), store, tag="again")
        assert (a.run_id, b.run_id) == (f"{RUN}:replay-v0.1.0", f"{RUN}:again")
        assert a.readings == b.readings == n_readings
        ea, eb = store.estimates(a.run_id), store.estimates(b.run_id)
        assert len(ea) > 2 * n_readings
        assert _essence(ea) == _essence(eb)  # determinism
        assert _essence(ea) == _essence(original)  # same models: the live results again
        assert store.estimates(RUN) == original  # the original is untouched
        start = store.run_start(a.run_id)
        assert start.tags["replay_of"] == RUN and start.tags["replay_tag"] == "replay-v0.1.0"
        assert store.run(a.run_id).status == "success"
        assert {e.model_version for e in ea} >= {"1"}
        with pytest.raises(ReplayError, match="already in .* never writes over a run"):
            replay(StoreSource(store, RUN), store, tag="again")
        with pytest.raises(ReplayError, match="never writes over its source"):
            replay(StoreSource(store, RUN), store, as_run_id=RUN)
        with pytest.raises(ReplayError, match="tag 'a b'"):
            replay(StoreSource(store, RUN), store, tag="a b")


def test_replay_is_paced_by_event_time(stored, tmp_path):
    path = tmp_path / "s.sqlite"
    with Store(path) as store:
        run_embedded(_gold(duration_s=200.0, run_id="short").messages(), [store])
        started = time.monotonic()
        result = replay(StoreSource(store, "short"), store, speed=400.0)
        wall = time.monotonic() - started
        readings = list(store.readings(result.run_id))
    assert wall >= 0.9 * 180.0 / 400.0  # 10 spectra 20 s apart at x400
    assert [r.t for r in readings] == [r.t for r in _gold(duration_s=200.0).messages()][2:-1]


def _export_folder(folder):
    """20 min of a gold run as OceanView/JCAMP/CSV files, a Stöber cell's sweeps, a bad file."""
    folder.mkdir()
    sim = _gold(duration_s=1200.0, interval_s=60.0)
    times = sim.times()
    spectra = [v for _, v in sim.spectra()]
    for k, (t, a) in enumerate(zip(times, spectra)):
        if k < 8:
            write_oceanview(folder / f"spec_{k:03d}.txt", AXIS, a, t)
        elif k < 12:
            write_jcamp(folder / f"spec_{k:03d}.jdx", AXIS, a, t)
    write_csv(folder / "late.csv", AXIS, np.array(spectra[12:]), times[12:])
    eis = StoberSimulator(seed=1, duration_s=1200.0, interval_s=300.0, start=sim.start)
    for k, z in eis.sweeps():
        t = sim.start + timedelta(seconds=300.0 * k)
        s = make_sweep("x", eis.frequencies_hz, z.real, z.imag, fmt="memory", started_at=t)
        write_sweep(s, folder / f"eis_{k:02d}.DTA", "gamry", started_at=t)
    (folder / "broken.txt").write_text("Data from x\n>>>>>Begin Spectral Data<<<<<\n400\tabc\n")
    return sim


def test_folder_replay(tmp_path):
    sim = _export_folder(tmp_path / "exports")
    with Store(tmp_path / "s.sqlite") as store:
        source = FolderSource(tmp_path / "exports", system="Au-citrate", tz=timezone.utc)
        assert source.count() == 20 + 4
        result = replay(source, store)
        assert result.run_id == "exports:replay-v0.1.0"
        assert (result.readings, result.rejected) == (24, 1)
        uv = list(store.readings(result.run_id, "uv1"))
        assert [r.t for r in uv] == sim.times()
        assert [r.seq for r in uv] == list(range(20))
        np.testing.assert_allclose(uv[10].values, list(sim.spectra())[10][1], atol=1e-5)
        assert store.count("readings", result.run_id, "eis1") == 4
        assert {d.kind for d in store.descriptors(result.run_id)} == {"uvvis", "impedance"}
        (dead,) = store.deadletters()
        assert "broken.txt, line 3" in dead.reason
        assert dead.source == f"run {result.run_id}: broken.txt"
        assert store.run_deadletters(result.run_id) == [replace(dead, source="broken.txt")]
        assert (source.tally.readings, source.tally.refused_files) == (24, 1)
        models = {e.model for e in store.estimates(result.run_id)}
        assert {"uvvis_features", "impedance_fit"} <= models
        again = replay(FolderSource(tmp_path / "exports", system="Au-citrate", tz=timezone.utc),
                       store, tag="b")  # fmt: skip
        assert _essence(store.estimates(again.run_id)) == _essence(store.estimates(result.run_id))


def test_folder_axis_mismatch_is_dead_lettered(tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    sim = _gold(duration_s=120.0, interval_s=60.0)
    (t0, t1) = sim.times()
    a = list(sim.spectra())[0][1]
    write_oceanview(folder / "a.txt", AXIS, a, t0)
    write_oceanview(folder / "b.txt", AXIS[:-1], a[:-1], t1)
    with Store(tmp_path / "s.sqlite") as store:
        result = replay(FolderSource(folder, system="Au-citrate"), store)
        assert (result.readings, result.rejected) == (1, 1)
        assert "b.txt: spectrum of 100 wavelengths" in store.deadletters()[0].reason
    with pytest.raises(ReplayError, match="no files"):
        FolderSource(_empty(tmp_path), system="x")


def _empty(tmp_path):
    p = tmp_path / "empty"
    p.mkdir()
    return p


def test_cli_replay_mistakes_one_line(stored, tmp_path, capsys):
    store = str(stored)
    for args, words in [
        (["replay"], "give a stored RUN or --folder DIR"),
        (["replay", "nope"], "no run 'nope'"),
        (["replay", "--folder", str(tmp_path)], "--folder needs --system"),
        (["replay", RUN, "--speed", "fast"], "expected 'realtime', 'max' or a factor"),
        (["replay", RUN, "--tag", "bad tag"], "tag 'bad tag'"),
    ]:
        assert main(["--store", store, *args]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and words in err, err


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"]
)
def test_ctrl_c_leaves_a_consistent_prefix(stored, tmp_path, signum, status):
    """Ctrl-C, or SIGTERM from a supervisor: the readings so far are kept, a prefix, and the
    run is closed as aborted."""
    path = tmp_path / "s.sqlite"
    path.write_bytes(stored.read_bytes())
    target = f"{RUN}:replay-v0.1.0"
    proc = subprocess.Popen(
        [sys.executable, "-m", "synthwatch.stream.cli.main", "--store", str(path)]
        + ["replay", RUN, "--speed", "150"],  # 30 min of readings at x150: 12 s
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C as at a terminal: a suite run from a background job (`... &` in a script)
        # passes SIGINT on ignored, and Python then leaves it ignored (no KeyboardInterrupt)
        preexec_fn=_sigint_default,
    )
    try:
        deadline = time.monotonic() + 60
        n, why = 0, "no poll yet"
        while time.monotonic() < deadline and n < 10 and proc.poll() is None:
            time.sleep(0.3)
            try:
                with Store(path, readonly=True) as ro:
                    n = ro.count("readings", target)
            except Exception as err:  # noqa: BLE001 - the run may not exist yet
                n, why = 0, f"{type(err).__name__}: {err}"
        assert proc.poll() is None, f"the replay ended before it was interrupted ({n}; {why})"
        assert n >= 10, f"the replay did not start writing ({why})"
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
    assert proc.returncode == status, err
    assert "interrupted" in err
    with Store(path, readonly=True) as store:
        assert store.integrity_check() == ["ok"]
        seqs = [r.seq for r in store.readings(target)]
        total = store.count("readings", RUN)
        assert 10 <= len(seqs) < total
        assert seqs == list(range(len(seqs)))  # a prefix
        summary = store.run(target)
        assert summary.status == "aborted" and "interrupted" in summary.reason
        assert store.count("readings", RUN) == total


def test_a_new_model_version_lands_in_its_own_run(stored, tmp_path):
    """Re-estimating with a new version: the replay's estimates carry it, the original keeps its."""
    from synthwatch.models.uvvis.model import UVVisFeatures
    from synthwatch.stream.runtime.registry import ModelRegistry

    class FeaturesV2(UVVisFeatures):
        version = "2-test"

    class Registry:
        def __init__(self):
            self.inner = ModelRegistry()

        def __call__(self, start, descriptor):
            models = self.inner(start, descriptor)
            models.estimators = [
                FeaturesV2(**m._get_params()) if type(m) is UVVisFeatures else m
                for m in models.estimators
            ]
            return models

        def run_models(self, start):
            return self.inner.run_models(start)

    path = tmp_path / "s.sqlite"
    path.write_bytes(stored.read_bytes())
    with Store(path) as store:
        result = replay(StoreSource(store, RUN), store, tag="v2", model_factory=Registry())
        new = {e.model_version for e in store.estimates(result.run_id, model="uvvis_features")}
        old = {e.model_version for e in store.estimates(RUN, model="uvvis_features")}
    assert new == {"2-test"} and old == {"1"}
    assert result.run_id == f"{RUN}:v2"
