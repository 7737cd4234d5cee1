"""Real conversions, real g++ builds, real Keras: the compare command end to end."""

from __future__ import annotations

import re

import pytest

from hlsdiff.demo import DATA, MODEL

pytestmark = pytest.mark.slow

STATUSES = {'ok', 'noise', 'mismatch', 'not-compared'}
PATTERNS = {'none', 'all-channels', 'most-channels', 'alternating', 'strided', 'block', 'few-channels', 'dead-channels', 'passthrough',
            'permuted', 'per-channel-scale', 'per-channel-offset', 'spatial', 'shape'}
CAUSES = {'none', 'rounding', 'input-quantization', 'overflow-wrap', 'saturation', 'accumulator', 'table-range',
          'propagated', 'kernel-defect', 'kernel-abort', 'unsupported-attribute', 'shape-mismatch', 'weights', 'unknown',
          'generator-defect', 'unexplained'}


@pytest.mark.xdist_group('float_cnn')
@pytest.mark.parametrize('io_type', ['io_parallel', 'io_stream'])
def test_clean_float_model_passes(hlsdiff, model_files, io_type):
    model, data = model_files('float_cnn')
    run = hlsdiff('compare', model, data, '--io-type', io_type, '--precision', 'ap_fixed<32,16>', code=0)
    statuses = {layer['name']: layer['status'] for layer in run.json['layers']}
    assert 'mismatch' not in statuses.values()
    compared = [n for n, s in statuses.items() if s != 'not-compared']
    assert {'inp', 'conv', 'conv_relu', 'bn', 'pool', 'fc1', 'fc1_relu', 'fc2'} <= set(compared)
    for layer in run.json['layers']:
        assert layer['status'] != 'not-compared' or layer['reason']
    assert run.json['verdict'] == 'pass' and run.json['onset'] is None
    assert 'No divergence' in run.stdout


@pytest.mark.xdist_group('float_cnn')
def test_mapping_split_activation_and_unfolded_bn(hlsdiff, model_files):
    model, data = model_files('float_cnn')
    run = hlsdiff('compare', model, data, '--precision', 'ap_fixed<32,16>', code=0)
    keras = {layer['name']: layer['keras'] for layer in run.json['layers']}
    assert keras['conv'] == 'conv (pre-activation)'
    assert keras['conv_relu'] == 'conv'
    assert keras['bn'] == 'bn'  # after an activation: not folded
    assert keras['fc2'] == 'fc2'
    assert keras['inp'] == 'inp (input)'
    unmatched = {u['keras']: u['reason'] for u in run.json['unmatched_keras']}
    assert keras.get('flat') == 'flat' or 'moves no data' in unmatched['flat']


@pytest.mark.xdist_group('conv_bn_fold')
def test_mapping_bn_folded_into_conv(hlsdiff, model_files):
    model, data = model_files('conv_bn_fold')
    run = hlsdiff('compare', model, data, '--precision', 'ap_fixed<32,16>', code=0)
    conv = run.layer('conv')
    assert conv['keras'] == 'bn' and 'folded' in conv['mapping_note']
    assert conv['status'] in ('ok', 'noise')
    unmatched = {u['keras']: u['reason'] for u in run.json['unmatched_keras']}
    assert unmatched['bn'] == 'folded into hls4ml layer conv'


@pytest.mark.xdist_group('qkeras_bn')
def test_mapping_qkeras_convbatchnorm_and_quantized_activation(hlsdiff, model_files):
    model, data = model_files('qkeras_bn')
    run = hlsdiff('compare', model, data, code=0)
    keras = {layer['name']: layer['keras'] for layer in run.json['layers']}
    assert keras['qconvbn'] == 'qconvbn'
    assert keras['qact'] == 'qact'
    assert keras['qfc'] == 'qfc (pre-activation)'
    assert keras['qfc_quantized_relu'] == 'qfc'
    assert run.layer('qfc_quantized_relu')['result_type'].startswith('ap_ufixed<6,0')


@pytest.mark.xdist_group('demo')
@pytest.mark.parametrize('io_type', ['io_parallel', 'io_stream'])
def test_issue1472_shaped_model_every_layer_accounted_for(hlsdiff, io_type):
    run = hlsdiff('compare', MODEL, DATA, '--io-type', io_type, '--samples', 16)
    assert run.code in (0, 1)
    layers = run.json['layers']
    assert {'input_1', 'stem', 'dw1', 'add1', 'gap', 'dw_head', 'dw_head_relu', 'classifier'} <= {l['name'] for l in layers}
    for layer in layers:
        assert layer['status'] in STATUSES
        if layer['status'] == 'not-compared':
            assert layer['reason'], layer['name']
        else:
            assert layer['keras'] and layer['max_abs'] is not None
    if io_type == 'io_stream':
        clones = [l for l in layers if l['class'] == 'Clone']
        assert clones and all(l['status'] != 'not-compared' for l in clones)


