"""What every model has in common, after river's estimators.

A model is fed one message at a time with :meth:`Model.update` (which returns None) and read
through properties (``estimate``, ``alerts``). Constructor arguments are stored as given, under
their own names; derived state lives in ``_private`` attributes. :meth:`Model.clone` returns a
fresh model with the same arguments, and every model pickles (its state is plain data), so a
worker can checkpoint it and a replay can start from a clean copy.

>>> class Counter(Model):
...     name = "counter"
...     version = "1"
...     def __init__(self, step: int = 1):
...         self.step = step
...         self._n = 0
...     def update(self, message) -> None:
...         self._n += self.step
...     @property
...     def n(self) -> int:
...         return self._n
>>> c = Counter(step=2)
>>> c.update(None)
>>> c.n, c.clone().n, c.clone().step
(2, 0, 2)
"""

from __future__ import annotations

import copy
import inspect
import math
from collections.abc import Iterable
from typing import Any, ClassVar

from synthwatch.contract.messages import Estimate, Reading


class Model:
    """Base of all models: ``update(message) -> None``, state through properties."""

    #: Name under which estimates are published (``Estimate.model``).
    name: ClassVar[str] = "model"
    #: Version of the model's method; bump when its results change.
    version: ClassVar[str] = "0"

    def update(self, message: Any) -> None:  # pragma: no cover - interface
        """Feed one message. Returns None; read results through properties."""
        raise NotImplementedError

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        """Constructor arguments for the shared model checks (tests/models/test_protocol.py)."""
        return {}

    def _get_params(self) -> dict[str, Any]:
        """The constructor arguments, read back from the attributes of the same names."""
        params = {}
        for pname, param in inspect.signature(type(self).__init__).parameters.items():
            if pname == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            params[pname] = getattr(self, pname)
        return params

    def clone(self) -> Model:
        """A new model with the same constructor arguments and none of the learned state."""
        return type(self)(**copy.deepcopy(self._get_params()))

    def __getstate__(self) -> dict[str, Any]:
        """Pickled state; a cached ``_estimate`` is dropped (rebuilt on demand)."""
        state = self.__dict__.copy()
        if "_estimate" in state:
            state["_estimate"] = None
        return state

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._get_params().items())
        return f"{type(self).__name__}({args})"


def finite_or_none(x: float | None) -> float | None:
    """``float(x)``, or None for None, NaN and ±inf (a quantity that could not be estimated)."""
    return None if x is None or not math.isfinite(x) else float(x)


def build_estimate(
    reading: Reading,
    model: Model,
    measurement: str,
    quantities: Iterable[tuple[str, float | None, str, float | None]],
    flags: Iterable[str],
    distribution: dict[str, Any] | None = None,
) -> Estimate:
    """The :class:`Estimate` of ``model`` for ``reading``, validated in one call.

    ``quantities`` are (name, value, units, uncertainty), or (name, value, units, uncertainty,
    extras) with ``extras`` a mapping of the Quantity's other optional fields
    (``uncertainty_noise``, ``uncertainty_model``, ``lower``, ``upper``); non-finite numbers
    become None.
    """
    msg: dict[str, Any] = {
        "run_id": reading.run_id,
        "t": reading.t,
        "sensor_id": reading.sensor_id,
        "seq": reading.seq,
        "model": model.name,
        "model_version": model.version,
        "measurement": measurement,
        "flags": list(flags),
        "quantities": [quantity_fields(*q) for q in quantities],
    }
    if distribution is not None:
        msg["distribution"] = distribution
    return Estimate.model_validate(msg)


def quantity_fields(
    name: str,
    value: float | None,
    units: str,
    sd: float | None,
    extras: dict[str, float | None] | None = None,
) -> dict[str, Any]:
    """The fields of a :class:`~synthwatch.contract.messages.Quantity` from (name, value, units,
    sd[, extras]), non-finite numbers as None."""
    q = {"name": name, "value": finite_or_none(value), "units": units}
    q["uncertainty"] = finite_or_none(sd)
    if extras:
        for key, x in extras.items():
            q[key] = finite_or_none(x)
    return q


class Wrapper:
    """Mixin of the models that decide what their wrapped ``model`` is fed: they carry its name
    and version, and their ``estimate`` is the model's after an update that reached it
    (``self._fresh``), else None."""

    model: Model
    _fresh: bool = False

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.model.name

    @property
    def version(self) -> str:  # type: ignore[override]
        return self.model.version

    @property
    def estimate(self) -> Any:
        """The wrapped model's estimate after a message it saw, else None."""
        return getattr(self.model, "estimate", None) if self._fresh else None
