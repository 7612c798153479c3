"""Alert rules: what to watch, when to fire, how to resolve; read from TOML with line numbers.

A rule file holds ``[[rule]]`` tables::

    [[rule]]
    name = "size_out_of_spec"        # unique; the alert's rule name
    kind = "threshold"               # threshold | envelope | t2 | drift | stale | flag, or a
                                     # control chart (models/alerts/chart_rules.py)
    quantity = "psd.d_mean_nm"       # "<measurement>.<quantity>"
    above = 20.0                     # fire above this ...
    below = 10.0                     # ... or below this
    for_s = 60                       # the condition must hold this long before firing
    clear_s = 60                     # and be clear this long before resolving
    hysteresis = 0.02                # resolve only 2 % inside the limit (threshold, envelope, t2)
    severity = "warning"             # info | warning | critical
    advice = "check the citrate to gold ratio"

Kinds and their own keys:

* ``threshold``: ``above`` and/or ``below`` on ``quantity``; with ``relative_to = "T_degC"``
  they are offsets from that recipe parameter of the run (a rule for every setpoint), and the
  rule sleeps in a run whose recipe lacks it.
* ``envelope``: ``z`` (default 3): |z| of ``quantity`` against the golden batch above it.
* ``t2``: ``limit``: the golden batch's combined statistic above it (``quantity`` not used).
* ``drift``: ``detector`` = ``page_hinkley`` (Page, Biometrika 41 (1954) 100) or ``adwin``
  (Bifet & Gavaldà, SDM 2007), with ``threshold`` / ``delta``; on ``quantity``, or on its
  golden-batch z-score with ``on = "z"``.
* ``stale``: ``max_gap_s``: nothing from ``quantity``'s measurement (``"uvvis_features.*"``)
  within that time.
* ``flag``: ``flags`` (list): ``count`` estimates of ``quantity``'s measurement carrying one of
  them within ``window_s`` (bubbles, saturation, an invalid sweep).
* control charts ``shewhart``, ``cusum``, ``ewma``, ``sprt``, ``t2`` (with ``quantities``),
  ``mewma`` and ``spe``, with their limits or a false-alarm budget: the keys are in
  :mod:`synthwatch.models.alerts.chart_rules`, which validates them; the rule's ``chart`` holds
  them.

:func:`parse_rules` refuses a bad file with the file, the line and what was expected, e.g.
``rules.toml:7: rule 'size': quantity 'psd.d_men_nm' is not one synthwatch estimates (did you
mean 'psd.d_mean_nm'?)``.

>>> rules = parse_rules('''
... [[rule]]
... name = "size"
... kind = "threshold"
... quantity = "psd.d_mean_nm"
... above = 20.0
... ''', "rules.toml")
>>> rules[0].kind, rules[0].above, rules[0].severity
('threshold', 20.0, 'warning')
>>> parse_rules('[[rule]]\\nname = "x"\\nkind = "threshold"\\nquantity = "psd.d_mean_nm"\\n'
...             'above = "big"\\n', "rules.toml")
Traceback (most recent call last):
...
ValueError: rules.toml:5: rule 'x': above: expected a number, got 'big'
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, fields

from synthwatch.models.alerts.chart_rules import (
    CHART_KINDS,
    ChartSpec,
    is_chart_rule,
    split_chart_keys,
)

__all__ = ["Rule", "KINDS", "parse_rules", "rule_from_dict"]

KINDS = ("threshold", "envelope", "t2", "drift", "stale", "flag")
KINDS += tuple(k for k in CHART_KINDS if k not in KINDS)
SEVERITIES = ("info", "warning", "critical")
DETECTORS = ("page_hinkley", "adwin")
_HEADER = re.compile(r"^\s*\[\[\s*rule\s*\]\]\s*(#.*)?$")


@dataclass(frozen=True)
class Rule:
    """One alert rule (see the module docstring for the keys)."""

    name: str
    kind: str
    quantity: str = ""
    above: float | None = None
    below: float | None = None
    z: float = 3.0
    limit: float | None = None
    detector: str = "page_hinkley"
    on: str = "value"
    threshold: float = 50.0
    delta: float = 0.005
    min_instances: int = 30
    max_gap_s: float | None = None
    flags: tuple[str, ...] = ()
    count: int = 1
    window_s: float = 0.0
    for_s: float = 0.0
    clear_s: float = 0.0
    hysteresis: float = 0.0
    severity: str = "warning"
    advice: str = ""
    relative_to: str = ""
    enabled: bool = True
    chart: ChartSpec | None = None  # control-chart rules (models/alerts/chart_rules.py)

    @property
    def measurement(self) -> str:
        return self.quantity.split(".", 1)[0] if self.quantity else ""

    @property
    def quantity_name(self) -> str:
        return self.quantity.split(".", 1)[1] if "." in self.quantity else ""


_NUMBERS = ("above", "below", "z", "limit", "threshold", "delta", "max_gap_s", "window_s")
_NUMBERS += ("for_s", "clear_s", "hysteresis")
_NON_NEGATIVE = ("for_s", "clear_s", "hysteresis", "window_s", "delta", "threshold")


def rule_from_dict(
    d: dict, known: Callable[[str], bool] | None = None, known_names: tuple[str, ...] = ()
) -> Rule:
    """Validate one rule table; ValueError ``"<key>: <what was expected>"`` otherwise."""

    def err(key: str, what: str) -> ValueError:
        return ValueError(f"{key}: {what}")

    chart = None
    if is_chart_rule(d):
        d, chart = split_chart_keys(d, known, known_names)
    allowed = {f.name for f in fields(Rule)} - {"chart"}
    for key in d:
        if key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise err(key, f"unknown key{hint}; expected some of {sorted(allowed)}")
    if not isinstance(d.get("name"), str) or not d["name"].strip():
        raise err("name", "expected a non-empty string")
    kind = d.get("kind")
    if kind not in KINDS:
        raise err("kind", f"expected one of {list(KINDS)}, got {kind!r}")
    out = dict(d)
    for key in _NUMBERS:
        if key in out:
            v = out[key]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise err(key, f"expected a number, got {v!r}")
            if key in _NON_NEGATIVE and v < 0:
                raise err(key, f"expected >= 0, got {v!r}")
            out[key] = float(v)
    for key in ("count", "min_instances"):
        if key in out and (
            not isinstance(out[key], int) or isinstance(out[key], bool) or out[key] < 1
        ):
            raise err(key, f"expected an integer >= 1, got {out[key]!r}")
    if out.get("severity", "warning") not in SEVERITIES:
        raise err("severity", f"expected one of {list(SEVERITIES)}, got {out['severity']!r}")
    if out.get("detector", "page_hinkley") not in DETECTORS:
        raise err("detector", f"expected one of {list(DETECTORS)}, got {out['detector']!r}")
    if out.get("on", "value") not in ("value", "z"):
        raise err("on", f"expected 'value' or 'z', got {out['on']!r}")
    if "flags" in out:
        if not isinstance(out["flags"], list) or not all(isinstance(f, str) for f in out["flags"]):
            raise err("flags", "expected a list of flag names")
        out["flags"] = tuple(out["flags"])
    for key in ("advice", "quantity", "relative_to"):
        if key in out and not isinstance(out[key], str):
            raise err(key, f"expected a string, got {out[key]!r}")
    quantity = out.get("quantity", "")
    if kind != "t2" and not (chart and chart.quantities):
        if not re.fullmatch(r"[a-z0-9_]+\.([A-Za-z0-9_]+|\*)", quantity or ""):
            raise err("quantity", f"expected '<measurement>.<quantity>', got {quantity!r}")
        if known is not None and not known(quantity):
            close = difflib.get_close_matches(quantity, known_names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise err("quantity", f"{quantity!r} is not one synthwatch estimates{hint}")
    if kind == "threshold" and out.get("above") is None and out.get("below") is None:
        raise err("above", "a threshold rule needs 'above' or 'below' (or both)")
    if kind == "threshold" and None not in (out.get("above"), out.get("below")):
        if out["below"] >= out["above"]:
            raise err("below", f"expected below < above, got {out['below']} >= {out['above']}")
    if kind == "t2" and chart is None and out.get("limit") is None:
        raise err("limit", "a t2 rule needs 'limit' (e.g. the chi-squared 99.9 % point)")
    if kind == "stale" and out.get("max_gap_s") is None:
        raise err("max_gap_s", "a stale rule needs 'max_gap_s'")
    if kind == "flag" and not out.get("flags"):
        raise err("flags", "a flag rule needs 'flags', e.g. ['saturated']")
    if kind == "envelope" and not out.get("z", 3.0) > 0:
        raise err("z", "expected > 0")
    return Rule(**out, chart=chart)


def parse_rules(
    text: str,
    source: str = "rules.toml",
    known: Callable[[str], bool] | None = None,
    known_names: tuple[str, ...] = (),
) -> list[Rule]:
    """The rules of a TOML text; ValueError ``"<source>:<line>: rule '<name>': ..."`` if bad."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{source}: not valid TOML: {e}") from None
    extra = sorted(set(doc) - {"rule"})
    if extra:
        raise ValueError(
            f"{source}: unexpected top-level key {extra[0]!r}; expected [[rule]] tables"
        )
    tables = doc.get("rule", [])
    if not isinstance(tables, list):
        raise ValueError(f"{source}: 'rule' must be [[rule]] tables")
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if _HEADER.match(line)]

    def line_of(index: int, key: str | None) -> int:
        if index >= len(starts):
            return 1
        lo = starts[index]
        hi = starts[index + 1] if index + 1 < len(starts) else len(lines)
        if key:
            pat = re.compile(rf"^\s*{re.escape(key)}\s*=")
            for i in range(lo, hi):
                if pat.match(lines[i]):
                    return i + 1
        return lo + 1

    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for k, table in enumerate(tables):
        name = table.get("name", f"#{k + 1}")
        try:
            rule = rule_from_dict(table, known, known_names)
        except ValueError as e:
            key = str(e).split(":", 1)[0]
            raise ValueError(f"{source}:{line_of(k, key)}: rule {name!r}: {e}") from None
        if rule.name in seen:
            raise ValueError(
                f"{source}:{line_of(k, 'name')}: rule {name!r}: name already used by the rule "
                f"at line {seen[rule.name]}"
            )
        seen[rule.name] = line_of(k, "name")
        rules.append(rule)
    return rules
