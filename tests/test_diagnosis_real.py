"""The diagnosis on real conversions: onset, cause and hint, and no false alarms."""

from __future__ import annotations

import pytest
import yaml

from hlsdiff.demo import DATA, MODEL

pytestmark = pytest.mark.slow


@pytest.mark.xdist_group('gap')
def test_gap_accumulator_onset_and_the_hint_fixes_it(hlsdiff, model_files, tmp_path):
    model, data = model_files('gap_after_qact', scale=1.0)
    run = hlsdiff('compare', model, data, code=1)
    onset = run.json['onset']
    assert onset['layer'] == 'gap' and onset['cause'] in ('accumulator', 'overflow-wrap')
    hint = run.layer('gap')['hint']
    assert 'LayerName.gap.Precision.' in hint
    key, _, value = hint.removeprefix('Set ').partition(' to ')
    _, layer, _, which = key.split('.')
    config = tmp_path / 'fix.yml'
    config.write_text(yaml.safe_dump({'LayerName': {layer: {'Precision': {which: value}}}}))
    fixed = hlsdiff('compare', model, data, '--config', config, code=0)
    assert fixed.layer('gap')['status'] in ('ok', 'noise')


@pytest.mark.xdist_group('softmax')
def test_softmax_table_range(hlsdiff, model_files):
    model, data = model_files('dense_softmax', scale=2.0)
    run = hlsdiff('compare', model, data, code=1)
    assert run.json['onset']['layer'] == 'fc_softmax'
    assert run.json['onset']['cause'] == 'table-range'


@pytest.mark.xdist_group('relu6')
def test_relu_max_value_is_an_unsupported_attribute(hlsdiff, model_files):
    model, data = model_files('relu_max_value')
    run = hlsdiff('compare', model, data)
    relu = run.layer('relu6')
    assert relu['cause'] == 'unsupported-attribute' and 'max_value' in relu['hint']
    assert run.json['onset']['layer'] == 'relu6'


@pytest.mark.xdist_group('dilated')
def test_conv1d_dilation_is_an_unsupported_attribute(hlsdiff, model_files):
    model, data = model_files('conv1d_dilated')
    run = hlsdiff('compare', model, data)
    layer = run.layer('dconv')
    assert layer['cause'] == 'unsupported-attribute' and 'dilation_rate' in layer['hint']


@pytest.mark.xdist_group('demo')
def test_issue1472_model_input_quantization_at_16_12(hlsdiff):
    run = hlsdiff('compare', MODEL, DATA, '--io-type', 'io_stream', '--precision', 'ap_fixed<16,12>', code=1)
    assert run.json['onset'] == {'layer': 'input_1', 'cause': 'input-quantization', 'pattern': 'none',
                                 'evidence': 'heuristic'}
    depthwise = [l for l in run.json['layers'] if l['class'] == 'DepthwiseConv2D']
    assert depthwise and all(l['cause'] == 'propagated' for l in depthwise)
    assert 'First divergence: input_1' in run.stdout


@pytest.mark.xdist_group('demo')
@pytest.mark.parametrize('io_type', ['io_parallel', 'io_stream'])
def test_issue1472_model_gap_accumulator_at_16_6(hlsdiff, io_type):
    run = hlsdiff('compare', MODEL, DATA, '--io-type', io_type, '--precision', 'ap_fixed<16,6>', code=1)
    assert run.json['onset']['layer'] == 'gap'
    assert run.json['onset']['cause'] == 'accumulator'
    for layer in run.json['layers']:
        if layer['class'] == 'DepthwiseConv2D':
            assert layer['status'] != 'mismatch' and layer['cause'] not in ('kernel-defect', 'unknown')


@pytest.mark.xdist_group('float_cnn')
@pytest.mark.parametrize('io_type', ['io_parallel', 'io_stream'])
def test_clean_float_cnn_no_false_alarm(hlsdiff, model_files, io_type):
    model, data = model_files('float_cnn')
    run = hlsdiff('compare', model, data, '--io-type', io_type, '--precision', 'ap_fixed<32,16>', code=0)
    assert all(l['status'] != 'mismatch' for l in run.json['layers'])


@pytest.mark.xdist_group('sepblock')
@pytest.mark.parametrize('io_type', ['io_parallel', 'io_stream'])
def test_clean_qkeras_separable_block_no_false_alarm(hlsdiff, model_files, io_type):
    model, data = model_files('qkeras_sepblock')
    run = hlsdiff('compare', model, data, '--io-type', io_type, '--precision', 'ap_fixed<24,10>', code=0)
    assert run.json['verdict'] == 'pass' and run.json['onset'] is None
    assert all(l['status'] != 'mismatch' for l in run.json['layers'])
