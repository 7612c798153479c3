"""Regenerate the synthesised and derived files of this corpus (README.md lists which is which).

Run from the repository root: ``.venv/bin/python tests/data/real/impedance/make_synthesised.py``.
Derived files (``drv_*``) are edits of the real exports beside them, made to hold a layout no
shareable real file was found for (a looped PEIS with two cycles, GEIS rows at 0 Hz, two Gamry
ZCURVE tables, footers, cuts); ``syn_*`` files are simulated sweeps written by synthwatch's
writers in each vendor's layout; ``bad_*`` files are cuts that must be refused at a line.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np

from synthwatch.collectors.impedance.sweep import make_sweep
from synthwatch.collectors.impedance.write import WRITERS, write_sweep

HERE = Path(__file__).resolve().parent
ENC = "latin-1"  # EC-Lab and Gamry write the ANSI code page


def _read(name: str) -> list[str]:
    return (HERE / name).read_text(ENC).split("\n")


def _write(name: str, lines: list[str]) -> None:
    (HERE / name).write_bytes("\n".join(lines).encode(ENC))


def eclab() -> None:
    src = _read("ipy_exampleDataBioLogic.mpt")
    head, rows = src[:61], [r for r in src[61:] if r.strip()]
    cols = head[60].split("\t")
    t_col, c_col = cols.index("time/s"), cols.index("cycle number")
    span = float(rows[-1].split("\t")[t_col]) + 60.0
    second = []
    for r in rows:
        f = r.split("\t")
        f[t_col] = f"{float(f[t_col]) + span:.15E}"
        f[c_col] = "2.000000000000000E+000"
        second.append("\t".join(f))
    ms = [h.replace("02/04/2018 10:02:46", "02/04/2018 10:02:46.250") for h in head]
    _write("drv_eclab_looped_peis_2cycles.mpt", ms + rows + second + [""])
    zero = []
    for r in rows[:1]:
        f = r.split("\t")
        f[0] = "0.0000000E+000"
        zero.append("\t".join(f))
    geis = [h.replace("Potentio Electrochemical", "Galvano Electrochemical") for h in head]
    _write("drv_eclab_geis_0hz_rows.mpt", geis + zero + rows + zero + second + [""])
    cut = "\n".join(head + rows)
    (HERE / "bad_eclab_cut_in_number.mpt").write_bytes(cut[: cut.rfind("E+00") + 2].encode(ENC))


def gamry() -> None:
    src = _read("ipy_exampleDataGamry.DTA")
    z = next(i for i, t in enumerate(src) if t.startswith("ZCURVE\tTABLE"))
    table = [t for t in src[z:] if t.strip()]
    second = ["ZCURVE2\tTABLE", *table[1:3]]
    for t in table[3:]:
        f = t.split("\t")
        f[2] = str(float(f[2]) + 2000.0)  # elapsed time (s): the second sweep starts later
        second.append("\t".join(f))
    _write("drv_gamry_two_zcurves.DTA", src[:z] + table + second + [""])
    _write("drv_gamry_trailing_blanks.DTA", src[:z] + table + ["", "", "  ", ""])
    rows = table[3:]
    short = rows[-1].split("\t")[:5]
    _write("bad_gamry_fewer_fields.DTA", src[:z] + table[:3] + rows[:-1] + ["\t".join(short), ""])


def chi_and_zplot() -> None:
    src = _read("ipy_exampleDataCHInstruments.txt")
    body = [t for t in src if t.strip() or True]
    while body and not body[-1].strip():
        body.pop()
    _write("drv_chi_footer.txt", body + ["", "", "End of data", ""])
    z = (HERE / "ipy_exampleDataZPlot.z").read_text(ENC).rstrip("\n")
    (HERE / "bad_zplot_cut_in_number.z").write_bytes(z[: z.rfind("E") + 1].encode(ENC))


def simulated() -> None:
    f = np.logspace(5, -1, 31)
    for k, (rs, rct, q, a) in enumerate([(12.0, 340.0, 5e-5, 0.88), (85.0, 2400.0, 3e-6, 0.93)]):
        w = 2j * np.pi * f
        z = rs + 1.0 / (1.0 / rct + q * w**a)
        sweep = make_sweep("sim", f, z.real, z.imag, fmt="memory")
        t = datetime(2025, 11, 3 + k, 14, 5, 9)
        for fmt in WRITERS:
            suffix = {"gamry": "DTA", "zplot": "z", "biologic": "mpt", "versastudio": "par",
                      "csv": "csv"}.get(fmt, "txt")  # fmt: skip
            write_sweep(sweep, HERE / f"syn_{fmt}_randles{k + 1}.{suffix}", fmt, started_at=t)


if __name__ == "__main__":
    eclab()
    gamry()
    chi_and_zplot()
    simulated()
