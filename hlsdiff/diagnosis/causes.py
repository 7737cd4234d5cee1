"""Why a layer adds an error of its own: fixed-point causes, tables, known kernel defects.

Each detector is a pure function `(facts) -> Finding | None` and says in its docstring
what evidence it needs. `classify` runs them in order; the first that fires wins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from hlsdiff.fixedpoint import FixedType, integer_bits_needed, parse_type, quantize
from hlsdiff.layers import Folded, HlsAttrs, KerasFacts, WeightLoss
from hlsdiff.remedy import Remedy
from hlsdiff.vocabulary import Cause

TABLE_CLASSES = ('Softmax',)
TABLE_ACTIVATIONS = ('softmax', 'sigmoid', 'tanh', 'elu', 'selu', 'softplus', 'softsign')
DEPTHWISE_CLASSES = ('DepthwiseConv1D', 'DepthwiseConv2D')
RECURRENT_CLASSES = ('SimpleRNN', 'LSTM', 'GRU', 'Bidirectional')  # their activations read tables too


@dataclass(frozen=True)
class Facts:
    """What a cause detector may look at for one layer."""

    name: str
    class_name: str
    actual: np.ndarray  # the C-simulation's output
    reference: np.ndarray  # Keras on the same inputs (local) or end to end
    result_type: FixedType | None
    accum_type: FixedType | None
    hls: HlsAttrs = field(default_factory=HlsAttrs)
    framework: KerasFacts = field(default_factory=KerasFacts)
    folded: tuple[Folded, ...] = ()
    weight_loss: WeightLoss | None = None
    is_input: bool = False
    tol: float = 0.0


@dataclass(frozen=True)
class Finding:
    cause: Cause
    detail: str
    hint: str


def _bad(f: Facts) -> np.ndarray:
    return np.abs(f.actual - f.reference) > f.tol


def _multiples(err: np.ndarray, period: float, tol: float) -> bool:
    """Errors that are all non-zero whole multiples of `period` (within tol)."""
    if period <= 0 or err.size == 0:
        return False
    k = np.round(err / period)
    return bool(np.all(k != 0) and np.all(np.abs(err - k * period) <= tol + 1e-9))


def set_hint(layer: str, key: str, after: object) -> str:
    """A heuristic's hint for a change of `LayerName.<layer>.<key>`, in the words of Remedy.hint (the one renderer)."""
    return Remedy(layer, key, None, after, '', evidence='heuristic').hint()


def _suggest(t: FixedType, needed_integer: int) -> FixedType:
    return t.with_integer_bits(max(needed_integer, t.integer))


def input_range(f: Facts) -> Finding | None:
    """Input rows only: data outside input_t's range wraps or saturates; otherwise the error
    is the quantization of the data to input_t's resolution."""
    if not f.is_input or f.result_type is None:
        return None
    t = f.result_type
    need = integer_bits_needed(f.reference, t.signed)
    if need > t.integer:
        cause: Cause = 'overflow-wrap' if t.saturation == 'WRAP' else 'saturation'
        peak = float(np.max(np.abs(f.reference)))
        return Finding(cause, f'the data reaches {peak:.4g}, outside {t} (range {t.min:g} to {t.max:g})',
                       set_hint(f.name, 'Precision.result', _suggest(t, need)))
    rms = float(np.sqrt(np.mean(f.reference**2))) or 1.0
    frac_needed = max(t.fractional, int(math.ceil(-math.log2(1e-3 * rms))))
    better = FixedType(need + frac_needed, need, t.signed, t.rounding, t.saturation)
    return Finding('input-quantization',
                   f'{t} keeps {t.fractional} fractional bits (step {t.lsb:g}); the data has rms {rms:.3g}',
                   f'{set_hint(f.name, "Precision.result", better)} (or Model.Precision)')


