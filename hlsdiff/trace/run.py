"""Run the built C-simulation library in a child process and read back every traced layer."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hlsdiff.cluster import ClusterSpec
from hlsdiff.csim import processes as children
from hlsdiff.csim.compile import DEFAULT_OPT_LEVEL, reap
from hlsdiff.errors import SimulationFailed

_ASSERT_RE = re.compile(r"(?P<file>[^\s:]+\.h):(?P<line>\d+): (?P<func>.*?): Assertion [`'](?P<expr>.*)' failed")


@dataclass(frozen=True)
class RunOptions:
    """How to build and run: everything that is not about the conversion itself."""

    samples: int | None = None
    project_dir: Path | None = None
    output_dir: Path | None = None
    opt_level: str = DEFAULT_OPT_LEVEL
    cache_dir: Path | None = None
    use_cache: bool = True
    timeout: float | None = None
    prepare_project: Callable[[Path], Any] | None = None  # run on the project before the build (the patcher)
    plain_build: bool = False  # compile as hls4ml writes it: no split top unit, no precompiled header
    chunk: int = 128  # samples held in memory at once; more samples stream through in chunks of this many
    spill: Path | None = None  # when streaming: write every sample's arrays here, layer by layer (--save-traces)
    cluster: ClusterSpec = ClusterSpec()  # --workers / --scheduler: the samples spread over a Dask cluster


@dataclass(frozen=True)
class CsimRun:
    traces: dict[str, np.ndarray]  # layer name -> (N, size), float64 (empty when streamed in chunks)
    outputs: list[np.ndarray]
    seconds: float
    peak_rss_mb: float
    chunks: tuple = ()  # ((first sample, end, result file), ...) when streamed (trace/stream.py)

    def read_chunk(self, index: int) -> dict[str, np.ndarray]:
        """The traces of one chunk: layer name -> (n, size)."""
        with np.load(self.chunks[index][2]) as res:
            return {k[len('trace:'):]: res[k] for k in res.files if k.startswith('trace:')}


@dataclass(frozen=True)
class CsimTarget:
    """A built C-simulation library: its file, the firmware folder it runs in, the function to call and
    what that function writes (its outputs' sizes, the traced layers' sizes, hls4ml's layer indices)."""

    library: Path
    firmware_dir: Path
    function: str
    output_sizes: list[int]
    traced: dict[str, int]
    layer_by_index: dict[int, str]


@dataclass(frozen=True)
class CsimSettings:
    """How to run it: the time limit (of each child process), the progress callback ((done, total) samples),
    the child processes (`shards`; one per core by default), streamed in chunks of `chunk` samples
    (trace/stream.py)."""

    timeout: float | None = None
    progress: Callable[[tuple[int, int]], Any] | None = None
    shards: int | None = None
    chunk: int | None = None


def run_library(target: CsimTarget, inputs: tuple[np.ndarray, ...], how: CsimSettings = CsimSettings()) -> CsimRun:
    """Run `target.function` of `target.library` on every sample, with `target.firmware_dir` as working directory.

    The samples are split over `how.shards` child processes (one per core, by default) that run
    at once; their traces are put back together in sample order.
    """
    library, firmware_dir, function = target.library, target.firmware_dir, target.function
    output_sizes, traced, layer_by_index = target.output_sizes, target.traced, target.layer_by_index
    timeout, progress, shards = how.timeout, how.progress, how.shards
    n = int(inputs[0].shape[0])
    if shards is None:
        shards = min(os.cpu_count() or 1, 2) if n >= 8 else 1
    bounds = share_bounds(n, shards)
    tmp = children.temp_dir('hlsdiff-run-')
    try:
        cwd = private_copy(tmp, library, Path(firmware_dir))
        started = time.perf_counter()
        running = [start_shard(tmp / f'shard{k}', cwd, function, [a[lo:hi] for a in inputs],
                                {'output_sizes': output_sizes, 'traced': traced})
                   for k, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:]))]
        try:
            statuses, peak_kb = _wait_all(running, timeout, progress)
        finally:
            for proc, _ in running:
                if proc.returncode is None:
                    proc.kill()
                    reap(proc, 0)
                children.forget(proc)
        seconds = time.perf_counter() - started
        check_statuses(statuses, [shard for _, shard in running], cwd / 'weights', timeout, layer_by_index)
        parts = _whole_results([shard for _, shard in running])
        peak_kb = max([peak_kb] + [int(part.get('peak_kb', 0)) for part in parts])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    traces = {k[len('trace:'):]: np.concatenate([p[k] for p in parts]) for k in parts[0] if k.startswith('trace:')}
    outputs = [np.concatenate([p[f'output:{k}'] for p in parts]) for k in range(len(output_sizes))]
    return CsimRun(traces, outputs, seconds, peak_kb / 1024.0)


def share_bounds(n: int, shares: int) -> np.ndarray:
    """Where `n` samples are cut into (at most) `shares` runs."""
    bounds = np.linspace(0, n, max(1, shares) + 1)
    out = np.unique(bounds.astype(int))
    return out if len(out) > 1 else np.array([0, n])


