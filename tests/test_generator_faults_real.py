"""Faults injected into a written project, compared with --project: each lands on its own link.

A fault in what the generator writes (a weights file permuted, a weight changed, a config constant
changed, a BatchNormalization scale broadcast) is found at the generator link with its evidence; an
edited kernel at the kernel link; a narrow type at the precision link; a clean project nowhere.
"""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

from hlsdiff.emulate import read_program

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group('strided_cnn')]

PRECISION = ('--precision', 'ap_fixed<32,16>')
_written: dict = {}


@pytest.fixture
def project(hlsdiff, model_files, tmp_path_factory, tmp_path):
    """A fresh copy of the strided CNN's project, written once per session; (model, data, project)."""
    model, data = model_files('strided_cnn', n=8)
    if 'dir' not in _written:
        _written['dir'] = tmp_path_factory.mktemp('strided') / 'prj'
        hlsdiff('compare', model, data, *PRECISION, '--output-dir', _written['dir'], code=0)
    copy = tmp_path / 'prj'
    shutil.copytree(_written['dir'], copy, ignore=shutil.ignore_patterns('*.so', '*.o'))
    return model, data, copy


def _weights_file(project, layer: str, which: int = 2):
    program = read_program(project / 'firmware', 'myproject')
    call = next(c for c in program.calls if c.layer == layer)
    return project / 'firmware' / 'weights' / program.weights[call.args[which]][1]


def _rewrite(path, values) -> None:
    path.write_text(', '.join(f'{v:.16f}' for v in values) + '\n')


def _read(path) -> np.ndarray:
    return np.array([float(t) for t in path.read_text().split('\n')[0].split(',') if t.strip()])


def _only_cause(run, layer: str, cause: str) -> dict:
    assert run.json['onset']['layer'] == layer and run.json['onset']['cause'] == cause, run.json['onset']
    return run.layer(layer)


def test_a_clean_project_has_no_cause_on_any_layer(hlsdiff, project):
    model, data, prj = project
    run = hlsdiff('compare', model, data, '--project', prj, code=0)
    assert run.json['onset'] is None
    for layer in run.json['layers']:
        assert layer['cause'] == 'none', (layer['name'], layer['cause'])
        if layer['links'] is not None:
            assert layer['links']['generator'] in (0.0, None) and layer['links']['kernel'] in (0.0, None)
    assert run.layer('conv')['links']['generator'] == 0.0 and run.layer('fc1')['links']['generator'] == 0.0


def test_a_weights_file_written_transposed(hlsdiff, project):
    model, data, prj = project
    path = _weights_file(prj, 'fc1')  # Latency reads (in, out): 12 x 4
    _rewrite(path, _read(path).reshape(12, 4).T.reshape(-1))
    run = hlsdiff('compare', model, data, '--project', prj, code=1)
    layer = _only_cause(run, 'fc1', 'generator-defect')
    (evidence,) = layer['generator_evidence']
    assert evidence['what'] == 'weights' and evidence['name'] == path.name
    assert evidence['permutation'] == 'as (out, in); the Latency kernel reads (in, out)'
    assert layer['links']['kernel'] == 0.0 and layer['links']['generator'] > 0


def test_one_weight_value_changed(hlsdiff, project):
    model, data, prj = project
    path = _weights_file(prj, 'conv')
    values = _read(path)
    values[5] += 0.75
    _rewrite(path, values)
    run = hlsdiff('compare', model, data, '--project', prj, code=1)
    layer = _only_cause(run, 'conv', 'generator-defect')
    (evidence,) = layer['generator_evidence']
    assert evidence['permutation'] is None
    assert evidence['detail'].startswith(f'1 of 54 values of {path.name} differ')
    assert '(kh 0, kw 0, in 1, out 2) framework' in evidence['detail']  # position 5 of (kh, kw, in, out) = (3, 3, 2, 3)


def test_a_pool_size_changed_in_parameters_h(hlsdiff, project):
    model, data, prj = project
    params = prj / 'firmware' / 'parameters.h'
    text = params.read_text()
    edited, n = re.subn(r'(struct config\d+ : nnet::pooling2d_config \{.*?static const unsigned pool_width = )2;',
                        r'\g<1>1;', text, count=1, flags=re.S)
    assert n == 1
    params.write_text(edited)
    run = hlsdiff('compare', model, data, '--project', prj, code=1)
    layer = _only_cause(run, 'pool', 'generator-defect')
    assert layer['generator_evidence'] == [{'what': 'attribute', 'name': 'pool_width', 'permutation': None,
                                            'detail': 'pool_width: the framework has 2, the project 1'}]
    assert layer['links']['kernel'] == 0.0 and layer['links']['generator'] > 0


def test_a_batchnorm_scale_broadcast(hlsdiff, project):
    model, data, prj = project
    path = _weights_file(prj, 'bn')
    values = _read(path)
    _rewrite(path, np.full_like(values, values[0]))  # channel 0's scale written for every channel
    run = hlsdiff('compare', model, data, '--project', prj, code=1)
    layer = _only_cause(run, 'bn', 'generator-defect')
    (evidence,) = layer['generator_evidence']
    assert evidence['what'] == 'scale' and evidence['detail'].startswith(f'2 of 3 values of {path.name} differ')


def test_an_edited_kernel_is_the_kernel_link(hlsdiff, project):
    model, data, prj = project
    header = prj / 'firmware' / 'nnet_utils' / 'nnet_dense_latency.h'
    text = header.read_text()
    edited = text.replace('res[ires] = cast<data_T, res_T, CONFIG_T>(acc[ires]);',
                          'res[ires] = cast<data_T, res_T, CONFIG_T>(acc[ires]) + (ires == 1 ? 1 : 0);', 1)
    assert edited != text
    header.write_text(edited)
    run = hlsdiff('compare', model, data, '--project', prj, code=1)
    layer = _only_cause(run, 'fc1', 'kernel-defect')
    assert layer['links']['kernel'] == pytest.approx(1.0) and layer['links']['generator'] == 0.0


def test_a_narrow_type_is_the_precision_link(hlsdiff, model_files, tmp_path):
    model, data = model_files('strided_cnn', n=8)
    cfg = tmp_path / 'narrow.yml'
    cfg.write_text("Model: {Precision: 'ap_fixed<32,16>'}\nLayerName:\n  fc1:\n    Precision: {result: 'ap_fixed<8,2>'}\n")
    run = hlsdiff('compare', model, data, '--config', cfg, code=1)
    layer = run.layer('fc1')
    assert run.json['onset']['layer'] == 'fc1' and layer['cause'] not in ('generator-defect', 'kernel-defect')
    assert layer['links']['generator'] == 0.0 and layer['links']['kernel'] == 0.0
    assert layer['links']['precision'] == pytest.approx(layer['local_max_abs'], rel=1e-6)
