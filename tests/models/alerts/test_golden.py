"""Golden-batch envelope: build, serialise, live z-scores and T2 with contributions."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from synthwatch.contract.messages import Estimate, Quantity, RunStart
from synthwatch.models.alerts.golden import Envelope, GoldenBatch, RunSeries, build_envelope

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
T = np.arange(0.0, 3600.0, 10.0)


def good_runs(n=6, seed=0):
    rng = np.random.default_rng(seed)
    runs = []
    for k in range(n):
        u = rng.normal()  # one run-to-run factor moves both: more Au(0), larger particles
        d = 15 * (1 - np.exp(-T / 900)) + 0.2 * u + rng.normal(0, 0.05, T.size)
        a = 0.5 * (1 - np.exp(-T / 900)) + 0.005 * u + rng.normal(0, 0.002, T.size)
        runs.append(RunSeries(f"g{k}", {"psd.d_mean_nm": (T, d), "uvvis_features.au0_mM": (T, a)}))
    return runs


def est(t_s, measurement, **values):
    return Estimate(
        run_id="live",
        t=T0 + timedelta(seconds=t_s),
        sensor_id="uv1",
        model="m",
        model_version="1",
        measurement=measurement,
        quantities=[Quantity(name=k, value=v, units="1") for k, v in values.items()],
    )


def test_envelope_round_trips_through_json():
    env = build_envelope(good_runs(), recipe="Au-15", bin_width=60.0)
    back = Envelope.from_dict(json.loads(json.dumps(env.to_dict())))
    assert back.quantities == env.quantities
    np.testing.assert_allclose(back.mean, env.mean, equal_nan=True)
    np.testing.assert_allclose(back.corr, env.corr)
    # the two quantities move together across runs: positively correlated z-scores
    assert env.corr[0, 1] > 0.3


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda d: d.pop("sd"), "sd"),
        (lambda d: d.update(align="sideways"), "align"),
        (lambda d: d.update(bin_width=0), "bin_width"),
        (lambda d: d.update(corr=[[1.0]]), "corr"),
        (lambda d: d.update(format="other/1"), "format"),
    ],
)
def test_bad_envelope_files_name_the_field(mutate, field):
    d = build_envelope(good_runs(), recipe="Au-15").to_dict()
    mutate(d)
    with pytest.raises(ValueError, match=field):
        Envelope.from_dict(d, source="golden/Au-15.json")


def test_a_single_run_is_no_golden_batch():
    with pytest.raises(ValueError, match="at least 2"):
        build_envelope(good_runs(1), recipe="Au-15")


def test_live_scores_a_good_run_low_and_a_drifted_one_high():
    env = build_envelope(good_runs(), recipe="Au-15", bin_width=60.0)
    good = good_runs(1, seed=99)[0].series
    for offset, expect_high in ((0.0, False), (1.5, True)):
        mon = GoldenBatch(env)
        mon.update(RunStart(run_id="live", t=T0, reactor="R1", system="Au-citrate"))
        t2 = []
        for k in range(60, T.size, 10):
            d = float(good["psd.d_mean_nm"][1][k]) + offset
            a = float(good["uvvis_features.au0_mM"][1][k])
            mon.update(est(T[k], "uvvis_features", au0_mM=a))
            mon.update(est(T[k], "psd", d_mean_nm=d))
            t2.append(mon.estimate.get("t2").value)
        if expect_high:
            assert min(t2) > 9.0
            top = max(mon.contributions, key=mon.contributions.get)
            assert top == "psd.d_mean_nm"
            assert sum(mon.contributions.values()) == pytest.approx(t2[-1])
        else:
            assert np.median(t2) < 6.0


def test_unknown_quantities_and_times_outside_are_not_scored():
    env = build_envelope(good_runs(), recipe="Au-15", bin_width=60.0)
    mon = GoldenBatch(env)
    mon.update(RunStart(run_id="live", t=T0, reactor="R1", system="Au-citrate"))
    mon.update(est(100.0, "psd", gsd=1.1))
    assert mon.estimate is None
    mon.update(est(99999.0, "psd", d_mean_nm=15.0))
    assert mon.estimate is None and mon.z_scores == {}
