"""The self-starting CUSUM's step: the compiled extension equals its interpreted source."""

from __future__ import annotations

import importlib.util
import math
import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from synthwatch.models.charts import cusum_kernel as kernel

FIELDS = ("m", "mean", "m2", "u", "t", "s_hi", "s_lo", "drift", "n_past")
SETTINGS = (
    {"k_hi": 0.5, "k_lo": 0.5, "h": 5.0, "hs_hi": 0.0, "hs_lo": 0.0},
    {"k_hi": 0.25, "k_lo": math.inf, "h": 3.0, "hs_hi": 1.5, "hs_lo": 0.0},  # upper, FIR
    {"k_hi": math.inf, "k_lo": 1.0, "h": 2.0, "hs_hi": 0.0, "hs_lo": 1.0},  # lower, FIR
)


def _interpreted():
    """The kernel's source run by the interpreter, under a name of its own."""
    source = Path(kernel.__file__).with_name("cusum_kernel.py")
    spec = importlib.util.spec_from_file_location("_kernel_interpreted", source)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # so that its objects pickle
    spec.loader.exec_module(module)
    assert not module.COMPILED
    return module


INTERPRETED = _interpreted()
needs_compiled = pytest.mark.skipif(
    not kernel.COMPILED, reason="the extension was not built here (no C compiler?)"
)


def _state(step) -> tuple:
    return tuple(getattr(step, f) for f in FIELDS)


def _same(a: tuple, b: tuple) -> bool:
    """Bit for bit, NaN equal to NaN."""
    return repr(a) == repr(b)


def _run(module, settings: dict, xs) -> list[tuple]:
    step = module.SelfStartingStep(**settings)
    out = []
    for x in xs:
        if x != x:  # an invalid observation, as SelfStartingCusum passes it on
            step.skip()
            out.append(("skip", *_state(step)))
            continue
        code = step.step(x)
        if code == module.EXACT:  # as SelfStartingCusum does; any transform will do here
            step.cusum(math.tanh(step.t))
        out.append((code, *_state(step)))
    return out


def test_ci_builds_the_extension():
    """The benchmarks' figures are the compiled step's; CI must not fall back silently."""
    if os.environ.get("CI") == "true":
        assert kernel.COMPILED, f"the extension was not built: {kernel.__file__}"


@needs_compiled
def test_the_declarations_were_applied():
    """Compiled with its .pxd the step's state is C doubles (no instance dict); compiled
    without it (the .pxd not found) it would be a Python class, hardly faster."""
    step = kernel.SelfStartingStep(**SETTINGS[0])
    assert not hasattr(step, "__dict__")
    assert type(vars(kernel.SelfStartingStep)["m"]).__name__ == "getset_descriptor"


@needs_compiled
@pytest.mark.parametrize("settings", SETTINGS)
def test_compiled_step_is_the_interpreted_one_bit_for_bit(settings):
    rng = np.random.default_rng(11)
    xs = np.r_[
        rng.standard_normal(20_000),
        rng.standard_t(3, 5_000) * 3.0 + 2.0,  # heavy tails: signals and large |t|
        np.full(10, 4.0),  # a constant stretch: m2 = 0
        rng.normal(1e6, 1e-9, 2_000),  # large mean, tiny spread: rounding at its limit
    ].tolist()
    for i in range(0, len(xs), 101):
        xs[i] = math.nan  # skipped: right after a signal now and then, a restart
    got = _run(kernel, settings, xs)
    want = _run(INTERPRETED, settings, xs)
    drift = 1 + FIELDS.index("drift")
    assert sum(r[drift] for r in want) > 10  # many regimes
    assert any(r[0] == "skip" and p[drift] for p, r in zip(want, want[1:]))  # a restart at one
    mismatches = [i for i, (a, b) in enumerate(zip(got, want)) if not _same(a, b)]
    assert not mismatches, f"first at observation {mismatches[0]}"


finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)


@needs_compiled
@given(
    xs=st.lists(st.one_of(finite, st.just(math.nan)), min_size=1, max_size=60),
    which=st.sampled_from(range(len(SETTINGS))),
)
def test_compiled_step_equals_interpreted_on_any_stream(xs, which):
    got = _run(kernel, SETTINGS[which], xs)
    want = _run(INTERPRETED, SETTINGS[which], xs)
    assert all(_same(a, b) for a, b in zip(got, want))


@pytest.mark.parametrize("module", [kernel, INTERPRETED], ids=["installed", "interpreted"])
def test_step_pickles_and_resumes_identically(module):
    xs = np.random.default_rng(3).normal(5.0, 2.0, 600).tolist()
    a = module.SelfStartingStep(**SETTINGS[1])
    for x in xs[:300]:
        a.step(x)
    b = pickle.loads(pickle.dumps(a))
    assert _same(_state(a), _state(b))
    for x in xs[300:]:
        assert a.step(x) == b.step(x)
        assert _same(_state(a), _state(b))
