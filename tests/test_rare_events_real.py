"""No false pass: hls4ml wrong on a few samples only is a FAIL, with every wrong sample listed.

Each model is built so that hls4ml is wrong on the listed samples only; that is checked with hls4ml alone
(convert, compile, predict: no hlsdiff code), then hlsdiff must exit 1 with the onset at the layer that
overflows and list exactly those samples; at a precision that holds them it must exit 0.
"""

from __future__ import annotations

import numpy as np
import pytest

from . import models

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group('rare')]

INPUT_RARE = (17, 250, 480, 701, 999)
RELU_RARE = (5, 333, 900)
GAP_RARE = (42, 777)


def _files(tmp_path, name: str, model, x: np.ndarray):
    model.save(tmp_path / f'{name}.h5')
    np.save(tmp_path / f'{name}.npy', x)
    return tmp_path / f'{name}.h5', tmp_path / f'{name}.npy'


def wrong_in_hls4ml_alone(model, x: np.ndarray, precision: str, tmp_path, beyond: float) -> set[int]:
    """The samples on which hls4ml alone (default config at `precision`) is off by more than `beyond`."""
    from hlsdiff.trace import stack

    s = stack.load()
    config = s.hls4ml.utils.config_from_keras_model(model, granularity='name', default_precision=precision)
    hls_model = s.hls4ml.converters.convert_from_keras_model(model, hls_config=config, io_type='io_parallel',
                                                             output_dir=str(tmp_path / 'alone'))
    hls_model.compile()
    got = np.asarray(hls_model.predict(np.ascontiguousarray(x, dtype=np.float64))).reshape(len(x), -1)
    want = model.predict(x, verbose=0).reshape(len(x), -1)
    return {int(i) for i in np.flatnonzero(np.abs(got - want).max(axis=1) > beyond)}


def test_an_input_that_wraps_on_5_of_1000_samples_fails_with_every_wrong_sample(hlsdiff, tmp_path):
    model = models.rare_mlp()
    x = models.rare_data((16,), rare=INPUT_RARE, value=lambda rng, k: (-1) ** k * (40.0 + 4 * k))
    assert wrong_in_hls4ml_alone(model, x, 'ap_fixed<16,6>', tmp_path, 0.5) <= set(INPUT_RARE)
    path, data = _files(tmp_path, 'rare_input', model, x)
    wrong = tmp_path / 'wrong.npy'
    run = hlsdiff('compare', path, data, '--precision', 'ap_fixed<16,6>', '--save-wrong', wrong, code=1)
    assert run.json['onset']['layer'] == 'inp' and run.json['onset']['cause'] == 'overflow-wrap'
    inp = run.layer('inp')
    assert inp['status'] == 'mismatch' and inp['wrong_samples'] == list(INPUT_RARE)
    assert inp['worst_wrong']['channel'] == 0 and inp['worst_wrong']['lsb'] > 1000
    # the hint (an input type that holds the data) checked at the outputs by prediction
    assert inp['hint'].startswith('Set LayerName.inp.Precision.result to ') and 'the outputs then pass the gate' in inp['hint']
    out = run.json['outputs'][0]
    assert out['wrong_samples'] == list(INPUT_RARE) and out['wrong_samples_count'] == 5
    assert '5 of 1000 samples (0.5%)' in run.stdout
    assert any(f.startswith('inp: own error beyond rounding') for f in run.json['gate_failures'])
    np.testing.assert_array_equal(np.load(wrong), x[list(INPUT_RARE)])
    # the same outliers at a precision that holds them (+-128)
    held = hlsdiff('compare', path, data, '--precision', 'ap_fixed<18,8>', code=0)
    assert held.json['outputs'][0]['wrong_samples'] == [] and held.layer('inp')['beyond_rounding'] == 0


def test_a_hidden_relu_that_wraps_on_3_of_1000_samples_fails_at_the_relu(hlsdiff, tmp_path):
    model = models.rare_relu_mlp()
    x = models.rare_data((8,), rare=RELU_RARE, value=lambda rng, k: 20.0)
    alone = wrong_in_hls4ml_alone(model, x, 'ap_fixed<16,6>', tmp_path, 0.5)
    assert alone == set(RELU_RARE), alone
    path, data = _files(tmp_path, 'rare_relu', model, x)
    run = hlsdiff('compare', path, data, '--precision', 'ap_fixed<16,6>', code=1)
    onset = run.json['onset']
    assert onset['layer'] == 'fc1_relu' and onset['cause'] == 'overflow-wrap', onset
    assert run.layer('fc1')['beyond_rounding'] == 0  # the dense layer before it computes its values right
    assert run.layer('fc1_relu')['wrong_samples'] == list(RELU_RARE)
    assert run.json['outputs'][0]['wrong_samples'] == list(RELU_RARE)
    assert '3 of 1000 samples (0.3%)' in run.stdout
    hlsdiff('compare', path, data, '--precision', 'ap_fixed<18,8>', code=0)


def test_a_pooling_accumulator_that_wraps_on_2_bright_images_fails_at_the_pooling(hlsdiff, tmp_path):
    model = models.rare_gap()
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 0.4, (1000, 6, 6, 2)).astype('float32')
    x[list(GAP_RARE), :, :, 0] = 2.0  # a bright image: its 36 pixels sum to 72, beyond +-32
    path, data = _files(tmp_path, 'rare_gap', model, x)
    run = hlsdiff('compare', path, data, '--precision', 'ap_fixed<16,6>', code=1)
    onset = run.json['onset']
    assert onset['layer'] == 'gap' and onset['cause'] == 'accumulator', onset
    gap = run.layer('gap')
    assert gap['wrong_samples'] == list(GAP_RARE) and gap['worst_wrong']['channel'] == 0
    assert run.json['outputs'][0]['wrong_samples'] == list(GAP_RARE)
    assert wrong_in_hls4ml_alone(model, x, 'ap_fixed<16,6>', tmp_path, 0.05) <= set(GAP_RARE)


def test_a_layer_the_framework_skips_at_inference_is_not_a_dropped_layer(hlsdiff, model_files):
    """Dropout and a linear Activation before a dense layer: hls4ml agrees with Keras, so does hlsdiff."""
    model, data = model_files('dropout_mlp', n=64)
    run = hlsdiff('compare', model, data, code=0)
    assert run.json['onset'] is None and run.json['outputs'][0]['classifier'] == 'logits'
    assert all(layer['cause'] != 'generator-defect' for layer in run.json['layers'])
