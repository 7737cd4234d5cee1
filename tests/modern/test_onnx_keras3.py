"""ONNX (exported from PyTorch, cleaned by qonnx as hls4ml asks) and Keras 3, compared end to end."""

from __future__ import annotations

import os

import numpy as np
import pytest

from .conftest import check_mapping


@pytest.fixture(scope='module')
def onnx_file(torch_files):
    import sys

    import torch

    net = torch.load(torch_files / 'net.pt', weights_only=False)
    assert sys.modules['model_def'].Net is type(net)
    path = torch_files / 'net.onnx'
    torch.onnx.export(net, (torch.zeros(1, 2, 8, 8),), str(path), dynamo=False, opset_version=13)
    return path


@pytest.fixture(scope='module')
def keras3_file(tmp_path_factory):
    os.environ.setdefault('KERAS_BACKEND', 'torch')
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 2), name='x'), keras.layers.Conv2D(3, 3, activation='relu', name='conv'),
                              keras.layers.Flatten(name='flat'), keras.layers.Dense(4, name='fc'),
                              keras.layers.Softmax(name='sm')])
    folder = tmp_path_factory.mktemp('keras3')
    model.save(folder / 'k3.keras')
    np.save(folder / 'x.npy', np.random.default_rng(0).uniform(-1, 1, (16, 8, 8, 2)).astype(np.float32))
    return folder


@pytest.mark.slow
@pytest.mark.parametrize('io_type', ['io_parallel', 'io_stream'])
def test_onnx_from_pytorch(hlsdiff, onnx_file, torch_files, io_type):
    run = hlsdiff('compare', onnx_file, torch_files / 'x.npy', '--io-type', io_type)
    assert run.code in (0, 1), run.stderr
    check_mapping(run)
    assert any('ConvertToChannelsLastAndClean' in n for n in run.json['notes'])  # the cleaning is said
    names = {x['name']: x for x in run.json['layers']}
    assert names['Conv2D_Conv_0']['keras'] == 'Conv_0' and names['Conv2D_Conv_0']['status'] in ('ok', 'noise')
    assert names['Dense_MatMul_0']['keras'] == 'Add_0'  # the bias Add folded into the Dense
    assert names['Softmax_0']['status'] != 'not-compared'
    # the generator link: the cleaned graph's own nodes (the channels-last Conv's weights, the MatMul with the
    # bias Add hls4ml folds into it) at the project's types compute what the project's files compute
    for name in ('Conv2D_Conv_0', 'Relu_0', 'MaxPool_0', 'Dense_MatMul_0', 'Softmax_0'):
        assert names[name]['links']['generator'] == 0.0, (name, names[name]['links'])


@pytest.mark.slow
def test_onnx_narrowed_type_is_the_onset(hlsdiff, onnx_file, torch_files, tmp_path):
    config = tmp_path / 'narrow.yml'
    # hls4ml's config keys are the ONNX node names (MatMul_0); its Dense is named Dense_MatMul_0
    config.write_text('LayerName:\n  MatMul_0:\n    Precision:\n      result: ap_fixed<6,0>\n')
    run = hlsdiff('compare', onnx_file, torch_files / 'x.npy', '--config', config, code=1)
    assert run.json['onset']['layer'] == 'Dense_MatMul_0'
    assert run.json['onset']['cause'] not in ('none', 'propagated')  # a cause of its own (its naming: diagnosis/)
    assert run.layer('Dense_MatMul_0')['result_type'] == 'ap_fixed<6,0>'


@pytest.mark.slow
@pytest.mark.parametrize('io_type', ['io_parallel', 'io_stream'])
def test_keras3_conv_dense_softmax(hlsdiff, keras3_file, io_type):
    run = hlsdiff('compare', keras3_file / 'k3.keras', keras3_file / 'x.npy', '--io-type', io_type)
    assert run.code in (0, 1), run.stderr
    check_mapping(run)
    assert 'activation of conv' in run.layer('conv_relu')['mapping_note']
    assert 'linear twin' in run.layer('conv')['mapping_note']
    assert run.layer('conv')['status'] in ('ok', 'noise') and run.layer('conv_relu')['status'] in ('ok', 'noise')
    assert run.layer('fc')['status'] in ('ok', 'noise')
    # the generator link: Keras 3's own layers (the conv without its fused activation, the activation hls4ml
    # split from it) at the project's types compute what the project's files compute
    for name in ('conv', 'conv_relu', 'fc', 'sm'):
        assert run.layer(name)['links']['generator'] == 0.0, (name, run.layer(name)['links'])


