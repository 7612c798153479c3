"""Golden-batch envelopes on disk: built from stored good runs, one ``<recipe>.json`` each.

:func:`envelope_from_store` builds an envelope from stored good runs.
:func:`save_envelope` and :func:`load_envelope` keep it as ``<golden_dir>/<recipe>.json``, and
:func:`golden_path` names that file. A run whose RunStart has ``tags["recipe"]`` equal to that
name is scored against it (:class:`~synthwatch.models.alerts.golden.GoldenBatch`).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np

from synthwatch.contract.config import ConfigError
from synthwatch.models.alerts.golden import Envelope, RunSeries, build_envelope
from synthwatch.stream.store.embedded import Store

__all__ = [
    "envelope_from_store",
    "save_envelope",
    "load_envelope",
    "golden_path",
    "GOLDEN_QUANTITIES",
]

#: what a golden batch follows by default: size, spread, Au(0), peak, spectral noise (the
#: lamp), conversion, impedance
GOLDEN_QUANTITIES = (
    "psd.d_mean_nm",
    "psd.gsd",
    "uvvis_features.lambda_spr_nm",
    "uvvis_features.au0_mM",
    "uvvis_features.noise_au",
    "kinetics.conversion",
    "impedance_fit.r_s_ohm",
    "impedance_fit.r_ct_ohm",
    "impedance_fit.conductivity_s_per_m",
)
_RECIPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")


def golden_path(golden_dir: Path, recipe: str) -> Path:
    if not _RECIPE.fullmatch(recipe):
        raise ConfigError(f"recipe {recipe!r}: expected letters, digits and ._+- (it names a file)")
    return Path(golden_dir) / f"{recipe}.json"


def envelope_from_store(
    store: Store,
    recipe: str,
    run_ids: list[str],
    align: str = "time",
    bin_width: float = 60.0,
    quantities: tuple[str, ...] = GOLDEN_QUANTITIES,
) -> Envelope:
    """Envelope of the stored runs ``run_ids`` (unflagged estimates only)."""
    series: list[RunSeries] = []
    for run_id in run_ids:
        start = store.run_start(run_id)  # UnknownRunError names a wrong id
        conv_t: list[float] = []
        conv_v: list[float] = []
        values: dict[str, tuple[list[float], list[float]]] = {}
        for est in store.estimates(run_id):
            t_s = (est.t - start.t).total_seconds()
            for q in est.quantities:
                key = f"{est.measurement}.{q.name}"
                if key == "kinetics.conversion" and q.value is not None:
                    conv_t.append(t_s)
                    conv_v.append(q.value)
                if key in quantities and q.value is not None and not est.flags:
                    xs, vs = values.setdefault(key, ([], []))
                    xs.append(t_s)
                    vs.append(q.value)
        run = RunSeries(run_id)
        for key, (xs, vs) in values.items():
            x = np.asarray(xs)
            if align == "conversion":
                if not conv_t:
                    raise ConfigError(
                        f"run {run_id}: no kinetics conversion stored; align by time instead"
                    )
                x = np.interp(x, conv_t, conv_v)
            run.series[key] = (x, np.asarray(vs))
        series.append(run)
    try:
        return build_envelope(series, recipe, align=align, bin_width=bin_width)  # type: ignore[arg-type]
    except ValueError as e:
        raise ConfigError(str(e)) from None


def save_envelope(env: Envelope, golden_dir: Path) -> Path:
    """Write ``<golden_dir>/<recipe>.json`` atomically; the path."""
    path = golden_path(golden_dir, env.recipe)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(env.to_dict(), f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def load_envelope(golden_dir: Path, recipe: str) -> Envelope | None:
    """The envelope of ``recipe``, None if there is none; ConfigError if the file is bad."""
    path = golden_path(golden_dir, recipe)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path}: not a readable golden-batch file: {e}") from None
    try:
        return Envelope.from_dict(data, str(path))
    except ValueError as e:
        raise ConfigError(str(e)) from None
