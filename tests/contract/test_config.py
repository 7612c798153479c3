"""Configuration: TOML file, environment overrides, errors that name file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthwatch.contract.config import ConfigError, load_config


def test_defaults_need_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config(env={})
    assert cfg.transport.kind == "memory"
    assert cfg.store.commit_interval_s <= 1.0
    assert cfg.demo.duration_s == 7200.0


def test_file_then_environment(tmp_path):
    f = tmp_path / "sw.toml"
    f.write_text('[store]\npath = "/data/a.sqlite"\n[demo]\nseed = 7\nspeed = 50\n')
    cfg = load_config(f, env={"SYNTHWATCH_DEMO__SPEED": "200"})
    assert cfg.store.path == Path("/data/a.sqlite")
    assert cfg.demo.seed == 7 and cfg.demo.speed == 200.0


def test_config_env_var_names_the_file(tmp_path):
    f = tmp_path / "x.toml"
    f.write_text("[demo]\nseed = 3\n")
    assert load_config(env={"SYNTHWATCH_CONFIG": str(f)}).demo.seed == 3


@pytest.mark.parametrize(
    "text, words",
    [
        (
            "[store]\ncommit_interval_s = 5\n",
            "store.commit_interval_s: Input should be less than or equal to 1",
        ),
        ("[demo]\nseed = 'abc'\n", "demo.seed"),
        (
            "[worker]\nreorder_windw_s = 1\n",
            "worker.reorder_windw_s: Extra inputs are not permitted",
        ),
        ("[transport]\nkind = 'carrier-pigeon'\n", "transport.kind: Input should be 'memory'"),
        ("[demo\nseed = 1\n", "not valid TOML"),
    ],
)
def test_bad_file_values_name_file_and_field(tmp_path, text, words):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(f, env={})
    assert str(info.value).startswith(str(f))
    assert words in str(info.value)


def test_bad_environment_value_names_the_variable():
    with pytest.raises(ConfigError, match="environment SYNTHWATCH_DEMO__SPEED: demo.speed"):
        load_config(None, env={"SYNTHWATCH_DEMO__SPEED": "fast"})
    with pytest.raises(ConfigError, match="SYNTHWATCH_NOPE__X: nope: Extra inputs"):
        load_config(None, env={"SYNTHWATCH_NOPE__X": "1"})


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "none.toml", env={})
