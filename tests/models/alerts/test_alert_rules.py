"""Rule files: valid ones parse, bad ones are refused with the line and what was expected."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthwatch.models.alerts.catalogue import is_known, known_names
from synthwatch.models.alerts.rules import KINDS, Rule, parse_rules, rule_from_dict

GOOD = """
# size limits of the 15 nm recipe
[[rule]]
name = "size_high"
kind = "threshold"
quantity = "psd.d_mean_nm"
above = 20.0
for_s = 60

[[rule]]
name = "bubbles"
kind = "flag"
quantity = "impedance_fit.*"
flags = ["kk_invalid"]
count = 3
window_s = 1800
severity = "critical"
"""


def parse(text):
    return parse_rules(text, "rules.toml", is_known, known_names())


def test_a_good_file_parses():
    rules = parse(GOOD)
    assert [r.name for r in rules] == ["size_high", "bubbles"]
    assert rules[1].flags == ("kk_invalid",) and rules[1].severity == "critical"


@pytest.mark.parametrize(
    "change, line, expected",
    [
        (("above = 20.0", 'above = "big"'), 7, "above: expected a number, got 'big'"),
        (
            ('quantity = "psd.d_mean_nm"', 'quantity = "psd.d_men_nm"'),
            6,
            "did you mean 'psd.d_mean_nm'",
        ),
        (('severity = "critical"', 'severity = "urgent"'), 17, "severity: expected one of"),
        (("for_s = 60", "for_sec = 60"), 8, "unknown key (did you mean 'for_s'?)"),
        (('name = "bubbles"', 'name = "size_high"'), 11, "name already used by the rule at line 4"),
        (('kind = "flag"', 'kind = "sparkle"'), 12, "kind: expected one of"),
        (("above = 20.0", "below = 20.0\nabove = 10.0"), 7, "expected below < above"),
    ],
)
def test_bad_files_name_the_line(change, line, expected):
    text = GOOD.replace(*change, 1)
    with pytest.raises(ValueError) as info:
        parse(text)
    msg = str(info.value)
    assert msg.startswith(f"rules.toml:{line}: rule ")
    assert expected in msg


def test_not_toml_and_stray_tables_are_refused():
    with pytest.raises(ValueError, match="rules.toml: not valid TOML"):
        parse("[[rule]\nname=")
    with pytest.raises(ValueError, match="unexpected top-level key 'rules'"):
        parse("[[rules]]\nname = 'x'\n")


values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.lists(st.text(max_size=4), max_size=2),
)
keys = st.sampled_from(
    [
        "name",
        "kind",
        "quantity",
        "above",
        "below",
        "for_s",
        "flags",
        "count",
        "severity",
        "limit",
        "max_gap_s",
        "z",
        "detector",
        "bogus",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(keys, values, max_size=8), st.sampled_from(KINDS))
def test_any_table_gives_a_rule_or_a_value_error(d, kind):
    d = {"kind": kind, "name": "r", **d}
    try:
        rule = rule_from_dict(d, is_known, known_names())
    except ValueError as e:
        assert ":" in str(e)  # "<key>: <what was expected>"
    else:
        assert isinstance(rule, Rule) and rule.kind in KINDS
