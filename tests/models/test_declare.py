"""Model declarations (models/declare.py): one table of models, one of [models] keys."""

from __future__ import annotations

import pytest

from conftest import source_modules
from synthwatch.models import declare
from synthwatch.models.base import Model


@pytest.fixture
def tables():
    """Declarations made in a test are taken back out."""
    models, settings = dict(declare.MODELS), dict(declare.SETTINGS)
    yield
    declare.MODELS.clear()
    declare.MODELS.update(models)
    declare.SETTINGS.clear()
    declare.SETTINGS.update(settings)


def test_a_key_is_declared_once(tables):
    first = declare.setting("t_every", 3, "Every n-th.", ge=0)
    assert declare.setting("t_every", 3, "Every n-th.", ge=0) == first  # a reload: the same
    with pytest.raises(ValueError, match="already declared"):
        declare.setting("t_every", 5, "Every n-th.", ge=0)


@pytest.mark.parametrize(
    "args, words",
    [
        (("T-Every", 1, "x"), "lower_snake_case"),
        (("t_name", "abc", "x"), "bool, int or float"),
        (("t_bounded", -1, "x"), "outside"),
    ],
)
def test_bad_settings_are_refused(tables, args, words):
    kwargs = {"ge": 0} if args[0] == "t_bounded" else {}
    with pytest.raises(ValueError, match=words):
        declare.setting(*args, **kwargs)


def test_a_model_name_is_registered_once(tables):
    def make():
        class Twin(Model):
            name, version = "t_twin", "1"

        return Twin

    declare.register(kinds=("run",), cost="cheap")(make())
    with pytest.raises(ValueError, match="already registered"):
        declare.register(kinds=("run",), cost="cheap")(type("Other", (make(),), {}))


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"kinds": ("spectrum",), "cost": "cheap"}, "kinds"),
        ({"kinds": (), "cost": "cheap"}, "kinds"),
        ({"kinds": ("uvvis",), "cost": "free"}, "cost"),
    ],
)
def test_bad_declarations_are_refused(kwargs, words):
    with pytest.raises(ValueError, match=words):
        declare.register(**kwargs)


def test_the_default_build_and_the_switch(tables):
    every = declare.setting("t_count_every", 0, "Count every n-th message; 0 = off.", ge=0)

    @declare.register(kinds=("run",), systems=("Au-citrate",), switch=every, cost="cheap")
    class Count(Model):
        name, version = "t_count", "2"

        def update(self, message) -> None:
            pass

    d = declare.MODELS["t_count"]
    assert isinstance(d.build(None), Count) and d.version == "2" and d.rules is None
    assert not d.enabled({}) and d.enabled({"t_count_every": 5})
    assert d.watches("run", "Au-citrate") and not d.watches("run", "Ag-citrate")
    assert declare.declared_in([Count.__module__]) == [d]


def test_every_declared_model_is_a_model_class_of_models():
    import importlib

    for name in source_modules():
        if name.startswith("synthwatch.models."):
            importlib.import_module(name)
    for d in declare.MODELS.values():
        assert issubclass(d.cls, Model) and d.cls.name == d.name, d
        assert d.module.startswith("synthwatch.models."), d
