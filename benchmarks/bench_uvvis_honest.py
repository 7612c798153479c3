"""How honest the UV-Vis size estimates are on spectra that synthwatch did not simulate (issue 19).

    python benchmarks/bench_uvvis_honest.py [--per-member 20] [--metals Au,Ag] [--axes 601,2048]
                                            [--seed 0] [--no-ensemble] [--json OUT]

The spectra come from ``benchmarks/uvvis_truth.py``: another Mie code (pymiecs), eleven published
sets of optical constants (refractiveindex.info, linear interpolation), other Drude constants,
a damping constant A drawn per spectrum in 0.5-1.5, lognormal PSDs (number-mean d 5-100 nm,
gsd 1.05-1.35), 1 % noise, baseline drift on a quarter of them. For each metal, axis and set of
constants in turn, the same spectra go through:

(a) ``ensemble``: ``LognormalPSD`` on ``kernel_for(..., ensemble=True, exclude=(set,))``: the
    estimator's ensemble of kernels with the set that made the spectra LEFT OUT (a fresh model
    per spectrum, so nothing carries over between unrelated spectra);
(b) ``today``: ``LognormalPSD`` on ``kernel_for(..., ensemble=False)`` (Johnson & Christy only);
(c) ``haiss``: ``UVVisFeatures``'s ``d_haiss_nm`` (gold only; its coefficients are gold's).

Reported per metal, axis and size band (d < 20, 20-50, > 50 nm): n; median |relative error| of
d_mean, median signed relative error (bias), its 95th percentile; coverage of the 95 % interval
of d_mean and of N (``[lower, upper]`` when the estimate gives them, else value +- 2
uncertainty; the truth must lie inside); the fraction flagged or missing (a missing estimate is
a miss for coverage and a 100 % error); the flags seen. Then the same per left-out set (which
set of constants is worst), and the speed of (a) against (b): median per-spectrum fit time, the
two fits interleaved spectrum by spectrum (ABAB...), as a ratio.

Until ``kernel_for`` takes ``ensemble``/``exclude``, (a) is reported as unavailable and only (b)
and (c) run (``--no-ensemble`` does the same on purpose).

:func:`run_recipe` is the hook for the label scenario (calibration from a few labelled spectra of
one recipe, ``uvvis_truth.make_recipe``): it takes a recipe's cases and an estimator factory.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import platform
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import uvvis_truth as truth  # noqa: E402  (a sibling script, not a package)

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
SYSTEMS = {"Au": "Au-citrate", "Ag": "Ag-citrate"}
BANDS = ("<20", "20-50", ">50")
ESTIMATORS = ("ensemble", "today", "haiss")
#: what "flagged" means in the tables (the flags seen are listed beside)
_FLAG_NOTE = "any flag on the estimate counts as flagged"


class EnsembleUnavailable(RuntimeError):
    """``kernel_for`` does not (yet) take ``ensemble`` / ``exclude``."""


# ---------------------------------------------------------------------------- messages


def descriptor(wavelengths_nm: np.ndarray):
    from synthwatch.contract.messages import Descriptor

    return Descriptor(
        run_id="bench-honest",
        t=T0,
        sensor_id="uv1",
        kind="uvvis",
        axis=[float(a) for a in wavelengths_nm],
        axis_units="nm",
        value_units="AU",
        path_length_cm=1.0,
    )


def reading(values: np.ndarray, seq: int = 0):
    from synthwatch.contract.messages import Reading

    return Reading(
        run_id="bench-honest",
        t=T0 + timedelta(seconds=seq),
        sensor_id="uv1",
        seq=seq,
        values=[float(v) for v in values],
    )


# ----------------------------------------------------------------------------- kernels


def kernel_signature() -> str:
    from synthwatch.stream.runtime.kernels import kernel_for

    return str(inspect.signature(kernel_for))


def make_kernel(desc, metal: str, *, ensemble: bool, exclude: Sequence[str] = ()):
    """``kernel_for`` with the ensemble arguments; without them when it does not take them."""
    from synthwatch.stream.runtime.kernels import kernel_for

    params = inspect.signature(kernel_for).parameters
    if "ensemble" in params:
        kwargs: dict[str, Any] = {"ensemble": ensemble}
        if ensemble:
            kwargs["exclude"] = tuple(exclude)
        return kernel_for(desc, SYSTEMS[metal], truth.N_MEDIUM, **kwargs)
    if ensemble:
        raise EnsembleUnavailable(f"kernel_for{kernel_signature()} has no 'ensemble' argument")
    return kernel_for(desc, SYSTEMS[metal], truth.N_MEDIUM)


def member_names(kernel) -> list[str]:
    """The sets of constants in a kernel's ensemble (``KernelMember.constants``), in order."""
    names: list[str] = []
    for m in getattr(kernel, "members", ()) or ():
        c = getattr(m, "constants", str(getattr(m, "name", m)).split("/", 1)[0])
        if c not in names:
            names.append(c)
    return names


