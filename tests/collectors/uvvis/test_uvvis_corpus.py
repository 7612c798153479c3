"""The real (and synthesised) UV-Vis exports of tests/data/real/uvvis: what each file must give,
checked against the source's own numbers or an independent reader (numpy, the jcamp package)."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jcamp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthwatch.collectors.uvvis.files import (
    FORMATS,
    UVVisParseError,
    is_uvvis_export,
    order_key,
    read_spectra,
)

REAL = Path(__file__).resolve().parents[2] / "data" / "real" / "uvvis"
IMPEDANCE = Path(__file__).resolve().parents[2] / "data" / "impedance"
UTC = timezone.utc
T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
T15, T20 = T0 + timedelta(minutes=15), T0 + timedelta(minutes=20)

#: name -> (format, number of spectra, first/last nm, n points, {nm: absorbance}, first time)
EXPECTED = {
    "cary50_CuPCtS_H2O_vis.csv": (
        "cary",
        1,
        (200.0157, 899.9958),
        141,
        {899.9957886: 0.03348613903},
        None,
    ),
    "cary_filters_paired.csv": (
        "cary",
        11,
        (199.97, 800.05),
        121,
        {800.0541382: 0.02885507233},
        None,
    ),
    "genesys30_example_01.tsv": ("csv", 1, (325.0, 480.0), 156, {325.0: 2.385, 340.0: 2.836}, None),
    "genesys30_example_02.csv": ("csv", 1, (325.0, 480.0), 156, {325.0: 2.385}, None),
    "visionlite_scan.csv": ("csv", 1, (400.0, 500.0), 101, {400.0: 0.043}, None),
    "jasco_PbSe_batch1.txt": (
        "jasco",
        1,
        (700.0, 2500.0),
        1801,
        {2500.0: 0.10852, 2499.0: 0.10888},
        datetime(2010, 1, 25, 15, 29, 22, tzinfo=UTC),
    ),
    "jasco_PbSe_batch4_2012-02-21.txt": (
        "jasco",
        1,
        (750.0, 2000.0),
        1251,
        {},
        datetime(2012, 2, 21, 16, 59, 27, tzinfo=UTC),
    ),
    "jasco_PbSe_batch4_2012-03-15.txt": (
        "jasco",
        1,
        (750.0, 2000.0),
        1251,
        {},
        datetime(2012, 3, 15, 12, 26, 10, tzinfo=UTC),
    ),
    "jcamp_lancashire_dupinc1.jdx": ("jcamp", 1, (250.0, 469.5), 440, {250.0: 1.1663}, None),
    "nanodrop_eight_example01.txt": (
        "nanodrop",
        5,
        (220.0, 350.0),
        261,
        {220.0: 0.0159, 220.5: 0.0130},
        datetime(2022, 6, 16, 23, 38, 28, tzinfo=UTC),
    ),
    "nanodrop_eight_example02.txt": ("nanodrop", 5, (220.0, 350.0), 261, {}, None),
    "nanodrop_eight_tab_aligned_header.txt": ("nanodrop", 5, (220.0, 350.0), 261, {}, None),
    "shimadzu_MoS2_xy.txt": ("xy", 1, (340.0, 750.0), 821, {340.0: 0.1308, 340.5: 0.1304}, None),
    "synth_oceanview_absorbance.txt": ("oceanview", 1, (339.5, 1020.7), 600, {}, T15),
    "synth_oceanview_transmission_comma.txt": ("oceanview", 1, (339.5, 1020.7), 600, {}, T20),
    "synth_spectrasuite.txt": ("spectrasuite", 1, (339.5, 1020.7), 600, {}, T15),
    "synth_avantes_counts.txt": ("avantes", 1, (339.5, 1020.7), 600, {}, None),
    "synth_uvprobe_two_blocks.txt": ("uvprobe", 2, (300.0, 800.0), 501, {}, None),
    "synth_perkinelmer_winlab.asc": ("perkinelmer", 1, (300.0, 800.0), 501, {}, T15),
    "synth_cary60_kinetics_minutes.csv": ("cary", 3, (400.0, 800.0), 201, {}, T15),
    "synth_tsv_iso_times.tsv": ("csv", 2, (400.0, 800.0), 201, {}, T0),
    "synth_csv_micrometres.csv": ("csv", 1, (400.0, 800.0), 201, {}, None),
    "synth_csv_wavenumber.csv": ("csv", 1, (400.0, 800.0), 251, {}, None),
    "synth_csv_energy_ev_percentT.csv": ("csv", 1, (399.95, 799.90), 156, {}, None),
    "synth_utf16_bom.csv": ("csv", 1, (400.0, 800.0), 201, {}, None),
    "synth_ooibase32_scope_dark.txt": ("xy", 1, (339.5, 1020.7), 600, {}, None),
    "synth_ooibase32_scope_reference.txt": ("xy", 1, (339.5, 1020.7), 600, {}, None),
}
#: name -> what the refusal says (these files are not UV-Vis spectra, or need more)
REFUSED = {
    "envision_plate_A450.csv": "not a recognised UV-Vis export (tried: ",
    "nanodrop_8000_example01.txt": "not a recognised UV-Vis export (tried: ",
    "nanodrop_eight_RNA.txt": "not a recognised UV-Vis export (tried: ",
    "nanodrop_one_dsDNA_table.csv": "not a recognised UV-Vis export (tried: ",
    "visionlite_fixed.csv": "not a recognised UV-Vis export (tried: ",
    "ooibase32_tsunami.scope": "raw counts: give the reference",
    "synth_ocean_scope_sample.txt": "raw counts: give the reference",
    "synth_csv_semicolon_decimal_comma.csv": "needs the run's start time",
}


def band(wl):  # the synthesised files' spectrum (make_synthesised.py)
    return 0.55 * np.exp(-(((wl - 520.0) / 45.0) ** 2)) + 0.08 * (400.0 / wl) ** 4


def test_corpus_is_complete():
    files = {p.name for p in REAL.iterdir() if p.suffix not in (".md", ".py")}
    assert files == set(EXPECTED) | set(REFUSED)
    assert len(files) >= 25
    assert len({v[0] for v in EXPECTED.values()}) >= 6
    readme = (REAL / "README.md").read_text(encoding="utf-8")
    assert all(name in readme for name in files)
    assert all(p.stat().st_size < 200_000 for p in REAL.iterdir())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file_reads_as_stated(name):
    fmt, n, (lo, hi), size, points, t = EXPECTED[name]
    spectra = read_spectra(REAL / name, tz=UTC)
    assert len(spectra) == n
    s = spectra[0]
    assert s.fmt == fmt and is_uvvis_export(REAL / name)
    assert s.wavelengths_nm.size == size
    assert s.wavelengths_nm[0] == pytest.approx(lo, abs=0.01)
    assert s.wavelengths_nm[-1] == pytest.approx(hi, abs=0.01)
    for nm, a in points.items():
        k = int(np.argmin(abs(s.wavelengths_nm - nm)))
        assert s.wavelengths_nm[k] == pytest.approx(nm, abs=1e-6)
        assert s.absorbance_au[k] == pytest.approx(a, abs=1e-9)
    if t is not None:
        assert s.t == t
    if name.startswith("synth_") and "scope" not in name and "kinetics" not in name:
        for sp in spectra[:1]:
            np.testing.assert_allclose(sp.absorbance_au, band(sp.wavelengths_nm), atol=2e-3)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_corpus_refusals_name_the_file(name):
    with pytest.raises(UVVisParseError) as info:
        read_spectra(REAL / name, tz=UTC)
    assert str(info.value).startswith(str(REAL / name))
    assert REFUSED[name] in str(info.value)


def test_csv_files_agree_with_numpy():
    for name, skip, cols in (
        ("shimadzu_MoS2_xy.txt", 0, (0, 1)),
        ("genesys30_example_02.csv", 7, (0, 1)),
    ):
        ref = np.loadtxt(REAL / name, delimiter=",", skiprows=skip, usecols=cols)
        (s,) = read_spectra(REAL / name)
        np.testing.assert_allclose(s.wavelengths_nm, np.sort(ref[:, 0]))
        np.testing.assert_allclose(s.absorbance_au, ref[np.argsort(ref[:, 0]), 1])


def test_jcamp_agrees_with_the_jcamp_package():
    ref = jcamp.readfile(str(REAL / "jcamp_lancashire_dupinc1.jdx"))
    (s,) = read_spectra(REAL / "jcamp_lancashire_dupinc1.jdx")
    np.testing.assert_allclose(s.wavelengths_nm, ref["x"])
    np.testing.assert_allclose(s.absorbance_au, ref["y"])


def test_cary_paired_columns_and_percent_t():
    spectra = read_spectra(REAL / "cary_filters_paired.csv")
    assert [s.meta["sample"] for s in spectra][:3] == ["600LP", "600LP1", "600LP2"]
    assert spectra[0].meta.get("ordinate") is None and spectra[1].meta["ordinate"] == "%T"
    s = spectra[1]  # 600LP1: 650.0537109 nm at 93.92353058 %T
    k = int(np.argmin(abs(s.wavelengths_nm - 650.0537109)))
    assert s.absorbance_au[k] == pytest.approx(2 - np.log10(93.92353058))
    assert len({sp.wavelengths_nm.size for sp in spectra}) > 1  # each pair its own axis


def test_nanodrop_rows_are_timed_spectra():
    spectra = read_spectra(REAL / "nanodrop_eight_example01.txt")
    assert [sp.meta["sample"] for sp in spectra][:3] == ["Sample 1", "Sample 2", "Abc 3"]
    assert spectra[1].t - spectra[0].t == timedelta(seconds=33)


def test_units_and_counts_convert():
    ref = read_spectra(REAL / "synth_csv_micrometres.csv")[0]
    for name in ("synth_csv_wavenumber.csv", "synth_csv_energy_ev_percentT.csv"):
        (s,) = read_spectra(REAL / name)
        np.testing.assert_allclose(s.absorbance_au, band(s.wavelengths_nm), atol=2e-4)
    np.testing.assert_allclose(ref.absorbance_au, band(ref.wavelengths_nm), atol=1e-5)
    dark, refl = (
        REAL / "synth_ooibase32_scope_dark.txt",
        REAL / "synth_ooibase32_scope_reference.txt",
    )
    (s,) = read_spectra(REAL / "synth_ocean_scope_sample.txt", dark=dark, reference=refl)
    np.testing.assert_allclose(s.absorbance_au, band(s.wavelengths_nm), atol=2e-3)
    (a,) = read_spectra(REAL / "synth_avantes_counts.txt")
    np.testing.assert_allclose(a.absorbance_au, s.absorbance_au, atol=1e-3)
    with pytest.raises(UVVisParseError, match="the reference has 3 values"):
        read_spectra(REAL / "synth_ocean_scope_sample.txt", reference=np.ones(3))


def test_relative_minutes_and_seconds_need_start():
    spectra = read_spectra(REAL / "synth_csv_semicolon_decimal_comma.csv", start=T0)
    assert [s.t for s in spectra] == [T0 + timedelta(seconds=k) for k in (0, 30, 60)]
    np.testing.assert_allclose(
        spectra[2].absorbance_au, 2 * band(spectra[2].wavelengths_nm), atol=1e-4
    )
    cary = read_spectra(REAL / "synth_cary60_kinetics_minutes.csv")
    assert [s.t - cary[0].t for s in cary] == [timedelta(minutes=m) for m in (0, 5, 10)]


def test_wrong_channel_is_not_recognised():
    files = [p for p in IMPEDANCE.rglob("*") if p.is_file() and "uvvis" not in p.parts]
    files += [p for p in (IMPEDANCE.parent / "real" / "impedance").glob("*") if p.is_file()]
    assert files
    for p in files:
        if p.name.startswith("bad_") and p.stat().st_size == 0:
            continue
        with pytest.raises(UVVisParseError) as info:
            read_spectra(p)
        assert "not a recognised UV-Vis export (tried: " in str(info.value) or "empty" in str(
            info.value
        ), p
        assert not is_uvvis_export(p)


def test_order_key_time_then_number_then_mtime(tmp_path):
    m_old, m_new = datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
    items = [
        ("spec_10.txt", None, m_new),
        ("spec_9.txt", None, m_old),
        ("b.txt", T0 + timedelta(seconds=1), m_new),
        ("a.txt", T0 + timedelta(seconds=5), m_old),
        ("nonumber.txt", None, m_new),
    ]
    order = [n for n, *_ in sorted(items, key=lambda i: order_key(*i))]
    assert order == ["b.txt", "a.txt", "spec_9.txt", "spec_10.txt", "nonumber.txt"]
    assert set(FORMATS) >= {"oceanview", "spectrasuite", "jcamp", "csv", "cary", "nanodrop"}


# ------------------------------------------------------------------ mutations of the corpus

_CORPUS = sorted(p for p in REAL.iterdir() if p.suffix not in (".md", ".py"))


def _mutate(data: bytes, how: str, k: int, junk: bytes) -> bytes:
    cut = k % (len(data) + 1)
    if how == "truncate":
        return data[:cut]
    if how == "blank_lines":
        lines = data.split(b"\n")
        j = k % (len(lines) + 1)
        return b"\n".join(lines[:j] + [b"", b"  "] + lines[j:])
    if how == "latin1":
        return data.decode("utf-8", "replace").encode("latin-1", "replace")
    if how == "utf16":
        return data.decode("utf-8", "replace").encode("utf-16")
    if how == "bom":
        return b"\xef\xbb\xbf" + data
    return data[:cut] + junk + data[cut + len(junk) :]


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    index=st.integers(0, len(_CORPUS) - 1),
    how=st.sampled_from(["truncate", "blank_lines", "latin1", "utf16", "bom", "bytes"]),
    k=st.integers(0, 10**6),
    junk=st.binary(min_size=1, max_size=12),
)
def test_mutated_corpus_gives_spectra_or_a_parse_error(tmp_path, index, how, k, junk):
    src = _CORPUS[index]
    p = tmp_path / src.name
    p.write_bytes(_mutate(src.read_bytes(), how, k, junk))
    try:
        spectra = read_spectra(p, tz=UTC, start=T0)
    except UVVisParseError as err:
        assert str(err).startswith(str(p))
        if err.line is not None:
            assert f"{p}, line {err.line}:" in str(err)
        return
    for s in spectra:
        assert s.wavelengths_nm.size >= 8
        assert np.all(np.diff(s.wavelengths_nm) > 0)
        assert not np.isinf(s.absorbance_au).any()
    os.utime(p)
