"""Every module's docstring examples run (seeded, fast), like river's doctests."""

from __future__ import annotations

import doctest
import importlib

import pytest

from conftest import source_modules


@pytest.mark.parametrize("name", source_modules())
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {name}"