def psd_factory(kernel) -> Callable[[], Any]:
    """A fresh ``LognormalPSD`` on ``kernel`` per call (no warm start, no carried offset)."""
    from synthwatch.models.psd.lognormal import LognormalPSD

    return lambda: LognormalPSD(kernel, sensor_id="uv1", warm_start=False)


# ---------------------------------------------------------------------------- one fit


def _interval(q) -> tuple[float, float] | None:
    """The 95 % interval of a quantity: [lower, upper] when given, else value +- 2 u."""
    if q is None or q.value is None:
        return None
    lo, hi = getattr(q, "lower", None), getattr(q, "upper", None)
    if lo is not None and hi is not None:
        return float(lo), float(hi)
    if q.uncertainty is None or not math.isfinite(q.uncertainty):
        return None
    return q.value - 2.0 * q.uncertainty, q.value + 2.0 * q.uncertainty


def _quantity(est, name: str):
    if est is None:
        return None
    try:
        return est.get(name)
    except KeyError:
        return None


def _qdict(q) -> dict[str, Any]:
    if q is None:
        return {"value": None}
    out = {"value": q.value, "uncertainty": q.uncertainty}
    for extra in ("uncertainty_noise", "uncertainty_model", "lower", "upper"):
        out[extra] = getattr(q, extra, None)
    iv = _interval(q)
    out["interval"] = list(iv) if iv else None
    return out


def fit_psd(model, case: truth.Case, seq: int = 0) -> dict[str, Any]:
    """Feed one case to a PSD model; its d_mean and N with intervals, flags, fit time."""
    r = reading(case.absorbance, seq)
    t = time.perf_counter()
    model.update(r)
    dt = time.perf_counter() - t
    est = model.estimate
    return {
        "d_mean_nm": _qdict(_quantity(est, "d_mean_nm")),
        "number_per_ml": _qdict(_quantity(est, "number_per_ml")),
        "flags": list(est.flags) if est is not None else ["no_estimate"],
        "fit_s": dt,
    }


def fit_haiss(model, case: truth.Case) -> dict[str, Any]:
    model.update(reading(case.absorbance))
    est = model.estimate
    return {
        "d_mean_nm": _qdict(_quantity(est, "d_haiss_nm")),
        "flags": list(est.flags) if est is not None else ["no_estimate"],
    }


# ------------------------------------------------------------------------------ scoring


def _pct(values: list[float], q: float) -> float | None:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else None


def _covered(interval: list[float] | None, value: float) -> bool:
    return interval is not None and interval[0] <= value <= interval[1]


