"""ONNX as exported in the wild: a fixed batch dimension, weights listed as graph inputs, an old opset. Compared as
hls4ml alone sees it once qonnx's cleanup is given `override_inpsize=1`, or refused with hls4ml's own reason."""

from __future__ import annotations

import time

import numpy as np
import pytest

BATCH = 7  # the example's batch torch.onnx.export writes into the graph (no dynamic axes)


@pytest.fixture(scope='module')
def fixed_batch_mlp(tmp_path_factory):
    """A torch MLP exported at opset 9 with a batch of 7 and its weights as graph inputs, as older exporters wrote
    them (hls4ml's example-models three_layer_pytorch.onnx is such a file); 14 samples of data."""
    import onnx
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.ReLU(), torch.nn.Linear(8, 5), torch.nn.Softmax(dim=1))
    folder = tmp_path_factory.mktemp('wild')
    path = folder / 'mlp.onnx'
    torch.onnx.export(net.eval(), (torch.zeros(BATCH, 16),), str(path), dynamo=False, opset_version=9,
                      keep_initializers_as_inputs=True)
    proto = onnx.load(str(path))
    assert proto.opset_import[0].version == 9
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_value == BATCH
    assert len(proto.graph.input) > 1  # the weights are graph inputs too
    np.save(folder / 'x.npy', np.random.default_rng(0).uniform(-2, 2, (2 * BATCH, 16)).astype(np.float32))
    return path, folder / 'x.npy'


def _hls4ml_alone(path, x: np.ndarray, out_dir) -> tuple[np.ndarray, np.ndarray]:
    """(hls4ml's outputs, onnxruntime's on the file as exported, in batches of its fixed size)."""
    import hls4ml
    import onnxruntime as ort
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.transformation.gemm_to_matmul import GemmToMatMul
    from qonnx.util.cleanup import cleanup_model

    model = cleanup_model(ModelWrapper(str(path)), override_inpsize=1)
    model = cleanup_model(model.transform(ConvertToChannelsLastAndClean()).transform(GemmToMatMul()))
    config = hls4ml.utils.config_from_onnx_model(model, granularity='name', backend='Vivado')
    hls_model = hls4ml.converters.convert_from_onnx_model(model, hls_config=config, backend='Vivado',
                                                          output_dir=str(out_dir))
    hls_model.compile()
    got = np.asarray(hls_model.predict(np.ascontiguousarray(x, dtype=np.float64))).reshape(len(x), -1)
    session = ort.InferenceSession(str(path))
    name = session.get_inputs()[0].name
    want = np.concatenate([session.run(None, {name: x[i:i + BATCH]})[0] for i in range(0, len(x), BATCH)])
    return got, want


@pytest.mark.slow
def test_a_fixed_batch_with_weights_as_inputs_is_compared_as_hls4ml_alone_sees_it(hlsdiff, fixed_batch_mlp, tmp_path):
    path, data = fixed_batch_mlp
    run = hlsdiff('compare', path, data)
    assert run.code in (0, 1), run.stderr
    assert any(f'fixes a batch of {BATCH}' in note and 'override_inpsize=1' in note for note in run.json['notes'])
    got, want = _hls4ml_alone(path, np.load(data), tmp_path / 'alone')
    (out,) = run.json['outputs']
    assert out['max_abs'] == pytest.approx(float(np.max(np.abs(got - want))), rel=1e-5, abs=1e-7)
    assert out['mean_abs'] == pytest.approx(float(np.mean(np.abs(got - want))), rel=1e-5, abs=1e-7)
    assert out['top1_agreement'] == float(np.mean(np.argmax(got, axis=1) == np.argmax(want, axis=1)))
    assert run.json['verdict'] == ('pass' if run.code == 0 else 'fail')


def _old_opset_bn_graph(path) -> None:
    """Gemm -> Unsqueeze -> BatchNormalization -> Squeeze -> Softmax at opset 6, a batch of 789,444 and every weight
    a graph input, as torch once exported a BatchNorm1d (example-models' three_layer_bn_pytorch.onnx)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = {'w': rng.normal(size=(8, 16)), 'b': rng.normal(size=8), 'scale': rng.uniform(0.5, 2, 8),
               'shift': rng.normal(size=8), 'mean': rng.normal(size=8), 'var': rng.uniform(0.5, 2, 8)}
    inits = [numpy_helper.from_array(v.astype(np.float32), k) for k, v in weights.items()]
    nodes = [helper.make_node('Gemm', ['x', 'w', 'b'], ['g'], transB=1),
             helper.make_node('Unsqueeze', ['g'], ['u'], axes=[2]),
             helper.make_node('BatchNormalization', ['u', 'scale', 'shift', 'mean', 'var'], ['n'], is_test=1),
             helper.make_node('Squeeze', ['n'], ['s'], axes=[2]),
             helper.make_node('Softmax', ['s'], ['y'], axis=1)]
    inputs = [helper.make_tensor_value_info('x', TensorProto.FLOAT, [789444, 16])]
    inputs += [helper.make_tensor_value_info(i.name, TensorProto.FLOAT, list(i.dims)) for i in inits]
    graph = helper.make_graph(nodes, 'bn', inputs, [helper.make_tensor_value_info('y', TensorProto.FLOAT, [789444, 8])],
                              initializer=inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid('', 6)], ir_version=3), str(path))


def test_an_old_opset_graph_hls4ml_cannot_convert_ends_with_its_reason(hlsdiff, tmp_path):
    _old_opset_bn_graph(tmp_path / 'bn.onnx')
    np.save(tmp_path / 'x.npy', np.random.default_rng(0).normal(size=(4, 16)).astype(np.float32))
    started = time.perf_counter()
    run = hlsdiff('compare', tmp_path / 'bn.onnx', tmp_path / 'x.npy', code=3)
    print(f'refused in {time.perf_counter() - started:.1f} s')  # measured, not asserted: a loaded machine is slower
    first = run.stderr.strip().splitlines()[0]
    assert first.startswith('hlsdiff: error: hls4ml could not convert the model') and 'Unsqueeze' in first, run.stderr
    assert 'Traceback' not in run.stderr


def test_the_cleaning_sets_a_fixed_batch_to_one_and_drops_the_weight_inputs(tmp_path):
    """What makes the refusal above quick: qonnx never runs the graph at its batch of 789,444 (it took minutes and
    gigabytes before), and the graph has only its data input left."""
    import onnx

    from hlsdiff.frontends.onnxmodel import clean

    _old_opset_bn_graph(tmp_path / 'bn.onnx')
    model = clean(onnx.load(str(tmp_path / 'bn.onnx')))
    assert [i.name for i in model.graph.input] == [model.graph.input[0].name]
    assert model.get_tensor_shape(model.graph.input[0].name) == [1, 16]
    assert any('fixes a batch of 789444' in note for note in model.hlsdiff_notes)
    # not channels-last: hls4ml may say what it cannot convert, but nothing is compared on such a graph
    assert 'ConvertToChannelsLast' in model.hlsdiff_unclean or 'cleaning' in model.hlsdiff_unclean
