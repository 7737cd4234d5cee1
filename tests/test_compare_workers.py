"""`compare --workers N` / `--scheduler`: the C-simulation's samples spread over a real Dask LocalCluster of 2
worker processes give the JSON figures one process gives (streamed in chunks: every statistic, the wrong
samples by their index in the whole set, top-1); the cut into chunks is the same however many run them (tests/test_stream.py)."""

from __future__ import annotations

import pytest

SAMPLES, CHUNK = 40, 8


def _figures(report: dict) -> dict:
    """The report without what says how it ran (timings, notes, versions)."""
    return {k: v for k, v in report.items() if k not in ('timings', 'notes', 'hlsdiff_version', 'hls4ml_version')}


@pytest.mark.slow
@pytest.mark.xdist_group('workers')
def test_two_workers_give_the_figures_of_one_process(hlsdiff, model_files, tmp_path):
    """A softmax classifier at a precision that gets some samples wrong: 40 samples in chunks of 8."""
    model, data = model_files('dense_softmax', n=SAMPLES)
    common = ['compare', model, data, '--precision', 'ap_fixed<8,3>', '--chunk', CHUNK]
    one = hlsdiff(*common, '--json', tmp_path / 'one.json')
    two = hlsdiff(*common, '--workers', 2, '--json', tmp_path / 'two.json')
    assert one.code in (0, 1) and two.code == one.code, two.stderr
    assert _figures(two.json) == _figures(one.json)
    out = one.json['outputs'][0]
    assert out['wrong_samples'] and max(out['wrong_samples']) >= CHUNK, out  # beyond the first chunk
    assert out['top1_agreement'] is not None


@pytest.mark.slow
@pytest.mark.xdist_group('workers')
def test_an_existing_scheduler_runs_the_samples(hlsdiff, model_files, tmp_path):
    """Unstreamed (fewer samples than a chunk): the whole arrays put back together in sample order."""
    from dask.distributed import LocalCluster

    model, data = model_files('dense_softmax', n=SAMPLES)
    common = ['compare', model, data, '--precision', 'ap_fixed<8,3>', '--samples', 12]
    one = hlsdiff(*common, '--json', tmp_path / 'one.json')
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        there = hlsdiff(*common, '--scheduler', cluster.scheduler_address, '--json', tmp_path / 'there.json')
    assert there.code == one.code, there.stderr
    assert _figures(there.json) == _figures(one.json)


@pytest.mark.slow
@pytest.mark.xdist_group('workers')
def test_a_csim_that_fails_on_a_worker_fails_the_compare_as_here(hlsdiff, model_files):
    """A C-simulation stopped by --timeout on a worker: the same one line and exit 3 as in one process, not a
    Dask error, and not run again."""
    model, data = model_files('dense_softmax', n=SAMPLES)
    run = hlsdiff('compare', model, data, '--chunk', CHUNK, '--workers', 2, '--timeout', 0.1, code=3)
    assert 'ran longer than --timeout' in run.stderr.splitlines()[0], run.stderr


def test_workers_and_scheduler_together_are_bad_input(hlsdiff, model_files):
    model, data = model_files('dense_softmax', n=SAMPLES)
    run = hlsdiff('compare', model, data, '--workers', 2, '--scheduler', 'tcp://127.0.0.1:1', code=2)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and 'give one of them' in lines[0]

