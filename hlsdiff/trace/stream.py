"""A C-simulation streamed in chunks while it runs, and the reader's side of it.

The samples are cut into shares of whole chunks from sample 0 (the same chunks however many processes run
them, so the figures summed over chunks add up in the same order); here each share runs in a child process
of trace/run.py's, at most `shards` at once and at most one share per process ahead of the share being
read. The caller reads the chunks in sample order as they arrive (`ArrivingRun.read_chunk` waits for one
that is not there yet) and each chunk's file is removed once read: the chunks on disk stay few whatever the
sample count. The cluster (cluster_run.py) feeds the same reader from its workers.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hlsdiff.csim import processes as children
from hlsdiff.csim.compile import reap
from hlsdiff.errors import SimulationFailed
from hlsdiff.trace.run import CsimRun, CsimSettings, CsimTarget, check_statuses, private_copy, start_shard

SHARE_CHUNKS = 4  # chunks one child process runs here


def chunk_shares(n: int, chunk: int, per_share: int) -> np.ndarray:
    """Share boundaries: `per_share` whole chunks of `chunk` samples each, from sample 0."""
    return np.array([*range(0, n, per_share * chunk), n])


@dataclass(frozen=True)
class ArrivingRun(CsimRun):
    """A streamed run whose chunks arrive while they are read."""

    arrivals: Any = None  # Arrivals

    def read_chunk(self, index: int) -> dict[str, np.ndarray]:
        """The traces of one chunk (waiting for it), its file removed once read."""
        self._wait(index)
        try:
            return super().read_chunk(index)
        finally:
            self._consumed(index)

    def take(self, index: int) -> bytes:
        """One chunk's file as bytes (waiting for it), removed once read."""
        self._wait(index)
        try:
            return Path(self.chunks[index][2]).read_bytes()
        finally:
            self._consumed(index)

    def _wait(self, index: int) -> None:
        self.arrivals.wait(index)
        object.__setattr__(self, 'seconds', self.arrivals.seconds)  # the C-simulation's time and peak, so far
        object.__setattr__(self, 'peak_rss_mb', self.arrivals.peak_kb / 1024.0)

    def _consumed(self, index: int) -> None:
        Path(self.chunks[index][2]).unlink(missing_ok=True)
        self.arrivals.consumed(index)


class Arrivals:
    """Which chunks are there (one event each), how far the reader is, and a failure to hand on to it."""

    def __init__(self, count: int):
        self.events = [threading.Event() for _ in range(count)]
        self.read = 0  # chunks read so far
        self.error: BaseException | None = None
        self.halted = False
        self.ended = False  # the feeder has stopped: a chunk not announced by then never will be
        self.seconds = 0.0  # since the first share started, to the last chunk there
        self.peak_kb = 0  # the largest C-simulation process's

    def wait(self, index: int) -> None:
        while not self.events[index].wait(0.5):
            if children.stopping():
                self.halted = True
                raise SimulationFailed('the C-simulation was stopped')
            if self.ended and not self.events[index].is_set():  # a reader never waits for a chunk that cannot come
                raise SimulationFailed(f'the C-simulation ended without chunk {index} of {len(self.events)}')
        if self.error is not None:
            raise self.error

    def consumed(self, index: int) -> None:
        self.read = max(self.read, index + 1)

    def announce(self, index: int, started: float) -> None:
        self.seconds = time.perf_counter() - started
        self.events[index].set()

    def fail(self, error: BaseException) -> None:
        self.error = error
        for event in self.events:
            event.set()

    def halt(self) -> None:
        self.halted = True


def arriving_run(n: int, how: CsimSettings, folder: Path, name) -> ArrivingRun:
    """A run of `n` samples in chunks of `how.chunk`, chunk i's file at `folder / name(i)`; no chunk there yet."""
    chunk = int(how.chunk or n)
    chunks = tuple((lo, min(n, lo + chunk), str(folder / name(i))) for i, lo in enumerate(range(0, n, chunk)))
    arrivals = Arrivals(len(chunks))
    run = ArrivingRun({}, [], 0.0, 0.0, chunks, arrivals)
    weakref.finalize(run, arrivals.halt)  # a reader that gave up (the run dropped): nothing more is run
    return run


def stream_library(target: CsimTarget, inputs: tuple[np.ndarray, ...], how: CsimSettings,
                   folder: Path) -> ArrivingRun:
    """`run_library` streamed in chunks of `how.chunk` in `folder` (the caller removes it): returns at once,
    while a thread runs the shares in child processes (`how.shards` at once, one per core by default)."""
    n = int(inputs[0].shape[0])
    folder.mkdir(parents=True, exist_ok=True)
    run = arriving_run(n, how, folder,
                       lambda i: f'share{i // SHARE_CHUNKS:06d}/result-{i % SHARE_CHUNKS:05d}.npz')
    shards = how.shards or min(os.cpu_count() or 1, 2)
    threading.Thread(target=_Feed(run, target, inputs, how, folder, shards).run, daemon=True,
                     name='hlsdiff-csim-feed').start()
    return run


