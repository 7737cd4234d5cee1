#!/usr/bin/env bash
# The test command (README): both stacks. The classic tests (.venv) in one pytest run, then the modern
# ones (tests/modern, .venv-modern) in another; the first failure stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# the HTML report is checked in a real headless Chromium (Debian's package)
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
  else
    echo "scripts/test.sh: install Debian's chromium (sudo apt-get install chromium) for the HTML test" >&2
  fi
fi
# static checks first (pyproject.toml [tool.mypy], [tool.ruff]); a failure stops the run
.venv/bin/python -m mypy hlsdiff
.venv/bin/python -m ruff check hlsdiff
export HLSDIFF_TEST_CACHE=${HLSDIFF_TEST_CACHE:-$PWD/.venv/hlsdiff-test-cache}
.venv/bin/python -m pytest -n 2 --dist loadgroup -ra "$@"
export HLSDIFF_TEST_CACHE=${HLSDIFF_TEST_CACHE_MODERN:-$PWD/.venv-modern/hlsdiff-test-cache}
# tests/modern, and the pure unit tests again on numpy 2 (hlsdiff's own code runs on numpy 1.26 and 2.x)
exec .venv-modern/bin/python -m pytest tests/modern tests/test_fixedpoint.py tests/test_diff.py tests/test_patterns.py \
  tests/test_causes.py tests/test_analyse.py tests/test_layers.py tests/test_emulate.py -n 2 --dist loadgroup -ra "$@"
