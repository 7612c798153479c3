"""The corpus of real impedance exports (tests/data/real/impedance, sources in its README.md).

Each real file is checked against what it states and against impedance.py's reader for its
format; derived files hold the lab's layouts no shareable real file was found for (looped PEIS,
GEIS rows at 0 Hz, several Gamry ZCURVE tables, footers); ``bad_*`` files are cut and must be
refused at the line of the cut. Mutations of every corpus file give sweeps or a ParseError.
"""

from __future__ import annotations

import os
import warnings
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from impedance import preprocessing

from conftest import ROOT
from synthwatch.collectors.folder.impedance import SweepStream
from synthwatch.collectors.folder.watch import FolderWatcher
from synthwatch.collectors.impedance.formats import read_sweep, read_sweeps
from synthwatch.collectors.impedance.messages import EventTimeWarning
from synthwatch.collectors.impedance.sweep import ParseError
from synthwatch.collectors.impedance.vendors import CrossCheckWarning
from synthwatch.contract.messages import Reading

REAL = ROOT / "tests" / "data" / "real" / "impedance"
UVVIS = ROOT / "tests" / "data" / "real" / "uvvis"
UTC = timezone.utc
CORPUS = sorted(p for p in REAL.iterdir() if p.suffix not in (".py", ".md"))
GOOD = [p for p in CORPUS if not p.name.startswith("bad_")]

#: real file -> (format, impedance.py reader, points, start time stated in the file or None)
REAL_FILES = {
    "ipy_Circuit1_EIS_1.z": ("zplot", "readZPlot", 48, datetime(2018, 10, 12, 12, 32, 21)),
    "ipy_Circuit1_EIS_2.z": ("zplot", "readZPlot", 48, datetime(2018, 10, 12, 12, 33, 17)),
    "ipy_Circuit2_EIS_1.z": ("zplot", "readZPlot", 56, datetime(2018, 10, 12, 11, 4, 34)),
    "ipy_Circuit2_EIS_2.z": ("zplot", "readZPlot", 56, datetime(2018, 10, 12, 11, 13, 36)),
    "ipy_Circuit3_EIS_1.z": ("zplot", "readZPlot", 53, datetime(2018, 10, 12, 11, 41, 1)),
    "ipy_Circuit3_EIS_2.z": ("zplot", "readZPlot", 53, datetime(2018, 10, 12, 11, 42, 3)),
    "ipy_exampleDataZPlot.z": ("zplot", "readZPlot", 21, datetime(2018, 10, 12, 11, 4, 34)),
    "ipy_exampleDataZPlot_noComments.z": (
        "zplot", "readZPlot", 31, datetime(2019, 12, 17, 16, 24, 35),
    ),  # ZPlotW 3.2c layout
    "ipy_exampleData.csv": ("csv", "readCSV", 66, None),
    "ipy_exampleDataAutolab.txt": ("autolab", "readAutolab", 41, None),
    "ipy_exampleDataBioLogic.mpt": (
        "biologic", "readBioLogic", 43, datetime(2018, 2, 4, 10, 2, 46),
    ),
    "ipy_exampleDataCHInstruments.txt": (
        "chi", "readCHInstruments", 73, datetime(2020, 2, 20, 15, 55, 8),
    ),
    "ipy_exampleDataGamry.DTA": ("gamry", "readGamry", 72, datetime(2018, 4, 23, 16, 43, 15)),
    "ipy_exampleDataGamryABORT.DTA": ("gamry", "readGamry", 72, datetime(2020, 3, 18, 16, 54, 44)),
    "ipy_exampleDataParstat.txt": ("parstat", "readParstat", 31, None),
    "ipy_exampleDataPowersuite.txt": ("powersuite", "readPowerSuite", 30, None),
    "ipy_exampleDataVersaStudio.par": (
        "versastudio", "readVersaStudio", 61, datetime(2018, 7, 19, 9, 40, 30),
    ),
    "gp_eispot_data.dta": ("gamry", "readGamry", 10, datetime(2016, 5, 11, 17, 47, 3)),
    "gp_eispot_data_curveaborted.dta": ("gamry", "readGamry", 5, datetime(2016, 5, 11, 17, 47, 3)),
}  # fmt: skip

#: cut file -> line of the cut and words of the reason
BAD = {
    "bad_eclab_cut_in_number.mpt": (104, "row cut inside a number"),
    "bad_gamry_fewer_fields.DTA": (520, "expected 11 fields as the header names, got 4"),
    "bad_zplot_cut_in_number.z": (144, "truncated file"),
    "ipy_exampleDataBioLogic_MissingFreq.mpt": (61, "expected a column 'freq/Hz'"),
}


