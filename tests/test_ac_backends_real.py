"""Quartus and Catapult projects compared end to end (real hls4ml, real g++ with the ac_types and ac_math hls4ml
ships): the same small MLP and CNN, io_parallel and io_stream. Each verdict is checked against hls4ml alone on that
backend (convert, compile, predict, compared with Keras; no hlsdiff code in that check): the output error hlsdiff
reports is the one hls4ml alone gives, and a narrow case's hint, applied by hls4ml alone, lowers it. A Catapult
softmax whose input is too wide for ac_math does not build: the layer and the change are named in one line, and
the change builds with hls4ml alone."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow

IO_TYPES = ('io_parallel', 'io_stream')
CASES = [(backend, model, io) for backend in ('Quartus', 'Catapult') for model in ('small_mlp', 'float_cnn')
         for io in IO_TYPES]
# the kernels each backend shares with the emulation, computed bit for bit
EMULATED = {('Quartus', 'small_mlp'): {'fc1', 'fc1_relu', 'fc2'},
            ('Quartus', 'float_cnn'): {'conv', 'conv_relu', 'bn', 'pool', 'fc1', 'fc1_relu', 'fc2'},
            ('Catapult', 'small_mlp'): {'fc1', 'fc1_relu', 'fc2'},
            ('Catapult', 'float_cnn'): {'conv', 'conv_relu', 'bn', 'pool', 'fc1', 'fc1_relu', 'fc2'}}
NARROW = 'fixed<8,2>'
# layers hls4ml turns into no-ops (a Flatten): no call, no trace, nothing to compare
NO_OP = {'flat'}


def hls4ml_alone(backend, model_path, data_path, io_type, out_dir, precision=None, change=None) -> tuple[float, float]:
    """The largest and the mean absolute difference between hls4ml's C-simulation on `backend` and Keras, by hls4ml
    alone; `change` is (layer, 'Precision.<key>', type) set in hls4ml's own config."""
    from hlsdiff.trace import stack

    loaded = stack.load()
    model = loaded.keras.models.load_model(model_path)
    x = np.load(data_path)
    cfg = loaded.hls4ml.utils.config_from_keras_model(model, granularity='name', backend=backend,
                                                      default_precision=precision or 'fixed<16,6>')
    if change is not None:
        layer, key, value = change
        cfg['LayerName'][layer].setdefault('Precision', {})[key.split('.', 1)[1]] = value
    hls_model = loaded.hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, output_dir=str(out_dir),
                                                                  backend=backend, io_type=io_type)
    hls_model.compile()
    got = np.asarray(hls_model.predict(np.ascontiguousarray(x))).reshape(len(x), -1)
    want = np.asarray(model.predict(x, verbose=0)).reshape(len(x), -1)
    error = np.abs(got - want)
    return float(error.max()), float(error.mean())


def compared(run, backend) -> None:
    """Every layer compared and each one's kernel emulated bit for bit or named as not emulated."""
    assert run.json['backend'] == backend
    for layer in run.json['layers']:
        if layer['name'] in NO_OP:
            continue
        assert layer['status'] != 'not-compared', layer
        assert layer['emulation']['status'] in ('bit-exact', 'not-emulated'), layer
        if layer['emulation']['status'] == 'not-emulated':
            assert layer['emulation']['reason'], layer


@pytest.mark.parametrize('backend, name, io_type', CASES)
def test_a_clean_project_passes_as_by_hls4ml_alone(hlsdiff, model_files, tmp_path, backend, name, io_type):
    model, data = model_files(name, n=32)
    run = hlsdiff('compare', model, data, '--backend', backend.lower(), '--io-type', io_type, code=0)
    compared(run, backend)
    emulated = {layer['name'] for layer in run.json['layers'] if layer['emulation']['status'] == 'bit-exact'}
    assert EMULATED[backend, name] <= emulated
    alone, _ = hls4ml_alone(backend, model, data, io_type, tmp_path / 'alone')
    (output,) = run.json['outputs']
    assert output['max_abs'] == pytest.approx(alone, rel=1e-6, abs=1e-9)
    assert alone < 0.05  # hls4ml alone agrees with Keras too


@pytest.mark.parametrize('backend, name, io_type', CASES)
def test_a_narrow_project_fails_at_its_onset_and_its_hint_helps_hls4ml_alone(hlsdiff, model_files, tmp_path, backend,
                                                                            name, io_type):
    model, data = model_files(name, n=32)
    run = hlsdiff('compare', model, data, '--backend', backend, '--io-type', io_type, '--precision', NARROW, code=1)
    compared(run, backend)
    onset = run.json['onset']
    assert onset is not None and onset['cause']
    remedy = run.layer(onset['layer'])['remedy']
    assert remedy is not None and remedy['verified']
    narrow = hls4ml_alone(backend, model, data, io_type, tmp_path / 'narrow', NARROW)
    (output,) = run.json['outputs']
    assert (output['max_abs'], output['mean_abs']) == pytest.approx(narrow, rel=1e-6, abs=1e-9)
    hinted = hls4ml_alone(backend, model, data, io_type, tmp_path / 'hinted', NARROW,
                          (remedy['layer'].removeprefix('LayerName.'), remedy['key'], remedy['after']))
    # the onset's own error is gone: the outputs are closer on average (their largest error may come from a
    # later layer with an error of its own, which its own hint names)
    assert hinted[1] < narrow[1] and hinted[0] <= narrow[0]


def test_a_catapult_softmax_too_wide_for_ac_math_names_its_layer_and_the_change_that_builds(hlsdiff, model_files,
                                                                                           tmp_path):
    model, data = model_files('sequential_mlp', n=16)  # fc2's auto-typed logits feed the softmax
    run = hlsdiff('compare', model, data, '--backend', 'Catapult', code=3)
    line = run.stderr.strip().splitlines()[0]
    assert 'layer fc2_softmax (nnet::softmax) does not build' in line and 'ac_softmax_pwl.h' in line
    assert 'set LayerName.fc2.Precision.result to fixed<' in line
    change = line.rsplit(' to ', 1)[1]
    # the change, by hls4ml alone: it builds, and the outputs agree with Keras
    error, _ = hls4ml_alone('Catapult', model, data, 'io_parallel', tmp_path / 'alone', change=('fc2', 'Precision.result',
                                                                                               change))
    assert error < 0.05


def test_a_quartus_project_hls4ml_wrote_is_compared_and_emulated_as_it_is(hlsdiff, model_files, tmp_path):
    from hlsdiff.trace import stack

    model, data = model_files('small_mlp', n=32)
    loaded = stack.load()
    keras_model = loaded.keras.models.load_model(model)
    cfg = loaded.hls4ml.utils.config_from_keras_model(keras_model, granularity='name', backend='Quartus')
    hls_model = loaded.hls4ml.converters.convert_from_keras_model(keras_model, hls_config=cfg, backend='Quartus',
                                                                  io_type='io_stream', output_dir=str(tmp_path / 'prj'))
    hls_model.write()  # no trace calls, and Quartus writes no `// layer` after its calls
    run = hlsdiff('compare', model, data, '--project', tmp_path / 'prj', code=0)
    compared(run, 'Quartus')
    emulated = {layer['name'] for layer in run.json['layers'] if layer['emulation']['status'] == 'bit-exact'}
    assert EMULATED['Quartus', 'small_mlp'] <= emulated
