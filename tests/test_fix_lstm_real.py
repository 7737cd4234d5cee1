"""`fix` on a recurrent model: the LSTM is emulated bit for bit (hlsdiff/emulate/kernels/recurrent.py), so the
prediction reaches the outputs through it, the changes go by prediction, and the C-simulation measures what was
predicted. The written config, given to hls4ml alone, computes what the last compare measured and meets the
default gate."""

from __future__ import annotations

import numpy as np
import pytest

from .models import hls4ml_alone

pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def lstm_files(tmp_path_factory):
    """LSTM(8) over 8 steps of 4 features -> Dense(3) softmax, its head scaled so that the classes are decided.
    At ap_fixed<16,6> the LSTM is within rounding; the softmax's input, auto-typed ap_fixed<36,16>, makes the
    exp table's index too coarse (top-1 about 30%)."""
    from hlsdiff.trace import stack

    keras = stack.load().keras
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 4), name='x')
    out = keras.layers.Dense(3, activation='softmax', name='fc')(keras.layers.LSTM(8, name='lstm')(inp))
    model = keras.Model(inp, out)
    w, b = model.get_layer('fc').get_weights()
    model.get_layer('fc').set_weights([w * 4, b])
    folder = tmp_path_factory.mktemp('lstm')
    model.save(folder / 'lstm.h5')
    np.save(folder / 'x.npy', np.random.default_rng(1).normal(0, 1, (200, 8, 4)).astype(np.float32))
    return folder


def test_fix_on_an_lstm_classifier_passes_with_a_config_hls4ml_alone_confirms(hlsdiff, lstm_files, tmp_path):
    model_path, data = lstm_files / 'lstm.h5', lstm_files / 'x.npy'
    first = hlsdiff('compare', model_path, data, code=1)
    assert first.json['onset']['layer'] == 'fc_softmax' and first.json['onset']['cause'] == 'table-range'
    assert first.layer('lstm')['emulation']['status'] == 'bit-exact'
    out = tmp_path / 'fixed.yml'
    run = hlsdiff('fix', model_path, data, '-o', out, code=0)
    fix = run.json['fix']
    assert any(c['layer'] == 'fc' and c['status'] == 'kept' for c in fix['changes'])
    # the prediction covers the LSTM: no round stopped at it, every kept change was predicted to the outputs, and the
    # next round's C-simulation measured what was predicted
    assert not any('not emulated' in note for note in fix['notes']), fix['notes']
    assert fix['what_ifs'] > 0 and not fix['emulation_bugs']
    assert all(c['evidence'] == 'prediction' for c in fix['changes'] if c['status'] == 'kept')
    output = next(p for p in fix['predicted_vs_measured'] if p['what'] == 'output fc_softmax')
    assert output['within_tolerance'] and abs(output['predicted_max_abs'] - output['measured_max_abs']) <= output['lsb']
    got, want = hls4ml_alone(model_path, out, data, tmp_path / 'alone')
    assert abs(float(np.abs(got - want).max()) - run.json['outputs'][0]['max_abs']) <= 1e-6
    assert (got.argmax(1) == want.argmax(1)).mean() >= 0.99
