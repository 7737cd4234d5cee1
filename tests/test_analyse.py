"""The onset logic on synthetic arrays: sources, propagation, static checks, shapes (pure numpy)."""

from __future__ import annotations

import numpy as np

from hlsdiff.diagnosis import analyse
from hlsdiff.fixedpoint import FixedType, quantize
from hlsdiff.gate import Gates, apply
from hlsdiff.layers import Collected, KerasFacts, LayerArrays, LayerInfo

rng = np.random.default_rng(3)
T = 'ap_fixed<16,6>'


def chain(arrays: dict, framework=None, types=None, classes=None) -> Collected:
    """A linear chain inp -> a -> b -> c with the given (expected, actual, local) arrays."""
    names = list(arrays)
    infos = []
    for i, name in enumerate(names):
        infos.append(LayerInfo(name=name, class_name=(classes or {}).get(name, 'Input' if i == 0 else 'Dense'),
                               inputs=() if i == 0 else (names[i - 1],), keras=name, shape=arrays[name][0].shape[1:],
                               result_type=(types or {}).get(name, T), framework=(framework or {}).get(name, KerasFacts())))
    return Collected(layers=infos, arrays={n: LayerArrays(*a) for n, a in arrays.items()}, unmatched_keras=[])


def test_wrap_in_the_middle_is_the_onset_and_later_layers_are_propagated():
    x = rng.normal(size=(16, 8))
    a = x * 3
    b_true = a * 20  # reaches +-200: wraps in ap_fixed<16,6>
    b_csim = quantize(b_true, FixedType(16, 6))
    c_true, c_csim = b_true * 0.5, b_csim * 0.5
    result = analyse(chain({'inp': (x, x, None), 'a': (a, a, a), 'b': (b_true, b_csim, b_true),
                            'c': (c_true, c_csim, c_csim)}))
    assert result.onset == {'layer': 'b', 'cause': 'overflow-wrap', 'pattern': result.layer('b').pattern['kind'],
                            'evidence': 'heuristic'}
    assert result.layer('b').status == 'mismatch' and 'Precision.result' in result.layer('b').hint
    assert result.layer('c').cause == 'propagated' and result.layer('c').propagated_from == 'b'
    assert result.layer('a').status == 'ok' and result.layer('a').cause == 'none'
    assert result.summary.startswith('First divergence: b (Dense) — overflow wrap')


def test_clean_chain_has_no_onset_and_passes_the_default_gate():
    x = rng.normal(size=(8, 4))
    result = analyse(chain({'inp': (x, x, None), 'a': (x, x + 1e-4, x + 1e-4)}))
    assert result.onset is None and 'No divergence' in result.summary
    apply(result, Gates())
    assert result.verdict == 'pass' and result.exit_code == 0 and bool(result)


def test_growth_without_a_single_source_points_at_the_largest_contribution():
    x = rng.normal(size=(64, 32))
    xq = quantize(x, FixedType(16, 12))  # coarse input: rms error ~3.6% of the signal
    a_true, a_csim = np.round(x * 4), np.round(xq * 4)  # the layer itself is exact on its inputs
    b_true, b_csim = a_true * 3, a_csim * 3
    result = analyse(chain({'inp': (x, xq, None), 'a': (a_true, a_csim, np.round(xq * 4)), 'b': (b_true, b_csim, b_csim)},
                           types={'inp': 'ap_fixed<16,12>', 'a': 'ap_fixed<16,12>', 'b': 'ap_fixed<16,12>'}))
    assert result.layer('b').status == 'mismatch' or result.layer('a').status == 'mismatch'
    assert result.onset['layer'] == 'inp' and result.onset['cause'] == 'input-quantization'


def test_dropped_keras_setting_is_an_unsupported_attribute():
    x = rng.normal(size=(8, 6)) * 4
    relu6 = np.clip(x, 0, 1)
    relu = np.maximum(x, 0)  # hls4ml ignored max_value
    result = analyse(chain({'inp': (x, x, None), 'r': (relu6, relu, relu6)}, framework={'r': KerasFacts(dropped_settings={'max_value': 1.0})}))
    assert result.onset['layer'] == 'r' and result.layer('r').cause == 'unsupported-attribute'
    assert 'max_value=1.0' in result.layer('r').hint


def test_shape_difference_is_reported_not_a_crash():
    x = rng.normal(size=(4, 6))
    result = analyse(chain({'inp': (x, x, None), 's': (rng.normal(size=(4, 6)), rng.normal(size=(4, 5)), None)}))
    s = result.layer('s')
    assert s.status == 'mismatch' and s.cause == 'shape-mismatch' and s.pattern['kind'] == 'shape'


