"""`compare --workers N` / `--scheduler ADDRESS`: the C-simulation's samples spread over a Dask cluster.

Every worker runs the same built library (its bytes and the weights it reads are shipped once to every
worker: a worker of a batch cluster may not see the cache) on its shares of the samples, in child processes
as one compare does (trace/run.py). A share is whole chunks, cut at the same places as one process cuts
them (`share_bounds`), and the chunks come back to this process, which streams them in sample order through
the same statistics, emulation and rounding check: every figure is the one a single process gives, summed
in the same order. A worker that dies loses its share only: Dask runs it again elsewhere.
"""

from __future__ import annotations

import atexit
import hashlib
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hlsdiff.cluster import RETRIES, ClusterSpec, client_for, workers_of
from hlsdiff.csim import processes as children
from hlsdiff.errors import SimulationFailed
from hlsdiff.trace.run import CsimRun, CsimSettings, CsimTarget, run_library, share_bounds

SHARES_PER_WORKER = 4  # shares per worker, so that a slow or lost worker holds up little
MAX_CHUNKS_PER_SHARE = 8  # a share's chunks travel back together: this bounds a worker's memory


@dataclass(frozen=True)
class ShippedBuild:
    """The library and what it reads, as bytes: what every worker needs, scattered once."""

    digest: str
    library: bytes
    weights: dict[str, bytes]  # file name -> bytes, of firmware/weights/
    function: str
    output_sizes: tuple[int, ...]
    traced: dict[str, int]
    layer_by_index: dict[int, str]


@dataclass(frozen=True)
class ShareResult:
    """One share's C-simulation: its chunk files' bytes (streamed) or its arrays (whole), or the failure."""

    chunks: tuple[tuple[int, int, bytes], ...] = ()  # (first sample, end, .npz bytes), whole-set sample numbers
    whole: dict[str, np.ndarray] | None = None  # 'trace:<layer>' / 'output:<k>' -> (n, size)
    peak_kb: int = 0
    failure: tuple[str, str, str | None] | None = None  # SimulationFailed's message, detail, layer


def ship(target: CsimTarget) -> ShippedBuild:
    library = Path(target.library).read_bytes()
    folder = Path(target.firmware_dir) / 'weights'
    weights = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()} if folder.is_dir() else {}
    digest = hashlib.sha256(library + b''.join(weights.values())).hexdigest()
    return ShippedBuild(digest, library, weights, target.function, tuple(target.output_sizes), dict(target.traced),
                        dict(target.layer_by_index))


def run_on_cluster(target: CsimTarget, inputs: tuple[np.ndarray, ...], how: CsimSettings,
                   cluster: ClusterSpec) -> CsimRun:
    """`run_library` on the cluster: the same CsimRun (chunk files in `how.workdir` when streamed)."""
    started = time.perf_counter()
    n = int(inputs[0].shape[0])
    with client_for(cluster) as client:
        bounds = _shares(n, workers_of(client), how.chunk)
        build = client.scatter(ship(target), broadcast=True, hash=False)
        futures = []
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            share = client.scatter([np.ascontiguousarray(a[lo:hi]) for a in inputs], hash=False)
            futures.append(client.submit(run_share, build, int(lo), share, how.chunk, how.timeout,
                                         pure=False, retries=RETRIES))
        results = _gather(futures, n, how)
    seconds = time.perf_counter() - started
    peak = max((r.peak_kb for r in results), default=0) / 1024.0
    if how.chunk:
        return CsimRun({}, [], seconds, peak, _write_chunks(results, Path(how.workdir or tempfile.mkdtemp())))
    parts = [r.whole or {} for r in results]
    traces = {k[len('trace:'):]: np.concatenate([p[k] for p in parts]) for k in parts[0] if k.startswith('trace:')}
    outputs = [np.concatenate([p[f'output:{k}'] for p in parts]) for k in range(len(target.output_sizes))]
    return CsimRun(traces, outputs, seconds, peak)


