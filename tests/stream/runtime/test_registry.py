"""The registry and the [models] section, both built from the models' declarations."""

from __future__ import annotations

import importlib
import inspect
import logging
import re
from datetime import datetime, timezone

import pytest

from conftest import ROOT, source_modules
from synthwatch.collectors.sim.gold import GoldCitrateSimulator
from synthwatch.contract.config import ConfigError, load_config
from synthwatch.contract.messages import RunStart
from synthwatch.models import declare
from synthwatch.models.base import Model
from synthwatch.models.every import Every
from synthwatch.models.uvvis.coadd import Coadd
from synthwatch.stream.runtime import registry as registry_module
from synthwatch.stream.runtime.alerting import registry_from_config
from synthwatch.stream.runtime.catalog import (
    MODEL_MODULES,
    declarations,
    settings_from_config,
    settings_model,
    validate_settings,
)
from synthwatch.stream.runtime.registry import ModelRegistry

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)

#: The [models] section as it was declared by hand in contract/config.py before the models
#: declared it themselves: (default, smallest, largest) of every key.
EXPECTED = {
    "psd_lognormal": (True, None, None),
    "psd_nnls_every": (60, 0, None),
    "shape": (True, None, None),
    "psd_average_s": (0.0, 0, 3600),
    "n_medium": (1.333, 1.0, 2.0),
    "impedance_fit": (True, None, None),
    "calibration": (True, None, None),
    "kinetics": (True, None, None),
    "uvvis_size_calibration": (True, None, None),
}


def test_the_models_section_is_the_declared_settings():
    assert validate_settings({}) == {k: v[0] for k, v in EXPECTED.items()}
    for key, (default, ge, le) in EXPECTED.items():
        s = declare.SETTINGS[key]
        assert (s.default, s.ge, s.le) == (default, ge, le) and s.description
        assert type(s.default) is type(default)
    fields = settings_model().model_fields
    assert all(fields[k].description for k in EXPECTED)


def test_every_declared_model_of_the_package_is_in_the_catalogue():
    for name in source_modules():
        if name.startswith("synthwatch.models."):
            importlib.import_module(name)
    listed = {d.name for d in declarations()}
    package = {d.name for d in declare.MODELS.values() if d.module.startswith("synthwatch.")}
    assert package == listed
    assert [d.name for d in declarations() if "run" in d.kinds][-1] == "alert_engine"


def test_the_registry_names_no_model():
    """Models are chosen from their declarations: no model class, name or system is spelled
    out in the registry."""
    source = inspect.getsource(registry_module)
    code = source.split('"""', 2)[2]  # past the module docstring
    for d in declarations():
        assert d.cls.__name__ not in code and f'"{d.name}"' not in code, d.name
    assert not re.search(r"\b(kind|system)\s*(==|!=|in|not in)\s", code)


def test_settings_are_checked_against_the_declarations():
    with pytest.raises(ConfigError, match="models.psd_nnls_evry: Extra inputs"):
        ModelRegistry(psd_nnls_evry=1)
    with pytest.raises(ConfigError, match=r"models.n_medium: Input should be less than or equal"):
        ModelRegistry(n_medium=3.0)
    assert ModelRegistry(psd_average_s="5").settings["psd_average_s"] == 5.0


@pytest.mark.parametrize(
    "text, words",
    [
        ("[models]\npsd_nnls_every = -1\n", "models.psd_nnls_every: Input should be greater"),
        ("[models]\nshape = 'maybe'\n", "models.shape: Input should be a valid boolean"),
        ("[models]\nshapes = true\n", "models.shapes: Extra inputs are not permitted"),
    ],
)
def test_a_bad_models_key_in_the_file_names_file_and_key(tmp_path, text, words):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    cfg = load_config(f, env={})
    with pytest.raises(ConfigError) as info:
        registry_from_config(cfg)
    assert str(info.value).startswith(f"{f}: ") and words in str(info.value)


