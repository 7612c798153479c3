"""The data of ``synthwatch report``: query the store, hand plain data to
dashboards/reports/run_report.py.

The report module may import only the message contract, so this one reads the run from the
store and builds :class:`~synthwatch.dashboards.reports.run_report.ReportData` (dataclasses and
numpy
arrays). Long runs are thinned for the plots -- at most :data:`MAX_ROWS` spectra or
distributions in a heatmap and :data:`MAX_POINTS` estimates per model, evenly spaced in time
and read without decoding the rest (:mod:`synthwatch.stream.store.thinned`) -- and the report
says so for the spectra.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from synthwatch.contract.messages import Estimate
from synthwatch.dashboards.reports.run_report import (
    AlertMark,
    Heatmap,
    ReportData,
    Series,
    SeriesPanel,
)
from synthwatch.stream.runtime.registry import KINETICS_SOURCE
from synthwatch.stream.store.embedded import Store
from synthwatch.stream.store.thinned import pick, thinned_estimates, thinned_readings

MAX_ROWS = 300
MAX_COLUMNS = 400
MAX_POINTS = 3000


_pick = pick


def _hours(t: datetime, t0: datetime) -> float:
    return (t - t0).total_seconds() / 3600.0


def series_of(
    estimates: list[Estimate], name: str, t0: datetime, label: str | None = None, scale: float = 1
) -> Series | None:
    """One quantity of a model's estimates as a :class:`Series` (95 % band from 1.96 sd)."""
    rows = []
    for e in estimates:
        for q in e.quantities:
            if q.name == name:
                rows.append((e.t, q))
                break
    if not rows:
        return None
    idx = _pick(len(rows), MAX_POINTS)
    t = np.array([_hours(rows[i][0], t0) for i in idx])
    v = np.array([np.nan if rows[i][1].value is None else rows[i][1].value for i in idx])
    u = np.array(
        [np.nan if rows[i][1].uncertainty is None else rows[i][1].uncertainty for i in idx]
    )
    units = rows[0][1].units
    lo = hi = None
    if np.isfinite(u).any():
        lo, hi = (v - 1.96 * u) * scale, (v + 1.96 * u) * scale
    return Series(label or name, units, t, v * scale, lo, hi)


def _spectra(store: Store, run_id: str, t0: datetime, notes: list[str]) -> Heatmap | None:
    uv = [d for d in store.descriptors(run_id) if d.kind == "uvvis"]
    if not uv:
        return None
    desc = uv[0]
    n, readings = thinned_readings(store, run_id, desc.sensor_id, MAX_ROWS)
    if n == 0:
        return None
    cols = _pick(len(desc.axis), MAX_COLUMNS)
    t = [_hours(r.t, t0) for r in readings]
    z = [np.asarray(r.values, dtype=float)[cols] for r in readings]
    if n > MAX_ROWS:
        notes.append(f"Spectra: {len(t)} of {n} spectra of sensor {desc.sensor_id} shown.")
    return Heatmap(
        f"Absorbance of {desc.sensor_id} ({desc.path_length_cm:g} cm)",
        np.array(t),
        np.asarray(desc.axis, dtype=float)[cols],
        np.array(z),
        "wavelength (nm)",
        desc.value_units,
    )


def _psd(store: Store, run_id: str, t0: datetime, notes: list[str]) -> Heatmap | None:
    for model in ("psd_lognormal", "psd_nnls"):
        rows = thinned_estimates(store, run_id, model, MAX_ROWS, with_distribution=True)
        if rows:
            break
    else:
        return None
    axis = rows[0].distribution.axis
    same = [e for e in rows if e.distribution.axis == axis]
    if len(same) < len(rows):
        notes.append(f"Size distribution: {len(rows) - len(same)} on another axis left out.")
    idx = _pick(len(same), MAX_ROWS)
    dist = same[0].distribution
    z = np.array([same[i].distribution.values for i in idx], dtype=float)
    # each distribution relative to its own maximum: the shape over time, whatever the number
    peak = np.nanmax(np.where(np.isfinite(z), z, np.nan), axis=1, initial=0.0)
    z = np.divide(z, peak[:, None], out=np.zeros_like(z), where=peak[:, None] > 0)
    # the diameters where some distribution holds at least 1 % of its maximum (+ a margin)
    used = np.flatnonzero(np.nanmax(z, axis=0) >= 0.01)
    cols = slice(0, len(axis)) if used.size == 0 else slice(0, min(len(axis), used[-1] + 4))
    return Heatmap(
        f"Size distribution ({model}): {dist.quantity} per bin, relative to its maximum",
        np.array([_hours(same[i].t, t0) for i in idx]),
        np.asarray(axis, dtype=float)[cols],
        z[:, cols],
        f"{dist.axis_name} ({dist.axis_units})",
        "relative",
    )


