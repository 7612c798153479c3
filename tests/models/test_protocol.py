"""One shared check for every model: river's contract of clone, pickle and update."""

from __future__ import annotations

import importlib
import inspect
import math
import pickle
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from conftest import source_modules
from synthwatch.contract.messages import Descriptor, Estimate, Quantity, Reading
from synthwatch.models.base import Model


def all_models() -> list[type[Model]]:
    found = {}
    for name in source_modules():
        if name.startswith("synthwatch.models."):
            module = importlib.import_module(name)
            for _, obj in inspect.getmembers(module, inspect.isclass):
                if issubclass(obj, Model) and obj is not Model and obj.__module__ == name:
                    found[obj.__qualname__] = obj
    return [found[k] for k in sorted(found)]


def test_models_are_found():
    names = {m.__name__ for m in all_models()}
    assert {"UVVisFeatures", "FlaggedFrames"} <= names


def inputs_for(model: Model) -> list:
    """A short, seeded stream of the messages this model is fed."""
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    rng = np.random.default_rng(0)
    desc = getattr(model, "descriptor", None)
    kernel = getattr(model, "kernel", None)
    if isinstance(desc, Descriptor) and desc.kind == "scalar":
        return [
            Reading(run_id="r1", t=t0 + timedelta(seconds=k), sensor_id=desc.sensor_id, seq=k,
                    values=[20.0 + rng.normal(0, 0.1)])
            for k in range(5)
        ]  # fmt: skip
    if isinstance(desc, Descriptor) or kernel is not None:
        wl = np.asarray(desc.axis if isinstance(desc, Descriptor) else kernel.wavelengths_nm)
        sensor = desc.sensor_id if isinstance(desc, Descriptor) else model.sensor_id
        base = 0.6 / (1 + ((wl - 522.0) / 40.0) ** 2) + 0.45 * np.exp(-(wl - 400.0) / 100.0)
        return [
            Reading(
                run_id="r1",
                t=t0 + timedelta(seconds=2 * k),
                sensor_id=sensor,
                seq=k,
                values=list(base + rng.normal(0, 0.002, wl.size)),
            )
            for k in range(5)
        ]
    return [
        Estimate(
            run_id="r1",
            t=t0 + timedelta(seconds=k),
            sensor_id="uv1",
            model="uvvis_features",
            model_version="1",
            measurement="uvvis_features",
            quantities=[Quantity(name="a_400_au", value=0.5, units="AU")],
            flags=["dropout"] if k % 2 else [],
        )
        for k in range(6)
    ]


def observe(model: Model) -> tuple:
    """Everything a model lets you read, as comparable values."""
    out = []
    for name, _ in inspect.getmembers(type(model), lambda p: isinstance(p, property)):
        value = getattr(model, name)
        if isinstance(value, float) and math.isnan(value):
            value = "nan"
        out.append((name, repr(value)))
    return tuple(out)


@pytest.mark.parametrize("cls", all_models(), ids=lambda c: c.__name__)
def test_model_protocol(cls):
    params = cls._unit_test_params()
    model = cls(**params)
    assert model.name != Model.name and model.version != Model.version
    # constructor arguments are stored as given
    for key, value in params.items():
        assert getattr(model, key) is value
    fresh = observe(model)
    stream = inputs_for(model)
    for msg in stream:
        assert model.update(msg) is None
    # pickling keeps the learned state
    copy = pickle.loads(pickle.dumps(model))
    assert observe(copy) == observe(model)
    # clone forgets it, keeps the arguments
    clone = model.clone()
    assert observe(clone) == fresh
    assert repr(clone) == repr(model)
    # the same input gives the same output (no hidden clocks or randomness)
    for msg in stream:
        clone.update(msg)
    assert observe(clone) == observe(model)