@pytest.mark.slow
def test_keras3_conv_weights_written_in_another_order_are_a_generator_defect(hlsdiff, keras3_file, tmp_path):
    prj = tmp_path / 'prj'
    model, data = keras3_file / 'k3.keras', keras3_file / 'x.npy'
    hlsdiff('compare', model, data, '--output-dir', prj)
    assert 'conv_weight_t, 54>(w2, "w2.txt")' in (prj / 'firmware' / 'myproject.cpp').read_text()
    path = prj / 'firmware' / 'weights' / 'w2.txt'  # conv: (3, 3, 2, 3) as Keras holds it
    values = np.array([float(t) for t in path.read_text().split('\n')[0].split(',') if t.strip()])
    path.write_text(', '.join(f'{v:.16f}' for v in values.reshape(3, 3, 2, 3).transpose(3, 0, 1, 2).reshape(-1)) + '\n')
    run = hlsdiff('compare', model, data, '--project', prj, code=1)
    assert run.json['onset']['layer'] == 'conv' and run.json['onset']['cause'] == 'generator-defect'
    (evidence,) = run.layer('conv')['generator_evidence']
    assert evidence['name'] == 'w2.txt' and evidence['permutation'] is not None
    assert run.layer('conv')['links']['kernel'] == 0.0


@pytest.mark.slow
def test_keras3_narrowed_type_is_the_onset(hlsdiff, keras3_file, tmp_path):
    config = tmp_path / 'narrow.yml'
    config.write_text('LayerName:\n  fc:\n    Precision:\n      result: ap_fixed<6,0>\n')
    run = hlsdiff('compare', keras3_file / 'k3.keras', keras3_file / 'x.npy', '--config', config, code=1)
    assert run.json['onset']['layer'] == 'fc' and run.layer('fc')['result_type'] == 'ap_fixed<6,0>'
    assert run.json['onset']['cause'] in ('overflow-wrap', 'saturation')
    assert run.layer('fc')['emulation']['status'] == 'bit-exact'  # the narrow type, computed as configured


def test_corrupt_onnx_is_bad_input(hlsdiff, torch_files, tmp_path):
    bad = tmp_path / 'bad.onnx'
    bad.write_bytes(b'\x00garbage')
    run = hlsdiff('compare', bad, torch_files / 'x.npy', code=2)
    assert 'cannot load as an ONNX model' in run.stderr


@pytest.mark.slow
def test_python_api_takes_a_model_proto_and_a_keras3_model(onnx_file, torch_files, keras3_file, cache_dir):
    import keras
    import onnx

    import hlsdiff

    proto = hlsdiff.compare(onnx.load(str(onnx_file)), np.load(torch_files / 'x.npy'), cache_dir=str(cache_dir))
    assert {x.name: x.keras for x in proto.layers}['Dense_MatMul_0'] == 'Add_0'
    model = keras.models.load_model(keras3_file / 'k3.keras')
    k3 = hlsdiff.compare(model, np.load(keras3_file / 'x.npy'), cache_dir=str(cache_dir))
    assert [x.name for x in k3.layers if x.status != 'not-compared'] == ['x', 'conv', 'conv_relu', 'fc', 'sm']


def test_an_op_hls4ml_does_not_convert_is_its_error_exit_3(hlsdiff, tmp_path):
    import torch

    class Sine(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(6, 3)

        def forward(self, x):
            return torch.sin(self.fc(x))

    torch.onnx.export(Sine().eval(), (torch.zeros(1, 6),), str(tmp_path / 'sin.onnx'), dynamo=False, opset_version=13)
    np.save(tmp_path / 'x.npy', np.zeros((4, 6), np.float32))
    run = hlsdiff('compare', tmp_path / 'sin.onnx', tmp_path / 'x.npy', code=3)
    assert 'hls4ml could not convert the model' in run.stderr and 'Sin' in run.stderr


def _by_hand(kind: str, model_path, cfg: dict, x, out_dir):
    """The written config given to hls4ml alone, as a user would: (hls4ml's outputs, the framework's)."""
    import hls4ml

    if kind == 'onnx':
        import onnx
        import onnxruntime as ort
        from qonnx.core.modelwrapper import ModelWrapper
        from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
        from qonnx.transformation.gemm_to_matmul import GemmToMatMul
        from qonnx.util.cleanup import cleanup_model

        model = cleanup_model(ModelWrapper(onnx.load(str(model_path))))
        model = cleanup_model(model.transform(ConvertToChannelsLastAndClean()).transform(GemmToMatMul()))
        hls_model = hls4ml.converters.convert_from_onnx_model(model, hls_config=cfg, io_type='io_parallel',
                                                              backend='Vivado', output_dir=str(out_dir))
        session = ort.InferenceSession(str(model_path))
        name = session.get_inputs()[0].name
        want = np.concatenate([session.run(None, {name: x[i:i + 1]})[0] for i in range(len(x))])
    else:
        import keras

        model = keras.models.load_model(model_path)
        hls_model = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, io_type='io_parallel',
                                                               backend='Vivado', output_dir=str(out_dir))
        want = np.asarray(model.predict(x, verbose=0))
    hls_model.compile()
    return np.asarray(hls_model.predict(np.ascontiguousarray(x))).reshape(len(x), -1), want.reshape(len(x), -1)


