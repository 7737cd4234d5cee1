import dataclasses

import numpy as np

from hlsdiff.diagnosis import causes
from hlsdiff.fixedpoint import FixedType, quantize
from hlsdiff.layers import Folded, HlsAttrs, WeightLoss

rng = np.random.default_rng(7)


def facts(actual, reference, t=FixedType(16, 6), acc=None, cls='Dense', hls=HlsAttrs(), folded=(), loss=None,
          is_input=False):
    return causes.Facts('L', cls, actual, reference, t, acc, hls=hls, folded=folded, weight_loss=loss,
                        is_input=is_input, tol=0.05)


def test_overflow_wrap_and_close_miss():
    t = FixedType(16, 6)
    ref = rng.uniform(-60, 60, size=(8, 16))
    act = quantize(ref, t)
    f = causes.wrap(facts(act, ref, t))
    assert f and f.cause == 'overflow-wrap' and 'ap_fixed<17,7>' in f.hint
    noisy = ref + rng.normal(0, 20, size=ref.shape)  # large random error, not multiples of 64
    assert causes.wrap(facts(noisy, ref, t)) is None


def test_saturation_and_close_miss():
    t = FixedType(16, 6, True, 'TRN', 'SAT')
    ref = rng.uniform(-60, 60, size=(8, 16))
    act = np.clip(ref, t.min, t.max)
    assert causes.saturation(facts(act, ref, t)).cause == 'saturation'
    assert causes.saturation(facts(ref + 5, ref, t)) is None


def test_accumulator_of_an_average_and_close_miss():
    acc = FixedType(16, 6)
    n = 560
    mean = rng.uniform(0.5, 2.0, size=(8, 4))
    wrapped = quantize(mean * n, acc) / n
    attrs = HlsAttrs(pool_op='Average', in_height=16, in_width=35)
    f = causes.accumulator(facts(wrapped, mean, FixedType(16, 6), acc, cls='GlobalPooling2D', hls=attrs))
    assert f and f.cause == 'accumulator' and 'Precision.accum' in f.hint and 'ap_fixed<22,12>' in f.hint
    assert causes.accumulator(facts(mean * 0.5, mean, FixedType(16, 6), acc, 'GlobalPooling2D', attrs)) is None


def test_input_quantization_and_input_overflow():
    data = rng.normal(size=(8, 10))
    t = FixedType(16, 12)
    f = causes.input_range(facts(quantize(data, t), data, t, is_input=True))
    assert f.cause == 'input-quantization' and 'LayerName.L.Precision.result' in f.hint
    big = data * 100
    f = causes.input_range(facts(quantize(big, FixedType(16, 6)), big, FixedType(16, 6), is_input=True))
    assert f.cause == 'overflow-wrap'
    assert causes.input_range(facts(data, data, t, is_input=False)) is None


def test_table_range_only_for_table_activations():
    ref = rng.uniform(size=(4, 3))
    assert causes.table_range(facts(ref * 0, ref, cls='Softmax')).cause == 'table-range'
    assert causes.table_range(facts(ref * 0, ref, cls='Activation', hls=HlsAttrs(activation='sigmoid'))).cause == 'table-range'
    assert causes.table_range(facts(ref * 0, ref, cls='Activation', hls=HlsAttrs(activation='relu'))) is None


def test_table_range_hints_are_true_for_each_kind_of_layer():
    """Only softmax has an Implementation to choose; a recurrent layer's hint names its own keys."""
    ref = rng.uniform(size=(4, 3))
    lstm = causes.table_range(facts(ref * 0, ref, cls='LSTM', hls=HlsAttrs(activation='tanh')))
    assert 'Implementation' not in lstm.hint and 'softmax' not in lstm.hint + lstm.detail
    assert 'LayerName.L.table_size / Precision.table' in lstm.hint and 'recurrent activation' in lstm.detail
    sigmoid = causes.table_range(facts(ref * 0, ref, cls='Activation', hls=HlsAttrs(activation='sigmoid')))
    assert 'Implementation' not in sigmoid.hint and 'Precision.table' in sigmoid.hint
    softmax = causes.table_range(facts(ref * 0, ref, cls='Softmax'))
    assert 'Implementation: stable' in softmax.hint and 'Precision.exp_table' in softmax.hint


def test_kernel_defect_for_folded_bn_on_depthwise():
    ref = rng.normal(size=(4, 3))
    bn = (Folded('BatchNormalization', 'bn'),)
    assert causes.kernel_defect(facts(ref * 3, ref, cls='DepthwiseConv2D', folded=bn)).cause == 'kernel-defect'
    assert causes.kernel_defect(facts(ref * 3, ref, cls='Conv2D', folded=bn)) is None
    dropout = (Folded('Dropout', 'drop'),)  # only a folded BatchNormalization is the defect
    assert causes.kernel_defect(facts(ref * 3, ref, cls='DepthwiseConv2D', folded=dropout)) is None
    assert causes.kernel_defect(facts(ref * 3, ref, cls='DepthwiseConv2D')) is None


def test_classify_falls_back_to_unknown():
    ref = rng.normal(size=(4, 8))
    f = causes.classify(facts(rng.normal(size=(4, 8)) * 10, ref, FixedType(32, 16)))
    assert f.cause == 'unknown'


def test_weight_quantization_and_close_miss():
    ref = rng.normal(size=(4, 3))
    loss = WeightLoss(variable='weight', type='ap_fixed<16,12>', max_abs=0.06, peak=0.9, rel=0.066)
    f = causes.weight_quantization(facts(ref * 1.1, ref, loss=loss))
    assert f.cause == 'weights' and 'Precision.weight' in f.hint
    small = dataclasses.replace(loss, rel=0.001)
    assert causes.weight_quantization(facts(ref, ref, loss=small)) is None


def test_a_batchnorm_folded_into_a_depthwise_layer_offers_the_patch_and_the_config_workaround():
    """compare's hint names both cures `fix` and `patch` know: the corrected kernel, or an explicit result type
    (hls4ml then does not fold the BatchNormalization)."""
    from types import SimpleNamespace

    from hlsdiff.diagnosis import links
    from hlsdiff.result import LayerResult

    ref = rng.normal(size=(4, 3))
    bn = (Folded('BatchNormalization', 'bn'),)
    heuristic = causes.kernel_defect(facts(ref * 3, ref, cls='DepthwiseConv2D', folded=bn)).hint
    assert 'hlsdiff patch' in heuristic and 'LayerName.L.Precision.result' in heuristic
    res = LayerResult('dw', 'bn', 'DepthwiseConv2D', 'ap_fixed<16,6>', [4, 4, 3], 'mismatch',
                      folded=['BatchNormalization bn'])
    diff = SimpleNamespace(what='weights', name='w2.txt', detail='the weights are broadcast, not on the diagonal',
                           permutation=None, to_json=lambda: {})
    links.generator_defect(res, SimpleNamespace(differences=[diff], generator=1.0, generator_fraction=0.5, kernel=0.0),
                           'DepthwiseConv2D')
    assert 'hlsdiff patch' in res.hint and 'LayerName.dw.Precision.result' in res.hint
    unfolded = LayerResult('dw', 'dw', 'DepthwiseConv2D', 'ap_fixed<16,6>', [4, 4, 3], 'mismatch')
    links.generator_defect(unfolded, SimpleNamespace(differences=[diff], generator=1.0, generator_fraction=0.5,
                                                     kernel=0.0), 'DepthwiseConv2D')
    assert 'hlsdiff patch' in unfolded.hint and 'Precision.result' not in unfolded.hint
