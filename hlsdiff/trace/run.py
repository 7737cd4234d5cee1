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
from hlsdiff.trace.build import reap

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
    shards: int | None = None,
) -> CsimRun:
    """Run `function` of `library` on every sample, with `firmware_dir` as working directory.

    The samples are split over `shards` child processes (one per core, by default) that run
    at once; their traces are put back together in sample order.
    """
    n = int(inputs[0].shape[0])
    if shards is None:
        shards = min(os.cpu_count() or 1, 2) if n >= 8 else 1
    bounds = np.linspace(0, n, shards + 1).astype(int)
    with tempfile.TemporaryDirectory(prefix='hlsdiff-run-') as tmp:
        tmp = Path(tmp)
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join([str(Path(__file__).resolve().parents[2]), env.get('PYTHONPATH', '')])
        started = time.perf_counter()
        children = []
        for k, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
            shard = tmp / f'shard{k}'
            shard.mkdir()
            in_paths = []
            for j, arr in enumerate(inputs):
                p = shard / f'input{j}.npy'
                np.save(p, np.ascontiguousarray(arr[lo:hi].reshape(hi - lo, -1), dtype=np.float64))
                in_paths.append(str(p))
            spec = {'library': str(Path(library).resolve()), 'function': function, 'inputs': in_paths,
                    'output_sizes': output_sizes, 'traced': traced, 'result': str(shard / 'result.npz')}
            (shard / 'spec.json').write_text(json.dumps(spec))
            with open(shard / 'stderr.txt', 'wb') as err, open(shard / 'stdout.txt', 'wb') as out:
                proc = subprocess.Popen([sys.executable, '-m', 'hlsdiff.trace.csim_runner', str(shard / 'spec.json')],
                                        cwd=firmware_dir, stdout=out, stderr=err, env=env)
            children.append((proc, shard))
        statuses, peak_kb = _wait_all(children, timeout, progress)
        seconds = time.perf_counter() - started
        logs = [(shard / 'stderr.txt').read_text(errors='replace') for _, shard in children]
        for status, stderr in zip(statuses, logs):  # a shard that failed explains the others' stop
            if status is not None and os.waitstatus_to_exitcode(status) != 0:
                raise _failure(os.waitstatus_to_exitcode(status), stderr, layer_by_index)
        if any(status is None for status in statuses):
            raise SimulationFailed(f'the C-simulation ran longer than --timeout {timeout:g} s and was stopped',
                                   detail=_tail(logs[0]))
        parts = []
        for _, shard in children:
            if not (shard / 'result.npz').exists():
                raise SimulationFailed('the C-simulation stopped without its results',
                                       detail=_tail((shard / 'stderr.txt').read_text(errors='replace')))
            with np.load(shard / 'result.npz') as res:
                parts.append({k: res[k] for k in res.files})
    traces = {k[len('trace:'):]: np.concatenate([p[k] for p in parts]) for k in parts[0] if k.startswith('trace:')}
    outputs = [np.concatenate([p[f'output:{k}'] for p in parts]) for k in range(len(output_sizes))]
    return CsimRun(traces, outputs, seconds, peak_kb / 1024.0)


def _wait_all(children, timeout, progress):
    """Wait for every child; on timeout kill the rest. Returns (wait statuses or None, peak RSS kB)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    statuses: list = [None] * len(children)
    done = [False] * len(children)
    peak = 0
    while not all(done):
        for i, (proc, _) in enumerate(children):
            if done[i]:
                continue
            pid, status, rss = reap(proc, os.WNOHANG)
            if pid:
                statuses[i], done[i] = status, True
                peak = max(peak, rss)
                if proc.returncode != 0:  # one shard failed: the others cannot help
                    _kill_rest(children, done)
                    return statuses, peak
        if deadline is not None and time.monotonic() > deadline:
            for i, (proc, _) in enumerate(children):
                if not done[i]:
                    proc.kill()
                    peak = max(peak, reap(proc, 0)[2])
            return [None if not d else s for d, s in zip(done, statuses)], peak
        if progress is not None:
            counts = [_last_progress(shard / 'stderr.txt') for _, shard in children]
            if all(counts):
                progress((sum(c[0] for c in counts), sum(c[1] for c in counts)))
        time.sleep(0.02)
    return statuses, peak


def _kill_rest(children, done) -> None:
    for i, (proc, _) in enumerate(children):
        if not done[i]:
            proc.kill()
            reap(proc, 0)
            done[i] = True


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