def private_copy(tmp: Path, library: Path, firmware_dir: Path) -> Path:
    """A private copy of the library and the weights it reads (`hlsdiff cache --clear`, or the cache's
    size limit, during the run cannot take them away); returns the children's working directory."""
    shutil.copyfile(library, tmp / 'lib.so')
    cwd = tmp / 'firmware'
    cwd.mkdir()
    if (firmware_dir / 'weights').is_dir():
        shutil.copytree(firmware_dir / 'weights', cwd / 'weights')
    return cwd


def start_shard(shard: Path, cwd: Path, function: str, inputs: list[np.ndarray], spec: dict):
    """One child process running `function` of the private library on `inputs`; (process, its folder)."""
    shard.mkdir()
    in_paths = []
    for j, arr in enumerate(inputs):
        p = shard / f'input{j}.npy'
        np.save(p, np.ascontiguousarray(arr.reshape(arr.shape[0], -1), dtype=np.float64))
        in_paths.append(str(p))
    spec = dict(spec, library=str(cwd.parent / 'lib.so'), function=function, inputs=in_paths,
                result=str(shard / 'result.npz'))
    (shard / 'spec.json').write_text(json.dumps(spec))
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([str(Path(__file__).resolve().parents[2]), env.get('PYTHONPATH', '')])
    with open(shard / 'stderr.txt', 'wb') as err, open(shard / 'stdout.txt', 'wb') as out:
        proc = children.popen([sys.executable, '-m', 'hlsdiff.trace.csim_runner', str(shard / 'spec.json')],
                              cwd=cwd, stdout=out, stderr=err, env=env)
    return proc, shard


def check_statuses(statuses, shards: list[Path], weights: Path, timeout, layer_by_index) -> None:
    """Raise SimulationFailed for a shard that failed, ran out of time or read too few weights."""
    logs = [(shard / 'stderr.txt').read_text(errors='replace') for shard in shards]
    for status, stderr in zip(statuses, logs):  # a shard that failed explains the others' stop
        if status is not None and os.waitstatus_to_exitcode(status) != 0:
            raise _failure(os.waitstatus_to_exitcode(status), stderr, layer_by_index)
    if any(status is None for status in statuses):
        raise SimulationFailed(f'the C-simulation ran longer than --timeout {timeout:g} s and was stopped',
                               detail=_tail(logs[0]))
    short = _short_weights(logs, weights)
    if short:
        raise SimulationFailed(f'the C-simulation read too few weights: {short}; the project\'s weights '
                               'are damaged (a cached conversion: `hlsdiff cache --clear`)', detail=_tail(logs[0]))


def _whole_results(shards: list[Path]) -> list[dict[str, np.ndarray]]:
    parts = []
    for shard in shards:
        if not (shard / 'result.npz').exists():
            raise SimulationFailed('the C-simulation stopped without its results',
                                   detail=_tail((shard / 'stderr.txt').read_text(errors='replace')))
        with np.load(shard / 'result.npz') as res:
            parts.append({k: res[k] for k in res.files})
    return parts


def _wait_all(shards, timeout, progress):
    """Wait for every child; on timeout kill the rest. Returns (wait statuses or None, peak RSS kB)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    statuses: list = [None] * len(shards)
    done = [False] * len(shards)
    peak = 0
    while not all(done):
        for i, (proc, _) in enumerate(shards):
            if done[i]:
                continue
            peak = max(peak, children.tree_peak_kb(proc.pid))
            pid, status, _ = reap(proc, os.WNOHANG)
            if pid:
                statuses[i], done[i] = status, True
                if proc.returncode != 0:  # one shard failed: the others cannot help
                    _kill_rest(shards, done)
                    return statuses, peak
        if children.stopping():
            raise SimulationFailed('the C-simulation was stopped')
        if deadline is not None and time.monotonic() > deadline:
            for i, (proc, _) in enumerate(shards):
                if not done[i]:
                    proc.kill()
                    reap(proc, 0)
            return [None if not d else s for d, s in zip(done, statuses)], peak
        if progress is not None:
            counts = [c for _, shard in shards if (c := _last_progress(shard / 'stderr.txt')) is not None]
            if len(counts) == len(shards):
                progress((sum(c[0] for c in counts), sum(c[1] for c in counts)))
        time.sleep(0.02)
    return statuses, peak


def _kill_rest(shards, done) -> None:
    for i, (proc, _) in enumerate(shards):
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


_SHORT_RE = re.compile(r'ERROR: Expected (\d+) values but read only (\d+) values')


def _short_weights(logs: list[str], weights: Path) -> str:
    """hls4ml's loader prints this and goes on with zeros: name the file(s) it read short."""
    for log in logs:
        m = _SHORT_RE.search(log)
        if not m:
            continue
        expected, got = int(m.group(1)), int(m.group(2))
        if got >= expected:  # more values than the array: hls4ml's own generator (patch's defect 3)
            continue
        named = []
        for path in sorted(weights.glob('*.txt')):
            try:
                text = path.read_text(errors='replace').split('\n', 1)[0]
            except OSError:
                continue
            if text.count(',') + 1 == got or (got == 0 and not text.strip()):
                named.append(path.name)
        where = f'weights/{", weights/".join(named)}' if named else 'a weights file'
        return f'{where} holds {got} of {expected} values'
    return ''


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