def summarise(records: list[dict[str, Any]], *, intervals: bool = True) -> dict[str, Any]:
    """Accuracy, bias, coverage and flags of a list of fit records (see the module doc)."""
    n = len(records)
    if n == 0:
        return {"n": 0}
    abs_err, signed = [], []
    cover_d = cover_n = flagged = 0
    n_err = []
    flags: Counter[str] = Counter()
    for r in records:
        d = r["fit"]["d_mean_nm"]
        t_d = r["truth"]["d_mean_nm"]
        if d["value"] is None:
            abs_err.append(1.0)
            flagged += 1
        else:
            e = d["value"] / t_d - 1.0
            abs_err.append(abs(e))
            signed.append(e)
            flagged += bool(r["fit"]["flags"])
        flags.update(r["fit"]["flags"])
        if intervals:
            cover_d += _covered(d.get("interval"), t_d)
            nq = r["fit"]["number_per_ml"]
            t_n = r["truth"]["number_per_ml"]
            cover_n += _covered(nq.get("interval"), t_n)
            n_err.append(1.0 if nq["value"] is None else abs(nq["value"] / t_n - 1.0))
    out: dict[str, Any] = {
        "n": n,
        "d_err_median": statistics.median(abs_err),
        "d_bias_median": statistics.median(signed) if signed else None,
        "d_err_p95": _pct(abs_err, 95),
        "flagged_or_missing": flagged / n,
        "flags": dict(sorted(flags.items())),
    }
    if intervals:
        out["d_coverage95"] = cover_d / n
        out["n_coverage95"] = cover_n / n
        out["n_err_median"] = statistics.median(n_err)
    return out


def _by(records: list[dict[str, Any]], key: Callable[[dict], str]) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for r in records:
        groups.setdefault(key(r), []).append(r)
    return groups


# --------------------------------------------------------------------------- the bench


#: sets left out of the truth by default: Werner's gold has no plasmon band near 520 nm (its
#: 20 nm spheres peak at 431 nm, where gold of that size is measured at 520 nm: Link & El-Sayed,
#: J. Phys. Chem. B 103 (1999) 4212); every estimator refuses its spectra (no_plasmon), and the
#: ensemble keeps it out (collectors/sim/constants.py). ``--all-sets`` puts it back.
NOT_GOLD_LIKE = {"Au": ("Werner",)}


