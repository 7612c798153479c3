"""The soak benchmark's simulated run and its bookkeeping, on a few minutes (speed: benchmarks/)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from synthwatch.contract.messages import Descriptor, Reading, RunStart, RunStop

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_soak.py"


def _bench():
    sys.path.insert(0, str(BENCH.parent))
    spec = importlib.util.spec_from_file_location("bench_soak", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_soak_run_is_three_sensors_in_event_time_order():
    bench = _bench()
    msgs = list(bench.soak_messages(seed=0, hours=0.05))
    assert isinstance(msgs[0], RunStart) and isinstance(msgs[-1], RunStop)
    kinds = {m.sensor_id: m.kind for m in msgs if isinstance(m, Descriptor)}
    assert kinds == {"uv1": "uvvis", "eis1": "impedance", "temp1": "scalar"}
    readings = [m for m in msgs if isinstance(m, Reading)]
    counts = {s: sum(r.sensor_id == s for r in readings) for s in kinds}
    assert counts == {"uv1": 180, "eis1": 18, "temp1": 180}
    assert [r.t for r in readings] == sorted(r.t for r in readings)
    assert {m.run_id for m in msgs} == {bench.RUN_ID}


def test_soak_bookkeeping_on_a_short_run():
    result = _bench().run(seed=0, hours=0.05, models="features", show_progress=False)
    assert result["messages"] == 1 + 3 + 378 + 1
    assert result["stored"]["readings"] == 378
    assert result["integrity_check"] == ["ok"]
    assert len(result["hourly"]) == 1 and result["hourly"][0]["messages"] == result["messages"]
