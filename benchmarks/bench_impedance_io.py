"""Cost of reading impedance exports with validation, against impedance.py's readers alone.

For each format, one 60-frequency sweep (7 significant digits, as instruments write) is read
``--repeat`` times by :func:`synthwatch.collectors.impedance.formats.read_sweep` (layout check,
per-line validation, impedance.py's reader, agreement check, sorting) and by impedance.py's own
reader for that format (no validation); the median time per file of each and their ratio are
reported. Then a folder of ``--files`` exports is taken in by the folder watcher (poll, parse,
acknowledge with an fsync'd state file per file), the figure that bounds how fast a backlog
is caught up after a restart.

    python benchmarks/bench_impedance_io.py
    python benchmarks/bench_impedance_io.py --repeat 200 --files 1440 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from impedance import preprocessing

from synthwatch.collectors.folder.watch import FolderWatcher
from synthwatch.collectors.impedance.formats import read_sweep
from synthwatch.collectors.impedance.sweep import make_sweep
from synthwatch.collectors.impedance.write import WRITERS, write_sweep

READERS = {
    "gamry": preprocessing.readGamry,
    "zplot": preprocessing.readZPlot,
    "biologic": preprocessing.readBioLogic,
    "autolab": preprocessing.readAutolab,
    "chi": preprocessing.readCHInstruments,
    "parstat": preprocessing.readParstat,
    "powersuite": preprocessing.readPowerSuite,
    "versastudio": preprocessing.readVersaStudio,
    "csv": None,  # impedance.py's readCSV reads a header row as a NaN point: no fair baseline
    "nova": None,  # no impedance.py reader
}


def randles(f_hz: np.ndarray) -> np.ndarray:
    cpe = 1.0 / (2e-6 * (2j * np.pi * f_hz) ** 0.9)
    return 100.0 + 1.0 / (1.0 / 1000.0 + 1.0 / cpe)


def median_us(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    f = np.logspace(-1, 5, 60)
    z = randles(f)
    sweep = make_sweep("bench", f, z.real, z.imag, fmt="memory")
    results: dict[str, object] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "formats": {},
    }
    print(f"{'format':<11} {'synthwatch µs':>14} {'impedance.py µs':>16} {'ratio':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in WRITERS:
            path = write_sweep(sweep, Path(tmp) / f"s.{fmt}", fmt, digits=7)
            ours = median_us(lambda p=path: read_sweep(p), args.repeat)
            reader = READERS[fmt]
            theirs = median_us(lambda p=path, r=reader: r(str(p)), args.repeat) if reader else None
            ratio = ours / theirs if theirs else None
            results["formats"][fmt] = {"synthwatch_us": ours, "impedance_py_us": theirs}
            print(
                f"{fmt:<11} {ours:14.0f} {theirs or float('nan'):16.0f} "
                f"{ratio or float('nan'):7.2f}"
            )
        folder = Path(tmp) / "folder"
        folder.mkdir()
        for i in range(args.files):
            write_sweep(sweep, folder / f"sweep_{i:05d}.DTA", "gamry", digits=7)
        watcher = FolderWatcher(folder, clock=lambda: 0.0, settle_s=0.0)
        t0 = time.perf_counter()
        events = watcher.poll()
        for event in events:
            watcher.ack(event)
        elapsed = time.perf_counter() - t0
    per_file_ms = elapsed / len(events) * 1e3
    results["folder"] = {"files": len(events), "seconds": elapsed, "ms_per_file": per_file_ms}
    print(
        f"folder watcher: {len(events)} Gamry files in {elapsed:.2f} s, {per_file_ms:.2f} ms each"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
