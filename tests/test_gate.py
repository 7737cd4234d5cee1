"""The per-element rounding check and the default gate (docs/gate.md), on arrays: no g++, no framework."""

from __future__ import annotations

import json

import numpy as np

from hlsdiff.diagnosis import analyse
from hlsdiff.fixedpoint import FixedType, quantize
from hlsdiff.gate import Gates, apply
from hlsdiff.layers import LayerArrays, LayerInfo
from hlsdiff.rounding import ElementCheck, check_chunk

from .test_analyse import chain

T = FixedType(16, 6)
rng = np.random.default_rng(5)


def _input(n=1000, rare=(17, 250)):
    x = rng.normal(0, 2, (n, 4))
    x[list(rare), 3] = 40.0  # beyond ap_fixed<16,6>'s +-32
    return x, quantize(x, T)


def test_an_input_is_wrong_exactly_where_its_data_does_not_fit_its_type():
    x, stored = _input()
    info = LayerInfo(name='inp', class_name='Input', keras='inp', shape=(4,), result_type=str(T))
    chunk = check_chunk(info, LayerArrays(x, stored, None), None, False, 1.0)
    assert chunk is not None and chunk.method == 'input'
    assert [tuple(int(i) for i in p) for p in np.argwhere(chunk.beyond)] == [(17, 3), (250, 3)]
    assert chunk.explained <= T.lsb  # the rest is within one LSB of the data
    check = ElementCheck(chunk.method, T.lsb)
    assert check.add(chunk, offset=1000) == [17, 250]  # rows of this chunk; the samples carry the offset
    assert check.samples == [1017, 1250] and check.worst is not None and check.worst.channel == 3
    assert check.describe(2000).startswith('2 of 2000 samples (0.1%); worst: sample 1017, channel 3, 64')


def test_a_layer_checked_by_the_stated_bound_allows_4_lsb_or_5_percent_of_its_range():
    x = rng.normal(0, 1, (50, 3))
    info = LayerInfo(name='a', class_name='Dense', inputs=('inp',), keras='a', shape=(3,), result_type=str(T))
    near = x + 3 * T.lsb
    far = near.copy()
    far[9, 1] += 1.0
    assert not check_chunk(info, LayerArrays(x, near, x), None, False, float(np.abs(x).max())).beyond.any()
    assert np.argwhere(check_chunk(info, LayerArrays(x, far, x), None, False, float(np.abs(x).max())).beyond).tolist() \
        == [[9, 1]]


def _rare_chain(n=200, rare=(3, 150)):
    x, stored = _input(n, rare)
    collected = chain({'inp': (x, stored, None), 'a': (2 * x, 2 * stored, 2 * stored)})
    info = collected.layers[0]
    check = ElementCheck('input', T.lsb)
    check.add(check_chunk(info, collected.arrays['inp'], None, False, 1.0), 0)
    collected.checks, collected.samples = {'inp': check}, n
    return collected


def test_a_rare_wrap_is_a_mismatch_at_its_layer_with_every_wrong_sample_listed():
    result = analyse(_rare_chain())
    assert result.onset['layer'] == 'inp' and result.onset['cause'] == 'overflow-wrap'
    inp, a = result.layer('inp'), result.layer('a')
    assert inp.status == 'mismatch' and inp.beyond_rounding == 2 and inp.wrong_samples == [3, 150]
    assert a.status == 'mismatch' and a.cause == 'propagated' and a.wrong_samples == [3, 150]
    assert result.outputs[0]['wrong_samples'] == [3, 150] and result.outputs[0]['wrong_samples_count'] == 2
    assert 'wrong beyond rounding on 2 of 200 samples (1.0%)' in inp.cause_detail
    # the data's range (40) needs 7 integer bits, one more of headroom: a type shown to hold every sample
    assert inp.remedy.after == 'ap_fixed<18,8>' and inp.hint == 'Set LayerName.inp.Precision.result to ap_fixed<18,8>'
    apply(result, Gates())
    assert result.verdict == 'fail' and result.gate_failures[0].startswith('inp: own error beyond rounding on 2')
    assert json.loads(json.dumps(result.to_json()))['outputs'][0]['wrong_samples'] == [3, 150]


def test_a_users_threshold_never_excuses_a_rare_wrap():
    result = analyse(_rare_chain())
    apply(result, Gates(max_error={'': 1000.0}))
    assert result.verdict == 'fail' and any('beyond rounding' in f for f in result.gate_failures)


def _logits(flip_margin: float, flips: int, n=100):
    """A two-layer chain whose output is 3 logits; `flips` samples get their top class changed by the C-simulation,
    the framework's top ahead by `flip_margin`."""
    x = rng.normal(0, 1, (n, 5))  # not 3 values: an output the size of the input is not a class axis
    want = np.tile([1.0, 0.0, -1.0], (n, 1))
    got = want.copy()
    for i in range(flips):
        want[i] = [0.5 + flip_margin, 0.5, -1.0]
        got[i] = [0.5, 0.5 + 1e-3, -1.0]
    return analyse(chain({'inp': (x, x, None), 'logits': (want, got, got)}))


def test_a_logits_head_is_a_classifier_and_every_flip_counts_near_ties_said_apart():
    result = _logits(0.001, flips=3)  # ahead by about one LSB of ap_fixed<16,6>: the output's rounding decides
    out = result.outputs[0]
    assert out['classifier'] == 'logits' and out['top1_agreement'] == 0.97 and out['top1_near_ties'] == 3
    assert out['wrong_samples'] == [0, 1, 2]
    apply(result, Gates())
    assert result.verdict == 'fail'
    assert result.gate_failures == ['logits: top-1 agreement 97.00% < 99% (3 of the flips on near ties)']
    assert _logits(0.01, flips=3).outputs[0]['top1_near_ties'] == 0  # ten LSB ahead: a decision the error changed
    apply(result, Gates(min_agreement=0.95))
    assert result.verdict == 'pass'


def test_a_classifier_below_99_percent_fails_the_default_gate_unless_told_otherwise():
    result = _logits(0.5, flips=3)
    assert result.outputs[0]['wrong_samples'] == [0, 1, 2]
    apply(result, Gates())
    assert result.verdict == 'fail' and result.gate_failures == ['logits: top-1 agreement 97.00% < 99%']
    apply(result, Gates(min_agreement=0.95))
    assert result.verdict == 'pass'
    apply(result, Gates(classifiers=('none',)))
    assert result.verdict == 'pass' and result.outputs[0]['top1_agreement'] is None


def test_fix_writes_its_json_on_bad_input_too(tmp_path):
    from click.testing import CliRunner

    from hlsdiff.cli import main

    data = tmp_path / 'x.npy'
    np.save(data, np.zeros((2, 3), dtype=np.float32))
    report = tmp_path / 'fix.json'
    run = CliRunner().invoke(main, ['fix', str(tmp_path / 'missing.h5'), str(data), '--json', str(report),
                                    '-o', str(tmp_path / 'fixed.yml')])
    assert run.exit_code == 2
    written = json.loads(report.read_text())
    assert written['verdict'] == 'error' and written['exit_code'] == 2 and 'missing.h5' in written['error']['message']
