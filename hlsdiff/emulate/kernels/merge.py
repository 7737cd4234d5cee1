"""Merge layers (add, subtract, multiply, average, maximum, minimum) and Concatenate (nnet_merge.h)."""

from __future__ import annotations

import numpy as np

from hlsdiff.emulate import arith
from hlsdiff.emulate.arith import Fx
from hlsdiff.emulate.kernels.base import EmulatedCall, NotEmulated, register


@register('add', 'subtract', 'multiply', 'average', 'maximum', 'minimum')
def merge(k: EmulatedCall) -> Fx:
    fn, a, b, result = k.call.function, k.inputs[0], k.inputs[1], k.result
    if fn == 'add':
        return arith.cast(arith.add(a, b), result)
    if fn == 'subtract':
        return arith.cast(arith.sub(a, b), result)
    if fn == 'multiply':
        return arith.cast(arith.mul(a, b), result)
    if fn == 'average':  # (a + b) * ap_ufixed<1,0>(0.5): exact, one bit finer
        s = arith.add(a, b)
        return arith.cast(Fx(s.v, s.f + 1), result)
    if fn == 'maximum':
        return arith.cast(arith.maximum(a, b), result)
    if fn == 'minimum':
        return arith.cast(arith.minimum(a, b), result)
    raise NotEmulated(f'merge {fn}')


@register('concatenate', prefix=True)
def concatenate(k: EmulatedCall) -> Fx:
    call, a, b, result = k.call, k.inputs[0], k.inputs[1], k.result
    cfg = k.config
    axis = cfg.int('axis', -1)
    dims = 1 if call.function.startswith('concatenate1d') else 2 if call.function.startswith('concatenate2d') else 3
    n = a.v.shape[0]
    a, b = arith.cast(a, result), arith.cast(b, result)
    if dims == 1:
        return Fx(np.concatenate([a.v, b.v], axis=1), result.fractional)
    if axis in (-1, dims):  # the channel axis: per position, a's channels then b's
        c1 = cfg.int(f'n_elem1_{dims - 1}')
        c2 = cfg.int(f'n_elem2_{dims - 1}')
        if not c1 or not c2:
            raise NotEmulated('concatenate without its element counts')
        va = a.v.reshape(n, -1, c1)
        vb = b.v.reshape(n, -1, c2)
        return Fx(np.concatenate([va, vb], axis=2).reshape(n, -1), result.fractional)
    raise NotEmulated(f'concatenate{dims}d along axis {axis}')
