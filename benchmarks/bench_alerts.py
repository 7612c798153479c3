"""False alerts on clean 24-hour runs, and how fast each injected fault is detected.

    python benchmarks/bench_alerts.py [--clean 50] [--golden 10] [--faulty 5] [--json OUT]

Runs (all simulated, seeded, 24 hours each, through the whole embedded pipeline with the default
models except the NNLS distribution; alert engine with ``RULES`` below plus the built-in ones):

* gold: ``GoldCitrateSimulator`` (15 nm recipe, one spectrum every 30 s, baseline drift,
  occasional saturated and dropped frames), with a temperature probe every 30 s at 100 degC;
* silica: ``StoberSimulator`` (one impedance sweep a minute, its own bubbles and spikes at 1 %
  each, temperature drift), with a temperature probe every 30 s at 25 degC.

First, ``--golden`` clean runs of each system are stored and made the golden batch
(``envelope_from_store``, aligned by time, 60 s bins). Then ``--clean`` runs, half gold and half
silica, with seeds of their own, count the false alerts: every firing alert in a run with no
injected fault. Then ``--faulty`` runs per fault measure the delay from the fault's start to the
first firing alert after it, and which rule fired:

* temperature +3 degC from the start (probe +3 degC; Arrhenius, k x 1.14 for Ea = 50 kJ/mol at
  100 degC, so the gold kinetics run 14 % faster);
* reagent 10 % short (0.9 x the HAuCl4 of the recipe, which still says the nominal);
* lamp decay from hour 2 (time constant 2 h);
* bubble bursts on the impedance cell at hour 6, for 15 min;
* stalled sensor: the spectrometer stops at hour 3, and the impedance analyzer at hour 6.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

DAY_S = 86400.0
GOLD_RECIPE, SILICA_RECIPE = "Au-citrate-15nm", "SiO2-Stober-default"


def rules():
    from synthwatch.models.alerts.engine import DEFAULT_RULES
    from synthwatch.models.alerts.rules import Rule

    own = (
        Rule(name="envelope_au0", kind="envelope", quantity="uvvis_features.au0_mM", z=4.0,
             for_s=300.0, clear_s=600.0, hysteresis=0.2,
             advice="check the amount of HAuCl4 added"),
        Rule(name="envelope_noise", kind="envelope", quantity="uvvis_features.noise_au",
             z=5.0, for_s=600.0, clear_s=600.0, hysteresis=0.2,
             advice="the spectrometer's lamp may be fading: check its hours and the reference"),
        Rule(name="envelope_r_s", kind="envelope", quantity="impedance_fit.r_s_ohm", z=4.0,
             for_s=600.0, clear_s=600.0, hysteresis=0.2,
             advice="compare the TEOS and ammonia added with the recipe"),
        Rule(name="drift_size", kind="drift", quantity="psd.d_mean_nm", on="z",
             threshold=200.0, delta=1.0, clear_s=1800.0,
             advice="the size departs slowly from the golden batch: check the temperature"),
    )  # fmt: skip
    return DEFAULT_RULES, own


def tag(messages, recipe):
    from synthwatch.contract.messages import RunStart

    for m in messages:
        if isinstance(m, RunStart):
            m = m.model_copy(update={"tags": {**m.tags, "recipe": recipe}})
        yield m


def gold_run(seed, fault=None):
    from synthwatch.collectors.sim.faults import lamp_decay, stall, with_temperature
    from synthwatch.collectors.sim.gold import GoldCitrateSimulator

    kw = {}
    if fault == "temperature_plus_3C":
        kw = {"k1_per_s": 2.0e-4 * 1.14, "k2_per_s": 5.0e-3 * 1.14}
    if fault == "reagent_10pct_short":
        kw = {"HAuCl4_mM": 0.225}
    sim = GoldCitrateSimulator(seed=seed, duration_s=DAY_S, interval_s=30.0, **kw)
    msgs = list(tag(sim.messages(), GOLD_RECIPE))
    if fault == "reagent_10pct_short":  # the recipe still says what was meant
        msgs[0] = msgs[0].model_copy(update={"recipe": {**msgs[0].recipe, "HAuCl4_mM": 0.25}})
    start_s = 0.0
    if fault == "lamp_decay":
        start_s = 7200.0
        msgs = list(lamp_decay(msgs, "uv1", from_s=start_s, tau_s=7200.0, seed=seed))
    if fault == "stalled_sensor":
        start_s = 3 * 3600.0
        msgs = list(stall(msgs, "uv1", from_s=start_s))
    offset = 3.0 if fault == "temperature_plus_3C" else 0.0
    msgs = list(with_temperature(msgs, 100.0, 30.0, offset_degC=offset, seed=seed))
    return msgs, start_s


def silica_run(seed, fault=None):
    from synthwatch.collectors.sim.faults import bubble_burst, stall, with_temperature
    from synthwatch.collectors.sim.stober import StoberSimulator

    sim = StoberSimulator(seed=seed, duration_s=DAY_S)
    msgs = list(tag(sim.messages(), SILICA_RECIPE))
    sensor = next(m.sensor_id for m in msgs if type(m).__name__ == "Descriptor")
    start_s = 0.0
    if fault == "bubble_burst":
        start_s = 6 * 3600.0
        msgs = list(bubble_burst(msgs, sensor, from_s=start_s, duration_s=900.0, seed=seed))
    if fault == "stalled_sensor":
        start_s = 6 * 3600.0
        msgs = list(stall(msgs, sensor, from_s=start_s))
    offset = 3.0 if fault == "temperature_plus_3C" else 0.0
    msgs = list(with_temperature(msgs, 25.0, 30.0, offset_degC=offset, seed=seed))
    return msgs, start_s


def run(messages, store_path, golden_dir, rule_set):
    from synthwatch.stream.runtime.pipeline import run_embedded
    from synthwatch.stream.runtime.registry import ModelRegistry
    from synthwatch.stream.store.embedded import Store

    registry = ModelRegistry(
        psd_nnls_every=0,
        alert_rules=rule_set,
        golden_dir=str(golden_dir) if golden_dir else None,
    )
    with Store(store_path) as store:
        res = run_embedded(messages, [store], speed=0, model_factory=registry)
    run_id = res.run_ids[0]
    with Store(store_path, readonly=True) as store:
        alerts = [a for a in store.alerts(run_id) if a.state == "firing"]
    return run_id, alerts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clean", type=int, default=50)
    ap.add_argument("--golden", type=int, default=10)
    ap.add_argument("--faulty", type=int, default=5)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    os.environ.setdefault("SYNTHWATCH_CACHE_DIR", str(Path(tempfile.gettempdir()) / "sw-bench"))
    from synthwatch.stream.store.embedded import Store
    from synthwatch.stream.store.golden_files import envelope_from_store, save_envelope

    started = time.perf_counter()
    defaults, own = rules()
    rule_set = defaults + own
    tmp = Path(tempfile.mkdtemp(prefix="bench-alerts-"))
    golden_dir = tmp / "golden"
    makers = {"gold": (gold_run, GOLD_RECIPE), "silica": (silica_run, SILICA_RECIPE)}
    for system, (make, recipe) in makers.items():
        db = tmp / f"golden-{system}.sqlite"
        ids = []
        for k in range(args.golden):
            msgs, _ = make(1000 + k)
            ids.append(run(msgs, db, None, rule_set)[0])
        with Store(db, readonly=True) as store:
            save_envelope(envelope_from_store(store, recipe, ids), golden_dir)
    clean = {"runs": 0, "false_alerts": 0, "by_rule": {}, "run_days": 0.0}
    for k in range(args.clean):
        system = "gold" if k % 2 == 0 else "silica"
        msgs, _ = makers[system][0](k)
        _, alerts = run(msgs, tmp / f"clean-{k}.sqlite", golden_dir, rule_set)
        clean["runs"] += 1
        clean["run_days"] += 1.0
        clean["false_alerts"] += len(alerts)
        for a in alerts:
            clean["by_rule"][a.rule] = clean["by_rule"].get(a.rule, 0) + 1
    clean["false_alerts_per_24h_total"] = clean["false_alerts"]
    clean["false_alerts_per_run_day"] = clean["false_alerts"] / max(clean["run_days"], 1)
    faults = {
        "temperature_plus_3C": ("gold", "silica"),
        "reagent_10pct_short": ("gold",),
        "lamp_decay": ("gold",),
        "bubble_burst": ("silica",),
        "stalled_sensor": ("gold", "silica"),
    }
    detection = {}
    for fault, systems in faults.items():
        delays, rules_fired, missed = [], {}, 0
        for system in systems:
            for k in range(args.faulty):
                msgs, start_s = makers[system][0](500 + k, fault)
                _, alerts = run(msgs, tmp / f"{fault}-{system}-{k}.sqlite", golden_dir, rule_set)
                t0 = msgs[0].t
                after = [a for a in alerts if (a.t - t0).total_seconds() >= start_s]
                if not after:
                    missed += 1
                    continue
                first = min(after, key=lambda a: a.t)
                delays.append((first.t - t0).total_seconds() - start_s)
                rules_fired[first.rule] = rules_fired.get(first.rule, 0) + 1
        detection[fault] = {
            "runs": len(systems) * args.faulty,
            "detected": len(delays),
            "missed": missed,
            "median_delay_s": statistics.median(delays) if delays else None,
            "max_delay_s": max(delays) if delays else None,
            "first_rule": rules_fired,
        }
    out = {
        "command": " ".join(["python", "benchmarks/bench_alerts.py", *(argv or sys.argv[1:])]),
        "machine": f"{platform.node()} {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}",
        "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "rules": [r.name for r in rule_set],
        "clean": clean,
        "faults": detection,
        "wall_s": time.perf_counter() - started,
    }
    print(
        json.dumps(
            out, indent=2, default=lambda x: None if isinstance(x, float) and math.isnan(x) else x
        )
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
