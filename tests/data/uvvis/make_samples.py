"""Regenerate the UV-Vis sample exports of this folder (run from the repository root).

The good files hold simulated citrate-gold absorbance spectra (GoldCitrateSimulator, seed 0,
a spectrum every 300 s, 400-800 nm every 2 nm, 1 cm path) written by tests/uvvis_writers.py in
each layout: OceanView, SpectraSuite, JCAMP-DX 4.24, CSV of a time series (one column per
spectrum headed by its ISO 8601 time) and CSV of one spectrum. The bad files are cut or edited
from them as listed in BAD; tests/collectors/test_uvvis_files.py says which line each is
reported at.

    .venv-dev/bin/python tests/data/uvvis/make_samples.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from synthwatch.collectors.gold_sim import GoldCitrateSimulator  # noqa: E402
from uvvis_writers import (  # noqa: E402
    write_csv,
    write_jcamp,
    write_oceanview,
    write_spectrasuite,
)

AXIS = np.arange(400.0, 801.0, 2.0)


def main() -> None:
    sim = GoldCitrateSimulator(seed=0, duration_s=1800.0, interval_s=300.0, wavelengths_nm=AXIS)
    spectra = np.array([values for _, values in sim.spectra()])
    times = sim.times()
    write_oceanview(HERE / "oceanview_gold.txt", AXIS, spectra[3], times[3])
    write_spectrasuite(HERE / "spectrasuite_gold.txt", AXIS, spectra[3], times[3])
    write_jcamp(HERE / "gold.jdx", AXIS, spectra[3], times[3], title="gold colloid, 15 min")
    write_csv(HERE / "gold_series.csv", AXIS, spectra, times)
    single = ["wavelength_nm,absorbance"] + [f"{x:.2f},{y:.5f}" for x, y in zip(AXIS, spectra[3])]
    (HERE / "gold_single.csv").write_text("\n".join(single) + "\n")

    ov = (HERE / "oceanview_gold.txt").read_text().splitlines()
    jdx = (HERE / "gold.jdx").read_text().splitlines()
    series = (HERE / "gold_series.csv").read_text().splitlines()
    bad = {
        # OceanView: a value that is not a number on line 20 (6th data line)
        "bad_ov_value.txt": ov[:19] + ["410.00\t0.1x3"] + ov[20:],
        # OceanView cut short: the header says 201 pixels
        "bad_ov_truncated.txt": ov[:60],
        # OceanView date that is not a date (line 3)
        "bad_ov_date.txt": ov[:2] + ["Date: yesterday"] + ov[3:],
        # JCAMP-DX in transmittance
        "bad_jcamp_units.jdx": [ln.replace("ABSORBANCE", "TRANSMITTANCE") for ln in jdx],
        # JCAMP-DX cut in the middle of its data (NPOINTS=201)
        "bad_jcamp_truncated.jdx": jdx[:25],
        # CSV without a wavelength column
        "bad_csv_no_wavelength.csv": ["time," + series[0].split(",", 1)[1]] + series[1:],
        # CSV with a short row on line 8
        "bad_csv_ragged.csv": series[:7] + [",".join(series[7].split(",")[:3])] + series[8:],
        # CSV whose wavelengths go back on line 12
        "bad_csv_axis.csv": series[:11] + ["404.00" + series[11][6:]] + series[12:],
        "bad_empty.txt": [],
    }
    for name, lines in bad.items():
        (HERE / name).write_text("\n".join(lines) + ("\n" if lines else ""))


if __name__ == "__main__":
    main()
