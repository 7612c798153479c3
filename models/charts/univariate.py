"""Shewhart individuals chart with the Western Electric and Nelson run rules; Wald's SPRT.

:class:`Shewhart` charts ``z = (x - mu0) / sigma`` of individual observations against ``+-L``
(Shewhart 1931; Montgomery, Introduction to Statistical Quality Control, section 6.4) and
checks the run rules of the Western Electric Statistical Quality Control Handbook (1956), or
those of Nelson, J. Quality Technology 16 (1984) 237. Zones are 1, 2 and 3 sigma from the
centre line; ``L`` (default 3) moves only the one-point limit (rule WE1 / N1).

=====  ===========================================================================
WE1    one point beyond L sigma
WE2    2 of 3 consecutive points beyond 2 sigma, same side
WE3    4 of 5 consecutive points beyond 1 sigma, same side
WE4    8 consecutive points on one side of the centre line
N1     one point beyond L sigma
N2     9 points in a row on one side of the centre line
N3     6 points in a row steadily increasing or decreasing
N4     14 points in a row alternating up and down
N5     2 of 3 points in a row beyond 2 sigma, same side
N6     4 of 5 points in a row beyond 1 sigma, same side
N7     15 points in a row within 1 sigma of the centre line (both sides)
N8     8 points in a row beyond 1 sigma, either side, none within
=====  ===========================================================================

The rules are kept as run counters and bit masks (k-of-n rules: a lookup table indexed by
the mask), so an update costs the same whatever the window. The rule that fired is named in
``rule`` and ``reason``; after a signal every run starts afresh. Run rules raise the
false-alarm rate: with all four Western Electric rules the in-control ARL is about 91.75
instead of 370 (Champ & Woodall, Technometrics 29 (1987) 393).

:class:`Sprt` is Wald's sequential probability ratio test (Wald, Ann. Math. Statist. 16 (1945)
117) of ``mu = mu0`` against ``mu = mu0 + shift_sigma * sigma`` for normal observations, with
error rates ``alpha`` (false alarm) and ``beta`` (missed shift)::

    llr_n = llr_{n-1} + d (z_n - d / 2),   d = shift_sigma,   z = (x - mu0) / sigma
    accept the shift when llr >= A = ln((1 - beta) / alpha)    (signal)
    accept mu0       when llr <= B = ln(beta / (1 - alpha))    (restart the test at 0)

>>> s = Shewhart(mu0=0.0, sigma=1.0, rules="western_electric")
>>> for x in [0.3, 2.5, -0.4, 2.2]:
...     s.update(x)
>>> s.drift_detected, s.rule
(True, 'WE2')
>>> print(s.reason)
shewhart: WE2 (2 of 3 consecutive points beyond 2 sigma, same side): x = 2.2, z = 2.20
(mu0 = 0, sigma = 1)
>>> import numpy as np
>>> rng = np.random.default_rng(3)
>>> t = Sprt(mu0=1.0, sigma=0.1, shift_sigma=1.0, alpha=0.001, beta=0.01)
>>> decisions = []
>>> for i, x in enumerate(np.r_[rng.normal(1.0, 0.1, 50), rng.normal(1.1, 0.1, 50)]):
...     t.update(x)
...     if t.drift_detected:
...         decisions.append(i)
>>> decisions[:1], round(t.limits[1], 3), t.n_accepted
([76], 6.898, 4)
"""

from __future__ import annotations

import math
from typing import Any

from synthwatch.models.base import Model
from synthwatch.models.charts.base import (
    Chart,
    as_float,
    check_finite,
    check_positive,
    check_probability,
)

__all__ = ["Shewhart", "Sprt", "RULES", "RULE_SETS"]

_NAN = math.nan

