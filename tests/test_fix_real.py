"""`hlsdiff fix` with real conversions and builds: computed changes, verified, a config hls4ml takes."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from hlsdiff.demo import DATA, MODEL

pytestmark = pytest.mark.slow


def _changes(run):
    return {(c['layer'], c['key']): c for c in run.json['fix']['changes']}


def test_the_issue1472_model_at_16_12_is_fixed_in_one_round(hlsdiff, tmp_path):
    """Input type with 4 fractional bits and a wrapping global-average accumulator: both cured at once."""
    out = tmp_path / 'fixed.yml'
    run = hlsdiff('fix', MODEL, DATA, '--io-type', 'io_stream', '--precision', 'ap_fixed<16,12>', '--samples', 32,
                  '-o', out, code=0)
    changes = _changes(run)
    assert ('gap', 'Precision.accum') in changes and ('input_1', 'Precision.result') in changes
    assert all(c['round'] == 1 and c['status'] == 'kept' for c in changes.values())
    gap = changes[('gap', 'Precision.accum')]
    assert gap['own_error_after'] < 0.5 * gap['own_error_before']
    assert run.json['verdict'] == 'pass' and run.json['fix']['passed']
    # by prediction, confirmed by one more C-simulation (the old rounds widened first: bits_added > 0; the
    # prediction narrows to the fewest bits that meet the gate, so the net width may fall)
    assert run.json['fix']['builds'] == 2 and run.json['fix']['what_ifs'] > 0
    cfg = yaml.safe_load(out.read_text())
    assert cfg['LayerName']['gap']['Precision']['accum'] == gap['after']
    again = hlsdiff('compare', MODEL, DATA, '--io-type', 'io_stream', '--samples', 32, '--config', out, code=0)
    assert again.json['onset'] is None


def test_two_problems_in_sequence_are_found_in_one_round_by_prediction(hlsdiff, model_files, tmp_path):
    """The conv's result type and then the pooling's accumulator: the old rounds needed a C-simulation to see
    the second; the prediction runs the whole chain and finds both before the first confirmation."""
    model, data = model_files('two_in_sequence', n=16, scale=2.0)
    cfg = tmp_path / 'narrow.yml'
    cfg.write_text(yaml.safe_dump({'LayerName': {'conv': {'Precision': {'result': 'ap_fixed<8,2>'}},
                                                 'gap': {'Precision': {'accum': 'ap_fixed<12,7>', 'result': 'ap_fixed<16,8>'}}}}))
    before = hlsdiff('compare', model, data, '--config', cfg, code=1)
    assert before.json['onset']['layer'] == 'conv'
    run = hlsdiff('fix', model, data, '--config', cfg, '-o', tmp_path / 'fixed.yml', code=0)
    changes = _changes(run)
    assert changes[('conv', 'Precision.result')]['round'] == 1
    assert changes[('gap', 'Precision.accum')]['round'] == 1
    assert run.json['fix']['builds'] == 2


def test_a_dropped_keras_attribute_cannot_be_fixed_and_is_named(hlsdiff, model_files, tmp_path):
    model, data = model_files('relu_max_value')
    out = tmp_path / 'fixed.yml'
    run = hlsdiff('fix', model, data, '-o', out, code=1)
    unfixable = run.json['fix']['unfixable']
    assert any(u['layer'] == 'relu6' and u['cause'] == 'unsupported-attribute' and 'max_value' in u['why']
               for u in unfixable)
    assert 'cannot be fixed by configuration' in run.stdout
    assert out.read_text().startswith('# NOT PASSING')
    yaml.safe_load(out.read_text())


def test_a_softmax_whose_table_does_not_cover_its_input_is_fixed(hlsdiff, model_files, tmp_path):
    model, data = model_files('dense_softmax', n=32)
    run = hlsdiff('fix', model, data, '-o', tmp_path / 'fixed.yml', code=0)
    assert run.json['fix']['changes']
    assert run.json['outputs'][0]['top1_agreement'] >= 0.99


def test_the_written_config_reproduces_the_result_in_hls4ml_alone(hlsdiff, model_files, tmp_path):
    """Load the YAML with yaml.safe_load, convert, compile and predict with hls4ml: no hlsdiff involved."""
    model_path, data_path = model_files('sequential_mlp', n=32)
    out = tmp_path / 'fixed.yml'
    before = hlsdiff('compare', model_path, data_path, code=1)
    run = hlsdiff('fix', model_path, data_path, '-o', out, code=0)
    assert run.json['outputs'][0]['top1_agreement'] == 1.0

    from hlsdiff.trace import stack

    s = stack.load()
    model = s.keras.models.load_model(model_path, compile=False)
    x = np.load(data_path)
    hls_model = s.hls4ml.converters.convert_from_keras_model(
        model, hls_config=yaml.safe_load(out.read_text()), io_type='io_parallel', output_dir=str(tmp_path / 'prj'))
    hls_model.compile()
    got = hls_model.predict(np.ascontiguousarray(x))
    want = model.predict(x, verbose=0)
    agreement = float(np.mean(np.argmax(got, axis=1) == np.argmax(want, axis=1)))
    assert before.json['outputs'][0]['top1_agreement'] < 1.0 and agreement == 1.0
    assert float(np.max(np.abs(got - want))) == pytest.approx(run.json['outputs'][0]['max_abs'], rel=1e-6)


def test_minimize_shrinks_the_widened_types_while_the_gate_holds(hlsdiff, model_files, tmp_path):
    model, data = model_files('sequential_mlp', n=32)
    plain = hlsdiff('fix', model, data, '-o', tmp_path / 'a.yml', code=0)
    # no --budget: the tests' generous one (conftest), so that a loaded machine cannot cut the search short;
    # the minimizing stops on its own at the first narrower type that fails the gate
    small = hlsdiff('fix', model, data, '-o', tmp_path / 'b.yml', '--minimize', 'widened', code=0)
    (before,) = [c for c in plain.json['fix']['changes'] if c['key'] == 'Precision.result']
    (after,) = [c for c in small.json['fix']['changes'] if c['key'] == 'Precision.result']
    from hlsdiff.fixedpoint import parse_type

    # each narrower type is measured (more builds); it is kept only while the gate holds, which since a model
    # output keeps its mismatch when its top-1 agrees may be none of them
    assert small.json['fix']['builds'] > plain.json['fix']['builds']
    assert parse_type(after['after']).width <= parse_type(before['after']).width
    assert small.json['verdict'] == 'pass'
    cfg = yaml.safe_load((tmp_path / 'b.yml').read_text())
    assert cfg['LayerName']['fc2']['Precision']['result'] == after['after']
