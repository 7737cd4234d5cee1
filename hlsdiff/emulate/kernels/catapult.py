"""Catapult's kernels (hls4ml 1.3.0's templates/catapult/firmware/nnet_utils) whose arithmetic was checked to be
Vivado's, on ac_fixed.

`dense` with the Latency strategy (`nnet_dense_latency.h`): every product cast to `accum_t`, added to
`accum_t(bias)`, the sum cast to the result type, the weights (n_in, n_out): Vivado's dense, line for line.
`relu` (`ac_math::ac_relu`, USE_AC_MATH): `(x > 0) ? x : 0` stored in the result type: Vivado's relu.
Catapult's other kernels (its Resource dense, convolutions, pooling, the ac_math piecewise-linear activations and
softmax) are not-emulated, named by the registry.
"""

from __future__ import annotations

from hlsdiff.emulate.arith import Fx
from hlsdiff.emulate.kernels.activations import relu
from hlsdiff.emulate.kernels.base import EmulatedCall, NotEmulated, register
from hlsdiff.emulate.kernels.mac import dense

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
