"""Quantized models: HGQ2 (Keras 3) and Brevitas exported to QONNX, compared end to end."""

from __future__ import annotations

import os

import numpy as np
import pytest

from .conftest import check_mapping


@pytest.fixture(scope='module')
def hgq2_file(tmp_path_factory):
    os.environ.setdefault('KERAS_BACKEND', 'torch')
    import keras
    from hgq.config import LayerConfigScope, QuantizerConfigScope
    from hgq.layers import QDense

    keras.utils.set_random_seed(0)
    with QuantizerConfigScope(place='all', default_q_type='kbi', overflow_mode='SAT_SYM'), \
            LayerConfigScope(enable_ebops=False):
        model = keras.Sequential([keras.Input((6,), name='x'), QDense(5, activation='relu', name='d1'), QDense(3, name='d2')])
    folder = tmp_path_factory.mktemp('hgq2')
    x = np.random.default_rng(0).uniform(-1, 1, (16, 6)).astype(np.float32)
    model(x)
    model.save(folder / 'hgq.keras')
    np.save(folder / 'x.npy', x)
    return folder


@pytest.fixture(scope='module')
def brevitas_qonnx(tmp_path_factory):
    import brevitas.nn as qnn
    import torch
    import torch.nn as nn
    from brevitas.export import export_qonnx

    class QNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = qnn.QuantIdentity(bit_width=8, return_quant_tensor=True)
            self.conv = qnn.QuantConv2d(2, 3, 3, weight_bit_width=6, bias=True, return_quant_tensor=True)
            self.relu = qnn.QuantReLU(bit_width=8, return_quant_tensor=True)
            self.fc = qnn.QuantLinear(3 * 6 * 6, 4, weight_bit_width=6, bias=True)

        def forward(self, x):
            return self.fc(torch.flatten(self.relu(self.conv(self.inp(x))), 1))

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp('brevitas')
    x = np.random.default_rng(0).uniform(-1, 1, (16, 2, 8, 8)).astype(np.float32)
    net = QNet().eval()
    with torch.no_grad():
        net(torch.tensor(x))
    export_qonnx(net, torch.zeros(1, 2, 8, 8), export_path=str(folder / 'qnet.onnx'))
    np.save(folder / 'x.npy', x)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize('io_type', ['io_parallel', 'io_stream'])
def test_hgq2_bit_exact_at_its_output(hlsdiff, hgq2_file, io_type):
    run = hlsdiff('compare', hgq2_file / 'hgq.keras', hgq2_file / 'x.npy', '--io-type', io_type, code=0)
    check_mapping(run)
    assert [x['name'] for x in run.json['layers'] if x['status'] != 'not-compared'] == ['x', 'd1', 'd1_relu',
                                                                                         'd2']
    assert run.layer('d2')['max_abs'] == 0.0  # HGQ2's promise: the firmware equals the model bit for bit


@pytest.mark.slow
@pytest.mark.parametrize('io_type', ['io_parallel', 'io_stream'])
def test_brevitas_qonnx(hlsdiff, brevitas_qonnx, io_type):
    run = hlsdiff('compare', brevitas_qonnx / 'qnet.onnx', brevitas_qonnx / 'x.npy', '--io-type', io_type)
    assert run.code in (0, 1), run.stderr
    check_mapping(run)
    # the layers hls4ml makes of Quant nodes: the weight quantizer's rescale carries the convolution's output
    assert run.layer('Quant_0_rescale')['keras'] == 'Conv_0'
    assert 'integer weights' in run.layer('Conv2D_Conv_0')['reason']
    assert run.layer('Quant_2_act')['keras'] == 'Quant_2' and run.layer('Quant_2_act')['status'] == 'ok'
    assert run.layer('Dense_MatMul_0')['keras'] == 'MatMul_0' and run.layer('bn_Add_0')['keras'] == 'Add_0'
    # measured: the rescale's scale_t (ap_fixed<16,6> by default) costs the convolution its accuracy, shown by
    # the emulation of the project's own types
    assert run.json['onset']['layer'] == 'Quant_0_rescale'
    assert run.json['onset']['evidence'] == 'emulation'
