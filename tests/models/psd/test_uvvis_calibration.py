"""UVVisSizeCalibration: a log-bias of the UV-Vis size learned from delayed labels."""

from __future__ import annotations

import math
import pickle
import random
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthwatch.contract.messages import Estimate, Label, Quantity, RunStart
from synthwatch.models.base import Model
from synthwatch.models.psd.calibration import UVVisSizeCalibration

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
LOW = 0.85  # the UV-Vis size is 15 % low
NOISE = 0.01  # relative noise sd of one fit
MODEL = 0.15  # relative model-error sd of the size


def size_nm(minute: float) -> float:
    """The true size: grows fast, then levels off at 40 nm (ln d curved in time)."""
    return 40.0 - 30.0 * math.exp(-minute / 60.0)


def psd(
    minute: float,
    d_nm: float | None,
    flags=(),
    model="psd_lognormal",
    sensor="uv1",
    noise=NOISE,
    model_sd=MODEL,
    seq=None,
) -> Estimate:
    q = Quantity(
        name="d_mean_nm",
        value=d_nm,
        units="nm",
        uncertainty=None if d_nm is None else math.hypot(noise, model_sd) * d_nm,
        uncertainty_noise=None if d_nm is None else noise * d_nm,
        uncertainty_model=None if d_nm is None else model_sd * d_nm,
    )
    return Estimate(
        run_id="r1",
        t=T0 + timedelta(minutes=minute),
        sensor_id=sensor,
        seq=seq,
        model=model,
        model_version="1",
        measurement="psd",
        quantities=[q, Quantity(name="gsd", value=1.1, units="1")],
        flags=list(flags),
    )


def label(sample_min: float, value: float, sd: float | None = None, delay_min=240.0, **kw):
    return Label(
        run_id="r1",
        t=T0 + timedelta(minutes=sample_min + delay_min),
        sample_t=T0 + timedelta(minutes=sample_min),
        quantity=kw.pop("quantity", "d_mean_nm"),
        value=value,
        uncertainty=sd,
        units=kw.pop("units", "nm"),
        method="TEM",
    )


def growth(cal, minutes=range(0, 300), low=LOW, **kw) -> None:
    for m in minutes:
        cal.update(psd(m, low * size_nm(m), **kw))


def conjugate(residuals, sigmas, prior_sd):
    """Posterior mean and variance of b by the conjugate-normal formulas (Bishop 2006, 3.3)."""
    precision = 1.0 / prior_sd**2 + sum(1.0 / s**2 for s in sigmas)
    mean = sum(r / s**2 for r, s in zip(residuals, sigmas)) / precision
    return mean, 1.0 / precision


def test_three_labels_of_a_size_15_percent_low_correct_it_to_within_the_label_noise():
    cal = UVVisSizeCalibration()
    growth(cal)
    rng = random.Random(1)
    label_noise_ln = []
    for m in (20, 90, 200):  # TEM, 4 % sd, one during fast growth
        noise = rng.gauss(0.0, 0.04)
        label_noise_ln.append(math.log1p(noise))
        cal.update(label(m, size_nm(m) * (1 + noise), sd=0.04 * size_nm(m)))
    assert cal.n_labels == 3 and cal.unmatched == 0
    sd_of_mean = 0.04 / math.sqrt(3)
    assert cal.correction_ln == pytest.approx(-math.log(LOW), abs=2 * sd_of_mean)
    # what the labels say, but for the prior's small pull towards 0
    ideal = -math.log(LOW) + sum(label_noise_ln) / 3
    assert cal.correction_ln == pytest.approx(ideal, abs=0.01)
    assert cal.correction_sd_ln == pytest.approx(sd_of_mean, rel=0.05)
    assert cal.pv_mae_nm < cal.uncorrected_mae_nm
    cal.update(psd(300, LOW * size_nm(300), seq=7))
    est = cal.estimate
    assert (est.measurement, est.model, est.sensor_id, est.seq) == (
        "psd_calibrated",
        "uvvis_size_calibration",
        "uv1",
        7,
    )
    q = est.get("d_mean_corrected_nm")
    assert q.units == "nm" and q.value == pytest.approx(size_nm(300), rel=2 * sd_of_mean)
    assert abs(q.value - size_nm(300)) < 2 * q.uncertainty
    assert q.uncertainty_noise == pytest.approx(NOISE * q.value)  # the fit's noise, scaled
    assert q.uncertainty == pytest.approx(math.hypot(q.uncertainty_noise, q.uncertainty_model))
    assert q.uncertainty_model < 0.04 * q.value < MODEL * q.value  # the labels beat the prior
    assert q.lower < q.value - 1.9 * q.uncertainty and q.upper > q.value + 1.9 * q.uncertainty
    b = est.get("correction_ln")
    assert b.value == cal.correction_ln and b.uncertainty == pytest.approx(cal.correction_sd_ln)
    assert est.get("n_labels").value == 3


