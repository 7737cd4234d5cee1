"""The three links against real builds: Keras's own layer at the project's types (the reference) finds
what hls4ml wrote wrong, which the emulation of the project's own files cannot see."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


@pytest.mark.xdist_group('qconvbn')
def test_resource_weight_order_of_a_qconv2dbatchnorm_is_a_generator_defect(hlsdiff, model_files):
    model, data = model_files('qconvbn_strategy', n=8)
    run = hlsdiff('compare', model, data, '--strategy', 'Resource', '--io-type', 'io_parallel', code=1)
    assert run.json['onset'] == {'layer': 'qconvbn', 'cause': 'generator-defect', 'pattern': 'all-channels',
                                 'evidence': 'emulation'}
    layer = run.layer('qconvbn')
    links = layer['links']
    assert links['kernel'] == 0.0  # the kernel computes its files bit for bit
    assert links['generator'] > 1.0 and links['generator'] >= 0.9 * layer['max_abs']
    assert links['precision'] is not None and links['precision'] < 0.01  # Keras's layer at these types: rounding only
    (weights,) = layer['generator_evidence']
    assert weights['what'] == 'weights'
    assert weights['permutation'] == 'as (in, out, kh, kw); the Resource kernel reads (out, kh, kw, in)'
    assert 'of 135 values' in weights['detail']
    assert 'Strategy: Latency' in layer['hint']
    assert run.layer('out')['cause'] == 'propagated'


@pytest.mark.xdist_group('qconvbn')
def test_a_per_layer_strategy_does_not_cure_it_as_the_hint_says(hlsdiff, model_files, tmp_path):
    model, data = model_files('qconvbn_strategy', n=8)
    config = tmp_path / 'cfg.yml'
    config.write_text('LayerName:\n  qconvbn:\n    Strategy: Latency\n')
    run = hlsdiff('compare', model, data, '--strategy', 'Resource', '--config', config, code=1)
    assert run.json['onset']['cause'] == 'generator-defect'


@pytest.mark.xdist_group('qconvbn')
def test_the_same_layer_with_latency_has_no_cause(hlsdiff, model_files):
    model, data = model_files('qconvbn_strategy', n=8)
    run = hlsdiff('compare', model, data, '--strategy', 'Latency', '--io-type', 'io_parallel', code=0)
    assert run.json['onset'] is None
    layer = run.layer('qconvbn')
    assert layer['status'] in ('ok', 'noise') and layer['cause'] == 'none'
    assert layer['links']['generator'] == 0.0 and layer['links']['kernel'] == 0.0
    assert layer['generator_evidence'] == []
