"""Spectra per second through the embedded pipeline, beside a hand-written lab script.

    python benchmarks/bench_pipeline.py [--spectra N] [--repeat R] [--json OUT] [--profile]

What is timed (generation of the input is not):

* ``pipeline``: ``run_embedded(messages, [store], speed=0)`` into a fresh
  ``Store(tmp/…/b.sqlite)`` opened with ``with`` -- memory transport (in-process, it hands over
  the validated message objects), worker reorder buffer, ``UVVisFeatures`` (preprocess,
  sub-pixel peak fit, FWHM, Haiss) and ``FlaggedFrames``, SQLite store (readings + estimates,
  committed on close). ``pipeline_json_wire`` is the same with ``serialize=True``: every
  message encoded to JSON and decoded and validated again, as over Kafka.
* ``baseline``: the minimal lab script a chemist would write for the same spectra: argmax in
  480-620 nm, A_450 by index, Haiss d = exp(3.55 * A_spr/A_450 - 3.11), ``json.dumps`` of the
  result and one sqlite3 INSERT per spectrum (spectrum as JSON text), committing every 0.5 s.
  Also the same script storing the spectrum as float64 bytes (``baseline_blob``), and its
  arithmetic alone (``baseline_numerics``), so the ratio can be read against either.
* The breakdown, each on its own: ``codec`` (encode + decode of every reading), ``model``
  (``UVVisFeatures.update`` + ``.estimate``), ``rule`` (``FlaggedFrames.update``), ``store``
  (``Store.add`` of readings + estimates, then ``flush``).

Each repeat runs pipeline then baseline back to back on fresh store files, so the ratio is
taken within a repeat; the figure is the median over repeats, with min-max. Everything is
written under a temporary folder that is removed at the end: never the user's store.
``OPENBLAS_CORETYPE`` / ``OPENBLAS_L2_SIZE`` are recorded as found, never changed.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import resource
import shlex
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

INTERVAL_S = 2.0
REPO = Path(__file__).resolve().parent.parent

# Haiss et al. 2007, eq 11 with the theoretical coefficients, as the lab script would copy it.
HAISS_B1, HAISS_B2 = 3.55, 3.11
COMMIT_INTERVAL_S = 0.5  # the store's default commit_interval_s: same durability


# --------------------------------------------------------------------------- machine


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def machine_info() -> dict[str, Any]:
    import numpy as np
    import pydantic

    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in _read("/proc/cpuinfo").splitlines()
            if ln.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    mem_kib = next(
        (
            int(ln.split()[1])
            for ln in _read("/proc/meminfo").splitlines()
            if ln.startswith("MemTotal:")
        ),
        0,
    )
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        nproc = os.cpu_count() or 0
    blas: list[dict[str, Any]] = []
    try:
        from threadpoolctl import threadpool_info

        blas = [
            {k: d.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
            for d in threadpool_info()
        ]
    except ImportError:  # optional: only to say which BLAS kernel numpy runs
        pass
    status = _git("status", "--porcelain")
    return {
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
        "cpu_model": cpu,
        "nproc": nproc,
        "ram_gib": round(mem_kib / 2**20, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pydantic": pydantic.__version__,
        "sqlite": sqlite3.sqlite_version,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"),
        "blas": blas,
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
    }


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (ru_maxrss is KiB on Linux)."""
    ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return ru / 1024 if sys.platform != "darwin" else ru / 2**20


# --------------------------------------------------------------------------- input


def generate(n: int, seed: int) -> list:
    """RunStart, Descriptor, n Readings, RunStop of a simulated citrate gold run, as a list."""
    from synthwatch.collectors.sim.gold import GoldCitrateSimulator

    sim = GoldCitrateSimulator(seed=seed, duration_s=n * INTERVAL_S, interval_s=INTERVAL_S)
    messages = list(sim.messages())
    n_readings = sum(type(m).__name__ == "Reading" for m in messages)
    if n_readings != n:
        raise SystemExit(f"generated {n_readings} readings, expected {n}")
    return messages


# --------------------------------------------------------------------------- synthwatch


def run_pipeline(messages: list, path: Path, serialize: bool = False) -> float:
    """Seconds for the whole embedded pipeline into a fresh store (committed on close).

    ``serialize=True`` sends JSON bytes through the memory transport, as over Kafka.
    """
    from synthwatch.stream.runtime.pipeline import run_embedded
    from synthwatch.stream.store.embedded import Store

    t0 = time.perf_counter()
    with Store(path) as store:
        run_embedded(messages, [store], speed=0.0, serialize=serialize)
    return time.perf_counter() - t0


