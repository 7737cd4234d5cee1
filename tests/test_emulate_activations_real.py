"""hls4ml 1.3.0's table activations ELU, SELU, softplus and softsign, and PReLU, against their real C-simulation: the
emulation (hlsdiff/emulate/kernels/tables.py, activations.py) computes every traced value of each layer exactly (and
of the LeakyReLU and ThresholdedReLU of the same chain), in io_parallel and io_stream, at the default tables (1024
entries of ap_fixed<18,8>) and at narrow ones: few entries (64, and 100, which is not a power of two), table types
that wrap or saturate, a narrow ELU alpha type and narrow inputs and results. One chain of tiny Dense layers feeds
each activation, so one build covers them all. And `fix` on an ELU MLP predicts through its ELUs."""

from __future__ import annotations

import numpy as np
import pytest

from .models import compare_and_trace, trained_four_class_mlp

pytestmark = pytest.mark.slow

N_SAMPLES, FEATURES, WIDTH = 32, 8, 6
# the activation layers of the chain, by name -> the nnet:: function hls4ml calls
ACTIVATIONS = {'elu': 'elu', 'elu_a': 'elu', 'selu': 'selu', 'softplus': 'softplus', 'softsign': 'softsign',
               'prelu': 'prelu', 'lrelu': 'leaky_relu', 'trelu': 'thresholded_relu'}

# The tables: ELU's 64 entries of ap_fixed<6,1> (its values in (-1, 0]: 5 fractional bits); the ELU with alpha 0.3
# a table of 100 entries, alpha in ap_fixed<4,1> (0.25); SELU's values (down to -1.76) wrap in ap_fixed<6,1>;
# softplus's (up to 8) saturate in ap_fixed<7,2,AP_RND,AP_SAT>; softsign 100 entries of ap_ufixed<6,0> (its negative
# half wraps). Narrow inputs (each Dense's result and its linear activation's, one type: hls4ml drops the linear)
# and results too; SELU's input has 7 fractional bits: io_stream's lambda is that type's, io_parallel's an
# ap_ufixed<16,1>. The table type is the layer's `table_t` key: hls4ml 1.3.0 does not read
# `Precision: {table: ...}` for these activations.
NARROW = """
LayerName:
  fc1:
    Precision: {result: 'ap_fixed<10,4>'}
  fc1_linear:
    Precision: {result: 'ap_fixed<10,4>'}
  elu:
    Precision: {result: 'ap_fixed<8,3,AP_RND,AP_SAT>'}
    table_t: 'ap_fixed<6,1>'
    TableSize: 64
  fc2:
    Precision: {result: 'ap_fixed<12,5,AP_RND,AP_SAT>'}
  fc2_linear:
    Precision: {result: 'ap_fixed<12,5,AP_RND,AP_SAT>'}
  elu_a:
    Precision: {param: 'ap_fixed<4,1>', result: 'ap_fixed<9,4>'}
    table_t: 'ap_fixed<8,1,AP_RND>'
    TableSize: 100
  fc3:
    Precision: {result: 'ap_fixed<9,2>'}
  fc3_linear:
    Precision: {result: 'ap_fixed<9,2>'}
  selu:
    Precision: {result: 'ap_fixed<10,3>'}
    table_t: 'ap_fixed<6,1>'
    TableSize: 64
  fc4:
    Precision: {result: 'ap_fixed<11,4>'}
  fc4_linear:
    Precision: {result: 'ap_fixed<11,4>'}
  softplus:
    Precision: {result: 'ap_fixed<8,3>'}
    table_t: 'ap_fixed<7,2,AP_RND,AP_SAT>'
    TableSize: 64
  softsign:
    Precision: {result: 'ap_fixed<6,1,AP_RND_CONV>'}
    table_t: 'ap_ufixed<6,0>'
    TableSize: 100
  prelu:
    Precision: {param: 'ap_fixed<5,1,AP_RND>', result: 'ap_fixed<8,3>'}
"""


def _chain_model(keras):
    """Input(8) -> [Dense(6) -> activation] x 8: ELU (Activation('elu')), ELU(alpha=0.3), selu, softplus, softsign,
    PReLU (random alphas), LeakyReLU(0.2), ThresholdedReLU(0.5)."""
    keras.utils.set_random_seed(3)
    init = keras.initializers.RandomNormal(0.0, 0.5, seed=3)
    x = inp = keras.Input((FEATURES,), name='x')
    layers = [keras.layers.Activation('elu', name='elu'), keras.layers.ELU(alpha=0.3, name='elu_a'),
              keras.layers.Activation('selu', name='selu'), keras.layers.Activation('softplus', name='softplus'),
              keras.layers.Activation('softsign', name='softsign'), keras.layers.PReLU(name='prelu'),
              keras.layers.LeakyReLU(0.2, name='lrelu'), keras.layers.ThresholdedReLU(0.5, name='trelu')]
    for i, act in enumerate(layers, 1):
        x = keras.layers.Dense(WIDTH, name=f'fc{i}', kernel_initializer=init, bias_initializer=init)(x)
        x = act(x)
    model = keras.Model(inp, x)
    prelu = model.get_layer('prelu')
    prelu.set_weights([np.random.default_rng(4).uniform(-0.8, 0.8, prelu.get_weights()[0].shape)])
    return model


@pytest.fixture(scope='session')
def chain_files(tmp_path_factory):
    """(model.h5, data.npy): the chain, saved once per session."""
    from hlsdiff.trace import stack

    keras = stack.load().keras
    folder = tmp_path_factory.mktemp('activations')
    model = _chain_model(keras)
    model.save(folder / 'chain.h5')
    np.save(folder / 'x.npy', np.random.default_rng(5).normal(0, 2.0, (N_SAMPLES, FEATURES)).astype(np.float32))
    return folder / 'chain.h5', folder / 'x.npy'


