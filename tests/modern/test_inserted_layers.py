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


def _qonnx_by_hand(model_path, cfg: dict, x, out_dir):
    """The written config given to hls4ml alone, with qonnx's cleaning and executor (no hlsdiff code)."""
    import hls4ml
    import onnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.transformation.gemm_to_matmul import GemmToMatMul
    from qonnx.util.cleanup import cleanup_model

    model = cleanup_model(ModelWrapper(onnx.load(str(model_path))))
    model = cleanup_model(model.transform(ConvertToChannelsLastAndClean()).transform(GemmToMatMul()))
    name, out = model.graph.input[0].name, model.graph.output[0].name
    want = np.concatenate([execute_onnx(model, {name: x[i:i + 1]})[out] for i in range(len(x))])
    hls_model = hls4ml.converters.convert_from_onnx_model(model, hls_config=cfg, io_type='io_parallel',
                                                          backend='Vivado', output_dir=str(out_dir))
    hls_model.compile()
    return np.asarray(hls_model.predict(np.ascontiguousarray(x))).reshape(want.shape), want


def test_fix_cures_the_wrapping_scales_and_the_rescale_that_rounds_to_zero(hlsdiff, brevitas_mlp, tmp_path):
    """Two inserted kinds of layer: the scale into the input Quant's integer domain wraps (128 in
    ap_fixed<16,6>), and the ApplyAlpha into which hls4ml moves the rescale (bn_Add_0, scale ~1e-4) rounds its
    scale to 0 in the default type, so the Dense's values never reach the output. The Dense between them holds
    integer values and is not compared. `fix` exits 0; its config, given to hls4ml alone, computes what the
    last compare measured and meets the gate: every output within 5% of its range, top-1 >= 99%."""
    import yaml

    model, data = brevitas_mlp / 'qmlp.onnx', brevitas_mlp / 'x.npy'
    out = tmp_path / 'fixed.yml'
    run = hlsdiff('fix', model, data, '-o', out, code=0)
    fixed = {(c['layer'], c['key']) for c in run.json['fix']['changes'] if c['status'] == 'kept'}
    assert ('Quant_0_scale', 'Precision.scale') in fixed and ('bn_Add_0', 'Precision.scale') in fixed, fixed
    assert run.layer('Dense_MatMul_0')['status'] == 'not-compared'
    x = np.load(data)
    got, want = _qonnx_by_hand(model, yaml.safe_load(out.read_text()), x, tmp_path / 'alone')
    span = float(want.max() - want.min())
    measured = run.json['outputs'][0]['max_abs']
    assert abs(float(np.abs(got - want).max()) - measured) <= 1e-6 * max(1.0, span)
    assert float(np.abs(got - want).max()) <= 0.05 * span
    assert (got.argmax(1) == want.argmax(1)).mean() >= 0.99
    # inputs the input Quant clips (beyond its 8-bit range): the clip is the model's, not a wrap to report
    clipped = x.copy()
    clipped[[3, 30], 2] = 3.0
    np.save(tmp_path / 'clipped.npy', clipped)
    again = hlsdiff('compare', model, tmp_path / 'clipped.npy', '--config', out, code=0)
    assert again.layer('Quant_0_scale')['beyond_rounding'] == 0
