"""Quartus's own kernels (hls4ml 1.3.0's templates/quartus/firmware/nnet_utils), where their arithmetic differs
from Vivado's in more than names.

`dense_resource` (`nnet_dense.h`, io_parallel and io_stream): every product `x * w` cast to `accum_t`, added to
`accum_t(bias)` in `accum_t`, the sum cast to the result type, as Vivado's dense; the weights are laid out for
the reuse factor (hls4ml's Quartus backend transposes and interleaves them), so which weight meets which input
and which output is read from the kernel's own loops (`dense_rf_lt`), computed here on indices.

`conv_2d_cl` (`nnet_conv2d_resource.h`, `nnet_conv2d_stream.h`): each output pixel is `dense_resource` of its
window (rows, columns, channels; zeros in the padding) with the config's `mult_config`; io_parallel's
Winograd form and io_stream's strided or padded windows are not emulated.

`pooling2d_cl` / `pooling1d_cl` with `Max`: the largest input of the window, cast to the result type, as
Vivado's. Quartus's `Average` sums in a wider type of its own (`avg` in `nnet_pooling.h`): not emulated.
"""

from __future__ import annotations

import re

import numpy as np

from hlsdiff.emulate.arith import Fx
from hlsdiff.emulate.kernels.base import EmulatedCall, NotEmulated, accum_of, check_product, expect_size, load_weights, register
from hlsdiff.emulate.kernels.conv import geometry, patches
from hlsdiff.emulate.kernels.mac import mac
from hlsdiff.emulate.kernels.pooling import pooling
from hlsdiff.emulate.program import Config, Program

QUARTUS = 'Quartus'


def rf_lt_layout(cfg: Config) -> np.ndarray:
    """The (n_in, n_out) index into the weights array each product of `dense_rf_lt` reads, following its loops;
    NotEmulated where the loops skip a product, reach past n_out or pair an input and an output twice."""
    n_in, n_out, rf = cfg.int('n_in', 0), cfg.int('n_out', 0), cfg.int('reuse_factor', 1)
    if not (n_in and n_out and rf) or rf > n_in:
        raise NotEmulated(f'{cfg.name}: a reuse factor above n_in (dense_rf_gt) is not emulated')
    # parameters.h's expressions (DIV_ROUNDUP, MIN), as the struct computes them
    rf_rounded = rf + cfg.int('rf_pad', 0)
    block = -(-n_in * n_out // rf)
    scale = -(-n_in * n_out // min(n_in, rf)) // n_out
    layout = np.full((n_in, n_out), -1, dtype=np.int64)
    for ir in range(rf):
        in_index = ir
        for im in range(block):
            out_index = im // scale
            if ir + rf * im >= n_in * n_out or out_index >= n_out or layout[in_index, out_index] >= 0:
                raise NotEmulated(f'{cfg.name}: dense_rf_lt reads its weights in an order not emulated '
                                  f'(reuse factor {rf} of n_in {n_in})')
            layout[in_index, out_index] = ir + rf_rounded * im
            in_index += rf
            if in_index >= n_in:
                in_index = ir
    if (layout < 0).any():
        raise NotEmulated(f'{cfg.name}: dense_rf_lt leaves a product out (reuse factor {rf} of n_in {n_in})')
    return layout


def resource_mac(program: Program, cfg: Config, rows: Fx, arrays: list[str], result) -> Fx:
    """`dense_resource` of config `cfg` on each row: the weights and biases named `arrays`."""
    check_product(program, cfg)
    accum = accum_of(cfg)
    if accum.saturation != 'WRAP':
        raise NotEmulated(f'{cfg.name}: a saturating accum_t sums in the order of dense_rf_lt, not emulated')
    layout = rf_lt_layout(cfg)
    w = load_weights(program, arrays[0], cfg, 'weight_t')
    w = expect_size(w, int(layout.max()) + 1, arrays[0], program)
    b = load_weights(program, arrays[1], cfg, 'bias_t')
    return mac(rows, Fx(w.v[layout], w.f), b, accum, result)


@register('dense_resource', families=(QUARTUS,))
def dense_resource(k: EmulatedCall) -> Fx:
    return resource_mac(k.program, k.config, k.x, k.call.args[2:4], k.result)


def winograd(cfg: Config, g: dict) -> bool:
    """conv_2d_resource_cl's choice of its Winograd kernel (a 3x3 filter; chosen, or `combination` where it
    applies)."""
    chosen = re.search(r'conv2d_implementation::(\w+)', cfg.text)
    how = chosen.group(1) if chosen else 'combination'
    applies = g['stride_height'] == 1 and g['stride_width'] == 1 and g['out_height'] > 2 and g['out_width'] > 2
    return g['filt_height'] == 3 and g['filt_width'] == 3 and ((how == 'combination' and applies) or how == 'winograd')


@register('conv_2d_cl', families=(QUARTUS,))
def conv_2d(k: EmulatedCall) -> Fx:
    program, call, cfg = k.program, k.call, k.config
    mult = program.configs.get(cfg.types.get('mult_config', ''))
    if mult is None:
        raise NotEmulated(f'{cfg.name} names no mult_config')
    g = geometry(cfg, True)
    if not k.stream and winograd(cfg, g):
        raise NotEmulated(f"{cfg.name}: Quartus's Winograd 3x3 convolution is not emulated")
    padded = any(g[key] for key in ('pad_top', 'pad_bottom', 'pad_left', 'pad_right'))
    if k.stream and (padded or g['stride_height'] != 1 or g['stride_width'] != 1):
        raise NotEmulated(f"{cfg.name}: Quartus's io_stream windows with padding or strides are not emulated")
    n = k.x.v.shape[0]
    rows = Fx(patches(k.x, g).reshape(n * g['out_height'] * g['out_width'], -1), k.x.f)
    out = resource_mac(program, mult, rows, call.args[2:4], k.result)
    return Fx(out.v.reshape(n, -1), out.f)


@register('pooling2d_cl', 'pooling1d_cl', families=(QUARTUS,))
def max_pooling(k: EmulatedCall) -> Fx:
    if str(k.config.values.get('pool_op', 'Max')).split('::')[-1] != 'Max':
        raise NotEmulated("Quartus's average pooling sums in a wider type of its own (avg in nnet_pooling.h): not "
                          'emulated')
    return pooling(k)
