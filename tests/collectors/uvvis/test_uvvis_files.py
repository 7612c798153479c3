"""UV-Vis export readers: the sample files of tests/data/uvvis, the bad ones, and properties."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthwatch.collectors.uvvis.files import UVVisParseError, detect_format, read_spectra
from uvvis_writers import WRITERS, write_csv

DATA = Path(__file__).resolve().parents[2] / "data" / "uvvis"
T15 = datetime(2026, 1, 1, 9, 15, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "name, fmt",
    [
        ("oceanview_gold.txt", "oceanview"),
        ("spectrasuite_gold.txt", "spectrasuite"),
        ("gold.jdx", "jcamp"),
    ],
)
def test_single_spectrum_layouts_agree(name, fmt):
    (s,) = read_spectra(DATA / name)
    series = read_spectra(DATA / "gold_series.csv")
    assert s.fmt == fmt
    assert s.t == T15 == series[3].t
    np.testing.assert_allclose(s.wavelengths_nm, np.arange(400.0, 801.0, 2.0))
    np.testing.assert_allclose(s.absorbance_au, series[3].absorbance_au, atol=1e-5)


def test_csv_series_and_single():
    series = read_spectra(DATA / "gold_series.csv")
    assert [s.t - series[0].t for s in series] == [timedelta(seconds=300 * k) for k in range(6)]
    assert [s.index for s in series] == list(range(6))
    (single,) = read_spectra(DATA / "gold_single.csv")
    assert single.t is None and single.meta["column"] == "absorbance"
    # the gold SPR grows in over the series
    assert series[-1].absorbance_au.max() > 10 * series[0].absorbance_au.max()


@pytest.mark.parametrize(
    "name, line, text",
    [
        ("bad_ov_value.txt", 20, "column 'value': expected a number, got '0.1x3'"),
        ("bad_ov_truncated.txt", None, "header says 201 pixels, the data has 46"),
        ("bad_ov_date.txt", 3, "expected a date like"),
        ("bad_jcamp_truncated.jdx", 15, "len(y) 80"),
        ("bad_csv_no_wavelength.csv", 1, "first column 'time': expected the wavelength"),
        ("bad_csv_ragged.csv", 8, "expected 7 fields like the header, got 3"),
        ("bad_csv_axis.csv", 12, "wavelength 404 nm after 418 nm"),
        ("bad_empty.txt", None, "empty file"),
    ],
)
def test_bad_files_name_file_and_line(name, line, text):
    with pytest.raises(UVVisParseError) as info:
        read_spectra(DATA / name)
    err = info.value
    assert err.line == line
    assert str(err).startswith(str(DATA / name))
    assert text in str(err)


def test_java_dates_zones_and_decimal_comma(tmp_path):
    lines = (DATA / "oceanview_gold.txt").read_text().splitlines()
    lines[2] = "Date: Thu Jan 01 10:15:00 CET 2026"
    data = [ln.replace(".", ",") for ln in lines[14:]]
    p = tmp_path / "comma.txt"
    p.write_text("\n".join(lines[:14] + data) + "\n")
    (s,) = read_spectra(p)
    assert s.t == T15
    assert s.absorbance_au[0] == pytest.approx(0.34112)
    lines[2] = "Date: Thu Jan 01 10:15:00 XYZT 2026"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(UVVisParseError, match="line 3: column 'Date': unknown time zone 'XYZT'"):
        read_spectra(p)
    (s,) = read_spectra(p, tz=timezone(timedelta(hours=1)))
    assert s.t == T15


def test_not_absorbance_and_seconds_headers(tmp_path):
    lines = (DATA / "oceanview_gold.txt").read_text().splitlines()
    p = tmp_path / "t.txt"
    p.write_text("\n".join(["Data from Reflectance_USB4F01234__0.txt Node"] + lines[1:]))
    with pytest.raises(UVVisParseError, match="line 1: the export is not an absorbance"):
        read_spectra(p)
    csv = tmp_path / "s.csv"
    csv.write_text("nm;0;2s;t=4\n" + "\n".join(f"{400 + k};0.1;0.2;nan" for k in range(8)))
    with pytest.raises(UVVisParseError, match="needs the run's start time"):
        read_spectra(csv)
    spectra = read_spectra(csv, start=T15)
    assert [s.t for s in spectra] == [T15 + timedelta(seconds=k) for k in (0, 2, 4)]
    assert np.isnan(spectra[2].absorbance_au).all()


def test_detect_format():
    assert detect_format(["##TITLE=x"]) == "jcamp"
    assert detect_format(["SpectraSuite Data File"]) == "spectrasuite"
    assert detect_format(["Data from x", ">>>>>Begin Spectral Data<<<<<"]) == "oceanview"
    assert detect_format(["wavelength,A"]) == "csv"
    with pytest.raises(UVVisParseError, match="unknown format 'spc'"):
        read_spectra(DATA / "gold.jdx", fmt="spc")


# ------------------------------------------------------------------ properties

_spectra = st.integers(8, 60).flatmap(
    lambda n: st.tuples(
        st.floats(200.0, 500.0),
        st.floats(0.1, 5.0),
        st.lists(st.floats(-0.5, 4.0, allow_nan=False), min_size=n, max_size=n),
        st.integers(0, 10**8),
    )
)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=_spectra, layout=st.sampled_from(sorted(WRITERS)))
def test_written_spectra_read_back(tmp_path, spec, layout):
    """Any spectrum written in a layout reads back (to the layout's printed precision)."""
    wl0, step, values, seconds = spec
    wl = wl0 + step * np.arange(len(values))
    a = np.array(values)
    t = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=seconds)
    write, ext = WRITERS[layout]
    (s,) = read_spectra(write(tmp_path / f"x{ext}", wl, a, t))
    assert s.t == t
    np.testing.assert_allclose(s.wavelengths_nm, wl, atol=6e-3)
    np.testing.assert_allclose(s.absorbance_au, a, atol=1e-5)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n_spectra=st.integers(1, 5), n=st.integers(8, 30))