def _panels(store: Store, run_id: str, system: str | None, t0: datetime) -> list[SeriesPanel]:
    est = {m: thinned_estimates(store, run_id, m, MAX_POINTS) for m in _models(store, run_id)}
    panels = []
    sizes = [
        series_of(est.get("psd_lognormal", []), "d_mean_nm", t0, "d_mean (lognormal PSD)"),
        series_of(est.get("psd_nnls", []), "d_mean_nm", t0, "d_mean (NNLS PSD)"),
        series_of(est.get("uvvis_features", []), "d_haiss_nm", t0, "d (Haiss)"),
        series_of(est.get("size_calibration", []), "d_mean_nm", t0, "d_mean (calibrated)"),
    ]
    labels = [lb for lb in store.labels(run_id) if lb.units == "nm"]
    if labels:
        sizes.append(
            Series(
                "reference (labels)",
                "nm",
                np.array([_hours(lb.sample_t, t0) for lb in labels]),
                np.array([lb.value for lb in labels]),
                mode="markers",
            )
        )
    if any(s is not None for s in sizes):
        panels.append(SeriesPanel("Particle size", [s for s in sizes if s], y_title="nm"))
    kin = est.get("kinetics", [])
    if kin:
        fit = series_of(kin, "conversion", t0, "conversion (fit)")
        kin_series = [fit] if fit else []
        source = KINETICS_SOURCE.get(system or "")
        plateau = series_of(kin, f"plateau_{source[1]}", t0) if source else None
        if source and plateau is not None and np.isfinite(plateau.values).any():
            final = plateau.values[np.isfinite(plateau.values)][-1]
            measured = series_of(est.get(source[0], []), source[1], t0, "conversion (measured)")
            if measured is not None and final > 0:
                kin_series.append(
                    Series(
                        measured.name, "1", measured.t_h, measured.values / final, mode="markers"
                    )
                )
        if kin_series:
            panels.append(SeriesPanel("Kinetics: conversion", kin_series, y_title="conversion"))
        t90 = [e for e in kin if any(q.name == "t90_s" for q in e.quantities)]
        s90 = series_of(t90, "t90_s", t0, "t90 forecast", scale=1 / 3600.0)
        if s90 is not None:
            lo = series_of(t90, "t90_lo_s", t0, scale=1 / 3600.0)
            hi = series_of(t90, "t90_hi_s", t0, scale=1 / 3600.0)
            if lo is not None and hi is not None and lo.values.size == s90.values.size:
                s90 = Series(s90.name, "h", s90.t_h, s90.values, lo.values, hi.values)
            panels.append(
                SeriesPanel(
                    "Kinetics: t90 forecast (time of 90 % conversion, 95 % interval)",
                    [s90],
                    y_title="t90 since start (h)",
                )
            )
    fits = est.get("impedance_fit", [])
    if fits:
        ohms = [series_of(fits, n, t0) for n in ("r_s_ohm", "r_ct_ohm")]
        if any(ohms):
            panels.append(
                SeriesPanel("Impedance: resistances", [s for s in ohms if s], True, "ohm")
            )
        cpe = [series_of(fits, n, t0) for n in ("cpe_alpha",)]
        if any(cpe):
            panels.append(SeriesPanel("Impedance: CPE exponent", [s for s in cpe if s]))
    return panels


def _models(store: Store, run_id: str) -> list[str]:
    return [
        m
        for (m,) in store.query(
            "SELECT DISTINCT model FROM estimates WHERE run_id = ? ORDER BY model", (run_id,)
        )
    ]


def _metadata(store: Store, run_id: str) -> list[tuple[str, str]]:
    s = store.run(run_id)
    out = [
        ("run", run_id),
        ("system", s.system or "–"),
        ("reactor", s.reactor or "–"),
        ("status", s.status + (f" ({s.reason})" if s.reason else "")),
        ("start (UTC)", s.t_start.isoformat() if s.t_start else "–"),
        ("stop (UTC)", s.t_stop.isoformat() if s.t_stop else "–"),
        ("stored", f"{s.n_readings} readings, {s.n_estimates} estimates, {s.n_alerts} alerts"),
    ]
    try:
        start = store.run_start(run_id)
    except KeyError:
        start = None
    if start is not None:
        out.append(("operator", start.operator or "–"))
        if start.recipe:
            out.append(("recipe", ", ".join(f"{k} = {v}" for k, v in start.recipe.items())))
        if start.tags:
            out.append(("tags", ", ".join(f"{k}: {v}" for k, v in start.tags.items())))
    for d in store.descriptors(run_id):
        axis = f"{len(d.axis)} points {d.axis[0]:g}–{d.axis[-1]:g} {d.axis_units}" if d.axis else ""
        every = f", every {d.expected_interval_s:g} s" if d.expected_interval_s else ""
        what = d.quantity or d.value_units
        out.append((f"sensor {d.sensor_id}", f"{d.kind} ({what}) {axis}{every}".strip()))
    versions = store.query(
        "SELECT DISTINCT model, model_version FROM estimates WHERE run_id = ? ORDER BY model",
        (run_id,),
    )
    if versions:
        out.append(("models", ", ".join(f"{m} v{v}" for m, v in versions)))
    return out


def build_report(store: Store, run_id: str) -> ReportData:
    """Everything of ``run_id`` the report shows, from the store."""
    summary = store.run(run_id)
    t0 = summary.t_start or summary.t_last
    notes: list[str] = []
    if t0 is None:
        return ReportData(run_id, f"synthwatch run {run_id}", _metadata(store, run_id))
    return ReportData(
        run_id=run_id,
        title=f"synthwatch run {run_id}",
        metadata=_metadata(store, run_id),
        spectra=_spectra(store, run_id, t0, notes),
        psd=_psd(store, run_id, t0, notes),
        series=_panels(store, run_id, summary.system, t0),
        alerts=[
            AlertMark(_hours(a.t, t0), a.rule, a.severity, a.state, a.message)
            for a in store.alerts(run_id)
        ],
        notes=notes,
    )
