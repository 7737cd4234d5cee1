"""hlsdiff repro: each kind of hls4ml defect cut out, confirmed with hls4ml alone, written as a bug report.

Every reproducer is written once per module (real conversion, g++ build, C-simulation) and its repro.py
is run again here in a fresh process with the stack alone: no PYTHONPATH, hlsdiff not imported.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from hlsdiff.cli import main

from .test_compare_real import _inject_odd_channel_passthrough

pytestmark = pytest.mark.slow

SECTIONS = ('## Environment', '## Steps to reproduce', '## Expected behaviour', '## Observed behaviour',
            '## Evidence (hlsdiff)')
# runs repro.py as `python repro.py` would, then says whether anything imported hlsdiff
RUNNER = ('import runpy, sys\nsys.argv = ["repro.py"]\ntry:\n    runpy.run path\nfinally:\n'
          '    print("HLSDIFF_IMPORTED=" + str(any(m == "hlsdiff" or m.startswith("hlsdiff.") for m in sys.modules)))\n'
          ).replace('runpy.run path', 'runpy.run_path("repro.py", run_name="__main__")')


def _cli(*args, cache_dir, code):
    started = time.perf_counter()
    result = CliRunner().invoke(main, [str(a) for a in args] + ['--cache-dir', str(cache_dir), '-q'],
                                catch_exceptions=False)
    assert result.exit_code == code, f'exit {result.exit_code}\n{result.stdout}\n{result.stderr}'
    return result, time.perf_counter() - started


def _fresh_run(folder: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    env['TF_CPP_MIN_LOG_LEVEL'] = '3'
    return subprocess.run([sys.executable, '-c', RUNNER], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=600)


def _keras_layers(folder: Path) -> list[str]:
    import h5py

    with h5py.File(folder / 'model.h5') as f:
        config = json.loads(f.attrs['model_config'])
    return [layer['config']['name'] for layer in config['config']['layers'] if layer['class_name'] != 'InputLayer']


def _assert_reproduces(folder: Path) -> str:
    assert sorted(p.name for p in folder.iterdir() if p.name != 'nnet_utils') == [
        'ISSUE.md', 'config.yml', 'data.npy', 'model.h5', 'repro.py']
    assert len((folder / 'repro.py').read_text().splitlines()) < 60
    run = _fresh_run(folder)
    assert run.returncode == 1, run.stdout + run.stderr[-3000:]
    assert 'DEFECT' in run.stdout and 'HLSDIFF_IMPORTED=False' in run.stdout
    issue = (folder / 'ISSUE.md').read_text()
    assert all(section in issue for section in SECTIONS), issue
    assert issue.startswith('# hls4ml 1.3.0: ') and '| hls4ml | 1.3.0 |' in issue and '| g++ |' in issue
    assert 'python repro.py' in issue
    for private in (str(folder.parent), str(Path.home()), os.getcwd(), socket.gethostname()):
        assert private not in issue and private not in (folder / 'repro.py').read_text()
    return run.stdout


@pytest.fixture(scope='module')
def edited_kernel(tmp_path_factory, model_files, cache_dir):
    """A project whose depthwise kernel was edited to pass odd channels through, reproduced with --project."""
    model, data = model_files('depthwise')
    root = tmp_path_factory.mktemp('repro-kernel')
    _cli('compare', model, data, '--precision', 'ap_fixed<24,10>', '--output-dir', root / 'prj', cache_dir=cache_dir,
         code=0)
    _inject_odd_channel_passthrough(root / 'prj')
    result, seconds = _cli('repro', model, data, '--project', root / 'prj', '--layer', 'dw', '-o', root / 'out',
                           cache_dir=cache_dir, code=0)
    return root / 'out', result, seconds


@pytest.fixture(scope='module')
def folded_bn(tmp_path_factory, model_files, cache_dir):
    """A BatchNormalization folded into a DepthwiseConv2D (hls4ml's bn_fuse broadcasts its scale)."""
    model, data = model_files('depthwise_bn')
    root = tmp_path_factory.mktemp('repro-bn')
    result, seconds = _cli('repro', model, data, '--layer', 'bn', '-o', root / 'out', cache_dir=cache_dir, code=0)
    return root / 'out', result, seconds


@pytest.fixture(scope='module')
def aborting(tmp_path_factory, model_files, cache_dir):
    """DepthwiseConv2D with depth_multiplier=2 in io_parallel: hls4ml converts it, its kernel asserts."""
    model, data = model_files('depthwise', depth_multiplier=2)
    root = tmp_path_factory.mktemp('repro-abort')
    result, seconds = _cli('repro', model, data, '--layer', 'dw', '-o', root / 'out', cache_dir=cache_dir, code=0)
    return root / 'out', result, seconds


def test_edited_kernel_is_reproduced_with_its_headers(edited_kernel):
    folder, result, seconds = edited_kernel
    assert _keras_layers(folder) == ['dw']
    assert [p.name for p in (folder / 'nnet_utils').iterdir()] == ['nnet_sepconv2d.h']
    out = _assert_reproduces(folder)
    assert 'alternating' not in out  # repro.py prints numbers; the words are ISSUE.md's
    issue = (folder / 'ISSUE.md').read_text()
    assert 'kernel headers were edited' in issue and 'nnet_sepconv2d.h' in issue
    assert 'equal the layer input' in issue and 'every 2nd' in issue  # the pattern, measured on the repro's run
    assert '| 1 |' in issue and '| 3 |' in issue and 'kernel-defect' in issue
    print(f'repro (edited kernel): {seconds:.1f} s')


def test_folded_batchnorm_keeps_the_pair_and_reproduces(folded_bn):
    folder, result, seconds = folded_bn
    assert _keras_layers(folder) == ['dw', 'bn']  # the pair hls4ml folds into one layer, nothing more
    assert not (folder / 'nnet_utils').exists()
    _assert_reproduces(folder)
    import yaml

    config = yaml.safe_load((folder / 'config.yml').read_text())
    assert config['IOType'] == 'io_parallel' and config['Backend'] == 'Vivado'
    assert set(config['HLSConfig']['LayerName']) <= {'repro_input', 'dw', 'dw_linear', 'bn'}
    assert config['HLSConfig']['LayerName']['dw']['Precision']['result'] == 'auto'  # what triggers the fold
    issue = (folder / 'ISSUE.md').read_text()
    assert 'folded into this layer' in issue and 'all channels wrong' in issue
    print(f'repro (folded BN): {seconds:.1f} s')


def test_kernel_abort_is_reproduced(aborting):
    folder, result, seconds = aborting
    assert _keras_layers(folder) == ['dw']
    out = _assert_reproduces(folder)
    assert 'C-simulation aborted' in out
    issue = (folder / 'ISSUE.md').read_text()
    assert 'aborts the C-simulation' in issue.splitlines()[0]
    assert 'Assertion' in issue and 'depth multiplier' in issue
    print(f'repro (kernel abort): {seconds:.1f} s')


def test_precision_onset_is_not_a_defect(model_files, cache_dir, tmp_path):
    model, data = model_files('gap_after_qact', scale=1.0)
    result, _ = _cli('repro', model, data, '--layer', 'gap', '-o', tmp_path / 'out', cache_dir=cache_dir, code=1)
    assert 'not an hls4ml defect' in result.stderr and 'hlsdiff fix' in result.stderr
    assert not (tmp_path / 'out').exists()


def test_unknown_layer_is_bad_input(model_files, cache_dir, tmp_path):
    model, data = model_files('depthwise_bn')
    result, _ = _cli('repro', model, data, '--layer', 'nope', '-o', tmp_path / 'out', cache_dir=cache_dir, code=2)
    assert 'no such layer' in result.stderr and 'dw' in result.stderr and 'Traceback' not in result.stderr


def test_compare_repro_writes_the_onsets_and_keeps_the_verdict(model_files, cache_dir, tmp_path):
    model, data = model_files('depthwise_bn')
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'mine.txt').write_text('kept')
    result, _ = _cli('compare', model, data, '--repro', out, cache_dir=cache_dir, code=1)
    assert (out / 'repro.py').exists() and _keras_layers(out) == ['dw', 'bn']
    assert (tmp_path / 'out.bak1' / 'mine.txt').read_text() == 'kept'  # moved aside, never overwritten
    assert '--repro: wrote' in result.stderr


