"""Calibration of the UV-Vis size from 3 delayed labels, on spectra synthwatch did not simulate.

Issue 19's label target: per recipe (one set of optical constants, one damping constant A,
d_mean within +-10 % of a centre, gsd within +-0.03; ``uvvis_truth.make_recipe``: pymiecs,
linearly interpolated refractiveindex.info constants), the first 3 spectra are "sampled": their
true d_mean, times (1 + 5 % noise), arrives later as a TEM ``Label`` with uncertainty 5 %. The
psd estimates of every spectrum (``LognormalPSD`` on the runtime's ensemble with the recipe's
set LEFT OUT) go through ``UVVisSizeCalibration`` with the labels in between, as the worker
feeds a run-level model; the corrected size (``d_mean_corrected_nm`` of ``psd_calibrated``) of
the remaining spectra is scored against the truth: median |error| and coverage of its 95 %
interval, per size band, beside the uncorrected size.

    python benchmarks/bench_uvvis_labels.py [--metals Au,Ag] [--recipes-per-band 2]
        [--spectra 10] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import uvvis_truth as truth  # noqa: E402
from bench_uvvis_honest import descriptor  # noqa: E402

from synthwatch.contract.messages import Label, Reading  # noqa: E402
from synthwatch.models.psd.calibration import UVVisSizeCalibration  # noqa: E402
from synthwatch.models.psd.lognormal import LognormalPSD  # noqa: E402
from synthwatch.stream.runtime.kernels import kernel_for  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
SYSTEM = {"Au": "Au-citrate", "Ag": "Ag-citrate"}
#: recipe centres per size band, nm
CENTRES = {"<20": (8.0, 14.0), "20-50": (25.0, 40.0), ">50": (60.0, 85.0)}
LABEL_SD = 0.05


def _interval(q) -> tuple[float, float] | None:
    if q is None or q.value is None or q.uncertainty is None:
        return None
    if q.lower is not None and q.upper is not None:
        return q.lower, q.upper
    return q.value - 2 * q.uncertainty, q.value + 2 * q.uncertainty


def run_recipe(metal: str, member: str, centre: float, n: int, seed: int) -> list[dict]:
    cases = truth.make_recipe(metal, member, centre, n, seed)
    wl = cases[0].wavelengths_nm
    desc = descriptor(wl)
    psd = LognormalPSD(
        kernel_for(desc, SYSTEM[metal], exclude=(member,)), sensor_id="uv1", warm_start=False
    )
    cal = UVVisSizeCalibration(match_window_s=10.0, match_degree=0)
    rng = np.random.default_rng(seed)
    estimates = []
    for i, c in enumerate(cases):
        t = T0 + timedelta(minutes=i)
        psd.update(Reading(run_id="r", t=t, sensor_id="uv1", seq=i, values=list(c.absorbance)))
        estimates.append(psd.estimate)
    for est in estimates[:3]:
        cal.update(est)
    for i, c in enumerate(cases[:3]):  # the labels arrive after their samples' spectra
        value = c.d_mean_nm * (1.0 + LABEL_SD * rng.standard_normal())
        cal.update(
            Label(
                run_id="r",
                t=T0 + timedelta(minutes=3, seconds=i),
                sample_t=T0 + timedelta(minutes=i),
                quantity="d_mean_nm",
                value=value,
                uncertainty=LABEL_SD * value,
                units="nm",
                method="TEM",
            )
        )
    out = []
    for c, est in zip(cases[3:], estimates[3:]):
        cal.update(est)
        corrected = cal.estimate.get("d_mean_corrected_nm") if cal.estimate is not None else None
        raw = est.get("d_mean_nm")
        rec = {"member": member, "centre": centre, "d_true": c.d_mean_nm, "flags": est.flags}
        for key, q in (("raw", raw), ("corrected", corrected)):
            iv = _interval(q)
            ok = q is not None and q.value is not None
            rec[key] = {
                "err": abs(q.value / c.d_mean_nm - 1) if ok else 1.0,
                "covered": bool(iv is not None and iv[0] <= c.d_mean_nm <= iv[1]),
            }
        out.append(rec)
    return out


def warm_speed(n: int = 300, rounds: int = 2) -> dict:
    """Per-spectrum fit time along a run (warm start, as the worker fits), ensemble vs the
    single kernel, in ABBA blocks: a 300-spectrum growth trajectory of gold (10 -> 60 nm, gsd
    1.12, 0.5 % noise; the simulator's optics, which both kernels hold)."""
    import time

    from synthwatch.collectors.sim.gold import noise_free_spectrum

    wl = np.arange(300.0, 901.0)
    desc = descriptor(wl)
    rng = np.random.default_rng(0)
    readings = []
    for i in range(n):
        y = noise_free_spectrum(10.0 + 50.0 * i / n, 1.12, au0_mM=0.25, wavelengths_nm=wl)
        y = y + rng.normal(0.0, 0.005 * y.max(), y.size)
        readings.append(Reading(run_id="r", t=T0, sensor_id="uv1", seq=i, values=list(y)))
    kernels = {
        "ensemble": kernel_for(desc, "Au-citrate"),
        "single": kernel_for(desc, "Au-citrate", ensemble=False),
    }
    times: dict[str, list[float]] = {"ensemble": [], "single": []}
    for _ in range(rounds):
        for name in ("ensemble", "single", "single", "ensemble"):
            model = LognormalPSD(kernels[name], sensor_id="uv1")
            per = []
            for r in readings:
                t = time.perf_counter()
                model.update(r)
                _ = model.estimate
                per.append(time.perf_counter() - t)
            times[name].append(float(np.median(per)))
    out = {k: float(np.median(v)) for k, v in times.items()}
    out["ratio"] = out["ensemble"] / out["single"]
    print(
        f"\nWarm start along a run (median per spectrum, ABBA x {rounds}): ensemble "
        f"{out['ensemble'] * 1e6:.0f} us, single kernel {out['single'] * 1e6:.0f} us, ratio "
        f"{out['ratio']:.2f}x"
    )
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--metals", default="Au,Ag")
    ap.add_argument("--spectra", type=int, default=10, help="per recipe (3 labelled)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--speed-only", action="store_true", help="only the warm-start speed")
    args = ap.parse_args(argv)
    result: dict = {
        "command": " ".join(["python", "benchmarks/bench_uvvis_labels.py", *sys.argv[1:]]),
        "machine": f"{platform.node()}, Python {platform.python_version()}",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "tables": {},
    }
    result["warm_speed"] = warm_speed()
    metals = [] if args.speed_only else [m for m in args.metals.split(",") if m]
    for metal in metals:
        rows = []
        for member in truth.MEMBERS[metal]:
            if member == "Werner":  # not gold-like (see collectors/sim/constants.py)
                continue
            for band, centres in CENTRES.items():
                for k, centre in enumerate(centres):
                    recs = run_recipe(metal, member, centre, args.spectra, args.seed + k)
                    for r in recs:
                        r["band"] = band
                    rows.extend(recs)
                    print(".", end="", flush=True)
        print()
        table = {}
        for band in (*CENTRES, "all"):
            sel = [r for r in rows if band == "all" or r["band"] == band]
            table[band] = {
                key: {
                    "n": len(sel),
                    "median_err": float(np.median([r[key]["err"] for r in sel])),
                    "coverage": float(np.mean([r[key]["covered"] for r in sel])),
                }
                for key in ("raw", "corrected")
            }
        result["tables"][metal] = table
        print(f"\n### {metal}: 3 labels (sd 5 %) per recipe, set left out of the ensemble\n")
        print("| band | n | uncorrected median err | coverage | corrected median err | coverage |")
        print("|---|---:|---:|---:|---:|---:|")
        for band, t in table.items():
            raw, cor = t["raw"], t["corrected"]
            print(
                f"| {band} | {raw['n']} | {raw['median_err']:.1%} | {raw['coverage']:.0%} | "
                f"{cor['median_err']:.1%} | {cor['coverage']:.0%} |"
            )
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
