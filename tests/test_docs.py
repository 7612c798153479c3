"""The documentation stays true to the repository: links resolve, nothing points outside it, the
README stays short and names every command, the architecture page names every sub-package."""

from __future__ import annotations

import argparse
import re
import subprocess

import pytest

from conftest import FOLDERS, ROOT

README = ROOT / "README.md"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
MAX_README_LINES = 200

# Written in pieces so that this file does not match itself.
OUTSIDE_REFERENCES = ("DESIGN" + ".md", ".." + "/shared", "/wo" + "rk/")
SKIP_DIRS = {".git", ".venv", "build", ".services", ".hypothesis", ".ruff_cache", ".pytest_cache"}


def doc_pages() -> list:
    return [README, *sorted((ROOT / "docs").glob("*.md"))]


def without_code(text: str) -> str:
    """Markdown without fenced code blocks and inline code (links there are not links)."""
    text = re.sub(r"^(```|~~~).*?^\1", "", text, flags=re.S | re.M)
    return re.sub(r"(`+).+?\1", "", text)


def relative_links(page) -> list[str]:
    text = without_code(page.read_text(encoding="utf-8"))
    targets = re.findall(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", text)
    targets += re.findall(r"^\s*\[[^\]]+\]:\s*(\S+)", text, flags=re.M)  # reference links
    return [
        t
        for t in targets
        if not re.match(r"^[a-z][a-z0-9+.-]*:", t, flags=re.I) and not t.startswith("#")
    ]


@pytest.mark.parametrize("page", doc_pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_to_files_that_exist(page):
    missing = []
    for target in relative_links(page):
        path = target.split("#", 1)[0].split("?", 1)[0]
        if not (page.parent / path).exists():
            missing.append(target)
    assert not missing, f"{page.relative_to(ROOT)}: links to missing files: {missing}"


def repository_files() -> list:
    """Tracked files and new files git does not ignore; every file when git is not there."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
        files = [ROOT / name for name in out.decode("utf-8", "replace").split("\0") if name]
    except (OSError, subprocess.SubprocessError):
        files = [
            p
            for p in ROOT.rglob("*")
            if p.is_file() and not SKIP_DIRS.intersection(p.relative_to(ROOT).parts)
        ]
    return [p for p in files if p.is_file()]


def test_no_file_refers_to_notes_outside_the_repository():
    found = []
    for path in repository_files():
        data = path.read_bytes()
        for needle in OUTSIDE_REFERENCES:
            if needle.encode() in data:
                line = data[: data.index(needle.encode())].count(b"\n") + 1
                found.append(f"{path.relative_to(ROOT)}:{line}: {needle}")
    assert not found, "point to the docs/ pages instead:\n" + "\n".join(found)


def test_readme_is_short():
    n = len(README.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_README_LINES, f"README.md has {n} lines; move detail to docs/"


def subcommands(capsys) -> set[str]:
    """The commands the ``synthwatch`` parser registers."""
    try:
        from synthwatch.stream.cli.main import build_parser
    except ImportError:
        build_parser = None
    if build_parser is not None:
        parser = build_parser()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                return set(action.choices)
    # no parser to inspect: read `synthwatch --help`, argparse's {a,b,...} or a list of commands
    from synthwatch.stream.cli.main import main

    try:
        main(["--help"])
    except SystemExit:
        pass
    text = capsys.readouterr().out
    choices = re.search(r"\{([a-z][a-z0-9_-]*(?:,[a-z][a-z0-9_-]*)+)\}", text)
    if choices:
        return set(choices.group(1).split(","))
    listed = set(re.findall(r"^ {2,4}([a-z][a-z0-9_-]*)(?: {2,}\S.*)?$", text, flags=re.M))
    assert listed, f"no commands found in `synthwatch --help`:\n{text}"
    return listed


def readme_command_table() -> set[str]:
    text = README.read_text(encoding="utf-8")
    rows = [ln for ln in text.splitlines() if re.match(r"^\|\s*`synthwatch ", ln)]
    return {m for row in rows for m in re.findall(r"`synthwatch ([a-z][a-z0-9_-]*)", row)}


def test_readme_command_table_names_every_command(capsys):
    commands = subcommands(capsys)
    assert {"demo", "show"} <= commands
    missing = commands - readme_command_table()
    assert not missing, f"README.md's command table lacks: {sorted(missing)}"


def sub_packages() -> list[str]:
    names = []
    for folder in FOLDERS:
        for init in sorted((ROOT / folder).rglob("__init__.py")):
            rel = init.parent.relative_to(ROOT)
            if "__pycache__" in rel.parts or "tests" in rel.parts:
                continue
            names.append(rel.as_posix())
    return names


def test_architecture_names_every_sub_package():
    text = ARCHITECTURE.read_text(encoding="utf-8")
    packages = sub_packages()
    assert "contract" in packages and "stream/runtime" in packages
    missing = [
        p
        for p in packages
        if f"{p}/" not in text and "synthwatch." + p.replace("/", ".") not in text
    ]
    assert not missing, f"docs/architecture.md does not name: {missing}"
