"""Raw-count UV-Vis exports: refused with the flags to pass, read once --dark and --reference
name the dark and reference spectra (replay --folder)."""

from __future__ import annotations

import shutil

from conftest import ROOT
from synthwatch.stream.cli.main import main
from synthwatch.stream.store.embedded import Store

REAL = ROOT / "tests" / "data" / "real" / "uvvis"


def test_replay_of_raw_counts_needs_and_takes_dark_and_reference(tmp_path, capsys):
    folder = tmp_path / "counts"
    folder.mkdir()
    shutil.copy(REAL / "synth_ocean_scope_sample.txt", folder)
    store = tmp_path / "s.sqlite"
    common = ["--store", str(store), "replay", "--folder", str(folder), "--system", "Au-citrate"]

    assert main([*common, "--no-progress", "--as", "no-ref"]) == 2
    out = capsys.readouterr()
    said = out.out + out.err  # the refusal summary, then the one-line error
    assert "--reference FILE" in said and "synth_ocean_scope_sample.txt" in said, said

    dark = REAL / "synth_ooibase32_scope_dark.txt"
    reference = REAL / "synth_ooibase32_scope_reference.txt"
    argv = [*common, "--dark", str(dark), "--reference", str(reference), "--as", "with-ref"]
    assert main([*argv, "--no-progress"]) == 0
    with Store(store) as s:
        (reading,) = list(s.readings("with-ref"))
    assert max(reading.values) > 0.05  # absorbance, not counts
    assert max(reading.values) < 5.0
