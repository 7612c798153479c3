"""Print the table of the real impedance corpus: per format, files read and refused (issue 18).

    .venv/bin/python benchmarks/impedance_corpus.py

Reads every file of tests/data/real/impedance (README.md there gives each source and licence)
with :func:`~synthwatch.collectors.impedance.formats.read_sweeps`; a file's format is the one
detected from its content; refused files are counted under the format their name says.
"""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path

from synthwatch.collectors.impedance.formats import detect_format, read_sweeps
from synthwatch.collectors.impedance.sweep import ParseError
from synthwatch.collectors.impedance.table import read_lines

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "real" / "impedance"


def main() -> None:
    files, read, refused, sweeps, warned = Counter(), Counter(), Counter(), Counter(), Counter()
    for path in sorted(CORPUS.iterdir()):
        if path.suffix in (".py", ".md"):
            continue
        try:
            fmt = detect_format(read_lines(path))
        except ParseError:
            fmt = "?"
        files[fmt] += 1
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                got = read_sweeps(path)
            except ParseError:
                refused[fmt] += 1
                continue
        read[fmt] += 1
        sweeps[fmt] += len(got)
        warned[fmt] += bool(caught)
    print("| format | files | read | refused | sweeps | impedance.py cross-check warned |")
    print("|---|---:|---:|---:|---:|---:|")
    for fmt in sorted(files):
        print(
            f"| {fmt} | {files[fmt]} | {read[fmt]} | {refused[fmt]} | {sweeps[fmt]} "
            f"| {warned[fmt]} |"
        )
    total = sum(files.values())
    print(
        f"| **all** | {total} | {sum(read.values())} | {sum(refused.values())} "
        f"| {sum(sweeps.values())} | {sum(warned.values())} |"
    )


if __name__ == "__main__":
    main()
