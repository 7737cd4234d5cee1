"""The multiply-accumulate every dense/conv/depthwise kernel computes, and Dense itself.

Every product `x * w` exact, cast to `accum_t`; `accum_t(bias)`; the sum in `accum_t`; the cast to the
result type (`nnet_dense_latency.h`, `nnet_depthwise_product.h`, `nnet_conv2d_latency.h`...). With a
wrapping accumulator the order of the sum does not change the bits; with a saturating one the
kernel's order is followed."""

from __future__ import annotations

import numpy as np

from hlsdiff.emulate import arith
from hlsdiff.emulate.arith import Fx
from hlsdiff.emulate.kernels.base import EmulatedCall, NotEmulated, accum_of, check_product, expect_size, load_weights, register
from hlsdiff.fixedpoint import FixedType


def mac(x: Fx, w: Fx, b: Fx | None, accum: FixedType, result: FixedType) -> Fx:
    """rows (R, K) x weights (K, M) + bias (M,): cast(acc) with acc in `accum`."""
    rows, k = x.v.shape
    m = w.v.shape[1]
    prod_f = x.f + w.f
    bias = arith.cast(b, accum).v if b is not None else np.zeros(m, dtype=np.int64)
    # int64 sums are exact modulo 2**64, a multiple of the accumulator's wrap period while it is 64 bits at most
    exact_products = accum.fractional >= prod_f and accum.saturation == 'WRAP' and accum.width <= 64
    wide = (x.v.dtype == object or w.v.dtype == object or accum.width > arith.SAFE_BITS
            or arith.bits(x.v) + arith.bits(w.v) + int(np.ceil(np.log2(k + 1))) > arith.SAFE_BITS)
    if exact_products and not wide:
        # every product fits the accumulator's resolution: shifted, summed modulo 2**64
        # (a multiple of the wrap period 2**W), then wrapped once
        acc = x.v @ w.v
        acc = np.left_shift(acc, accum.fractional - prod_f)
        acc = acc + bias
        return arith.cast(Fx(arith.overflow(acc, accum), accum.fractional), result)
    out = np.empty((rows, m), dtype=object if wide else np.int64)
    chunk = max(1, 4_000_000 // max(1, k * m))
    for lo in range(0, rows, chunk):
        xs = x.v[lo:lo + chunk]
        if accum.saturation == 'WRAP':
            p = arith.cast(arith.mul(Fx(xs[:, :, None], x.f), Fx(w.v[None], w.f)), accum).v
            acc = p.sum(axis=1) + bias
            out[lo:lo + chunk] = arith.overflow(acc, accum)
        else:  # saturating: one addition at a time, in the kernel's order
            acc = np.broadcast_to(bias, (xs.shape[0], m)).copy()
            for i in range(k):
                p = arith.cast(arith.mul(Fx(xs[:, i:i + 1], x.f), Fx(w.v[i:i + 1], w.f)), accum).v
                acc = arith.overflow(acc + p, accum)
            out[lo:lo + chunk] = acc
    return arith.cast(Fx(out, accum.fractional), result)

@register('dense')
def dense(k: EmulatedCall) -> Fx:
    program, call, inputs, result = k.program, k.call, k.inputs, k.result
    cfg = k.config
    check_product(program, cfg)
    n_in, n_out = cfg.int('n_in', 0), cfg.int('n_out', 0)
    if not n_in or not n_out:
        raise NotEmulated(f'{cfg.name} has no n_in/n_out')
    w = load_weights(program, call.args[2], cfg, 'weight_t')
    b = load_weights(program, call.args[3], cfg, 'bias_t')
    w = expect_size(w, n_in * n_out, call.args[2], program)
    if cfg.values.get('strategy') in ('resource', 'resource_unrolled'):
        w = Fx(w.v.reshape(n_out, n_in).T, w.f)
    else:
        w = Fx(w.v.reshape(n_in, n_out), w.f)
    x = inputs[0]
    return mac(x, w, b, accum_of(cfg), result)
