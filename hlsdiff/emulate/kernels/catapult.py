"""Catapult's kernels (hls4ml 1.3.0's templates/catapult/firmware/nnet_utils) whose arithmetic was checked to be
Vivado's, on ac_fixed.

`dense` with the Latency strategy (`nnet_dense_latency.h`): every product cast to `accum_t`, added to
`accum_t(bias)`, the sum cast to the result type, the weights (n_in, n_out): Vivado's dense, line for line.
`relu` (`ac_math::ac_relu`, USE_AC_MATH): `(x > 0) ? x : 0` stored in the result type: Vivado's relu.
`conv_2d_cl` with the Latency strategy (`nnet_conv2d_latency.h`): each product `data * weight` stored in `accum_t`,
the weights (kh, kw, in, out), zeros in the padding, summed from `accum_t(bias)` in another order than Vivado's
im2col: the same bits while `accum_t` wraps. `pooling2d_cl` with `Max`: the largest of the window, cast to the
result type. Catapult's config structs do not say io_stream (its kernels are overloaded on `ac_channel`); its
io_stream line-buffer convolution and pooling compute the same bits on the tests' CNN
(tests/test_ac_backends_real.py).
Catapult's other kernels (its Resource dense and convolutions, average pooling, the ac_math piecewise-linear
activations and softmax) are not-emulated, named by the registry.
"""

from __future__ import annotations

from hlsdiff.emulate.arith import Fx
from hlsdiff.emulate.kernels.activations import relu
from hlsdiff.emulate.kernels.base import EmulatedCall, NotEmulated, accum_of, register
from hlsdiff.emulate.kernels.conv import conv
from hlsdiff.emulate.kernels.mac import dense
from hlsdiff.emulate.kernels.pooling import pooling

CATAPULT = 'Catapult'


@register('dense', families=(CATAPULT,))
def latency_dense(k: EmulatedCall) -> Fx:
    strategy = str(k.config.values.get('strategy', 'latency')).split('::')[-1]
    if strategy != 'latency':
        raise NotEmulated(f"{k.config.name}: Catapult's {strategy} dense (nnet_dense_resource.h) is not emulated")
    return dense(k)


@register('relu', families=(CATAPULT,))
def ac_relu(k: EmulatedCall) -> Fx:
    return relu(k.x, k.result)


@register('conv_2d_cl', families=(CATAPULT,))
def latency_conv(k: EmulatedCall) -> Fx:
    cfg = k.config
    strategy = str(cfg.values.get('strategy', 'latency')).split('::')[-1]
    if strategy != 'latency':
        raise NotEmulated(f"{cfg.name}: Catapult's {strategy} convolution is not emulated")
    mult = k.program.configs.get(cfg.types.get('mult_config', '')) or cfg
    if (mult.type('accum_t') or accum_of(cfg)).saturation != 'WRAP':
        raise NotEmulated(f"{cfg.name}: a saturating accum_t sums in the order of Catapult's loops, not emulated")
    return conv(k)


@register('pooling2d_cl', families=(CATAPULT,))
def max_pooling(k: EmulatedCall) -> Fx:
    if str(k.config.values.get('pool_op', 'Max')).split('::')[-1] != 'Max':
        raise NotEmulated("Catapult's average pooling is not emulated")
    return pooling(k)
