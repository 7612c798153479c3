"""The import layers of docs/architecture.md, checked by import-linter and grimp on every run.

pyproject's ``[tool.importlinter]`` holds the layer contracts (stream above models, collectors
and dashboards, above the contract; the layers inside each) and ``acyclic_siblings``; the test
below also refuses any cycle between two modules, lazy imports included.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import FOLDERS, ROOT


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


def test_the_contract_imports_nothing_else_of_synthwatch(assembled):
    proc = _run(
        "import grimp; g = grimp.build_graph('synthwatch');"
        "print(sorted(n for m in g.find_children('synthwatch.contract')"
        " for n in g.find_modules_directly_imported_by(m)"
        " if n.startswith('synthwatch') and not n.startswith('synthwatch.contract')))",
        assembled,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


# Tarjan's strongly connected components over grimp's module graph: a component of more than
# one module is a cycle (a lazy import inside a function counts: grimp sees it).
CYCLES = """
import json, sys
import grimp
sys.setrecursionlimit(10000)
g = grimp.build_graph('synthwatch')
mods = sorted(m for m in g.modules if m.startswith('synthwatch'))
index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]
def visit(v):
    index[v] = low[v] = counter[0]; counter[0] += 1; stack.append(v); on.add(v)
    for w in g.find_modules_directly_imported_by(v):
        if not w.startswith('synthwatch'):
            continue
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            found.append(sorted(comp))
for m in mods:
    if m not in index:
        visit(m)
print(json.dumps(found))
"""


def test_no_import_cycles_between_modules(assembled):
    proc = _run(CYCLES, assembled)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [], proc.stdout


def test_package_inits_import_nothing():
    """Importing the contract must not drag in workers, sinks or models."""
    for folder in FOLDERS:
        for init in (ROOT / folder).rglob("__init__.py"):
            assert "import" not in init.read_text(), init


def test_every_package_is_installed():
    """pyproject lists every folder with an ``__init__.py`` (an unlisted one is left out)."""
    import tomllib

    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    for folder, sub in FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            assert ".".join(["synthwatch", sub, *parts]) in listed, init
