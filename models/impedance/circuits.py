"""Equivalent circuits with analytic Jacobians: an element registry and a circuit-string parser.

Elements are registered with the :func:`element` decorator, as in impedance.py's
``circuit_elements`` (M. D. Murbach et al., J. Open Source Softw. 5 (2020) 2349), but each one
returns its impedance *and* its derivatives with respect to its parameters, so a fit gets an
exact Jacobian without finite differences. Circuits use impedance.py's string syntax: ``-`` for
elements in series, ``p(a,b)`` for elements in parallel; an element is its type followed by an
optional ``_label`` (``R_s``, ``CPE_dl``). Parameter names carry their units: ``R_ct`` has
``r_ct_ohm``; ``CPE`` has ``cpe_q_s_alpha`` and ``cpe_alpha``; ``CPE_dl`` has
``cpe_dl_q_s_alpha`` and ``cpe_dl_alpha``.

Elements (Z of angular frequency w, j the imaginary unit):

* ``R`` resistor, Z = R;
* ``C`` capacitor, Z = 1 / (j w C);
* ``L`` inductor, Z = j w L: the inductance of the leads and cables (and of the cell's own
  current path), which makes Z'' positive at the highest frequencies of a sweep of a
  low-impedance cell (M. E. Orazem and B. Tribollet, Electrochemical Impedance Spectroscopy,
  2nd ed., Wiley 2017, ch. 4 on electrical circuits and ch. 22 on instrumentation artefacts);
* ``CPE`` constant-phase element, Z = 1 / (Q (j w)^alpha) (J.-B. Jorcin et al., Electrochim.
  Acta 51 (2006) 1473);
* ``W`` semi-infinite Warburg, Z = sigma (1 - j) / sqrt(w) (A. J. Bard and L. R. Faulkner,
  Electrochemical Methods, 2nd ed., Wiley 2001, sec. 10.3).

>>> import numpy as np
>>> c = Circuit("R_s-p(R_ct,CPE)")
>>> c.names
('r_s_ohm', 'r_ct_ohm', 'cpe_q_s_alpha', 'cpe_alpha')
>>> w = 2 * np.pi * np.array([1e-3, 1e7])
>>> z, dz = c.impedance_and_jacobian(np.array([100.0, 1000.0, 1e-6, 0.9]), w)
>>> np.round(z.real).tolist(), dz.shape
([1100.0, 100.0], (4, 2))
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

from synthwatch.contract.errors import SynthwatchError

__all__ = ["ELEMENTS", "Element", "element", "Circuit", "CircuitSyntaxError"]

#: f(params (k,), w (m,)) -> (Z (m,) complex, dZ/dparams (k, m) complex)
ElementFn = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Element:
    """A registered circuit element: its parameters (name suffix with units) and its function."""

    kind: str
    params: tuple[str, ...]
    scales: tuple[str, ...]
    fn: ElementFn


#: element type ("R", "CPE", ...) -> :class:`Element`
ELEMENTS: dict[str, Element] = {}


def element(kind: str, params: tuple[str, ...], scales: tuple[str, ...]):
    """Register an element function under ``kind`` (decorator).

    ``params`` are the parameter names' suffixes with units (``"ohm"``, ``"q_s_alpha"``);
    ``scales`` how each is fitted: ``"log"`` (strictly positive) or ``"unit"`` (in (0, 1),
    fitted as its logit, e.g. a CPE exponent).
    """

    def register(fn: ElementFn) -> ElementFn:
        if kind in ELEMENTS:
            raise ValueError(f"element {kind!r} is already registered")
        if len(params) != len(scales) or not set(scales) <= {"log", "unit"}:
            raise ValueError(f"element {kind!r}: one scale ('log' or 'unit') per parameter")
        ELEMENTS[kind] = Element(kind, params, scales, fn)
        return fn

    return register


@element("R", ("ohm",), ("log",))
def _resistor(p: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = np.full(w.shape, p[0], dtype=complex)
    return z, np.ones((1, w.size), dtype=complex)


@element("C", ("f",), ("log",))
def _capacitor(p: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = 1.0 / (1j * w * p[0])
    return z, (-z / p[0])[None, :]


@element("L", ("h",), ("log",))
def _inductor(p: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    jw = 1j * w
    return jw * p[0], jw[None, :]


@element("CPE", ("q_s_alpha", "alpha"), ("log", "unit"))
def _cpe(p: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    q, alpha = p
    log_jw = np.log(w) + 0.5j * np.pi
    z = np.exp(-alpha * log_jw) / q
    return z, np.stack([-z / q, -z * log_jw])


@element("W", ("sigma_ohm_s_half",), ("log",))
def _warburg(p: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    unit = (1.0 - 1j) / np.sqrt(w)
    return p[0] * unit, unit[None, :]


class CircuitSyntaxError(SynthwatchError, ValueError):
    """A circuit string that cannot be parsed; the message gives the offset and what was
    expected."""


@dataclass(frozen=True)
class _Leaf:
    label: str
    elem: Element
    start: int  # index of its first parameter in the circuit's vector


@dataclass(frozen=True)
class _Node:
    op: str  # "s" series, "p" parallel
    children: tuple


class Circuit:
    """A circuit parsed from impedance.py's string syntax, with its impedance and Jacobian.

    ``names`` are the parameter names in vector order, ``log_scale`` / ``unit_scale`` masks of
    the ones fitted as logarithms / logits. Labels must be unique within the circuit.
    """

    def __init__(self, text: str):
        self.text = text
        self._pos = 0
        self._names: list[str] = []
        self._scales: list[str] = []
        self._labels: set[str] = set()
        tree = self._series()
        if self._pos != len(text):
            self._fail("'-', ',' or ')'")
        self._tree = tree
        self.names = tuple(self._names)
        self.log_scale = np.array([s == "log" for s in self._scales], dtype=bool)
        self.unit_scale = np.array([s == "unit" for s in self._scales], dtype=bool)

    # -- parsing ---------------------------------------------------------------------------
    def _fail(self, expected: str):
        got = repr(self.text[self._pos]) if self._pos < len(self.text) else "the end"
        raise CircuitSyntaxError(
            f"circuit {self.text!r}: offset {self._pos}: expected {expected}, got {got}"
        )

    def _series(self):
        parts = [self._term()]
        while self._pos < len(self.text) and self.text[self._pos] == "-":
            self._pos += 1
            parts.append(self._term())
        return parts[0] if len(parts) == 1 else _Node("s", tuple(parts))

    def _term(self):
        text = self.text
        if text.startswith("p(", self._pos):
            self._pos += 2
            parts = [self._series()]
            while self._pos < len(text) and text[self._pos] == ",":
                self._pos += 1
                parts.append(self._series())
            if self._pos >= len(text) or text[self._pos] != ")":
                self._fail("',' or ')'")
            self._pos += 1
            if len(parts) < 2:
                self._fail("two or more branches in p(...)")
            return _Node("p", tuple(parts))
        start = self._pos
        while self._pos < len(text) and (text[self._pos].isalnum() or text[self._pos] == "_"):
            self._pos += 1
        label = text[start : self._pos]
        kind = re.match(r"[A-Za-z]*", label).group(0)
        if kind not in ELEMENTS:
            self._pos = start
            self._fail(f"an element ({', '.join(ELEMENTS)}, optionally _label) or 'p('")
        if label in self._labels:
            self._pos = start
            self._fail(f"a new label ({label!r} is used twice)")
        self._labels.add(label)
        elem = ELEMENTS[kind]
        leaf = _Leaf(label, elem, len(self._names))
        self._names += [f"{label.lower()}_{suffix}" for suffix in elem.params]
        self._scales += list(elem.scales)
        return leaf

    # -- evaluation ------------------------------------------------------------------------
    def impedance(self, params: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Complex impedance at angular frequencies ``w`` (rad/s)."""
        return self.impedance_and_jacobian(params, w)[0]

    def impedance_and_jacobian(
        self, params: np.ndarray, w: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(Z (m,), dZ/dparams (k, m)), both complex, at angular frequencies ``w``."""
        params = np.asarray(params, dtype=float)
        if params.shape != (len(self.names),):
            raise ValueError(
                f"circuit {self.text!r}: expected {len(self.names)} parameters "
                f"{self.names}, got shape {params.shape}"
            )
        jac = np.zeros((params.size, w.size), dtype=complex)
        z = self._eval(self._tree, params, w, jac)
        return z, jac

    def _eval(self, node, params, w, jac) -> np.ndarray:
        if isinstance(node, _Leaf):
            k = len(node.elem.params)
            z, dz = node.elem.fn(params[node.start : node.start + k], w)
            jac[node.start : node.start + k] = dz
            return z
        if node.op == "s":
            return sum(self._eval(child, params, w, jac) for child in node.children)
        # parallel: Z = 1 / sum(1/Z_i), dZ/dp = (Z / Z_i)^2 dZ_i/dp for p in branch i
        branches = []
        for child in node.children:
            sub = np.zeros_like(jac)
            zc = self._eval(child, params, w, sub)
            branches.append((zc, sub))
        z = 1.0 / sum(1.0 / zc for zc, _ in branches)
        for zc, sub in branches:
            jac += sub * (z / zc) ** 2
        return z

    def __repr__(self) -> str:
        return f"Circuit({self.text!r})"