def test_a_models_key_from_the_environment_names_the_variable(tmp_path):
    f = tmp_path / "ok.toml"
    f.write_text("[models]\nshape = false\n")
    env = {"SYNTHWATCH_MODELS__PSD_NNLS_EVERY": "30", "SYNTHWATCH_MODELS__PSD_LOGNORMAL": "false"}
    settings = settings_from_config(load_config(f, env=env))
    assert settings["psd_nnls_every"] == 30 and settings["psd_lognormal"] is False
    assert settings["shape"] is False and settings["kinetics"] is True
    bad = load_config(f, env={"SYNTHWATCH_MODELS__PSD_AVERAGE_S": "-5"})
    with pytest.raises(
        ConfigError, match="^environment SYNTHWATCH_MODELS__PSD_AVERAGE_S: models.psd_average_s"
    ):
        registry_from_config(bad)


def test_a_models_table_inside_models_is_refused_by_the_contract(tmp_path):
    f = tmp_path / "nested.toml"
    f.write_text("[models.psd]\nevery = 3\n")
    with pytest.raises(ConfigError, match=f"^{re.escape(str(f))}: models.psd"):
        load_config(f, env={})


def test_the_readme_models_section_is_valid_for_the_models():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    (block,) = [b for b in re.findall(r"```toml\n(.*?)```", text, flags=re.S) if "[store]" in b]
    section = block.split("[models]\n", 1)[1].split("\n[", 1)[0]
    keys = {ln.split("=")[0].strip() for ln in section.splitlines() if "=" in ln}
    assert keys and keys <= set(validate_settings({}))


def test_switches_and_wrappers_come_from_the_declarations():
    sim = GoldCitrateSimulator(seed=0, duration_s=60, interval_s=1.0)
    start, desc = sim.run_start(), sim.descriptor()
    models = ModelRegistry(psd_average_s=5.0, psd_nnls_every=7)(start, desc).estimators
    kinds = {m.name: type(m) for m in models}
    assert kinds == {
        "uvvis_features": kinds["uvvis_features"],
        "psd_lognormal": Coadd,
        "psd_nnls": Every,
        "uvvis_shape": Coadd,
    }
    assert [m.every for m in models if isinstance(m, Every)] == [7]
    only = ModelRegistry(psd_lognormal=False, psd_nnls_every=0, shape=False)(start, desc)
    assert [m.name for m in only.estimators] == ["uvvis_features"]
    assert [r.name for r in only.rules] == ["flagged_frames"]
    silver = start.model_copy(update={"system": "Ag-citrate"})
    assert "uvvis_shape" not in [m.name for m in ModelRegistry()(silver, desc).estimators]


@pytest.fixture
def picky():
    """A model declared in this module whose hook refuses every sensor."""
    models = dict(declare.MODELS)

    def refuse(ctx):
        raise ValueError("no optical constants that far in the infrared")

    @declare.register(kinds=("uvvis",), cost="cheap", build=refuse, optional=True)
    class Picky(Model):
        name, version = "t_picky", "1"

    yield MODEL_MODULES + (__name__,)
    declare.MODELS.clear()
    declare.MODELS.update(models)


def test_an_optional_model_its_hook_cannot_build_is_left_off(caplog, picky):
    sim = GoldCitrateSimulator(seed=0, duration_s=60, interval_s=1.0)
    start, desc = sim.run_start(), sim.descriptor()
    with caplog.at_level(logging.WARNING):
        models = ModelRegistry(modules=picky)(start, desc)
    assert "t_picky" not in [m.name for m in models.estimators]
    assert len(models.estimators) == 4
    assert f"{desc.sensor_id}: model t_picky off: no optical constants" in caplog.text
    far = desc.model_copy(update={"axis": [float(x) for x in range(1500, 1600)]})
    with pytest.raises(ValueError, match="SPR window"):  # the features are not optional
        ModelRegistry()(start, far)


def test_a_registry_pickles_and_a_model_set_is_fresh_each_time():
    import pickle

    reg = ModelRegistry(psd_nnls_every=0, golden_dir="/nowhere")
    again = pickle.loads(pickle.dumps(reg))
    assert again.settings == reg.settings and again.golden_dir == "/nowhere"
    start = RunStart(run_id="r1", t=T0, reactor="R1", system="SiO2-Stober")
    a, b = reg.run_models(start), reg.run_models(start)
    assert [m.name for m in a] == ["kinetics", "size_calibration", "alert_engine"]
    assert all(isinstance(m, Model) for m in a) and all(x is not y for x, y in zip(a, b))
    assert MODEL_MODULES == reg.modules
