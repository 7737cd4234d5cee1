"""`hlsdiff fix` by prediction, with real conversions and builds; every written config checked by
hls4ml alone (yaml.safe_load -> convert_from_keras_model -> compile -> predict) against Keras."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from hlsdiff.demo import DATA, MODEL

pytestmark = pytest.mark.slow


def hls4ml_alone(model_path, x: np.ndarray, config_path, io_type: str, tmp_path) -> tuple[list, list]:
    """The written config, by hls4ml alone: (hls4ml outputs, Keras outputs), one array per output."""
    from hlsdiff.trace import stack

    s = stack.load()
    from qkeras.utils import _add_supported_quantized_objects

    objects: dict = {}
    _add_supported_quantized_objects(objects)
    model = s.keras.models.load_model(model_path, custom_objects=objects, compile=False)
    hls_model = s.hls4ml.converters.convert_from_keras_model(
        model, hls_config=yaml.safe_load(config_path.read_text()), io_type=io_type, output_dir=str(tmp_path / 'alone'))
    hls_model.compile()
    got = hls_model.predict(np.ascontiguousarray(x, dtype=np.float64))
    want = model.predict(x, verbose=0)
    got = got if isinstance(got, list) else [got]
    want = want if isinstance(want, list) else [want]
    return [np.asarray(g).reshape(np.asarray(w).shape) for g, w in zip(got, want)], want


def top1(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.mean(np.argmax(got, axis=-1) == np.argmax(want, axis=-1)))


def assert_predicted_as_measured(run) -> None:
    """Every confirmed change: the predicted error within 10% (or 1 LSB) of the C-simulation's."""
    rows = run.json['fix']['predicted_vs_measured']
    assert rows, 'no prediction was confirmed'
    assert all(r['within_tolerance'] for r in rows), rows
    assert not run.json['fix']['emulation_bugs']


def test_the_issue1472_model_at_16_12_io_parallel_by_prediction(hlsdiff, tmp_path):
    """The demo (#1472-shaped: QConv2DBatchnorm, QDepthwiseConv2D blocks with residual Adds, a GAP ->
    Dense head and a depthwise head) at the issue's ap_fixed<16,12>: the classifier within 0.1 and
    the other output within 5% of its range, in at most 2 C-simulation builds."""
    x = np.load(DATA)[:32]
    out = tmp_path / 'fixed.yml'
    run = hlsdiff('fix', MODEL, DATA, '--precision', 'ap_fixed<16,12>', '--samples', 32, '--max-error',
                  'classifier:0.1', '--max-error', 'dw_head_relu:0.19', '-o', out, code=0)
    fix = run.json['fix']
    assert fix['passed'] and fix['builds'] <= 2 and fix['what_ifs'] > 0
    assert all(c['evidence'] == 'prediction' and c['status'] == 'kept' for c in fix['changes'])
    assert_predicted_as_measured(run)
    got, want = hls4ml_alone(MODEL, x, out, 'io_parallel', tmp_path)
    classifier, head = got[0], got[1]
    assert top1(classifier, want[0]) >= 0.98
    assert float(np.max(np.abs(classifier - want[0]))) <= 0.1
    assert float(np.max(np.abs(head - want[1]))) <= 0.05 * float(np.ptp(want[1]))


def test_the_issue1472_model_at_16_12_meets_the_default_gate(hlsdiff, tmp_path):
    """With no gate option, fix targets the default gate (docs/gate.md): nothing beyond rounding on any sample
    (the demo data reaches 4.05 in the input's ap_fixed<9,3> on one sample) and top-1 >= 99% on the classifier
    (a logits head); the written config, by hls4ml alone, keeps every top-1 and the classifier within 5% of its
    range."""
    x = np.load(DATA)[:32]
    out = tmp_path / 'fixed.yml'
    run = hlsdiff('fix', MODEL, DATA, '--precision', 'ap_fixed<16,12>', '--samples', 32, '-o', out, code=0)
    assert run.json['fix']['passed'] and run.json['outputs'][0]['classifier'] == 'logits'
    assert all(o['wrong_samples_count'] == 0 for o in run.json['outputs'])
    changes = {(c['layer'], c['key']) for c in run.json['fix']['changes'] if c['status'] == 'kept'}
    assert ('input_1', 'Precision.result') in changes
    got, want = hls4ml_alone(MODEL, x, out, 'io_parallel', tmp_path)
    assert top1(got[0], want[0]) >= 0.99
    assert float(np.max(np.abs(got[0] - want[0]))) <= 0.05 * float(np.ptp(want[0]))


def test_a_softmax_with_wide_logits_passes_in_hls4ml_alone(hlsdiff, model_files, tmp_path):
    model, data = model_files('dense_softmax', n=64)
    out = tmp_path / 'fixed.yml'
    run = hlsdiff('fix', model, data, '--min-agreement', 0.98, '--max-error', 'fc_softmax:0.05', '-o', out)
    x = np.load(data)
    got, want = hls4ml_alone(model, x, out, 'io_parallel', tmp_path)
    if run.code == 0:
        assert top1(got[0], want[0]) >= 0.98 and float(np.max(np.abs(got[0] - want[0]))) <= 0.05
        assert_predicted_as_measured(run)
    else:
        assert run.code == 1 and (run.json['fix']['unfixable'] or run.json['fix']['notes'])


