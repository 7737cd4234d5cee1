"""hls4ml 1.3.0's LSTM, GRU and Bidirectional against their real C-simulation: the emulation
(hlsdiff/emulate/kernels/recurrent.py) computes every traced value of the layer exactly, at the default types and at
narrow ones whose activation tables wrap (LSTM) or saturate (GRU), returning the last state or every step's, in
io_parallel and io_stream, with the Latency and Resource strategies, and with the static and the plain cell."""

from __future__ import annotations

import numpy as np
import pytest

from .models import compare_and_trace

pytestmark = pytest.mark.slow

N_SAMPLES, STEPS, FEATURES, UNITS = 16, 6, 4, 8
BACKWARD_UNITS = 5  # the Bidirectional's backward GRU

# hls4ml 1.3.0's lstm_stack instantiates the plain `lstm` cell too, which builds only where the input, result and
# accumulator are one type: the narrow LSTM keeps them one (saturating) type. Its table, ap_fixed<6,0> (at most
# 0.484), wraps every sigmoid and tanh value beyond it; the GRU's saturates them (AP_SAT). 256 entries, not 1024.
# The table type is the layer's `table_t` key: hls4ml 1.3.0 does not read `Precision: {table: ...}` for LSTM and GRU.
NARROW = {
    'LSTM': """
LayerName:
  x:
    Precision: {result: 'ap_fixed<10,3,AP_RND,AP_SAT>'}
  rec:
    Precision: {result: 'ap_fixed<10,3,AP_RND,AP_SAT>', accum: 'ap_fixed<10,3,AP_RND,AP_SAT>', weight: 'ap_fixed<8,2>',
                recurrent_weight: 'ap_fixed<7,1,AP_RND_CONV,AP_SAT>', bias: 'ap_fixed<6,2>'}
    table_t: 'ap_fixed<6,0>'
    TableSize: 256
""",
    'Bidirectional': """
LayerName:
  rec:
    Precision: {result: 'ap_fixed<8,2>', accum: 'ap_fixed<10,3,AP_RND,AP_SAT>'}
    table_t: 'ap_fixed<6,0>'
    TableSize: 256
""",
    'GRU': """
LayerName:
  rec:
    Precision: {result: 'ap_fixed<8,2>', accum: 'ap_fixed<10,3,AP_RND,AP_SAT>', weight: 'ap_fixed<8,2>',
                recurrent_weight: 'ap_fixed<7,1,AP_RND_CONV,AP_SAT>', recurrent_bias: 'ap_fixed<6,2>'}
    table_t: 'ap_fixed<6,0,AP_RND,AP_SAT>'
    TableSize: 256
""",
}


@pytest.fixture(scope='module')
def recurrent_files(tmp_path_factory):
    """`get('LSTM', True)` -> (model.h5, data.npy): LSTM(8)/GRU(8) over 6 steps of 4 features (return_sequences:
    flattened) -> Dense(3) softmax; built once per module."""
    from hlsdiff.trace import stack

    keras = stack.load().keras
    folder = tmp_path_factory.mktemp('recurrent')
    data = folder / 'x.npy'
    np.save(data, np.random.default_rng(1).normal(0, 1.5, (N_SAMPLES, STEPS, FEATURES)).astype(np.float32))
    made: dict = {}

    def get(kind: str, return_sequences: bool):
        if (kind, return_sequences) not in made:
            keras.utils.set_random_seed(0)
            inp = keras.Input((STEPS, FEATURES), name='x')
            if kind == 'Bidirectional':  # an LSTM forward, a GRU of another size backward
                backward = keras.layers.GRU(BACKWARD_UNITS, return_sequences=return_sequences, go_backwards=True)
                layer = keras.layers.Bidirectional(keras.layers.LSTM(UNITS, return_sequences=return_sequences),
                                                   backward_layer=backward, name='rec')
            else:
                layer = getattr(keras.layers, kind)(UNITS, return_sequences=return_sequences, name='rec')
            rec = layer(inp)
            if return_sequences:
                rec = keras.layers.Flatten(name='flat')(rec)
            model = keras.Model(inp, keras.layers.Dense(3, activation='softmax', name='fc')(rec))
            path = folder / f'{kind}_{int(return_sequences)}.h5'
            model.save(path)
            made[kind, return_sequences] = path
        return made[kind, return_sequences], data

    return get


def _compare_and_emulate(hlsdiff, tmp_path, model, data, *options):
    """Compare (the project kept, both sides' traces saved), then emulate the kept project's `rec` from the
    C-simulation's input: its values and the C-simulation's traced ones, and the run."""
    emulator, csim, run, project = compare_and_trace(hlsdiff, tmp_path, model, data, N_SAMPLES, *options)
    return emulator.emulate('rec').to_float(), csim['rec'], run, project


def _assert_bit_exact(emulated, traced, run, return_sequences, units=UNITS):
    size = N_SAMPLES * units * (STEPS if return_sequences else 1)
    assert traced.size == size
    np.testing.assert_array_equal(emulated.reshape(traced.shape), traced)
    em = run.layer('rec')['emulation']
    assert em['status'] == 'bit-exact' and em['differing'] == 0, em
    assert run.layer('rec')['cause'] != 'kernel-defect'


