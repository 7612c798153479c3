"""Property tests of the impedance parsers: round trips in every format, garbage -> ParseError."""

from __future__ import annotations

import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT
from synthwatch.collectors.impedance.formats import read_sweep
from synthwatch.collectors.impedance.sweep import ParseError, make_sweep
from synthwatch.collectors.impedance.write import WRITERS, write_sweep

DATA = ROOT / "tests" / "data" / "impedance"
SAMPLES = sorted(p for p in DATA.iterdir() if p.name.startswith("randles"))
#: examples per property; raise it for a long fuzzing session (SYNTHWATCH_FUZZ_EXAMPLES=2000)
FAST = settings(
    max_examples=int(os.environ.get("SYNTHWATCH_FUZZ_EXAMPLES", "40")),
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

finite_ohm = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)


@st.composite
def sweeps(draw):
    f = draw(
        st.lists(
            st.floats(min_value=1e-4, max_value=1e8, allow_nan=False, allow_infinity=False),
            min_size=3,
            max_size=40,
            unique=True,
        )
    )
    zr = draw(st.lists(finite_ohm, min_size=len(f), max_size=len(f)))
    zi = draw(st.lists(finite_ohm, min_size=len(f), max_size=len(f)))
    return make_sweep("generated", f, zr, zi, fmt="memory")


@FAST
@given(sweep=sweeps(), fmt=st.sampled_from(sorted(WRITERS)))
def test_any_sweep_written_in_any_format_reads_back_equal(tmp_path, sweep, fmt):
    back = read_sweep(write_sweep(sweep, tmp_path / f"s_{fmt}.txt", fmt))
    assert back.same_data(sweep)  # exact: numbers are written with repr
    assert back.fmt == ("autolab" if fmt == "nova" else fmt)


@st.composite
def spaced_sweeps(draw):
    """Frequencies at least 25 % apart (10 per decade), so rounding keeps them distinct."""
    k = draw(st.lists(st.integers(-40, 80), min_size=3, max_size=40, unique=True))
    f = 10.0 ** (np.array(k) / 10.0)
    zr = draw(st.lists(finite_ohm, min_size=len(f), max_size=len(f)))
    zi = draw(st.lists(finite_ohm, min_size=len(f), max_size=len(f)))
    return make_sweep("generated", f, zr, zi, fmt="memory")


@FAST
@given(sweep=spaced_sweeps(), fmt=st.sampled_from(sorted(WRITERS)), digits=st.integers(4, 9))
def test_rounded_exports_read_back_to_their_digits(tmp_path, sweep, fmt, digits):
    back = read_sweep(write_sweep(sweep, tmp_path / "r.txt", fmt, digits=digits))
    assert np.allclose(back.frequencies_hz, sweep.frequencies_hz, rtol=10.0**-digits * 5)


def _only_parse_errors(path):
    try:
        read_sweep(path)
    except ParseError as err:
        assert str(err).startswith(str(path))


@FAST
@given(data=st.binary(max_size=3000))
def test_random_bytes_never_raise_anything_but_parse_error(tmp_path, data):
    path = tmp_path / "garbage.dat"
    path.write_bytes(data)
    _only_parse_errors(path)


SIGNATURES = [
    "EXPLAIN\nDATE\tLABEL\t{x}\tDate\nZCURVE\tTABLE\n\tPt\tTime\tFreq\tZreal\tZimag\n",
    "ZPLOT2 ASCII\n  Date: {x}\n  Time: {x}\nFreq(Hz)\tA\tB\tC\tZ'(a)\tZ''(b)\nEnd Comments\n",
    "EC-Lab ASCII FILE\nNb header lines : 4\nAcquisition started on : {x}\n"
    "freq/Hz\tRe(Z)/Ohm\t-Im(Z)/Ohm\n",
    '"Z60W Data File: Version 1.1"\n"  Freq (Hz) Ampl Bias Time Z\'(a) Z\'\'(b)"\n',
    "{x}\nA.C. Impedance\nFreq/Hz, Z'/ohm, Z\"/ohm\n\n",
    "Potential (V)\tCurrent (A)\tElapsed Time (s)\tFrequency (Hz)\tZre (ohms)\tZim (ohms)\n",
    "Frequency\t Zre\t Zimg\n",
    "<Application>\nName=VersaStudio\n</Application>\n<Action0>\nSegments=0\n</Action0>\n"
    "<Experiment>\nTimeAcquired={x}\nDateAcquired={x}\n</Experiment>\n<Action1>\nSegments=1\n"
    "</Action1>\n<Segment1>\nType=2\nVersion=3\nDefinition=S, P, E, I, T, A, C, St, EA, "
    "Frequency(Hz), ER, EI, IR, II, Z Real, Z Imag\n",
    "freq,zre,zim\n",
]


@FAST
@given(
    head=st.sampled_from(SIGNATURES),
    x=st.text(max_size=20),
    body=st.text(alphabet=st.sampled_from(list("0123456789.,;\t -+eE\nnaifx'\"")), max_size=400),
    tail=st.sampled_from(["", "\n</Segment1>\n", "\nEXPERIMENTABORTED\n"]),
)
def test_vendor_headers_with_garbage_bodies_give_parse_errors(tmp_path, head, x, body, tail):
    path = tmp_path / "g.txt"
    path.write_text(head.format(x=x) + body + tail, encoding="utf-8")
    _only_parse_errors(path)


@FAST
@given(
    sample=st.sampled_from(SAMPLES),
    cut=st.floats(0.0, 1.0),
    line=st.integers(0, 60),
    junk=st.text(max_size=30),
)
def test_truncated_or_edited_samples_give_parse_errors(tmp_path, sample, cut, line, junk):
    raw = sample.read_bytes()
    truncated = tmp_path / ("t_" + sample.name)
    truncated.write_bytes(raw[: int(len(raw) * cut)])
    _only_parse_errors(truncated)
    lines = raw.decode("latin-1").split("\n")
    lines[min(line, len(lines) - 1)] = junk
    edited = tmp_path / ("e_" + sample.name)
    edited.write_text("\n".join(lines), encoding="latin-1", errors="replace")
    _only_parse_errors(edited)