def table_range(f: Facts) -> Finding | None:
    """Lookup-table activations (softmax, sigmoid, tanh): the input is right, the output is
    not, so the table's range or resolution does not fit the input values."""
    act = (f.hls.activation or '').lower()
    if f.class_name not in TABLE_CLASSES and act not in TABLE_ACTIVATIONS:
        return None
    size = f' of {f.hls.table_size} entries' if f.hls.table_size else ''
    if f.class_name == 'Softmax' or act == 'softmax':
        return Finding('table-range', f'softmax is computed from lookup tables{size} that do not cover its input '
                       'range at this resolution', f'Raise LayerName.{f.name}.table_size / Precision.exp_table / '
                       'Precision.inv_table, or set its Implementation: stable (it subtracts the maximum first)')
    if f.class_name in RECURRENT_CLASSES:
        return Finding('table-range', f'{f.class_name} {f.name}\'s activations ({act} and its recurrent activation) '
                       f'are computed from lookup tables{size} that do not cover their input range at this resolution',
                       f'Raise LayerName.{f.name}.table_size / Precision.table (both tables take them)')
    if act in ('elu', 'selu', 'softplus', 'softsign'):  # hls4ml 1.3.0 reads their table type from `table_t` only
        return Finding('table-range', f'{act} is computed from a lookup table{size} that does not cover its input '
                       'range at this resolution',
                       f'Raise LayerName.{f.name}.TableSize / LayerName.{f.name}.table_t (hls4ml 1.3.0 does not read '
                       'Precision.table for it)')
    return Finding('table-range', f'{act or f.class_name} is computed from a lookup table{size} that does not cover '
                   'its input range at this resolution',
                   f'Raise LayerName.{f.name}.table_size / Precision.table, or keep its input within the table\'s range')


def wrap(f: Facts) -> Finding | None:
    """Errors are whole multiples of 2**I of the result type (or the C-sim equals the
    reference wrapped into it): the result type has too few integer bits and wraps."""
    t = f.result_type
    bad = _bad(f)
    if t is None or t.saturation != 'WRAP' or not bad.any():
        return None
    err = (f.reference - f.actual)[bad]
    wrapped = quantize(f.reference, t)
    if _multiples(err, t.period, max(f.tol, 4 * t.lsb)) or np.allclose(f.actual[bad], wrapped[bad], atol=2 * t.lsb):
        need = integer_bits_needed(f.reference, t.signed)
        return Finding('overflow-wrap', f'values reach {float(np.max(np.abs(f.reference))):.4g}; {t} holds '
                       f'{t.min:g} to {t.max:g} and wraps by {t.period:g}',
                       set_hint(f.name, 'Precision.result', _suggest(t, need)))
    return None


def accumulator(f: Facts) -> Finding | None:
    """Layers with an accumulator (pooling, dense, conv): errors are multiples of the
    accumulator's 2**I, divided by the number of terms for averages: the sum wraps."""
    acc = f.accum_type
    bad = _bad(f)
    if acc is None or acc.saturation != 'WRAP' or not bad.any():
        return None
    err = (f.reference - f.actual)[bad]
    terms = _terms(f)
    for n in sorted({terms, 1}):
        if _multiples(err * n, acc.period, max(f.tol * n, 4 * acc.lsb * n)):
            peak_sum = float(np.max(np.abs(f.reference))) * n
            need = integer_bits_needed(np.array([peak_sum]), acc.signed)
            return Finding('accumulator',
                           f'the sum{" of " + str(n) + " terms" if n > 1 else ""} reaches {peak_sum:.4g}; '
                           f'accum_t {acc} needs {need} integer bits, has {acc.integer}',
                           set_hint(f.name, 'Precision.accum', _suggest(acc, need)))
    return None


def _terms(f: Facts) -> int:
    a = f.hls
    if 'Pooling' in f.class_name and (a.pool_op or '').lower() in ('average', 'pool_op::average'):
        if 'Global' in f.class_name:
            if a.in_width is not None:
                return (a.in_height or 1) * (a.in_width or 1)
            return a.n_in or 1
        return (a.pool_height or 1) * (a.pool_width or 1)
    return 1


def saturation(f: Facts) -> Finding | None:
    """The C-sim sits at the result type's max or min where the reference goes beyond it."""
    t = f.result_type
    bad = _bad(f)
    if t is None or not bad.any():
        return None
    at_max = (np.abs(f.actual - t.max) <= t.lsb) & (f.reference > t.max)
    pinned = at_max | (np.abs(f.actual - t.min) <= t.lsb) & (f.reference < t.min)
    if pinned[bad].mean() > 0.9:
        need = integer_bits_needed(f.reference, t.signed)
        return Finding('saturation', f'values reach {float(np.max(np.abs(f.reference))):.4g}; {t} saturates at '
                       f'{t.min:g} / {t.max:g}', set_hint(f.name, 'Precision.result', _suggest(t, need)))
    return None