def test_the_posterior_is_the_conjugate_normal_one_and_labels_are_weighted_by_variance():
    cal = UVVisSizeCalibration(match_degree=0)
    for m in range(0, 300):
        cal.update(psd(m, 20.0, noise=0.0))  # a constant size: the match is exact
    cases = [(21.0, 0.01), (26.0, 0.20), (24.0, None)]  # sd None: default_label_rel_sd
    residuals, sigmas = [], []
    for k, (value, rel) in enumerate(cases):
        cal.update(label(60 * (k + 1), value, None if rel is None else rel * value))
        residuals.append(math.log(value / 20.0))
        sigmas.append(0.05 if rel is None else rel)
        mean, var = conjugate(residuals, sigmas, MODEL)
        assert cal.correction_ln == pytest.approx(mean, rel=1e-9)
        assert cal.correction_sd_ln**2 == pytest.approx(var, rel=1e-8)
    # the 1 % label dominates: b is near ln(21/20), not the plain mean of the residuals
    assert abs(cal.correction_ln - math.log(21 / 20)) < 0.01
    assert abs(cal.correction_ln - sum(residuals) / 3) > 0.05


def test_the_estimate_noise_adds_to_the_label_variance():
    quiet, noisy = UVVisSizeCalibration(match_degree=0), UVVisSizeCalibration(match_degree=0)
    for m in range(0, 20):
        quiet.update(psd(m, 20.0, noise=0.0))
        noisy.update(psd(m, 20.0, noise=0.3))  # 20 fits of 30 % noise in +-5 min: 6.7 %
    for cal in (quiet, noisy):
        cal.update(label(10, 24.0, 0.05 * 24.0))
    r = math.log(24 / 20)
    assert quiet.correction_ln == pytest.approx(conjugate([r], [0.05], MODEL)[0])
    sigma = math.hypot(0.05, 0.3 / math.sqrt(11))  # 11 fits within 5 min of minute 10
    assert noisy.correction_ln == pytest.approx(conjugate([r], [sigma], MODEL)[0])


def test_without_labels_the_prior_is_the_model_error():
    cal = UVVisSizeCalibration(min_labels=0)
    cal.update(psd(0, 20.0, model_sd=0.2))
    q = cal.estimate.get("d_mean_corrected_nm")
    assert q.value == 20.0 and q.uncertainty_model == pytest.approx(0.2 * 20.0)
    assert cal.estimate.get("correction_ln").value == 0.0
    # the first label fixes the prior from its matched estimates' model sd
    cal.update(label(0, 22.0, 0.05 * 22.0))
    mean, var = conjugate([math.log(22 / 20)], [math.hypot(0.05, NOISE)], 0.2)
    assert cal.correction_ln == pytest.approx(mean) and cal.correction_sd_ln**2 == (
        pytest.approx(var)
    )


