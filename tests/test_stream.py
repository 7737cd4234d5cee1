"""A streamed compare in one process (hlsdiff/trace/stream.py): the C-simulation runs at most a few shares ahead
of the chunk being read and every chunk's file is removed once read, so the chunks on disk stay few whatever
the sample count, and the figures are those of a C-simulation written whole before it is read."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from hlsdiff.trace import stream
from hlsdiff.trace.cluster_run import _shares
from hlsdiff.trace.stream import ArrivingRun, chunk_shares

SAMPLES, CHUNK = 240, 8  # 30 chunks


def _figures(report: dict) -> dict:
    """The report without what says how it ran (timings, notes, versions)."""
    return {k: v for k, v in report.items() if k not in ('timings', 'notes', 'hlsdiff_version', 'hls4ml_version')}


@pytest.fixture
def chunks_on_disk(monkeypatch):
    """A slow reader (as the framework's pass and the emulation are beside a fast C-simulation) that counts the
    chunk files in the run's folder each time it reads one: the largest count seen."""
    seen: list[int] = []
    read = ArrivingRun.read_chunk

    def slow_read(self, index):
        traces = read(self, index)
        folder = Path(self.chunks[0][2]).parents[1]
        seen.append(sum(1 for _ in folder.rglob('result-*')))
        time.sleep(0.05)
        return traces

    monkeypatch.setattr(ArrivingRun, 'read_chunk', slow_read)
    return seen


@pytest.mark.slow
def test_one_process_keeps_few_chunks_on_disk_and_the_same_figures(hlsdiff, model_files, tmp_path, monkeypatch,
                                                                    chunks_on_disk):
    """30 chunks of a softmax classifier at a precision that gets some samples wrong, read slowly: at most
    (2 processes + 1) shares of SHARE_CHUNKS chunks on disk at any read; with the C-simulation let run ahead to
    the end (one share of every chunk, as it ran before), most chunks wait on disk and the figures are
    the same."""
    model, data = model_files('dense_softmax', n=SAMPLES)
    common = ['compare', model, data, '--precision', 'ap_fixed<8,3>', '--chunk', CHUNK]
    bounded = hlsdiff(*common, '--json', tmp_path / 'bounded.json')
    bounded_seen, bound = list(chunks_on_disk), 3 * stream.SHARE_CHUNKS
    chunks_on_disk.clear()
    monkeypatch.setattr(stream, 'SHARE_CHUNKS', 10**6)
    whole = hlsdiff(*common, '--json', tmp_path / 'whole.json')
    assert bounded.code in (0, 1) and whole.code == bounded.code, bounded.stderr
    assert len(bounded_seen) == SAMPLES // CHUNK
    assert max(bounded_seen) <= bound < SAMPLES // CHUNK, bounded_seen
    assert max(chunks_on_disk) > bound, chunks_on_disk  # what the count shows of a C-simulation run ahead
    assert _figures(bounded.json) == _figures(whole.json)
    out = bounded.json['outputs'][0]
    assert out['wrong_samples'] and max(out['wrong_samples']) >= 4 * CHUNK, out  # beyond the first share


@pytest.mark.slow
def test_a_failing_share_fails_the_compare_with_its_line(hlsdiff, model_files):
    """--timeout stops the C-simulation of a streamed compare in one process: one line, exit 3."""
    model, data = model_files('dense_softmax', n=SAMPLES)
    run = hlsdiff('compare', model, data, '--chunk', CHUNK, '--timeout', 0.1, code=3)
    assert 'ran longer than --timeout' in run.stderr.splitlines()[0], run.stderr


def test_chunks_are_cut_at_the_same_samples_whatever_the_processes():
    for n, chunk in ((40, 8), (1000, 128), (129, 128), (300, 7)):
        grid = set(range(0, n, chunk)) | {n}
        for bounds in [chunk_shares(n, chunk, per) for per in (1, 4, 10**6)] + [_shares(n, w, chunk) for w in (1, 2, 5)]:
            assert bounds[0] == 0 and bounds[-1] == n and np.all(np.diff(bounds) > 0)
            assert set(bounds.tolist()) <= grid, (n, chunk, bounds)


def test_a_reader_never_waits_for_a_chunk_once_the_feeder_has_stopped():
    """A feeder that stops without announcing a chunk (and without a failure to hand on) makes the reader fail in
    one line, not wait for ever."""
    import threading

    from hlsdiff.errors import SimulationFailed

    arrivals = stream.Arrivals(2)
    arrivals.announce(0, time.perf_counter())
    arrivals.wait(0)  # announced: read at once
    threading.Timer(0.2, lambda: setattr(arrivals, 'ended', True)).start()
    with pytest.raises(SimulationFailed, match='ended without chunk 1 of 2'):
        arrivals.wait(1)