def test_the_corpus_is_large_and_documented():
    assert len(CORPUS) >= 40
    readme = (REAL / "README.md").read_text()
    for p in CORPUS:
        assert p.name in readme, f"{p.name} is not listed in README.md"


@pytest.mark.parametrize("name", sorted(REAL_FILES))
def test_real_files_read_as_they_state_and_as_impedance_py_reads_them(name):
    fmt, reader, n, started = REAL_FILES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error", CrossCheckWarning)  # these files the two read alike
        sweep = read_sweep(REAL / name, tz=UTC)
    assert (sweep.fmt, sweep.n_points, sweep.of) == (fmt, n, 1)
    assert sweep.started_at == (started.replace(tzinfo=UTC) if started else None)
    f, z = getattr(preprocessing, reader)(str(REAL / name))
    order = np.argsort(f, kind="stable")
    assert sweep.frequencies_hz[0] == f.min() and sweep.frequencies_hz[-1] == f.max()
    assert sweep.z_real_ohm[0] == z[order][0].real and sweep.z_imag_ohm[-1] == z[order][-1].imag
    assert "crosscheck" not in dict(sweep.meta)


def test_zplotw_3x_layout_values():
    sweep = read_sweep(REAL / "ipy_exampleDataZPlot_noComments.z", tz=UTC)
    # the file's first data row: 3.000000E+05, ..., 6.4262E+02, -8.5821E+01 (line 11)
    assert sweep.frequencies_hz[-1] == 3.0e5 and sweep.lines[-1] == 11
    assert (sweep.z_real_ohm[-1], sweep.z_imag_ohm[-1]) == (642.62, -85.821)


@pytest.mark.parametrize("name", sorted(BAD))
def test_cut_files_are_refused_at_the_line_of_the_cut(name):
    line, words = BAD[name]
    with pytest.raises(ParseError) as info:
        read_sweeps(REAL / name)
    assert info.value.line == line and words in str(info.value)
    assert name in str(info.value)


def test_a_number_cut_short_on_an_unterminated_last_line(tmp_path):
    text = (REAL / "ipy_exampleDataCHInstruments.txt").read_text().rstrip("\n")
    last = len(text.split("\n"))
    good = tmp_path / "whole.txt"
    good.write_text(text)  # no final line end, but whole: read
    assert read_sweep(good).n_points == 73
    for cut in (text[:-2], text[: text.rfind("e") + 1], text[: text.rfind(",") - 3]):
        path = tmp_path / "cut.txt"
        path.write_text(cut)
        with pytest.raises(ParseError, match=rf"cut.txt, line {last}: "):
            read_sweep(path)


def test_trailing_blank_lines_and_footers_are_fine():
    chi = read_sweep(REAL / "drv_chi_footer.txt")
    assert chi.n_points == 73 and dict(chi.meta)["footer_line"] == "94"
    assert read_sweep(REAL / "drv_gamry_trailing_blanks.DTA").n_points == 72


def test_text_after_the_data_followed_by_more_rows_is_an_error(tmp_path):
    lines = (REAL / "ipy_exampleDataCHInstruments.txt").read_text().split("\n")
    lines.insert(40, "operator note")
    path = tmp_path / "note.txt"
    path.write_text("\n".join(lines))
    with pytest.raises(ParseError, match=r"line 41: expected 5 fields as the header names, got 1"):
        read_sweep(path)


def test_impedance_py_disagreement_warns_and_never_rejects():
    with pytest.warns(CrossCheckWarning, match="readGamry"):
        sweeps = read_sweeps(REAL / "drv_gamry_two_zcurves.DTA", tz=UTC)
    assert len(sweeps) == 2 and "crosscheck" in dict(sweeps[0].meta)


def test_looped_peis_is_one_sweep_per_cycle_with_millisecond_start():
    sweeps = read_sweeps(REAL / "drv_eclab_looped_peis_2cycles.mpt", tz=UTC)
    assert [(s.index, s.of, s.n_points) for s in sweeps] == [(0, 2, 43), (1, 2, 43)]
    acquired = datetime(2018, 2, 4, 10, 2, 46, 250000, tzinfo=UTC)  # "10:02:46.250"
    first_row_s = 7.836904905780102e-01  # time/s of the first data row
    assert abs(sweeps[0].started_at - (acquired + timedelta(seconds=first_row_s))) < timedelta(
        microseconds=1
    )
    assert sweeps[1].started_at > sweeps[0].started_at
    assert sweeps[0].same_data(sweeps[1])
    with pytest.raises(ParseError, match="holds 2"):
        read_sweep(REAL / "drv_eclab_looped_peis_2cycles.mpt")