def check_store(path: Path, n: int) -> dict[str, int]:
    """What the pipeline stored: every reading and one estimate per reading (+ health)."""
    con = sqlite3.connect(path)
    try:
        counts = {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("readings", "estimates", "alerts", "deadletters")
        }
    finally:
        con.close()
    if counts["readings"] != n or counts["estimates"] < n:
        raise SystemExit(f"pipeline stored {counts}, expected {n} readings and estimates")
    return counts


def time_codec(readings: list) -> tuple[float, float]:
    from synthwatch.contract.messages import decode, encode

    t0 = time.perf_counter()
    blobs = [encode(r) for r in readings]
    t1 = time.perf_counter()
    for b in blobs:
        decode(b)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1


def model_estimates(descriptor, readings: list) -> list:
    """The UVVisFeatures estimate of every reading (untimed: the input of rule/store only)."""
    from synthwatch.models.uvvis.model import UVVisFeatures

    model = UVVisFeatures(descriptor)
    out = []
    for r in readings:
        model.update(r)
        out.append(model.estimate)
    return out


def time_model(descriptor, readings: list) -> float:
    """UVVisFeatures update + estimate of every reading; the estimates are not kept (as in the
    pipeline, where the store takes them), so the garbage collector sees what it sees there."""
    from synthwatch.models.uvvis.model import UVVisFeatures

    model = UVVisFeatures(descriptor)
    t0 = time.perf_counter()
    for r in readings:
        model.update(r)
        model.estimate  # noqa: B018 - built on demand
    return time.perf_counter() - t0


def time_other_models(head: list, descriptor, readings: list) -> dict[str, float]:
    """Seconds per model for the worker's other estimators on the same readings (the size
    distribution, shape and non-parametric models the default registry attaches)."""
    from synthwatch.contract.messages import RunStart
    from synthwatch.stream.runtime.registry import models_for

    start = next(m for m in head if isinstance(m, RunStart))
    out = {}
    for model in models_for(start, descriptor).estimators[1:]:  # [0] is UVVisFeatures
        t0 = time.perf_counter()
        for r in readings:
            model.update(r)
            model.estimate  # noqa: B018 - built on demand
        out[model.name] = time.perf_counter() - t0
    return out


def time_rule(estimates: list) -> float:
    from synthwatch.models.alerts.quality import FlaggedFrames

    rule = FlaggedFrames()
    t0 = time.perf_counter()
    for e in estimates:
        rule.update(e)
        rule.alerts  # noqa: B018 - read as the worker does
    return time.perf_counter() - t0


def time_store(head: list, readings: list, estimates: list, path: Path) -> float:
    """Store.add of RunStart/Descriptor, every reading and estimate (interleaved), flush."""
    from synthwatch.stream.store.embedded import Store

    with Store(path) as store:
        t0 = time.perf_counter()
        for m in head:
            store.add(m)
        for r, e in zip(readings, estimates):
            store.add(r)
            store.add(e)
        store.flush()
        return time.perf_counter() - t0


# --------------------------------------------------------------------------- baseline


def baseline_input(messages: list):
    """What a lab script gets from an instrument: (time, numpy spectrum) pairs, and the axis."""
    import numpy as np

    desc = next(m for m in messages if type(m).__name__ == "Descriptor")
    wl = np.asarray(desc.axis, dtype=float)
    frames = [
        (m.t.timestamp(), m.seq, np.asarray(m.values, dtype=float))
        for m in messages
        if type(m).__name__ == "Reading"
    ]
    return wl, frames