def _shares(n: int, workers: int, chunk: int | None) -> np.ndarray:
    """Share boundaries: whole chunks (at most MAX_CHUNKS_PER_SHARE), about SHARES_PER_WORKER per worker."""
    if not chunk:
        return share_bounds(n, min(n, workers))
    chunks = -(-n // chunk)
    per_share = min(MAX_CHUNKS_PER_SHARE, max(1, -(-chunks // (workers * SHARES_PER_WORKER))))
    return np.array([*range(0, n, per_share * chunk), n])


def _gather(futures: list, n: int, how: CsimSettings) -> list[ShareResult]:
    """The shares' results in sample order, as they finish (progress in samples); a stop stops them."""
    from dask.distributed import wait

    order = {f.key: i for i, f in enumerate(futures)}
    results: list[ShareResult | None] = [None] * len(futures)
    pending, done_samples = set(futures), 0
    while pending:
        try:
            finished, pending = wait(pending, timeout=0.5, return_when='FIRST_COMPLETED')
        except TimeoutError:  # none finished in the last half second
            finished = set()
        for future in finished:
            result = future.result()
            if result.failure is not None:
                message, detail, layer = result.failure
                raise SimulationFailed(message, detail=detail, layer=layer)
            results[order[future.key]] = result
            done_samples += sum(hi - lo for lo, hi, _ in result.chunks) or _rows(result)
            future.release()
        if children.stopping():
            for future in pending:
                future.cancel()
            raise SimulationFailed('the C-simulation was stopped')
        if how.progress is not None:
            how.progress((done_samples, n))
    return [r for r in results if r is not None]


def _rows(result: ShareResult) -> int:
    return next((int(v.shape[0]) for v in (result.whole or {}).values() if v.ndim >= 1), 0)


def _write_chunks(results: list[ShareResult], folder: Path) -> tuple:
    """The chunks' bytes into files as one process's run leaves them: (first sample, end, file), in order."""
    folder.mkdir(parents=True, exist_ok=True)
    found = []
    for lo, hi, data in (c for r in results for c in r.chunks):
        path = folder / f'result-{lo:09d}.npz'
        path.write_bytes(data)
        found.append((lo, hi, str(path)))
    return tuple(found)


# ---- on a worker ------------------------------------------------------------------------------------------

_BUILDS: dict[str, Path] = {}  # this worker's copy of each shipped build, by digest


@atexit.register
def _remove_builds() -> None:
    for folder in _BUILDS.values():
        shutil.rmtree(folder, ignore_errors=True)


def _materialised(build: ShippedBuild) -> Path:
    """The shipped library and weights as files on this worker (written once per worker)."""
    if build.digest not in _BUILDS:
        folder = Path(tempfile.mkdtemp(prefix='hlsdiff-worker-build-'))
        (folder / 'firmware' / 'weights').mkdir(parents=True)
        (folder / 'lib.so').write_bytes(build.library)
        for name, data in build.weights.items():
            (folder / 'firmware' / 'weights' / name).write_bytes(data)
        _BUILDS[build.digest] = folder
    return _BUILDS[build.digest]


def run_share(build: ShippedBuild, first: int, inputs: list[np.ndarray], chunk: int | None,
              timeout: float | None) -> ShareResult:
    """One share of the samples through the shipped library, in one child process (a worker has one core)."""
    folder = _materialised(build)
    target = CsimTarget(folder / 'lib.so', folder / 'firmware', build.function, list(build.output_sizes),
                        build.traced, build.layer_by_index)
    workdir = Path(tempfile.mkdtemp(prefix='hlsdiff-worker-run-'))
    try:
        run = run_library(target, tuple(inputs), CsimSettings(timeout=timeout, shards=1, chunk=chunk,
                                                             workdir=workdir / 'run'))
        peak = int(run.peak_rss_mb * 1024)
        if chunk:
            chunks = tuple((first + lo, first + hi, Path(f).read_bytes()) for lo, hi, f in run.chunks)
            return ShareResult(chunks=chunks, peak_kb=peak)
        whole = {f'trace:{k}': v for k, v in run.traces.items()}
        whole.update({f'output:{k}': v for k, v in enumerate(run.outputs)})
        return ShareResult(whole=whole, peak_kb=peak)
    except SimulationFailed as exc:  # a value, not an exception: Dask would run a failing C-simulation again
        return ShareResult(failure=(exc.message, exc.detail, exc.layer))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
