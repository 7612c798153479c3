"""README's first screen keeps its promise: two commands, the second is what CI runs."""

from __future__ import annotations

import re

from conftest import ROOT


def first_screen_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first_screen = "\n".join(text.splitlines()[:40])
    blocks = re.findall(r"```bash\n(.*?)```", first_screen, flags=re.S)
    return [
        line
        for block in blocks
        for line in block.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def test_two_commands_on_the_first_screen():
    install_and_demo, tests = first_screen_commands()
    assert "pip install ." in install_and_demo and "synthwatch demo" in install_and_demo
    assert "synthwatch show" in install_and_demo
    assert tests == "bash scripts/test.sh"


def test_ci_runs_exactly_the_second_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [ln for ln in ci.splitlines() if ln.strip() and not ln.startswith(("#", "set "))]
    assert commands[-1] == "exec bash scripts/test.sh"
    script = (ROOT / "scripts" / "test.sh").read_text(encoding="utf-8")
    assert ".[test]" in script and "pytest" in script


def test_the_config_example_in_readme_is_valid(tmp_path):
    from synthwatch.contract.config import load_config

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    (block,) = [b for b in re.findall(r"```toml\n(.*?)```", text, flags=re.S) if "[store]" in b]
    f = tmp_path / "synthwatch.toml"
    f.write_text(block)
    cfg = load_config(f, env={})
    assert "~" not in str(cfg.store.path)
    assert cfg.models.psd_nnls_every == 60 and cfg.demo.scenario == "gold"


def test_the_rule_examples_in_readme_parse():
    from synthwatch.models.alerts.catalogue import is_known, known_names
    from synthwatch.models.alerts.rules import parse_rules

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", text, flags=re.S)
    blocks = [b for b in blocks if "[[rule]]" in b and "[store]" not in b]
    assert blocks
    for block in blocks:
        assert parse_rules(block, "README.md", is_known, known_names())
