#!/usr/bin/env bash
# Create .venv-modern (once): the modern stack of requirements-modern.txt (Keras 3 on torch + HGQ2,
# PyTorch CPU, ONNX/QONNX, Brevitas; numpy 2) with hlsdiff installed editable, without the classic
# pins of pyproject.toml. `hlsdiff compare model.pt|.pt2|.onnx|Keras 3 .keras` run in .venv re-runs
# itself here.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
stamp=.venv-modern/.hlsdiff-installed
if [ ! -f "$stamp" ] || [ requirements-modern.txt -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  [ -x .venv-modern/bin/python ] || "$PY" -m venv .venv-modern
  .venv-modern/bin/python -m pip install -q --upgrade pip
  .venv-modern/bin/python -m pip install -q -r requirements-modern.txt
  # hlsdiff itself: its pyproject pins the classic stack (numpy<2, tensorflow), so no dependencies
  .venv-modern/bin/python -m pip install -q --no-deps -e .
  touch "$stamp"
fi