def test_compare_repro_on_an_abort_writes_it_and_still_exits_3(model_files, cache_dir, tmp_path):
    model, data = model_files('depthwise', depth_multiplier=2)
    result, _ = _cli('compare', model, data, '--repro', tmp_path / 'out', cache_dir=cache_dir, code=3)
    assert 'assertion failed in layer dw' in result.stderr.lower() and '--repro: wrote' in result.stderr
    assert _keras_layers(tmp_path / 'out') == ['dw']
    assert 'aborts the C-simulation' in (tmp_path / 'out' / 'ISSUE.md').read_text().splitlines()[0]


def _edit_for_one_config(project: Path, config: str) -> None:
    """A hand edit keyed to one layer's config struct (odd channels pass through in that layer only): the
    layer cut out alone gets another config number, so the edit does not apply to it."""
    header = project / 'firmware' / 'nnet_utils' / 'nnet_sepconv2d.h'
    text = header.read_text()
    edited = re.sub(
        r'(depthwise_conv_2d_latency_cl<data_T, res_T, CONFIG_T>\(data, res, weights, biases\);)',
        r'\1\n        if (std::strstr(typeid(CONFIG_T).name(), "' + config + r'"))\n'
        r'        for (unsigned i = 0; i < CONFIG_T::out_height * CONFIG_T::out_width; i++)\n'
        r'            for (unsigned c = 1; c < CONFIG_T::n_chan; c += 2)\n'
        r'                res[i * CONFIG_T::n_filt + c] = data[i * CONFIG_T::n_chan + c];',
        text, count=1)
    assert edited != text
    header.write_text('#include <cstring>\n#include <typeinfo>\n' + edited)