@dataclass
class _Share:
    index: int
    proc: Any
    folder: Path
    chunks: range  # the whole run's chunk numbers
    deadline: float | None


class _Feed:
    """Starts the shares in order, at most `shards` at once and at most `shards` shares beyond the one being
    read; announces each chunk once its file is there (a share's last once its process ended well)."""

    def __init__(self, run: ArrivingRun, target: CsimTarget, inputs: tuple[np.ndarray, ...], how: CsimSettings,
                 folder: Path, shards: int):
        self.target, self.inputs, self.how, self.folder, self.shards = target, inputs, how, folder, shards
        self.files = [path for _, _, path in run.chunks]  # not the run: once its reader drops it, the feed halts
        self.arrivals: Arrivals = run.arrivals
        self.bounds = chunk_shares(len(inputs[0]), int(how.chunk or 1), SHARE_CHUNKS)
        self.started = time.perf_counter()

    def run(self) -> None:
        running: list[_Share] = []
        ended: list[_Share] = []  # their folders removed once their chunks are read
        try:
            cwd = private_copy(self.folder, self.target.library, Path(self.target.firmware_dir))
            after, done = 0, 0  # the next share to start; the shares ended
            while done < len(self.bounds) - 1 and not self.arrivals.halted:
                while (after < len(self.bounds) - 1 and len(running) < self.shards
                       and after <= self.arrivals.read // SHARE_CHUNKS + self.shards):
                    running.append(self._start(after, cwd))
                    after += 1
                for share in list(running):
                    if self._poll(share, cwd):
                        running.remove(share)
                        ended.append(share)
                        done += 1
                for share in [s for s in ended if self.arrivals.read >= s.chunks.stop]:
                    shutil.rmtree(share.folder, ignore_errors=True)
                    ended.remove(share)
                if children.stopping():
                    raise SimulationFailed('the C-simulation was stopped')
                if self.how.progress is not None:
                    announced = sum(e.is_set() for e in self.arrivals.events)
                    self.how.progress((min(len(self.inputs[0]), announced * int(self.how.chunk or 1)),
                                       len(self.inputs[0])))
                time.sleep(0.02)
        except BaseException as exc:  # noqa: BLE001 - handed to the reader, which raises it
            self.arrivals.fail(exc)
        finally:
            for share in running:
                share.proc.kill()
                reap(share.proc, 0)
                children.forget(share.proc)
            self.arrivals.ended = True

    def _start(self, index: int, cwd: Path) -> _Share:
        lo, hi = int(self.bounds[index]), int(self.bounds[index + 1])
        folder = self.folder / f'share{index:06d}'
        proc, _ = start_shard(folder, cwd, self.target.function, [a[lo:hi] for a in self.inputs],
                               {'output_sizes': self.target.output_sizes, 'traced': self.target.traced,
                                'chunk': self.how.chunk})
        first = index * SHARE_CHUNKS
        chunks = range(first, min(first + SHARE_CHUNKS, len(self.files)))
        deadline = None if self.how.timeout is None else time.monotonic() + self.how.timeout
        return _Share(index, proc, folder, chunks, deadline)

    def _poll(self, share: _Share, cwd: Path) -> bool:
        """Announce what this share has written; True once it has ended (and all its chunks are announced)."""
        self.arrivals.peak_kb = max(self.arrivals.peak_kb, children.tree_peak_kb(share.proc.pid))
        pid, status, _ = reap(share.proc, os.WNOHANG)
        ended: int | None = status
        if not pid and share.deadline is not None and time.monotonic() > share.deadline:
            share.proc.kill()
            reap(share.proc, 0)
            pid, ended = share.proc.pid, None  # ran out of time
        if not pid:
            for i in share.chunks[:-1]:
                if not self.arrivals.events[i].is_set() and Path(self.files[i]).exists():
                    self.arrivals.announce(i, self.started)
            return False
        children.forget(share.proc)
        check_statuses([ended], [share.folder], cwd / 'weights', self.how.timeout, self.target.layer_by_index)
        for i in share.chunks:
            if not self.arrivals.events[i].is_set():
                if not Path(self.files[i]).exists():
                    raise SimulationFailed('the C-simulation stopped without all its results',
                                           detail=(share.folder / 'stderr.txt').read_text(errors='replace')[-2000:])
                self.arrivals.announce(i, self.started)
        return True