@pytest.mark.xdist_group('float_cnn')
def test_narrow_precision_fails_the_gate(hlsdiff, model_files):
    model, data = model_files('float_cnn', scale=4.0)
    run = hlsdiff('compare', model, data, '--precision', 'ap_fixed<6,2>', code=1)
    assert run.json['verdict'] == 'fail' and run.json['exit_code'] == 1
    assert any(layer['status'] == 'mismatch' for layer in run.json['layers'])
    assert run.json['onset'] is not None


@pytest.mark.xdist_group('depthwise_dm2')
def test_kernel_abort_is_exit_3_with_the_assertion(hlsdiff, model_files):
    model, data = model_files('depthwise', depth_multiplier=2)
    run = hlsdiff('compare', model, data, code=3)
    assert 'assertion failed in layer dw' in run.stderr.lower()
    assert 'n_chan' in run.stderr or 'depth_multiplier' in run.stderr or 'n_filt' in run.stderr
    assert run.json['verdict'] == 'error' and run.json['error']['kind'] == 'simulation'
    # hlsdiff is alive: the next compare in the same process works
    model, data = model_files('depthwise')
    hlsdiff('compare', model, data, '--precision', 'ap_fixed<24,10>', code=0)


def _inject_odd_channel_passthrough(project):
    """Edit the generated depthwise kernel: odd output channels copy their input channel."""
    header = project / 'firmware' / 'nnet_utils' / 'nnet_sepconv2d.h'
    text = header.read_text()
    injected = re.sub(
        r'(depthwise_conv_2d_latency_cl<data_T, res_T, CONFIG_T>\(data, res, weights, biases\);)',
        r'\1\n        for (unsigned i = 0; i < CONFIG_T::out_height * CONFIG_T::out_width; i++)\n'
        r'            for (unsigned c = 1; c < CONFIG_T::n_chan; c += 2)\n'
        r'                res[i * CONFIG_T::n_filt + c] = data[i * CONFIG_T::n_chan + c];',
        text,
        count=1,
    )
    assert injected != text
    header.write_text(injected)


@pytest.mark.xdist_group('depthwise')
def test_project_option_builds_the_users_edit(hlsdiff, model_files, tmp_path):
    model, data = model_files('depthwise')
    project = tmp_path / 'prj'
    hlsdiff('compare', model, data, '--precision', 'ap_fixed<24,10>', '--output-dir', project, code=0)
    _inject_odd_channel_passthrough(project)
    edited = (project / 'firmware' / 'nnet_utils' / 'nnet_sepconv2d.h').read_text()
    run = hlsdiff('compare', model, data, '--project', project, code=1)
    assert (project / 'firmware' / 'nnet_utils' / 'nnet_sepconv2d.h').read_text() == edited  # not overwritten
    assert run.json['onset']['layer'] == 'dw'
    dw = run.layer('dw')
    assert dw['status'] == 'mismatch'
    assert dw['pattern']['kind'] == 'alternating' and dw['pattern']['phase'] == 1
    assert 'passthrough' in dw['pattern']['also']
    assert run.layer('inp')['status'] == 'ok'


@pytest.mark.xdist_group('float_cnn')
def test_json_report_follows_the_schema(hlsdiff, model_files):
    model, data = model_files('float_cnn')
    run = hlsdiff('compare', model, data, '--precision', 'ap_fixed<32,16>', code=0)
    j = run.json
    assert j['schema_version'] == 2
    for key in ('hlsdiff_version', 'hls4ml_version', 'model', 'io_type', 'backend', 'samples', 'verdict', 'exit_code',
                'error', 'onset', 'layers'):
        assert key in j
    assert j['hls4ml_version'] == '1.3.0' and j['samples'] == 16 and j['io_type'] == 'io_parallel'
    assert j['backend'] == 'Vivado' and j['verdict'] == 'pass' and j['exit_code'] == 0 and j['error'] is None
    for layer in j['layers']:
        for key in ('name', 'keras', 'class', 'result_type', 'shape', 'status', 'max_abs', 'mean_abs', 'rmse', 'max_lsb',
                    'mismatched_fraction', 'per_channel', 'pattern', 'cause', 'hint', 'reason'):
            assert key in layer, key
        assert layer['status'] in STATUSES and layer['cause'] in CAUSES
        assert layer['pattern']['kind'] in PATTERNS and 'channels' in layer['pattern'] and 'period' in layer['pattern']
        assert isinstance(layer['shape'], list)
        if layer['status'] != 'not-compared':
            n_channels = layer['shape'][-1]
            assert len(layer['per_channel']['max_abs']) == n_channels == len(layer['per_channel']['mean_abs'])
            assert 0.0 <= layer['mismatched_fraction'] <= 1.0