def run_baseline(
    wl, frames: list, path: Path, blob: bool = False
) -> tuple[float, list[tuple[float, float]]]:
    """The hand-written lab script; returns seconds and its (peak nm, d nm) per spectrum.

    ``blob=True`` is the same script storing the spectrum as float64 bytes (as the store does)
    instead of JSON text: a second, leaner reference.
    """
    import numpy as np

    t0 = time.perf_counter()
    con = sqlite3.connect(path)
    # The store's own settings, so both have the same durability (WAL, NORMAL, 0.5 s commits).
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = NORMAL")
    con.execute("CREATE TABLE IF NOT EXISTS spectra (seq INTEGER, t REAL, spectrum, result TEXT)")
    lo, hi = np.searchsorted(wl, 480.0), np.searchsorted(wl, 620.0, side="right")
    i450 = int(np.argmin(np.abs(wl - 450.0)))
    peaks = []
    last_commit = time.monotonic()
    # numpy scalars, so a frame with A_450 ~ 0 (before nucleation) gives inf instead of
    # stopping the script (math.exp overflows there); warnings off, as a script would have them.
    with np.errstate(all="ignore"):
        for t, seq, a in frames:
            k = lo + int(np.argmax(a[lo:hi]))
            a_spr, a_450 = a[k], a[i450]
            ratio = a_spr / a_450
            d = np.exp(HAISS_B1 * ratio - HAISS_B2)
            result = {
                "lambda_spr_nm": float(wl[k]),
                "a_spr": float(a_spr),
                "a_450": float(a_450),
                "ratio": float(ratio),
                "d_nm": float(d),
            }
            con.execute(
                "INSERT INTO spectra VALUES (?, ?, ?, ?)",
                (seq, t, a.tobytes() if blob else json.dumps(a.tolist()), json.dumps(result)),
            )
            peaks.append((result["lambda_spr_nm"], result["d_nm"]))
            if time.monotonic() - last_commit >= COMMIT_INTERVAL_S:
                con.commit()
                last_commit = time.monotonic()
    con.commit()
    con.close()
    return time.perf_counter() - t0, peaks


def time_baseline_numerics(wl, frames: list) -> float:
    """The lab script's arithmetic alone (no JSON, no SQLite): what the model replaces."""
    import numpy as np

    lo, hi = np.searchsorted(wl, 480.0), np.searchsorted(wl, 620.0, side="right")
    i450 = int(np.argmin(np.abs(wl - 450.0)))
    t0 = time.perf_counter()
    with np.errstate(all="ignore"):
        for _t, _seq, a in frames:
            k = lo + int(np.argmax(a[lo:hi]))
            ratio = a[k] / a[i450]
            np.exp(HAISS_B1 * ratio - HAISS_B2)
    return time.perf_counter() - t0


# --------------------------------------------------------------------------- report


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def profile_pipeline(messages: list, path: Path, top: int = 20) -> None:
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    run_pipeline(messages, path)
    prof.disable()
    for key, what in (("cumulative", "cumulative"), ("tottime", "own")):
        print(f"\n--- cProfile of one pipeline pass (top {top} by {what} time) ---")
        pstats.Stats(prof).strip_dirs().sort_stats(key).print_stats(top)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--spectra",
        type=int,
        default=3600,
        help="UV-Vis spectra to push through (default 3600 = 2 h at 2 s)",
    )
    ap.add_argument("--repeat", type=int, default=5, help="repeats; the median is reported")
    ap.add_argument("--seed", type=int, default=0, help="simulator seed (default 0)")
    ap.add_argument("--json", type=Path, metavar="OUT", help="also write the results as JSON")
    ap.add_argument(
        "--profile",
        action="store_true",
        help="after the timed repeats, print a cProfile of one pipeline pass",
    )
    args = ap.parse_args(argv)
    if args.spectra < 1 or args.repeat < 1:
        ap.error("--spectra and --repeat must be >= 1")
    args.command = shlex.join(["python", sys.argv[0], *(sys.argv[1:] if argv is None else argv)])

    with tempfile.TemporaryDirectory(prefix="synthwatch-bench-") as tmp:
        tmpdir = Path(tmp)
        # Nothing below may touch the user's store: every Store gets an explicit path in tmpdir,
        # and SYNTHWATCH_HOME points there too in case anything falls back to the default.
        os.environ["SYNTHWATCH_HOME"] = str(tmpdir / "home")
        return _run(args, tmpdir)


