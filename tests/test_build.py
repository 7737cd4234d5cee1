"""The build cache: bounded, clearable, keyed by what goes in, safe for two compares at once."""

from __future__ import annotations

import os
import threading
import time

import pytest

from hlsdiff.csim import compile as build_mod


def _fake_libs(folder, sizes):
    paths = []
    for i, size in enumerate(sizes):
        p = folder / f'{i:032x}.so'
        p.write_bytes(b'\0' * size)
        os.utime(p, (time.time() - 100 + i, time.time() - 100 + i))
        paths.append(p)
    return paths


def test_trim_drops_least_recently_used_first(tmp_path):
    libs = _fake_libs(tmp_path, [100, 100, 100, 100])
    build_mod._trim(tmp_path, max_bytes=250, keep=libs[0])
    assert [p.exists() for p in libs] == [True, False, False, True]


def test_cache_usage_and_clear(hlsdiff, tmp_path):
    _fake_libs(tmp_path, [10, 20])
    (tmp_path / 'logs').mkdir()
    header = tmp_path / 'pch' / ('ab' * 16)
    header.mkdir(parents=True)
    (header / 'hlsdiff_pch.h.gch').write_bytes(b'\0' * 70)
    (tmp_path / 'pch' / 'tmp-unfinished').mkdir()  # a header being built is not counted
    assert build_mod.cache_usage(tmp_path) == (2, 1, 100)
    run = hlsdiff('cache', '--cache-dir', tmp_path, code=0)
    assert '2 libraries, 1 precompiled headers' in run.stdout
    run = hlsdiff('cache', '--cache-dir', tmp_path, '--clear', code=0)
    assert 'removed 2' in run.stdout and build_mod.cache_usage(tmp_path) == (0, 0, 0)
    assert not (tmp_path / 'logs').exists() and not (tmp_path / 'pch').exists()


def test_trim_counts_precompiled_headers_and_drops_old_unfinished_ones(tmp_path):
    libs = _fake_libs(tmp_path, [100, 100])
    header = tmp_path / 'pch' / ('cd' * 16)
    header.mkdir(parents=True)
    (header / 'hlsdiff_pch.h.gch').write_bytes(b'\0' * 100)
    os.utime(header, (time.time() - 1000, time.time() - 1000))  # least recently used of all
    stale, fresh = tmp_path / 'pch' / 'tmp-stale', tmp_path / 'pch' / 'tmp-fresh'
    stale.mkdir()
    fresh.mkdir()
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    build_mod._trim(tmp_path, max_bytes=250, keep=libs[0])
    assert not header.exists() and all(p.exists() for p in libs)
    assert not stale.exists() and fresh.exists()  # a header may still be being built there


def test_bad_opt_level_is_bad_input():
    from hlsdiff.errors import BadInput

    with pytest.raises(BadInput):
        build_mod.compile_flags('9')


@pytest.mark.slow
def test_two_builds_at_once_share_one_library(tmp_path):
    from hlsdiff.frontends.keras2 import FRONTEND as keras2
    from hlsdiff.project import read_sources
    from hlsdiff.trace.convert import ConvertOptions, write_project

    from . import models

    project = write_project(keras2.convert(models.depthwise(shape=(4, 4, 2)), ConvertOptions(), tmp_path / 'prj'))
    sources = read_sources(project, 'myproject')
    cache = tmp_path / 'cache'
    results, errors = [], []

    def one():
        try:
            results.append(build_mod.build(sources, '0', cache))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len({r.path for r in results}) == 1 and results[0].path.exists()
    assert len(list(cache.glob('*.so'))) == 1 and not list(cache.glob('build-*'))
    again = build_mod.build(sources, '0', cache)
    assert again.cached and again.path == results[0].path
    # the key changes with any source file
    (project / 'firmware' / 'weights' / 'w2.txt').write_text('0.5, ' * 17 + '0.5')
    assert build_mod.source_key(sources, build_mod.compile_flags('0')) != results[0].key


def test_auto_level_follows_the_measurements():
    assert build_mod.choose_opt_level('auto', 'io_stream', 64) == 'g'
    assert build_mod.choose_opt_level('auto', 'io_stream', 5000) == '2'
    assert build_mod.choose_opt_level('auto', 'io_parallel', 512) == 'g'
    assert build_mod.choose_opt_level('auto', 'io_parallel', 10_000) == 'g'  # -O1's 81 s build never pays
    assert build_mod.choose_opt_level('auto', 'io_parallel', 30_000) == '1'
    assert build_mod.choose_opt_level('3', 'io_parallel', 64) == '3'


def test_auto_reuses_a_slower_cached_build_for_a_few_samples_only(monkeypatch):
    """A -Og build cached by a small compare serves 1,000 samples, not 100,000 (they build -O2)."""
    from hlsdiff import csim

    asked: list = []
    monkeypatch.setattr(build_mod, 'cached_library', lambda sources, levels, *a, **k: asked.append(levels))
    for n in (1000, 100_000):
        csim.cached(None, csim.BuildSettings('io_stream', n, 'auto', None))  # type: ignore[arg-type]
    assert asked == [('3', '2', '1', 'g', '0'), ('3', '2')]


@pytest.mark.slow
def test_a_scratch_project_is_written_without_the_pickled_model(tmp_path):
    from hlsdiff.frontends.keras2 import FRONTEND as keras2
    from hlsdiff.project import read_sources
    from hlsdiff.trace.convert import ConvertOptions, write_project

    from . import models

    model = models.depthwise(shape=(4, 4, 2))
    scratch = keras2.convert(model, ConvertOptions(), tmp_path / 'scratch')
    write_project(scratch, model_in_yml=False)
    assert 'KerasModel' not in (tmp_path / 'scratch' / 'hls4ml_config.yml').read_text()
    assert scratch.hls_model.config.config['KerasModel'] is model  # put back for hls4ml
    for_user = keras2.convert(model, ConvertOptions(), tmp_path / 'user')
    write_project(for_user)  # as hls4ml writes it
    assert 'KerasModel' in (tmp_path / 'user' / 'hls4ml_config.yml').read_text()
    a, b = read_sources(tmp_path / 'scratch', 'myproject'), read_sources(tmp_path / 'user', 'myproject')
    assert (a.top_cpp, a.bridge_cpp) == (b.top_cpp, b.bridge_cpp)
    assert build_mod.content_digest(a) == build_mod.content_digest(b)  # same library, same cache key