def test_csv_series_round_trip(tmp_path, n_spectra, n):
    rng = np.random.default_rng(n * 10 + n_spectra)
    wl = 350.0 + 1.5 * np.arange(n)
    a = rng.uniform(0, 3, (n_spectra, n))
    times = [
        datetime(2026, 5, 1, tzinfo=timezone.utc) + timedelta(seconds=k) for k in range(n_spectra)
    ]
    spectra = read_spectra(write_csv(tmp_path / "s.csv", wl, a, times))
    assert [s.t for s in spectra] == times
    np.testing.assert_allclose(np.array([s.absorbance_au for s in spectra]), a, atol=1e-5)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.one_of(
        st.binary(max_size=400),
        st.text(max_size=400),
        st.lists(
            st.sampled_from(
                [
                    "##TITLE=x",
                    "##XYDATA=(X++(Y..Y))",
                    "##NPOINTS=3",
                    ">>>>>Begin Spectral Data<<<<<",
                    "SpectraSuite Data File",
                    "Date: Wed Nov 25 11:38:08 CET 2026",
                    "Number of Pixels in Spectrum: 9",
                    "wavelength_nm,2026-01-01T00:00:00Z",
                    "400\t0.1",
                    "400,0.1",
                    "nan,inf",
                    "##END=",
                    "410 1 2 3",
                ]
            ),
            max_size=30,
        ).map("\n".join),
    )
)
def test_any_bytes_give_spectra_or_a_parse_error(tmp_path, data):
    p = tmp_path / "any.txt"
    p.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass"))
    try:
        spectra = read_spectra(p, tz=timezone.utc, start=T15)
    except UVVisParseError as err:
        assert str(err).startswith(str(p))
        return
    for s in spectra:
        assert s.wavelengths_nm.size >= 8
        assert np.all(np.diff(s.wavelengths_nm) > 0)
        assert not np.isinf(s.absorbance_au).any()


@pytest.mark.parametrize("layout", ["csv", "oceanview"])
def test_long_block_fast_path_and_the_line_of_a_fault(tmp_path, layout):
    """3,648 rows are parsed in one call; an irregular row falls back to the line-by-line
    reader, whose error names the line (a row with an extra field is refused, not re-aligned)."""
    wl = np.round(np.linspace(177.2, 891.6, 3648), 2)
    a = np.round(0.5 * np.exp(-(((wl - 520.0) / 45.0) ** 2)), 5)
    sep, head = (",", ["wavelength_nm,absorbance"]) if layout == "csv" else ("\t", [
        "Data from Absorbance_FLMS01234__0__10-15-00-000.txt Node",
        "Number of Pixels in Spectrum: 3648",
        ">>>>>Begin Spectral Data<<<<<",
    ])  # fmt: skip
    rows = [f"{x:.2f}{sep}{y:.5f}" for x, y in zip(wl, a)]
    p = tmp_path / "s.txt"
    p.write_text("\n".join(head + rows) + "\n")
    (s,) = read_spectra(p)
    assert np.array_equal(s.wavelengths_nm, wl) and np.array_equal(s.absorbance_au, a)
    bad = list(rows)
    bad[2000] = f"{wl[2000]:.2f}{sep}x"
    p.write_text("\n".join(head + bad) + "\n")
    with pytest.raises(UVVisParseError, match=rf", line {len(head) + 2001}: .*'x'"):
        read_spectra(p)
    bad = list(rows)
    bad[100] += f"{sep}0.1"
    bad[101] = bad[101].split(sep)[0]
    p.write_text("\n".join(head + bad) + "\n")
    with pytest.raises(UVVisParseError, match=rf", line ({len(head) + 101}|{len(head) + 102}):"):
        read_spectra(p)
