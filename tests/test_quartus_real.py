"""Quartus projects compared end to end (real hls4ml, real g++ with the ac_types hls4ml ships): the same small MLP
and CNN, io_parallel and io_stream. Each verdict is checked against hls4ml alone on Quartus (convert, compile,
predict, compared with Keras; no hlsdiff code in that check): the output error hlsdiff reports is the one hls4ml
alone gives, and a narrow case's hint, applied by hls4ml alone, lowers it."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow

BACKEND = 'Quartus'
CASES = [(model, io) for model in ('small_mlp', 'float_cnn') for io in ('io_parallel', 'io_stream')]
NARROW = 'fixed<8,2>'
# layers hls4ml turns into no-ops (a Flatten): no call, no trace, nothing to compare
NO_OP = {'flat'}


def hls4ml_alone(model_path, data_path, io_type, out_dir, precision=None, change=None) -> tuple[float, float]:
    """The largest and the mean absolute difference between hls4ml's Quartus C-simulation and Keras, by hls4ml
    alone; `change` is (layer, 'Precision.<key>', type) set in hls4ml's own config."""
    from hlsdiff.trace import stack

    loaded = stack.load()
    model = loaded.keras.models.load_model(model_path)
    x = np.load(data_path)
    cfg = loaded.hls4ml.utils.config_from_keras_model(model, granularity='name', backend=BACKEND,
                                                      default_precision=precision or 'fixed<16,6>')
    if change is not None:
        layer, key, value = change
        cfg['LayerName'][layer].setdefault('Precision', {})[key.split('.', 1)[1]] = value
    hls_model = loaded.hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, output_dir=str(out_dir),
                                                                  backend=BACKEND, io_type=io_type)
    hls_model.compile()
    got = np.asarray(hls_model.predict(np.ascontiguousarray(x))).reshape(len(x), -1)
    want = np.asarray(model.predict(x, verbose=0)).reshape(len(x), -1)
    error = np.abs(got - want)
    return float(error.max()), float(error.mean())


def compared(run) -> None:
    """Every layer compared and each one's kernel emulated bit for bit or named as not emulated."""
    assert run.json['backend'] == BACKEND
    for layer in run.json['layers']:
        if layer['name'] in NO_OP:
            continue
        assert layer['status'] != 'not-compared', layer
        assert layer['emulation']['status'] in ('bit-exact', 'not-emulated'), layer
        if layer['emulation']['status'] == 'not-emulated':
            assert layer['emulation']['reason'], layer


@pytest.mark.parametrize('name, io_type', CASES)
def test_a_clean_quartus_project_passes_as_by_hls4ml_alone(hlsdiff, model_files, tmp_path, name, io_type):
    model, data = model_files(name, n=32)
    run = hlsdiff('compare', model, data, '--backend', 'quartus', '--io-type', io_type, code=0)
    compared(run)
    # the kernels Quartus shares with the emulation are computed bit for bit: dense_resource, conv, relu, ...
    emulated = [layer for layer in run.json['layers'] if layer['emulation']['status'] == 'bit-exact']
    assert {'fc1', 'fc1_relu', 'fc2'} <= {layer['name'] for layer in emulated}
    if name == 'float_cnn':
        assert {'conv', 'conv_relu', 'bn', 'pool'} <= {layer['name'] for layer in emulated}
    alone, _ = hls4ml_alone(model, data, io_type, tmp_path / 'alone')
    (output,) = run.json['outputs']
    assert output['max_abs'] == pytest.approx(alone, rel=1e-6, abs=1e-9)
    assert alone < 0.05  # hls4ml alone agrees with Keras too


@pytest.mark.parametrize('name, io_type', CASES)
def test_a_narrow_quartus_project_fails_at_its_onset_and_its_hint_helps_hls4ml_alone(hlsdiff, model_files, tmp_path,
                                                                                    name, io_type):
    model, data = model_files(name, n=32)
    run = hlsdiff('compare', model, data, '--backend', 'Quartus', '--io-type', io_type, '--precision', NARROW, code=1)
    compared(run)
    onset = run.json['onset']
    assert onset is not None and onset['cause']
    remedy = run.layer(onset['layer'])['remedy']
    assert remedy is not None and remedy['verified']
    narrow = hls4ml_alone(model, data, io_type, tmp_path / 'narrow', NARROW)
    (output,) = run.json['outputs']
    assert (output['max_abs'], output['mean_abs']) == pytest.approx(narrow, rel=1e-6, abs=1e-9)
    hinted = hls4ml_alone(model, data, io_type, tmp_path / 'hinted', NARROW,
                          (remedy['layer'].removeprefix('LayerName.'), remedy['key'], remedy['after']))
    # the onset's own error is gone: the outputs are closer on average (their largest error may come from a
    # later layer with an error of its own, which its own hint names)
    assert hinted[1] < narrow[1] and hinted[0] <= narrow[0]
