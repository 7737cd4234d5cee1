"""The typed layer facts: what the conversion cache keeps of them comes back the same (pure)."""

from __future__ import annotations

import json

from hlsdiff.layers import Folded, HlsAttrs, KerasFacts, LayerInfo, WeightLoss


def test_layer_facts_round_trip_through_json():
    info = LayerInfo(name='dw', class_name='DepthwiseConv2D', inputs=('inp',), keras='bn', keras_class='DepthwiseConv2D',
                     shape=(5, 6, 3), result_type='ap_fixed<16,6>', origin='model',
                     folded=(Folded('BatchNormalization', 'bn'), Folded('Dropout', 'drop')),
                     hls=HlsAttrs(index=2, n_chan=3, strategy='latency', types={'weight_t': 'ap_fixed<16,6>'}),
                     framework=KerasFacts(activation='relu', depth_multiplier=2, dropped_settings={'dilation_rate': [2, 2]},
                                          dropped_layers=('QActivation qact',)),
                     weight_loss=WeightLoss('weight', 'ap_fixed<8,3>', 0.01, 0.9, 0.011))
    back = LayerInfo.from_dict(json.loads(json.dumps(info.to_dict())))
    assert back == info
    bare = LayerInfo(name='x', class_name='Input', origin='input')
    assert LayerInfo.from_dict(json.loads(json.dumps(bare.to_dict()))) == bare