@pytest.mark.xdist_group('float_cnn')
def test_second_compare_uses_the_cache(hlsdiff, model_files, tmp_path):
    model, data = model_files('float_cnn')
    cache = tmp_path / 'own-cache'
    first = hlsdiff('compare', model, data, '--cache-dir', cache, '--precision', 'ap_fixed<32,16>', code=0)
    second = hlsdiff('compare', model, data, '--cache-dir', cache, '--precision', 'ap_fixed<32,16>', code=0)
    assert first.json['timings']['build_cached'] is False
    assert first.json['timings']['build_peak_rss_mb'] > 50 and first.json['timings']['csim_peak_rss_mb'] > 10
    assert second.json['timings']['build_cached'] is True
    # a fresh cache in a process that has imported TensorFlow already: no header is compiled
    # (no idle core ahead), the top unit is split (io_parallel: a unit per kernel, up to four);
    # a cached library says nothing of its build
    assert first.json['timings']['build_parts'] >= 2 and first.json['timings']['precompiled_header'] is False
    assert not (cache / 'pch').exists()
    assert (second.json['timings']['build_parts'], second.json['timings']['precompiled_header']) == (None, None)
    assert first.json['timings']['conversion_cached'] is False and second.json['timings']['conversion_cached'] is True
    assert second.json['layers'] == first.json['layers']  # the cached conversion compares the same
    assert len(list(cache.glob('*.so'))) == 1


@pytest.mark.xdist_group('optlevels')
@pytest.mark.parametrize('io_type', ['io_parallel', 'io_stream'])
def test_traces_are_bit_identical_across_optimisation_levels(model_files, cache_dir, io_type):
    import numpy as np

    from hlsdiff.engine import collect
    from hlsdiff.request import RunOptions
    from hlsdiff.trace.convert import ConvertOptions

    model, data = model_files('qkeras_sepblock')
    options = ConvertOptions(io_type=io_type, precision='ap_fixed<16,6>')
    runs = {level: collect(model, data, options, RunOptions(cache_dir=cache_dir, opt_level=level))
            for level in ('0', 'g', '1', '3')}
    assert len({r.timings['library'] for r in runs.values()}) == 4  # four different builds
    for level in ('g', '1', '3'):
        for name, arrays in runs['0'].arrays.items():
            if arrays.actual is not None:
                np.testing.assert_array_equal(runs[level].arrays[name].actual, arrays.actual, err_msg=f'{name} -O{level}')


@pytest.mark.xdist_group('two_inputs')
def test_multi_input_model_takes_an_npz_by_input_name(hlsdiff, tmp_path):
    import numpy as np

    from . import models

    model = models.two_inputs()
    path = tmp_path / 'two.h5'
    model.save(path)
    rng = np.random.default_rng(0)
    data = tmp_path / 'two.npz'
    np.savez(data, in_b=rng.normal(size=(8, 3)), in_a=rng.normal(size=(8, 4)))  # not in model order
    run = hlsdiff('compare', path, data, '--precision', 'ap_fixed<24,10>', code=0)
    assert {'in_a', 'in_b', 'cat', 'fc'} <= {l['name'] for l in run.json['layers'] if l['status'] != 'not-compared'}
    swapped = tmp_path / 'swapped.npz'
    np.savez(swapped, in_a=rng.normal(size=(8, 3)), in_b=rng.normal(size=(8, 4)))
    hlsdiff('compare', path, swapped, code=2)


@pytest.mark.xdist_group('float_cnn')
@pytest.mark.parametrize('fmt', ['keras', 'savedmodel'])
def test_keras_v3_file_and_savedmodel_load_like_h5(hlsdiff, model_files, tmp_path, fmt):
    from hlsdiff.frontends.keras2_load import load_model

    h5, data = model_files('float_cnn')
    model = load_model(h5)
    path = tmp_path / ('m.keras' if fmt == 'keras' else 'saved')
    model.save(path) if fmt == 'keras' else model.save(path, save_format='tf')
    run = hlsdiff('compare', path, data, '--precision', 'ap_fixed<32,16>', code=0)
    assert run.json['verdict'] == 'pass' and run.layer('conv_relu')['keras'] == 'conv'
