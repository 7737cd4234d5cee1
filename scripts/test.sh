#!/usr/bin/env bash
# The test command (README): the fast unit layer and the real-build layer, in one pytest run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HLSDIFF_TEST_CACHE=${HLSDIFF_TEST_CACHE:-$PWD/.venv/hlsdiff-test-cache}
exec .venv/bin/python -m pytest -n 2 --dist loadgroup -ra "$@"