def test_labels_are_matched_at_their_sample_time_on_the_curve_not_by_the_window_mean():
    exact = {"noise": 0.0}
    quad, mean = UVVisSizeCalibration(), UVVisSizeCalibration(match_degree=0)
    for cal in (quad, mean):
        growth(cal, low=1.0, **exact)
        cal.update(label(10, size_nm(10), 0.01 * size_nm(10)))  # no bias at all
    assert abs(quad.correction_ln) < 0.002
    assert mean.correction_ln > 0.005  # the mean over +-5 min of a curved ln d is low
    # estimates on one side only (the sample at the end of the history): a linear trend
    late = UVVisSizeCalibration(match_window_s=600.0)
    growth(late, minutes=range(0, 31), low=1.0, **exact)
    late.update(label(30, size_nm(30), 0.01 * size_nm(30)))
    assert abs(late.correction_ln) < 0.01


def test_progressive_validation_scores_each_label_before_learning_it():
    cal = UVVisSizeCalibration()
    growth(cal, **{"noise": 0.0})
    cal.update(label(60, size_nm(60), 0.02 * size_nm(60)))
    first = cal.estimate
    assert (first.sensor_id, first.measurement, first.flags) == (
        "calibration",
        "psd_calibrated",
        [],
    )
    raw = abs(LOW * size_nm(60) - size_nm(60))
    # before any label the prediction is the prior mean, b = 0: the uncorrected size
    # (rel 1e-5: the local quadratic of the match misses ln d's cubic term by ~3e-6)
    assert first.get("pv_abs_error_nm").value == pytest.approx(raw, rel=1e-5)
    assert first.get("uncorrected_abs_error_nm").value == pytest.approx(raw, rel=1e-5)
    b1 = cal.correction_ln
    cal.update(label(120, size_nm(120), 0.02 * size_nm(120)))
    second = cal.estimate
    predicted = LOW * size_nm(120) * math.exp(b1)
    assert second.get("pv_abs_error_nm").value == pytest.approx(
        abs(predicted - size_nm(120)), rel=1e-4
    )
    assert second.get("pv_abs_error_nm").value > 0.01  # not learned first (that would be ~0)
    assert cal.pv_mae_nm == pytest.approx((raw + abs(predicted - size_nm(120))) / 2, rel=1e-4)
    assert second.get("n_labels").value == 2 and second.get("correction_ln").value == (
        cal.correction_ln
    )


def test_unmatched_and_invalid_labels_are_flagged_and_not_learned():
    cal = UVVisSizeCalibration()
    growth(cal, minutes=range(0, 60))
    cal.update(label(200, 30.0))  # no estimate within 5 min of its sample (arrival: 440 min)
    est = cal.estimate
    assert est.flags == ["label_unmatched"] and est.get("pv_abs_error_nm").value is None
    assert cal.unmatched == 1 and cal.n_labels == 0 and math.isnan(cal.pv_mae_nm)
    cal.update(label(30, 3.0, units="um"))
    assert cal.estimate.flags == ["label_invalid"] and cal.n_labels == 0
    cal.update(label(30, 10.0, quantity="number_per_ml"))
    assert cal.estimate is None and cal.n_labels == 0
    cal.update(psd(60, 20.0))
    assert cal.estimate is None  # still no correction


def test_disqualified_estimates_are_neither_matched_nor_corrected():
    cal = UVVisSizeCalibration()
    bad = [
        psd(0, 20.0, flags=["too_broad"]),
        psd(1, 20.0, flags=["at_grid_edge"]),
        psd(2, 20.0, flags=["dropout", "no_signal"]),
        psd(3, 20.0, flags=["something_new"]),  # unknown flags disqualify
        psd(4, None),
        psd(5, 20.0, model="psd_nnls"),
        psd(6, 20.0, flags=["at_bound:d_mean_nm"]),  # pinned at its bound: not matched
    ]
    for est in bad:
        cal.update(est)
    cal.update(label(3, 25.0))
    assert cal.estimate.flags == ["label_unmatched"]
    # informational flags keep an estimate
    cal.update(psd(100, 20.0, flags=["dropout", "saturated", "at_bound:gsd", "unexplained"]))
    cal.update(label(100, 25.0))
    assert cal.estimate.flags == [] and cal.n_labels == 1
    for est in bad[:-1]:
        cal.update(est)
        assert cal.estimate is None
    cal.update(bad[-1])  # corrected, its one-sided interval carried over
    assert cal.estimate.get("d_mean_corrected_nm").value > 20.0


