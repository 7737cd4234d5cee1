"""Transpose (nnet_transpose.h): hls4ml's channels-first <-> channels-last moves, values unchanged."""

from __future__ import annotations

import numpy as np

from hlsdiff.emulate import arith
from hlsdiff.emulate.arith import Fx
from hlsdiff.emulate.kernels.base import EmulatedCall, NotEmulated, register


def _ints(value) -> tuple[int, ...]:
    text = str(value).strip()
    if not (text.startswith('{') and text.endswith('}')):
        raise NotEmulated('transpose without its shape and permutation in parameters.h')
    return tuple(int(v) for v in text[1:-1].replace(' ', '').split(',') if v)


@register('transpose')
def transpose(k: EmulatedCall) -> Fx:
    """out[to index] = in[from index], the axes of `from_shape` moved by `perm`; then cast to the result type."""
    from_shape, perm = _ints(k.config.values.get('from_shape')), _ints(k.config.values.get('perm'))
    if sorted(perm) != list(range(len(from_shape))) or int(np.prod(from_shape)) != k.x.v.shape[1]:
        raise NotEmulated(f'transpose of {from_shape} by {perm} does not fit its input of {k.x.v.shape[1]} values')
    n = k.x.v.shape[0]
    moved = np.transpose(k.x.v.reshape(n, *from_shape), (0, *(p + 1 for p in perm)))
    return arith.cast(Fx(np.ascontiguousarray(moved).reshape(n, -1), k.x.f), k.result)
