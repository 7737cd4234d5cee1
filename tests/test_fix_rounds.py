"""fix's bookkeeping on synthetic results (pure): a change that did not cure is taken back exactly."""

from __future__ import annotations

from types import SimpleNamespace

from hlsdiff.fix import Change, _set, _verify


def _result(own_error: float, status: str):
    layer = SimpleNamespace(name='fc', local_max_abs=own_error, max_abs=own_error, inputs=['inp'], status=status)
    return SimpleNamespace(layers=[layer])


def test_a_change_that_did_not_cure_restores_the_config_as_it_was():
    config = {'LayerName': {'fc': {'Precision': {'result': 'auto'}}}}
    change = Change('fc', 'Precision.result', 'ap_fixed<36,16>', 'ap_fixed<16,6>', 'why', 'fc', 1.0, 0.1, round=1,
                    config_before='auto')
    _set(config, 'fc', 'Precision.result', 'ap_fixed<16,6>')
    new = Change('fc', 'Precision.accum', 'ap_fixed<36,16>', 'ap_fixed<40,20>', 'why', 'fc', 1.0, 0.1, round=1)
    _set(config, 'fc', 'Precision.accum', 'ap_fixed<40,20>')
    _verify(_result(0.9, 'mismatch'), [change, new], config, 2)
    assert change.status == new.status == 'reverted'
    assert config == {'LayerName': {'fc': {'Precision': {'result': 'auto'}}}}  # 'auto' back, the new key gone


def test_a_change_that_cured_is_kept_with_the_measured_error():
    config = {'LayerName': {'fc': {'Precision': {'result': 'auto'}}}}
    change = Change('fc', 'Precision.result', 'ap_fixed<36,16>', 'ap_fixed<16,6>', 'why', 'fc', 1.0, 0.1, round=1,
                    config_before='auto')
    _set(config, 'fc', 'Precision.result', 'ap_fixed<16,6>')
    _verify(_result(0.05, 'noise'), [change], config, 2)
    assert change.status == 'kept' and change.own_error_after == 0.05
    assert config['LayerName']['fc']['Precision']['result'] == 'ap_fixed<16,6>'
