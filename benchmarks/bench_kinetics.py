"""Online kinetics: recovery of Finke-Watzky constants, t90 forecasts, and bounded cost.

    python benchmarks/bench_kinetics.py [--runs 50] [--seed 0] [--json OUT]

Recovery: seeded Finke-Watzky runs (Watzky & Finke 1997; k1 log-uniform 5e-5..1e-3 s^-1,
k2 [A]0 log-uniform 2e-3..2e-2 s^-1, Au(0) plateau 0.25 mM), one observation every 2 s until
1.3 x the time of 99 % conversion, white noise of sd 1 % of the plateau. Each run goes through
``Kinetics`` (default settings, refit every 30 s of event time). Reported: the final k1 and k2
errors (median, p90), how often Finke-Watzky wins the AICc choice, and the t90 forecast error
at the first refit after the true conversion passes 50 %, 70 % and 90 %. The baseline for the
forecast is linear extrapolation of the last 10 minutes of observed conversion (what one does
by eye on a plot), given the true plateau.

Bounded cost: a 24-hour run at one observation per second; the time per update (refits
included) over hour 1 and over hour 24, and the ratio.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def source_estimate(t_s: float, au0: float):
    from synthwatch.contract.messages import Estimate, Quantity

    return Estimate(
        run_id="bench",
        t=T0 + timedelta(seconds=t_s),
        sensor_id="uv1",
        model="uvvis_features",
        model_version="1",
        measurement="uvvis_features",
        quantities=[Quantity(name="au0_mM", value=au0, units="mM")],
    )


def pct(values, q):
    return float(np.percentile(np.asarray(values, dtype=float), q))


def recovery(n_runs: int, seed: int, interval_s: float = 2.0) -> dict:
    from synthwatch.models.kinetics.curves import MECHANISMS
    from synthwatch.models.kinetics.model import Kinetics

    fw = MECHANISMS["finke_watzky"]
    rng = np.random.default_rng(seed)
    e_k1, e_k2, fw_chosen = [], [], 0
    t90_err = {0.5: [], 0.7: [], 0.9: []}
    lin_err = {0.5: [], 0.7: [], 0.9: []}
    for _ in range(n_runs):
        k1 = math.exp(rng.uniform(math.log(5e-5), math.log(1e-3)))
        k2 = math.exp(rng.uniform(math.log(2e-3), math.log(2e-2)))
        theta = np.log([k1, k2])
        t90 = fw.time_to(0.9, theta)
        t_end = 1.3 * fw.time_to(0.99, theta)
        ts = np.arange(0.0, t_end, interval_s)
        conv = fw.conversion(ts, theta)
        ys = 0.25 * conv + rng.normal(0.0, 0.0025, ts.size)
        model = Kinetics()
        pending = sorted(t90_err)
        last = None
        for t, c, y in zip(ts, conv, ys):
            model.update(source_estimate(float(t), float(y)))
            est = model.estimate
            if est is None:
                continue
            last = est
            while pending and c >= pending[0]:
                level = pending.pop(0)
                q = next((x for x in est.quantities if x.name == "t90_s"), None)
                v = q.value if q is not None and q.value is not None else math.inf
                t90_err[level].append(abs(v / t90 - 1.0))
                lin_err[level].append(abs(_linear_t90(ts, ys, t, 0.25) / t90 - 1.0))
        names = {q.name for q in last.quantities}
        if "k1_per_s" in names:
            fw_chosen += 1
        fit = model.fits["finke_watzky"]
        e_k1.append(abs(math.exp(fit.theta[0]) / k1 - 1.0))
        e_k2.append(abs(math.exp(fit.theta[1]) / k2 - 1.0))
    out = {
        "runs": n_runs,
        "finke_watzky_fit": {
            "k1_err_median": statistics.median(e_k1),
            "k1_err_p90": pct(e_k1, 90),
            "k2_err_median": statistics.median(e_k2),
            "k2_err_p90": pct(e_k2, 90),
        },
        "finke_watzky_chosen_by_aicc": fw_chosen,
        "t90_forecast_err": {},
    }
    for level in sorted(t90_err):
        e, b = t90_err[level], lin_err[level]
        out["t90_forecast_err"][f"conversion_{round(level * 100)}pct"] = {
            "synthwatch_median": statistics.median(e),
            "synthwatch_p90": pct(e, 90),
            "linear_extrapolation_median": statistics.median(b),
            "ratio_linear_over_synthwatch_median": statistics.median(b)
            / max(statistics.median(e), 1e-12),
        }
    return out


def _linear_t90(ts, ys, t_now, plateau):
    sel = (ts <= t_now) & (ts > t_now - 600.0)
    slope, icpt = np.polyfit(ts[sel], ys[sel] / plateau, 1)
    if slope <= 0:
        return math.inf
    return float((0.9 - icpt) / slope)


def bounded_cost(hours: float = 24.0) -> dict:
    from synthwatch.models.kinetics.curves import MECHANISMS
    from synthwatch.models.kinetics.model import Kinetics

    fw = MECHANISMS["finke_watzky"]
    theta = np.log([2e-5, 1e-4])  # slow: still growing at hour 24
    rng = np.random.default_rng(1)
    model = Kinetics()
    n = int(hours * 3600)
    ts = np.arange(n, dtype=float)
    ys = 0.25 * fw.conversion(ts, theta) + rng.normal(0.0, 0.0025, n)
    msgs = [source_estimate(float(t), float(y)) for t, y in zip(ts, ys)]
    per_hour = []
    t_hour = time.perf_counter()
    for k, m in enumerate(msgs):
        model.update(m)
        if (k + 1) % 3600 == 0:
            now = time.perf_counter()
            per_hour.append((now - t_hour) / 3600)
            t_hour = now
    return {
        "hours": hours,
        "updates": n,
        "us_per_update_hour_1": per_hour[0] * 1e6,
        "us_per_update_hour_24": per_hour[-1] * 1e6,
        "ratio_hour24_over_hour1": per_hour[-1] / per_hour[0],
        "bins_at_end": int(model._history.arrays()[0].size),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    started = time.perf_counter()
    out = {
        "command": " ".join(["python", "benchmarks/bench_kinetics.py", *(argv or sys.argv[1:])]),
        "machine": f"{platform.node()} {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}",
        "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "recovery": recovery(args.runs, args.seed),
        "bounded_cost": bounded_cost(),
    }
    out["wall_s"] = time.perf_counter() - started
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
