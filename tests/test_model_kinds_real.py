"""Every kind of Keras model hls4ml converts, compared; none ends in an internal error."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

pytestmark = pytest.mark.slow

CUSTOM = Path(__file__).parent / 'data' / 'custom_flip.py'


def _every_layer_accounted_for(run):
    assert run.code in (0, 1), run.stderr
    assert 'internal error' not in run.stderr
    for layer in run.json['layers']:
        assert layer['status'] != 'not-compared' or layer['reason'], layer['name']
    return {layer['name']: layer for layer in run.json['layers']}


@pytest.mark.parametrize('io_type', ['io_parallel', 'io_stream'])
@pytest.mark.parametrize('name', ['sequential_mlp', 'qkeras_sequential', 'nested_submodel', 'two_outputs',
                                  'qkeras_binary_ternary', 'two_inputs'])
def test_model_kinds_compare(hlsdiff, model_files, tmp_path, name, io_type):
    model, data = model_files(name, n=8)
    if name == 'two_inputs':  # an .npz by input name
        arr = np.load(data) if str(data).endswith('.npy') else None
        rng = np.random.default_rng(0)
        data = tmp_path / 'two.npz'
        np.savez(data, in_a=rng.normal(size=(8, 4)), in_b=rng.normal(size=(8, 3)))
        del arr
    run = hlsdiff('compare', model, data, '--io-type', io_type)
    layers = _every_layer_accounted_for(run)
    compared = [n for n, layer in layers.items() if layer['status'] != 'not-compared']
    assert len(compared) >= 2
    if name == 'sequential_mlp':
        assert layers['fc1_input']['status'] == 'ok'  # the input Keras named for the Sequential model
    if name == 'two_outputs':
        assert {o['name'] for o in run.json['outputs']} == {'cls_softmax', 'reg'}
    if name == 'qkeras_binary_ternary':
        assert any(u['keras'] == 'drop' for u in run.json['unmatched_keras'])


def test_a_custom_layer_through_an_hls4ml_extension(hlsdiff, model_files):
    model, data = model_files('custom_flip', n=8)
    run = hlsdiff('compare', model, data, '--custom-objects', CUSTOM, '--precision', 'ap_fixed<24,10>')
    layers = _every_layer_accounted_for(run)
    assert layers['flip']['status'] in ('ok', 'noise')
    assert layers['flip']['emulation']['status'] == 'not-emulated'  # its kernel is the user's own
    assert run.code == 0


def test_without_its_custom_objects_a_custom_layer_is_bad_input(hlsdiff, model_files, tmp_path):
    model, data = model_files('custom_flip', n=8)
    # a fresh process would not know Flip: simulate by saving under a class name nobody registered
    text = Path(model).read_bytes().replace(b'"Flip"', b'"Flop"')
    other = tmp_path / 'unknown.h5'
    other.write_bytes(text)
    run = hlsdiff('compare', other, data, code=2)
    assert '--custom-objects' in run.stderr


def test_json_architecture_with_its_weights(hlsdiff, model_files, tmp_path):
    from hlsdiff.trace import stack

    keras = stack.load().keras
    h5, data = model_files('sequential_mlp', n=8)
    model = keras.models.load_model(h5)
    arch = tmp_path / 'mlp.json'
    arch.write_text(model.to_json())
    model.save_weights(tmp_path / 'mlp_weights.h5')
    beside = hlsdiff('compare', arch, data)
    _every_layer_accounted_for(beside)
    whole = hlsdiff('compare', h5, data)
    assert beside.layer('fc2')['max_abs'] == whole.layer('fc2')['max_abs']
    (tmp_path / 'other.h5').write_bytes((tmp_path / 'mlp_weights.h5').read_bytes())
    (tmp_path / 'mlp_weights.h5').unlink()
    missing = hlsdiff('compare', arch, data, code=2)
    assert '--weights' in missing.stderr
    given = hlsdiff('compare', arch, data, '--weights', tmp_path / 'other.h5')
    assert given.layer('fc2')['max_abs'] == whole.layer('fc2')['max_abs']
    weights_only = hlsdiff('compare', tmp_path / 'other.h5', data, code=2)
    assert 'no model architecture' in weights_only.stderr


def test_unsupported_formats_are_bad_input(hlsdiff, tmp_path, monkeypatch):
    data = tmp_path / 'd.npy'
    np.save(data, np.zeros((2, 4), np.float32))
    for suffix in ('.tflite', '.ts'):
        path = tmp_path / f'model{suffix}'
        path.write_bytes(b'\0' * 16)
        run = hlsdiff('compare', path, data, code=2)
        assert 'are not supported' in run.stderr
    # PyTorch, ONNX and Keras 3 files belong to the modern environment: without it, one line how to install it
    monkeypatch.setenv('HLSDIFF_MODERN_PYTHON', str(tmp_path / 'no-such-env' / 'python'))
    keras3 = tmp_path / 'k3.keras'
    with zipfile.ZipFile(keras3, 'w') as z:
        z.writestr('metadata.json', json.dumps({'keras_version': '3.5.0'}))
        z.writestr('config.json', json.dumps({'class_name': 'Sequential', 'config': {}}))
    for path in (keras3, tmp_path / 'model.onnx', tmp_path / 'model.pt'):
        if not path.exists():
            path.write_bytes(b'\0' * 16)
        run = hlsdiff('compare', path, data, code=2)
        assert 'scripts/setup-modern.sh' in run.stderr


def test_a_config_that_disagrees_with_the_command_line_gets_a_note(hlsdiff, model_files, tmp_path):
    model, data = model_files('sequential_mlp', n=8)
    cfg = tmp_path / 'prj.yml'
    cfg.write_text(yaml.safe_dump({'IOType': 'io_stream', 'Backend': 'Vivado',
                                   'HLSConfig': {'Model': {'Precision': 'ap_fixed<16,6>', 'ReuseFactor': 1,
                                                           'Strategy': 'Latency'}}}))
    run = hlsdiff('compare', model, data, '--config', cfg, '--io-type', 'io_parallel', '--strategy', 'Resource')
    assert run.json['io_type'] == 'io_parallel'
    notes = ' '.join(run.json['notes'])
    assert '--io-type io_parallel overrides IOType: io_stream' in notes
    assert '--strategy Resource overrides Model.Strategy: Latency' in notes
    quiet = hlsdiff('compare', model, data, '--config', cfg)
    assert quiet.json['io_type'] == 'io_stream' and not any('overrides' in n for n in quiet.json['notes'])
