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
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hlsdiff.cluster import RETRIES, ClusterSpec, client_for, workers_of
from hlsdiff.csim import processes as children
from hlsdiff.errors import SimulationFailed
from hlsdiff.trace.run import CsimRun, CsimSettings, CsimTarget, run_library, share_bounds
from hlsdiff.trace.stream import Arrivals, ArrivingRun, arriving_run, chunk_shares, stream_library

SHARES_PER_WORKER = 4  # shares per worker, so that a slow or lost worker holds up little
MAX_CHUNKS_PER_SHARE = 8  # a share's chunks travel back together: this bounds a worker's memory
AHEAD_PER_WORKER = 2  # shares submitted per worker beyond the one being read: this bounds the chunks on disk


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
                   cluster: ClusterSpec, folder: Path | None = None) -> CsimRun:
    """`run_library` on the cluster: the same CsimRun. Streamed (into `folder`), it returns at once: the shares
    run while the caller reads the chunks in order (trace/stream.py's reader: `read_chunk` waits for one that
    has not come back yet, and removes its file once read); a few shares run ahead of the reader, so the
    chunks on disk stay few."""
    if how.chunk and folder is not None:
        return _arriving(target, inputs, how, cluster, folder)
    started = time.perf_counter()
    with client_for(cluster) as client:
        bounds = share_bounds(len(inputs[0]), min(len(inputs[0]), workers_of(client)))
        build = client.scatter(ship(target), broadcast=True, hash=False)
        futures = [_submit(client, build, inputs, int(lo), int(hi), how) for lo, hi in zip(bounds[:-1], bounds[1:])]
        results = _gather(futures, len(inputs[0]), how)
    parts = [r.whole or {} for r in results]
    traces = {k[len('trace:'):]: np.concatenate([p[k] for p in parts]) for k in parts[0] if k.startswith('trace:')}
    outputs = [np.concatenate([p[f'output:{k}'] for p in parts]) for k in range(len(target.output_sizes))]
    peak = max((r.peak_kb for r in results), default=0) / 1024.0
    return CsimRun(traces, outputs, time.perf_counter() - started, peak)


def _submit(client: Any, build: Any, inputs: tuple[np.ndarray, ...], lo: int, hi: int, how: CsimSettings) -> Any:
    share = client.scatter([np.ascontiguousarray(a[lo:hi]) for a in inputs], hash=False)
    return client.submit(run_share, build, lo, share, how.chunk, how.timeout, pure=False, retries=RETRIES)


def _arriving(target: CsimTarget, inputs: tuple[np.ndarray, ...], how: CsimSettings, cluster: ClusterSpec,
              folder: Path) -> ArrivingRun:
    """The chunks' files named up front (whole chunks from sample 0, as one process cuts them); a thread feeds
    the shares to the cluster and writes each chunk as it comes back."""
    folder.mkdir(parents=True, exist_ok=True)
    run = arriving_run(len(inputs[0]), how, folder, lambda i: f'result-{i:06d}.npz')
    threading.Thread(target=_feed, args=(run.arrivals, run.chunks, target, inputs, how, cluster), daemon=True,
                     name='hlsdiff-cluster-feed').start()
    return run


def _feed(arrivals: Arrivals, chunks: tuple, target: CsimTarget, inputs: tuple[np.ndarray, ...], how: CsimSettings,
          cluster: ClusterSpec) -> None:
    """Shares submitted in order, at most AHEAD_PER_WORKER per worker beyond the reader; each chunk written and
    announced as its share comes back; a failure handed to the reader."""
    from dask.distributed import wait

    n, chunk = len(inputs[0]), int(how.chunk or 1)
    started = time.perf_counter()
    try:
        with client_for(cluster) as client:
            workers = workers_of(client)
            bounds = _shares(n, workers, chunk)
            per_share = max(1, int(bounds[1] - bounds[0]) // chunk)
            build = client.scatter(ship(target), broadcast=True, hash=False)
            pending: set = set()
            submitted = 0
            while (submitted < len(bounds) - 1 or pending) and not arrivals.halted:
                while submitted < len(bounds) - 1 and submitted < arrivals.read // per_share + AHEAD_PER_WORKER * workers:
                    pending.add(_submit(client, build, inputs, int(bounds[submitted]), int(bounds[submitted + 1]), how))
                    submitted += 1
                try:
                    finished, pending = wait(pending, timeout=0.5, return_when='FIRST_COMPLETED')
                except TimeoutError:  # none finished in the last half second
                    continue
                for future in finished:
                    _arrived(arrivals, chunks, future.result(), started)
                    future.release()
                if how.progress is not None:
                    how.progress((sum(e.is_set() for e in arrivals.events) * chunk, n))
    except BaseException as exc:  # noqa: BLE001 - handed to the reader, which raises it
        arrivals.fail(exc)
    finally:
        arrivals.ended = True


def _arrived(arrivals: Arrivals, chunks: tuple, result: ShareResult, started: float) -> None:
    """One share's chunks written where the run names them, and announced."""
    if result.failure is not None:
        message, detail, layer = result.failure
        raise SimulationFailed(message, detail=detail, layer=layer)
    index = {lo: i for i, (lo, _, _) in enumerate(chunks)}
    arrivals.peak_kb = max(arrivals.peak_kb, result.peak_kb)
    for lo, _, data in result.chunks:
        i = index[lo]
        path = Path(chunks[i][2])
        tmp = path.with_name(f'.{path.name}.part')
        tmp.write_bytes(data)
        tmp.replace(path)
        arrivals.announce(i, started)


def _shares(n: int, workers: int, chunk: int) -> np.ndarray:
    """Share boundaries: whole chunks (at most MAX_CHUNKS_PER_SHARE), about SHARES_PER_WORKER per worker."""
    chunks = -(-n // chunk)
    return chunk_shares(n, chunk, min(MAX_CHUNKS_PER_SHARE, max(1, -(-chunks // (workers * SHARES_PER_WORKER)))))


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
            done_samples += _rows(result)
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
        if chunk:
            streamed = stream_library(target, tuple(inputs), CsimSettings(timeout=timeout, shards=1, chunk=chunk),
                                      workdir)
            chunks = tuple((first + lo, first + hi, streamed.take(i)) for i, (lo, hi, _) in enumerate(streamed.chunks))
            return ShareResult(chunks=chunks, peak_kb=int(streamed.peak_rss_mb * 1024))
        run = run_library(target, tuple(inputs), CsimSettings(timeout=timeout, shards=1))
        peak = int(run.peak_rss_mb * 1024)
        whole = {f'trace:{k}': v for k, v in run.traces.items()}
        whole.update({f'output:{k}': v for k, v in enumerate(run.outputs)})
        return ShareResult(whole=whole, peak_kb=peak)
    except SimulationFailed as exc:  # a value, not an exception: Dask would run a failing C-simulation again
        return ShareResult(failure=(exc.message, exc.detail, exc.layer))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
