#!/usr/bin/env bash
# Installs synthwatch with what the tests need into ./.venv and runs the whole suite.
# README's second command and .ci/run both call exactly this. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet ".[test]"
.venv/bin/python -m pytest "$@"
