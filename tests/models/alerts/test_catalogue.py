"""The catalogue of quantities matches what the models really emit (so rule files can trust it)."""

from __future__ import annotations

import pytest

from synthwatch.collectors.sim.faults import with_temperature
from synthwatch.collectors.sim.scenarios import simulate
from synthwatch.collectors.sim.stober import StoberSimulator
from synthwatch.contract.messages import Estimate
from synthwatch.models.alerts.catalogue import is_known
from synthwatch.stream.runtime.pipeline import run_embedded
from synthwatch.stream.sinks.base import Sink


class Collect(Sink):
    def __init__(self):
        self.estimates: list[Estimate] = []

    def add(self, message) -> None:
        if isinstance(message, Estimate):
            self.estimates.append(message)

    def flush(self) -> None:
        pass


def emitted(messages) -> set[str]:
    sink = Collect()
    run_embedded(messages, [sink], speed=0)
    return {f"{e.measurement}.{q.name}" for e in sink.estimates for q in e.quantities}


@pytest.mark.slow
def test_every_emitted_quantity_is_in_the_catalogue():
    names: set[str] = set()
    for scenario in ("gold", "silver", "gold-rods"):
        sim = simulate(scenario, seed=0, duration_s=1800.0, interval_s=20.0)
        names |= emitted(with_temperature(sim.messages(), 100.0, 60.0))
    names |= emitted(StoberSimulator(seed=0, duration_s=6 * 3600.0).messages())
    assert {n.split(".")[0] for n in names} >= {"uvvis_features", "psd", "kinetics", "scalar"}
    unknown = sorted(n for n in names if not is_known(n))
    assert unknown == [], f"emitted but not in models/alerts/catalogue.py: {unknown}"