def _run(args: argparse.Namespace, tmpdir: Path) -> int:
    rss: dict[str, float] = {}
    t0 = time.perf_counter()
    import numpy as np  # noqa: F401

    import synthwatch.stream.runtime.pipeline  # noqa: F401
    import synthwatch.stream.store.embedded  # noqa: F401

    rss["after_imports"] = peak_rss_mib()
    machine = machine_info()
    n = args.spectra

    tg = time.perf_counter()
    messages = generate(n, args.seed)
    gen_s = time.perf_counter() - tg
    head = [m for m in messages if type(m).__name__ in ("RunStart", "Descriptor")]
    descriptor = head[-1]
    readings = [m for m in messages if type(m).__name__ == "Reading"]
    wl, frames = baseline_input(messages)
    estimates = model_estimates(descriptor, readings)
    # The input is materialised only so that generating it is not timed; in a real run it is
    # streamed. Freeze it so that the garbage collector does not rescan it at every full
    # collection (which would charge the code under test for holding the whole input).
    gc.collect()
    gc.freeze()
    rss["after_generation"] = peak_rss_mib()

    pipe_s, base_s, blob_s, ratios, blob_ratios = [], [], [], [], []
    enc_s, dec_s, model_s, rule_s, store_s, bnum_s = [], [], [], [], [], []
    stored: dict[str, int] = {}
    peaks: list[tuple[float, float]] = []
    wire_s: list[float] = []
    other_s: dict[str, list[float]] = {}
    # One untimed warm-up pass of each (imports, page cache, first-call costs).
    run_pipeline(messages[: min(len(messages), 50)], tmpdir / "warm" / "p.sqlite")
    (tmpdir / "warm").mkdir(exist_ok=True)
    run_baseline(wl, frames[:50], tmpdir / "warm" / "b.sqlite")
    for i in range(args.repeat):
        rep = tmpdir / f"rep{i}"
        rep.mkdir()
        gc.collect()
        p = run_pipeline(messages, rep / "b.sqlite")
        gc.collect()
        wire_s.append(run_pipeline(messages, rep / "wire.sqlite", serialize=True))
        gc.collect()
        b, peaks = run_baseline(wl, frames, rep / "baseline.sqlite")
        gc.collect()
        bb, _ = run_baseline(wl, frames, rep / "baseline_blob.sqlite", blob=True)
        pipe_s.append(p)
        base_s.append(b)
        blob_s.append(bb)
        ratios.append(b / p)  # (n / p) / (n / b): spectra/s synthwatch over baseline
        blob_ratios.append(bb / p)
        stored = check_store(rep / "b.sqlite", n)
        rss.setdefault("after_first_pipeline_and_baseline", peak_rss_mib())

        gc.collect()
        e, d = time_codec(readings)
        enc_s.append(e)
        dec_s.append(d)
        model_s.append(time_model(descriptor, readings))
        for name, secs in time_other_models(head, descriptor, readings).items():
            other_s.setdefault(name, []).append(secs)
        rule_s.append(time_rule(estimates))
        store_s.append(time_store(head, readings, estimates, rep / "store_only.sqlite"))
        bnum_s.append(time_baseline_numerics(wl, frames))
        for f in rep.iterdir():  # keep the temp folder small
            f.unlink()
    rss["end"] = peak_rss_mib()

    # How far the two agree, and what the baseline gets wrong on bad frames.
    lam = np.array(
        [np.nan if (q := e.get("lambda_spr_nm").value) is None else q for e in estimates]
    )
    base_lam = np.array([p[0] for p in peaks])
    unflagged = np.array([not e.flags for e in estimates])
    ok = np.isfinite(lam) & np.isfinite(base_lam) & unflagged
    dlam = np.abs(lam[ok] - base_lam[ok])
    agreement = {
        "frames_unflagged_with_a_peak": int(ok.sum()),
        "median_abs_dlambda_nm": float(np.median(dlam)) if dlam.size else None,
        "max_abs_dlambda_nm": float(np.max(dlam)) if dlam.size else None,
        "synthwatch_flagged_frames": int((~unflagged).sum()),
        "frames_with_nan_values": sum(1 for _, _, a in frames if not np.isfinite(a).all()),
        "baseline_nonfinite_or_over_100nm_d": sum(
            1 for _, d in peaks if not (math.isfinite(d) and d <= 100.0)
        ),
    }

    rate = lambda secs: [n / s for s in secs]  # noqa: E731
    codec_s = [a + b for a, b in zip(enc_s, dec_s)]
    results = {
        "command": args.command,
        "spectra": n,
        "repeat": args.repeat,
        "seed": args.seed,
        "points_per_spectrum": int(wl.size),
        "generation_s": gen_s,
        "machine": machine,
        "pipeline_spectra_per_s": summary(rate(pipe_s)),
        "baseline_spectra_per_s": summary(rate(base_s)),
        "ratio_synthwatch_over_baseline": summary(ratios),
        "pipeline_json_wire_spectra_per_s": summary(rate(wire_s)),
        "ratio_json_wire_over_baseline": summary([b / w for b, w in zip(base_s, wire_s)]),
        "baseline_blob_spectra_per_s": summary(rate(blob_s)),
        "ratio_synthwatch_over_baseline_blob": summary(blob_ratios),
        "breakdown_us_per_spectrum": {
            "pipeline": summary([s / n * 1e6 for s in pipe_s]),
            "codec_encode": summary([s / n * 1e6 for s in enc_s]),
            "codec_decode": summary([s / n * 1e6 for s in dec_s]),
            "codec": summary([s / n * 1e6 for s in codec_s]),
            "model": summary([s / n * 1e6 for s in model_s]),
            **{
                f"model {name}": summary([s / n * 1e6 for s in secs])
                for name, secs in other_s.items()
            },
            "rule": summary([s / n * 1e6 for s in rule_s]),
            "store": summary([s / n * 1e6 for s in store_s]),
            "baseline": summary([s / n * 1e6 for s in base_s]),
            "baseline_blob": summary([s / n * 1e6 for s in blob_s]),
            "baseline_numerics": summary([s / n * 1e6 for s in bnum_s]),
        },
        "breakdown_spectra_per_s": {
            "codec": summary(rate(codec_s)),
            "model": summary(rate(model_s)),
            "rule": summary(rate(rule_s)),
            "store": summary(rate(store_s)),
        },
        "stored_rows": stored,
        "agreement": agreement,
        "peak_rss_mib": rss,
        "wall_s": time.perf_counter() - t0,
    }
    print_report(results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    if args.profile:
        profile_pipeline(messages, tmpdir / "profile.sqlite")
    return 0


def print_report(r: dict[str, Any]) -> None:
    m = r["machine"]
    fmt = lambda s, u="": f"{s['median']:>9.1f}{u}  ({s['min']:.1f} – {s['max']:.1f})"  # noqa: E731
    print(
        f"synthwatch pipeline benchmark — {r['spectra']} spectra x {r['points_per_spectrum']} "
        f"points, {r['repeat']} repeats, seed {r['seed']}"
    )
    print(
        f"machine: {m['cpu_model']}, {m['nproc']} cores, {m['ram_gib']} GiB; "
        f"Python {m['python']}, numpy {m['numpy']}, pydantic {m['pydantic']}, "
        f"SQLite {m['sqlite']}; {m['date_utc']} UTC; git {m['git_commit']}"
        f"{' (dirty)' if m['git_dirty'] else ''}"
    )
    print(
        f"OPENBLAS_CORETYPE={m['OPENBLAS_CORETYPE']} OPENBLAS_L2_SIZE={m['OPENBLAS_L2_SIZE']} "
        f"(left as found); BLAS: "
        + ", ".join(f"{b['internal_api']} {b['version']} {b['architecture']}" for b in m["blas"])
    )
    print(f"input generation (not timed): {r['generation_s']:.2f} s\n")
    print("spectra/s, median (min – max):")
    print(f"  synthwatch pipeline  {fmt(r['pipeline_spectra_per_s'])}")
    print(f"  lab-script baseline  {fmt(r['baseline_spectra_per_s'])}")
    rr = r["ratio_synthwatch_over_baseline"]
    print(f"  ratio synthwatch/baseline  {rr['median']:.3f}  ({rr['min']:.3f} – {rr['max']:.3f})")
    print(f"  pipeline, JSON on the wire  {fmt(r['pipeline_json_wire_spectra_per_s'])}")
    rw = r["ratio_json_wire_over_baseline"]
    print(f"  ratio JSON-wire/baseline  {rw['median']:.3f}  ({rw['min']:.3f} – {rw['max']:.3f})")
    print(f"  lab script, spectrum as blob  {fmt(r['baseline_blob_spectra_per_s'])}")
    rb = r["ratio_synthwatch_over_baseline_blob"]
    print(
        f"  ratio synthwatch/blob script  {rb['median']:.3f}  ({rb['min']:.3f} – {rb['max']:.3f})"
    )
    print("\nbreakdown, µs per spectrum, median (min – max):")
    for k, v in r["breakdown_us_per_spectrum"].items():
        print(f"  {k:<18} {fmt(v)}")
    b = r["breakdown_us_per_spectrum"]
    parts = sum(v["median"] for k, v in b.items() if k == "model" or k.startswith("model "))
    parts += b["rule"]["median"] + b["store"]["median"]
    pipe = r["breakdown_us_per_spectrum"]["pipeline"]["median"]
    print(
        f"  (models+rule+store = {parts:.1f} µs; the rest — transport, reorder "
        f"buffer, routing — {pipe - parts:.1f} µs)"
    )
    print(f"\nstored rows: {r['stored_rows']}")
    print(f"agreement: {r['agreement']}")
    print("peak RSS (MiB): " + ", ".join(f"{k} {v:.0f}" for k, v in r["peak_rss_mib"].items()))
    print(f"benchmark wall time: {r['wall_s']:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