def kernel_defect(f: Facts) -> Finding | None:
    """Depthwise layers with a known hls4ml 1.3.0 defect: a BatchNormalization folded into
    them, a depth_multiplier above 1, or an auto_po2 depthwise quantizer."""
    if f.class_name not in DEPTHWISE_CLASSES:
        return None
    reasons = []
    if any(part.kind == 'BatchNormalization' for part in f.folded):
        reasons.append('a BatchNormalization folded into a depthwise layer (bn_fuse broadcasts the scale)')
    if f.framework.depth_multiplier > 1:
        reasons.append('depth_multiplier > 1')
    if 'auto_po2' in (f.framework.depthwise_alpha or ''):
        reasons.append("alpha='auto_po2' on the depthwise quantizer (scaled weights wrap)")
    if not reasons:
        return None
    folded = any(part.kind == 'BatchNormalization' for part in f.folded)
    return Finding('kernel-defect', 'known hls4ml 1.3.0 depthwise defect: ' + '; '.join(reasons),
                   'Run `hlsdiff patch <project>` (or `hlsdiff compare ... --patch`)'
                   + (f'; or {unfold_workaround(f.name)}' if folded and len(reasons) == 1 else ''))


def unfold_workaround(layer: str) -> str:
    """The configuration workaround of a BatchNormalization folded into a depthwise layer (what `fix` finds)."""
    return (f'set LayerName.{layer}.Precision.result to an explicit type: hls4ml 1.3.0 folds the BatchNormalization '
            'only into a layer whose result is auto, and computes it on its own then (`hlsdiff fix` finds the type)')


def weight_quantization(f: Facts) -> Finding | None:
    """Float weights stored in a type too coarse for them: the layer's weights (as hls4ml
    writes them) lose more than 1% of their peak to quantization."""
    loss = f.weight_loss
    if loss is None or loss.rel <= 0.01:
        return None
    t = parse_type(loss.type)
    peak = loss.peak
    integer = integer_bits_needed(np.array([peak]), t.signed if t else True)
    frac = int(math.ceil(-math.log2(1e-3 * peak)))
    better = FixedType(integer + frac, integer)
    return Finding('weights', f'{loss.variable} stored in {loss.type} lose up to {loss.max_abs:.3g} '
                   f'({loss.rel:.1%} of their peak {peak:.3g})',
                   f'{set_hint(f.name, f"Precision.{loss.variable}", better)}, or quantize the layer in QKeras')


def per_channel_weights(f: Facts, pattern_kind: str = '') -> Finding | None:
    """A per-channel scale or offset with the right shape everywhere else: weights or biases
    stored wrongly (a scale lost or applied twice)."""
    if pattern_kind in ('per-channel-scale', 'per-channel-offset'):
        what = 'bias' if pattern_kind == 'per-channel-offset' else 'weights'
        return Finding('weights', f'the wrong channels are a {pattern_kind.replace("per-channel-", "")} of the right '
                       f'values: the {what} of those channels differ from Keras',
                       f'Check the {what} of {f.name} in firmware/weights against the Keras layer')
    return None


def rounding(f: Facts) -> Finding | None:
    """Fallback for an error within a few times the resolution of the types involved."""
    t = f.result_type
    err = float(np.max(np.abs(f.actual - f.reference))) if f.actual.size else 0.0
    if t is not None and err <= 16 * t.lsb:
        return Finding('rounding', f'errors up to {err / t.lsb:.1f} LSB of {t}',
                       f'Add fractional bits to LayerName.{f.name}.Precision.result, or use AP_RND')
    return None


DETECTORS = (input_range, kernel_defect, table_range, accumulator, wrap, saturation, weight_quantization, rounding)


def classify(f: Facts, pattern_kind: str = '') -> Finding:
    for detect in DETECTORS[:-1]:
        found = detect(f)
        if found:
            return found
    found = per_channel_weights(f, pattern_kind) or rounding(f)
    return found or Finding('unknown', 'no fixed-point or known-defect explanation fits',
                            f'Inspect {f.name}: compare its weights and C++ kernel with the Keras layer')


