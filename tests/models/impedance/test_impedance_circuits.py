"""Circuit strings, the element registry and the analytic Jacobians."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from synthwatch.models.impedance.circuits import ELEMENTS, Circuit, CircuitSyntaxError, element

W = 2 * np.pi * np.logspace(-1, 6, 40)


def test_names_carry_units():
    c = Circuit("R_s-CPE_dl-p(R_ct,CPE)")
    assert c.names == (
        "r_s_ohm",
        "cpe_dl_q_s_alpha",
        "cpe_dl_alpha",
        "r_ct_ohm",
        "cpe_q_s_alpha",
        "cpe_alpha",
    )
    assert c.log_scale.tolist() == [True, True, False, True, True, False]
    assert c.unit_scale.tolist() == [False, False, True, False, False, True]


def test_known_impedances():
    c = Circuit("R_s-p(R_ct,C)")
    z = c.impedance(np.array([10.0, 100.0, 1e-3]), W)
    np.testing.assert_allclose(z, 10.0 + 100.0 / (1 + 1j * W * 100.0 * 1e-3))
    w = Circuit("R-W")
    np.testing.assert_allclose(w.impedance(np.array([5.0, 2.0]), W), 5 + 2 * (1 - 1j) / np.sqrt(W))
    lc = Circuit("L-C")
    np.testing.assert_allclose(
        lc.impedance(np.array([1e-6, 1e-6]), W), 1j * W * 1e-6 + 1 / (1j * W * 1e-6)
    )


@pytest.mark.parametrize(
    "text, where",
    [
        ("R_s-", "offset 4"),
        ("p(R1)", "two or more branches"),
        ("R1-X2", "offset 3"),
        ("p(R1,R2", "offset 7"),
        ("R1-R1", "used twice"),
        ("R1)", "offset 2"),
    ],
)
def test_syntax_errors_name_the_offset(text, where):
    with pytest.raises(CircuitSyntaxError, match=where):
        Circuit(text)


def test_wrong_parameter_count():
    with pytest.raises(ValueError, match="expected 2 parameters"):
        Circuit("R1-R2").impedance(np.array([1.0]), W)


def test_register_twice_is_refused():
    with pytest.raises(ValueError, match="already registered"):
        element("R", ("ohm",), ("log",))(lambda p, w: (w, w))
    assert "R" in ELEMENTS


@given(
    st.lists(st.floats(0.5, 2.0), min_size=6, max_size=6),
    st.floats(0.5, 0.99),
    st.floats(0.5, 0.99),
)
def test_jacobian_matches_finite_differences(scales, a1, a2):
    c = Circuit("R_s-CPE_dl-p(R_ct,CPE,C)-p(R_w,W)")
    base = np.array([100.0, 1e-5, 0.0, 1e3, 1e-6, 0.0, 1e-9, 50.0, 30.0])
    p = base.copy()
    p[[0, 1, 3, 4, 6, 7]] *= scales
    p[2], p[5] = a1, a2
    _, jac = c.impedance_and_jacobian(p, W)
    for k in range(p.size):
        h = 1e-5 * abs(p[k])
        up, dn = p.copy(), p.copy()
        up[k] += h
        dn[k] -= h
        fd = (c.impedance(up, W) - c.impedance(dn, W)) / (2 * h)
        assert np.abs(jac[k] - fd).max() < 1e-5 * np.abs(fd).max(), c.names[k]


@pytest.mark.filterwarnings("ignore:Simulating circuit based on initial parameters")
@pytest.mark.parametrize(
    "text, params",
    [
        ("R0-p(R1,CPE1)", [10.0, 100.0, 1e-5, 0.8]),
        ("R0-p(R1,C1)-W1", [10.0, 100.0, 1e-6, 30.0]),
        ("L0-R0-p(R1-W1,CPE1)", [1e-6, 10.0, 100.0, 30.0, 1e-5, 0.85]),
    ],
)
def test_same_impedance_as_impedance_py(text, params):
    """The circuit strings and elements mean what they mean in impedance.py."""
    from impedance.models.circuits import CustomCircuit

    f = W / (2 * np.pi)
    theirs = CustomCircuit(text, initial_guess=params).predict(f, use_initial=True)
    ours = Circuit(text).impedance(np.array(params), W)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@given(st.floats(1e-8, 1e-4), st.floats(0.5, 2.0), st.floats(0.5, 0.99))
def test_inductor_jacobian_matches_finite_differences(l_h, scale, alpha):
    """The inductor (issue 18) in a series L-R with a parallel R-CPE, as a real cell's lead
    inductance gives it."""
    c = Circuit("L_s-R_s-p(R_ct,CPE)")
    p = np.array([l_h, 10.0 * scale, 100.0, 1e-5 * scale, alpha])
    _, jac = c.impedance_and_jacobian(p, W)
    for k in range(p.size):
        h = 1e-5 * abs(p[k])
        up, dn = p.copy(), p.copy()
        up[k] += h
        dn[k] -= h
        fd = (c.impedance(up, W) - c.impedance(dn, W)) / (2 * h)
        assert np.abs(jac[k] - fd).max() < 1e-5 * np.abs(fd).max(), c.names[k]
    assert c.names[0] == "l_s_h"
    np.testing.assert_allclose(jac[0], 1j * W)
