"""What every control chart has in common: river's detector API plus a small chart protocol.

A chart is a :class:`~synthwatch.models.base.Model` fed one observation at a time with
``update(x)`` (returns None), after river's drift detectors (``river.drift.PageHinkley``): read
``drift_detected`` after each update; the update after a signal starts the chart afresh, an
invalid observation's too (it is counted, not charted, and the next valid one is the first of
the new regime, so a dropout right after an alarm does not carry the old sums into a second
one). Every chart also shows

* ``statistic``: the number plotted (a CUSUM sum, an EWMA value, a T², ...),
* ``limits``: ``(lower, upper)`` for it (``-inf`` where a side has none), ``limit`` the upper one,
* ``reason``: after a signal, one line naming the chart, the rule, the statistic and its limit,
  so an alert engine can pass it on as is; ``""`` otherwise,
* ``n_seen`` (valid observations) and ``n_invalid`` (observations that were not finite numbers,
  or an :class:`~synthwatch.contract.messages.Estimate` without the chart's quantity; they are
  counted, never fed to the statistic, and never raise: a bad reading does not kill a run).
  Strings and booleans are not numbers here.

``x`` is a number, or an ``Estimate`` whose quantity ``quantity`` is charted (the only quantity
when ``quantity`` is None). Multivariate charts take a sequence of numbers, a mapping of quantity
name to number, or an ``Estimate`` holding all of their ``quantities``.

>>> from synthwatch.models.charts.cusum import Cusum
>>> c = Cusum(mu0=10.0, sigma=0.5, k=0.5, h=4.0)
>>> for x in [10.2, 9.9, float("nan"), 12.0, 12.1]:
...     c.update(x)
>>> c.drift_detected, c.n_seen, c.n_invalid
(True, 4, 1)
>>> c.reason
'cusum: upper CUSUM 7.20 > h = 4.00 (sigma units; k = 0.50, mu0 = 10, sigma = 0.5)'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from synthwatch.contract.messages import Estimate

__all__ = [
    "Chart",
    "MultivariateChart",
    "as_float",
    "as_vector",
    "check_finite",
    "check_lam",
    "check_positive",
    "check_probability",
    "quantity_names",
]


def check_positive(name: str, value: float, strict: bool = True) -> float:
    """``float(value)`` if finite and > 0 (>= 0 when not ``strict``); ValueError naming it."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a number, got {value!r}") from None
    if not math.isfinite(v) or (v <= 0 if strict else v < 0):
        raise ValueError(f"{name}: expected a finite number {'>' if strict else '>='} 0, got {v}")
    return v


def check_finite(name: str, value: float) -> float:
    """``float(value)`` if finite; ValueError naming it."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a finite number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    return v


def check_lam(lam: float) -> float:
    """An EWMA weight: ``float(lam)`` if ``0 < lam <= 1``; ValueError naming it."""
    v = check_positive("lam", lam)
    if v > 1.0:
        raise ValueError(f"lam: expected 0 < lam <= 1, got {lam}")
    return v


def check_probability(name: str, p: float) -> float:
    """A false-alarm or miss probability: ``float(p)`` if a number in (0, 0.5); ValueError."""
    if not (isinstance(p, (int, float)) and 0.0 < p < 0.5):
        raise ValueError(f"{name}: expected a probability in (0, 0.5), got {p!r}")
    return float(p)


def quantity_names(quantities: Sequence[str] | None, p: int) -> tuple[str, ...]:
    """The names of a multivariate chart's ``p`` quantities: ``x0, x1, ...`` when None.

    >>> quantity_names(None, 2), quantity_names(("d_nm", "c_mM"), 2)
    (('x0', 'x1'), ('d_nm', 'c_mM'))
    """
    if quantities is None:
        return tuple(f"x{j}" for j in range(p))
    names = tuple(str(q) for q in quantities)
    if len(names) != p:
        raise ValueError(f"quantities: expected {p} names, got {len(names)}")
    return names


def as_float(x: Any, quantity: str | None) -> float:
    """The observation in ``x`` as a float; NaN when there is none (counted as invalid)."""
    if isinstance(x, Estimate):
        if quantity is None:
            if len(x.quantities) != 1:
                return math.nan
            value = x.quantities[0].value
        else:
            value = next((q.value for q in x.quantities if q.name == quantity), None)
        return math.nan if value is None else float(value)
    if isinstance(x, (str, bytes, bool)):
        return math.nan
    try:
        return float(x)
    except (TypeError, ValueError, OverflowError):
        return math.nan


def as_vector(x: Any, quantities: Sequence[str] | None, p: int) -> np.ndarray | None:
    """The observation in ``x`` as a float vector of length ``p``; None when it is not one."""
    if isinstance(x, Estimate):
        if quantities is None:
            return None
        found = {q.name: q.value for q in x.quantities}
        values = [found.get(q) for q in quantities]
        if any(v is None for v in values):
            return None
        x = values
    elif isinstance(x, Mapping):
        if quantities is None or any(q not in x for q in quantities):
            return None
        x = [x[q] for q in quantities]
    try:
        v = np.asarray(x, dtype=float)
    except (TypeError, ValueError, OverflowError):
        return None
    if v.shape != (p,) or not np.isfinite(v).all():
        return None
    return v


class Chart:
    """Mixin of every chart (see the module docstring for the protocol).

    Not a :class:`Model` itself, so the shared model checks see only the concrete charts,
    which derive from both: ``class Cusum(_CusumCore, Model)``.
    """

    name = "chart"
    version = "1"

    _drift: bool = False
    _reason: str = ""
    _n: int = 0
    _n_invalid: int = 0

    @property
    def drift_detected(self) -> bool:
        """True right after the update that signalled."""
        return self._drift

    @property
    def reason(self) -> str:
        """One line naming the chart, rule, statistic and limit after a signal; "" otherwise."""
        return self._reason if self._drift else ""

    @property
    def statistic(self) -> float:  # pragma: no cover - interface
        raise NotImplementedError

    @property
    def limits(self) -> tuple[float, float]:  # pragma: no cover - interface
        raise NotImplementedError

    @property
    def limit(self) -> float:
        """The upper limit of ``statistic``."""
        return self.limits[1]

    @property
    def n_seen(self) -> int:
        """Valid observations fed so far."""
        return self._n

    @property
    def n_invalid(self) -> int:
        """Observations skipped because they were not finite numbers."""
        return self._n_invalid


class MultivariateChart(Chart):
    """Base of the multivariate charts: ``update`` takes a vector (see the module docstring)."""

    @property
    def limits(self) -> tuple[float, float]:
        return (-math.inf, self.limit)

    @property
    def limit(self) -> float:  # pragma: no cover - interface
        raise NotImplementedError