@pytest.mark.parametrize('return_sequences', [False, True], ids=['last', 'sequences'])
@pytest.mark.parametrize('kind', ['LSTM', 'GRU'])
def test_bit_exact_at_the_default_types(hlsdiff, recurrent_files, tmp_path, kind, return_sequences):
    model, data = recurrent_files(kind, return_sequences)
    emulated, traced, run, _ = _compare_and_emulate(hlsdiff, tmp_path, model, data)
    _assert_bit_exact(emulated, traced, run, return_sequences)
    assert len(np.unique(traced)) > traced.size // 4  # the states move: not a constant the emulation could match by luck


@pytest.mark.parametrize('return_sequences', [False, True], ids=['last', 'sequences'])
@pytest.mark.parametrize('kind', ['LSTM', 'GRU'])
def test_bit_exact_where_the_tables_wrap_or_saturate(hlsdiff, recurrent_files, tmp_path, kind, return_sequences):
    model, data = recurrent_files(kind, return_sequences)
    cfg = tmp_path / 'narrow.yml'
    cfg.write_text(NARROW[kind])
    emulated, traced, run, project = _compare_and_emulate(hlsdiff, tmp_path, model, data, '--config', cfg)
    _assert_bit_exact(emulated, traced, run, return_sequences)
    parameters = (project / 'firmware' / 'parameters.h').read_text()
    defines = (project / 'firmware' / 'defines.h').read_text()
    assert parameters.count('table_size = 256') == 2  # the recurrent activation's table and the activation's
    table = 'ap_fixed<6,0>' if kind == 'LSTM' else 'ap_fixed<6,0,AP_RND,AP_SAT,0>'
    assert f'typedef {table} rec_table_t;' in defines
    # the tables hold sigmoid and tanh values beyond 0.484: the layer is far from Keras's, and still exact
    assert run.layer('rec')['status'] == 'mismatch'


@pytest.mark.parametrize('kind, return_sequences, options', [
    ('LSTM', True, ('--io-type', 'io_stream')),
    ('GRU', False, ('--io-type', 'io_stream')),
    ('LSTM', False, ('--strategy', 'Resource', '--reuse-factor', '2')),
    ('GRU', True, ('--strategy', 'Resource', '--reuse-factor', '2')),
], ids=['lstm-stream', 'gru-stream', 'lstm-resource', 'gru-resource'])
def test_bit_exact_in_io_stream_and_with_the_resource_strategy(hlsdiff, recurrent_files, tmp_path, kind,
                                                              return_sequences, options):
    model, data = recurrent_files(kind, return_sequences)
    emulated, traced, run, project = _compare_and_emulate(hlsdiff, tmp_path, model, data, *options)
    _assert_bit_exact(emulated, traced, run, return_sequences)
    if 'Resource' in options:
        assert 'strategy = nnet::resource' in (project / 'firmware' / 'parameters.h').read_text()


@pytest.mark.parametrize('kind', ['LSTM', 'GRU'])
def test_bit_exact_with_the_plain_cell(hlsdiff, recurrent_files, tmp_path, kind):
    """`Static: false`: the stack keeps the state itself and calls `lstm`/`gru` (not the `_static` cells)."""
    model, data = recurrent_files(kind, True)
    cfg = tmp_path / 'plain.yml'
    cfg.write_text('LayerName:\n  rec:\n    Static: false\n')
    emulated, traced, run, project = _compare_and_emulate(hlsdiff, tmp_path, model, data, '--config', cfg)
    assert 'use_static = false' in (project / 'firmware' / 'parameters.h').read_text()
    _assert_bit_exact(emulated, traced, run, True)


@pytest.mark.parametrize('narrow', [False, True], ids=['default', 'narrow'])
@pytest.mark.parametrize('return_sequences', [False, True], ids=['last', 'sequences'])
def test_bit_exact_bidirectional(hlsdiff, recurrent_files, tmp_path, return_sequences, narrow):
    """Bidirectional(LSTM(8), backward GRU(5)): each direction its own cell, config and sizes; narrow: its result,
    accumulator and a wrapping table of 256 entries (the static cells build with types that differ)."""
    model, data = recurrent_files('Bidirectional', return_sequences)
    options = []
    if narrow:
        cfg = tmp_path / 'narrow.yml'
        cfg.write_text(NARROW['Bidirectional'])
        options = ['--config', cfg]
    emulated, traced, run, project = _compare_and_emulate(hlsdiff, tmp_path, model, data, *options)
    _assert_bit_exact(emulated, traced, run, return_sequences, UNITS + BACKWARD_UNITS)
    parameters = (project / 'firmware' / 'parameters.h').read_text()
    assert 'RNNfunc_forward = nnet::lstm_class_static' in parameters
    assert 'RNNfunc_backward = nnet::gru_class_static' in parameters
    if narrow:
        assert parameters.count('table_size = 256') == 4
        assert run.layer('rec')['status'] == 'mismatch'
