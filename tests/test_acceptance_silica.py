"""The impedance channel end to end: Stöber simulator -> pipeline -> store -> CLI."""

from __future__ import annotations

import numpy as np
import pytest

from synthwatch.collectors.sim.stober import StoberSimulator
from synthwatch.contract.messages import encode
from synthwatch.stream.cli.main import main
from synthwatch.stream.runtime.pipeline import run_embedded
from synthwatch.stream.store.embedded import Store

SIM = dict(duration_s=12 * 3600.0, interval_s=300.0, p_bubble=0.03, p_spike=0.03)


def run_pipeline(tmp_path, name: str, serialize: bool = False):
    sim = StoberSimulator(seed=5, **SIM)
    path = tmp_path / f"{name}.sqlite"
    with Store(path) as store:
        result = run_embedded(sim.messages(), [store], serialize=serialize)
    with Store(path, readonly=True) as store:
        run_id = result.run_ids[0]
        fits = store.estimates(run_id, measurement="impedance_fit")
        cal = store.estimates(run_id, measurement="calibration")
        summary = store.run(run_id)
    return sim, fits, cal, summary


@pytest.mark.slow
def test_silica_run_through_the_pipeline(tmp_path):
    sim, fits, cal, summary = run_pipeline(tmp_path, "a")
    truth = {p.seq: p for p in sim.truth}
    assert summary.status == "success" and summary.system == "SiO2-Stober"
    assert summary.n_readings == len(truth) == len(fits)
    for est in fits:
        p = truth[est.seq]
        assert ("kk_invalid" in est.flags) == (p.bubble or p.spike)
        if not est.flags:
            assert est.get("r_ct_ohm").value == pytest.approx(p.r_ct_ohm, rel=0.03)
            assert est.get("conductivity_s_per_m").value == pytest.approx(
                p.conductivity_s_per_m, rel=0.03
            )
    scores = [e for e in cal if any(q.name == "pv_mae" for q in e.quantities)]
    assert len(scores) == len(sim.labels) >= 3
    predictions = [e for e in cal if any(q.name == "d_mean_nm_pred" for q in e.quantities)]
    assert predictions
    last = predictions[-1]
    assert last.get("d_mean_nm_pred").value == pytest.approx(
        truth[last_seq(sim, last)].d_mean_nm, rel=0.15
    )


def last_seq(sim, est) -> int:
    return int(round((est.t - sim.start).total_seconds() / sim.interval_s))


@pytest.mark.slow
def test_replaying_a_silica_run_gives_identical_estimates(tmp_path):
    _, fits1, cal1, _ = run_pipeline(tmp_path, "one")
    _, fits2, cal2, _ = run_pipeline(tmp_path, "two", serialize=True)
    assert [encode(e) for e in fits1 + cal1] == [encode(e) for e in fits2 + cal2]
    assert np.isfinite([q.value for e in fits1 for q in e.quantities if q.value is not None]).all()


@pytest.mark.slow
def test_demo_system_silica_then_show_latest(tmp_path, capsys):
    store = str(tmp_path / "s.sqlite")
    args = ["--store", store, "demo", "--system", "silica", "--speed", "max", "--quiet"]
    assert main([*args, "--duration", "8h", "--interval", "600"]) == 0
    out = capsys.readouterr().out
    assert "(silica): 48 impedance sweeps" in out and "calibrated size" in out
    assert main(["--store", store, "show", "latest", "--rows", "4"]) == 0
    out = capsys.readouterr().out
    assert "impedance circuit fits over time" in out and "R_ct Ω" in out
    assert "delayed labels, scored before learning" in out
    assert "status: success; 48 readings" in out


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--scenario", "gold"], "--system silica and --scenario gold disagree"),
        (["--size", "20"], "--size applies to the gold and silver scenarios"),
        (["--duration", "1h", "--interval", "2h"], "longer than the duration"),
    ],
)
def test_silica_demo_mistakes_give_one_line(tmp_path, capsys, extra, words):
    store = str(tmp_path / "s.sqlite")
    assert main(["--store", store, "demo", "--system", "silica", "--quiet", *extra]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1


def test_silica_demo_timing_defaults():
    from synthwatch.contract.config import DemoConfig
    from synthwatch.stream.cli.demo_silica import demo_timing

    assert demo_timing(DemoConfig(scenario="silica")) == (86400.0, 60.0)
    assert demo_timing(DemoConfig(scenario="gold")) == (7200.0, 2.0)
    assert demo_timing(DemoConfig(scenario="silica", duration_s=3600.0)) == (3600.0, 60.0)
