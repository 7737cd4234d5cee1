"""Faults that need a real conversion or build: each gives one clear line and the right exit code."""

from __future__ import annotations

import re

import pytest
import yaml

pytestmark = pytest.mark.slow


def _one_line(run):
    assert 'Traceback' not in run.stderr
    lines = [ln for ln in run.stderr.splitlines() if ln.startswith('hlsdiff: error:')]
    assert len(lines) == 1, run.stderr
    return lines[0]


def _edited_project(hlsdiff, model_files, tmp_path, replacement):
    model, data = model_files('depthwise')
    project = tmp_path / 'prj'
    hlsdiff('compare', model, data, '--precision', 'ap_fixed<24,10>', '--output-dir', project, code=0)
    header = project / 'firmware' / 'nnet_utils' / 'nnet_sepconv2d.h'
    text = header.read_text()
    edited = re.sub(r'(depthwise_conv_2d_latency_cl<data_T, res_T, CONFIG_T>\(data, res, weights, biases\);)',
                    lambda m: m.group(1) + '\n' + replacement, text, count=1)
    assert edited != text
    header.write_text(edited)
    return model, data, project


@pytest.mark.xdist_group('depthwise')
def test_compiler_error_is_exit_3_with_the_error_and_the_log(hlsdiff, model_files, tmp_path):
    model, data, project = _edited_project(hlsdiff, model_files, tmp_path, '        this is not C++;')
    run = hlsdiff('compare', model, data, '--project', project, code=3)
    line = _one_line(run)
    assert 'g++ failed' in line and 'error' in line
    assert 'full compiler log:' in run.stderr
    log = run.stderr.split('full compiler log:')[1].split()[0]
    assert 'this is not C++' in open(log).read() or 'error' in open(log).read()


@pytest.mark.xdist_group('depthwise')
def test_hung_simulation_is_stopped_by_timeout(hlsdiff, model_files, tmp_path):
    model, data, project = _edited_project(hlsdiff, model_files, tmp_path,
                                           '        volatile int spin = 1;\n        while (spin) {}')
    run = hlsdiff('compare', model, data, '--project', project, '--timeout', 10, code=3)
    assert 'longer than --timeout 10 s' in _one_line(run)


@pytest.mark.xdist_group('unconvertible')
def test_layer_hls4ml_cannot_convert_is_exit_3(hlsdiff, tmp_path):
    import numpy as np

    from hlsdiff.trace import stack

    keras = stack.load().keras
    inp = keras.Input((3, 3, 3, 1), name='inp')
    model = keras.Model(inp, keras.layers.Conv3D(2, 1, name='c3')(inp))
    path, data = tmp_path / 'm.h5', tmp_path / 'd.npy'
    model.save(path)
    np.save(data, np.zeros((2, 3, 3, 3, 1), np.float32))
    run = hlsdiff('compare', path, data, code=3)
    assert 'hls4ml could not convert the model' in _one_line(run) and 'Conv3D' in run.stderr


@pytest.mark.xdist_group('float_cnn')
def test_more_samples_than_data_uses_what_there_is(hlsdiff, model_files):
    model, data = model_files('float_cnn')
    run = hlsdiff('compare', model, data, '--precision', 'ap_fixed<32,16>', '--samples', 1000, code=0)
    assert run.json['samples'] == 16
    assert any('using all 16 samples' in note for note in run.json['notes'])
    assert 'using all 16 samples' in run.stdout


@pytest.mark.xdist_group('float_cnn')
def test_config_with_unknown_layer_names_warns_and_lists_them(hlsdiff, model_files, tmp_path):
    model, data = model_files('float_cnn')
    config = tmp_path / 'cfg.yml'
    config.write_text(yaml.safe_dump({'LayerName': {'nope': {'Trace': True}, 'also_nope': {}}}))
    run = hlsdiff('compare', model, data, '--precision', 'ap_fixed<32,16>', '--config', config, code=0)
    assert any('also_nope, nope' in note for note in run.json['notes'])
