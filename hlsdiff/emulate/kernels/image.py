"""Zero padding and nearest-neighbour resizing (nnet_padding.h, nnet_image.h)."""

from __future__ import annotations

import numpy as np

from hlsdiff.emulate import arith
from hlsdiff.emulate.arith import Fx
from hlsdiff.emulate.kernels.base import EmulatedCall, NotEmulated, register


@register('zeropad2d_cl', 'zeropad1d_cl')
def zeropad(k: EmulatedCall) -> Fx:
    x, result, two_d = k.x, k.result, k.call.function == 'zeropad2d_cl'
    cfg = k.config
    g = {key: cfg.int(key, 0) for key in ('in_height', 'in_width', 'n_chan', 'pad_top', 'pad_bottom', 'pad_left', 'pad_right')}
    if not two_d:
        g.update(in_height=1, pad_top=0, pad_bottom=0)
    n = x.v.shape[0]
    y = arith.cast(x, result)
    img = y.v.reshape(n, g['in_height'], g['in_width'], g['n_chan'])
    img = np.pad(img, ((0, 0), (g['pad_top'], g['pad_bottom']), (g['pad_left'], g['pad_right']), (0, 0)))
    return Fx(img.reshape(n, -1), y.f)


@register('resize_nearest')
def resize_nearest(k: EmulatedCall) -> Fx:
    """UpSampling (nnet_image.h): source pixel (i * ratio) >> 16, ratio = (size << 16) / new + 1."""
    x, result = k.x, k.result
    cfg = k.config
    h, w, c = cfg.int('height', 1) or 1, cfg.int('width'), cfg.int('n_chan')
    nh, nw = cfg.int('new_height', 1) or 1, cfg.int('new_width')
    if not w or not c or not nw:
        raise NotEmulated('resize_nearest without its sizes')
    y_ratio = ((h << 16) // nh) + 1
    x_ratio = ((w << 16) // nw) + 1
    rows = (np.arange(nh) * y_ratio) >> 16
    cols = (np.arange(nw) * x_ratio) >> 16
    n = x.v.shape[0]
    img = x.v.reshape(n, h, w, c)[:, rows][:, :, cols]
    return arith.cast(Fx(img.reshape(n, -1), x.f), result)


STREAM_ONLY = ('clone_stream', 'repack_stream', 'broadcast_stream')
