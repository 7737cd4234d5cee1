"""Conv1D/Conv2D (and pointwise) and depthwise convolutions: im2col windows, then the MAC."""

from __future__ import annotations

import numpy as np

from hlsdiff.emulate import arith
from hlsdiff.emulate.arith import Fx
from hlsdiff.emulate.kernels.base import (
    EmulatedCall,
    NotEmulated,
    accum_of,
    check_product,
    expect_size,
    load_weights,
    register,
)
from hlsdiff.emulate.kernels.mac import mac
from hlsdiff.emulate.program import Config
from hlsdiff.fixedpoint import FixedType


def geometry(cfg: Config, two_d: bool):
    g = {k: cfg.int(k, 0) for k in ('in_height', 'in_width', 'n_chan', 'n_filt', 'filt_height', 'filt_width',
                                    'stride_height', 'stride_width', 'out_height', 'out_width',
                                    'pad_top', 'pad_bottom', 'pad_left', 'pad_right')}
    if not two_d:
        g.update(in_height=1, filt_height=1, stride_height=1, out_height=1, pad_top=0, pad_bottom=0)
    for key in ('in_height', 'in_width', 'n_chan', 'filt_height', 'filt_width', 'stride_height', 'stride_width'):
        if not g[key]:
            raise NotEmulated(f'{cfg.name} has no {key}')
    if any(cfg.int(key, 1) not in (1, None) for key in ('dilation', 'dilation_height', 'dilation_width')):
        raise NotEmulated('dilated convolutions are not emulated')
    return g

def patches(x: Fx, g: dict) -> np.ndarray:
    """(N, OH, OW, FH, FW, C) windows of the zero-padded input."""
    n = x.v.shape[0]
    img = x.v.reshape(n, g['in_height'], g['in_width'], g['n_chan'])
    img = np.pad(img, ((0, 0), (g['pad_top'], g['pad_bottom']), (g['pad_left'], g['pad_right']), (0, 0)))
    oh, ow = g['out_height'], g['out_width']
    sh, sw = g['stride_height'], g['stride_width']
    fh, fw = g['filt_height'], g['filt_width']
    idx_h = (np.arange(oh) * sh)[:, None] + np.arange(fh)[None, :]
    idx_w = (np.arange(ow) * sw)[:, None] + np.arange(fw)[None, :]
    if idx_h.max() >= img.shape[1] or idx_w.max() >= img.shape[2]:
        raise NotEmulated('the output size does not fit the input, padding and stride')
    return img[:, idx_h[:, None, :, None], idx_w[None, :, None, :], :]

def _parts(k: EmulatedCall) -> tuple[dict, Fx, Fx, FixedType]:
    """(geometry, weights, biases, accumulator type) of a convolution call, as the project writes them."""
    program, call, cfg = k.program, k.call, k.config
    check_product(program, cfg)
    g = geometry(cfg, '2d' in call.function)
    mult = program.configs.get(cfg.types.get('mult_config', '')) or cfg
    accum = mult.type('accum_t') or accum_of(cfg)
    w = load_weights(program, call.args[2], cfg, 'weight_t')
    b = load_weights(program, call.args[3], cfg, 'bias_t')
    return g, w, b, accum


@register('conv_2d_cl', 'pointwise_conv_2d_cl', 'conv_1d_cl', 'pointwise_conv_1d_cl')
def conv(k: EmulatedCall) -> Fx:
    program, call, inputs, result, cfg = k.program, k.call, k.inputs, k.result, k.config
    g, w, b, accum = _parts(k)
    fh, fw, c, f = g['filt_height'], g['filt_width'], g['n_chan'], g['n_filt']
    w = expect_size(w, fh * fw * c * f, call.args[2], program)
    if cfg.values.get('strategy') in ('resource', 'resource_unrolled'):
        w = Fx(np.moveaxis(w.v.reshape(f, fh, fw, c), 0, -1), w.f)
    w = Fx(w.v.reshape(fh * fw * c, f), w.f)
    x = inputs[0]
    n = x.v.shape[0]
    pats = patches(x, g)
    rows = Fx(pats.reshape(n * g['out_height'] * g['out_width'], fh * fw * c), x.f)
    out = mac(rows, w, b, accum, result)
    return Fx(out.v.reshape(n, -1), out.f)

@register('depthwise_conv_2d_cl', 'depthwise_conv_1d_cl')
def depthwise(k: EmulatedCall) -> Fx:
    program, call, inputs, result, cfg = k.program, k.call, k.inputs, k.result, k.config
    g = geometry(cfg, '2d' in call.function)
    c = g['n_chan']
    if g['n_filt'] and g['n_filt'] != c:
        raise NotEmulated(f'depth multiplier {g["n_filt"] // c} (n_filt {g["n_filt"]}, n_chan {c})')
    if cfg.values.get('strategy') in ('resource', 'resource_unrolled') and cfg.values.get('io_type') == 'io_parallel':
        raise NotEmulated('Resource strategy depthwise in io_parallel (the stock kernel asserts)')
    g, w, b, accum = _parts(k)
    fh, fw = g['filt_height'], g['filt_width']
    w = expect_size(w, fh * fw * c, call.args[2], program)
    w = Fx(w.v.reshape(fh * fw, c), w.f)
    x = inputs[0]
    n = x.v.shape[0]
    pats = patches(x, g).reshape(-1, fh * fw, c)  # (rows, K, C)
    # one dot product of K terms per channel: the MAC with a (K, 1) weight column per channel
    cols = [mac(Fx(pats[:, :, ch], x.f), w[:, ch:ch + 1], b[ch:ch + 1], accum, result) for ch in range(c)]
    v = np.stack([col.v[:, 0] for col in cols], axis=1)
    if v.dtype == object and result.width <= arith.SAFE_BITS:
        v = v.astype(np.int64)
    return Fx(v.reshape(n, -1), cols[0].f)
