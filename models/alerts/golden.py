"""Golden batch: an envelope of good runs, and each live estimate scored against it.

Multivariate batch monitoring after Nomikos & MacGregor, Technometrics 37 (1995) 41, in its
simplest online form. Good runs of one recipe are aligned by time since start, or by
conversion. Each quantity's values are averaged in bins of the alignment variable, per run. The
envelope is then, per bin, the mean and sd of those run averages across runs.

Live, :class:`GoldenBatch` gives every incoming value a z-score against its bin, and combines
the latest z-scores of all quantities into a Hotelling-style statistic
``T2 = z^T R^-1 z``. R is the correlation of the quantities' z-scores over the good runs,
pooled over bins; Hotelling, in Techniques of Statistical Analysis (1947) 111. T2 is split
into per-quantity contributions ``z_i (R^-1 z)_i``, which sum to T2, after Westerhuis et al.,
J. Chemometrics 14 (2000) 335. So the quantities that push the run away are named.

Quantities are addressed as ``"<measurement>.<name>"``, e.g. ``"psd.d_mean_nm"``.

>>> import numpy as np
>>> t = np.arange(0.0, 600.0, 10.0)
>>> runs = [RunSeries(f"good{k}", {"psd.d_mean_nm": (t, 10 + t / 60 + 0.1 * k)}) for k in range(4)]
>>> env = build_envelope(runs, recipe="Au-15nm", bin_width=60.0)
>>> round(float(env.mean[0, 2]), 3), round(float(env.sd[0, 2]), 3)
(12.567, 0.251)
>>> mon = GoldenBatch(env)
>>> from datetime import datetime, timedelta, timezone
>>> from synthwatch.contract.messages import Estimate, Quantity, RunStart
>>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> mon.update(RunStart(run_id="r9", t=t0, reactor="R1", system="Au-citrate"))
>>> mon.update(Estimate(run_id="r9", t=t0 + timedelta(seconds=150), sensor_id="uv1",
...     model="psd_lognormal", model_version="1", measurement="psd",
...     quantities=[Quantity(name="d_mean_nm", value=14.0, units="nm")]))
>>> round(mon.estimate.get("z_psd_d_mean_nm").value, 2)     # 14 nm vs 12.57 +- 0.25 (2 % floor)
5.7
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np

from synthwatch.contract.messages import Estimate, RunStart
from synthwatch.models.base import Model, build_estimate
from synthwatch.models.declare import Context, register

__all__ = ["RunSeries", "Envelope", "build_envelope", "GoldenBatch"]


@dataclass
class RunSeries:
    """One good run: per quantity ``"measurement.name"``, (alignment values, values) arrays."""

    run_id: str
    series: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Envelope:
    """Mean and sd per quantity and bin of the alignment variable, with the quantities' correlation.

    ``mean``/``sd``/``runs_per_bin`` have shape (n_quantities, n_bins); bins without at least
    two runs are NaN. Bin ``j`` covers ``[j * bin_width, (j + 1) * bin_width)``.
    """

    recipe: str
    align: Literal["time", "conversion"]
    bin_width: float
    quantities: tuple[str, ...]
    mean: np.ndarray
    sd: np.ndarray
    runs_per_bin: np.ndarray
    corr: np.ndarray
    run_ids: tuple[str, ...]

    def z(self, quantity: str, x: float, value: float) -> float:
        """z-score of ``value`` at alignment ``x``; NaN outside the envelope's bins."""
        i = self.quantities.index(quantity)
        j = int(x // self.bin_width)
        if j < 0 or j >= self.mean.shape[1]:
            return math.nan
        return (value - float(self.mean[i, j])) / float(self.sd[i, j])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (NaN as None); :meth:`from_dict` reads it back."""

        def rows(a):
            return [[None if not math.isfinite(v) else float(v) for v in r] for r in a]

        return {
            "format": "synthwatch.golden/1",
            "recipe": self.recipe,
            "align": self.align,
            "bin_width": self.bin_width,
            "quantities": list(self.quantities),
            "mean": rows(self.mean),
            "sd": rows(self.sd),
            "runs_per_bin": self.runs_per_bin.astype(int).tolist(),
            "corr": rows(self.corr),
            "run_ids": list(self.run_ids),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "envelope") -> Envelope:
        """Validate and build; ValueError naming ``source`` and the field otherwise."""
        if not isinstance(d, dict) or d.get("format") != "synthwatch.golden/1":
            raise ValueError(f"{source}: format: expected 'synthwatch.golden/1'")
        try:
            quantities = tuple(str(q) for q in d["quantities"])
            n_q = len(quantities)
            arrays = {}
            for key in ("mean", "sd", "runs_per_bin"):
                a = np.array([[math.nan if v is None else float(v) for v in row] for row in d[key]])
                if a.ndim != 2 or a.shape[0] != n_q:
                    raise ValueError(f"{key}: expected {n_q} rows of equal length")
                arrays[key] = a
            corr = np.array([[float(v) for v in row] for row in d["corr"]])
            if corr.shape != (n_q, n_q):
                raise ValueError(f"corr: expected a {n_q}x{n_q} matrix")
            if d["align"] not in ("time", "conversion"):
                raise ValueError(f"align: expected 'time' or 'conversion', got {d['align']!r}")
            width = float(d["bin_width"])
            if not width > 0:
                raise ValueError(f"bin_width: expected > 0, got {width}")
            if arrays["mean"].shape != arrays["sd"].shape:
                raise ValueError("sd: expected the shape of mean")
            if np.any(arrays["sd"][np.isfinite(arrays["sd"])] <= 0):
                raise ValueError("sd: expected positive values")
            return cls(
                str(d["recipe"]),
                d["align"],
                width,
                quantities,
                arrays["mean"],
                arrays["sd"],
                arrays["runs_per_bin"],
                corr,
                tuple(str(r) for r in d["run_ids"]),
            )
        except KeyError as err:
            raise ValueError(f"{source}: missing field {err.args[0]!r}") from None
        except (TypeError, ValueError) as err:
            raise ValueError(f"{source}: {err}") from None


def build_envelope(
    runs: list[RunSeries],
    recipe: str,
    align: Literal["time", "conversion"] = "time",
    bin_width: float = 60.0,
    min_rel_sd: float = 0.02,
    pool_bins: int = 2,
) -> Envelope:
    """Envelope of ``runs`` (at least 2): per bin the mean, and the sd of a new run around it.

    The sd pools the bin with ``pool_bins`` neighbours on each side, is widened by
    sqrt(1 + 1/n) (a new run scatters about the mean of n, which has its own error), and is
    floored at ``min_rel_sd`` x |mean|. The floor keeps a quantity that happened to agree
    closely across a few good runs from alarming on a difference no instrument could tell.
    """
    if len(runs) < 2:
        raise ValueError(
            f"golden batch of {recipe!r}: expected at least 2 good runs, got {len(runs)}"
        )
    quantities = tuple(sorted({q for r in runs for q in r.series}))
    if not quantities:
        raise ValueError(f"golden batch of {recipe!r}: the runs hold no quantities")
    x_max = max(float(np.nanmax(x)) for r in runs for x, _ in r.series.values() if len(x))
    n_bins = int(x_max // bin_width) + 1
    per_run = np.full((len(runs), len(quantities), n_bins), np.nan)
    for a, run in enumerate(runs):
        for i, q in enumerate(quantities):
            if q not in run.series:
                continue
            x, v = (np.asarray(u, dtype=float) for u in run.series[q])
            ok = np.isfinite(x) & np.isfinite(v) & (x >= 0)
            j = (x[ok] // bin_width).astype(int)
            sums = np.bincount(j, v[ok], n_bins)
            counts = np.bincount(j, None, n_bins)
            with np.errstate(invalid="ignore", divide="ignore"):
                per_run[a, i] = np.where(counts > 0, sums / counts, np.nan)
    n = np.sum(np.isfinite(per_run), axis=0)
    ok = np.where(n[None] >= 2, per_run, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN bins stay NaN
        mean = np.nanmean(ok, axis=0)
        # within-bin deviations pooled over +-pool_bins neighbours: a few good runs give a
        # noisy sd per bin, the neighbours' share the same spread
        dev2 = (ok - mean[None]) ** 2
        ss = np.nansum(dev2, axis=0)
        df = np.maximum(n - 1, 0).astype(float)
        kernel = np.ones(2 * pool_bins + 1)
        ss_pool = np.vstack([np.convolve(r, kernel, mode="same") for r in ss])
        df_pool = np.vstack([np.convolve(r, kernel, mode="same") for r in df])
        sd = np.sqrt(ss_pool / df_pool)
    # the spread of a new run around the mean of n: sd sqrt(1 + 1/n) (a prediction interval)
    sd = sd * np.sqrt(1.0 + 1.0 / np.maximum(n, 1))
    sd = np.maximum(sd, min_rel_sd * np.abs(mean))
    sd = np.where((sd > 0) & (n >= 2), sd, np.nan)
    z = (per_run - mean[None]) / sd[None]  # (runs, quantities, bins)
    flat = z.transpose(1, 0, 2).reshape(len(quantities), -1)
    both = np.isfinite(flat)
    corr = np.eye(len(quantities))
    for i in range(len(quantities)):
        for k in range(i + 1, len(quantities)):
            sel = both[i] & both[k]
            if sel.sum() >= 3:
                c = float(np.mean(flat[i, sel] * flat[k, sel]))
                norm = math.sqrt(float(np.mean(flat[i, sel] ** 2) * np.mean(flat[k, sel] ** 2)))
                corr[i, k] = corr[k, i] = c / norm if norm > 0 else 0.0
    return Envelope(
        recipe,
        align,
        float(bin_width),
        quantities,
        mean,
        sd,
        n,
        corr,
        tuple(r.run_id for r in runs),
    )


def _build(ctx: Context) -> Model | None:
    """For a run tagged ``recipe`` whose envelope the runtime finds (none: no golden batch)."""
    recipe = ctx.start.tags.get("recipe") if ctx.start is not None else None
    envelope = ctx.envelope(recipe) if recipe else None
    if envelope is None:
        return None
    golden = GoldenBatch(envelope)
    golden.update(ctx.start)
    return golden


@register(kinds=("run",), cost="cheap", build=_build)
class GoldenBatch(Model):
    """Each estimate's quantities scored against the golden-batch envelope (``golden_batch``).

    The estimate after each update that scored something: ``z_<measurement>_<name>`` for the
    quantities of the incoming estimate, ``t2`` over the latest z of every quantity seen so far
    (``t2_quantities`` of them), and each of those quantities' share of it,
    ``contrib_<measurement>_<name>`` (they sum to ``t2``). :attr:`contributions` gives them by
    ``"measurement.name"``. With ``align="conversion"``, the latest ``kinetics`` conversion is the
    alignment.
    """

    name = "golden_batch"
    version = "1"

    def __init__(self, envelope: Envelope):
        self.envelope = envelope
        self._t_start: datetime | None = None
        self._conversion: float | None = None
        self._z: dict[str, float] = {}
        self._contrib: dict[str, float] = {}
        self._output: Estimate | None = None
        self._index = {q: i for i, q in enumerate(envelope.quantities)}

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        t = np.arange(0.0, 60.0, 1.0)
        runs = [
            RunSeries(f"g{k}", {"uvvis_features.a_400_au": (t, 0.5 + 0.01 * k + 0 * t)})
            for k in range(3)
        ]
        return {"envelope": build_envelope(runs, recipe="test", bin_width=10.0)}

    def update(self, message: Any) -> None:
        self._output = None
        if isinstance(message, RunStart):
            self._t_start = message.t
            return
        if not isinstance(message, Estimate):
            return
        if self._t_start is None:
            self._t_start = message.t
        if message.measurement == "kinetics":
            for q in message.quantities:
                if q.name == "conversion" and q.value is not None:
                    self._conversion = q.value
        if message.flags:  # a flagged estimate is not compared: it may not be a size at all
            return
        env = self.envelope
        if env.align == "time":
            x = (message.t - self._t_start).total_seconds()
        elif self._conversion is not None:
            x = self._conversion
        else:
            return
        scored = []
        for q in message.quantities:
            key = f"{message.measurement}.{q.name}"
            if key not in self._index or q.value is None:
                continue
            z = env.z(key, x, q.value)
            if math.isfinite(z):
                self._z[key] = z
                scored.append((key, z))
        if not scored:
            return
        keys = sorted(self._z, key=self._index.__getitem__)
        ix = [self._index[k] for k in keys]
        zv = np.array([self._z[k] for k in keys])
        r = env.corr[np.ix_(ix, ix)]
        try:
            w = np.linalg.solve(r, zv)
        except np.linalg.LinAlgError:
            w = zv
        contrib = zv * w
        self._contrib = dict(zip(keys, contrib.tolist()))
        quantities = [(f"z_{k.replace('.', '_')}"[:64], z, "1", None) for k, z in scored]
        quantities.append(("t2", float(contrib.sum()), "1", None))
        quantities.append(("t2_quantities", float(len(keys)), "1", None))
        for k, c in zip(keys, contrib.tolist()):
            quantities.append((f"contrib_{k.replace('.', '_')}"[:64], c, "1", None))
        self._output = build_estimate(message, self, "golden_batch", quantities, [])

    @property
    def estimate(self) -> Estimate | None:
        """The ``golden_batch`` estimate of the last update, if it scored a quantity."""
        return self._output

    @property
    def z_scores(self) -> dict[str, float]:
        """The latest z-score of each quantity seen, by ``"measurement.name"``."""
        return dict(self._z)

    @property
    def contributions(self) -> dict[str, float]:
        """Each quantity's share of the latest T2 (they sum to it)."""
        return dict(self._contrib)
