"""Keras 3's ReLU layer, which hls4ml 1.3.0 converts to nnet::thresholded_relu: emulated bit for bit, so a
ReLU that wraps on a few samples is the onset, with those samples listed."""

from __future__ import annotations

import os

import numpy as np
import pytest

pytestmark = pytest.mark.slow

RARE = (11, 222, 333)


@pytest.fixture(scope='module')
def relu_mlp(tmp_path_factory):
    """fc1's first unit doubles feature 0: 3.5 there (3 of 400 samples) gives 7 after the ReLU, beyond
    ap_fixed<8,3>'s +-4; every other sample stays below 2.5."""
    os.environ.setdefault('KERAS_BACKEND', 'torch')
    import keras

    keras.utils.set_random_seed(0)
    x = keras.Input((6,), name='x')
    fc1 = keras.layers.Dense(4, name='fc1')
    y = keras.layers.ReLU(name='act')(fc1(x))
    model = keras.Model(x, keras.layers.Dense(1, name='out')(y))
    kernel = np.full((6, 4), 0.05, dtype=np.float32)
    kernel[0, 0] = 2.0
    fc1.set_weights([kernel, np.zeros(4, dtype=np.float32)])
    data = np.random.default_rng(0).uniform(-1, 1, (400, 6)).astype(np.float32)
    data[list(RARE), 0] = 3.5
    folder = tmp_path_factory.mktemp('k3relu')
    model.save(folder / 'relu.keras')
    np.save(folder / 'x.npy', data)
    return folder


def test_a_keras3_relu_that_wraps_on_3_samples_is_the_onset(hlsdiff, relu_mlp):
    run = hlsdiff('compare', relu_mlp / 'relu.keras', relu_mlp / 'x.npy', '--precision', 'ap_fixed<8,3>', code=1)
    act = run.layer('act')
    assert act['emulation']['status'] == 'bit-exact', act['emulation']  # nnet::thresholded_relu, emulated
    onset = run.json['onset']
    assert onset['layer'] == 'act' and onset['cause'] == 'overflow-wrap', onset
    assert act['wrong_samples'] == list(RARE) and run.json['outputs'][0]['wrong_samples'] == list(RARE)
    assert run.layer('fc1')['beyond_rounding'] == 0
