"""The [influxdb] config section: defaults, environment, validation, secrets kept out of sight."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthwatch.contract.config import ConfigError, default_data_dir, load_config
from synthwatch.stream.cli.main import main


def test_defaults_are_off_and_spool_under_the_data_dir():
    cfg = load_config(path=None, env={}).influxdb
    assert cfg.enabled is False and cfg.api == "v1"
    assert cfg.spool_dir == default_data_dir() / "influx-spool"


def test_toml_and_environment(tmp_path):
    toml = tmp_path / "sw.toml"
    toml.write_text('[influxdb]\nenabled = true\napi = "v2"\norg = "lab"\nbatch_size = 250\n')
    env = {"SYNTHWATCH_INFLUXDB__TOKEN": "tok-123", "SYNTHWATCH_INFLUXDB__URL": "http://h:8086"}
    cfg = load_config(toml, env=env).influxdb
    assert (cfg.api, cfg.org, cfg.batch_size, cfg.url) == ("v2", "lab", 250, "http://h:8086")
    assert cfg.token.get_secret_value() == "tok-123"
    assert "tok-123" not in repr(cfg) and "tok-123" not in str(cfg)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('url = "localhost:8086"', "influxdb.url"),
        ('url = "http://me:pw@h:8086"', "credentials do not go in the URL"),
        ("batch_size = 0", "influxdb.batch_size"),
        ('database = "a b"', "influxdb.database"),
        ('api = "v3"', "influxdb.api"),
        ('password = "x"\npassword_file = "/p"', "password, password_file: give one"),
    ],
)
def test_bad_values_name_file_and_field(tmp_path, text, where):
    toml = tmp_path / "sw.toml"
    toml.write_text(f"[influxdb]\n{text}\n")
    with pytest.raises(ConfigError) as err:
        load_config(toml, env={})
    assert str(toml) in str(err.value) and where in str(err.value)


def test_demo_with_a_v2_config_missing_its_token_is_a_one_line_error(tmp_path, capsys):
    toml = tmp_path / "sw.toml"
    toml.write_text('[influxdb]\nenabled = true\napi = "v2"\norg = "lab"\n')
    code = main(["--config", str(toml), "--store", str(tmp_path / "s.sqlite"), "demo", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.strip().count("\n") == 0
    assert "influxdb.token: api 'v2' needs a token" in err


CHILD_CONFTEST = """
import importlib.util

spec = importlib.util.spec_from_file_location("_influx_conftest", {path!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
influxdb_url = module.influxdb_url
"""
CHILD_TEST = """
def test_needs_influxdb(influxdb_url):
    pass
"""


@pytest.mark.parametrize("ci", ["true", ""])
def test_missing_server_fails_under_ci_and_skips_otherwise(tmp_path, ci):
    """The fixture's rule, run in a child pytest: CI=true and no server is a failure."""
    import os
    import subprocess
    import sys

    HERE = Path(__file__).resolve().parents[1]  # tests/stream: its conftest
    test_dir = tmp_path / "t"
    test_dir.mkdir()
    (test_dir / "conftest.py").write_text(CHILD_CONFTEST.format(path=str(HERE / "conftest.py")))
    (test_dir / "test_child.py").write_text(CHILD_TEST)
    env = {
        **os.environ,
        "CI": ci,
        "SYNTHWATCH_TEST_INFLUXDB_URL": "http://127.0.0.1:9",  # nothing listens there
        "PYTHONPATH": str(HERE),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", str(test_dir)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    if ci == "true":  # a fixture failure: the test errors, the run fails
        assert proc.returncode == 1 and "1 error" in proc.stdout, proc.stdout
        assert "CI=true and InfluxDB at http://127.0.0.1:9" in proc.stdout
    else:
        assert proc.returncode == 0 and "1 skipped" in proc.stdout, proc.stdout
    assert "does not answer /ping" in proc.stdout and "scripts/services.sh" in proc.stdout
