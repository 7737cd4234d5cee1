"""A cache that cannot lie and stops that leave nothing behind (issue: damaged cache entries, signals,
an unusable cache, leftovers of killed runs, the compiler's own peak memory, the --project note)."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hlsdiff.csim import processes as children

pytestmark = pytest.mark.slow


def _compare(hlsdiff, model, data, cache, *args, code=None):
    return hlsdiff('compare', model, data, '--cache-dir', cache, *args, code=code)


def test_a_truncated_weights_file_in_a_cached_conversion_is_detected_and_converted_again(hlsdiff, model_files,
                                                                                      tmp_path):
    model, data = model_files('sequential_mlp')
    cache = tmp_path / 'cache'
    first = _compare(hlsdiff, model, data, cache)
    weights = next(cache.glob('conversions/*/project/firmware/weights/w2.txt'))
    weights.write_text(weights.read_text()[:20])
    second = _compare(hlsdiff, model, data, cache, code=first.code)
    assert any('cached conversion' in note and 'damaged' in note for note in second.json['notes'])
    assert second.layer('fc1')['max_abs'] == first.layer('fc1')['max_abs']


def test_a_damaged_library_and_header_are_rebuilt_with_a_note(hlsdiff, model_files, tmp_path):
    model, data = model_files('sequential_mlp')
    cache = tmp_path / 'cache'
    first = _compare(hlsdiff, model, data, cache)
    library = Path(first.json['timings']['library'])
    library.write_bytes(library.read_bytes()[:1000])
    second = _compare(hlsdiff, model, data, cache, code=first.code)
    assert any('cached library' in note and 'damaged' in note for note in second.json['notes'])
    assert second.json['timings']['build_cached'] is False
    assert second.layer('fc2')['max_abs'] == first.layer('fc2')['max_abs']
    headers = list(cache.glob('pch/*/hlsdiff_pch.h.gch'))
    if headers:  # the header exists when a core was idle to build it
        headers[0].write_bytes(b'garbage')
        library.unlink()
        third = _compare(hlsdiff, model, data, cache, code=first.code)
        assert any('precompiled header' in note and 'damaged' in note for note in third.json['notes'])


def test_short_weights_in_a_project_are_an_error_naming_the_file(hlsdiff, model_files, tmp_path):
    model, data = model_files('sequential_mlp')
    project = tmp_path / 'prj'
    _compare(hlsdiff, model, data, tmp_path / 'cache', '--output-dir', project)
    weights = project / 'firmware' / 'weights' / 'w4.txt'
    weights.write_text(','.join(weights.read_text().split(',')[:5]))
    run = _compare(hlsdiff, model, data, tmp_path / 'cache', '--project', project, code=3)
    assert 'weights/w4.txt holds 5 of 24 values' in run.stderr


def test_an_unusable_cache_means_a_compare_without_it(hlsdiff, model_files, tmp_path):
    model, data = model_files('sequential_mlp')
    blocker = tmp_path / 'a-file'
    blocker.write_text('not a folder')
    run = _compare(hlsdiff, model, data, blocker / 'hlsdiff')
    assert run.code in (0, 1)
    assert any('cannot be used' in note for note in run.json['notes'])
    assert blocker.read_text() == 'not a folder'


def test_no_home_puts_the_cache_in_the_temporary_folder(monkeypatch):
    from hlsdiff.csim.compile import default_cache_dir

    monkeypatch.delenv('XDG_CACHE_HOME', raising=False)
    monkeypatch.setenv('HOME', '')
    assert not str(default_cache_dir()).startswith('/.cache')


def _wait_for_compiler(pid: int, timeout: float = 900.0) -> bool:
    """True once a compiler runs under `pid` (a wait that ends as soon as one does: generous for a loaded machine)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for p in Path('/proc').iterdir():
            if not p.name.isdigit():
                continue
            try:
                if 'cc1plus' in (p / 'comm').read_text() and _descends(int(p.name), pid):
                    return True
            except OSError:
                continue
        time.sleep(0.1)
    return False


