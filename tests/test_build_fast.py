"""The fast build (split top unit, precompiled header) against the plain one: same traces."""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest

from hlsdiff.csim import compile as build_mod
from hlsdiff.csim import pch

pytestmark = pytest.mark.slow  # real g++ builds (the name is the build's: fast, split, with a header)


def _header(cache_dir, level='g'):
    """The precompiled header of the installed Vivado templates, built now if missing."""
    flags = build_mod.compile_flags(level)
    header = pch.ensure(pch.template_headers('Vivado'), pch.Compiler(flags, 'g++', build_mod.compiler_identity()[0]), cache_dir)
    assert header is not None and (header.folder / f'{pch.HEADER}.gch').stat().st_size > 10_000_000
    return header


@pytest.fixture(scope='module')
def fresh_cache(tmp_path_factory):
    """A cache with the precompiled header in it and no library (the shared one may have them)."""
    path = tmp_path_factory.mktemp('fresh-cache')
    _header(path)
    return path


@pytest.mark.xdist_group('optlevels')
@pytest.mark.parametrize('io_type,spread', [('io_parallel', False), ('io_parallel', True), ('io_stream', False)])
def test_split_build_with_precompiled_header_traces_bit_identically(model_files, fresh_cache, io_type, spread,
                                                                     monkeypatch):
    from hlsdiff.engine import collect
    from hlsdiff.request import RunOptions
    from hlsdiff.trace.convert import ConvertOptions

    if spread:  # three kernels of a small model in units of their own, as a big model's are
        monkeypatch.setattr(build_mod, 'SPREAD_LINES', 0)
    cache_dir = fresh_cache
    model, data = model_files('float_cnn' if spread else 'qkeras_sepblock')
    options = ConvertOptions(io_type=io_type, precision='ap_fixed<16,6>')
    plain = collect(model, data, options, RunOptions(cache_dir=cache_dir, opt_level='g', plain_build=True))
    fast = collect(model, data, options, RunOptions(cache_dir=cache_dir, opt_level='g'))
    assert plain.timings['library'] != fast.timings['library']  # cached apart
    assert (plain.timings['build_parts'], plain.timings['precompiled_header']) == (1, False)
    assert fast.timings['precompiled_header'] is True
    assert fast.timings['build_parts'] > 2 if spread else fast.timings['build_parts'] == 2
    compared = 0
    for name, arrays in plain.arrays.items():
        if arrays.actual is not None:
            np.testing.assert_array_equal(fast.arrays[name].actual, arrays.actual, err_msg=name)
            compared += 1
    assert compared >= 4


def test_the_header_is_used_only_on_the_exact_headers_it_was_built_from(tmp_path):
    from hlsdiff.frontends.keras2 import FRONTEND as keras2
    from hlsdiff.project import read_sources
    from hlsdiff.trace.convert import ConvertOptions, write_project

    from . import models

    templates = pch.template_headers('Vivado')
    digests = {rel: hashlib.sha256(path.read_bytes()).hexdigest() for rel, path in templates.items()}
    header = pch.Pch(tmp_path / 'unbuilt', digests)  # fits() reads the project, not the .gch
    project = write_project(keras2.convert(models.depthwise(shape=(4, 4, 2)), ConvertOptions(), tmp_path / 'prj'))
    src = read_sources(project, 'myproject')
    firmware = project / 'firmware'
    assert header.fits(firmware, src.top_cpp, src.bridge_cpp)
    assert not header.fits(firmware, '#define AP_INT_MAX_W 4096\n' + src.top_cpp, src.bridge_cpp)

    kernel = firmware / 'nnet_utils' / 'nnet_sepconv2d_stream.h'  # never precompiled: patching it is fine
    kernel.write_text(kernel.read_text() + '\n// edited by hand\n')
    assert header.fits(firmware, src.top_cpp, src.bridge_cpp)
    edited = firmware / 'ap_types' / 'ap_fixed_base.h'
    edited.write_text(edited.read_text() + '\n// edited by hand\n')
    assert not header.fits(firmware, src.top_cpp, src.bridge_cpp)
    shutil.copyfile(templates['ap_types/ap_fixed_base.h'], edited)
    assert header.fits(firmware, src.top_cpp, src.bridge_cpp)
    (firmware / 'ap_types' / 'ap_fixed.h').unlink()
    assert not header.fits(firmware, src.top_cpp, src.bridge_cpp)


def test_a_header_build_left_behind_finishes_on_its_own(tmp_path):
    import threading
    import time

    stop = threading.Event()
    stop.set()  # the compare is over before the header is built
    flags = build_mod.compile_flags('0')
    args = (pch.template_headers('Vivado'), pch.Compiler(flags, 'g++', build_mod.compiler_identity()[0]), tmp_path)
    assert pch.ensure(*args, stop) is None
    deadline = time.monotonic() + 900  # a wait, not a budget: generous for a loaded machine; ends when built
    while not list((tmp_path / 'pch').glob('[0-9a-f]*/manifest.json')) and time.monotonic() < deadline:
        time.sleep(0.5)
    header = pch.ensure(*args)  # now from the cache
    assert header is not None and header.folder.parent == tmp_path / 'pch'
    assert not list((tmp_path / 'pch').glob('tmp-*'))
    assert build_mod.cache_usage(tmp_path)[1] == 1


@pytest.mark.xdist_group('optlevels')
def test_a_header_gcc_rejects_is_reported_and_the_build_still_right(tmp_path, cache_dir):
    from hlsdiff.frontends.keras2 import FRONTEND as keras2
    from hlsdiff.project import read_sources
    from hlsdiff.trace.convert import ConvertOptions, write_project

    from . import models

    project = write_project(keras2.convert(models.depthwise(shape=(4, 4, 2)), ConvertOptions(), tmp_path / 'prj'))
    sources = read_sources(project, 'myproject')
    other_level = _header(cache_dir, level='0')  # built with -O0: GCC will not use it at -Og
    lib = build_mod.build(sources, 'g', tmp_path / 'cache', use_cache=False, pch=other_level)
    assert lib.parts == 2 and lib.precompiled_header is False and lib.path.stat().st_size > 10_000


@pytest.mark.xdist_group('optlevels')
def test_a_split_that_does_not_link_is_built_whole(tmp_path, monkeypatch):
    import ctypes
    import re

    from hlsdiff.csim import split
    from hlsdiff.frontends.keras2 import FRONTEND as keras2
    from hlsdiff.project import read_sources
    from hlsdiff.trace.convert import ConvertOptions, write_project

    from . import models

    project = write_project(keras2.convert(models.depthwise(shape=(4, 4, 2)), ConvertOptions(), tmp_path / 'prj'))
    sources = read_sources(project, 'myproject')

    def broken(text, function, units=None):  # part 1 defines nothing: part 0's calls to its thunks dangle
        parts = split.split_top(text, function, units)
        return [parts[0], re.sub(r'(\(A&&\.\.\. a\)) \{ .* \}$', r'\1;', parts[1], flags=re.M)]

    monkeypatch.setattr(build_mod, 'split_top', broken)
    lib = build_mod.build(sources, '0', tmp_path / 'cache', use_cache=False)
    assert lib.parts == 1
    ctypes.CDLL(str(lib.path))  # loads: nothing left undefined
