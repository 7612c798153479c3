"""Write a sweep in a vendor's export layout (for simulators, demos and round-trip tests).

Each writer produces the layout that :mod:`synthwatch.collectors.impedance.vendors` documents
(and the vendor's software exports), with numbers written by ``repr`` (``digits=None``, exact
round trip) or with ``digits`` significant digits as the instruments do. Points are written from
the highest frequency down, as sweeps run. Z'' is converted to the file's convention (-Z'' for
BioLogic, NOVA, and CSV ``-Z''`` columns).

>>> import pathlib, tempfile, numpy as np
>>> from synthwatch.collectors.impedance.formats import read_sweep
>>> from synthwatch.collectors.impedance.sweep import make_sweep
>>> s = make_sweep("x", [10.0, 100.0, 1000.0], [120.0, 105.5, 100.25], [-30.0, -8.0, -1.5],
...                fmt="memory")
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> [read_sweep(write_sweep(s, d / f"s.{fmt}", fmt)).same_data(s) for fmt in WRITERS]
[True, True, True, True, True, True, True, True, True, True]
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np

from synthwatch.collectors.impedance.sweep import ImpedanceSweep

__all__ = ["WRITERS", "write_sweep"]

Writer = Callable[[ImpedanceSweep, int | None, datetime], str]

#: the start written when neither the caller nor the sweep gives one (local wall-clock time)
_DEFAULT_STARTED_AT = datetime(2026, 1, 1, 12, 0, 0)


def _num(x: float, digits: int | None) -> str:
    return repr(float(x)) if digits is None else f"{x:.{digits - 1}E}"


def _points(s: ImpedanceSweep):
    order = np.argsort(-s.frequencies_hz)
    return [(s.frequencies_hz[i], s.z_real_ohm[i], s.z_imag_ohm[i]) for i in order]


def _polar_points(s: ImpedanceSweep):
    """(f, Z', Z'', |Z|, phase in degrees) of every point, from the highest frequency down."""
    return [
        (f, zr, zi, float(np.hypot(zr, zi)), float(np.degrees(np.arctan2(zi, zr))))
        for f, zr, zi in _points(s)
    ]


def _text(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"


def _gamry(s: ImpedanceSweep, digits: int | None, t: datetime) -> str:
    head = [
        "EXPLAIN",
        "TAG\tEISPOT",
        "TITLE\tLABEL\tPotentiostatic EIS\tTest &Identifier",
        f"DATE\tLABEL\t{t.month}/{t.day}/{t.year}\tDate",
        f"TIME\tLABEL\t{t:%H:%M:%S}\tTime",
        "PSTAT\tPSTAT\tREF600-12345\tPotentiostat",
        "VDC\tPOTEN\t0.00000E+000\tF\tDC &Voltage (V)",
        f"FREQINIT\tQUANT\t{_num(max(s.frequencies_hz), 6)}\tInitial Fre&q. (Hz)",
        f"FREQFINAL\tQUANT\t{_num(min(s.frequencies_hz), 6)}\tFinal Fre&q. (Hz)",
        "VAC\tQUANT\t1.00000E+001\tAC &Voltage (mV rms)",
        "AREA\tQUANT\t1.00000E+000\t&Area (cm^2)",
        "ZCURVE\tTABLE",
        "\tPt\tTime\tFreq\tZreal\tZimag\tZsig\tZmod\tZphz\tIdc\tVdc\tIERange",
        "\t#\ts\tHz\tohm\tohm\tV\tohm\t°\tA\tV\t#",
    ]
    rows = [
        f"\t{i}\t{i + 1}\t{_num(f, digits)}\t{_num(zr, digits)}\t{_num(zi, digits)}\t1\t"
        f"{_num(mod, digits)}\t{_num(phz, digits)}\t1.0E-09\t0.0\t7"
        for i, (f, zr, zi, mod, phz) in enumerate(_polar_points(s))
    ]
    return _text(head + rows)


def _zplot(s: ImpedanceSweep, digits: int | None, t: datetime) -> str:
    head = [
        "ZPLOT2 ASCII",
        "  Measured Data, ZPlot:       3.2c",
        "  Experiment Type:            Sweep Frequency, Control Voltage",
        f"  Date:                       {t:%m-%d-%Y}",
        f"  Time:                       {t:%H:%M:%S}",
        "  Begin User Comments:        0",
        "  End User Comments:          0",
        f"  Data Points:                {s.n_points}",
        "  Freq(Hz)\tAmpl\tBias\tTime(Sec)\tZ'(a)\tZ''(b)\tGD\tErr\tRange",
        "End Comments",
    ]
    rows = [
        f"{_num(f, digits)}\t1.0000E-02\t0.0000E+00\t{i + 1.0}\t{_num(zr, digits)}\t"
        f"{_num(zi, digits)}\t0.0000E+00\t0\t3"
        for i, (f, zr, zi) in enumerate(_points(s))
    ]
    return _text(head + rows)


def _biologic(s: ImpedanceSweep, digits: int | None, t: datetime) -> str:
    head = [
        "EC-Lab ASCII FILE",
        "Nb header lines : 11",
        "",
        "Potentio Electrochemical Impedance Spectroscopy",
        "",
        "Run on channel : 1 (SN 12345)",
        f"Acquisition started on : {t:%m/%d/%Y %H:%M:%S}",
        "Device : SP-150 (SN 1234)",
        "Electrode surface area : 0.001 cm²",
        "",
        "freq/Hz\tRe(Z)/Ohm\t-Im(Z)/Ohm\t|Z|/Ohm\tPhase(Z)/deg\ttime/s\tcycle number\t",
    ]
    rows = [
        f"{_num(f, digits)}\t{_num(zr, digits)}\t{_num(-zi, digits)}\t{_num(mod, digits)}\t"
        f"{_num(phz, digits)}\t{i * 0.25}\t1.000000000000000E+000\t"
        for i, (f, zr, zi, mod, phz) in enumerate(_polar_points(s))
    ]
    return _text(head + rows)


def _autolab(s: ImpedanceSweep, digits: int | None, t: datetime) -> str:
    head = ['"Z60W Data File: Version 1.1"'] + ['""'] * 7 + ["0,2,0,1,0.1,10000", str(s.n_points)]
    head.append(
        "\"  Freq (Hz)    Ampl     Bias   Time(Sec)   Z'(a)    Z''(b)    GD   Err   Range\""
    )
    rows = [
        f"{_num(f, digits)},0,0,0,{_num(zr, digits)},{_num(zi, digits)},0,0,0"
        for f, zr, zi in _points(s)
    ]
    return _text(head + rows)


def _nova(s: ImpedanceSweep, digits: int | None, t: datetime) -> str:
    head = ["Index;Frequency (Hz);Z' (Ω);-Z'' (Ω);Z (Ω);-Phase (°);Time (s)"]
    rows = [
        f"{i + 1};{_num(f, digits)};{_num(zr, digits)};{_num(-zi, digits)};"
        f"{_num(mod, digits)};{_num(-phz, digits)};{i * 0.5}"
        for i, (f, zr, zi, mod, phz) in enumerate(_polar_points(s))
    ]
    return _text(head + rows)


def _chi(s: ImpedanceSweep, digits: int | None, t: datetime) -> str:
    head = [
        f"{t:%b}. {t.day}, {t.year}   {t:%H:%M:%S}",
        "A.C. Impedance",
        "File: C:\\CHI\\sweep.bin",
        "Data Source:  Experiment",
        "Instrument Model:  CHI660E",
        "",
        "Init E (V) = 0",
        f"High Frequency (Hz) = {max(s.frequencies_hz):g}",
        f"Low Frequency (Hz) = {min(s.frequencies_hz):g}",
        "Amplitude (V) = 0.01",
        "Quiet Time (sec) = 2",
        "",
        "Freq/Hz, Z'/ohm, Z\"/ohm, Z/ohm, Phase/deg",
        "",
    ]
    rows = [
        f"{_num(f, digits)}, {_num(zr, digits)}, {_num(zi, digits)}, {_num(mod, digits)}, {phz:.1f}"
        for f, zr, zi, mod, phz in _polar_points(s)
    ]
    return _text(head + rows)


def _parstat(s: ImpedanceSweep, digits: int | None, t: datetime) -> str:
    head = [
        "Potential (V)\tCurrent (A)\tElapsed Time (s)\tFrequency (Hz)\tZre (ohms)\tZim (ohms)\t"
        "|Vac| (V)\t|Iac| (A)\t"
    ]
    dc = ["0.25\t1.2E-06\t10\t0\t0\t0\t0\t0\t", "0.25\t1.1E-06\t20\t0\t0\t0\t0\t0\t"]
    rows = [
        f"0.25\t1.0E-06\t{30 + i}\t{_num(f, digits)}\t{_num(zr, digits)}\t{_num(zi, digits)}\t"
        "0.01\t1.0E-04\t"
        for i, (f, zr, zi) in enumerate(_points(s))
    ]
    return _text(head + dc + rows)


def _powersuite(s: ImpedanceSweep, digits: int | None, t: datetime) -> str:
    rows = [
        f"{_num(f, digits)}\t {_num(zr, digits)}\t {_num(zi, digits)}" for f, zr, zi in _points(s)
    ]
    return _text(["Frequency\t Zre\t Zimg"] + rows)


def _csv(s: ImpedanceSweep, digits: int | None, t: datetime) -> str:
    rows = [f"{_num(f, digits)},{_num(zr, digits)},{_num(zi, digits)}" for f, zr, zi in _points(s)]
    return _text(["frequency_hz,z_real_ohm,z_imag_ohm"] + rows)


def _versastudio(s: ImpedanceSweep, digits: int | None, t: datetime) -> str:
    hour = t.hour % 12 or 12
    head = [
        "<Application>",
        "Name=VersaStudio",
        "Version=2.52.3.0",
        "</Application>",
        "",
        "<Action0>",
        "Segments=0",
        "Name=Common",
        "</Action0>",
        "",
        "<Instrument>",
        "Type=VersaSTAT4",
        "Options=FRA, EIS <Filter:Normal>",
        "</Instrument>",
        "",
        "<Experiment>",
        f"TimeAcquired={hour}:{t:%M:%S %p}",
        f"DateAcquired={t:%A, %B} {t.day}, {t.year}",
        "</Experiment>",
        "",
        "<Action1>",
        f"Number of Points={s.n_points}",
        "Segments=1",
        "Name=Potentiostatic EIS",
        "</Action1>",
        "",
        "<Segment1>",
        "Type=2",
        "Version=3",
        "Definition=Segment #, Point #, E(V), I(A), Elapsed Time(s), ADC Sync Input(V), "
        "Current Range, Status, E Applied(V), Frequency(Hz), E Real, E Imag, I Real, I Imag, "
        "Z Real, Z Imag, E2 Status, E2(V), E2 Real, E2 Imag, Z2 Real, Z2 Imag, ActionId, "
        "AC Amplitude, 0",
    ]
    rows = [
        f"0,{i},0,-3.2E-06,{1.5 + i},-0.0024,5,53,0,{_num(f, digits)},0.01,-0.01,1E-04,-1E-04,"
        f"{_num(zr, digits)},{_num(zi, digits)},0,0,0,0,0,0,21,0.02"
        for i, (f, zr, zi) in enumerate(_points(s))
    ]
    return _text(head + rows + ["</Segment1>", "", "<Graph1>", "Analysis=0", "</Graph1>"])


#: format name -> writer; ``nova`` is Autolab NOVA's ASCII export (read back as ``autolab``)
WRITERS: dict[str, Writer] = {
    "gamry": _gamry,
    "zplot": _zplot,
    "biologic": _biologic,
    "autolab": _autolab,
    "nova": _nova,
    "chi": _chi,
    "parstat": _parstat,
    "powersuite": _powersuite,
    "versastudio": _versastudio,
    "csv": _csv,
}


def write_sweep(
    sweep: ImpedanceSweep,
    path: str | Path,
    fmt: str,
    *,
    digits: int | None = None,
    started_at: datetime | None = None,
) -> Path:
    """Write ``sweep`` to ``path`` in format ``fmt`` (one of :data:`WRITERS`); returns the path.

    ``started_at`` is written as the instrument PC's local wall-clock time (default: the
    sweep's own, else 2026-01-01 12:00:00).
    """
    if fmt not in WRITERS:
        raise ValueError(f"unknown format {fmt!r}: expected one of {sorted(WRITERS)}")
    if digits is not None and not 2 <= digits <= 17:
        raise ValueError(f"digits: expected 2..17 significant digits, got {digits}")
    t = started_at or sweep.started_at
    text = WRITERS[fmt](sweep, digits, t.replace(tzinfo=None) if t else _DEFAULT_STARTED_AT)
    path = Path(path)
    path.write_text(text, encoding="utf-8")
    return path
