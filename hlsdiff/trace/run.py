"""Run the built C-simulation library in a child process and read back every traced layer."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hlsdiff.errors import SimulationFailed

_ASSERT_RE = re.compile(r"(?P<file>[^\s:]+\.h):(?P<line>\d+): (?P<func>.*?): Assertion [`'](?P<expr>.*)' failed")


@dataclass(frozen=True)
class CsimRun:
    traces: dict[str, np.ndarray]  # layer name -> (N, size), float64
    outputs: list[np.ndarray]
    seconds: float
    peak_rss_mb: float


def run_library(
    library: Path,
    firmware_dir: Path,
    function: str,
    inputs: tuple[np.ndarray, ...],
    output_sizes: list[int],
    traced: dict[str, int],
    layer_by_index: dict[int, str],
    timeout: float | None = None,
    progress=None,
) -> CsimRun:
    """Run `function` of `library` on every sample, with `firmware_dir` as working directory."""
    with tempfile.TemporaryDirectory(prefix='hlsdiff-run-') as tmp:
        tmp = Path(tmp)
        in_paths = []
        for k, arr in enumerate(inputs):
            p = tmp / f'input{k}.npy'
            np.save(p, np.ascontiguousarray(arr.reshape(arr.shape[0], -1), dtype=np.float64))
            in_paths.append(str(p))
        spec = {
            'library': str(Path(library).resolve()),
            'function': function,
            'inputs': in_paths,
            'output_sizes': output_sizes,
            'traced': traced,
            'result': str(tmp / 'result.npz'),
        }
        (tmp / 'spec.json').write_text(json.dumps(spec))
        stderr_path = tmp / 'stderr.txt'
        started = time.perf_counter()
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join([str(Path(__file__).resolve().parents[2]), env.get('PYTHONPATH', '')])
        with open(stderr_path, 'wb') as err, open(tmp / 'stdout.txt', 'wb') as out:
            proc = subprocess.Popen(
                [sys.executable, '-m', 'hlsdiff.trace.csim_runner', str(tmp / 'spec.json')],
                cwd=firmware_dir,
                stdout=out,
                stderr=err,
                env=env,
            )
            status, usage = _wait(proc, timeout, stderr_path, progress)
        seconds = time.perf_counter() - started
        stderr = stderr_path.read_text(errors='replace')
        if status is None:
            raise SimulationFailed(
                f'the C-simulation ran longer than --timeout {timeout:g} s and was stopped',
                detail=_tail(stderr),
            )
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            raise _failure(code, stderr, layer_by_index)
        with np.load(tmp / 'result.npz') as res:
            traces = {k[len('trace:'):]: res[k] for k in res.files if k.startswith('trace:')}
            outputs = [res[f'output:{k}'] for k in range(len(output_sizes))]
    return CsimRun(traces, outputs, seconds, usage.ru_maxrss / 1024.0)


def _wait(proc, timeout, stderr_path, progress):
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return status, usage
        if deadline is not None and time.monotonic() > deadline:
            proc.kill()
            _, _, usage = os.wait4(proc.pid, 0)
            proc.returncode = -9
            return None, usage
        if progress is not None:
            progress(_last_progress(stderr_path))
        time.sleep(0.02)


def _last_progress(path: Path) -> tuple[int, int] | None:
    try:
        lines = [ln for ln in path.read_text(errors='replace').splitlines() if ln.startswith('progress ')]
    except OSError:
        return None
    if not lines:
        return None
    _, done, total = lines[-1].split()
    return int(done), int(total)


def _tail(text: str, n: int = 15) -> str:
    return '\n'.join(text.strip().splitlines()[-n:])


def _failure(code: int, stderr: str, layer_by_index: dict[int, str]) -> SimulationFailed:
    """Turn a dead child into one line: the assertion and the layer whose kernel asserted."""
    match = _ASSERT_RE.search(stderr)
    if match:
        layer = None
        for idx in re.findall(r'config(\d+)\b', match.group('func')):
            if int(idx) in layer_by_index:
                layer = layer_by_index[int(idx)]
                break
        where = f' in layer {layer}' if layer else ''
        kernel = Path(match.group('file')).name
        known = ''
        if kernel.startswith('nnet_sepconv') and ('depth multiplier' in match.group('expr') or 'Resource' in match.group('expr')):
            known = ' — a known hls4ml 1.3.0 depthwise defect: `hlsdiff patch` (or compare --patch) repairs it'
        return SimulationFailed(
            f"C++ assertion failed{where}: `{match.group('expr')}` ({kernel}:{match.group('line')}){known}",
            detail=_tail(stderr),
            layer=layer,
        )
    if code < 0:
        name = signal.Signals(-code).name
        return SimulationFailed(f'the C-simulation crashed with {name}', detail=_tail(stderr))
    lines = [ln for ln in stderr.strip().splitlines() if not ln.startswith('progress ')]
    first = lines[-1] if lines else f'exit status {code}'
    return SimulationFailed(f'the C-simulation failed: {first}', detail=_tail(stderr))
