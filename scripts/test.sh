#!/usr/bin/env bash
# Installs synthwatch with what the tests need into ./.venv and runs the whole suite.
# README's second command and .ci/run both call exactly this. Extra arguments go to pytest.
#
# The real servers the integration tests need (scripts/services.sh: InfluxDB 1.x, ...) are
# installed and started first, their addresses exported from .services/env, and stopped when
# the suite ends. SYNTHWATCH_SERVICES=0 skips that (the tests needing a server then skip, or
# fail when CI=true).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet ".[test]"
if [[ ${SYNTHWATCH_SERVICES:-1} != 0 ]]; then
    export SYNTHWATCH_SERVICES_DIR=${SYNTHWATCH_SERVICES_DIR:-$PWD/.services}
    bash scripts/services.sh install all
    trap 'bash scripts/services.sh stop all' EXIT
    bash scripts/services.sh start all
    set -a
    # shellcheck source=/dev/null
    . "$SYNTHWATCH_SERVICES_DIR/env"
    set +a
fi
.venv/bin/python -m pytest "$@"
