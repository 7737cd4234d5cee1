"""PyTorch through hls4ml's PyTorch frontend, compared end to end (real conversion, g++ build, C-simulation)."""

from __future__ import annotations

import pytest

from .conftest import check_mapping, settle_bn


@pytest.mark.slow
@pytest.mark.parametrize('io_type', ['io_parallel', 'io_stream'])
def test_cnn_compared_end_to_end(hlsdiff, torch_files, io_type):
    f = torch_files
    run = hlsdiff('compare', f / 'net.pt', f / 'x.npy', '--custom-objects', f / 'model_def.py', '--io-type', io_type)
    assert run.code in (0, 1), run.stderr
    check_mapping(run)
    conv = run.layer('conv')
    assert conv['keras'] == 'bn' and 'BatchNorm2d bn folded' in conv['mapping_note']
    assert '(0, 2, 3, 1)' in conv['mapping_note']  # NCHW compared channels-last, and said
    assert {u['keras']: u['reason'] for u in run.json['unmatched_keras']}['bn'].startswith('BatchNorm2d folded')
    for name in ('conv', 'relu', 'pool', 'fc'):
        assert run.layer(name)['status'] in ('ok', 'noise'), run.layer(name)
    assert run.layer('flatten')['status'] == 'not-compared'
    assert run.layer('sm')['status'] != 'not-compared'
    # the generator link: torch's own layers (BatchNorm2d folded into the conv; the Linear after a flatten of
    # a channels-first tensor, which hls4ml reorders for io_parallel and transposes back for io_stream) at the
    # project's types compute what the project's files compute
    for name in ('conv', 'relu', 'pool', 'fc', 'sm'):
        assert run.layer(name)['links']['generator'] == 0.0, (name, run.layer(name)['links'])
    if io_type == 'io_stream':
        assert any('channels-last' in n for n in run.json['notes'])


@pytest.mark.slow
def test_a_weights_file_written_transposed_is_a_generator_defect(hlsdiff, torch_files, tmp_path):
    import numpy as np

    f = torch_files
    prj = tmp_path / 'prj'
    hlsdiff('compare', f / 'net.pt', f / 'x.npy', '--custom-objects', f / 'model_def.py', '--output-dir', prj)
    path = prj / 'firmware' / 'weights' / 'w7.txt'  # fc: 27 x 4, read (in, out) by the Latency dense
    assert 'fc_weight_t, 108>(w7, "w7.txt")' in (prj / 'firmware' / 'myproject.cpp').read_text()
    values = np.array([float(t) for t in path.read_text().split('\n')[0].split(',') if t.strip()])
    path.write_text(', '.join(f'{v:.16f}' for v in values.reshape(27, 4).T.reshape(-1)) + '\n')
    run = hlsdiff('compare', f / 'net.pt', f / 'x.npy', '--custom-objects', f / 'model_def.py', '--project', prj,
                  code=1)
    assert run.json['onset']['layer'] == 'fc' and run.json['onset']['cause'] == 'generator-defect'
    (evidence,) = run.layer('fc')['generator_evidence']
    assert evidence['name'] == 'w7.txt' and evidence['permutation'] == 'as (out, in); the Latency kernel reads (in, out)'
    assert run.layer('fc')['links']['kernel'] == 0.0 and run.layer('conv')['links']['generator'] == 0.0


@pytest.mark.slow
def test_narrowed_type_is_the_onset_with_its_cause(hlsdiff, torch_files, tmp_path):
    f = torch_files
    config = tmp_path / 'narrow.yml'
    config.write_text('LayerName:\n  fc:\n    Precision:\n      result: ap_fixed<6,0>\n')
    run = hlsdiff('compare', f / 'net.pt', f / 'x.npy', '--custom-objects', f / 'model_def.py', '--config', config,
                  code=1)
    assert run.json['onset']['layer'] == 'fc'
    assert run.json['onset']['cause'] in ('overflow-wrap', 'saturation')
    assert run.json['onset']['evidence'] == 'emulation'


@pytest.mark.slow
def test_state_dict_with_its_class_equals_the_pickled_module(hlsdiff, torch_files):
    f = torch_files
    whole = hlsdiff('compare', f / 'net.pt', f / 'x.npy', '--custom-objects', f / 'model_def.py')
    state = hlsdiff('compare', f / 'net_state.pt', f / 'x.npy', '--custom-objects', f'{f / "model_def.py"}:Net')
    assert state.code == whole.code
    assert [(x['name'], x['max_abs']) for x in state.json['layers']] == [(x['name'], x['max_abs']) for x in whole.json['layers']]
    mlp = hlsdiff('compare', f / 'mlp.pt', f / 'x_mlp.npy', '--custom-objects', f / 'model_def.py')
    assert mlp.code in (0, 1)
    check_mapping(mlp)
    assert [x['name'] for x in mlp.json['layers'] if x['status'] != 'not-compared'] == ['x', 'fc1', 'act', 'fc2']


