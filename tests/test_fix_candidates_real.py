"""`fix` where its prediction stops (a hard sigmoid, which the emulation does not compute; an ELU until the emulation
computed ELUs) and the compare's own remedies do not cure the gate: candidate changes measured by the C-simulation,
the one that passes written as far as it is needed, and hls4ml alone computing what was measured with it; where
none passes, every candidate measured is listed before `fix` says no configuration change cures it."""

from __future__ import annotations

import numpy as np
import pytest

from .models import hls4ml_alone, trained_four_class_mlp

from hlsdiff.fixing.candidates import candidate_sets

pytestmark = pytest.mark.slow

PRECISION = 'ap_fixed<8,3>'


@pytest.fixture(scope='module')
def elu_files(tmp_path_factory):
    """Dense(24, hard_sigmoid), two Dense(24, elu) and a Dense(4) softmax, trained on 4 classes. At ap_fixed<8,3>
    the layers' results wrap and the weights lose their fractions; no one layer's change cures it. The hard sigmoid
    first: the prediction stops at once (the ELUs are emulated)."""
    return trained_four_class_mlp(tmp_path_factory.mktemp('elu'), ('hard_sigmoid', 'elu', 'elu'))


def test_fix_measures_candidates_where_the_prediction_stops_and_hls4ml_alone_confirms_the_one_written(
        hlsdiff, elu_files, tmp_path):
    model_path, data, out = elu_files / 'elu.h5', elu_files / 'x.npy', tmp_path / 'fixed.yml'
    run = hlsdiff('fix', model_path, data, '--precision', PRECISION, '-o', out, code=0)
    fix = run.json['fix']
    assert any('not emulated: d1_hard_sigmoid' in note for note in fix['notes']), fix['notes']  # the prediction stops
    written = [c for c in fix['candidates'] if c['written']]
    assert len(written) == 1 and written[0]['verdict'] == 'pass'
    measured = [c for c in fix['changes'] if c['evidence'] == 'c-simulation']
    assert measured and all(c['status'] == 'kept' for c in measured)
    assert {(c['layer'], c['key'], c['after']) for c in measured} == \
        {(e['layer'], e['key'], e['after']) for e in written[0]['edits']}
    assert written[0]['outputs']['out_softmax']['max_abs'] == run.json['outputs'][0]['max_abs']

    got, want = hls4ml_alone(model_path, out, data, tmp_path / 'alone')
    assert abs(float(np.abs(got - want).max()) - run.json['outputs'][0]['max_abs']) <= 1e-6
    assert (got.argmax(1) == want.argmax(1)).mean() >= 0.99


def test_where_no_candidate_cures_the_gate_fix_lists_every_one_it_measured(hlsdiff, elu_files, tmp_path):
    model_path, data, out = elu_files / 'elu.h5', elu_files / 'x.npy', tmp_path / 'fixed.yml'
    run = hlsdiff('fix', model_path, data, '--precision', PRECISION, '--max-error', '1e-9', '-o', out, code=1)
    fix = run.json['fix']
    assert len(fix['candidates']) == 2  # the failing layers widened; every layer widened
    assert all(c['verdict'] == 'fail' and c['outputs'] and not c['written'] for c in fix['candidates'])
    assert any(note.startswith('no configuration change cures it: the candidates measured') for note in fix['notes'])
    assert fix['unfixable'] and not any(c['evidence'] == 'c-simulation' for c in fix['changes'])
    assert 'candidate measured by the C-simulation' in run.stdout


def test_the_candidates_widen_the_failing_layers_but_not_a_softmax_input(elu_files, cache_dir):
    """The first candidate covers the failing layers and their inputs' result types, finer tables where a kernel
    reads one; the result of the layer feeding the softmax stays (more integer bits: a coarser exp table)."""
    from hlsdiff.api import compare
    from hlsdiff.trace.convert import ConvertOptions
    from hlsdiff.trace.load import check_model_path
    from hlsdiff.whatif import initial_config, load

    model_path, data = elu_files / 'elu.h5', elu_files / 'x.npy'
    result = compare(str(model_path), np.load(data), precision=PRECISION, cache_dir=str(cache_dir))
    config, _ = initial_config(load(check_model_path(str(model_path)), str(data)), ConvertOptions(precision=PRECISION))
    first = candidate_sets(config, result, {})[0]
    keys = {(layer, key) for layer, key, _ in first.edits}
    for name in [layer.name for layer in result.layers if layer.introduces_error and layer.status == 'mismatch'][:4]:
        assert any(layer == name for layer, _ in keys), name
    assert ('out', 'Precision.result') not in keys
    assert all(value == 4096 for layer, key, value in first.edits if key == 'TableSize')
    assert any(key == 'TableSize' for _, key in keys)