def _compare_and_emulate(hlsdiff, tmp_path, model, data, *options):
    """Compare (the project kept, the C-simulation's traces saved); an emulator of the kept project fed the
    C-simulation's own traces."""
    return compare_and_trace(hlsdiff, tmp_path, model, data, N_SAMPLES, *options)


def _assert_every_activation_bit_exact(emulator, csim, run):
    for name, function in ACTIVATIONS.items():
        assert emulator.calls[name].function == function, (name, emulator.calls[name])
        traced = csim[name]
        assert traced.shape == (N_SAMPLES, WIDTH)
        np.testing.assert_array_equal(emulator.emulate(name).to_float().reshape(traced.shape), traced, err_msg=name)
        em = run.layer(name)['emulation']
        assert em['status'] == 'bit-exact' and em['differing'] == 0, (name, em)
        assert run.layer(name)['cause'] != 'kernel-defect', name
    for name in ('elu', 'elu_a', 'selu', 'softplus', 'softsign'):  # the framework's reference: all three links
        links = run.layer(name)['links']
        assert links['generator'] == 0.0 and links['kernel'] == 0.0, (name, links)
    for name in ('elu', 'elu_a', 'selu', 'softplus', 'softsign', 'prelu'):  # both halves of each are exercised
        x = csim[f'fc{list(ACTIVATIONS).index(name) + 1}']
        assert (x < 0).sum() >= 20 and (x > 0).sum() >= 20, name
        assert (np.abs(x) < 8).mean() > 0.8, name  # mostly within the tables' range


@pytest.mark.parametrize('io_type', ['io_parallel', 'io_stream'])
def test_bit_exact_at_the_default_tables(hlsdiff, chain_files, tmp_path, io_type):
    model, data = chain_files
    emulator, csim, run, project = _compare_and_emulate(hlsdiff, tmp_path, model, data, '--io-type', io_type)
    _assert_every_activation_bit_exact(emulator, csim, run)
    parameters = (project / 'firmware' / 'parameters.h').read_text()
    assert parameters.count('table_size = 1024') >= 5
    # alpha is the call's literal (Keras's float32 0.3 as hls4ml prints it), in the param type hls4ml infers for it
    calls = {line.rsplit('// ', 1)[1]: line for line in (project / 'firmware' / 'myproject.cpp').read_text().splitlines()
             if line.strip().startswith('nnet::') and '// ' in line}
    assert ', 1.0, ' in calls['elu'] and ', 0.30000001192092896, ' in calls['elu_a']


@pytest.mark.parametrize('io_type', ['io_parallel', 'io_stream'])
def test_bit_exact_at_narrow_tables_and_types(hlsdiff, chain_files, tmp_path, io_type):
    model, data = chain_files
    cfg = tmp_path / 'narrow.yml'
    cfg.write_text(NARROW)
    emulator, csim, run, project = _compare_and_emulate(hlsdiff, tmp_path, model, data, '--io-type', io_type,
                                                        '--config', cfg)
    _assert_every_activation_bit_exact(emulator, csim, run)
    parameters = (project / 'firmware' / 'parameters.h').read_text()
    defines = (project / 'firmware' / 'defines.h').read_text()
    assert parameters.count('table_size = 64') == 3 and parameters.count('table_size = 100') == 2
    selu_input = emulator.program.fixed(emulator.calls['selu'].type_args[0])
    assert str(selu_input) == 'ap_fixed<9,2>', selu_input  # lambda in io_stream: 1.0507 in 7 fractional bits
    for typedef in ('ap_fixed<6,1> elu_table_t', 'ap_fixed<7,2,AP_RND,AP_SAT,0> softplus_table_t',
                    'ap_ufixed<6,0> softsign_table_t', 'ap_fixed<4,1> elu_a_param_t'):
        assert f'typedef {typedef};' in defines, typedef
    # the tables matter: a layer far from Keras's, still computed exactly
    assert any(run.layer(name)['status'] == 'mismatch' for name in ('elu', 'softplus', 'softsign', 'selu'))


def test_fix_on_an_elu_mlp_predicts_through_the_elus(hlsdiff, tmp_path):
    """Three Dense(24, elu) and a Dense(4) softmax, trained, at ap_fixed<8,3> (the model of
    tests/test_fix_candidates_real.py while ELU was not emulated): every ELU is emulated bit for bit, so `fix`
    predicts through them and passes without measuring candidates."""
    trained_four_class_mlp(tmp_path, ('elu', 'elu', 'elu'))

    before = hlsdiff('compare', tmp_path / 'elu.h5', tmp_path / 'x.npy', '--precision', 'ap_fixed<8,3>')
    assert before.code == 1
    for name in ('d1_elu', 'd2_elu', 'd3_elu'):
        assert before.layer(name)['emulation']['status'] == 'bit-exact', before.layer(name)['emulation']
    run = hlsdiff('fix', tmp_path / 'elu.h5', tmp_path / 'x.npy', '--precision', 'ap_fixed<8,3>',
                  '-o', tmp_path / 'fixed.yml', code=0)
    fix = run.json['fix']
    assert not any('not emulated' in note for note in fix['notes']), fix['notes']
    # every change found by prediction (measured: 10 changes, 2 builds, top-1 100%), no candidate measured
    assert fix['changes'] and all(c['evidence'] == 'prediction' for c in fix['changes']), fix['changes']
    assert not fix['candidates']
    assert run.json['outputs'][0]['top1_agreement'] >= 0.99