def test_python_api_takes_a_module(torch_files, cache_dir):
    import sys

    import numpy as np

    import hlsdiff

    net = sys.modules['model_def'].Mlp().eval()
    result = hlsdiff.compare(net, np.load(torch_files / 'x_mlp.npy'), cache_dir=str(cache_dir))
    assert [x.name for x in result.layers if x.status != 'not-compared'] == ['x', 'fc1', 'act', 'fc2']


def test_bad_pytorch_inputs_are_one_line_exit_2(hlsdiff, torch_files, tmp_path):
    f = torch_files
    no_class = hlsdiff('compare', f / 'net_state.pt', f / 'x.npy', code=2)
    assert 'state_dict' in no_class.stderr and '--custom-objects' in no_class.stderr
    corrupt = tmp_path / 'bad.pt'
    corrupt.write_bytes(b'not a pickle')
    assert 'cannot load as a PyTorch model' in hlsdiff('compare', corrupt, f / 'x.npy', code=2).stderr
    wrong = hlsdiff('compare', f / 'net.pt', f / 'x_mlp.npy', '--custom-objects', f / 'model_def.py', code=None)
    assert wrong.code in (2, 3) and 'internal error' not in wrong.stderr


def test_what_hls4ml_cannot_convert_is_hls4ml_error_exit_3(hlsdiff, torch_files, tmp_path):
    import sys

    import torch

    net = sys.modules['model_def'].Net(softmax_dim=1)
    settle_bn(net)
    torch.save(net.eval(), tmp_path / 'dim1.pt')
    run = hlsdiff('compare', tmp_path / 'dim1.pt', torch_files / 'x.npy', '--custom-objects',
                  torch_files / 'model_def.py', '--io-type', 'io_stream', code=3)
    assert 'hls4ml could not convert the model' in run.stderr


@pytest.mark.slow
def test_samples_streamed_in_chunks_give_the_same_figures(hlsdiff, torch_files):
    """io_stream: the data goes channels-last into the C-simulation chunk by chunk too."""
    f = torch_files
    common = ('--custom-objects', f / 'model_def.py', '--io-type', 'io_stream')
    whole = hlsdiff('compare', f / 'net.pt', f / 'x.npy', *common)
    chunks = hlsdiff('compare', f / 'net.pt', f / 'x.npy', *common, '--chunk', '8')
    assert [(x['name'], x['max_abs'], x['emulation']['status']) for x in chunks.json['layers']] == \
        [(x['name'], x['max_abs'], x['emulation']['status']) for x in whole.json['layers']]


@pytest.mark.slow
def test_fix_predicts_through_hls4ml_and_its_config_works_with_hls4ml_alone(hlsdiff, torch_files, tmp_path):
    """A PyTorch model with a result type too narrow: `fix` predicts the changes through hls4ml's own PyTorch
    conversion (its transposes emulated), the next C-simulation measures what was predicted, and the written
    config, given to hls4ml alone, computes the outputs the final compare measured."""
    import numpy as np
    import torch
    import yaml

    import hls4ml

    f = torch_files
    narrow = tmp_path / 'narrow.yml'
    narrow.write_text('LayerName:\n  fc:\n    Precision:\n      result: ap_fixed<6,0>\n')
    out = tmp_path / 'fixed.yml'
    run = hlsdiff('fix', f / 'net.pt', f / 'x.npy', '--custom-objects', f / 'model_def.py', '--config', narrow, '-o', out,
                  code=0)
    fix = run.json['fix']
    changed = {(c['layer'], c['key']): c for c in fix['changes'] if c['status'] == 'kept'}
    assert ('fc', 'Precision.result') in changed and changed['fc', 'Precision.result']['evidence'] == 'prediction'
    assert fix['what_ifs'] > 0 and fix['predicted_vs_measured']
    assert all(p['within_tolerance'] for p in fix['predicted_vs_measured'])
    assert 'convert_from_pytorch_model' in out.read_text()

    cfg = yaml.safe_load(out.read_text())
    assert cfg['LayerName']['fc']['Precision']['result'] == changed['fc', 'Precision.result']['after']
    net = torch.load(f / 'net.pt', weights_only=False).eval()
    x = np.load(f / 'x.npy')
    hls_model = hls4ml.converters.convert_from_pytorch_model(net, hls_config=cfg, io_type='io_parallel', backend='Vivado',
                                                             output_dir=str(tmp_path / 'by_hand'))
    hls_model.compile()
    got = np.asarray(hls_model.predict(np.ascontiguousarray(x))).reshape(len(x), -1)
    want = net(torch.tensor(x)).detach().numpy()
    (output,) = run.json['outputs']
    assert abs(float(np.max(np.abs(got - want))) - output['max_abs']) < 1e-6
    assert (got.argmax(1) == want.argmax(1)).all()
