"""Injected faults: what each does to a run's messages, seeded."""

from __future__ import annotations

import numpy as np

from synthwatch.collectors.sim.faults import bubble_burst, lamp_decay, stall, with_temperature
from synthwatch.collectors.sim.gold import GoldCitrateSimulator
from synthwatch.collectors.sim.stober import StoberSimulator
from synthwatch.contract.messages import Descriptor, Reading
from synthwatch.models.impedance.model import ImpedanceFit


def gold(duration=3600.0):
    return list(GoldCitrateSimulator(seed=0, duration_s=duration, interval_s=60).messages())


def readings(msgs, sensor):
    return [m for m in msgs if isinstance(m, Reading) and m.sensor_id == sensor]


def test_temperature_probe_is_merged_in_time_order_with_its_offset():
    msgs = list(with_temperature(gold(), 100.0, 30.0, offset_degC=3.0, offset_from_s=1800.0))
    assert [type(m).__name__ for m in (msgs[0], msgs[-1])] == ["RunStart", "RunStop"]
    times = [m.t for m in msgs]
    assert times == sorted(times)
    temps = readings(msgs, "T1")
    before = np.mean([r.values[0] for r in temps[:55]])
    after = np.mean([r.values[0] for r in temps[65:]])
    assert abs(before - 100.0) < 0.5 and 2.0 < after - before < 4.0
    assert msgs == list(
        with_temperature(gold(), 100.0, 30.0, offset_degC=3.0, offset_from_s=1800.0)
    )


def test_stall_drops_only_that_sensor_after_its_time():
    msgs = gold()
    out = list(stall(msgs, "uv1", from_s=1200.0))
    assert len(readings(out, "uv1")) == 20 and len(out) == len(msgs) - 40


def test_lamp_decay_grows_the_noise():
    msgs = gold(4 * 3600.0)
    out = list(lamp_decay(msgs, "uv1", from_s=0.0, tau_s=3600.0))
    diff_late = np.asarray(readings(out, "uv1")[-1].values) - readings(msgs, "uv1")[-1].values
    diff_early = np.asarray(readings(out, "uv1")[1].values) - readings(msgs, "uv1")[1].values
    assert np.std(diff_late) > 5 * np.std(diff_early)


def test_bubble_burst_sweeps_fail_kramers_kronig():
    msgs = list(StoberSimulator(seed=0, duration_s=4 * 3600.0, p_bubble=0, p_spike=0).messages())
    desc = next(m for m in msgs if isinstance(m, Descriptor))
    out = list(bubble_burst(msgs, desc.sensor_id, from_s=3600.0, duration_s=600.0))
    model = ImpedanceFit(desc)
    flagged = []
    for r in readings(out, desc.sensor_id):
        model.update(r)
        flagged.append("kk_invalid" in model.estimate.flags)
    t0 = msgs[0].t
    times = [(r.t - t0).total_seconds() for r in readings(out, desc.sensor_id)]
    in_burst = [f for f, t in zip(flagged, times) if 3600 <= t < 4200]
    outside = [f for f, t in zip(flagged, times) if not 3600 <= t < 4200]
    assert sum(in_burst) >= 0.8 * len(in_burst) and sum(outside) == 0
