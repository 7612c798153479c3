"""Write the synthesised files of this corpus (layouts with no shareable real export; README).

Run from the repository root: ``.venv/bin/python tests/data/real/uvvis/make_synthesised.py``.
Each spectrum is a citrate-gold-like band (520 nm) on a 1/λ⁴ scattering background.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def band(wl: np.ndarray, scale: float = 1.0) -> np.ndarray:
    return scale * (0.55 * np.exp(-(((wl - 520.0) / 45.0) ** 2)) + 0.08 * (400.0 / wl) ** 4)


def write(name: str, text: str, encoding: str = "utf-8") -> None:
    (HERE / name).write_text(text, encoding=encoding, newline="\n")


def main() -> None:
    wl = np.round(np.linspace(339.5, 1020.7, 600), 2)
    a = band(wl)
    rows = "\n".join(f"{x:.2f}\t{y:.5f}" for x, y in zip(wl, a))
    write(
        "synth_oceanview_absorbance.txt",
        "Data from Absorbance_FLMS01234__0__10-15-00-000.txt Node\n\n"
        "Date: Thu Jan 01 10:15:00 CET 2026\nUser: lab\nSpectrometer: FLMS01234\n"
        "Trigger mode: 0\nIntegration Time (sec): 1.000000E-2\nScans to average: 5\n"
        "Electric dark correction enabled: true\nNonlinearity correction enabled: false\n"
        "Boxcar width: 2\nXAxis mode: Wavelengths\nNumber of Pixels in Spectrum: 600\n"
        ">>>>>Begin Spectral Data<<<<<\n" + rows + "\n",
    )
    t = 10 ** (-a) * 100
    write(
        "synth_oceanview_transmission_comma.txt",
        "Data from Transmission_FLMS01234__0__10-20-00-000.txt Node\n\n"
        "Date: Thu Jan 01 10:20:00 CET 2026\nUser: lab\nSpectrometer: FLMS01234\n"
        "Number of Pixels in Spectrum: 600\n>>>>>Begin Spectral Data<<<<<\n"
        + "\n".join(f"{x:.2f}\t{y:.4f}".replace(".", ",") for x, y in zip(wl, t))
        + "\n",
    )
    write(
        "synth_spectrasuite.txt",
        "SpectraSuite Data File\n++++++++++++++++++++++++++++++++++++\n"
        "Date: Thu Jan 01 09:15:00 UTC 2026\nUser: lab\nDark Spectrum Present: Yes\n"
        "Reference Spectrum Present: Yes\nNumber of Sampled Component Spectra: 1\n"
        "Spectrometers: USB4F01234\nIntegration Time (usec): 10000 (USB4F01234)\n"
        "Number of Pixels in Processed Spectrum: 600\n"
        ">>>>>Begin Processed Spectral Data<<<<<\n"
        + rows
        + "\n>>>>>End Processed Spectral Data<<<<<\n",
    )
    dark = 1000.0 + 0 * wl
    ref = 1000.0 + 40000.0 * np.exp(-(((wl - 600.0) / 250.0) ** 2))
    sample = dark + (ref - dark) * 10 ** (-a)
    write(
        "synth_avantes_counts.txt",
        "Integration time [ms]: 10,000\nAveraging Nr. [scans]: 5\nSmoothing Nr. [pixels]: 0\n"
        "Data measured with spectrometer [name]: 1107123U1\n"
        "Wave   ;Sample   ;Dark     ;Reference;\n[nm]   ;[counts] ;[counts] ;[counts] ;\n\n"
        + "\n".join(
            f"{x:8.3f};{s:9.3f};{d:9.3f};{r:9.3f};".replace(".", ",")
            for x, s, d, r in zip(wl, sample, dark, ref)
        )
        + "\n",
    )
    write(
        "synth_ooibase32_scope_dark.txt",
        "\n".join(f"{x:.2f}\t{d:.1f}" for x, d in zip(wl, dark)) + "\n",
    )
    write(
        "synth_ooibase32_scope_reference.txt",
        "\n".join(f"{x:.2f}\t{r:.1f}" for x, r in zip(wl, ref)) + "\n",
    )
    write(
        "synth_ocean_scope_sample.txt",
        "Data from Scope_FLMS01234__0__10-25-00-000.txt Node\n\n"
        "Date: Thu Jan 01 10:25:00 CET 2026\nNumber of Pixels in Spectrum: 600\n"
        ">>>>>Begin Spectral Data<<<<<\n"
        + "\n".join(f"{x:.2f}\t{s:.1f}" for x, s in zip(wl, sample))
        + "\n",
    )
    w1 = np.arange(800.0, 299.0, -1.0)
    write(
        "synth_uvprobe_two_blocks.txt",
        '"Au seed 1"\n"Wavelength nm.","Abs."\n'
        + "\n".join(f"{x:.1f},{y:.4f}" for x, y in zip(w1, band(w1)))
        + '\n"Au seed 2"\n"Wavelength nm.","%T"\n'
        + "\n".join(f"{x:.1f},{100 * 10**-y:.3f}" for x, y in zip(w1, band(w1, 2.0)))
        + "\n",
    )
    head = ["PE UV       SUBTECH     SPECTRUM    ASCII       PEDS        4.00        -1",
            "AuNP_001.sp", "26/01/01", "26/01/01", "09:15:00.00", "26/01/01", "09:15:00.00",
            "Lambda 35", "1.00", "nm", "A", "#DATA"]  # fmt: skip
    write(
        "synth_perkinelmer_winlab.asc",
        "\n".join(head)
        + "\n"
        + "\n".join(f"{x:.6f}\t{y:.6f}" for x, y in zip(w1, band(w1)))
        + "\n",
    )
    w2 = np.arange(800.0, 399.0, -2.0)
    names, heads, cols = [], [], []
    for k, minutes in enumerate((0, 5, 10)):
        names += [f"{minutes} min", ""]
        heads += ["Wavelength (nm)", "Abs"]
        cols += [w2, band(w2, 0.2 + 0.4 * k)]
    lines = [",".join(names) + ",", ",".join(heads) + ","]
    lines += [",".join(f"{c[i]:.5f}" for c in cols) + "," for i in range(w2.size)]
    lines += ["", "Method Name: AuNP kinetics", "Collection Time: 1/1/2026 9:15:00 AM"]
    write("synth_cary60_kinetics_minutes.csv", "\n".join(lines) + "\n")
    w3 = np.arange(400.0, 801.0, 2.0)
    write(
        "synth_csv_semicolon_decimal_comma.csv",
        '"Wellenlänge (nm)";"0 s";"30 s";"60 s"\n'
        + "\n".join(
            ";".join(
                f"{v:.4f}".replace(".", ",")
                for v in (
                    x,
                    *band(np.array([x]), 1),
                    *band(np.array([x]), 1.5),
                    *band(np.array([x]), 2),
                )
            )
            for x in w3
        )
        + "\n",
        encoding="latin-1",
    )
    write(
        "synth_tsv_iso_times.tsv",
        "wavelength_nm\t2026-01-01T09:00:00Z\t2026-01-01T09:05:00Z\n"
        + "\n".join(
            f"{x:.1f}\t{band(np.array([x]))[0]:.5f}\t{band(np.array([x]), 2)[0]:.5f}" for x in w3
        )
        + "\n",  # fmt: skip
    )
    write(
        "synth_csv_micrometres.csv",
        "Wavelength (µm),Abs\n"
        + "\n".join(f"{x / 1000:.4f},{y:.5f}" for x, y in zip(w3, band(w3)))
        + "\n",
    )
    nu = np.arange(25000.0, 12499.0, -50.0)
    write(
        "synth_csv_wavenumber.csv",
        "Wavenumber (cm-1),Absorbance\n"
        + "\n".join(f"{v:.1f},{y:.5f}" for v, y in zip(nu, band(1e7 / nu)))
        + "\n",
    )
    ev = np.round(np.arange(1.55, 3.101, 0.01), 3)
    write(
        "synth_csv_energy_ev_percentT.csv",
        "Energy (eV),%T\n"
        + "\n".join(f"{e:.3f},{100 * 10**-y:.4f}" for e, y in zip(ev, band(1239.841984 / ev)))
        + "\n",
    )
    write(
        "synth_utf16_bom.csv",
        "wavelength_nm,absorbance\n"
        + "\n".join(f"{x:.1f},{y:.5f}" for x, y in zip(w3, band(w3)))
        + "\n",
        encoding="utf-16",
    )


if __name__ == "__main__":
    main()
