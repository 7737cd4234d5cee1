"""Pooling and global pooling, 1D and 2D, max and average (nnet_pooling.h, nnet_pooling_stream.h)."""

from __future__ import annotations

import numpy as np

from hlsdiff.emulate import arith
from hlsdiff.emulate.arith import Fx
from hlsdiff.emulate.kernels.base import EmulatedCall, NotEmulated, register
from hlsdiff.fixedpoint import FixedType


def sum_in(values: list[Fx], accum: FixedType) -> Fx:
    """y = 0; y += x_i for each i, every step in `accum` (the pooling kernels' loop)."""
    terms = [arith.cast(v, accum) for v in values]
    if accum.saturation == 'WRAP':
        total = terms[0].v.copy()
        for t in terms[1:]:
            total = total + t.v
        return Fx(arith.overflow(total, accum), accum.fractional)
    y = Fx(np.zeros_like(terms[0].v), accum.fractional)
    for t in terms:
        y = arith.cast(arith.add(y, t), accum)
    return y


@register('pooling2d_cl', 'pooling1d_cl')
def pooling(k: EmulatedCall) -> Fx:
    x, result, two_d, stream = k.x, k.result, k.call.function == 'pooling2d_cl', k.stream
    cfg = k.config
    op = str(cfg.values.get('pool_op', 'Max'))
    accum = cfg.type('accum_t')
    if accum is None:
        raise NotEmulated(f'pooling accum_t {cfg.types.get("accum_t")} is not an ap_fixed type')
    g = {key: cfg.int(key, 0) for key in ('in_height', 'in_width', 'n_filt', 'pool_height', 'pool_width', 'stride_height',
                                    'stride_width', 'out_height', 'out_width', 'pad_top', 'pad_bottom', 'pad_left', 'pad_right')}
    if not two_d:
        g.update(in_height=1, pool_height=1, stride_height=1, out_height=1, pad_top=0, pad_bottom=0,
                 in_width=cfg.int('n_in', 0), out_width=cfg.int('n_out', 0))
    if any(g[k] for k in ('pad_top', 'pad_bottom', 'pad_left', 'pad_right')):
        raise NotEmulated('pooling with padding is not emulated')
    n = x.v.shape[0]
    img = x.v.reshape(n, g['in_height'], g['in_width'], g['n_filt'])
    oh, ow = g['out_height'], g['out_width']
    windows = []
    for kh in range(g['pool_height']):
        for kw in range(g['pool_width']):
            rows = np.arange(oh) * g['stride_height'] + kh
            cols = np.arange(ow) * g['stride_width'] + kw
            windows.append(Fx(img[:, rows][:, :, cols], x.f))
    size = len(windows)
    if op == 'Max':
        if stream:  # values cast to accum_t, then the max (exact)
            windows = [arith.cast(w, accum) for w in windows]
        best = windows[0]
        for w in windows[1:]:
            best = arith.maximum(best, w)
        y = arith.cast(best, accum)
    else:
        y = arith.cast(arith.div_int(sum_in(windows, accum), size), accum)
    return arith.cast(Fx(y.v.reshape(n, -1), y.f), result)


@register('global_pooling2d_cl', 'global_pooling1d_cl')
def global_pooling(k: EmulatedCall) -> Fx:
    x, result = k.x, k.result
    cfg = k.config
    op = str(cfg.values.get('pool_op', 'Max'))
    accum = cfg.type('accum_t')
    if accum is None:
        raise NotEmulated(f'pooling accum_t {cfg.types.get("accum_t")} is not an ap_fixed type')
    c = cfg.int('n_filt', 0)
    if not c:
        raise NotEmulated(f'{cfg.name} has no n_filt')
    n = x.v.shape[0]
    pix = x.v.reshape(n, -1, c)
    if op == 'Max':
        y = arith.cast(Fx(pix.max(axis=1), x.f), accum)
    else:
        total = sum_in([Fx(pix[:, i], x.f) for i in range(pix.shape[1])], accum)
        y = arith.div_int(total, pix.shape[1])
    return arith.cast(y, result)