def test_geis_rows_at_0_hz_are_dropped_with_a_count():
    with pytest.warns(CrossCheckWarning):  # impedance.py keeps the 0 Hz rows
        sweeps = read_sweeps(REAL / "drv_eclab_geis_0hz_rows.mpt", tz=UTC)
    assert len(sweeps) == 2 and all(s.n_points == 43 for s in sweeps)
    assert dict(sweeps[0].meta)["dropped_zero_hz"] == "2"


def test_several_gamry_zcurve_tables_are_several_sweeps():
    sweeps = read_sweeps(REAL / "drv_gamry_two_zcurves.DTA", tz=UTC)
    assert [s.n_points for s in sweeps] == [72, 72]
    assert sweeps[1].started_at - sweeps[0].started_at == timedelta(seconds=2000)


def test_a_uvvis_export_is_not_a_recognised_impedance_export():
    for p in sorted(UVVIS.iterdir())[:4]:
        with pytest.raises(ParseError, match=r"not a recognised impedance export \(tried: gamry"):
            read_sweeps(p)


def test_utf16_and_bom_exports_read_the_same(tmp_path):
    src = REAL / "ipy_exampleDataCHInstruments.txt"
    text = src.read_text()
    for enc in ("utf-16", "utf-8-sig"):
        path = tmp_path / f"chi_{enc}.txt"
        path.write_bytes(text.encode(enc))
        assert read_sweep(path).same_data(read_sweep(src))


def _stream(folder, times_from_file: bool):
    watcher = FolderWatcher(folder, settle_s=0.0)
    stream = SweepStream(run_id="r1", sensor_id="eis1")
    out = []
    for event in watcher.poll():
        out += stream.messages_for(event)
        watcher.ack(event)
    return [m for m in out if isinstance(m, Reading)]


def test_a_multi_sweep_file_is_one_reading_per_sweep_each_at_its_own_time(tmp_path):
    data = (REAL / "drv_eclab_looped_peis_2cycles.mpt").read_bytes()
    (tmp_path / "loop.mpt").write_bytes(data)
    readings = _stream(tmp_path, True)
    assert [r.seq for r in readings] == [0, 1]
    assert readings[0].t != readings[1].t


def test_sweeps_that_share_an_event_time_keep_every_fit(tmp_path):
    # no start time in the file: both sweeps would take the file's modification time
    lines = (REAL / "drv_eclab_looped_peis_2cycles.mpt").read_text("latin-1").split("\n")
    lines = [t for t in lines if not t.startswith("Acquisition started on")]
    lines[1] = f"Nb header lines : {int(lines[1].split(':')[1]) - 1}"
    (tmp_path / "loop.mpt").write_bytes("\n".join(lines).encode("latin-1"))
    with pytest.warns(EventTimeWarning, match="1 of 2 sweeps shared an event time"):
        readings = _stream(tmp_path, False)
    assert len(readings) == 2 and len({r.t for r in readings}) == 2


FAST = settings(
    max_examples=int(os.environ.get("SYNTHWATCH_FUZZ_EXAMPLES", "60")),
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    deadline=None,
)


@FAST
@given(
    data=st.data(),
    mutation=st.sampled_from(["truncate", "blank", "utf16", "bom", "bytes", "latin1", "cr"]),
)
def test_mutated_corpus_files_give_sweeps_or_a_parse_error(tmp_path, data, mutation):
    src = data.draw(st.sampled_from(CORPUS))
    raw = src.read_bytes()
    if mutation == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    elif mutation == "blank":
        lines = raw.split(b"\n")
        lines.insert(data.draw(st.integers(0, len(lines))), b"")
        raw = b"\n".join(lines) + b"\n\n\n"
    elif mutation == "utf16":
        raw = raw.decode("latin-1").encode("utf-16")
    elif mutation == "bom":
        raw = b"\xef\xbb\xbf" + raw
    elif mutation == "bytes":
        at = data.draw(st.integers(0, len(raw)))
        raw = raw[:at] + data.draw(st.binary(min_size=1, max_size=8)) + raw[at:]
    elif mutation == "latin1":
        raw = raw.replace(b"e", b"\xe9", 1)
    else:
        raw = raw.replace(b"\n", b"\r")
    path = tmp_path / ("m_" + src.name)
    path.write_bytes(raw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            sweeps = read_sweeps(path)
        except ParseError as err:
            assert path.name in str(err)
            return
    assert sweeps and all(s.n_points >= 3 for s in sweeps)
