"""The search's bookkeeping on predictions given as data (pure): gate, narrowing, chains, remedies."""

from __future__ import annotations

from hlsdiff.diagnosis.precision import Responsible, remedy_of
from hlsdiff.fixedpoint import parse_type
from hlsdiff.gate import Gates
from hlsdiff.predict import LayerPrediction, OutputPrediction, Prediction, within_tolerance
from hlsdiff.remedy import Remedy, applied, get
from hlsdiff.search import candidates, family, gate_failures, narrow


def _prediction(error: float, status: str = 'noise', top1: float | None = None) -> Prediction:
    out = OutputPrediction('fc', top1, error, error / 2, 2.0**-10, 4.0, status)
    layer = LayerPrediction(error, error * 1024, 0.0 if status != 'mismatch' else 0.5, status, 2.0, 0.1)
    return Prediction((out,), {'fc': layer}, {'fc': {'result': 'ap_fixed<16,6>', 'accum_t': 'ap_fixed<32,12>',
                                                      'kernel': 'dense'}})


def test_the_gate_on_a_prediction_is_the_users_gate():
    assert gate_failures(_prediction(0.5, 'mismatch'), Gates()) == ['fc: status mismatch']
    assert gate_failures(_prediction(0.5, 'noise'), Gates()) == []
    assert gate_failures(_prediction(0.5), Gates(max_error={'fc': 0.1})) == ['fc: max error 0.5 > 0.1']
    assert gate_failures(_prediction(0.01, top1=0.9), Gates(min_agreement=0.98)) == ['fc: top-1 90.00%']


def test_narrowing_finds_the_fewest_fractional_bits_that_meet_the_gate():
    """A predicted error of 2**-F: the gate max-error 0.01 needs F >= 7, found by bisection from F=16."""
    config = {'LayerName': {'fc': {'Precision': {'result': 'auto'}}}}

    def predict(cfg):
        t = parse_type(get(cfg, 'fc', 'Precision.result'))
        return _prediction(2.0 ** -t.fractional)

    edits = [('fc', 'Precision.result', 'ap_fixed<20,4>')]
    edits, now, evaluated = narrow(predict, config, edits, predict(applied(config, [Remedy('fc', 'Precision.result', None,
                                                                                           'ap_fixed<20,4>', '')])),
                                   Gates(max_error={'fc': 0.01}), 60.0)
    t = parse_type(edits[0][2])
    assert t.fractional == 7 and evaluated <= 8
    assert now.outputs[0].max_abs == 2.0**-7


def test_a_dense_and_the_layers_hls4ml_splits_from_it_are_one_chain():
    config = {'Model': {'Precision': {'default': 'ap_fixed<16,6>'}},
              'LayerName': {'fc': {'Precision': {'result': 'auto'}}, 'fc_linear': {'Precision': {'result': 'auto'}},
                            'fc_softmax': {'Precision': {'result': 'auto'}, 'TableSize': 1024}, 'fc2': {}}}
    assert family(config, 'fc_linear') == ['fc', 'fc_linear', 'fc_softmax']
    from hlsdiff.search import Space

    space = Space({'fc': ()}, {'fc': 'Dense'}, {}, Gates())
    p = _prediction(0.5, 'mismatch')
    p.types['fc_softmax'] = {'kernel': 'softmax', 'exp_table_t': 'ap_fixed<18,8>'}
    cands = candidates(config, p, space, ['fc'])
    chains = [c for c in cands if len(c) > 1]
    assert chains and {layer for layer, _, _ in chains[0]} == {'fc', 'fc_linear', 'fc_softmax'}
    assert ['fc_softmax', 'TableSize', 2048] in [list(c[0]) for c in cands]
    assert not any(e[1] == 'Implementation' and e[2] == 'argmax' for c in cands for e in c)


def test_a_prediction_within_ten_percent_or_one_lsb_agrees():
    assert within_tolerance(1.05, 1.0, 2.0**-10)
    assert within_tolerance(0.0, 2.0**-10, 2.0**-10)
    assert not within_tolerance(1.2, 1.0, 2.0**-10)


def test_the_diagnosis_responsible_type_is_a_remedy_fix_consumes():
    found = Responsible('accum_t', True, 'LayerName.gap.Precision.accum', 'ap_fixed<16,12>', 'ap_fixed<24,16>', 7.5,
                        0.06, 0.06, True, 'detail', 'hint')
    remedy = remedy_of(found)
    assert (remedy.layer, remedy.key, remedy.after, remedy.bits_added) == ('gap', 'Precision.accum', 'ap_fixed<24,16>', 8)
    assert remedy.hint() == 'Set LayerName.gap.Precision.accum to ap_fixed<24,16>'
    index = Responsible('inv_inp_t', False, 'LayerName.sm.Precision.inv_inp', 'ap_fixed<18,8>', 'ap_fixed<18,4>', 1.0,
                        0.1, 0.1, True, '', '')
    assert remedy_of(index) is None  # hls4ml 1.3.0 ignores Precision.inv_inp: not a config change


def test_fix_targets_every_output_within_5_percent_of_its_range_only_with_the_default_gate():
    """fix's target (gate.fix_target): with no gate option, the default gate and every output within 5% of its
    range (here 4.0: 0.2); the user's options, when given, are the target as they are."""
    from hlsdiff.gate import fix_target

    target = fix_target(Gates())
    assert target.output_share == 0.05 and not target.given
    assert gate_failures(_prediction(0.19), target) == []
    assert gate_failures(_prediction(0.21), target) == ['fc: max error 0.21 beyond 5% of its range 4']
    assert gate_failures(_prediction(0.21), Gates()) == []  # the compare's gate itself does not change
    given = Gates(max_error={'fc': 1.0})
    assert fix_target(given) is given and gate_failures(_prediction(0.5), fix_target(given)) == []


def test_an_elu_table_is_searched_through_table_t_which_hls4ml_reads():
    """hls4ml 1.3.0 reads an ELU's table type from the layer's `table_t` key, not Precision.table
    (docs/emulation.md): the search widens `table_t` and finer TableSize, never the Precision.table it ignores."""
    from hlsdiff.search import Space

    config = {'Model': {'Precision': {'default': 'ap_fixed<16,6>'}},
              'LayerName': {'fc': {'Precision': {'result': 'auto'}},
                            'fc_elu': {'Precision': {'result': 'auto', 'table': 'fixed<18,8>'}, 'TableSize': 1024}}}
    p = _prediction(0.5, 'mismatch')
    p.types['fc_elu'] = {'kernel': 'elu', 'result': 'ap_fixed<16,6>'}
    edits = [e for c in candidates(config, p, Space({'fc': (), 'fc_elu': ('fc',)}, {'fc': 'Dense', 'fc_elu': 'ELU'},
                                                    {}, Gates()), ['fc_elu']) for e in c if e[0] == 'fc_elu']
    (table,) = [parse_type(str(v)) for _, key, v in edits if key == 'table_t']
    assert table.integer > 8 and table.fractional > 10  # from hls4ml's default ap_fixed<18,8>
    assert ('fc_elu', 'TableSize', 4096) in edits
    assert not any(key == 'Precision.table' for _, key, _ in edits)
