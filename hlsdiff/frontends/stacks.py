"""Two environments: the classic one (Keras 2: tf_keras 2.15, QKeras, HGQ v1; numpy 1.26) and the modern
one (Keras 3 + HGQ2, PyTorch CPU, ONNX/QONNX; numpy 2). Given a model this environment cannot load,
the CLI runs the same command line in the environment that can, as a child process (same outputs,
same exit code), or says in one line how to install it (exit 2).

The other environment's Python: $HLSDIFF_MODERN_PYTHON / $HLSDIFF_CLASSIC_PYTHON, else `.venv-modern`
/ `.venv` of the checkout hlsdiff runs from (scripts/setup.sh makes both).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from hlsdiff.errors import BadInput
from hlsdiff.frontends import missing_message, python_for, stack_of


def needs_other(model: str | os.PathLike) -> str | None:
    """The stack to re-run in, when this environment lacks the model's frontend (None: run here)."""
    from hlsdiff import frontends

    path = Path(model)
    if not path.exists():
        return None  # the usual "not found" line, from here
    try:
        frontend = frontends.get(frontends.name_for_path(path))
    except (OSError, ValueError):
        return None
    if frontend.available():
        return None
    stack = stack_of(frontend.name)
    if not python_for(stack).exists():
        raise BadInput(missing_message(frontend.label, stack))
    return stack


def rerun(stack: str, argv: list[str]) -> int:
    """`python -m hlsdiff ARGV` in the other environment; its exit code. SIGINT/SIGTERM are passed on and
    the child is waited for, so that it removes its own temporary files."""
    env = dict(os.environ, HLSDIFF_RERUN='1')
    proc = subprocess.Popen([str(python_for(stack)), '-m', 'hlsdiff', *argv], env=env)
    try:
        return proc.wait()
    except BaseException:  # the signal handlers raise here: hand the stop to the child, then wait for it
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        raise


def maybe_rerun(model: str | os.PathLike) -> None:
    """In the CLI, before any work: exit with the other environment's result when it must run this model."""
    if os.environ.get('HLSDIFF_RERUN'):  # never bounce back and forth
        return
    stack = needs_other(model)
    if stack is None:
        return
    if str(model) not in sys.argv:  # called in-process (click's test runner): no command line to pass on
        raise BadInput(f'{model}: needs the {stack} environment: run `hlsdiff` from the command line, or it there')
    sys.exit(rerun(stack, sys.argv[1:]))
