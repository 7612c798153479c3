"""DESIGN.md's import rules, checked by import-linter and grimp on every test run."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT


def _run(code: str, assembled) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(assembled))
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_import_linter_contracts_hold(assembled):
    """`lint-imports` reads the contracts from pyproject.toml ([tool.importlinter])."""
    proc = _run(
        "import sys; from importlinter.cli import lint_imports_command;"
        " sys.exit(lint_imports_command())",
        assembled,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def test_contract_module_imports_no_other_synthwatch_module(assembled):
    proc = _run(
        "import grimp; g = grimp.build_graph('synthwatch');"
        "print(sorted(m for m in g.find_modules_directly_imported_by("
        "'synthwatch.contract.messages') if m.startswith('synthwatch')))",
        assembled,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_package_inits_import_nothing():
    """Importing the contract must not drag in workers, sinks or models."""
    for init in ("collectors", "stream", "models", "dashboards"):
        text = (ROOT / init / "__init__.py").read_text()
        assert "import" not in text, init
