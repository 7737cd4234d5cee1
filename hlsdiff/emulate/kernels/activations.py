"""ReLU, ReLU6/ReLU1, LeakyReLU, ThresholdedReLU, PReLU, linear and the io_stream copies (nnet_activation.h,
nnet_stream.h)."""

from __future__ import annotations

import numpy as np

from hlsdiff.emulate import arith
from hlsdiff.emulate.arith import Fx
from hlsdiff.emulate.kernels.base import STREAM_FUNCTIONS, EmulatedCall, NotEmulated, expect_size, load_weights, register
from hlsdiff.fixedpoint import FixedType

# Quartus's nnet_activation.h computes these the same way (compared bit for bit in tests/test_ac_backends_real.py)
BOTH = ('Vivado', 'Quartus')


def relu(x: Fx, result: FixedType) -> Fx:
    return arith.cast(Fx(np.where(x.v > 0, x.v, 0), x.f), result)


def relu_max(x: Fx, result: FixedType, top: int) -> Fx:
    cap = top << x.f if x.f >= 0 else top >> -x.f
    v = arith.widened_for(x.v, cap)
    return arith.cast(Fx(np.where(v < 0, 0, np.where(v > cap, cap, v)), x.f), result)


@register('relu', families=BOTH)
def relu_kernel(k: EmulatedCall) -> Fx:
    return relu(k.x, k.result)


@register('relu6', families=BOTH)
def relu6(k: EmulatedCall) -> Fx:
    return relu_max(k.x, k.result, 6)


@register('relu1', families=BOTH)
def relu1(k: EmulatedCall) -> Fx:
    return relu_max(k.x, k.result, 1)


@register('linear', *STREAM_FUNCTIONS, families=BOTH)
def copy(k: EmulatedCall) -> Fx:
    """linear, and the io_stream copies (clone, repack, broadcast): the input cast to the result type."""
    return arith.cast(k.x, k.result)


@register('leaky_relu', families=BOTH)
def leaky_relu(k: EmulatedCall) -> Fx:
    program, call, x, result = k.program, k.call, k.x, k.result
    alpha_text = call.args[1]
    param_t = program.fixed(call.type_args[1]) if len(call.type_args) > 3 else None
    try:
        alpha = float(alpha_text.rstrip('fF'))
    except ValueError:
        raise NotEmulated(f'leaky_relu alpha {alpha_text!r} is not a literal') from None
    if param_t is None:
        raise NotEmulated('leaky_relu without a fixed-point parameter type')
    a = arith.from_double(np.array([alpha]), param_t)
    neg = arith.mul(x, Fx(a.v.reshape(1, 1), a.f))
    pos_v, neg_v, f = arith.align(x, neg)
    return arith.cast(Fx(np.where(x.v > 0, pos_v, neg_v), f), result)


@register('thresholded_relu')
def thresholded_relu(k: EmulatedCall) -> Fx:
    """`res = data > theta ? data : 0`, theta a literal stored in the parameter type (Keras 3's ReLU with a
    threshold, and its plain ReLU, which hls4ml 1.3.0 converts to this kernel with theta 0)."""
    program, call, x, result = k.program, k.call, k.x, k.result
    param_t = program.fixed(call.type_args[1]) if len(call.type_args) > 3 else None
    try:
        theta = float(call.args[1].rstrip('fF'))
    except (IndexError, ValueError):
        raise NotEmulated(f'thresholded_relu theta {call.args[1:2]!r} is not a literal') from None
    if param_t is None:
        raise NotEmulated('thresholded_relu without a fixed-point parameter type')
    t = arith.from_double(np.array([theta]), param_t)
    xv, tv, f = arith.align(x, Fx(t.v.reshape(1, 1), t.f))
    return arith.cast(Fx(np.where(xv > tv, xv, 0), f), result)


@register('prelu')
def prelu(k: EmulatedCall) -> Fx:
    """`res[i] = data[i] > 0 ? data[i] : alpha[i] * data[i]`: one alpha per input element (Keras's PReLU `alpha`,
    written as the weights `a<index>` in the layer's `param_t`), read in the flat order of the data (io_stream:
    `alpha[i * res_T::size + j]`, the same order)."""
    program, call, x, result = k.program, k.call, k.x, k.result
    arrays = [a for a in call.args if a in program.weights]
    if len(arrays) != 1:
        raise NotEmulated('prelu without its alpha weights')
    n = x.v.shape[1]
    alpha = expect_size(load_weights(program, arrays[0], k.config, 'param_t'), n, arrays[0], program)
    neg = arith.mul(x, Fx(alpha.v.reshape(1, n), alpha.f))
    pos_v, neg_v, f = arith.align(x, neg)
    return arith.cast(Fx(np.where(x.v > 0, pos_v, neg_v), f), result)
