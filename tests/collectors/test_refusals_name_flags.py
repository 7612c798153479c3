"""Refusals name the command-line flags a person passes (``--start``, ``--tz``), never the
Python argument names behind them (``start=``, ``tz=``)."""

from __future__ import annotations

import re

from conftest import ROOT

FLAGS = ("start", "tz", "dark", "reference", "settle", "system", "interval", "kind")
PYTHON_NAME = re.compile(r"\((?:%s)=[^)]*\)|\b(?:%s)=\)" % ("|".join(FLAGS), "|".join(FLAGS)))


def test_no_message_of_a_parser_or_folder_names_a_python_argument():
    found = []
    for folder in ("collectors", "stream/replay", "stream/cli"):
        for path in (ROOT / folder).rglob("*.py"):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if '"' in line and PYTHON_NAME.search(line) and not line.lstrip().startswith("#"):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)
