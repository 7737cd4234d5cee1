#!/usr/bin/env bash
# The test command (README): the fast unit layer and the real-build layer, in one pytest run.
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
export HLSDIFF_TEST_CACHE=${HLSDIFF_TEST_CACHE:-$PWD/.venv/hlsdiff-test-cache}
exec .venv/bin/python -m pytest -n 2 --dist loadgroup -ra "$@"