def run_axis(
    metal: str,
    axis_name: str,
    per_member: int,
    seed: int,
    ensemble: bool,
    all_sets: bool = False,
) -> dict:
    """Every estimator on the cases of one metal and axis; records, summaries, speed."""
    from synthwatch.models.uvvis.model import UVVisFeatures

    t = time.perf_counter()
    cases = truth.make_cases(metal, axis_name, per_member, seed)
    gen_s = (time.perf_counter() - t) / max(len(cases), 1)
    desc = descriptor(truth.AXES[axis_name])
    today = psd_factory(make_kernel(desc, metal, ensemble=False))
    haiss = UVVisFeatures(desc) if metal == "Au" else None
    ensemble_note = None
    records: list[dict[str, Any]] = []
    times: dict[str, list[float]] = {"ensemble": [], "today": []}
    kernel_members: dict[str, list[str]] = {}
    for member in truth.MEMBERS[metal]:
        if member in NOT_GOLD_LIKE.get(metal, ()) and not all_sets:
            continue
        ens = None
        if ensemble and ensemble_note is None:
            try:
                kernel = make_kernel(desc, metal, ensemble=True, exclude=(member,))
                kernel_members[member] = member_names(kernel)
                ens = psd_factory(kernel)
            except EnsembleUnavailable as exc:
                ensemble_note = str(exc)
            except ValueError as exc:  # e.g. a set the estimator's ensemble does not know
                kernel_members[member] = [f"kernel_for refused: {exc}"]
        for case in (c for c in cases if c.member == member):
            base = {
                "metal": metal,
                "axis": axis_name,
                "member": member,
                "seed": case.seed,
                "band": case.d_band,
                "truth": {
                    "d_mean_nm": case.d_mean_nm,
                    "gsd": case.gsd,
                    "number_per_ml": case.number_per_ml,
                    "damping_a": case.damping_a,
                    "drift": case.drift,
                },
            }
            # ABAB: (a) then (b) on each spectrum, fresh models built outside the timing
            pair = [("ensemble", ens), ("today", today)] if ens else [("today", today)]
            for name, factory in pair:
                fit = fit_psd(factory(), case)
                times[name].append(fit["fit_s"])
                records.append({**base, "estimator": name, "fit": fit})
            if haiss is not None:
                records.append({**base, "estimator": "haiss", "fit": fit_haiss(haiss, case)})
            print(".", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    out: dict[str, Any] = {
        "cases": len(cases),
        "generation_s_per_spectrum": gen_s,
        "ensemble": ensemble_note or ("ran" if ensemble else "skipped (--no-ensemble)"),
        "ensemble_members_per_left_out": kernel_members,
        "bands": {},
        "per_member": {},
    }
    for name, recs in _by(records, lambda r: r["estimator"]).items():
        iv = name != "haiss"
        bands = _by(recs, lambda r: r["band"])
        out["bands"][name] = {b: summarise(bands.get(b, []), intervals=iv) for b in BANDS}
        out["bands"][name]["all"] = summarise(recs, intervals=iv)
        members = _by(recs, lambda r: r["member"])
        out["per_member"][name] = {m: summarise(v, intervals=iv) for m, v in members.items()}
    if times["ensemble"] and times["today"]:
        ma, mb = statistics.median(times["ensemble"]), statistics.median(times["today"])
        out["speed"] = {"ensemble_ms": ma * 1e3, "today_ms": mb * 1e3, "ratio": ma / mb}
    elif times["today"]:
        out["speed"] = {"today_ms": statistics.median(times["today"]) * 1e3}
    out["records"] = records
    return out


def run_recipe(
    cases: Sequence[truth.Case],
    make_estimator: Callable[[], Any],
    *,
    n_labels: int = 3,
    calibrate: Callable[[Any, list[tuple[Any, dict[str, float]]]], None] | None = None,
) -> dict[str, Any]:
    """The label scenario's hook: one recipe's spectra through one estimator.

    ``cases`` come from ``uvvis_truth.make_recipe``; ``make_estimator()`` returns a fresh
    model. The first ``n_labels`` cases are the labelled ones: when ``calibrate`` is given it
    is called once with the model and ``[(reading, truth), ...]`` of those cases (truth:
    ``d_mean_nm``, ``gsd``, ``number_per_ml``) before the remaining cases are fitted, in order,
    on that same model. Returns the records of the remaining cases and their summary
    (:func:`summarise`).
    """
    model = make_estimator()
    labelled = [
        (
            reading(c.absorbance, i),
            {"d_mean_nm": c.d_mean_nm, "gsd": c.gsd, "number_per_ml": c.number_per_ml},
        )
        for i, c in enumerate(cases[:n_labels])
    ]
    if calibrate is not None:
        calibrate(model, labelled)
    records = []
    for i, c in enumerate(cases[n_labels:], start=n_labels):
        fit = fit_psd(model, c, seq=i)
        records.append(
            {
                "member": c.member,
                "band": c.d_band,
                "truth": {"d_mean_nm": c.d_mean_nm, "number_per_ml": c.number_per_ml},
                "fit": fit,
            }
        )
    return {"records": records, "summary": summarise(records)}


# ------------------------------------------------------------------------------ report


def _f(x: Any, pct: bool = True, digits: int = 1) -> str:
    if x is None:
        return "n/a"
    return f"{100 * x:.{digits}f} %" if pct else f"{x:.{digits}f}"


def _flags(flags: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in flags.items()) or "-"


def markdown(result: dict[str, Any]) -> str:
    lines: list[str] = []
    for metal, axes in result["results"].items():
        for axis_name, res in axes.items():
            lines.append(
                f"\n### {metal}, axis {axis_name} ({res['cases']} spectra; "
                f"ensemble: {res['ensemble']})\n"
            )
            lines.append(
                "| estimator | band | n | median abs err | bias | p95 | d cover95 | N cover95 "
                "| N median err | flagged/missing | flags |"
            )
            lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
            for name in ESTIMATORS:
                if name not in res["bands"]:
                    lines.append(f"| {name} | all | n/a | | | | | | | | |")
                    continue
                for band in (*BANDS, "all"):
                    s = res["bands"][name][band]
                    if not s.get("n"):
                        continue
                    lines.append(
                        f"| {name} | {band} | {s['n']} | {_f(s['d_err_median'])} | "
                        f"{_f(s['d_bias_median'], digits=1)} | {_f(s['d_err_p95'])} | "
                        f"{_f(s.get('d_coverage95'), digits=0)} | "
                        f"{_f(s.get('n_coverage95'), digits=0)} | "
                        f"{_f(s.get('n_err_median'))} | {_f(s['flagged_or_missing'], digits=0)} "
                        f"| {_flags(s['flags'])} |"
                    )
            lines.append("\nPer left-out set of constants (all bands):\n")
            lines.append("| estimator | set | n | median abs err | bias | p95 | d cover95 |")
            lines.append("|---|---|---|---|---|---|---|")
            for name in ESTIMATORS:
                for member, s in res["per_member"].get(name, {}).items():
                    lines.append(
                        f"| {name} | {member} | {s['n']} | {_f(s['d_err_median'])} | "
                        f"{_f(s['d_bias_median'])} | {_f(s['d_err_p95'])} | "
                        f"{_f(s.get('d_coverage95'), digits=0)} |"
                    )
            sp = res.get("speed", {})
            if "ratio" in sp:
                lines.append(
                    f"\nSpeed (median per spectrum, interleaved): ensemble "
                    f"{sp['ensemble_ms']:.2f} ms, today {sp['today_ms']:.2f} ms, ratio "
                    f"{sp['ratio']:.2f}x"
                )
            elif sp:
                lines.append(f"\nSpeed: today {sp['today_ms']:.2f} ms per spectrum")
            lines.append(
                f"Generation: {1e3 * res['generation_s_per_spectrum']:.1f} ms per spectrum "
                "(tables warm unless this run built them)"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--per-member", type=int, default=20, help="spectra per set of constants")
    p.add_argument("--metals", default="Au,Ag")
    p.add_argument("--axes", default="601,2048")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-ensemble", action="store_true", help="run (b) and (c) only")
    p.add_argument("--no-records", action="store_true", help="leave per-spectrum records out")
    p.add_argument(
        "--all-sets", action="store_true", help="test on Werner's gold too (see NOT_GOLD_LIKE)"
    )
    p.add_argument("--json", type=Path, help="write the result here")
    args = p.parse_args(argv)
    metals = [m.strip() for m in args.metals.split(",") if m.strip()]
    axes = [a.strip() for a in args.axes.split(",") if a.strip()]
    for m in metals:
        if m not in truth.MEMBERS:
            p.error(f"--metals: {m!r} not in {list(truth.MEMBERS)}")
    for a in axes:
        if a not in truth.AXES:
            p.error(f"--axes: {a!r} not in {list(truth.AXES)}")
    t0 = time.perf_counter()
    result: dict[str, Any] = {
        "command": " ".join(["python", "benchmarks/bench_uvvis_honest.py", *sys.argv[1:]]),
        "machine": f"{platform.node()} {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "truth": {
            "pymiecs": truth.package_version("pymiecs"),
            "refractiveindex_info_db": truth.DATABASE_VERSION,
            "drude": {k: vars(v) for k, v in truth.DRUDE.items()},
        },
        "kernel_for": kernel_signature(),
        "per_member": args.per_member,
        "seed": args.seed,
        "flagged_definition": _FLAG_NOTE,
        "results": {},
    }
    for metal in metals:
        for axis_name in axes:
            print(f"{metal} {axis_name}: ", end="", file=sys.stderr, flush=True)
            res = run_axis(
                metal, axis_name, args.per_member, args.seed, not args.no_ensemble, args.all_sets
            )
            if args.no_records:
                res.pop("records")
            result["results"].setdefault(metal, {})[axis_name] = res
    result["elapsed_s"] = time.perf_counter() - t0
    print(markdown(result))
    print(f"\nelapsed {result['elapsed_s']:.0f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1, default=float) + "\n")
    return result


if __name__ == "__main__":
    main()