def test_a_defect_the_layer_alone_does_not_show_grows_the_cut(model_files, cache_dir, tmp_path):
    model, data = model_files('conv_act_depthwise')
    _cli('compare', model, data, '--precision', 'ap_fixed<24,10>', '--output-dir', tmp_path / 'prj',
         cache_dir=cache_dir, code=0)
    config = re.search(r'depthwise_conv_2d_cl<[^>]*, (config\d+)>', (tmp_path / 'prj/firmware/myproject.cpp').read_text())
    _edit_for_one_config(tmp_path / 'prj', config.group(1))
    result, seconds = _cli('repro', model, data, '--project', tmp_path / 'prj', '--layer', 'dw', '-o',
                           tmp_path / 'out', cache_dir=cache_dir, code=0)
    assert _keras_layers(tmp_path / 'out') == ['c1', 'a1', 'dw']  # alone, then + a1, then + c1 reproduces
    _assert_reproduces(tmp_path / 'out')
    issue = (tmp_path / 'out' / 'ISSUE.md').read_text()
    assert 'the layer with the 2 before it, as the layer alone matches Keras' in issue
    print(f'repro (grown by 2 layers): {seconds:.1f} s')


def test_bilinear_upsampling_after_a_separable_conv_is_reproduced(cache_dir, tmp_path):
    """hls4ml computes an UpSampling2D(interpolation='bilinear') as nearest (a generator defect). The
    SeparableConv2D before it, which hls4ml splits into depthwise and pointwise, is compared at its pointwise half,
    so `up` has an error of its own (in plain numbers in ISSUE.md)."""
    import numpy as np

    from . import models

    keras = models._k()
    keras.utils.set_random_seed(0)
    inp = keras.Input((6, 6, 2), name='inp')
    x = keras.layers.SeparableConv2D(3, 3, padding='same', name='sep')(inp)
    keras.Model(inp, keras.layers.UpSampling2D(2, interpolation='bilinear', name='up')(x)).save(tmp_path / 'm.h5')
    np.save(tmp_path / 'x.npy', np.random.default_rng(0).normal(size=(16, 6, 6, 2)).astype(np.float32))
    result, seconds = _cli('repro', tmp_path / 'm.h5', tmp_path / 'x.npy', '--layer', 'up', '-o', tmp_path / 'out',
                           cache_dir=cache_dir, code=0)
    folder = tmp_path / 'out'
    assert _keras_layers(folder) == ['up']
    out = _assert_reproduces(folder)
    assert 'np.' not in out
    issue = (folder / 'ISSUE.md').read_text()
    assert 'generator-defect' in issue and 'bilinear' in issue and 'np.' not in issue
    assert "adds by itself (on the C-simulation's own inputs): not measured;" not in issue
    assert re.search(r"adds by itself \(on the C-simulation's own inputs\): [0-9.]+ max abs", issue), issue
    print(f'repro (bilinear computed as nearest): {seconds:.1f} s')
    _cli('compare', tmp_path / 'm.h5', tmp_path / 'x.npy', '--json', tmp_path / 'r.json', cache_dir=cache_dir, code=1)
    report = json.loads((tmp_path / 'r.json').read_text())
    layers = {layer['name']: layer for layer in report['layers']}
    assert layers['sep_pointwise']['keras'] == 'sep' and layers['sep_pointwise']['inputs'] == ['inp']
    assert 'depthwise half of sep' in layers['sep_depthwise']['reason'] and report['unmatched_keras'] == []
    assert layers['up']['local_max_abs'] > 0.1 and report['onset']['layer'] == 'up'
