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


LATENCY_WIDE = """
LayerName:
  fc:
    Precision: {result: 'ap_fixed<32,16>'}
  fc_softmax:
    Implementation: latency
"""


@pytest.mark.xdist_group('softmax')
def test_a_latency_softmax_with_a_wide_input_is_emulated_not_an_internal_error(hlsdiff, model_files, tmp_path):
    """Its exp table covers the whole input type: exp overflows single precision, and the C-simulation's table
    holds what ap_fixed's constructor makes of an infinity."""
    model, data = model_files('dense_softmax', n=8, scale=2.0)
    cfg = tmp_path / 'latency.yml'
    cfg.write_text(LATENCY_WIDE)
    run = hlsdiff('compare', model, data, '--config', cfg)
    assert run.code in (0, 1), run.stderr
    softmax = run.layer('fc_softmax')
    assert softmax['emulation']['status'] == 'bit-exact', softmax['emulation']
    _rounding_only_within_its_bound(run)


def _rounding_only_within_its_bound(run) -> None:
    for layer in run.json['layers']:
        if layer['cause'] == 'rounding' and layer['evidence'] == 'emulation':
            assert layer['local_max_abs'] <= layer['rounding_bound']['bound'], layer['name']


@pytest.mark.xdist_group('softmax')
def test_a_softmax_after_narrowed_logits_is_not_called_rounding(hlsdiff, model_files, tmp_path):
    """A Dense -> softmax head whose logits are narrowed, on inputs that make its top-1 fragile: the softmax's
    own error is beyond what rounding its inputs and types can produce, so it is not `rounding`."""
    model, data = model_files('dense_softmax', n=64, scale=0.03)
    cfg = tmp_path / 'narrow.yml'
    cfg.write_text("LayerName:\n  fc:\n    Precision: {result: 'ap_fixed<8,4>'}\n")
    run = hlsdiff('compare', model, data, '--config', cfg, code=1)
    assert run.json['onset']['layer'] == 'fc_softmax'
    softmax = run.layer('fc_softmax')
    assert softmax['cause'] != 'rounding' and softmax['evidence'] == 'emulation', softmax['cause_detail']
    _rounding_only_within_its_bound(run)
