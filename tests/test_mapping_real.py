"""Each Keras tensor compared with the hls4ml layer that holds the same quantity (real conversions)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


@pytest.mark.xdist_group('alpha')
def test_an_alpha_auto_layer_is_compared_after_its_scale(hlsdiff, model_files):
    model, data = model_files('qkeras_alpha_auto', n=16)
    run = hlsdiff('compare', model, data)
    assert run.code in (0, 1), run.stderr
    qfc1 = run.layer('qfc1')
    assert qfc1['status'] == 'not-compared' and 'qfc1_alpha' in qfc1['reason']
    alpha = run.layer('qfc1_alpha')
    assert alpha['keras'] == 'qfc1' and alpha['status'] in ('ok', 'noise') and alpha['cause'] == 'none'
    assert alpha['origin'] == 'alpha' and qfc1['origin'] == 'model' and run.layer('qfc2_softmax')['origin'] == 'split'
    assert run.layer('qfc2_alpha')['keras'] == 'qfc2 (pre-activation)'
    softmax = run.layer('qfc2_softmax')
    assert softmax['inputs'] == ['qfc2_alpha'] and softmax['local_max_abs'] is not None
    assert run.json['onset'] is None or run.json['onset']['layer'] == 'qfc2_softmax'


@pytest.mark.xdist_group('bilinear')
def test_bilinear_upsampling_computed_as_nearest_is_the_generator_onset(hlsdiff, model_files):
    model, data = model_files('upsample_bilinear', n=8, scale=2.0)
    run = hlsdiff('compare', model, data, code=1)
    assert run.json['onset'] == {'layer': 'up', 'cause': 'generator-defect', 'pattern': 'all-channels',
                                 'evidence': 'emulation'}
    up = run.layer('up')
    assert up['links']['kernel'] == 0.0  # hls4ml's nearest kernel computes its files
    assert up['generator_evidence'] == [{'what': 'function', 'name': 'resize_nearest', 'permutation': None,
                                         'detail': 'the framework interpolates bilinear; the project calls '
                                                   'nnet::resize_nearest'}]
    assert run.layer('inp')['cause'] == 'none' and run.layer('conv2')['cause'] == 'propagated'


@pytest.mark.xdist_group('qact')
def test_a_dropped_qactivation_is_the_generator_onset_not_the_input(hlsdiff, model_files):
    model, data = model_files('qact_between_dense', n=16, scale=2.0)
    run = hlsdiff('compare', model, data, code=1)
    assert run.json['onset'] == {'layer': 'qfc2', 'cause': 'generator-defect', 'pattern': 'all-channels',
                                 'evidence': 'emulation'}
    qfc2 = run.layer('qfc2')
    assert qfc2['local_max_abs'] == pytest.approx(qfc2['max_abs'])  # its own error: Keras applies qact first
    (dropped,) = qfc2['generator_evidence']
    assert dropped['what'] == 'function' and dropped['name'] == 'qact' and 'dropped QActivation qact' in dropped['detail']
    assert run.layer('inp')['cause'] == 'none' and run.layer('qfc1')['status'] in ('ok', 'noise')
    assert qfc2['links']['generator'] is None and 'not computed' in qfc2['emulation']['reason']


@pytest.mark.xdist_group('hgq-absorbed')
def test_an_hgq_input_quantizer_hls4ml_absorbs_is_compared_after_it(hlsdiff, tmp_path):
    """A proxy model whose input quantizer has one bit width: hls4ml makes it the input type. The input row is
    Keras's quantized input (bit for bit), and the layer after it is not blamed for a 'dropped' quantizer."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    model, data = tmp_path / 'hgq.h5', tmp_path / 'hgq.npy'
    env = {k: v for k, v in os.environ.items() if k != 'TF_USE_LEGACY_KERAS'}
    subprocess.run([sys.executable, str(Path(__file__).parent / 'data' / 'make_hgq.py'), 'dense_layerwise', str(model),
                    str(data)], check=True, env=env, capture_output=True)
    run = hlsdiff('compare', model, data, code=0)
    inp = run.layer('input_1')
    assert inp['keras'] == 'q' and inp['max_abs'] == 0.0 and 'absorbs' in inp['mapping_note']
    assert run.layer('d1')['cause'] == 'none' and run.layer('d1')['generator_evidence'] == []
    assert {'keras': 'q', 'reason': 'folded into hls4ml layer input_1'} in run.json['unmatched_keras']