def test_no_output_before_min_labels():
    cal = UVVisSizeCalibration(min_labels=2)
    growth(cal, minutes=range(0, 100))
    cal.update(label(30, size_nm(30)))
    assert cal.estimate.get("n_labels").value == 1  # the label's score
    cal.update(psd(100, 20.0))
    assert cal.estimate is None
    cal.update(label(60, size_nm(60)))
    cal.update(psd(101, 20.0))
    assert cal.estimate.get("d_mean_corrected_nm").value > 20.0


def test_a_size_dependent_bias_shows_as_scatter_not_as_certainty():
    const, varying = UVVisSizeCalibration(), UVVisSizeCalibration()
    for m in range(0, 300):
        d = size_nm(m)
        const.update(psd(m, LOW * d, noise=0.0))
        varying.update(psd(m, d * (0.6 + 0.01 * d), noise=0.0))  # 30 % low at 10 nm, 0 at 40
    for m in (5, 30, 60, 120, 250):
        for cal in (const, varying):
            cal.update(label(m, size_nm(m), 0.02 * size_nm(m)))
    assert const.correction_scatter_ln < 0.01
    assert varying.correction_scatter_ln > 0.05
    varying.update(psd(300, 20.0, noise=0.0))
    q = varying.estimate.get("d_mean_corrected_nm")
    assert q.uncertainty_model > q.value * math.hypot(varying.correction_sd_ln, 0.05)
    assert varying.estimate.get("correction_scatter_ln").value == varying.correction_scatter_ln


@settings(max_examples=60, deadline=None)
@given(
    bias=st.floats(-0.4, 0.4),
    label_sd=st.floats(0.005, 0.2),
    seed=st.integers(0, 2**16),
)
def test_a_constant_bias_is_recovered_for_any_bias_and_label_sd(bias, label_sd, seed):
    cal = UVVisSizeCalibration()
    growth(cal, low=math.exp(-bias), noise=0.0)
    rng = random.Random(seed)
    residuals, sigmas = [], []
    for m in (10, 40, 80, 120, 160, 200, 240, 280):  # noise-free labels, stated sd label_sd
        cal.update(label(m, size_nm(m), label_sd * size_nm(m)))
        residuals.append(bias)
        sigmas.append(label_sd)
    mean, var = conjugate(residuals, sigmas, MODEL)
    # only the prior's shrinkage (and the match's ~1e-5 miss of ln d's cubic term)
    assert cal.correction_ln == pytest.approx(mean, abs=1e-4)
    assert abs(cal.correction_ln - bias) < label_sd  # within one label's sd
    assert abs(cal.correction_ln) <= abs(bias) + 1e-4  # shrunk towards 0, never past the bias
    # noisy labels: the truth within 3 posterior sds (plus the prior's pull)
    noisy = UVVisSizeCalibration()
    growth(noisy, low=math.exp(-bias), noise=0.0)
    for m in (10, 40, 80, 120, 160, 200, 240, 280):
        d = size_nm(m) * math.exp(rng.gauss(0.0, label_sd))
        noisy.update(label(m, d, label_sd * d))
    shrink = abs(bias) * var / MODEL**2
    assert abs(noisy.correction_ln - bias) < 4 * noisy.correction_sd_ln + shrink