@pytest.mark.slow
@pytest.mark.parametrize('kind', ['onnx', 'keras3'])
def test_fix_predicts_and_its_config_works_with_hls4ml_alone(hlsdiff, onnx_file, torch_files, keras3_file, kind,
                                                             tmp_path):
    """A Dense result type too narrow: `fix` predicts through hls4ml's own conversion of the model (for ONNX the
    config is keyed by the node, MatMul_0, that hls4ml's Dense_MatMul_0 comes from), the C-simulation measures
    what was predicted, and the written config, given to hls4ml alone, computes what the final compare measured."""
    import yaml

    model, data, key = ((onnx_file, torch_files / 'x.npy', 'MatMul_0') if kind == 'onnx'
                        else (keras3_file / 'k3.keras', keras3_file / 'x.npy', 'fc'))
    narrow = tmp_path / 'narrow.yml'
    narrow.write_text(f'LayerName:\n  {key}:\n    Precision:\n      result: ap_fixed<6,0>\n')
    out = tmp_path / 'fixed.yml'
    run = hlsdiff('fix', model, data, '--config', narrow, '-o', out, code=0)
    fix = run.json['fix']
    assert fix['what_ifs'] > 0 and fix['predicted_vs_measured']
    assert all(p['within_tolerance'] for p in fix['predicted_vs_measured'])
    cfg = yaml.safe_load(out.read_text())
    assert cfg['LayerName'][key]['Precision']['result'] != 'ap_fixed<6,0>'
    got, want = _by_hand(kind, model, cfg, np.load(data), tmp_path / 'by_hand')
    (output,) = run.json['outputs']
    assert abs(float(np.max(np.abs(got - want))) - output['max_abs']) < 1e-6
    assert (got.argmax(1) == want.argmax(1)).all()


@pytest.mark.slow
def test_keras3_depthwise_abort_is_reproduced_with_hls4ml_alone(hlsdiff, tmp_path):
    """A Keras 3 DepthwiseConv2D with depth_multiplier 2 aborts hls4ml 1.3.0's C-simulation (a C++ assert):
    `repro` cuts the layer out, confirms it in a fresh process and writes a repro.py that shows it with
    hls4ml, Keras and numpy alone."""
    import subprocess
    import sys

    os.environ.setdefault('KERAS_BACKEND', 'torch')
    import keras

    from hlsdiff.repro.confirm import clean_env

    keras.utils.set_random_seed(3)
    x = keras.Input((6, 6, 2), name='x')
    y = keras.layers.Conv2D(2, 1, name='c')(x)
    y = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, name='dw')(y)
    keras.Model(x, keras.layers.GlobalAveragePooling2D(name='gap')(y)).save(tmp_path / 'dw.keras')
    np.save(tmp_path / 'x.npy', np.random.default_rng(3).uniform(-1, 1, (8, 6, 6, 2)).astype(np.float32))
    out = tmp_path / 'rep'
    hlsdiff('repro', tmp_path / 'dw.keras', tmp_path / 'x.npy', '--layer', 'dw', '-o', out, code=0)
    assert sorted(p.name for p in out.iterdir()) == ['ISSUE.md', 'config.yml', 'data.npy', 'model.keras', 'repro.py']
    assert 'KERAS_BACKEND' in (out / 'repro.py').read_text() and '| keras | 3.' in (out / 'ISSUE.md').read_text()
    by_hand = subprocess.run([sys.executable, 'repro.py'], cwd=out, env=clean_env(), capture_output=True, text=True,
                             timeout=600)
    assert by_hand.returncode == 1 and 'DEFECT: the C-simulation aborted' in by_hand.stdout, by_hand.stdout