def test_gates_per_layer_with_default_and_lsb():
    x = rng.normal(size=(8, 4))
    result = analyse(chain({'inp': (x, x, None), 'a': (x, x + 0.01, x + 0.01)}))
    apply(result, Gates(max_error={'': 0.001, 'inp': 1.0}))
    assert result.verdict == 'fail' and result.layer('a').gate_failures and not result.layer('inp').gate_failures
    apply(result, Gates(max_error={'': 0.1}))
    assert result.verdict == 'pass'
    apply(result, Gates(max_lsb={'a': 5}))
    assert result.verdict == 'fail' and 'LSB' in result.layer('a').gate_failures[0]
    warnings = apply(result, Gates(max_error={'nope': 1}))
    assert warnings and 'nope' in warnings[0]


def _hgq_input(quantizer_exact: bool, bit_exact: bool = True):
    """An HGQ proxy model's input typed as its quantizer (HGQ's overrides: hls4ml 1.3.0 gives the input the
    quantizer's type) and the quantizer after it, with sample 3 beyond the input type's range (it wraps)."""
    from dataclasses import replace

    from hlsdiff.rounding import ElementCheck, check_chunk

    x = rng.normal(size=(8, 4))
    x[3] *= 40  # beyond +-16
    inp = quantize(x, FixedType(12, 5))
    q = quantize(x, FixedType(10, 4))  # the quantizer wraps the raw data: the same as from the wrapped input
    q_csim = quantize(inp, FixedType(10, 4))
    assert np.array_equal(q, q_csim)  # a wrap of a wrap: the model's own
    if not quantizer_exact:
        q_csim = q_csim + 2.0**-6 * (np.arange(q.size).reshape(q.shape) == 5)
    collected = chain({'inp': (x, inp, None), 'q': (q, q_csim, q)}, types={'inp': 'ap_fixed<12,5>', 'q': 'ap_fixed<10,4>'},
                      classes={'q': 'FixedPointQuantizer'})
    collected.layers[1] = replace(collected.layers[1], bit_exact_point=True)
    collected.bit_exact = bit_exact
    check = ElementCheck('input', 2.0**-7)
    check.add(check_chunk(collected.layers[0], collected.arrays['inp'], None, bit_exact, 16.0), 0)
    collected.checks = {'inp': check}
    assert check.samples == [3]
    return collected


def test_hgq_input_that_wraps_as_its_quantizer_wraps_is_the_models_own():
    """hls4ml's example models hgq_jet_classifier.h5 and hgq_mnist_heterogeneous.h5: hls4ml alone equals Keras bit
    for bit, and the data wraps in the input type where the quantizer wraps it too: not an error."""
    result = analyse(_hgq_input(quantizer_exact=True))
    assert result.onset is None and result.layer('inp').beyond_rounding == 0
    assert result.layer('inp').status != 'mismatch'
    assert any("the model's own wrap" in note for note in result.notes)
    apply(result, Gates())
    assert result.verdict == 'pass', result.gate_failures


def test_input_wrap_counts_where_the_quantizer_differs_or_the_model_promises_nothing():
    for collected in (_hgq_input(quantizer_exact=False), _hgq_input(quantizer_exact=True, bit_exact=False)):
        result = analyse(collected)
        assert result.layer('inp').status == 'mismatch' and result.layer('inp').wrong_samples == [3]
        apply(result, Gates())
        assert result.verdict == 'fail'


def test_a_classifier_output_off_on_many_samples_stays_a_mismatch_though_its_top1_agrees():
    """hls4ml's example KERAS_3layer_batch_norm after `fix`: the softmax's top-1 agreed on 199 of 200 samples
    while 9% of its values were off by more than 5% of its range (0.18 on a range of 1; hls4ml alone the same):
    the outputs are the result, not a precision error along the way."""
    x = rng.normal(size=(100, 6))
    logits = x[:, :5] * 3
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    off = p.copy()
    off[::10] *= 1.2  # every tenth sample's values 20% high (the top class the same)
    result = analyse(chain({'inp': (x, x, None), 'logits': (logits, logits, logits), 'p': (p, off, p)},
                           classes={'p': 'Softmax'}))
    assert result.outputs[0]['top1_agreement'] == 1.0
    assert result.layer('p').status == 'mismatch'
    apply(result, Gates())
    assert result.verdict == 'fail' and any(f.startswith('p: status mismatch') for f in result.gate_failures)
    # the same output within 5% of its range everywhere passes
    result = analyse(chain({'inp': (x, x, None), 'logits': (logits, logits, logits), 'p': (p, p * 1.01, p)},
                           classes={'p': 'Softmax'}))
    apply(result, Gates())
    assert result.verdict == 'pass', result.gate_failures
