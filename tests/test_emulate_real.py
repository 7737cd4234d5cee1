"""The emulation against real C-simulations: bit-exact on clean models, a kernel defect proven,
precision causes named by the type that, emulated wider, removes the error (and verified by
hls4ml itself with the hinted config)."""

from __future__ import annotations

import pytest

from .test_compare_real import _inject_odd_channel_passthrough

pytestmark = pytest.mark.slow

# every layer of these models is emulated; only the input rows (never traced) are not
MODELS = ['float_cnn', 'conv_bn_fold', 'qkeras_bn', 'qkeras_sepblock', 'gap_after_qact', 'dense_softmax',
          'mixed_ops', 'conv1d_stack', 'sequential_mlp', 'qkeras_sequential', 'depthwise', 'depthwise1d',
          'depthwise_strided']


def _emulated_bit_exact(run):
    for layer in run.json['layers']:
        em = layer['emulation']
        assert em is not None, layer['name']
        if layer['class'] in ('Input', 'Reshape'):  # not traced: the data itself, a no-op reshape
            assert em['status'] == 'not-emulated' and em['reason']
            continue
        assert em['status'] == 'bit-exact', (layer['name'], em)
        assert layer['cause'] != 'kernel-defect', layer['name']


@pytest.mark.parametrize('io_type', ['io_parallel', 'io_stream'])
@pytest.mark.parametrize('name', MODELS)
def test_every_layer_is_bit_exact_on_clean_models(hlsdiff, model_files, name, io_type):
    model, data = model_files(name, n=8)
    run = hlsdiff('compare', model, data, '--io-type', io_type)
    assert run.code in (0, 1), run.stderr
    _emulated_bit_exact(run)


@pytest.mark.parametrize('name', ['float_cnn', 'sequential_mlp', 'conv1d_stack'])
def test_bit_exact_with_resource_strategy(hlsdiff, model_files, name):
    model, data = model_files(name, n=8)
    run = hlsdiff('compare', model, data, '--strategy', 'Resource', '--reuse-factor', '2')
    assert run.code in (0, 1), run.stderr
    _emulated_bit_exact(run)


EDGE_TYPES = """
LayerName:
  conv:
    Precision: {result: 'ap_fixed<6,2>', accum: 'ap_fixed<12,4,AP_RND_CONV,AP_SAT>'}
  conv_relu:
    Precision: {result: 'ap_ufixed<5,1,AP_RND_CONV,AP_SAT>'}
  bn:
    Precision: {result: 'ap_fixed<7,2,AP_RND,AP_SAT_SYM>'}
  pool:
    Precision: {result: 'ap_fixed<5,1,AP_RND_ZERO,AP_WRAP>'}
  fc1:
    Precision: {result: 'ap_fixed<8,3,AP_TRN_ZERO,AP_SAT>', accum: 'ap_fixed<9,3>'}
  fc1_relu:
    Precision: {result: 'ap_ufixed<4,2,AP_RND_INF,AP_SAT>'}
  fc2:
    Precision: {result: 'ap_fixed<6,1,AP_RND_MIN_INF,AP_SAT_ZERO>'}
"""


@pytest.mark.parametrize('io_type', ['io_parallel', 'io_stream'])
def test_bit_exact_with_narrow_wrapping_saturating_unsigned_types(hlsdiff, model_files, tmp_path, io_type):
    model, data = model_files('float_cnn', n=8, scale=3.0)
    cfg = tmp_path / 'edge.yml'
    cfg.write_text(EDGE_TYPES)
    run = hlsdiff('compare', model, data, '--io-type', io_type, '--config', cfg)
    assert run.code in (0, 1), run.stderr
    assert run.layer('conv')['result_type'] == 'ap_fixed<6,2>'
    _emulated_bit_exact(run)


@pytest.mark.xdist_group('depthwise')
def test_an_edited_kernel_is_a_proven_kernel_defect(hlsdiff, model_files, tmp_path):
    model, data = model_files('depthwise')
    project = tmp_path / 'prj'
    hlsdiff('compare', model, data, '--precision', 'ap_fixed<24,10>', '--output-dir', project, code=0)
    _inject_odd_channel_passthrough(project)
    run = hlsdiff('compare', model, data, '--project', project, code=1)
    dw = run.layer('dw')
    assert dw['emulation']['status'] == 'differs'
    assert dw['emulation']['channels'] == [1, 3]
    assert dw['cause'] == 'kernel-defect' and 'pass-through' in dw['cause_detail']
    assert run.json['onset'] == {'layer': 'dw', 'cause': 'kernel-defect', 'pattern': 'alternating',
                                 'evidence': 'emulation'}
    others = [layer for layer in run.json['layers'] if layer['name'] != 'dw']
    assert all(layer['cause'] != 'kernel-defect' for layer in others)


