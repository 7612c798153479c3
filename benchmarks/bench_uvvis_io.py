"""Cost of reading a UV-Vis export with detection and validation, against numpy.loadtxt.

A 3,648-pixel spectrum (a Hamamatsu/Toshiba linear CCD, as in Ocean USB/Flame spectrometers)
is written twice: OceanView "ASCII with header" (tab pairs after the header) and a plain
two-column CSV (``wavelength_nm,absorbance``). Each is read ``--repeat`` times by
:func:`synthwatch.collectors.uvvis.files.read_spectra` (decode, detect the layout by content,
parse, check the axis) and by ``numpy.loadtxt`` on the same file (no detection, no checks),
alternating the two readers in one run; the median time per file of each and their ratio are
reported. ``--corpus`` prints the table of formats × files read/refused of
tests/data/real/uvvis.

    python benchmarks/bench_uvvis_io.py
    python benchmarks/bench_uvvis_io.py --repeat 500 --corpus
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from synthwatch.collectors.uvvis.common import read_lines
from synthwatch.collectors.uvvis.files import UVVisParseError, detect_format, read_spectra

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "real" / "uvvis"
PIXELS = 3648


def _spectrum():
    wl = np.linspace(177.2, 891.6, PIXELS)
    a = 0.55 * np.exp(-(((wl - 520.0) / 45.0) ** 2)) + 0.08 * (400.0 / wl) ** 4
    a += np.random.default_rng(1).normal(0, 2e-4, PIXELS)
    return wl, a


def write_files(folder: Path) -> dict[str, tuple[Path, dict]]:
    wl, a = _spectrum()
    ov = folder / "oceanview.txt"
    head = [
        "Data from Absorbance_FLMS01234__0__10-15-00-000.txt Node", "",
        "Date: Thu Jan 01 10:15:00 CET 2026", "User: lab", "Spectrometer: FLMS01234",
        "Trigger mode: 0", "Integration Time (sec): 1.000000E-2", "Scans to average: 5",
        "Electric dark correction enabled: true", "Nonlinearity correction enabled: false",
        "Boxcar width: 2", "XAxis mode: Wavelengths", f"Number of Pixels in Spectrum: {PIXELS}",
        ">>>>>Begin Spectral Data<<<<<",
    ]  # fmt: skip
    ov.write_text("\n".join(head + [f"{x:.2f}\t{y:.5f}" for x, y in zip(wl, a)]) + "\n")
    csv = folder / "plain.csv"
    csv.write_text(
        "wavelength_nm,absorbance\n" + "\n".join(f"{x:.2f},{y:.5f}" for x, y in zip(wl, a)) + "\n"
    )
    return {
        "OceanView (tab pairs, 14-line header)": (ov, {"skiprows": len(head)}),
        "plain CSV (wavelength_nm,absorbance)": (csv, {"skiprows": 1, "delimiter": ","}),
    }


def bench(repeat: int) -> list[dict]:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, (path, kw) in write_files(Path(tmp)).items():
            ours, theirs = [], []
            (s,) = read_spectra(path)
            ref = np.loadtxt(path, **kw)
            assert np.allclose(s.wavelengths_nm, ref[:, 0]) and np.allclose(
                s.absorbance_au, ref[:, 1]
            )
            for _ in range(repeat):  # alternate, so both see the same machine state
                t0 = time.perf_counter()
                read_spectra(path)
                t1 = time.perf_counter()
                np.loadtxt(path, **kw)
                t2 = time.perf_counter()
                ours.append(t1 - t0)
                theirs.append(t2 - t1)
            m_ours, m_np = statistics.median(ours) * 1e3, statistics.median(theirs) * 1e3
            out.append({"layout": label, "read_spectra_ms": m_ours, "loadtxt_ms": m_np,
                        "ratio": m_ours / m_np, "bytes": path.stat().st_size})  # fmt: skip
    return out


def corpus_table() -> str:
    """Markdown table: format × files read / refused in tests/data/real/uvvis."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    dark = CORPUS / "synth_ooibase32_scope_dark.txt"
    ref = CORPUS / "synth_ooibase32_scope_reference.txt"
    for p in sorted(CORPUS.iterdir()):
        if p.suffix in (".md", ".py"):
            continue
        try:
            fmt = detect_format(read_lines(p)) or "(not recognised)"
        except UVVisParseError:
            fmt = "(not recognised)"
        try:
            read_spectra(p, dark=dark, reference=ref) if "scope_sample" in p.name else read_spectra(
                p
            )
            counts[fmt][0] += 1
        except UVVisParseError:
            counts[fmt][1] += 1
    rows = ["| format (detected by content) | files read | files refused |", "|---|---:|---:|"]
    for fmt in sorted(counts):
        rows.append(f"| {fmt} | {counts[fmt][0]} | {counts[fmt][1]} |")
    total = [sum(v[0] for v in counts.values()), sum(v[1] for v in counts.values())]
    rows.append(f"| **all** | {total[0]} | {total[1]} |")
    return "\n".join(rows)


def cpu_model() -> str:
    try:
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                return ln.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=300)
    ap.add_argument("--corpus", action="store_true", help="print the corpus table too")
    args = ap.parse_args()
    print(f"machine: nproc={os.cpu_count()}, {cpu_model()}, Python {platform.python_version()}, "
          f"numpy {np.__version__}")  # fmt: skip
    print(f"{PIXELS}-pixel spectrum, {args.repeat} reads each, alternating, medians:")
    print("| layout | bytes | read_spectra (ms) | numpy.loadtxt (ms) | ratio |")
    print("|---|---:|---:|---:|---:|")
    for r in bench(args.repeat):
        print(f"| {r['layout']} | {r['bytes']} | {r['read_spectra_ms']:.3f} | "
              f"{r['loadtxt_ms']:.3f} | {r['ratio']:.2f} |")  # fmt: skip
    if args.corpus:
        print()
        print(corpus_table())


if __name__ == "__main__":
    main()
