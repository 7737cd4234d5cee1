"""repro's cuts for PyTorch and ONNX without a build: the slice computes what the model computes, the class written
for it builds the same layers, hls4ml's channels-last values come back channels-first, hls4ml's names find their
nodes."""

from __future__ import annotations

import importlib.util

import numpy as np
import torch

from hlsdiff.frontends.pytorch import TorchModel
from hlsdiff.repro.onnx import OnnxRepro
from hlsdiff.repro.pytorch import TorchRepro, class_source


def _net(torch_files) -> TorchModel:
    from hls4ml.utils.torch import CustomFXTracer

    net = torch.load(torch_files / 'net.pt', weights_only=False).eval()
    return TorchModel(net, CustomFXTracer().trace(net), ['x'], [(2, 8, 8)])


def test_a_torch_slice_written_as_a_class_computes_what_the_model_computes(torch_files, tmp_path):
    model = _net(torch_files)
    repro = TorchRepro()
    assert repro.input_of(model, 'bn') == 'conv' and repro.input_of(model, 'conv') is None
    cut = repro.cut(model, ['conv', 'bn', 'relu'], 'repro_input')
    assert repro.layer_names(cut) == ['conv', 'bn', 'relu'] and repro.describe(cut) == 'Conv2d + BatchNorm2d + ReLU'
    x = torch.tensor(np.load(torch_files / 'x.npy')[:4])
    with torch.no_grad():
        want = model.module.relu(model.module.bn(model.module.conv(x)))
        assert torch.equal(cut.module(x), want)
    (tmp_path / 'repro_model.py').write_text(class_source(cut))
    spec = importlib.util.spec_from_file_location('repro_model_t', tmp_path / 'repro_model.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rebuilt = module.Repro().eval()
    rebuilt.load_state_dict(cut.module.state_dict())
    with torch.no_grad():
        assert torch.equal(rebuilt(x), want)
    assert 'self.conv = nn.Conv2d(2, 3, kernel_size=(3, 3), stride=(1, 1))' in (tmp_path / 'repro_model.py').read_text()


def test_channels_last_values_come_back_channels_first(torch_files):
    model = _net(torch_files)
    x = np.load(torch_files / 'x.npy')[:3]
    values = TorchRepro().values(model, x, 'relu')  # (3, 3, 6, 6): what feeds `pool`
    hls = values.transpose(0, 2, 3, 1).reshape(3, -1)  # as hls4ml's C-simulation traces it
    assert np.array_equal(TorchRepro().from_csim(model, hls, 'pool'), values)
    TorchRepro().configure(model, {'Model': {'ChannelsLastConversion': 'off'}})
    assert np.array_equal(TorchRepro().from_csim(model, values.reshape(3, -1), 'pool'), values)


def test_onnx_names_of_hls4ml_find_their_nodes_and_the_cut_is_between_tensors(torch_files, tmp_path):
    import onnx

    from hlsdiff.frontends.onnxmodel import clean

    net = torch.load(torch_files / 'net.pt', weights_only=False)
    torch.onnx.export(net, (torch.zeros(1, 2, 8, 8),), str(tmp_path / 'n.onnx'), dynamo=False, opset_version=13)
    model = clean(onnx.load(tmp_path / 'n.onnx'))
    repro = OnnxRepro()
    assert repro.own_layer(model, 'Dense_MatMul_0', 'Dense') == 'MatMul_0'
    assert repro.own_layer(model, 'Conv2D_Conv_0', 'Conv2D') == 'Conv_0' and repro.own_layer(model, 'nope', '') is None
    assert repro.input_of(model, 'Add_0') == 'MatMul_0'
    cut = repro.cut(model, ['MatMul_0', 'Add_0'], 'repro_input')
    assert [n.op_type for n in cut.graph.node] == ['MatMul', 'Add'] and cut.graph.input[0].name == 'repro_input'
    x = np.load(torch_files / 'x.npy')[:2]
    flat = repro.values(model, x, 'Flatten_0')
    from qonnx.core.onnx_exec import execute_onnx

    got = np.concatenate([execute_onnx(cut, {'repro_input': f[None].astype(np.float32)})[cut.graph.output[0].name]
                          for f in flat])
    assert np.allclose(got, repro.values(model, x, 'Add_0'), atol=1e-6)
