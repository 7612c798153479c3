"""Accuracy of the first size estimator (Haiss et al. 2007 eq 11) on simulated spectra.

For gold spheres of 5-100 nm (lognormal, gsd 1.0 and 1.1, 0.25 mM Au(0), 1 cm, water) the
simulator's Mie spectra go through the UVVisFeatures model, noise-free and with the simulator's
instrument noise (0.002 AU, 20 seeded draws). Both of Haiss's coefficient pairs are reported:
the Mie-based default (3.55, 3.11) and the TEM-fitted pair (3.00, 2.20).

    python benchmarks/bench_haiss.py
"""

from __future__ import annotations

import argparse
import platform
from datetime import datetime, timezone

import numpy as np

from synthwatch.collectors.sim.gold import noise_free_spectrum
from synthwatch.contract.messages import Descriptor, Reading
from synthwatch.models.uvvis.model import HAISS_EXPERIMENT, HAISS_THEORY, UVVisFeatures

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
WL = np.arange(300.0, 901.0)
SIZES_NM = (5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 60.0, 80.0, 100.0)


def estimate(model: UVVisFeatures, absorbance: np.ndarray) -> float | None:
    model.update(Reading(run_id="b", t=T0, sensor_id="uv1", seq=0, values=list(absorbance)))
    return model.estimate.get("d_haiss_nm").value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--draws", type=int, default=20)
    ap.add_argument("--noise-au", type=float, default=0.002)
    args = ap.parse_args()
    desc = Descriptor(
        run_id="b",
        t=T0,
        sensor_id="uv1",
        kind="uvvis",
        axis=list(WL),
        axis_units="nm",
        value_units="AU",
        path_length_cm=1.0,
    )
    models = {
        "theory": UVVisFeatures(desc, haiss_coefficients=HAISS_THEORY),
        "experiment": UVVisFeatures(desc, haiss_coefficients=HAISS_EXPERIMENT),
    }
    rng = np.random.default_rng(0)
    print(f"# {platform.node()} python {platform.python_version()} numpy {np.__version__}")
    print(
        "| d true nm | gsd | noise-free, Mie pair | noise-free, TEM pair | "
        f"noisy {args.noise_au} AU, Mie pair: median err (p5..p95) |"
    )
    print("|---|---|---|---|---|")
    worst = {"theory": 0.0, "experiment": 0.0}
    for gsd in (1.0, 1.1):
        for d in SIZES_NM:
            clean = noise_free_spectrum(d, gsd, au0_mM=0.25, wavelengths_nm=WL)
            row = [f"{d:.0f}", f"{gsd}"]
            for key in ("theory", "experiment"):
                est = estimate(models[key], clean)
                err = est / d - 1
                if 10.0 <= d <= 80.0:
                    worst[key] = max(worst[key], abs(err))
                row.append(f"{est:.1f} ({err:+.0%})")
            errs = []
            for _ in range(args.draws):
                noisy = clean + rng.normal(0.0, args.noise_au, clean.size)
                est = estimate(models["theory"], noisy)
                errs.append(np.nan if est is None else est / d - 1)
            e = np.array(errs)
            row.append(
                f"{np.nanmedian(e):+.1%} ({np.nanpercentile(e, 5):+.1%}..."
                f"{np.nanpercentile(e, 95):+.1%})"
            )
            print("| " + " | ".join(row) + " |")
    print(
        f"\nworst |error| for 10-80 nm, noise-free: Mie pair {worst['theory']:.1%}, "
        f"TEM pair {worst['experiment']:.1%}"
    )


if __name__ == "__main__":
    main()
