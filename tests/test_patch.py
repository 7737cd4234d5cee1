"""hlsdiff patch: the stock failure first, then the patched result, on real generated projects."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from hlsdiff.cpp import patcher
from hlsdiff.project.hls4ml_1_3 import weights_values

from . import models

pytestmark = pytest.mark.slow


def _project(tmp_path, model, io_type='io_parallel', **conv):
    from hlsdiff.frontends.keras2 import FRONTEND as keras2
    from hlsdiff.trace.convert import ConvertOptions, write_project

    converted = keras2.convert(model, ConvertOptions(io_type=io_type, **conv), tmp_path / 'prj')
    return write_project(converted)


def _digest(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob('*')) if p.is_file()}


@pytest.fixture
def dm2_project(tmp_path):
    return _project(tmp_path, models.depthwise(depth_multiplier=2))


# ---- the patcher on project files (no build) -------------------------------------------------------


def test_check_lists_the_defect_and_changes_nothing(hlsdiff, dm2_project):
    before = _digest(dm2_project)
    run = hlsdiff('patch', dm2_project, '--check', code=1)
    assert 'dw: depth-multiplier' in run.stdout and 'would change firmware/myproject.cpp' in run.stdout
    assert _digest(dm2_project) == before


def test_diff_shows_the_change(hlsdiff, dm2_project):
    run = hlsdiff('patch', dm2_project, '--diff', code=0)
    assert '+#include "nnet_utils/nnet_depthwise_hlsdiff.h"' in run.stdout
    assert '+    nnet::hlsdiff::depthwise_conv_2d_cl<' in run.stdout
    assert '+++ b/firmware/nnet_utils/nnet_depthwise_hlsdiff.h' in run.stdout


def test_apply_is_idempotent_and_revert_is_byte_for_byte(hlsdiff, dm2_project):
    before = _digest(dm2_project)
    run = hlsdiff('patch', dm2_project, '--no-build', code=0)
    assert 'wrote firmware/myproject.cpp' in run.stdout
    patched = _digest(dm2_project)
    assert 'firmware/nnet_utils/nnet_depthwise_hlsdiff.h' in patched
    assert (dm2_project / '.hlsdiff-backup' / 'manifest.json').exists()
    again = hlsdiff('patch', dm2_project, '--no-build', code=0)
    assert 'nothing to patch' in again.stdout
    assert _digest(dm2_project) == patched
    hlsdiff('patch', dm2_project, '--check', code=0)
    hlsdiff('patch', dm2_project, '--revert', '--no-build', code=0)
    assert _digest(dm2_project) == before


def test_revert_without_backup_is_exit_2(hlsdiff, dm2_project):
    run = hlsdiff('patch', dm2_project, '--revert', code=2)
    assert 'nothing to revert' in run.stderr


def test_not_a_project_is_exit_2(hlsdiff, tmp_path):
    run = hlsdiff('patch', tmp_path, code=2)
    assert 'not an hls4ml project' in run.stderr and 'Traceback' not in run.stderr


def test_unknown_layout_is_refused(hlsdiff, dm2_project):
    kernel = dm2_project / 'firmware' / 'nnet_utils' / 'nnet_sepconv2d_latency.h'
    kernel.write_text(kernel.read_text().replace('only a depth multiplier of 1', 'any depth multiplier'))
    run = hlsdiff('patch', dm2_project, code=2)
    assert 'not the hls4ml 1.3.0 layout' in run.stderr


def test_read_only_project_is_exit_2(hlsdiff, dm2_project):
    firmware = dm2_project / 'firmware'
    before = _digest(dm2_project)
    firmware.chmod(0o555)
    try:
        run = hlsdiff('patch', dm2_project, '--no-build', code=2)
    finally:
        firmware.chmod(0o755)
    assert 'read-only' in run.stderr
    assert _digest(dm2_project) == before


def test_healthy_project_has_nothing_to_patch(hlsdiff, tmp_path):
    project = _project(tmp_path, models.depthwise())
    run = hlsdiff('patch', project, '--check', code=0)
    assert 'nothing to patch' in run.stdout


def test_bn_broadcast_weights_are_repaired_to_the_diagonal(hlsdiff, tmp_path):
    project = _project(tmp_path, models.depthwise_bn())
    w = np.array(weights_values((project / 'firmware/weights/w2.txt').read_text()))
    assert w.size == 9 * 3 * 3  # the stock file: (kh, kw, C, C)
    hlsdiff('patch', project, '--no-build', code=0)
    fixed = weights_values((project / 'firmware/weights/w2.txt').read_text())
    np.testing.assert_allclose(fixed, w.reshape(9, 3, 3)[:, [0, 1, 2], [0, 1, 2]].reshape(-1), atol=1e-9)
    assert 'load_weights_from_txt<dw_weight_t, 27>(w2' in (project / 'firmware/myproject.cpp').read_text()
    assert 'w2[27]' in (project / 'firmware/weights/w2.h').read_text()


@pytest.mark.parametrize('std', ['-std=c++11', '-std=c++17'])
@pytest.mark.parametrize('io_type', ['io_parallel', 'io_stream'])
def test_kernel_compiles_warning_free(tmp_path, std, io_type):
    project = _project(tmp_path, models.depthwise(depth_multiplier=2), io_type=io_type)
    patcher.apply(patcher.plan(project))
    proc = subprocess.run(
        # HLS pragmas are kept on purpose; g++ does not know them (-Wunknown-pragmas), nothing else may warn
        ['g++', std, '-Wall', '-Wextra', '-Wno-unknown-pragmas', '-fsyntax-only', '-Ifirmware/ap_types', '-Ifirmware', 'firmware/myproject.cpp'],
        cwd=project, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # warnings located in our header (ap_types' own warnings only list it as instantiation context)
    ours = [ln for ln in proc.stderr.splitlines() if re.search(r'nnet_depthwise_hlsdiff\.h:\d+:\d+: warning', ln)]
    assert not ours, '\n'.join(ours)


# ---- each defect: stock result, then patched result (real builds) ----------------------------------


@pytest.mark.xdist_group('patch-dm')
@pytest.mark.parametrize('io_type', ['io_parallel', 'io_stream'])
@pytest.mark.parametrize('dm', [2, 3])
def test_depth_multiplier_stock_aborts_patched_matches(hlsdiff, model_files, io_type, dm):
    model, data = model_files('depthwise', depth_multiplier=dm)
    stock = hlsdiff('compare', model, data, '--io-type', io_type, '--precision', 'ap_fixed<24,10>', code=3)
    assert 'depth multiplier' in stock.stderr and 'hlsdiff patch' in stock.stderr
    run = hlsdiff('compare', model, data, '--io-type', io_type, '--precision', 'ap_fixed<24,10>', '--patch',
                  '--gate', 'patched', code=0)
    assert run.json['error']['cause'] == 'kernel-abort' and run.json['error']['layer'] == 'dw'
    assert run.json['gate'] == 'patched' and run.json['verdicts'] == {'stock': 'error', 'patched': 'pass'}
    dw = next(l for l in run.json['patched']['layers'] if l['name'] == 'dw')
    assert dw['status'] in ('ok', 'noise') and dw['shape'][-1] == 4 * dm


@pytest.mark.xdist_group('patch-resource')
def test_resource_strategy_stock_aborts_patched_matches(hlsdiff, model_files):
    model, data = model_files('depthwise', depth_multiplier=1)
    args = ('--strategy', 'Resource', '--reuse-factor', 3, '--precision', 'ap_fixed<24,10>')
    stock = hlsdiff('compare', model, data, *args, code=3)
    assert 'Resource strategy for DepthwiseConv2D' in stock.stderr
    run = hlsdiff('compare', model, data, *args, '--patch', '--gate', 'patched', code=0)
    dw = next(l for l in run.json['patched']['layers'] if l['name'] == 'dw')
    assert dw['status'] in ('ok', 'noise')
    # gated on the stock project (the default), the abort is the verdict: exit 3 and one line saying so
    stock_gated = hlsdiff('compare', model, data, *args, '--patch', code=3)
    assert stock_gated.json['verdict'] == 'error' and stock_gated.json['verdicts']['patched'] == 'pass'
    assert [ln for ln in stock_gated.stderr.splitlines() if ln.startswith('hlsdiff: error: the stock project')]


@pytest.mark.xdist_group('patch-bn')
def test_bn_folded_into_depthwise_stock_wrong_patched_matches(hlsdiff, model_files):
    model, data = model_files('depthwise_bn')
    stock = hlsdiff('compare', model, data, '--granularity', 'name', code=1)
    # the weights are written wrong, the kernel computes its files: the generator link, proven by the reference
    assert stock.json['onset'] == {'layer': 'dw', 'cause': 'generator-defect', 'pattern': 'all-channels',
                                   'evidence': 'emulation'}
    dw = stock.layer('dw')
    assert 'hlsdiff patch' in dw['hint']
    assert dw['origin'] == 'model' and dw['folded'] == ['BatchNormalization bn']  # the fact the defect rests on
    assert dw['links']['kernel'] == 0.0 and dw['links']['generator'] > 1.0
    assert 'diagonal' in dw['generator_evidence'][0]['detail']
    # --patch gates the stock project by default: the defect fails the run ...
    run = hlsdiff('compare', model, data, '--granularity', 'name', '--patch', code=1)
    assert run.json['gate'] == 'stock' and run.json['verdict'] == 'fail'
    assert run.json['verdicts'] == {'stock': 'fail', 'patched': 'pass'} and run.json['patched']['onset'] is None
    assert run.json['onset']['layer'] == 'dw' and 'judges the stock project' in run.stdout
    # ... and the patched one when asked to
    run = hlsdiff('compare', model, data, '--granularity', 'name', '--patch', '--gate', 'patched', code=0)
    assert run.json['gate'] == 'patched' and run.json['verdict'] == 'pass' and run.json['exit_code'] == 0
    assert run.json['verdicts'] == {'stock': 'fail', 'patched': 'pass'}


def test_gate_patched_without_patch_is_bad_input(hlsdiff, model_files):
    model, data = model_files('depthwise_bn')
    run = hlsdiff('compare', model, data, '--gate', 'patched', code=2)
    assert 'needs --patch' in run.stderr and 'Traceback' not in run.stderr


@pytest.mark.xdist_group('patch-po2')
def test_auto_po2_stock_wrong_patched_matches(hlsdiff, model_files):
    model, data = model_files('depthwise_po2')
    stock = hlsdiff('compare', model, data, code=1)
    # the kernel computes what its types say (emulated); the weight type hls4ml gave it is too narrow
    assert stock.json['onset'] == {'layer': 'dw', 'cause': 'weights', 'pattern': stock.layer('dw')['pattern']['kind'],
                                   'evidence': 'emulation'}
    dw = stock.layer('dw')
    assert 'Precision.weight' in dw['hint'] and 'hlsdiff patch' in dw['hint'] and 'auto_po2' in dw['cause_detail']
    run = hlsdiff('compare', model, data, '--patch', '--gate', 'patched', code=0)
    dw = next(l for l in run.json['patched']['layers'] if l['name'] == 'dw')
    assert dw['status'] in ('ok', 'noise')


@pytest.mark.xdist_group('patch-build')
def test_patch_rebuilds_with_the_projects_own_script(hlsdiff, tmp_path):
    project = _project(tmp_path, models.depthwise(depth_multiplier=2, shape=(4, 4, 2)))
    run = hlsdiff('patch', project, code=0)
    assert 'rebuilt the C-simulation library' in run.stdout
    assert list((project / 'firmware').glob('myproject-*.so'))


# ---- bit-identical where the stock kernel was right ------------------------------------------------

IDENTICAL_CASES = [
    ('depthwise', {}, 'io_parallel', {}),
    ('depthwise', {}, 'io_stream', {}),
    ('depthwise', {'padding': 'valid', 'shape': (7, 6, 3)}, 'io_parallel', {}),
    ('depthwise_strided', {}, 'io_parallel', {}),
    ('depthwise_strided', {'strides': 2, 'shape': (6, 9, 2)}, 'io_stream', {}),
    ('depthwise', {'padding': 'valid'}, 'io_stream', {'strategy': 'Resource', 'reuse_factor': 3}),
    ('depthwise1d', {}, 'io_parallel', {}),
    ('depthwise1d', {'strides': 2}, 'io_stream', {}),
]


@pytest.mark.xdist_group('identical')
@pytest.mark.parametrize('name, kwargs, io_type, conv', IDENTICAL_CASES,
                         ids=[f'{c[0]}-{c[2]}-{i}' for i, c in enumerate(IDENTICAL_CASES)])
def test_patched_kernel_is_bit_identical_where_stock_is_right(model_files, cache_dir, name, kwargs, io_type, conv):
    from hlsdiff.engine import collect
    from hlsdiff.request import RunOptions
    from hlsdiff.trace.convert import ConvertOptions

    model, data = model_files(name, **kwargs)
    options = ConvertOptions(io_type=io_type, precision='ap_fixed<16,6>', **conv)
    stock = collect(model, data, options, RunOptions(cache_dir=cache_dir))
    forced = collect(model, data, options, RunOptions(
        cache_dir=cache_dir, prepare_project=lambda d: patcher.apply(patcher.plan(d, force_kernel=True))))
    assert stock.arrays['dw'].actual is not None
    for layer, arrays in stock.arrays.items():
        np.testing.assert_array_equal(forced.arrays[layer].actual, arrays.actual, err_msg=layer)
    assert stock.timings['library'] != forced.timings['library']  # two different builds were compared


# ---- edge cases: edited, damaged, half-patched projects ------------------------------------------


def test_a_call_whose_comment_was_edited_away_is_still_found(hlsdiff, dm2_project):
    top = dm2_project / 'firmware' / 'myproject.cpp'
    top.write_text(re.sub(r'(depthwise_conv_2d_cl<[^;]*;)\s*//\s*dw', r'\1', top.read_text()))
    run = hlsdiff('patch', dm2_project, '--check', code=1)
    assert 'dw: depth-multiplier' in run.stdout


def test_a_patched_project_that_lost_its_include_is_repaired(hlsdiff, dm2_project):
    hlsdiff('patch', dm2_project, '--no-build', code=0)
    top = dm2_project / 'firmware' / 'myproject.cpp'
    top.write_text(top.read_text().replace(patcher.INCLUDE_LINE + '\n', ''))
    (dm2_project / 'firmware' / 'nnet_utils' / patcher.KERNEL_NAME).unlink()
    run = hlsdiff('patch', dm2_project, '--no-build', code=0)
    assert 'repair' in run.stdout
    assert patcher.INCLUDE_LINE in top.read_text()
    assert (dm2_project / 'firmware' / 'nnet_utils' / patcher.KERNEL_NAME).exists()


def test_revert_refuses_to_discard_edits_made_after_the_patch(hlsdiff, dm2_project):
    original = (dm2_project / 'firmware' / 'myproject.cpp').read_bytes()
    hlsdiff('patch', dm2_project, '--no-build', code=0)
    top = dm2_project / 'firmware' / 'myproject.cpp'
    top.write_text(top.read_text() + '\n// my own edit\n')
    run = hlsdiff('patch', dm2_project, '--revert', '--no-build', code=2)
    assert 'firmware/myproject.cpp' in run.stderr and '--force' in run.stderr
    assert 'my own edit' in top.read_text()
    hlsdiff('patch', dm2_project, '--revert', '--no-build', '--force', code=0)
    assert top.read_bytes() == original


def test_a_damaged_manifest_is_bad_input(hlsdiff, dm2_project):
    hlsdiff('patch', dm2_project, '--no-build', code=0)
    (dm2_project / '.hlsdiff-backup' / 'manifest.json').write_text('{not json')
    run = hlsdiff('patch', dm2_project, '--revert', '--no-build', code=2)
    assert 'damaged backup manifest' in run.stderr and 'Traceback' not in run.stderr


def test_temporary_files_of_a_killed_patch_are_removed(hlsdiff, dm2_project):
    left = dm2_project / 'firmware' / f'.myproject.cpp.abc123{patcher.TMP_SUFFIX}'
    left.write_text('half written')
    run = hlsdiff('patch', dm2_project, '--no-build', code=0)
    assert not left.exists() and 'left by a patch that was stopped' in run.stdout
