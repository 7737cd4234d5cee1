#!/usr/bin/env bash
# Set-up command 1 (README): install when needed, then run hlsdiff on the bundled example.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/hlsdiff demo "$@"
