"""Impedance exports: every vendor sample parses to the sweep it holds; bad files name file+line."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT
from synthwatch.collectors.impedance.delimited import read_csv
from synthwatch.collectors.impedance.formats import FORMATS, detect_format, read_sweep
from synthwatch.collectors.impedance.messages import (
    AxisMismatchError,
    descriptor_for,
    reading_for,
)
from synthwatch.collectors.impedance.sweep import ParseError, make_sweep
from synthwatch.collectors.impedance.table import read_lines
from synthwatch.contract.messages import decode, encode

DATA = ROOT / "tests" / "data" / "impedance"
UTC = timezone.utc
#: the sample's start, written as the instrument PC's local wall-clock time
STARTED = datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)

SAMPLES = {
    "randles.DTA": ("gamry", True),
    "randles.z": ("zplot", True),
    "randles.mpt": ("biologic", True),
    "randles_autolab.txt": ("autolab", False),
    "randles_nova.txt": ("autolab", False),
    "randles_chi.txt": ("chi", True),
    "randles_parstat.txt": ("parstat", False),
    "randles_powersuite.txt": ("powersuite", False),
    "randles.par": ("versastudio", True),
    "randles.csv": ("csv", False),
}

#: bad file -> (line reported, or None for the whole file; words the message must contain)
BAD = {
    "bad_empty.csv": (None, "empty"),
    "bad_header_only.csv": (1, "expected impedance data rows after line 1, found none"),
    "bad_truncated.csv": (11, "truncated"),
    "bad_wrong_columns.csv": (1, "Z' column"),
    "bad_non_numeric.csv": (6, "expected a number"),
    "bad_nan.csv": (8, "finite Z'"),
    "bad_zero_frequency.csv": (4, "above 0 Hz"),
    "bad_negative_frequency.csv": (4, "above 0 Hz"),
    "bad_truncated.DTA": (21, "truncated"),
    "bad_no_table.DTA": (None, "ZCURVE"),
    "bad_wrong_columns.mpt": (11, "-Im(Z)/Ohm"),
    "bad_non_numeric_chi.txt": (21, "expected a number"),
}


def randles(f_hz: np.ndarray) -> np.ndarray:
    """The circuit the samples were made from (tests/data/impedance/make_samples.py)."""
    cpe = 1.0 / (2e-6 * (2j * np.pi * f_hz) ** 0.9)
    return 100.0 + 1.0 / (1.0 / 1000.0 + 1.0 / cpe)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_vendor_sample_reads_as_the_randles_sweep(name):
    fmt, dated = SAMPLES[name]
    sweep = read_sweep(DATA / name, tz=UTC)
    assert sweep.fmt == fmt
    assert sweep.n_points == 31
    assert np.allclose(sweep.frequencies_hz, np.logspace(-1, 5, 31), rtol=1e-6)
    z = randles(sweep.frequencies_hz)
    # 7 significant digits in the files; Z'' negative (capacitive) whatever the file stores
    assert np.allclose(sweep.z_real_ohm, z.real, rtol=1e-6)
    assert np.allclose(sweep.z_imag_ohm, z.imag, rtol=1e-6)
    assert np.all(sweep.z_imag_ohm < 0)
    assert np.all(np.diff(sweep.frequencies_hz) > 0)
    assert sweep.started_at == (STARTED if dated else None)
    assert sweep.source == DATA / name
    # every point remembers its line: the lowest frequency is the file's last data row
    lines = read_lines(DATA / name)
    assert sweep.lines[0] == max(sweep.lines) and sweep.lines[-1] == min(sweep.lines)
    assert "1.000000E-01" in lines[sweep.lines[0] - 1]  # 0.1 Hz, as written with 7 digits
    assert len(set(sweep.lines)) == 31


def test_an_unreadable_start_time_is_flagged_not_fatal(tmp_path):
    text = (DATA / "randles.DTA").read_bytes().decode("latin-1")
    path = tmp_path / "eu_date.DTA"
    path.write_text(text.replace("3/14/2026", "14.03.2026"), encoding="latin-1")
    sweep = read_sweep(path)
    assert sweep.n_points == 31 and sweep.started_at is None
    assert sweep.flags == ("start_time_unreadable",)
    assert "line 4: expected a date like %m/%d/%Y %H:%M:%S" in dict(sweep.meta)["start_time_error"]


def test_local_times_without_zone_take_the_given_zone():
    cet = timezone(timedelta(hours=1))
    assert read_sweep(DATA / "randles.DTA", tz=cet).started_at == STARTED - timedelta(hours=1)
    assert read_sweep(DATA / "randles.DTA").started_at.tzinfo is not None  # machine's zone


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_files_name_the_file_the_line_and_what_was_expected(name):
    line, words = BAD[name]
    with pytest.raises(ParseError) as info:
        read_sweep(DATA / name)
    err = info.value
    assert err.line == line
    assert err.source == DATA / name
    assert str(err).startswith(str(DATA / name) + (f", line {line}: " if line else ": "))
    assert words in str(err)


def test_detection_from_content_not_extension(tmp_path):
    for name, (fmt, _) in SAMPLES.items():
        renamed = tmp_path / (name.replace(".", "_") + ".dat")
        renamed.write_bytes((DATA / name).read_bytes())
        assert detect_format(read_lines(renamed)) == fmt
        assert read_sweep(renamed).fmt == fmt


def test_forced_format_checks_the_layout(tmp_path):
    with pytest.raises(ParseError, match=r"line 1: expected 'EXPLAIN' first"):
        read_sweep(DATA / "randles.csv", fmt="gamry")
    with pytest.raises(ParseError, match=r"expected one of \['autolab'"):
        read_sweep(DATA / "randles.csv", fmt="excel")
    assert set(FORMATS) == {v[0] for v in SAMPLES.values()}


def test_an_unrecognised_file_says_it_is_not_an_impedance_export(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("Sample 12, stirred overnight\n")
    with pytest.raises(
        ParseError, match=r"line 1: not a recognised impedance export \(tried: gamry .*; csv: "
    ):
        read_sweep(path)


def test_an_oversized_file_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr("synthwatch.collectors.impedance.table.MAX_BYTES", 100)
    with pytest.raises(ParseError, match=r"at most 100 bytes, the file has \d+"):
        read_sweep(DATA / "randles.csv")


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(ParseError, match="cannot read the file"):
        read_sweep(tmp_path / "nope.DTA")
    binary = tmp_path / "x.mpr"
    binary.write_bytes(b"BIO-LOGIC MODULAR FILE\n\x00\x01\x02")
    with pytest.raises(ParseError, match=r"line 2: expected a text export, found a NUL byte"):
        read_sweep(binary)


def test_gamry_aborted_experiment_and_decimal_comma(tmp_path):
    lines = (DATA / "randles.DTA").read_bytes().decode("latin-1").splitlines()
    aborted = tmp_path / "aborted.DTA"
    aborted.write_text("\n".join(lines[:24] + ["EXPERIMENTABORTED\tTOGGLE\tT\tExperiment Aborted"]))
    sweep = read_sweep(aborted)
    assert sweep.n_points == 24 - 14  # data rows before the abort line
    comma = tmp_path / "comma.DTA"
    comma.write_text("\n".join(lines[:14] + [x.replace(".", ",") for x in lines[14:]]))
    assert read_sweep(comma).same_data(read_sweep(DATA / "randles.DTA"))


def test_parstat_dc_rows_are_skipped_but_a_zero_frequency_with_data_is_an_error(tmp_path):
    lines = (DATA / "randles_parstat.txt").read_text().splitlines()
    assert read_sweep(DATA / "randles_parstat.txt").n_points == 31  # 2 DC rows left out
    bad = tmp_path / "p.txt"
    bad.write_text("\n".join(lines[:5] + ["0.25\t1E-06\t40\t0\t101.5\t-3.2\t0.01\t1E-04\t"]))
    with pytest.raises(ParseError, match=r"line 6: frequency: expected a frequency above 0 Hz"):
        read_sweep(bad)


@pytest.mark.parametrize(
    ("header", "rows", "scale_f", "sign"),
    [
        ("Freq/Hz, Z'/ohm, Z\"/ohm", "{f},{r},{i}", 1.0, 1.0),
        ("FREQUENCY (HZ);ZRE (OHM);ZIM (OHM)", "{f};{r};{i}", 1.0, 1.0),
        ("f [kHz]\tRe(Z) [kOhm]\t-Im(Z) [kOhm]\t|Z| [kOhm]", "{f}\t{r}\t{i}\t9", 1e3, -1.0),
        ("# comment\nfrequency_hz,z_real_ohm,z_imag_ohm,phase_deg", "{f},{r},{i},0", 1.0, 1.0),
        ('"Frequency (mHz)","Zreal (Ω)","Zimag (Ω)"', "{f},{r},{i}", 1e-3, 1.0),
        ("freq (MHz),Z' (MΩ),-Z'' (mΩ)", "{f},{r},{i}", 1e6, -1.0),
    ],
)
def test_csv_headers_are_recognised_with_units_and_sign(tmp_path, header, rows, scale_f, sign):
    path = tmp_path / "s.csv"
    body = [rows.format(f=f, r=r, i=i) for f, r, i in ((1, 10, 2), (2, 11, 3), (3, 12, 4))]
    path.write_text(header + "\n" + "\n".join(body) + "\n")
    sweep = read_csv(path)
    assert sweep.frequencies_hz.tolist() == pytest.approx([scale_f, 2 * scale_f, 3 * scale_f])
    assert sweep.z_imag_ohm[0] * sign > 0


def test_csv_with_semicolons_takes_decimal_commas(tmp_path):
    path = tmp_path / "eu.csv"
    path.write_text("freq;zre;zim\n1,5;10,25;-2\n2;3;-1\n4;5;-6\n")
    assert read_csv(path).frequencies_hz.tolist() == [1.5, 2.0, 4.0]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("freq,freq,z',z''", "found 2 of them"),
        ("freq (s),z',z''", "freq (s): expected a unit of Hz, got 's'"),
        ("freq,z' (Hz),z''", "expected a unit of ohm, got 'Hz'"),
        ("freq z' z''", "at least 3 columns"),
    ],
)
def test_csv_header_errors(tmp_path, header, message):
    path = tmp_path / "h.csv"
    path.write_text(header + "\n1,2,3\n2,3,4\n3,4,5\n")
    with pytest.raises(ParseError, match="line 1: ") as info:
        read_csv(path)
    assert message in str(info.value)


def test_duplicate_frequencies_are_an_error_at_the_second_line(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("f,zre,zim\n10,1,1\n100,1,1\n10,1,1\n")
    with pytest.raises(ParseError, match=r"line 4: frequency: expected distinct frequencies"):
        read_csv(path)


def test_sweeps_become_a_descriptor_and_readings_on_its_axis():
    sweep = read_sweep(DATA / "randles.DTA", tz=UTC)
    d = descriptor_for(sweep, run_id="r1", sensor_id="eis1", t=STARTED, cell_constant_per_cm=0.8)
    assert d.kind == "impedance" and d.axis_units == "Hz" and d.value_units == "ohm"
    assert d.axis == sweep.frequencies_hz.tolist()
    # every vendor's file of the same sweep lands on the same axis
    for name in SAMPLES:
        r = reading_for(read_sweep(DATA / name), d, seq=3, t=STARTED)
        assert decode(encode(r)) == r
        assert r.values_imag == pytest.approx(sweep.z_imag_ohm.tolist(), rel=1e-6)


def test_a_sweep_off_the_descriptor_axis_is_refused_with_the_reason():
    sweep = read_sweep(DATA / "randles.csv")
    d = descriptor_for(sweep, run_id="r1", sensor_id="eis1", t=STARTED)
    shorter = make_sweep(
        "short.csv", sweep.frequencies_hz[:5], sweep.z_real_ohm[:5], sweep.z_imag_ohm[:5], fmt="csv"
    )
    with pytest.raises(AxisMismatchError, match=r"short.csv: sensor 'eis1' sweeps 5 frequencies"):
        reading_for(shorter, d, seq=1, t=STARTED)


def test_impedance_py_disagreement_is_reported_not_guessed(tmp_path):
    # a CHI file without the blank line after the column row: impedance.py would skip the first
    # data row, so the layout check refuses it rather than let the two reads differ
    lines = (DATA / "randles_chi.txt").read_text().splitlines()
    blank = lines.index("")  # first blank line is in the parameters; the one we drop is later
    header = next(i for i, t in enumerate(lines) if t.startswith("Freq/Hz"))
    assert blank < header
    path = tmp_path / "noblank.txt"
    path.write_text("\n".join(lines[: header + 1] + lines[header + 2 :]))
    with pytest.raises(ParseError, match=rf"line {header + 2}: expected a blank line"):
        read_sweep(path)


def test_sample_files_are_what_the_generator_writes(tmp_path):
    """tests/data/impedance/make_samples.py documents the samples; they must not drift."""
    assert (DATA / "make_samples.py").exists()
    assert Path(DATA / "randles.DTA").read_bytes().startswith(b"EXPLAIN\n")
    assert b"\xb0" in (DATA / "randles.DTA").read_bytes()  # Latin-1 degree sign, as Gamry


@pytest.mark.parametrize(
    ("name", "reader"),
    [
        ("randles.DTA", "readGamry"),
        ("randles.z", "readZPlot"),
        ("randles.mpt", "readBioLogic"),
        ("randles_autolab.txt", "readAutolab"),
        ("randles_chi.txt", "readCHInstruments"),
        ("randles_parstat.txt", "readParstat"),
        ("randles_powersuite.txt", "readPowerSuite"),
        ("randles.par", "readVersaStudio"),
    ],
)
def test_impedance_py_readers_behave_on_the_samples(name, reader):
    """The check behind using them: each reader gives the sample's sweep (Z'' signed)."""
    from impedance import preprocessing

    f, z = getattr(preprocessing, reader)(str(DATA / name))
    order = np.argsort(f)
    assert np.allclose(f[order], np.logspace(-1, 5, 31), rtol=1e-6)
    assert np.allclose(z[order], randles(f[order]), rtol=1e-6)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_windows_line_ends_read_the_same(tmp_path, name):
    raw = (DATA / name).read_bytes()
    crlf = tmp_path / name
    crlf.write_bytes(raw.replace(b"\n", b"\r\n"))
    assert read_sweep(crlf).same_data(read_sweep(DATA / name))
    assert read_sweep(crlf).lines == read_sweep(DATA / name).lines
