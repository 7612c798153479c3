"""docs/adding-a-model.md works as written: its module, registration line and test, run."""

from __future__ import annotations

import ast
import importlib
import pickle
import re
import sys

import pytest

from conftest import ROOT
from synthwatch.collectors.sim.gold import GoldCitrateSimulator
from synthwatch.contract.messages import Estimate, Reading
from synthwatch.models import declare
from synthwatch.stream.runtime.catalog import MODEL_MODULES, validate_settings
from synthwatch.stream.runtime.registry import ModelRegistry

DOC = ROOT / "docs" / "adding-a-model.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def catalogue_after(registration: str) -> tuple[tuple[str, ...], str]:
    """:data:`MODEL_MODULES` with the page's new line where the page puts it, and its name."""
    listed = [
        e.value
        for e in ast.parse(registration).body[0].value.elts
        if isinstance(e, ast.Constant) and isinstance(e.value, str)
    ]
    (new,) = [m for m in listed if m not in MODEL_MODULES]
    before = listed[listed.index(new) - 1]
    at = MODEL_MODULES.index(before) + 1
    assert MODEL_MODULES[at] == listed[listed.index(new) + 1], "the page shows the real order"
    return MODEL_MODULES[:at] + (new,) + MODEL_MODULES[at:], new


@pytest.fixture
def doc_model(tmp_path):
    """The page's module, importable under the name its registration line gives; the tables
    and the import path are put back afterwards."""
    module_code, registration, test_code = python_blocks()
    modules, name = catalogue_after(registration)
    package, _, leaf = name.rpartition(".")
    (tmp_path / f"{leaf}.py").write_text(module_code, encoding="utf-8")
    parent = importlib.import_module(package)
    models, settings = dict(declare.MODELS), dict(declare.SETTINGS)
    parent.__path__.append(str(tmp_path))
    try:
        yield modules, test_code
    finally:
        parent.__path__.remove(str(tmp_path))
        sys.modules.pop(name, None)
        declare.MODELS.clear()
        declare.MODELS.update(models)
        declare.SETTINGS.clear()
        declare.SETTINGS.update(settings)


def test_the_page_has_a_module_a_registration_line_and_a_test():
    module_code, registration, test_code = python_blocks()
    assert "@register(" in module_code and '"""' in module_code.split("\n", 1)[0]
    modules, name = catalogue_after(registration)
    assert len(modules) == len(MODEL_MODULES) + 1 and name.startswith("synthwatch.models.")
    assert "def test_" in test_code


def test_the_registry_picks_the_new_model_for_a_gold_run_and_it_estimates(doc_model):
    modules, _ = doc_model
    sim = GoldCitrateSimulator(seed=0, duration_s=20, interval_s=2.0)
    start, desc = sim.run_start(), sim.descriptor()
    models = ModelRegistry(modules=modules)(start, desc).estimators
    assert [m.name for m in models][-1] == "spectrum_area"
    (model,) = [m for m in models if m.name == "spectrum_area"]
    decl = declare.MODELS["spectrum_area"]
    assert (decl.kinds, decl.cost, decl.version) == (("uvvis",), "cheap", "1")
    readings = [m for m in sim.messages() if isinstance(m, Reading)]
    for r in readings:
        model.update(r)
    est = model.estimate
    assert isinstance(est, Estimate) and est.model == "spectrum_area" and est.flags == []
    assert est.seq == readings[-1].seq and est.get("area_au_nm").value > 0
    assert est.get("area_au_nm").units == "AU nm"
    # the shared protocol: a clone starts afresh, a pickled copy goes on identically
    assert model.clone().estimate is None
    copy = pickle.loads(pickle.dumps(model))
    copy.update(readings[0])
    model.update(readings[0])
    assert copy.estimate == model.estimate
    # its switch is a [models] key like any other; off, the registry leaves it out
    assert validate_settings({"spectrum_area": "false"}, modules)["spectrum_area"] is False
    off = ModelRegistry(modules=modules, spectrum_area=False)(start, desc).estimators
    assert "spectrum_area" not in [m.name for m in off]
    # the default catalogue does not list it: nothing changes for everyone else
    assert "spectrum_area" not in [m.name for m in ModelRegistry()(start, desc).estimators]


def test_the_page_test_passes(doc_model):
    _, test_code = doc_model
    namespace: dict = {"__name__": "doc_test"}
    exec(compile(test_code, str(DOC), "exec"), namespace)
    tests = [f for n, f in namespace.items() if n.startswith("test_") and callable(f)]
    assert tests
    for test in tests:
        test()
