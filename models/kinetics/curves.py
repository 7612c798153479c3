"""Conversion curves of nanoparticle formation, registered by name: Finke-Watzky, JMAK, first order.

Each mechanism maps the time since onset ``tau_s`` (s, >= 0) and its log-parameters ``theta``
to the conversion ``f`` (0 at onset, 1 at the end), and back: :meth:`Mechanism.time_to` gives
the time at which a conversion is reached (closed forms). Parameters are fitted as logarithms,
so they stay positive and their uncertainties are relative.

* ``finke_watzky`` — slow continuous nucleation A -> B (k1) and autocatalytic surface growth
  A + B -> 2B (k2): Watzky & Finke, J. Am. Chem. Soc. 119 (1997) 10382, eq 5 in terms of
  conversion, with ``k2_per_s`` the pseudo-first-order constant k2 [A]0:
  ``f = 1 - (k1 + k2) / (k2 + k1 exp((k1 + k2) tau))``.
* ``jmak`` — Johnson-Mehl-Avrami-Kolmogorov (Avrami, J. Chem. Phys. 7 (1939) 1103; 8 (1940)
  212): ``f = 1 - exp(-(k tau)^n)``.
* ``first_order`` — ``f = 1 - exp(-k tau)``.

New mechanisms join with the :func:`mechanism` decorator (the registry pattern of impedance.py's
circuit elements).

>>> fw = MECHANISMS["finke_watzky"]
>>> theta = np.log([2e-4, 5e-3])                      # k1_per_s, k2_per_s
>>> round(float(fw.conversion(np.array([0.0]), theta)[0]), 6)
0.0
>>> t90 = fw.time_to(0.9, theta)
>>> round(t90), round(float(fw.conversion(np.array([t90]), theta)[0]), 6)
(1050, 0.9)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

__all__ = ["Mechanism", "MECHANISMS", "mechanism"]


@dataclass(frozen=True)
class Mechanism:
    """A conversion curve: names and units of its parameters, the curve and its inverse."""

    name: str
    param_names: tuple[str, ...]  # with units, e.g. ("k1_per_s", "k2_per_s")
    theta0: tuple[float, ...]  # a start (log-parameters) for a curve of ~1 h
    conversion_fn: Callable[[np.ndarray, np.ndarray], np.ndarray]
    time_fn: Callable[[float, np.ndarray], float]

    def conversion(self, tau_s: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """Conversion at ``tau_s`` (s since onset; negative times give 0)."""
        return self.conversion_fn(np.maximum(np.asarray(tau_s, dtype=float), 0.0), theta)

    def time_to(self, conversion: float, theta: np.ndarray) -> float:
        """Time since onset (s) at which ``conversion`` (0 < c < 1) is reached."""
        if not 0.0 < conversion < 1.0:
            raise ValueError(f"conversion: expected 0 < c < 1, got {conversion}")
        return float(self.time_fn(conversion, theta))

    @property
    def n_params(self) -> int:
        return len(self.param_names)


MECHANISMS: dict[str, Mechanism] = {}


def mechanism(name: str, param_names: tuple[str, ...], theta0: tuple[float, ...]):
    """Register the decorated conversion function (with ``time_fn`` attached) under ``name``."""

    def register(fn):
        MECHANISMS[name] = Mechanism(name, param_names, theta0, fn, fn.time_fn)
        return fn

    return register


def _fw_time(c: float, theta: np.ndarray) -> float:
    k1, k2 = math.exp(theta[0]), math.exp(theta[1])
    e = ((k1 + k2) / (1.0 - c) - k2) / k1
    return math.log(e) / (k1 + k2)


def _fw(tau_s: np.ndarray, theta: np.ndarray) -> np.ndarray:
    k1, k2 = math.exp(theta[0]), math.exp(theta[1])
    # [A]/[A]0 = (r + 1) / (1 + r exp((k1 + k2) tau)) with r = k1 / k2, overflow-free
    r = k1 / k2
    return 1.0 - (r + 1.0) * expit(-((k1 + k2) * tau_s + math.log(r)))


_fw.time_fn = _fw_time
mechanism("finke_watzky", ("k1_per_s", "k2_per_s"), (math.log(2e-4), math.log(5e-3)))(_fw)


def _jmak_time(c: float, theta: np.ndarray) -> float:
    k, n = math.exp(theta[0]), math.exp(theta[1])
    return (-math.log(1.0 - c)) ** (1.0 / n) / k


def _jmak(tau_s: np.ndarray, theta: np.ndarray) -> np.ndarray:
    k, n = math.exp(theta[0]), math.exp(theta[1])
    return -np.expm1(-((k * tau_s) ** n))


_jmak.time_fn = _jmak_time
mechanism("jmak", ("k_per_s", "avrami_n"), (math.log(1e-3), math.log(2.0)))(_jmak)


def _first_order_time(c: float, theta: np.ndarray) -> float:
    return -math.log(1.0 - c) / math.exp(theta[0])


def _first_order(tau_s: np.ndarray, theta: np.ndarray) -> np.ndarray:
    return -np.expm1(-math.exp(theta[0]) * tau_s)


_first_order.time_fn = _first_order_time
mechanism("first_order", ("k_per_s",), (math.log(1e-3),))(_first_order)