def test_a_softmax_fed_by_a_wide_type_names_its_input_and_the_hint_cures_it(hlsdiff, model_files, tmp_path):
    """A Dense -> softmax head at default precision: the Dense result is widened to hold its sum, the stable
    softmax's normalised type follows it, and the table index is too coarse. The cause names the softmax's
    input type; applying the hint with hls4ml (a real conversion and C-simulation) reduces the error."""
    model, data = model_files('sequential_mlp', n=32)
    run = hlsdiff('compare', model, data, code=1)
    onset = run.json['onset']
    assert onset['layer'] == 'fc2_softmax' and onset['cause'] == 'table-range' and onset['evidence'] == 'emulation'
    softmax = run.layer('fc2_softmax')
    assert 'LayerName.fc2.Precision.result' in softmax['hint']
    assert 'emulated' in softmax['cause_detail']
    proposed = softmax['hint'].split(' to ')[1].split(' ')[0]
    cfg = tmp_path / 'fix.yml'
    cfg.write_text(f"LayerName:\n  fc2:\n    Precision:\n      result: '{proposed}'\n")
    fixed = hlsdiff('compare', model, data, '--config', cfg)
    assert fixed.layer('fc2_softmax')['local_max_abs'] < 0.5 * softmax['local_max_abs']
    out = fixed.json['outputs'][0]
    assert out['top1_agreement'] >= run.json['outputs'][0]['top1_agreement']


def test_a_deep_dense_model_whose_predictions_agree_passes(hlsdiff, model_files):
    model, data = model_files('deep_dense', n=32)
    run = hlsdiff('compare', model, data, '--precision', 'ap_fixed<16,6>')
    assert run.json['outputs'][0]['name'] == 'logits' and run.json['outputs'][0]['max_abs'] < 0.05
    assert run.code == 0, run.stdout
    assert max(layer['max_lsb'] or 0 for layer in run.json['layers']) > 16  # many LSBs of the wide types, still a pass
    assert all(layer['cause'] != 'kernel-defect' for layer in run.json['layers'])


def test_a_gap_accumulator_wrap_is_named_by_emulation(hlsdiff, model_files):
    model, data = model_files('gap_after_qact', scale=2.0)
    run = hlsdiff('compare', model, data, '--io-type', 'io_stream', code=1)
    gap = run.layer('gap')
    assert gap['emulation']['status'] == 'bit-exact'
    assert run.json['onset']['layer'] == 'gap'
    assert gap['cause'] == 'accumulator' and gap['evidence'] == 'emulation'
    assert 'LayerName.gap.Precision.accum' in gap['hint']


def test_a_narrow_activation_that_wraps_is_named_a_wrap_not_rounding(hlsdiff, model_files, tmp_path):
    model, data = model_files('float_cnn', n=8, scale=3.0)
    cfg = tmp_path / 'narrow.yml'
    cfg.write_text("LayerName:\n  conv_relu:\n    Precision:\n      result: 'ap_fixed<4,2>'\n")
    run = hlsdiff('compare', model, data, '--config', cfg, '--precision', 'ap_fixed<24,10>', code=1)
    relu = run.layer('conv_relu')
    assert relu['emulation']['status'] == 'bit-exact'
    assert relu['cause'] == 'overflow-wrap' and relu['evidence'] == 'emulation'
    assert 'LayerName.conv_relu.Precision.result' in relu['hint']
    assert run.json['onset']['layer'] == 'conv_relu'


def test_the_cause_follows_the_layer_not_its_name(hlsdiff, model_files, tmp_path):
    model, data = model_files('dense_named_softmax', n=16, scale=2.0)
    cfg = tmp_path / 'narrow.yml'
    cfg.write_text("LayerName:\n  output_softmax:\n    Precision:\n      result: 'ap_fixed<8,3>'\n")
    run = hlsdiff('compare', model, data, '--config', cfg, code=1)
    layer = run.layer('output_softmax')
    assert layer['class'] == 'Dense' and layer['cause'] not in ('table-range',)
    assert layer['cause'] == 'overflow-wrap' and 'table' not in layer['hint'].lower()


def test_a_type_no_config_reaches_is_named_with_the_edit_that_works(hlsdiff, model_files, tmp_path):
    """The softmax's reciprocal-table address type: hls4ml 1.3.0 ignores Precision.inv_inp in a config, so the
    hint is an edit of the project; made with --project, it cures the error the emulation said it would."""
    import re

    model, data = model_files('qkeras_jet', n=100)
    project = tmp_path / 'prj'
    run = hlsdiff('compare', model, data, '--output-dir', project, code=1)
    softmax = run.layer('softmax')
    assert run.json['onset']['layer'] == 'softmax' and softmax['cause'] == 'table-range'
    assert 'inv_inp_t' in softmax['cause_detail'] and 'defines.h' in softmax['hint'] and softmax['remedy'] is None
    proposed = re.search(r'to (ap_fixed<[^>]+>) and compare', softmax['hint']).group(1)
    predicted = float(re.search(r'drops from [\d.e-]+ to ([\d.e-]+) \(emulated\)', softmax['cause_detail']).group(1))
    defines = project / 'firmware' / 'defines.h'
    text, n = re.subn(r'typedef ap_fixed<[^;]*> softmax_inv_inp_t;', f'typedef {proposed} softmax_inv_inp_t;',
                      defines.read_text())
    assert n == 1
    defines.write_text(text)
    edited = hlsdiff('compare', model, data, '--project', project)
    assert edited.layer('softmax')['local_max_abs'] == pytest.approx(predicted, rel=1e-3)
    assert edited.layer('softmax')['local_max_abs'] < 0.5 * softmax['local_max_abs']
    # fix searches what a config does reach (by prediction through hls4ml's conversion) and passes the gate
    # without the ignored key (it used to stop here, calling the softmax unfixable by configuration)
    fixed = hlsdiff('fix', model, data, '-o', tmp_path / 'f.yml', code=0)
    assert fixed.json['fix']['passed'] and fixed.json['fix']['changes']
    assert not any(c['key'] == 'Precision.inv_inp' for c in fixed.json['fix']['changes'])