def _descends(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            stat = Path(f'/proc/{pid}/stat').read_text()
        except OSError:
            return False
        pid = int(stat.rsplit(')', 1)[1].split()[1])
    return False


def _compilers_of(tmp: str) -> list[str]:
    found = []
    for p in Path('/proc').iterdir():
        try:
            if p.name.isdigit() and tmp in (p / 'cmdline').read_text(errors='replace'):
                found.append(p.name)
        except OSError:
            pass
    return found


@pytest.mark.parametrize('sig, code', [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_the_build_kills_the_compilers_and_removes_the_temporary_files(model_files, tmp_path, sig,
                                                                                      code):
    model, data = model_files('float_cnn')
    env = {**os.environ, 'TMPDIR': str(tmp_path / 'tmp')}
    (tmp_path / 'tmp').mkdir()
    proc = subprocess.Popen([sys.executable, '-c', 'from hlsdiff.cli import entry; entry()', 'compare', str(model), str(data), '--no-cache',
                             '--io-type', 'io_parallel', '-q', '--opt-level', '2'],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        assert _wait_for_compiler(proc.pid), 'no compiler started'
        os.kill(proc.pid, sig)  # the process only, not its group
        # the stop does not wait for the build (that takes minutes at -O2 on a loaded machine); the bound is
        # generous so that a busy machine cannot fail it, a stop that waits for the compilers would still exceed it
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == code, err
    assert 'stopped by' in err and 'Traceback' not in err
    time.sleep(0.5)
    assert not _compilers_of(str(tmp_path / 'tmp'))
    assert not [p for p in (tmp_path / 'tmp').iterdir() if p.name.startswith('hlsdiff-')]


def test_leftovers_of_a_killed_run_are_counted_and_reclaimed(hlsdiff, tmp_path, monkeypatch):
    monkeypatch.setenv('TMPDIR', str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path))
    dead = 2**22 + 12345  # above pid_max's default: no such process
    left = tmp_path / f'hlsdiff-run-{dead}-abc'
    left.mkdir()
    (left / 'traces.npy').write_bytes(b'x' * 1000)
    cache = tmp_path / 'cache'
    (cache / f'build-0123abcd-{dead}-xyz').mkdir(parents=True)
    mine = tmp_path / f'hlsdiff-{os.getpid()}-live'
    mine.mkdir()
    shown = hlsdiff('cache', '--cache-dir', cache, code=0)
    assert 'left by runs that were killed: 2 folder(s)' in shown.stdout
    hlsdiff('cache', '--cache-dir', cache, '--clear', code=0)
    assert not left.exists() and not (cache / f'build-0123abcd-{dead}-xyz').exists()
    assert mine.exists()  # a run still alive keeps its folder


def test_build_peak_memory_is_the_compilers_not_hlsdiffs(hlsdiff, model_files, tmp_path):
    model, data = model_files('sequential_mlp')
    run = _compare(hlsdiff, model, data, tmp_path / 'cache', '--plain-build')
    peak = run.json['timings']['build_peak_rss_mb']
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # this process, TensorFlow loaded
    assert 20 < peak < own, (peak, own)


def test_project_option_does_not_warn_about_hls4ml_layer_names(hlsdiff, model_files, tmp_path):
    model, data = model_files('sequential_mlp')
    project = tmp_path / 'prj'
    _compare(hlsdiff, model, data, tmp_path / 'cache', '--output-dir', project)
    run = _compare(hlsdiff, model, data, tmp_path / 'cache', '--project', project)
    assert not any('does not have' in note for note in run.json['notes'])


def test_children_registry_kills_a_process_group():
    proc = children.popen(['sh', '-c', 'sleep 30 & sleep 30'])
    children.kill_all()
    assert proc.wait(timeout=5) != 0
    children.forget(proc)


def test_many_samples_stream_with_the_same_figures_and_full_traces(hlsdiff, model_files, tmp_path):
    """Beyond --chunk samples, Keras, the C-simulation and the emulation run chunk by chunk: every figure is
    the same as with all samples in memory, and --save-traces still holds every sample."""
    import numpy as np

    model, _ = model_files('sequential_mlp')
    data = tmp_path / 'many.npy'
    np.save(data, np.random.default_rng(2).normal(size=(300, 10)).astype(np.float32))
    streamed = hlsdiff('compare', model, data, '--chunk', 64, '--save-traces', tmp_path / 's.npz')
    whole = hlsdiff('compare', model, data, '--chunk', 512, '--save-traces', tmp_path / 'w.npz')
    assert any('streamed in chunks of 64' in note for note in streamed.json['notes'])
    # maxima and counts do not depend on the order of the samples: equal exactly; means and RMS are float sums
    # whose rounding depends on how the samples were chunked: equal to 1e-9 relative, as the README promises
    for a, b in zip(streamed.json['outputs'], whole.json['outputs']):
        assert {k: v for k, v in a.items() if k != 'mean_abs'} == {k: v for k, v in b.items() if k != 'mean_abs'}
        assert a['mean_abs'] == pytest.approx(b['mean_abs'], rel=1e-9), a['name']
    for a, b in zip(streamed.json['layers'], whole.json['layers']):
        for key in ('status', 'max_abs', 'max_lsb', 'mismatched_fraction', 'worst_index', 'emulation'):
            assert a[key] == b[key], (a['name'], key)
        for key in ('mean_abs', 'rmse'):
            assert a[key] == (None if b[key] is None else pytest.approx(b[key], rel=1e-9)), (a['name'], key)
    with np.load(tmp_path / 's.npz') as s, np.load(tmp_path / 'w.npz') as w:
        assert sorted(s.files) == sorted(w.files)
        for key in w.files:
            assert np.array_equal(s[key], w[key]), key
        assert s['fc2_softmax:csim'].shape[0] == 300
