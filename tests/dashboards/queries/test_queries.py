"""Query text generation: quoting, both flavours, and the size-distribution formula."""

from __future__ import annotations

import math
import re

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from synthwatch.dashboards.queries import panel_queries as q
from synthwatch.dashboards.queries import text as query_text
from synthwatch.dashboards.queries.layout import Flavour


@given(st.text(max_size=40))
def test_flux_string_literals_round_trip(text):
    literal = query_text.flux_str(text)
    assert literal.startswith('"') and literal.endswith('"')
    inner = literal[1:-1]
    # every quote inside is escaped, and unescaping gives the text back
    assert re.search(r'(?<!\\)(\\\\)*"', inner) is None
    assert re.sub(r"\\(.)", r"\1", inner) == text


@given(st.text(min_size=1, max_size=40))
def test_influxql_identifiers_are_quoted(name):
    quoted = query_text.ident(name)
    assert quoted[0] == quoted[-1] == '"'
    assert re.sub(r"\\(.)", r"\1", quoted[1:-1]) == name


def test_series_reads_the_sd_for_a_band_in_both_flavours():
    t = q.series("psd", ("gsd",), band=True)
    assert t.fields == ("gsd", "gsd_sd")
    assert 'mean("gsd_sd")' in t.text(Flavour.INFLUXQL)
    assert 'r._field == "gsd_sd"' in t.text(Flavour.FLUX)
    assert '"gsd + sd": r.gsd + r.gsd_sd' in t.text(Flavour.FLUX)


def test_size_bins_are_geometric():
    bins = q.size_bins_nm()
    ratios = bins[1:] / bins[:-1]
    assert np.allclose(ratios, ratios[0])
    assert bins[0] == 3.0 and math.isclose(bins[-1], 120.0)


def test_heatmap_columns_integrate_to_one_in_ln_d():
    """The InfluxQL expression, evaluated in Python, is the lognormal density per ln d."""
    t = q.size_distribution()
    expr = t.influxql.split(" FROM ")[0].removeprefix("SELECT ")
    d_mean, gsd = 15.0, 1.12
    columns = re.findall(r"(exp\(.*?\)\)\)) / \(ln\(mean\(\"gsd\"\)\) \* ([\d.]+)\) AS", expr)
    assert len(columns) == len(q.size_bins_nm())
    env = {
        "exp": math.exp,
        "pow": pow,
        "ln": math.log,
        "mean": {"d_mean_nm": d_mean, "gsd": gsd}.get,
    }
    values = [eval(num, env) / (math.log(gsd) * float(c)) for num, c in columns]  # noqa: S307
    ln_step = math.log(q.size_bins_nm()[1] / q.size_bins_nm()[0])
    assert math.isclose(sum(values) * ln_step, 1.0, rel_tol=1e-3)
    median = d_mean * math.exp(-(math.log(gsd) ** 2) / 2)
    peak = q.size_bins_nm()[int(np.argmax(values))]
    assert abs(math.log(peak / median)) <= ln_step / 2 + 1e-9
