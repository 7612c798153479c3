"""Only stream/runtime/worker.py reaches into a Worker: the rest use its public methods.

The Kafka worker's modules (ownership, run bookkeeping, checkpoints, restore) hand run states in
and out through ``Worker.adopt_run``, ``drop_run``, ``has_run``, ``run_state`` and
``deadletter``. This test parses every module of the stream package with ``ast`` and fails on
``<worker>.runs`` or ``<worker>._anything`` anywhere but in worker.py, where ``<worker>`` is an
expression naming a worker: a name or attribute containing ``worker`` (``worker``,
``self.worker``, ``node.worker``), or a name annotated or constructed as a ``Worker``.
"""

from __future__ import annotations

import ast
import re

from conftest import ROOT

STREAM = ROOT / "stream"
OWNER = STREAM / "runtime" / "worker.py"
_WORKERISH = re.compile(r"worker", re.IGNORECASE)


def _is_worker_type(node: ast.expr | None) -> bool:
    if node is None:
        return False
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # "Worker"
        return node.value.split(".")[-1] == "Worker"
    if isinstance(node, ast.Name):
        return node.id == "Worker"
    if isinstance(node, ast.Attribute):
        return node.attr == "Worker"
    if isinstance(node, ast.BinOp):  # Worker | None
        return _is_worker_type(node.left) or _is_worker_type(node.right)
    return False


def _declared_workers(tree: ast.AST) -> set[str]:
    """Names (and ``self.<attr>`` attributes) annotated as, or assigned, a ``Worker``."""
    names: set[str] = set()

    def add(target: ast.expr) -> None:
        if isinstance(target, ast.Name):
            names.add(target.id)
        elif isinstance(target, ast.Attribute):
            names.add(target.attr)

    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and _is_worker_type(node.annotation):
            names.add(node.arg)
        elif isinstance(node, ast.AnnAssign) and _is_worker_type(node.annotation):
            add(node.target)
        elif (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and _is_worker_type(node.value.func)
        ):
            for target in node.targets:
                add(target)
    return names


def _names_a_worker(node: ast.expr, declared: set[str]) -> bool:
    if isinstance(node, ast.Name):
        return bool(_WORKERISH.search(node.id)) or node.id in declared
    if isinstance(node, ast.Attribute):
        return bool(_WORKERISH.search(node.attr)) or node.attr in declared
    return False


def violations(source: str, where: str = "<source>") -> list[str]:
    """Every ``<worker>.runs`` and ``<worker>._private`` in ``source``, as ``where:line: text``."""
    tree = ast.parse(source)
    declared = _declared_workers(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or not _names_a_worker(node.value, declared):
            continue
        private = node.attr.startswith("_") and not node.attr.startswith("__")
        if node.attr == "runs" or private:
            found.append(f"{where}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_the_check_sees_what_it_is_meant_to():
    bad = """
from synthwatch.stream.runtime.worker import Worker
class K:
    def __init__(self, make):
        self.worker = make()
        self._w: Worker = make()
    def a(self, raw):
        self.worker._deadletter(raw, "why", "r1")
        self.worker.runs["r1"] = None
        self._w.runs.pop("r1", None)
def b(node, w: Worker):
    return node.worker.runs.get("r1"), w._sleep
def c():
    plain = Worker(None, [])
    return plain.runs
"""
    found = violations(bad)
    assert len(found) == 6, found
    good = """
class K:
    def a(self, record):
        self.worker.handle(record)
        self.worker.deadletter(b"", "why", "r1")
        self._reader.close()
        return self.worker.totals.received, self.book.runs, self.worker.run_state("r1")
"""
    assert violations(good) == []


def test_no_module_but_the_workers_own_reaches_into_a_worker():
    found: list[str] = []
    modules = sorted(STREAM.rglob("*.py"))
    assert OWNER in modules and (STREAM / "runtime" / "kafka_worker.py") in modules
    for path in modules:
        if path == OWNER:
            continue
        where = str(path.relative_to(ROOT))
        found += violations(path.read_text(encoding="utf-8"), where)
    assert found == [], "use the Worker's public methods:\n" + "\n".join(found)
