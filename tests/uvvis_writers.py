"""Write absorbance spectra in the layouts of the UV-Vis exports synthwatch reads (test helper).

The layouts are those of collectors/uvvis/files.py's docstring: OceanView "ASCII with header"
(tab-separated pairs after ``>>>>>Begin Spectral Data<<<<<``), SpectraSuite (processed-spectrum
block between begin/end markers), JCAMP-DX 4.24 UV/VIS (``##XYDATA=(X++(Y..Y))`` with integer
ordinates and ``##YFACTOR``, as spectrometer software writes it) and CSV (wavelength column,
one column per spectrum headed by its ISO 8601 time).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np


def _java_date(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%a %b %d %H:%M:%S UTC %Y")


def write_oceanview(path: Path, wl: np.ndarray, a: np.ndarray, t: datetime) -> Path:
    stamp = t.astimezone(timezone.utc).strftime("%H-%M-%S-%f")[:-3]
    head = [
        f"Data from Absorbance_USB4F01234__0__{stamp}.txt Node",
        "",
        f"Date: {_java_date(t)}",
        "User: lab",
        "Spectrometer: USB4F01234",
        "Trigger mode: 0",
        "Integration Time (sec): 1.000000E-2",
        "Scans to average: 5",
        "Electric dark correction enabled: true",
        "Nonlinearity correction enabled: false",
        "Boxcar width: 2",
        "XAxis mode: Wavelengths",
        f"Number of Pixels in Spectrum: {wl.size}",
        ">>>>>Begin Spectral Data<<<<<",
    ]
    rows = [f"{x:.2f}\t{y:.5f}" for x, y in zip(wl, a)]
    path.write_text("\n".join(head + rows) + "\n", encoding="utf-8")
    return path


def write_spectrasuite(path: Path, wl: np.ndarray, a: np.ndarray, t: datetime) -> Path:
    head = [
        "SpectraSuite Data File",
        "++++++++++++++++++++++++++++++++++++",
        f"Date: {_java_date(t)}",
        "User: lab",
        "Dark Spectrum Present: Yes",
        "Reference Spectrum Present: Yes",
        "Number of Sampled Component Spectra: 1",
        "Spectrometers: USB4F01234",
        "Integration Time (usec): 10000 (USB4F01234)",
        "Spectra Averaged: 5 (USB4F01234)",
        "Boxcar Smoothing: 2 (USB4F01234)",
        "Correct for Electrical Dark: Yes (USB4F01234)",
        "Strobe/Lamp Enabled: No (USB4F01234)",
        "Correct for Detector Non-linearity: No (USB4F01234)",
        "Correct for Stray Light: No (USB4F01234)",
        f"Number of Pixels in Processed Spectrum: {wl.size}",
        ">>>>>Begin Processed Spectral Data<<<<<",
    ]
    rows = [f"{x:.2f}\t{y:.5f}" for x, y in zip(wl, a)]
    path.write_text(
        "\n".join(head + rows + [">>>>>End Processed Spectral Data<<<<<"]) + "\n", encoding="utf-8"
    )
    return path


def write_jcamp(path: Path, wl: np.ndarray, a: np.ndarray, t: datetime, title: str = "") -> Path:
    yfactor = 1e-5
    ints = np.rint(np.asarray(a) / yfactor).astype(int)
    head = [
        f"##TITLE={title or 'gold colloid'}",
        "##JCAMP-DX=4.24",
        "##DATA TYPE=UV/VIS SPECTRUM",
        "##ORIGIN=synthwatch test data (simulated)",
        "##OWNER=public domain",
        f"##LONGDATE={t.astimezone(timezone.utc).strftime('%Y/%m/%d %H:%M:%S')} +0000",
        "##XUNITS=NANOMETERS",
        "##YUNITS=ABSORBANCE",
        "##XFACTOR=1.0",
        f"##YFACTOR={yfactor}",
        f"##FIRSTX={wl[0]:.4f}",
        f"##LASTX={wl[-1]:.4f}",
        f"##NPOINTS={wl.size}",
        f"##FIRSTY={ints[0] * yfactor:.5f}",
        "##XYDATA=(X++(Y..Y))",
    ]
    rows = []
    for k in range(0, wl.size, 8):
        rows.append(f"{wl[k]:.4f} " + " ".join(str(v) for v in ints[k : k + 8]))
    path.write_text("\n".join(head + rows + ["##END="]) + "\n", encoding="utf-8")
    return path


def write_csv(path: Path, wl: np.ndarray, spectra: np.ndarray, times: list[datetime]) -> Path:
    spectra = np.atleast_2d(spectra)
    names = [t.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") for t in times]
    rows = ["wavelength_nm," + ",".join(names)]
    for i, x in enumerate(wl):
        rows.append(f"{x:.2f}," + ",".join(f"{v:.5f}" for v in spectra[:, i]))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


WRITERS = {
    "oceanview": (write_oceanview, ".txt"),
    "spectrasuite": (write_spectrasuite, ".txt"),
    "jcamp": (write_jcamp, ".jdx"),
}