def test_a_separable_conv_with_its_activation_is_compared_at_its_halves(hlsdiff, tmp_path):
    """hls4ml splits a SeparableConv2D(activation='relu') into depthwise, pointwise and the activation: the pointwise
    half is the Keras layer before its activation, the activation its output; every Keras layer is mapped."""
    import numpy as np

    from . import models

    keras = models._k()
    keras.utils.set_random_seed(0)
    inp = keras.Input((6, 6, 2), name='inp')
    x = keras.layers.SeparableConv2D(3, 3, padding='same', activation='relu', name='sep')(inp)
    keras.Model(inp, keras.layers.Conv2D(2, 1, name='c')(x)).save(tmp_path / 'm.h5')
    np.save(tmp_path / 'x.npy', np.random.default_rng(0).normal(size=(8, 6, 6, 2)).astype(np.float32))
    run = hlsdiff('compare', tmp_path / 'm.h5', tmp_path / 'x.npy', code=0)
    assert run.layer('sep_pointwise')['keras'] == 'sep (pre-activation)' and run.layer('sep_relu')['keras'] == 'sep'
    assert 'depthwise half of sep' in run.layer('sep_depthwise')['reason'] and run.json['unmatched_keras'] == []
    for name in ('sep_pointwise', 'sep_relu', 'c'):
        assert run.layer(name)['status'] in ('ok', 'noise') and run.layer(name)['max_abs'] < 0.05, run.layer(name)


@pytest.mark.xdist_group('simple_rnn')
def test_a_layer_hls4ml_writes_no_call_for_is_the_generator_onset(hlsdiff, model_files, tmp_path):
    """hls4ml 1.3.0 (Vivado) has no kernel for a SimpleRNN: its project has no call for it and the Dense after
    it reads an array nothing writes. That layer is the onset, a generator defect; not the input, and not a
    not-compared no-op."""
    from hlsdiff.emulate import read_program

    model, data = model_files('simple_rnn', n=16)
    run = hlsdiff('compare', model, data, '--output-dir', tmp_path / 'prj', code=1)
    program = read_program(tmp_path / 'prj' / 'firmware', 'myproject')
    assert [c.layer for c in program.calls] == ['fc', 'fc_softmax']  # the project computes no rnn
    assert run.json['onset'] == {'layer': 'rnn', 'cause': 'generator-defect', 'pattern': 'none',
                                 'evidence': 'emulation'}
    assert run.json['verdict'] == 'fail' and 'rnn: status mismatch' in run.json['gate_failures']
    rnn = run.layer('rnn')
    assert rnn['status'] == 'mismatch' and rnn['keras'] == 'rnn'
    assert rnn['generator_evidence'] == [{
        'what': 'function', 'name': 'rnn', 'permutation': None,
        'detail': 'hls4ml wrote no call for SimpleRNN rnn: nothing in the project computes it, and fc reads its '
                  'output layer2_out, which no call writes'}]
    assert rnn['cause_detail'] == rnn['generator_evidence'][0]['detail'] and 'SimpleRNN rnn' in rnn['hint']
    assert run.layer('inp')['cause'] == 'none'
    assert run.layer('fc')['cause'] == 'propagated' and run.layer('fc')['propagated_from'] == 'rnn'
    headline = ' '.join(run.stdout.split())
    assert headline.startswith('First divergence: rnn (SimpleRNN) — generator defect: hls4ml wrote no call for '
                               'SimpleRNN rnn')
