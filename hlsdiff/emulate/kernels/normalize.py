"""BatchNormalization (nnet_batchnorm.h)."""

from __future__ import annotations

import numpy as np

from hlsdiff.emulate import arith
from hlsdiff.emulate.arith import Fx
from hlsdiff.emulate.kernels.base import EmulatedCall, check_product, load_weights, register


@register('normalize', families=('Vivado', 'Quartus', 'Catapult'))  # their nnet_batchnorm.h: the same
def normalize(k: EmulatedCall) -> Fx:
    """BatchNormalization: `x * scale + bias` exact, cast to the result (nnet_batchnorm.h)."""
    program, call, inputs, result = k.program, k.call, k.inputs, k.result
    cfg = k.config
    check_product(program, cfg)
    s = load_weights(program, call.args[2], cfg, 'scale_t')
    b = load_weights(program, call.args[3], cfg, 'bias_t')
    x = inputs[0]
    n_in = x.v.shape[1]
    n_filt = cfg.int('n_filt', -1)
    idx = np.arange(n_in) if n_filt in (-1, None) or n_filt <= 0 else np.arange(n_in) % n_filt
    y = arith.add(arith.mul(x, Fx(s.v[idx][None], s.f)), Fx(b.v[idx][None], b.f))
    return arith.cast(y, result)
