"""Co-adding spectra before a fit: the mean of n good spectra, bad frames alone, never hidden."""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthwatch.collectors.sim.gold import GoldCitrateSimulator, noise_free_spectrum
from synthwatch.contract.messages import Descriptor, Reading, RunStart
from synthwatch.models.base import Model
from synthwatch.models.psd.lognormal import LognormalPSD
from synthwatch.models.uvvis.coadd import Coadd, spectra_per_average
from synthwatch.stream.runtime.kernels import kernel_for
from synthwatch.stream.runtime.registry import ModelRegistry

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
WL = np.arange(300.0, 901.0, 2.0)


class Seen(Model):
    """Records what it was fed (values and seq); its estimate is the last of them."""

    name, version = "seen", "1"

    def __init__(self):
        self._fed: list[tuple[int, list[float], list[str]]] = []

    def update(self, message) -> None:
        self._fed.append((message.seq, list(message.values), list(message.flags)))

    @property
    def estimate(self):
        return self._fed[-1] if self._fed else None


def reading(seq: int, values, flags=()) -> Reading:
    return Reading(
        run_id="r",
        t=T0 + timedelta(seconds=seq),
        sensor_id="uv1",
        seq=seq,
        values=[float(v) for v in values],
        flags=list(flags),
    )


def test_the_mean_of_every_n_good_spectra_at_the_last_ones_time():
    avg = Coadd(Seen(), n=4)
    out = []
    for k in range(9):
        avg.update(reading(k, [k, 2 * k]))
        out.append(avg.estimate)
    assert [o for o in out if o is not None] == [(3, [1.5, 3.0], []), (7, [5.5, 11.0], [])]
    assert avg.pending == 1


@pytest.mark.parametrize(
    "bad",
    [
        reading(2, [1.0, float("nan")]),
        reading(2, [1.0, 3.2]),  # saturated
        reading(2, [1.0, 1.0], flags=["dropout"]),
        reading(2, [1.0, 1.0, 1.0]),  # another number of points
    ],
    ids=["nan", "saturated", "flagged", "length"],
)
def test_a_bad_frame_goes_to_the_model_alone_at_once_and_is_not_averaged(bad):
    avg = Coadd(Seen(), n=3, saturation_au=3.0)
    avg.update(reading(0, [1.0, 1.0]))
    avg.update(reading(1, [2.0, 2.0]))
    avg.update(bad)
    assert avg.estimate is not None and avg.estimate[0] == 2  # fed alone, right away
    avg.update(reading(3, [3.0 - 1e-9, 0.0]))
    assert avg.estimate[0] == 3 and avg.estimate[1] == pytest.approx([2.0, 1.0])


def test_other_messages_pass_through_and_n_1_is_the_model_itself():
    seen = Seen()
    avg = Coadd(seen, n=1)
    for k in range(3):
        avg.update(reading(k, [k]))
        assert avg.estimate == (k, [float(k)], [])


@pytest.mark.parametrize("n", [0, -1, 2.5])
def test_bad_settings_are_refused(n):
    with pytest.raises(ValueError, match="n: expected"):
        Coadd(Seen(), n=n)
    with pytest.raises(ValueError, match="saturation_au"):
        Coadd(Seen(), n=2, saturation_au=-1.0)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 6),
    rows=st.lists(st.lists(st.floats(-1, 2, allow_nan=False), min_size=3, max_size=3), max_size=30),
)
def test_property_each_emitted_spectrum_is_the_mean_of_its_block(n, rows):
    avg = Coadd(Seen(), n=n, saturation_au=3.0)
    emitted = []
    for k, row in enumerate(rows):
        avg.update(reading(k, row))
        if avg.estimate is not None:
            emitted.append(avg.estimate)
    assert len(emitted) == len(rows) // n
    for j, (seq, values, _) in enumerate(emitted):
        block = np.asarray(rows[j * n : (j + 1) * n])
        assert seq == (j + 1) * n - 1
        np.testing.assert_allclose(values, block.mean(axis=0), rtol=1e-12, atol=1e-12)


def test_spectra_per_average():
    assert spectra_per_average(5.0, 1.0) == 5
    assert spectra_per_average(5.0, 2.0) == 2
    assert spectra_per_average(1.0, 2.0) == 1
    assert spectra_per_average(5.0, None) == 1
    assert spectra_per_average(0.0, 1.0) == 1


def _kernel():
    desc = Descriptor(
        run_id="r",
        t=T0,
        sensor_id="uv1",
        kind="uvvis",
        axis=list(WL),
        axis_units="nm",
        value_units="AU",
        path_length_cm=1.0,
    )
    return kernel_for(desc, "Au-citrate", ensemble=False)  # the single fit: noise alone


def test_averaging_five_spectra_tightens_the_size_fit():
    """Seeded: 5-spectrum means give a smaller spread of d_mean than single spectra."""
    kernel = _kernel()
    clean = noise_free_spectrum(12.0, 1.1, au0_mM=0.25, wavelengths_nm=WL)
    rng = np.random.default_rng(3)
    single, averaged = LognormalPSD(kernel), Coadd(LognormalPSD(kernel), n=5)
    d_single, d_avg = [], []
    for k in range(200):
        r = reading(k, clean + rng.normal(0.0, 0.01, WL.size))
        single.update(r)
        d_single.append(single.estimate.get("d_mean_nm").value)
        averaged.update(r)
        if averaged.estimate is not None:
            d_avg.append(averaged.estimate.get("d_mean_nm").value)
    assert len(d_avg) == 40
    assert abs(np.mean(d_avg) - 12.0) < 0.3
    assert np.std(d_avg) < 0.6 * np.std(d_single)  # sqrt(1/5) = 0.45 expected


def test_resumes_identically_after_a_pickle_round_trip_mid_block():
    rows = [reading(k, np.full(4, 0.1 * k)) for k in range(11)]
    a = Coadd(Seen(), n=4)
    for r in rows[:6]:
        a.update(r)
    b = pickle.loads(pickle.dumps(a))
    out_a, out_b = [], []
    for r in rows[6:]:
        a.update(r)
        b.update(r)
        out_a.append(a.estimate)
        out_b.append(b.estimate)
    assert out_a == out_b and any(o is not None for o in out_a)


def test_the_registry_wraps_the_psd_and_shape_check_when_asked():
    sim = GoldCitrateSimulator(seed=0, duration_s=60, interval_s=1.0)
    start: RunStart = sim.run_start()
    desc = sim.descriptor()
    plain = ModelRegistry()(start, desc).estimators
    assert not any(isinstance(m, Coadd) for m in plain)
    models = ModelRegistry(psd_average_s=5.0)(start, desc).estimators
    wrapped = {m.name: m.n for m in models if isinstance(m, Coadd)}
    assert wrapped == {"psd_lognormal": 5, "uvvis_shape": 5}