#: Every run rule by name, with what it means.
RULES: dict[str, str] = {
    "WE1": "one point beyond {L:g} sigma",
    "WE2": "2 of 3 consecutive points beyond 2 sigma, same side",
    "WE3": "4 of 5 consecutive points beyond 1 sigma, same side",
    "WE4": "8 consecutive points on one side of the centre line",
    "N1": "one point beyond {L:g} sigma",
    "N2": "9 points in a row on one side of the centre line",
    "N3": "6 points in a row steadily increasing or decreasing",
    "N4": "14 points in a row alternating up and down",
    "N5": "2 of 3 points in a row beyond 2 sigma, same side",
    "N6": "4 of 5 points in a row beyond 1 sigma, same side",
    "N7": "15 points in a row within 1 sigma of the centre line",
    "N8": "8 points in a row beyond 1 sigma, either side",
}
#: Named sets of rules.
RULE_SETS: dict[str, tuple[str, ...]] = {
    "none": ("WE1",),
    "western_electric": ("WE1", "WE2", "WE3", "WE4"),
    "nelson": ("N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8"),
}


def _k_of_n(k: int, n: int) -> tuple[bool, ...]:
    """Per bit-pair mask of n points (bit 2i: above, bit 2i+1: below): k of them on one side?"""
    out = []
    for m in range(4**n):
        above = sum((m >> (2 * i)) & 1 for i in range(n))
        below = sum((m >> (2 * i + 1)) & 1 for i in range(n))
        out.append(above >= k or below >= k)
    return tuple(out)


_TWO_OF_THREE = _k_of_n(2, 3)
_FOUR_OF_FIVE = _k_of_n(4, 5)

#: The fast path's states, per set of rules. A state packs every run and mask of the general
#: code (_pack) and is interned as a small id (its position in the list); each state has a row,
#: a list of 27 transitions indexed by ``3 * zone + step + 1`` (zone of z 0-8, lowest first;
#: step the sign of z minus the previous z, for the trend and alternation rules N3, N4, and 0
#: when they are off), each None until first needed, then (next state's row, rule fired); the
#: state's id at index 27; 28-30 None, never filled (Shewhart._fast_constants). Rows are shared
#: by the charts of the same rules and filled on demand by the general code
#: (Shewhart._transition): id -> packed state, packed state -> id, id -> row. A list lookup
#: by a small index is cheaper than a dict lookup by a packed key. Pickles hold packed states
#: (ids are per process).
_STATES: dict[tuple[str, ...], tuple[list[int], dict[int, int], list[list[Any]]]] = {}
_SCRATCH: dict[tuple[str, ...], Shewhart] = {}
_FILLED: dict[tuple[str, ...], int] = {}  # transitions filled per set of rules
_TABLE_CAP = 400_000  # transitions per set of rules; beyond, the general code steps the chart


def _intern(rules: tuple[str, ...], packed: int) -> list[Any]:
    """The row of a packed state (a new one, all transitions unknown, for a new state)."""
    ids, index, rows = _STATES.setdefault(rules, ([], {}, []))
    i = index.get(packed)
    if i is None:
        i = index[packed] = len(ids)
        ids.append(packed)
        rows.append([None] * 27 + [i, None, None, None])
    return rows[i]


def _pack(c: Shewhart) -> int:
    """The runs and masks of the general code as one integer (39 bits)."""
    st = ((c._r_side + 16) << 6) | c._m2
    st = (st << 10) | c._m1
    st = (st << 4) | (c._r_trend + 8)
    st = (st << 4) | c._r_alt
    st = (st << 2) | (c._last_dir + 1)
    st = (st << 5) | c._r_in1
    return (st << 4) | c._r_out1


def _unpack(c: Shewhart, st: int) -> None:
    st, c._r_out1 = divmod(st, 16)
    st, c._r_in1 = divmod(st, 32)
    st, d = divmod(st, 4)
    c._last_dir = d - 1
    st, c._r_alt = divmod(st, 16)
    st, t = divmod(st, 16)
    c._r_trend = t - 8
    st, c._m1 = divmod(st, 1024)
    st, c._m2 = divmod(st, 64)
    c._r_side = st - 16


