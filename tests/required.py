"""What a test does when a server or tool it needs is missing: fail under CI, skip elsewhere.

DEVELOPERS.md: with ``CI=true`` a test that cannot reach its server fails, never skips.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def unavailable(message: str) -> NoReturn:
    """``pytest.fail(message)`` when ``CI=true``, else ``pytest.skip(message)``."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)
