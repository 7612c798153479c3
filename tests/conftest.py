"""Shared test helpers: where the source is, and the package assembled from its folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Shared machines are noisy: no per-example deadline. In CI the examples are derandomised, so a
# red run is reproducible and a green one does not depend on luck.
settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "dev")

ROOT = Path(__file__).resolve().parents[1]
#: repository folder → subpackage of synthwatch (as mapped in pyproject.toml)
FOLDERS = {
    "contract": "contract",
    "collectors": "collectors",
    "stream": "stream",
    "models": "models",
    "dashboards": "dashboards",
}


def source_modules() -> list[str]:
    """Every module of synthwatch, named from the repository's folders."""
    names = ["synthwatch"]
    for folder, sub in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = [sub, *path.relative_to(ROOT / folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            names.append(".".join(["synthwatch", *parts]))
    return names


def assemble_package(target: Path) -> Path:
    """Lay out ``target/synthwatch`` as an install would, with symlinks to the folders.

    Static analysers (grimp, import-linter) walk the file tree, which an editable install of a
    package-dir mapping does not have.
    """
    pkg = target / "synthwatch"
    pkg.mkdir(parents=True)
    os.symlink(ROOT / "_package" / "__init__.py", pkg / "__init__.py")
    for folder, sub in FOLDERS.items():
        os.symlink(ROOT / folder, pkg / sub, target_is_directory=True)
    return target


@pytest.fixture(scope="session")
def assembled(tmp_path_factory) -> Path:
    return assemble_package(tmp_path_factory.mktemp("assembled"))


@pytest.fixture(scope="session", autouse=True)
def _private_dirs(tmp_path_factory):
    """Tests never write to the user's home: the optics cache and the store go to tmp."""
    mp = pytest.MonkeyPatch()
    mp.setenv("SYNTHWATCH_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    mp.setenv("SYNTHWATCH_HOME", str(tmp_path_factory.mktemp("home")))
    mp.delenv("SYNTHWATCH_CONFIG", raising=False)
    yield
    mp.undo()