def _check_rules(rules: str | tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(rules, str):
        if rules not in RULE_SETS:
            raise ValueError(f"rules: expected one of {sorted(RULE_SETS)} or a tuple of rule names")
        return RULE_SETS[rules]
    chosen = tuple(rules)
    bad = [r for r in chosen if r not in RULES]
    if bad or not chosen:
        raise ValueError(f"rules: unknown rule(s) {bad}; expected names among {sorted(RULES)}")
    return chosen


class Shewhart(Chart, Model):
    """Individuals chart with run rules (see the module docstring).

    Parameters: ``mu0``, ``sigma`` (the quantity's units), ``L`` (one-point limit in sigma),
    ``rules`` a set name (``"none"``, ``"western_electric"``, ``"nelson"``) or a tuple of rule
    names, ``quantity`` the name read from an Estimate.
    """

    name = "shewhart"
    version = "1"

    def __init__(
        self,
        mu0: float = 0.0,
        sigma: float = 1.0,
        L: float = 3.0,
        rules: str | tuple[str, ...] = "western_electric",
        quantity: str | None = None,
    ):
        self.mu0 = mu0
        self.sigma = sigma
        self.L = L
        self.rules = rules
        self.quantity = quantity
        self._mu = check_finite("mu0", mu0)
        self._sigma = check_positive("sigma", sigma)
        self._inv_sigma = 1.0 / self._sigma
        self._L = check_positive("L", L)
        active = set(_check_rules(rules))
        self._active = tuple(r for r in RULES if r in active)
        # run lengths that fire, per rule kind (0 = rule off)
        self._side_run = 8 if "WE4" in active else 9 if "N2" in active else 0
        self._two3 = "WE2" in active or "N5" in active
        self._four5 = "WE3" in active or "N6" in active
        self._one = "WE1" in active or "N1" in active
        self._trend = "N3" in active
        self._alt = "N4" in active
        self._within = "N7" in active
        self._beyond = "N8" in active
        # which name each shared rule kind fires under (the Western Electric one if chosen)
        self._name1 = "WE1" if "WE1" in active else "N1"
        self._name_side = "WE4" if "WE4" in active else "N2"
        self._name23 = "WE2" if "WE2" in active else "N5"
        self._name45 = "WE3" if "WE3" in active else "N6"
        # L > 2: the runs and masks are one state, stepped through transition rows shared by
        # the charts of the same rules, filled on demand by the general code (_transition),
        # so both paths give the same rules.
        self._fast = self._L > 2.0
        self._n = 0
        self._n_invalid = 0
        self._reason = ""
        self._z = math.nan  # also the previous point of the trend and alternation rules
        self._rule = ""
        self._restart()
        self._start = self._row = _intern(self._active, _pack(self))
        self._fast_constants()

    def _fast_constants(self) -> None:
        # the rows need the direction of each step for N3 and N4; with N7, a value of exactly
        # +-1 sigma (neither within nor beyond) has no zone: index 29, never filled, takes it
        # to the general code
        self._steps = self._trend or self._alt
        self._i_plus1 = 29 if self._within else 16
        self._i_minus1 = 29 if self._within else 10

    def _restart(self) -> None:
        self._drift = False
        self._prev = math.nan
        self._r_side = 0  # signed: + above, - below the centre line
        self._r_trend = 0  # signed: consecutive increases (+) or decreases (-)
        self._r_alt = 0  # consecutive alternating changes
        self._last_dir = 0
        self._r_in1 = 0
        self._r_out1 = 0
        self._m2 = 0  # last 3 points beyond 2 sigma: bit pairs (above, below)
        self._m1 = 0  # last 5 points beyond 1 sigma: bit pairs (above, below)

    def update(self, x: Any) -> None:
        if x.__class__ is not float:
            x = as_float(x, self.quantity)
        z = (x - self._mu) * self._inv_sigma
        if z - z != 0.0:
            self._n_invalid += 1
            if self._drift:  # the update after a signal starts afresh, an invalid one too
                self._restart()
                self._row = self._start
                self._z = _NAN  # no point of the new regime yet (as at the start)
            return
        self._n += 1
        if self._fast:  # one list lookup per point
            if self._drift:  # the update after a signal starts afresh
                row = self._start
                prev = _NAN
                self._drift = False
            else:
                row = self._row
                prev = self._z
            self._z = z
            # 3 * zone + 1, zones (-inf, -L), [-L, -2), [-2, -1), [-1, 0), 0, (0, 1], (1, 2],
            # (2, L], (L, inf); then plus the step (-1, 0, 1)
            if z > 1.0:
                i = 19 if z <= 2.0 else 22 if z <= self._L else 25
            elif z < -1.0:
                i = 7 if z >= -2.0 else 4 if z >= -self._L else 1
            elif z > 0.0:
                i = 16 if z < 1.0 else self._i_plus1
            elif z < 0.0:
                i = 10 if z > -1.0 else self._i_minus1
            else:
                i = 13
            if self._steps:  # Nelson's trend and alternation rules (no step after a NaN prev)
                if z > prev:
                    i += 1
                elif z < prev:
                    i -= 1
            step = row[i]
            if step is None:
                step = self._transition(row, i, z, prev)
            self._row, rule = step
            if rule:
                self._signal(rule, x, z)
            return
        self._z = z
        if self._drift:
            self._restart()
        rule = self._rules(z)
        if rule:
            self._signal(rule, x, z)
        else:
            self._drift = False

    def _signal(self, rule: str, x: float, z: float) -> None:
        self._drift = True
        self._rule = rule
        self._reason = (
            f"shewhart: {rule} ({RULES[rule].format(L=self._L)}): x = {x:.4g}, z = {z:.2f}"
            f" (mu0 = {self.mu0:g}, sigma = {self.sigma:g})"
        )

    def _transition(self, row: list[Any], i: int, z: float, prev: float) -> tuple[list[Any], str]:
        """Next row and rule from ``row`` at index ``i`` (3 * zone + step + 1), by the general
        code; kept in the row, except from indices 28-30 (exactly +-1 sigma with N7: stepped
        with the actual z and previous z, never kept)."""
        active = self._active
        scratch = _SCRATCH.get(active)
        if scratch is None:
            scratch = _SCRATCH[active] = Shewhart(rules=active, L=self._L)
            scratch._fast = False
        _unpack(scratch, _STATES[active][0][row[27]])
        lim = self._L
        scratch._L = lim
        if i >= 28:
            scratch._prev = prev
            rule = scratch._rules(z)
            return _intern(active, _pack(scratch)), rule
        zone, step = divmod(i, 3)
        zs = (
            -lim - 1.0,
            -0.5 * (lim + 2.0),
            -1.5,
            -0.5,
            0.0,
            0.5,
            1.5,
            0.5 * (lim + 2.0),
            lim + 1.0,
        )
        # a previous z giving the step's direction (none, or no previous point: equal)
        scratch._prev = zs[zone] - (step - 1)
        rule = scratch._rules(zs[zone])
        out = (_intern(active, _pack(scratch)), rule)
        filled = _FILLED.get(active, 0)
        if filled < _TABLE_CAP:
            row[i] = out
            _FILLED[active] = filled + 1
        return out

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        ids = _STATES[self._active][0]
        # rows are shared and rebuilt on demand; states pickled packed (ids are per process)
        state["_st"] = ids[state.pop("_row")[27]]
        state["_start"] = ids[self._start[27]]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        st = state.pop("_st")
        state.pop("_zprev", None)  # older pickles: the same as _z
        self.__dict__.update(state)
        self._row = _intern(self._active, st)
        self._start = _intern(self._active, state["_start"])
        self._fast_constants()

    def _rules(self, z: float) -> str:
        """The general code of every rule: update the runs with ``z``, return the rule fired."""
        rule = ""
        if self._one and (z > self._L or z < -self._L):
            rule = self._name1
        run = self._side_run
        if run:
            r = self._r_side
            if z > 0.0:
                r = r + 1 if r > 0 else 1
            elif z < 0.0:
                r = r - 1 if r < 0 else -1
            else:
                r = 0
            self._r_side = r
            if (r >= run or -r >= run) and not rule:
                rule = self._name_side
        if self._two3:
            self._m2 = m = ((self._m2 << 2) | (z > 2.0) | ((z < -2.0) << 1)) & 63
            if _TWO_OF_THREE[m] and not rule:
                rule = self._name23
        if self._four5:
            self._m1 = m = ((self._m1 << 2) | (z > 1.0) | ((z < -1.0) << 1)) & 1023
            if _FOUR_OF_FIVE[m] and not rule:
                rule = self._name45
        if self._trend or self._alt:
            prev = self._prev
            step = 0 if prev != prev else (1 if z > prev else -1 if z < prev else 0)
            if self._trend:
                r = self._r_trend
                r = (r + 1 if r > 0 else 1) if step > 0 else (r - 1 if r < 0 else -1) if step else 0
                self._r_trend = r
                if not rule and (r >= 5 or r <= -5):
                    rule = "N3"
            if self._alt:
                last = self._last_dir
                self._r_alt = (self._r_alt + 1 if step == -last else 1) if step else 0
                self._last_dir = step
                if not rule and self._r_alt >= 13:
                    rule = "N4"
            self._prev = z
        if self._within:
            self._r_in1 = self._r_in1 + 1 if -1.0 < z < 1.0 else 0
            if not rule and self._r_in1 >= 15:
                rule = "N7"
        if self._beyond:
            self._r_out1 = self._r_out1 + 1 if (z > 1.0 or z < -1.0) else 0
            if not rule and self._r_out1 >= 8:
                rule = "N8"
        return rule

    @property
    def statistic(self) -> float:
        """The last observation, standardised: ``(x - mu0) / sigma``."""
        return self._z

    @property
    def limits(self) -> tuple[float, float]:
        """The one-point limits, in sigma units."""
        return (-self._L, self._L)

    @property
    def rule(self) -> str:
        """The rule that fired on the last update ("" when none did)."""
        return self._rule if self._drift else ""

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        return {"mu0": 0.5, "sigma": 0.01, "rules": "nelson"}


class Sprt(Chart, Model):
    """Wald's SPRT for a stated shift, restarted after each decision (module docstring).

    Parameters: ``mu0``, ``sigma`` (the quantity's units), ``shift_sigma`` the shift to detect
    in sigma units (its sign gives the direction), ``alpha`` the false-alarm and ``beta`` the
    missed-shift probability of one test, ``quantity`` the name read from an Estimate.
    ``n_accepted`` counts the tests that accepted ``mu0`` (each restarts the test at 0).
    """

    name = "sprt"
    version = "1"

    def __init__(
        self,
        mu0: float = 0.0,
        sigma: float = 1.0,
        shift_sigma: float = 1.0,
        alpha: float = 0.001,
        beta: float = 0.01,
        quantity: str | None = None,
    ):
        self.mu0 = mu0
        self.sigma = sigma
        self.shift_sigma = shift_sigma
        self.alpha = alpha
        self.beta = beta
        self.quantity = quantity
        self._mu = check_finite("mu0", mu0)
        self._inv_sigma = 1.0 / check_positive("sigma", sigma)
        d = float(shift_sigma)
        if not math.isfinite(d) or d == 0.0:
            raise ValueError(f"shift_sigma: expected a finite non-zero number, got {shift_sigma!r}")
        self._d = d
        check_probability("alpha", alpha)
        check_probability("beta", beta)
        self._a = math.log((1.0 - beta) / alpha)
        self._b = math.log(beta / (1.0 - alpha))
        self._llr = 0.0
        self._accepted = 0
        self._drift = False
        self._reason = ""
        self._n = 0
        self._n_invalid = 0

    def update(self, x: Any) -> None:
        if x.__class__ is not float:
            x = as_float(x, self.quantity)
        z = (x - self._mu) * self._inv_sigma
        if z - z != 0.0:
            self._n_invalid += 1
            if self._drift:  # the update after a signal starts afresh, an invalid one too
                self._llr = 0.0
                self._drift = False
            return
        self._n += 1
        if self._drift:
            self._llr = 0.0
            self._drift = False
        d = self._d
        llr = self._llr + d * (z - 0.5 * d)
        if llr >= self._a:
            self._drift = True
            self._reason = (
                f"sprt: log likelihood ratio {llr:.2f} >= A = {self._a:.2f}: shift of"
                f" {d:+g} sigma accepted (alpha = {self.alpha:g}, beta = {self.beta:g},"
                f" mu0 = {self.mu0:g}, sigma = {self.sigma:g})"
            )
        elif llr <= self._b:
            self._accepted += 1
            llr = 0.0
        self._llr = llr

    @property
    def statistic(self) -> float:
        """The log likelihood ratio of the running test."""
        return self._llr

    @property
    def limits(self) -> tuple[float, float]:
        """(B, A): accept ``mu0`` at or below B, the shift at or above A."""
        return (self._b, self._a)

    @property
    def n_accepted(self) -> int:
        """Tests that ended accepting ``mu0``."""
        return self._accepted

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        return {"mu0": 0.5, "sigma": 0.01, "shift_sigma": -1.5}