def test_a_softmax_classifier_is_fixed_to_the_default_gate_and_within_5_percent(hlsdiff, model_files, tmp_path):
    """With no gate option (#31): the softmax classifier whose wide logits overflow its table fails the default
    gate; fix exits 0, and its written config, by hls4ml alone, keeps top-1 >= 99% and every probability within
    0.05 (5% of their range), the figures fix reports."""
    model, data = model_files('dense_softmax', n=64)
    out = tmp_path / 'fixed.yml'
    hlsdiff('compare', model, data, code=1)
    run = hlsdiff('fix', model, data, '-o', out, code=0)
    got, want = hls4ml_alone(model, np.load(data), out, 'io_parallel', tmp_path)
    error = float(np.max(np.abs(got[0] - want[0])))
    assert top1(got[0], want[0]) >= 0.99 and error <= 0.05
    assert error == pytest.approx(run.json['outputs'][0]['max_abs'], rel=1e-6)


def qconvbn_strategy(path, seed: int = 1):
    """A QConv2DBatchnorm 3x3, 3 -> 5 channels, quantized_bits(8, 4), BatchNormalization statistics away from
    the identity, a Dense head: with Strategy Resource hls4ml 1.3.0 writes its weights in the wrong order."""
    from qkeras import QConv2DBatchnorm, quantized_bits

    from . import models

    keras = models._k()
    keras.utils.set_random_seed(seed)
    inp = keras.Input((6, 6, 3), name='inp')
    x = QConv2DBatchnorm(5, 3, kernel_quantizer=quantized_bits(8, 4, alpha=1), bias_quantizer=quantized_bits(8, 4, alpha=1),
                         name='qconvbn')(inp)
    x = keras.layers.Dense(2, name='out')(keras.layers.Flatten(name='flat')(x))
    model = keras.Model(inp, x)
    rng = np.random.default_rng(seed)
    model.get_layer('qconvbn').batchnorm.set_weights([rng.uniform(0.5, 2, 5), rng.uniform(-1, 1, 5),
                                                      rng.uniform(-1, 1, 5), rng.uniform(0.5, 2, 5)])
    model.save(path / 'qconvbn.h5')
    np.save(path / 'qconvbn.npy', models.data_for(model, 8))
    return path / 'qconvbn.h5', path / 'qconvbn.npy'


def test_qconv2dbatchnorm_with_resource_gets_latency_as_a_workaround(hlsdiff, tmp_path):
    model, data = qconvbn_strategy(tmp_path)
    out = tmp_path / 'fixed.yml'
    before = hlsdiff('compare', model, data, '--strategy', 'Resource', code=1)
    run = hlsdiff('fix', model, data, '--strategy', 'Resource', '-o', out, code=0)
    (change,) = run.json['fix']['changes']
    assert (change['layer'], change['key'], change['after'], change['workaround']) == ('qconvbn', 'Strategy', 'Latency', True)
    assert_predicted_as_measured(run)
    got, want = hls4ml_alone(model, np.load(data), out, 'io_parallel', tmp_path)
    error = float(np.max(np.abs(got[0] - want[0])))
    assert error < 0.1 * before.json['outputs'][0]['max_abs']
    assert error == pytest.approx(run.json['outputs'][0]['max_abs'], rel=1e-6)


def test_a_batchnorm_folded_into_a_depthwise_layer_is_unfolded_by_a_result_type(hlsdiff, model_files, tmp_path):
    model, data = model_files('depthwise_bn', n=16)
    out = tmp_path / 'fixed.yml'
    run = hlsdiff('fix', model, data, '-o', out, code=0)
    changes = run.json['fix']['changes']
    assert all(c['round'] == 1 and c['key'] == 'Precision.result' and c['workaround'] for c in changes)
    (change,) = [c for c in changes if c['layer'] == 'dw']  # dw and its linear part: the fold stops
    # `before` is what hls4ml derived for the `auto` entry (the folded layer's type), `after` the explicit one
    assert 'bn_fuse' in change['why'] and change['before'] != change['after']
    assert change['before'] == 'auto' or change['before'].startswith('ap_fixed<')
    assert yaml.safe_load(out.read_text())['LayerName']['dw']['Precision']['result'] == change['after']
    assert_predicted_as_measured(run)
    got, want = hls4ml_alone(model, np.load(data), out, 'io_parallel', tmp_path)
    assert float(np.max(np.abs(got[0] - want[0]))) <= 0.05 * float(np.ptp(want[0]))


def test_a_deep_mlp_at_8_3(hlsdiff, model_files, tmp_path):
    model, data = model_files('deep_dense', n=32)
    out = tmp_path / 'fixed.yml'
    run = hlsdiff('fix', model, data, '--precision', 'ap_fixed<8,3>', '--max-error', 'logits:0.1', '-o', out)
    if run.code == 0:
        got, want = hls4ml_alone(model, np.load(data), out, 'io_parallel', tmp_path)
        assert float(np.max(np.abs(got[0] - want[0]))) <= 0.1
        assert_predicted_as_measured(run)
    else:
        assert run.code == 1 and (run.json['fix']['unfixable'] or run.json['fix']['notes'])
