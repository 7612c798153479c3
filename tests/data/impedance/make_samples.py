"""Regenerate the impedance sample exports of this folder (run from the repository root).

The good files hold one simulated sweep of a Randles cell, R_s + (R_ct || CPE) with R_s = 100 ohm,
R_ct = 1000 ohm, Q = 2e-6 F s^(a-1), a = 0.9 (Z_CPE = 1 / (Q (j 2 pi f)^a); Orazem & Tribollet,
Electrochemical Impedance Spectroscopy, 2nd ed., 2017, eq. 14.1), 31 frequencies from 100 kHz to
0.1 Hz (5 per decade), written by synthwatch.collectors.impedance_write in each vendor's layout
with 7 significant digits (Gamry's file in Latin-1, as Framework writes it). The bad files are
derived from them by hand-made cuts and edits listed below; tests/collectors/test_impedance_files.py
says which line each must be reported at.

    .venv-dev/bin/python tests/data/impedance/make_samples.py
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np

from synthwatch.collectors.impedance_sweep import make_sweep
from synthwatch.collectors.impedance_write import write_sweep

HERE = Path(__file__).resolve().parent
NAMES = {
    "gamry": "randles.DTA",
    "zplot": "randles.z",
    "biologic": "randles.mpt",
    "autolab": "randles_autolab.txt",
    "nova": "randles_nova.txt",
    "chi": "randles_chi.txt",
    "parstat": "randles_parstat.txt",
    "powersuite": "randles_powersuite.txt",
    "versastudio": "randles.par",
    "csv": "randles.csv",
}


def randles(f_hz: np.ndarray) -> np.ndarray:
    cpe = 1.0 / (2e-6 * (2j * np.pi * f_hz) ** 0.9)
    return 100.0 + 1.0 / (1.0 / 1000.0 + 1.0 / cpe)


def main() -> None:
    f = np.logspace(-1, 5, 31)
    z = randles(f)
    sweep = make_sweep("randles", f, z.real, z.imag, fmt="memory")
    t = datetime(2026, 3, 14, 9, 26, 53)
    for fmt, name in NAMES.items():
        path = write_sweep(sweep, HERE / name, fmt, digits=7, started_at=t)
        if fmt == "gamry":
            path.write_bytes(path.read_text(encoding="utf-8").encode("latin-1"))
    good = (HERE / "randles.csv").read_text().splitlines(keepends=True)
    bad = {
        "bad_empty.csv": "",
        "bad_header_only.csv": good[0],
        "bad_truncated.csv": "".join(good[:10]) + good[10][:12],
        "bad_wrong_columns.csv": "frequency_hz,phase_deg,modulus_ohm\n" + "".join(good[1:]),
        "bad_non_numeric.csv": "".join(good[:5])
        + good[5].replace(",", ",abc", 1)
        + "".join(good[6:]),
        "bad_nan.csv": "".join(good[:7]) + "1000.0,nan,-3.0\n" + "".join(good[8:]),
        "bad_zero_frequency.csv": "".join(good[:3]) + "0.0,120.0,-3.0\n" + "".join(good[4:]),
        "bad_negative_frequency.csv": "".join(good[:3]) + "-5,120.0,-3.0\n" + "".join(good[4:]),
    }
    dta = (HERE / "randles.DTA").read_bytes().decode("latin-1").splitlines(keepends=True)
    bad["bad_truncated.DTA"] = "".join(dta[:20]) + dta[20][:15]
    bad["bad_no_table.DTA"] = "".join(dta[:11])
    mpt = (HERE / "randles.mpt").read_text().splitlines(keepends=True)
    bad["bad_wrong_columns.mpt"] = "".join(mpt[:10]) + mpt[10].replace("-Im(Z)/Ohm", "Im(Z)/Ohm")
    bad["bad_wrong_columns.mpt"] += "".join(mpt[11:])
    chi = (HERE / "randles_chi.txt").read_text().splitlines(keepends=True)
    bad["bad_non_numeric_chi.txt"] = "".join(chi[:20]) + chi[20].replace("E", "X", 1)
    bad["bad_non_numeric_chi.txt"] += "".join(chi[21:])
    for name, text in bad.items():
        (HERE / name).write_text(text, encoding="latin-1" if name.endswith(".DTA") else "utf-8")


if __name__ == "__main__":
    main()
