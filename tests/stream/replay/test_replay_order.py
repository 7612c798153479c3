"""A folder of single-spectrum files without times inside is replayed in the order of the
numbers in the file names, not of modification times (``cp -r`` scrambles those)."""

from __future__ import annotations

import os

import numpy as np

from synthwatch.stream.replay.recorded import FolderSource, replay
from synthwatch.stream.store.embedded import Store


def _xy(path, height_au: float) -> None:
    """A headerless two-column export (no time inside): wavelength, absorbance."""
    axis = np.arange(400.0, 801.0, 2.0)
    a = 0.05 + height_au * np.exp(-(((axis - 520.0) / 40.0) ** 2))
    path.write_text("".join(f"{x:.1f}\t{y:.5f}\n" for x, y in zip(axis, a)))


def test_untimed_files_follow_the_numbers_in_their_names(tmp_path):
    folder = tmp_path / "copied"
    folder.mkdir()
    heights = {"spec_1.txt": 0.2, "spec_2.txt": 0.4, "spec_10.txt": 0.8}
    for name, h in heights.items():
        _xy(folder / name, h)
    # a copy scrambled the mtimes: spec_10 looks oldest, spec_1 newest
    base = 1_790_000_000
    for name, age_s in {"spec_10.txt": 0, "spec_2.txt": 60, "spec_1.txt": 120}.items():
        os.utime(folder / name, (base + age_s, base + age_s))
    source = FolderSource(folder, system="Au-citrate")
    with Store(tmp_path / "s.sqlite") as store:
        result = replay(source, store, as_run_id="r")
        assert result.readings == 3
        peaks = [max(r.values) for r in store.readings_by_time("r")]
    assert np.argsort(peaks).tolist() == [0, 1, 2], peaks  # spec_1, spec_2, spec_10


def test_two_sweeps_that_start_at_the_same_time_keep_both_fits(tmp_path):
    """Two exports with one start time (a copied file, two channels of one instrument): the
    store keys estimates by event time, so each sweep gets its own (1 ms apart), and both fits
    are kept."""
    import shutil
    import warnings

    from conftest import ROOT

    folder = tmp_path / "eis"
    folder.mkdir()
    original = ROOT / "tests" / "data" / "real" / "impedance" / "syn_gamry_randles1.DTA"
    shutil.copy(original, folder / "cell_a.DTA")
    shutil.copy(original, folder / "cell_b.DTA")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the EventTimeWarning that says so
        source = FolderSource(folder, system="SiO2-Stober")
    with Store(tmp_path / "s.sqlite") as store:
        result = replay(source, store, as_run_id="r")
        assert result.readings == 2
        fits = store.estimates("r", measurement="impedance_fit")
    assert len(fits) == 2 and len({f.t for f in fits}) == 2
