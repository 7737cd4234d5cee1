"""Lookup-table activations: sigmoid and tanh (nnet_activation.h), and the single-precision table helpers."""

from __future__ import annotations

import numpy as np

from hlsdiff.emulate import arith
from hlsdiff.emulate.arith import Fx
from hlsdiff.emulate.kernels.base import EmulatedCall, NotEmulated, register
from hlsdiff.fixedpoint import FixedType


def expf(x: np.ndarray) -> np.ndarray:
    """std::exp on floats: the correctly rounded single-precision result (as glibc's expf). Beyond float's range
    it is inf, as expf's is: numpy's overflow warning says what is expected here."""
    with np.errstate(over='ignore'):
        return np.exp(np.asarray(x, dtype=np.float32).astype(np.float64)).astype(np.float32)


def float_table(values: np.ndarray, t: FixedType) -> Fx:
    """`(table_t) float_value` for a table computed in single precision, as the kernel does."""
    return arith.from_double(np.asarray(values, dtype=np.float32).astype(np.float64), t)


@register('sigmoid', 'tanh')
def sigmoid_like(k: EmulatedCall) -> Fx:
    """sigmoid/tanh: a table over [-8, 8) (sigmoid) or [-4, 4) (tanh), indexed by int(x * N / range)."""
    x, result, fn = k.x, k.result, k.call.function
    cfg = k.config
    size = cfg.int('table_size')
    table_t = cfg.type('table_t')
    if not size or table_t is None:
        raise NotEmulated(f'{fn} without table_size/table_t')
    ii = np.arange(size, dtype=np.float32)
    if fn == 'sigmoid':
        in_val = np.float32(2 * 8.0) * (ii - np.float32(size / 2.0)) / np.float32(size)
        e = expf(-in_val)
        table = (1.0 / (np.float32(1.0) + e).astype(np.float64)).astype(np.float32)
        span = 16
    else:  # tanh over [-4, 4): std::tanh of the float in_val, in double
        in_val = np.float32(2 * 4.0) * (ii - np.float32(size / 2.0)) / np.float32(size)
        table = np.tanh(in_val.astype(np.float64))
        span = 8
    tab = arith.from_double(table, table_t) if fn == 'tanh' else float_table(table, table_t)
    # data_round = data * table_size / 16 (exact, then int(): toward zero); index = data_round + 8 * size / 16
    # the largest number below: |x.v| * size, shifted by |x.f|, or the divisor span << x.f
    bound = 1 << (arith.bits(x.v) + size.bit_length() + abs(x.f) + span.bit_length())
    scaled = arith.widened_for(x.v, bound) * size
    q = np.where(scaled >= 0, scaled // (span << x.f) if x.f >= 0 else scaled * (1 << -x.f) // span,
                 -((-scaled) // (span << x.f)) if x.f >= 0 else -((-scaled) * (1 << -x.f) // span))
    index = np.clip(q + (span // 2) * size // span, 0, size - 1).astype(np.int64)
    return arith.cast(Fx(tab.v[index], tab.f), result)
