"""Run a written repro.py in a fresh process, with the stack alone (no hlsdiff on its path)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hlsdiff.csim import processes as children

TIMEOUT = 900.0  # s: a conversion, a g++ build of one layer and a prediction


@dataclass
class Confirmed:
    code: int  # repro.py's exit code: 1 the defect shows, 0 it does not, other: hls4ml failed
    stdout: str
    stderr: str
    observed: dict[str, np.ndarray] | None  # x, expected, got (None when the C-simulation aborted)

    @property
    def reproduced(self) -> bool:
        return self.code == 1 and 'DEFECT' in self.stdout

    @property
    def failed(self) -> bool:
        return not self.reproduced and self.code != 0


def clean_env() -> dict[str, str]:
    """The environment without anything that would put hlsdiff on the script's path."""
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'PYTHONSTARTUP', 'PYTHONHOME')}
    env.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
    env.setdefault('CUDA_VISIBLE_DEVICES', '-1')
    return env


def run(folder: Path, scratch: Path, python: str | None = None) -> Confirmed:
    """`python repro.py OBSERVED.npz` in `folder`; the arrays it compared come back through the npz."""
    observed = scratch / 'observed.npz'
    observed.unlink(missing_ok=True)
    proc = children.popen([python or sys.executable, 'repro.py', str(observed)], cwd=folder, env=clean_env(),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        err += f'\nrepro.py ran longer than {TIMEOUT:g} s and was stopped'
    finally:
        children.forget(proc)
    arrays = None
    if observed.exists():
        with np.load(observed) as f:
            arrays = {k: f[k] for k in f.files}
    return Confirmed(proc.returncode, out, err, arrays)
