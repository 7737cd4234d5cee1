"""The Python API as a notebook uses it: models in memory, hls4ml's own ModelGraph, a DataFrame and HTML."""

from __future__ import annotations

import json

import numpy as np
import pytest

import hlsdiff

pytestmark = pytest.mark.slow


def _qkeras_model():
    from hlsdiff.trace import stack

    keras = stack.load().keras
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    keras.utils.set_random_seed(3)
    inp = keras.Input((10,), name='inp')
    x = QDense(8, kernel_quantizer=quantized_bits(8, 0, alpha=1), bias_quantizer=quantized_bits(8, 0, alpha=1),
               name='fc1')(inp)
    x = QActivation(quantized_relu(6, 2), name='relu1')(x)
    x = QDense(3, kernel_quantizer=quantized_bits(8, 0, alpha=1), bias_quantizer=quantized_bits(8, 0, alpha=1),
               name='fc2')(x)
    return keras.Model(inp, x)


def test_a_notebook_compares_the_hls_model_it_converted(tmp_path, cache_dir):
    from hlsdiff.trace import stack

    hls4ml = stack.load().hls4ml
    model = _qkeras_model()
    config = hls4ml.utils.config_from_keras_model(model, granularity='name')
    hls_model = hls4ml.converters.convert_from_keras_model(model, hls_config=config, io_type='io_parallel',
                                                           output_dir=str(tmp_path / 'prj'))
    X = np.random.default_rng(0).normal(size=(16, 10)).astype(np.float32)
    result = hlsdiff.compare(hls_model, X, cache_dir=str(cache_dir))
    assert result.io_type == 'io_parallel'
    frame = result.to_frame()
    assert {'fc1', 'relu1', 'fc2'} <= set(frame.index)
    assert set(frame['status']) <= {'ok', 'noise', 'mismatch', 'not-compared'}
    assert frame.loc['fc1', 'emulation'] == 'bit-exact'
    channels = result.channels_frame()
    assert set(channels[channels['layer'] == 'fc2']['channel']) == {0, 1, 2}
    page = result._repr_html_()
    assert '<img' in page and 'fc2' in page
    assert result.ok == (result.verdict == 'pass')
    result.save(tmp_path / 'r.json')
    assert json.loads((tmp_path / 'r.json').read_text())['layers']


def test_a_model_object_with_a_dict_config_and_gates(tmp_path, cache_dir):
    model = _qkeras_model()
    X = np.random.default_rng(1).normal(size=(8, 10))
    narrow = {'LayerName': {'fc2': {'Precision': {'result': 'ap_fixed<4,1>'}}}}
    result = hlsdiff.compare(model, {'inp': X}, hls_config=narrow, cache_dir=str(cache_dir), max_error=0.01)
    assert not result.ok and result.onset['layer'] == 'fc2'
    assert result.layer('fc2').result_type == 'ap_fixed<4,1>'
    with pytest.raises(TypeError, match='unknown option'):
        hlsdiff.compare(model, X, io='io_stream')
