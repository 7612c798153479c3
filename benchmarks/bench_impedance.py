"""Impedance channel: circuit-parameter recovery, fit speed against impedance.py, calibration MAE.

    python benchmarks/bench_impedance.py [--runs 6] [--speed-sweeps 1440]
                                         [--baseline-sweeps 300] [--json OUT]

Input: ``--runs`` seeded 24-hour Stöber runs (:class:`StoberSimulator`, seeds 0, 1, ...; a
60-point sweep 1 Hz-1 MHz every minute, 1 % proportional noise, temperature drift, bubbles and
spikes at 1 % of the sweeps each, DLS labels sampled every 2 h arriving 3-4 h later).

* **Recovery**: every sweep through ``ImpedanceFit`` (warm-started, as in the worker); relative
  error of R_s, R_ct, Q and alpha against the simulator's truth on the sweeps that are not hit by
  an event and not flagged. Also: how many event sweeps the Kramers-Kronig check flagged, and
  how many clean sweeps it flagged wrongly.
* **Speed** (seed 0, one core): median and p95 time per sweep of (a) the warm-started fit of
  R_s-(R_ct||CPE) alone (``fit_circuit`` from the previous sweep's parameters), (b) the Lin-KK
  check alone, (c) the model's whole update (KK + both circuits + selection + Estimate). The
  baseline is impedance.py's ``CustomCircuit("R0-p(R1,CPE1)").fit`` (modulus weighting) on the
  same clean sweeps, also warm-started from its previous parameters; ratio baseline / ours on
  the same sweeps, and both accuracies there.
* **Calibration**: each run's impedance estimates and labels through ``SizeCalibration`` as the
  worker feeds them; its progressive-validation MAE against the naive baseline (predict the last
  label received) on the same labels.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from synthwatch.collectors.sim.stober import StoberSimulator
from synthwatch.contract.messages import Descriptor, Label, Reading
from synthwatch.models.impedance.calibration import SizeCalibration
from synthwatch.models.impedance.circuits import Circuit
from synthwatch.models.impedance.fit import fit_circuit, initial_guess
from synthwatch.models.impedance.kk import lin_kk
from synthwatch.models.impedance.model import ImpedanceFit

PARAMS = ("r_s_ohm", "r_ct_ohm", "cpe_q_s_alpha", "cpe_alpha")


def pct(values, q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else float("nan")


def runs(n_runs: int) -> dict:
    errors: dict[str, list[float]] = {p: [] for p in PARAMS}
    events = flagged_events = clean = flagged_clean = alt_chosen = 0
    per_run = []
    for seed in range(n_runs):
        sim = StoberSimulator(seed=seed)
        truth = sim.truth
        fit: ImpedanceFit | None = None
        cal = SizeCalibration()
        for msg in sim.messages():
            if isinstance(msg, Descriptor):
                fit = ImpedanceFit(msg)
            elif isinstance(msg, Reading):
                assert fit is not None
                fit.update(msg)
                est = fit.estimate
                cal.update(est)
                tr = truth[msg.seq]
                bad = bool(est.flags)
                if tr.bubble or tr.spike:
                    events += 1
                    flagged_events += bad
                    continue
                clean += 1
                flagged_clean += bad
                if bad:
                    continue
                alt_chosen += est.get("circuit_index").value != 0
                for p in PARAMS:
                    errors[p].append(abs(est.get(p).value / getattr(tr, p) - 1.0))
            elif isinstance(msg, Label):
                cal.update(msg)
        per_run.append(
            {
                "seed": seed,
                "labels": cal.n_labels,
                "pv_mae_nm": cal.pv_mae,
                "naive_mae_nm": cal.naive_mae,
                "unmatched_labels": cal.unmatched,
            }
        )
    recovery = {
        p: {"median_rel_error": pct(e, 50), "p95_rel_error": pct(e, 95), "n": len(e)}
        for p, e in errors.items()
    }
    recovery["kk_check"] = {
        "event_sweeps": events,
        "event_sweeps_flagged": flagged_events,
        "clean_sweeps": clean,
        "clean_sweeps_flagged": flagged_clean,
        "alternative_circuit_chosen": alt_chosen,
    }
    pv = [r["pv_mae_nm"] for r in per_run]
    naive = [r["naive_mae_nm"] for r in per_run]
    calibration = {
        "runs": per_run,
        "mean_pv_mae_nm": statistics.fmean(pv),
        "mean_naive_mae_nm": statistics.fmean(naive),
        "ratio_pv_to_naive": statistics.fmean(pv) / statistics.fmean(naive),
    }
    return {"recovery": recovery, "calibration": calibration}


def speed(n_sweeps: int, n_baseline: int) -> dict:
    from impedance.models.circuits import CustomCircuit

    sim = StoberSimulator(seed=0)
    f = sim.frequencies_hz
    truth = sim.truth
    sweeps = [(k, z) for k, z in sim.sweeps() if k < n_sweeps]
    desc = sim.descriptor()
    circuit = Circuit("R_s-p(R_ct,CPE)")
    model = ImpedanceFit(desc)
    t_fit, t_kk, t_update, clean_idx = {}, [], [], []
    params = None
    for k, z in sweeps:
        reading = Reading(
            run_id=sim.run_id,
            t=truth[k].t,
            sensor_id=desc.sensor_id,
            seq=k,
            values=z.real.tolist(),
            values_imag=z.imag.tolist(),
        )
        t0 = time.perf_counter()
        model.update(reading)
        est = model.estimate
        t_update.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        lin_kk(f, z)
        t_kk.append(time.perf_counter() - t0)
        if truth[k].bubble or truth[k].spike:
            continue
        start = params if params is not None else initial_guess(circuit, f, z)
        t0 = time.perf_counter()
        fit = fit_circuit(circuit, f, z, start)
        t_fit[k] = time.perf_counter() - t0
        params = fit.params
        if not est.flags:
            clean_idx.append(k)
    base_idx = clean_idx[:n_baseline]
    zs = dict(sweeps)
    t_base, base_err, ours_err = (
        [],
        {"r_s_ohm": [], "r_ct_ohm": []},
        {"r_s_ohm": [], "r_ct_ohm": []},
    )
    guess = list(initial_guess(circuit, f, zs[base_idx[0]]))
    params = None
    for k in base_idx:
        cc = CustomCircuit("R0-p(R1,CPE1)", initial_guess=guess)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cc.fit(f, zs[k], weight_by_modulus=True)
        t_base.append(time.perf_counter() - t0)
        guess = list(cc.parameters_)
        base_err["r_s_ohm"].append(abs(cc.parameters_[0] / truth[k].r_s_ohm - 1))
        base_err["r_ct_ohm"].append(abs(cc.parameters_[1] / truth[k].r_ct_ohm - 1))
        start = params if params is not None else initial_guess(circuit, f, zs[k])
        fit = fit_circuit(circuit, f, zs[k], start)
        params = fit.params
        ours_err["r_s_ohm"].append(abs(fit.params[0] / truth[k].r_s_ohm - 1))
        ours_err["r_ct_ohm"].append(abs(fit.params[1] / truth[k].r_ct_ohm - 1))
    ours_same = [t_fit[k] for k in base_idx]
    ms = 1e3
    return {
        "sweeps": len(sweeps),
        "fit_warm_ms": {
            "median": pct(list(t_fit.values()), 50) * ms,
            "p95": pct(list(t_fit.values()), 95) * ms,
        },
        "lin_kk_ms": {"median": pct(t_kk, 50) * ms, "p95": pct(t_kk, 95) * ms},
        "model_update_ms": {"median": pct(t_update, 50) * ms, "p95": pct(t_update, 95) * ms},
        "baseline": {
            "what": "impedance.py CustomCircuit('R0-p(R1,CPE1)').fit, weight_by_modulus, warm",
            "sweeps": len(base_idx),
            "median_ms": pct(t_base, 50) * ms,
            "ours_median_ms_same_sweeps": pct(ours_same, 50) * ms,
            "ratio_baseline_to_ours": pct(t_base, 50) / pct(ours_same, 50),
            "baseline_median_rel_error": {p: pct(e, 50) for p, e in base_err.items()},
            "ours_median_rel_error": {p: pct(e, 50) for p, e in ours_err.items()},
        },
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=6)
    ap.add_argument("--speed-sweeps", type=int, default=1440)
    ap.add_argument("--baseline-sweeps", type=int, default=300)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    started = time.perf_counter()
    import impedance

    out = {
        "command": " ".join(["python", "benchmarks/bench_impedance.py", *(argv or sys.argv[1:])]),
        "machine": f"{platform.node()} {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}, "
        f"impedance.py {impedance.__version__}",
        "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "speed": speed(args.speed_sweeps, args.baseline_sweeps),
        **runs(args.runs),
    }
    out["wall_s"] = time.perf_counter() - started
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
