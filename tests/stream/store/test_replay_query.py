"""Thinned reads of a run: evenly spread, first and last kept, the same as the full reads."""

from __future__ import annotations

import numpy as np

from synthwatch.collectors.sim.gold import GoldCitrateSimulator
from synthwatch.stream.runtime.pipeline import run_embedded
from synthwatch.stream.store.embedded import Store
from synthwatch.stream.store.thinned import pick, thinned_estimates, thinned_readings


def test_pick():
    assert pick(5, 10).tolist() == [0, 1, 2, 3, 4]
    idx = pick(1000, 7)
    assert idx[0] == 0 and idx[-1] == 999 and len(idx) == 7
    assert np.all(np.diff(idx) > 0)


def test_thinned_reads_match_the_full_ones(tmp_path):
    sim = GoldCitrateSimulator(
        seed=4, duration_s=1200.0, interval_s=10.0, wavelengths_nm=np.arange(400.0, 801.0, 8.0)
    )
    with Store(tmp_path / "s.sqlite") as store:
        run_embedded(sim.messages(), [store])
        run = sim.run_id
        full = store.estimates(run, model="uvvis_features")
        thin = thinned_estimates(store, run, "uvvis_features", 9)
        assert thin == [full[i] for i in pick(len(full), 9)]
        psd = thinned_estimates(store, run, "psd_lognormal", 5, with_distribution=True)
        assert len(psd) == 5 and all(e.distribution is not None for e in psd)
        assert [e.t for e in psd] == sorted(e.t for e in psd)
        n, readings = thinned_readings(store, run, "uv1", 4)
        everything = list(store.readings(run, "uv1"))
        assert n == len(everything) == 120
        assert readings == [everything[i] for i in pick(120, 4)]
        assert thinned_estimates(store, run, "no-such-model", 5) == []
