"""SizeCalibration: labels matched at their sample time, predict-then-learn, bounded history."""

from __future__ import annotations

import copy
import math
from datetime import datetime, timedelta, timezone

import pytest

from synthwatch.contract.messages import Estimate, Label, Quantity
from synthwatch.models.impedance.calibration import SizeCalibration

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def fit(minutes: float, r_ct: float, flags=(), measurement="impedance_fit") -> Estimate:
    return Estimate(
        run_id="r1",
        t=T0 + timedelta(minutes=minutes),
        sensor_id="eis1",
        model="impedance_fit",
        model_version="1",
        measurement=measurement,
        quantities=[
            Quantity(name="r_ct_ohm", value=r_ct, units="ohm"),
            Quantity(name="conductivity_s_per_m", value=0.01, units="S/m"),
        ],
        flags=list(flags),
    )


def label(sample_min: float, value: float, delay_min: float = 180.0, quantity="d_mean_nm"):
    return Label(
        run_id="r1",
        t=T0 + timedelta(minutes=sample_min + delay_min),
        sample_t=T0 + timedelta(minutes=sample_min),
        quantity=quantity,
        value=value,
        units="nm",
        method="DLS",
    )


def size_of(r_ct: float) -> float:
    return 100.0 + 80.0 * math.log(r_ct / 1000.0)


def test_label_is_matched_to_the_features_at_its_sample_time_not_its_arrival():
    cal = SizeCalibration(min_labels=1)
    for m in range(0, 600, 10):
        cal.update(fit(m, 1000.0 + 10.0 * m))
    cal.update(label(100, size_of(2000.0)))
    cal.update(label(400, size_of(5000.0)))
    # learned from r_ct at 100 and 400 min (2000, 5000), not at arrival (+180 min)
    cal.update(fit(600, 2000.0))
    assert cal.estimate.get("d_mean_nm_pred").value == pytest.approx(size_of(2000.0), abs=3)
    cal.update(fit(610, 5000.0))
    assert cal.estimate.get("d_mean_nm_pred").value == pytest.approx(size_of(5000.0), abs=3)


def test_progressive_validation_predicts_before_learning():
    cal = SizeCalibration()
    for m in range(0, 600, 10):
        cal.update(fit(m, 1000.0 + 10.0 * m))
    cal.update(label(100, 150.0))
    first = cal.estimate
    assert first.get("pv_abs_error").value is None  # nothing learned yet to predict with
    assert first.get("n_labels").value == 1 and math.isnan(cal.pv_mae)
    before = copy.deepcopy(cal)
    x = before._x(before._features_at(T0 + timedelta(minutes=300)))
    predicted = before._regressor.predict_one(x)
    cal.update(label(300, 190.0))
    second = cal.estimate
    assert second.get("pv_abs_error").value == pytest.approx(abs(predicted - 190.0))
    assert second.get("pv_abs_error").value > 1.0  # not learned first (that would be ~0)
    assert cal.naive_mae == pytest.approx(40.0)
    assert cal.n_labels == 2


def test_no_predictions_before_min_labels_and_flagged_estimates_are_not_features():
    cal = SizeCalibration(min_labels=2)
    cal.update(fit(0, 1000.0))
    assert cal.estimate is None
    cal.update(fit(10, 9999.0, flags=["kk_invalid"]))
    assert cal.estimate is None
    cal.update(label(10, 120.0))  # matched to the clean estimate at 0 (within 5 min? no: 10)
    assert cal.estimate.flags == ["label_unmatched"] and cal.unmatched == 1


def test_other_quantities_and_measurements_are_ignored():
    cal = SizeCalibration()
    cal.update(fit(0, 1000.0, measurement="something_else"))
    cal.update(label(0, 10.0, quantity="number_per_ml"))
    assert cal.estimate is None and cal.n_labels == 0 and cal.unmatched == 0


def test_history_is_bounded():
    cal = SizeCalibration(max_history=50, history_s=3600.0)
    for m in range(0, 1000, 1):
        cal.update(fit(m, 1000.0 + m))
    assert len(cal._history) <= 50
    cal.update(label(10, 100.0))  # its sample is long gone from the history
    assert cal.estimate.flags == ["label_unmatched"]


def test_beats_the_last_label_on_a_simulated_run():
    from synthwatch.collectors.sim.stober import StoberSimulator
    from synthwatch.contract.messages import Descriptor, Reading
    from synthwatch.models.impedance.model import ImpedanceFit

    sim = StoberSimulator(seed=1, interval_s=300.0)
    cal = SizeCalibration()
    model = None
    for msg in sim.messages():
        if isinstance(msg, Descriptor):
            model = ImpedanceFit(msg)
        elif isinstance(msg, Reading):
            model.update(msg)
            cal.update(model.estimate)
        elif isinstance(msg, Label):
            cal.update(msg)
    assert cal.n_labels >= 8 and cal.unmatched == 0
    assert cal.pv_mae < cal.naive_mae


def test_uvvis_features_are_used_when_the_run_has_them():
    cal = SizeCalibration()
    for m in range(0, 600, 10):
        cal.update(
            Estimate(
                run_id="r1",
                t=T0 + timedelta(minutes=m),
                sensor_id="uv1",
                model="uvvis_features",
                model_version="1",
                measurement="uvvis_features",
                quantities=[Quantity(name="lambda_spr_nm", value=515.0 + m / 60, units="nm")],
                flags=["haiss_not_applicable"],  # informational: still a clean frame
            )
        )
    for sample in range(60, 541, 60):
        cal.update(label(sample, 10.0 + sample / 60))  # size = 10 nm + the SPR shift
    assert cal.naive_mae == pytest.approx(1.0)
    assert cal.estimate.get("pv_abs_error").value < 0.1


@pytest.mark.parametrize(
    "kw",
    [{"match_window_s": 0}, {"min_labels": 0}, {"prior_alpha": 0}, {"features": (("a", "b"),)}],
)
def test_bad_arguments(kw):
    with pytest.raises(ValueError):
        SizeCalibration(**kw)
