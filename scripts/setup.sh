#!/usr/bin/env bash
# Create .venv (once) with the pinned classic stack from pyproject.toml and hlsdiff installed in it, then
# .venv-modern (scripts/setup-modern.sh: Keras 3, PyTorch CPU, ONNX/QONNX; skipped with HLSDIFF_MODERN=0).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
command -v g++ >/dev/null || { apt-get update -qq && apt-get install -y -qq g++; }
stamp=.venv/.hlsdiff-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[test]'
  touch "$stamp"
fi
# HGQ v1 (proxy models): its metadata asks for `tensorflow`, which tensorflow-cpu provides under
# another name, so it goes in without dependencies (everything it imports is in the stack already)
.venv/bin/python -m pip show -q hgq >/dev/null 2>&1 || .venv/bin/python -m pip install -q --no-deps 'hgq==0.2.6'
# the modern stack: PyTorch, ONNX/QONNX and Keras 3 models run there (hlsdiff re-runs itself in it)
[ "${HLSDIFF_MODERN:-1}" = 0 ] || bash scripts/setup-modern.sh
