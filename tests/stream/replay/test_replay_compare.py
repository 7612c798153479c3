"""``synthwatch compare``: the similarity score's properties, the tables and the HTML."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthwatch.collectors.sim.gold import GoldCitrateSimulator
from synthwatch.stream.cli.main import main
from synthwatch.stream.replay.compare import Trajectory, distance, score_pair
from synthwatch.stream.replay.recorded import StoreSource, replay
from synthwatch.stream.runtime.pipeline import run_embedded
from synthwatch.stream.store.embedded import Store

AXIS = np.arange(400.0, 801.0, 4.0)


def _tr(t, v, name="d_mean"):
    return Trajectory(name, "nm", np.asarray(t, dtype=float), np.asarray(v, dtype=float))


# values at a measurement's resolution (6 decimals): a spread of 1e-306 cannot survive a shift
# by 1 in floating point, so scale-freedom is only asked of differences a float can hold
_curves = st.lists(
    st.floats(-1e3, 1e3, allow_nan=False).map(lambda x: round(x, 6)), min_size=3, max_size=40
)


@settings(max_examples=60)
@given(a=_curves, b=_curves, scale=st.floats(1e-3, 1e3), shift=st.floats(-1e3, 1e3))
def test_distance_is_a_symmetric_scale_free_distance(a, b, scale, shift):
    ta = _tr(np.linspace(0, 100, len(a)), a)
    tb = _tr(np.linspace(10, 120, len(b)), b)
    d = distance(ta, tb)
    assert d is not None and d >= 0
    assert distance(tb, ta) == pytest.approx(d, rel=1e-9, abs=1e-9)
    assert distance(ta, ta) == 0.0
    sa = _tr(ta.t_s, np.asarray(a) * scale + shift)
    sb = _tr(tb.t_s, np.asarray(b) * scale + shift)
    assert distance(sa, sb) == pytest.approx(d, rel=1e-6, abs=1e-6)


def test_disjoint_times_and_scores():
    a = _tr([0, 1, 2], [1, 2, 3])
    assert distance(a, _tr([5, 6], [1, 2])) is None
    t = np.linspace(0, 3600, 50)
    slow = {"d_mean": _tr(t, 15 * (1 - np.exp(-t / 900)))}
    fast = {"d_mean": _tr(t, 15 * (1 - np.exp(-t / 600)))}
    same = score_pair("a", slow, "b", slow)
    other = score_pair("a", slow, "c", fast)
    assert same.score == 1.0 and same.distances == {"d_mean": 0.0}
    assert 0 < other.score < 1
    assert score_pair("a", slow, "d", {}).score is None


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("compare") / "store.sqlite"
    with Store(path) as store:
        for seed in (0, 1):
            sim = GoldCitrateSimulator(
                seed=seed, duration_s=1800.0, interval_s=15.0, wavelengths_nm=AXIS
            )
            run_embedded(sim.messages(), [store])
        replay(StoreSource(store, "sim-au-citrate-s0"), store, tag="r")
    return path


def test_compare_runs_and_their_replay(store_path, tmp_path, capsys):
    html = tmp_path / "cmp.html"
    runs = ["sim-au-citrate-s0", "sim-au-citrate-s0:r", "sim-au-citrate-s1"]
    assert main(["--store", str(store_path), "compare", *runs, "--html", str(html)]) == 0
    out = capsys.readouterr().out
    scores = {
        (m.group(1), m.group(2)): float(m.group(3))
        for m in re.finditer(r"│ (\S+)\s+│ (\S+)\s+│.*│\s+([01]\.\d{3}) │", out)
    }
    assert scores[("sim-au-citrate-s0", "sim-au-citrate-s0:r")] == 1.0  # deterministic replay
    assert 0.5 < scores[("sim-au-citrate-s0", "sim-au-citrate-s1")] < 1.0
    for name in ("d_mean", "conversion", "peak"):
        assert f"{name}: " in out
    text = html.read_text()
    assert not re.search(r"<script[^>]*\bsrc=", text)
    assert text.count('class="plotly-graph-div"') == 3


def test_compare_mistakes_one_line(store_path, capsys):
    for args, words in [
        (["compare", "sim-au-citrate-s0"], "two or more runs"),
        (["compare", "sim-au-citrate-s0", "nope"], "no run 'nope'"),
        (["compare", "sim-au-citrate-s0", "sim-au-citrate-s0"], "named twice"),
    ]:
        assert main(["--store", str(store_path), *args]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and words in err, err