def _stream():
    rng = random.Random(3)
    msgs: list = []
    for m in range(0, 400):
        d = LOW * size_nm(m) * math.exp(rng.gauss(0.0, NOISE))
        msgs.append((m, psd(m, d, seq=m, sensor="uv1" if m % 3 else "uv2")))
    for m in (20, 70, 150, 260):
        msgs.append((m + 60, label(m, size_nm(m) * math.exp(rng.gauss(0, 0.04)), delay_min=60)))
    msgs.sort(key=lambda x: (x[0], isinstance(x[1], Label)))
    return [x[1] for x in msgs]


def test_a_pickled_and_restored_model_goes_on_exactly_as_the_original():
    stream = _stream()
    cut = len(stream) // 2
    original = UVVisSizeCalibration()
    for msg in stream[:cut]:
        original.update(msg)
    assert original.n_labels >= 1
    restored = pickle.loads(pickle.dumps(original))
    assert restored.correction_ln == original.correction_ln
    assert restored.correction_sd_ln == original.correction_sd_ln
    assert restored.estimate == original.estimate
    for msg in stream[cut:]:
        original.update(msg)
        restored.update(msg)
        assert restored.estimate == original.estimate
    assert restored.n_labels == original.n_labels == 4
    assert restored.correction_ln == original.correction_ln
    assert restored.pv_mae_nm == original.pv_mae_nm
    clone = original.clone()
    assert clone.n_labels == 0 and clone.estimate is None and clone.correction_ln == 0.0
    for msg in stream:
        clone.update(msg)
    assert clone.correction_ln == original.correction_ln


@pytest.mark.parametrize(
    "kw",
    [
        {"match_window_s": 0},
        {"min_labels": -1},
        {"match_degree": 3},
        {"default_label_rel_sd": 0},
        {"prior_rel_sd_range": (0.5, 0.1)},
    ],
)
def test_bad_arguments(kw):
    with pytest.raises(ValueError):
        UVVisSizeCalibration(**kw)


def test_the_registry_builds_it_for_gold_and_silver_runs_only():
    from synthwatch.stream.runtime.registry import ModelRegistry

    reg = ModelRegistry(alerts=False)
    for system in ("Au-citrate", "Ag-citrate"):
        start = RunStart(run_id="r1", t=T0, reactor="R1", system=system)
        names = [m.name for m in reg.run_models(start)]
        assert "uvvis_size_calibration" in names
        assert names.index("uvvis_size_calibration") > names.index("size_calibration")
    silica = RunStart(run_id="r2", t=T0, reactor="R1", system="SiO2-Stober")
    assert "uvvis_size_calibration" not in [m.name for m in reg.run_models(silica)]
    gold = RunStart(run_id="r3", t=T0, reactor="R1", system="Au-citrate")
    off = ModelRegistry(uvvis_size_calibration=False, alerts=False).run_models(gold)
    assert "uvvis_size_calibration" not in [m.name for m in off]
    # the alert engine still comes last, so it sees the corrected sizes
    assert [m.name for m in ModelRegistry().run_models(gold)][-1] == "alert_engine"


class FakeLognormal(Model):
    """Stands in for LognormalPSD on a UV-Vis sensor: the reading's first value is the size."""

    name, version = "psd_lognormal", "1"

    def __init__(self):
        self._out: Estimate | None = None

    def update(self, reading) -> None:
        self._out = psd(0, reading.values[0], seq=reading.seq, sensor=reading.sensor_id)
        self._out = self._out.model_copy(update={"t": reading.t})

    @property
    def estimate(self) -> Estimate | None:
        return self._out


class Factory:
    """Fake sensor models, the registry's run-level models."""

    def __init__(self):
        from synthwatch.stream.runtime.registry import ModelRegistry

        self.registry = ModelRegistry(alerts=False, kinetics=False, calibration=False)

    def __call__(self, start, desc):
        from synthwatch.stream.runtime.registry import ModelSet

        return ModelSet(estimators=[FakeLognormal()])

    def run_models(self, start):
        return self.registry.run_models(start)


