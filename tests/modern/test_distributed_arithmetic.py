"""`--strategy distributed_arithmetic` (hls4ml 1.3.0 with da4ml) on an HGQ2 model: converted by hls4ml, built by g++,
every layer traced, compared and emulated bit for bit (da4ml's kernels too), bit-exact at the output."""

from __future__ import annotations

import os

import numpy as np
import pytest


@pytest.fixture(scope='module')
def hgq2_mlp(tmp_path_factory):
    os.environ.setdefault('KERAS_BACKEND', 'torch')
    import keras
    from hgq.config import LayerConfigScope, QuantizerConfigScope
    from hgq.layers import QDense

    keras.utils.set_random_seed(1)
    with QuantizerConfigScope(place='all', default_q_type='kbi', overflow_mode='SAT_SYM'), \
            LayerConfigScope(enable_ebops=False):
        model = keras.Sequential([keras.Input((6,), name='x'), QDense(8, activation='relu', name='d1'),
                                  QDense(5, activation='relu', name='d2'), QDense(3, name='d3')])
    folder = tmp_path_factory.mktemp('hgq2_da')
    x = np.random.default_rng(1).uniform(-1, 1, (64, 6)).astype(np.float32)
    model(x)
    model.save(folder / 'hgq.keras')
    np.save(folder / 'x.npy', x)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize('io_type', ['io_parallel', 'io_stream'])
def test_hgq2_with_distributed_arithmetic_is_bit_exact_and_every_layer_compared(hlsdiff, hgq2_mlp, tmp_path, io_type):
    kept = tmp_path / 'prj'
    run = hlsdiff('compare', hgq2_mlp / 'hgq.keras', hgq2_mlp / 'x.npy', '--strategy', 'distributed_arithmetic',
                  '--io-type', io_type, '--output-dir', kept, code=0)
    # the strategy reached hls4ml as it reads it: da4ml wrote the kernels, and no weights are loaded
    generated = (kept / 'firmware' / 'nnet_utils' / 'nnet_code_gen.h').read_text()
    assert 'dense_da_' in generated
    assert not list((kept / 'firmware' / 'weights').glob('*.txt'))
    assert run.json['backend'] == 'Vivado'
    layers = {layer['name']: layer for layer in run.json['layers']}
    assert list(layers) == ['x', 'd1', 'd1_relu', 'd2', 'd2_relu', 'd3']
    assert all(layer['status'] in ('ok', 'noise') for layer in layers.values()), layers
    assert layers['d3']['max_abs'] == 0.0  # HGQ2's promise, kept by da4ml's adder graphs
    # da4ml's adder graphs, read from nnet_code_gen.h and computed exactly, and the ReLUs after them, read from the
    # kernels' traces in the type they write: every layer bit-exact
    for name in ('d1', 'd1_relu', 'd2', 'd2_relu', 'd3'):
        assert layers[name]['emulation']['status'] == 'bit-exact', layers[name]
        assert layers[name]['links']['kernel'] == 0.0
