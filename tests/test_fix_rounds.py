"""fix's bookkeeping on synthetic results (pure): a change that did not cure is taken back exactly."""

from __future__ import annotations

from types import SimpleNamespace

from hlsdiff.fixing.changes import Change, verify_changes
from hlsdiff.remedy import Remedy, put


def _result(own_error: float, status: str):
    layer = SimpleNamespace(name='fc', local_max_abs=own_error, max_abs=own_error, inputs=['inp'], status=status)
    return SimpleNamespace(layers=[layer])


def test_a_change_that_did_not_cure_restores_the_config_as_it_was():
    config = {'LayerName': {'fc': {'Precision': {'result': 'auto'}}}}
    change = Change(Remedy('fc', 'Precision.result', 'ap_fixed<36,16>', 'ap_fixed<16,6>', 'why', 'emulation'), 'fc', 1.0, 0.1,
                    round=1, config_before='auto')
    put(config, 'fc', 'Precision.result', 'ap_fixed<16,6>')
    new = Change(Remedy('fc', 'Precision.accum', 'ap_fixed<36,16>', 'ap_fixed<40,20>', 'why', 'emulation'), 'fc', 1.0,
                 0.1, round=1)
    put(config, 'fc', 'Precision.accum', 'ap_fixed<40,20>')
    verify_changes(_result(0.9, 'mismatch'), [change, new], config, 2)
    assert change.status == new.status == 'reverted'
    assert config == {'LayerName': {'fc': {'Precision': {'result': 'auto'}}}}  # 'auto' back, the new key gone


def test_a_change_that_cured_is_kept_with_the_measured_error():
    config = {'LayerName': {'fc': {'Precision': {'result': 'auto'}}}}
    change = Change(Remedy('fc', 'Precision.result', 'ap_fixed<36,16>', 'ap_fixed<16,6>', 'why', 'emulation'), 'fc', 1.0, 0.1,
                    round=1, config_before='auto')
    put(config, 'fc', 'Precision.result', 'ap_fixed<16,6>')
    verify_changes(_result(0.05, 'noise'), [change], config, 2)
    assert change.status == 'kept' and change.own_error_after == 0.05
    assert config['LayerName']['fc']['Precision']['result'] == 'ap_fixed<16,6>'


def test_a_change_goes_to_the_config_key_hls4ml_reads_for_the_layer():
    """hls4ml's ONNX converter reads the config by node (MatMul_0) and names the layer after it (Dense_MatMul_0,
    bn_Add_0); a Keras layer's own name stays its key, and hls4ml's split `<layer>_relu` is no node's."""
    from hlsdiff.remedy import entry_name, get, put

    config = {'LayerName': {'MatMul_0': {'Precision': {'result': 'auto'}}, 'Add_0': {}, 'relu': {}, 'conv': {}}}
    assert entry_name(config, 'Dense_MatMul_0') == 'MatMul_0' and entry_name(config, 'bn_Add_0') == 'Add_0'
    assert entry_name(config, 'conv') == 'conv' and entry_name(config, 'conv_relu') == 'conv_relu'
    put(config, 'Dense_MatMul_0', 'Precision.result', 'ap_fixed<12,3>')
    assert config['LayerName']['MatMul_0']['Precision']['result'] == 'ap_fixed<12,3>'
    assert get(config, 'Dense_MatMul_0', 'Precision.result') == 'ap_fixed<12,3>' and 'Dense_MatMul_0' not in config['LayerName']
    put(config, 'Dense_MatMul_0', 'Precision.result', None)  # taken back: the entry goes
    assert 'result' not in config['LayerName']['MatMul_0']['Precision']