AXIS_NM = [400.0 + 50.0 * k for k in range(8)]


def test_the_worker_feeds_it_and_checkpoints_it_with_the_run():
    """A gold run with a UV-Vis sensor: the registry's run-level models, fed by the worker,
    the run's state through the checkpoint codec half-way, and on identically after it."""
    from synthwatch.contract.messages import Descriptor, Reading, RunStop
    from synthwatch.stream.runtime.checkpoint import (
        Checkpoint,
        decode_checkpoint,
        encode_checkpoint,
    )
    from synthwatch.stream.runtime.worker import Worker
    from synthwatch.stream.transport.memory import MemoryTransport

    rng = random.Random(5)
    start = RunStart(run_id="r1", t=T0, reactor="R1", system="Au-citrate")
    desc = Descriptor(run_id="r1", t=T0, sensor_id="uv1", kind="uvvis", axis=AXIS_NM,
                      axis_units="nm", value_units="AU", path_length_cm=1.0)  # fmt: skip
    timed: list = []
    for m in range(1, 400):
        d = LOW * size_nm(m) * math.exp(rng.gauss(0.0, NOISE))
        reading = Reading(run_id="r1", t=T0 + timedelta(minutes=m), sensor_id="uv1", seq=m,
                          values=[d] + [0.0] * 7)  # fmt: skip
        timed.append((m, 0, reading))
    for m in (20, 70, 150, 260):
        d = size_nm(m) * math.exp(rng.gauss(0.0, 0.04))
        timed.append((m + 60, 1, label(m, d, 0.04 * d, delay_min=60)))
    stream = [start, desc] + [x[2] for x in sorted(timed, key=lambda x: x[:2])]
    stream.append(RunStop(run_id="r1", t=T0 + timedelta(minutes=400), status="success"))

    def worker():
        w = Worker(
            MemoryTransport(), [], publish=False, reorder_window_s=0, model_factory=Factory()
        )
        out: list = []
        w.on_output(out.append)
        return w, out

    original, outputs = worker()
    cut = next(k for k, msg in enumerate(stream) if isinstance(msg, Label) and msg.t.hour >= 3)
    for msg in stream[:cut]:  # two labels learned, two to come
        original.handle_message(msg)
    state = original.run_state("r1")
    assert [m.name for m in state.run_models] == ["uvvis_size_calibration"]
    assert state.run_models[0].n_labels == 2
    blobs: dict[str, bytes] = {}
    raw = encode_checkpoint(Checkpoint("r1", 0, {}, state), blobs)
    restored, after = worker()
    restored.adopt_run(decode_checkpoint(raw, "test", blobs).state)
    n = len(outputs)
    for msg in stream[cut:]:
        original.handle_message(msg)
        restored.handle_message(msg)
    assert after == outputs[n:]

    mine = [e for e in outputs if isinstance(e, Estimate) and e.model == "uvvis_size_calibration"]
    scores = [e for e in mine if e.sensor_id == "calibration"]
    assert [e.get("n_labels").value for e in scores] == [1, 2, 3, 4]
    assert scores[-1].get("pv_mae_nm").value < scores[-1].get("uncorrected_mae_nm").value
    b = scores[-1].get("correction_ln")
    assert b.value == pytest.approx(-math.log(LOW), abs=2 * b.uncertainty + 0.01)
    psd_of = {e.seq: e for e in outputs if isinstance(e, Estimate) and e.model == "psd_lognormal"}
    corrected = [e for e in mine if e.sensor_id == "uv1"]
    assert len(corrected) == 399 - 80  # every spectrum after the first label (its arrival)
    last = corrected[-1]
    d_est = psd_of[last.seq].get("d_mean_nm").value
    assert last.get("d_mean_corrected_nm").value == pytest.approx(d_est * math.exp(b.value))
