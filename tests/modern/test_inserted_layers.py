"""A layer hls4ml inserts is measured: a Brevitas QuantIdentity's scale into its 8-bit integer domain (128)
does not fit the default ap_fixed<16,6> scale type and wraps; hlsdiff names that layer, not a later one."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def brevitas_mlp(tmp_path_factory):
    import brevitas.nn as qnn
    import torch
    import torch.nn as nn
    from brevitas.export import export_qonnx

    class QMlp(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = qnn.QuantIdentity(bit_width=8, return_quant_tensor=True)
            self.fc1 = qnn.QuantLinear(8, 6, weight_bit_width=6, bias=True, return_quant_tensor=True)
            self.relu = qnn.QuantReLU(bit_width=8, return_quant_tensor=True)
            self.fc2 = qnn.QuantLinear(6, 4, weight_bit_width=6, bias=True)

        def forward(self, x):
            return self.fc2(self.relu(self.fc1(self.inp(x))))

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp('brevitas_mlp')
    x = np.random.default_rng(0).uniform(-1, 1, (64, 8)).astype(np.float32)
    net = QMlp()
    net.train()
    with torch.no_grad():
        for _ in range(5):
            net(torch.tensor(x))
    net.eval()
    export_qonnx(net, torch.zeros(1, 8), export_path=str(folder / 'qmlp.onnx'))
    np.save(folder / 'x.npy', x)
    return folder


def test_a_wrapping_scale_hls4ml_inserts_is_the_onset_with_a_hint_that_makes_it_exact(hlsdiff, brevitas_mlp, tmp_path):
    model, data = brevitas_mlp / 'qmlp.onnx', brevitas_mlp / 'x.npy'
    run = hlsdiff('compare', model, data, code=1)
    onset = run.json['onset']
    assert onset['layer'] == 'Quant_0_scale' and onset['cause'] == 'overflow-wrap' and onset['evidence'] == 'emulation'
    scale = run.layer('Quant_0_scale')
    assert scale['origin'] == 'inserted' and scale['status'] == 'mismatch' and scale['beyond_rounding'] > 0
    remedy = scale['remedy']
    assert remedy['key'] == 'Precision.scale' and remedy['before'] == 'ap_fixed<16,6>' and remedy['verified']
    assert scale['hint'].startswith(f'Set LayerName.Quant_0_scale.Precision.scale to {remedy["after"]}')
    # the hint applied as a config, measured again by the real C-simulation: the inserted layer is exact
    config = tmp_path / 'scale.yml'
    config.write_text(f'LayerName:\n  Quant_0_scale:\n    Precision:\n      scale: {remedy["after"]}\n')
    again = hlsdiff('compare', model, data, '--config', config)
    assert again.layer('Quant_0_scale')['beyond_rounding'] == 0
    assert again.json['onset'] is None or again.json['onset']['layer'] != 'Quant_0_scale'
