"""hls4ml 1.3.0's kernels (Vivado/Vitis, io_parallel and io_stream), as integer numpy.

Each function takes the call, its program (types, config, weights) and the exact values of
its inputs, one row per sample in the kernel's own flat channels-last layout, and returns
the exact values the kernel writes. A kernel or setting not written here raises
`NotEmulated` with the reason: it is never guessed.

The multiply-accumulate kernels (dense, conv, depthwise, pointwise; latency and resource)
all compute: every product `x * w` exact, cast to `accum_t`; `accum_t(bias)`; the sum in
`accum_t`; the cast to the result type (`nnet_dense_latency.h`, `nnet_depthwise_product.h`,
`nnet_conv2d_latency.h`...). With a wrapping accumulator the order of the sum does not
change the bits; with a saturating one the kernel's order is followed.
"""

from __future__ import annotations

import numpy as np

from hlsdiff.emulate import arith
from hlsdiff.emulate.arith import Fx
from hlsdiff.emulate.program import Call, Config, Program
from hlsdiff.fixedpoint import FixedType


class NotEmulated(Exception):
    """This call cannot be emulated exactly; the message says why."""


def _t(program: Program, name: str, what: str) -> FixedType:
    t = program.fixed(name)
    if t is None:
        raise NotEmulated(f'{what} {program.resolve(name)} is not an ap_fixed/ap_int type')
    return t


def _cfg(program: Program, call: Call) -> Config:
    name = call.type_args[-1]
    cfg = program.configs.get(name)
    if cfg is None:
        raise NotEmulated(f'config struct {name} not found in parameters.h')
    return cfg


def _product(program: Program, cfg: Config) -> None:
    mult = program.configs.get(cfg.types.get('mult_config', '')) or cfg
    text = mult.text + cfg.text
    if 'using product' in text and 'product::mult<' not in text:
        kind = 'binary/ternary' if 'binary' in text or 'ternary' in text else 'special'
        raise NotEmulated(f'{kind} products (nnet::product other than mult) are not emulated')


def _weights(program: Program, array: str, cfg: Config, key: str) -> Fx:
    t = cfg.type(key)
    if t is None:
        elem = program.weights.get(array, ('', ''))[0]
        t = program.fixed(elem)
    if t is None:
        raise NotEmulated(f'{key} of {cfg.name} is not an ap_fixed type')
    values = program.load_weights(array)
    size = program.weight_size(array)
    if size is not None and values.size != size:
        raise NotEmulated(f'the weights file {program.weights[array][1]} holds {values.size} values where the '
                          f'layer loads {size}: the project was generated wrong (`hlsdiff patch` knows some cases)')
    return arith.from_double(values, t)


def _expect_size(w: Fx, size: int, array: str, program: Program) -> Fx:
    """The weights the kernel reads: its first `size` entries (a larger array's others are never read)."""
    if w.v.size < size:
        raise NotEmulated(f'the weights {program.weights[array][1]} hold {w.v.size} values where the kernel reads '
                          f'{size}: the project was generated wrong (`hlsdiff patch` repairs the known cases)')
    return Fx(w.v.reshape(-1)[:size], w.f)


def mac(x: Fx, w: Fx, b: Fx | None, accum: FixedType, result: FixedType) -> Fx:
    """rows (R, K) x weights (K, M) + bias (M,): cast(acc) with acc in `accum`."""
    rows, k = x.v.shape
    m = w.v.shape[1]
    prod_f = x.f + w.f
    bias = arith.cast(b, accum).v if b is not None else np.zeros(m, dtype=np.int64)
    exact_products = accum.fractional >= prod_f and accum.saturation == 'WRAP'
    wide = x.v.dtype == object or w.v.dtype == object or arith._bits(x.v) + arith._bits(w.v) + int(np.ceil(np.log2(k + 1))) > 62
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


def dense(program: Program, call: Call, inputs: list[Fx], result: FixedType) -> Fx:
    cfg = _cfg(program, call)
    _product(program, cfg)
    n_in, n_out = cfg.int('n_in'), cfg.int('n_out')
    w = _weights(program, call.args[2], cfg, 'weight_t')
    b = _weights(program, call.args[3], cfg, 'bias_t')
    w = _expect_size(w, n_in * n_out, call.args[2], program)
    if cfg.values.get('strategy') in ('resource', 'resource_unrolled'):
        w = Fx(w.v.reshape(n_out, n_in).T, w.f)
    else:
        w = Fx(w.v.reshape(n_in, n_out), w.f)
    x = inputs[0]
    return mac(x, w, b, _accum(cfg), result)


def _accum(cfg: Config) -> FixedType:
    t = cfg.type('accum_t')
    if t is None:
        raise NotEmulated(f'accum_t of {cfg.name} ({cfg.types.get("accum_t")}) is not an ap_fixed type')
    return t


def _geometry(cfg: Config, two_d: bool):
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


def _patches(x: Fx, g: dict) -> np.ndarray:
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


def conv(program: Program, call: Call, inputs: list[Fx], result: FixedType, two_d: bool) -> Fx:
    cfg = _cfg(program, call)
    _product(program, cfg)
    g = _geometry(cfg, two_d)
    mult = program.configs.get(cfg.types.get('mult_config', '')) or cfg
    accum = mult.type('accum_t') or _accum(cfg)
    w = _weights(program, call.args[2], cfg, 'weight_t')
    b = _weights(program, call.args[3], cfg, 'bias_t')
    fh, fw, c, f = g['filt_height'], g['filt_width'], g['n_chan'], g['n_filt']
    w = _expect_size(w, fh * fw * c * f, call.args[2], program)
    if cfg.values.get('strategy') in ('resource', 'resource_unrolled'):
        w = Fx(np.moveaxis(w.v.reshape(f, fh, fw, c), 0, -1), w.f)
    w = Fx(w.v.reshape(fh * fw * c, f), w.f)
    x = inputs[0]
    n = x.v.shape[0]
    pats = _patches(x, g)
    rows = Fx(pats.reshape(n * g['out_height'] * g['out_width'], fh * fw * c), x.f)
    out = mac(rows, w, b, accum, result)
    return Fx(out.v.reshape(n, -1), out.f)


def depthwise(program: Program, call: Call, inputs: list[Fx], result: FixedType, two_d: bool) -> Fx:
    cfg = _cfg(program, call)
    _product(program, cfg)
    g = _geometry(cfg, two_d)
    c = g['n_chan']
    if g['n_filt'] and g['n_filt'] != c:
        raise NotEmulated(f'depth multiplier {g["n_filt"] // c} (n_filt {g["n_filt"]}, n_chan {c})')
    if cfg.values.get('strategy') in ('resource', 'resource_unrolled') and cfg.values.get('io_type') == 'io_parallel':
        raise NotEmulated('Resource strategy depthwise in io_parallel (the stock kernel asserts)')
    mult = program.configs.get(cfg.types.get('mult_config', '')) or cfg
    accum = mult.type('accum_t') or _accum(cfg)
    w = _weights(program, call.args[2], cfg, 'weight_t')
    b = _weights(program, call.args[3], cfg, 'bias_t')
    fh, fw = g['filt_height'], g['filt_width']
    w = _expect_size(w, fh * fw * c, call.args[2], program)
    w = Fx(w.v.reshape(fh * fw, c), w.f)
    x = inputs[0]
    n = x.v.shape[0]
    pats = _patches(x, g).reshape(-1, fh * fw, c)  # (rows, K, C)
    # one dot product of K terms per channel: the MAC with a (K, 1) weight column per channel
    cols = [mac(Fx(pats[:, :, ch], x.f), w[:, ch:ch + 1], b[ch:ch + 1], accum, result) for ch in range(c)]
    v = np.stack([col.v[:, 0] for col in cols], axis=1)
    if v.dtype == object and result.width <= arith.SAFE_BITS:
        v = v.astype(np.int64)
    return Fx(v.reshape(n, -1), cols[0].f)


def normalize(program: Program, call: Call, inputs: list[Fx], result: FixedType) -> Fx:
    """BatchNormalization: `x * scale + bias` exact, cast to the result (nnet_batchnorm.h)."""
    cfg = _cfg(program, call)
    _product(program, cfg)
    s = _weights(program, call.args[2], cfg, 'scale_t')
    b = _weights(program, call.args[3], cfg, 'bias_t')
    x = inputs[0]
    n_in = x.v.shape[1]
    n_filt = cfg.int('n_filt', -1)
    idx = np.arange(n_in) if n_filt in (-1, None) or n_filt <= 0 else np.arange(n_in) % n_filt
    y = arith.add(arith.mul(x, Fx(s.v[idx][None], s.f)), Fx(b.v[idx][None], b.f))
    return arith.cast(y, result)


def relu(x: Fx, result: FixedType) -> Fx:
    return arith.cast(Fx(np.where(x.v > 0, x.v, 0), x.f), result)


def relu_max(x: Fx, result: FixedType, top: int) -> Fx:
    cap = top << x.f if x.f >= 0 else top >> -x.f
    return arith.cast(Fx(np.where(x.v < 0, 0, np.where(x.v > cap, cap, x.v)), x.f), result)


def leaky_relu(program: Program, call: Call, x: Fx, result: FixedType) -> Fx:
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


def _expf(x: np.ndarray) -> np.ndarray:
    """std::exp on floats: the correctly rounded single-precision result (as glibc's expf)."""
    return np.exp(np.asarray(x, dtype=np.float32).astype(np.float64)).astype(np.float32)


def _float_table(values: np.ndarray, t: FixedType) -> Fx:
    """`(table_t) float_value` for a table computed in single precision, as the kernel does."""
    return arith.from_double(np.asarray(values, dtype=np.float32).astype(np.float64), t)


def sigmoid_like(program: Program, call: Call, x: Fx, result: FixedType, fn: str) -> Fx:
    """sigmoid/tanh: a table over [-8, 8) (sigmoid) or [-4, 4) (tanh), indexed by int(x * N / range)."""
    cfg = _cfg(program, call)
    size = cfg.int('table_size')
    table_t = cfg.type('table_t')
    if not size or table_t is None:
        raise NotEmulated(f'{fn} without table_size/table_t')
    ii = np.arange(size, dtype=np.float32)
    if fn == 'sigmoid':
        in_val = np.float32(2 * 8.0) * (ii - np.float32(size / 2.0)) / np.float32(size)
        e = _expf(-in_val)
        table = (1.0 / (np.float32(1.0) + e).astype(np.float64)).astype(np.float32)
        span = 16
    else:  # tanh over [-4, 4): std::tanh of the float in_val, in double
        in_val = np.float32(2 * 4.0) * (ii - np.float32(size / 2.0)) / np.float32(size)
        table = np.tanh(in_val.astype(np.float64))
        span = 8
    tab = arith.from_double(table, table_t) if fn == 'tanh' else _float_table(table, table_t)
    # data_round = data * table_size / 16 (exact, then int(): toward zero); index = data_round + 8 * size / 16
    scaled = x.v * size
    q = np.where(scaled >= 0, scaled // (span << x.f) if x.f >= 0 else scaled * (1 << -x.f) // span,
                 -((-scaled) // (span << x.f)) if x.f >= 0 else -((-scaled) * (1 << -x.f) // span))
    index = np.clip(q + (span // 2) * size // span, 0, size - 1)
    return arith.cast(Fx(tab.v[index], tab.f), result)


def _top_bits(x: Fx, t: FixedType, n: int) -> np.ndarray:
    """`x(x.width - 1, x.width - N)`: the top N bits of x's representation in type t, unsigned."""
    v = arith.cast(x, t).v if x.f != t.fractional else x.v
    if t.width < n:
        raise NotEmulated(f'a table of 2**{n} entries addressed by a {t.width}-bit type')
    span = 1 << t.width
    raw = np.where(v < 0, v + span, v)  # two's complement bits
    return (raw >> (t.width - n)) & ((1 << n) - 1)


def _real_from_index(t: FixedType, n: int, size: int) -> np.ndarray:
    """softmax_real_val_from_idx: the value whose top N bits are i (the others 0), as float."""
    i = np.arange(size, dtype=np.int64)
    raw = i << (t.width - n)
    if t.signed:
        raw = np.where(raw >= (1 << (t.width - 1)), raw - (1 << t.width), raw)
    return (raw.astype(np.float64) * 2.0 ** -t.fractional).astype(np.float32)


def softmax(program: Program, call: Call, x: Fx, result: FixedType, data_t: FixedType) -> Fx:
    """softmax latency/stable (nnet_activation.h): exp and 1/x tables addressed by the top bits."""
    cfg = _cfg(program, call)
    impl = cfg.values.get('implementation', 'stable')
    if impl not in ('latency', 'stable'):
        raise NotEmulated(f'softmax implementation {impl}')
    n_slice, n_in = cfg.int('n_slice'), cfg.int('n_in')
    if n_slice != n_in:
        raise NotEmulated('softmax over an axis other than the last of a flat input')
    exp_size, inv_size = cfg.int('exp_table_size'), cfg.int('inv_table_size')
    exp_t, inv_t, accum = cfg.type('exp_table_t'), cfg.type('inv_table_t'), cfg.type('accum_t')
    inv_inp_t = cfg.type('inv_inp_t')
    scale = float(cfg.values.get('exp_scale', 1.0) or 1.0)
    if None in (exp_t, inv_t, accum, inv_inp_t) or not exp_size or not inv_size:
        raise NotEmulated('softmax config without its table types and sizes')
    n_exp = int(np.ceil(np.log2(exp_size)))
    n_inv = int(np.ceil(np.log2(inv_size)))
    if impl == 'stable':
        norm_t = cfg.type('inp_norm_t')
        if norm_t is None:
            raise NotEmulated('softmax stable without inp_norm_t')
        addr_t = norm_t
        negative = True
    else:
        addr_t, negative = data_t, False
    xs = _real_from_index(addr_t, n_exp, exp_size) * np.float32(scale)
    if negative:
        xs = -xs
    exp_table = _float_table(_expf(xs), exp_t)
    inv_x = _real_from_index(inv_inp_t, n_inv, inv_size)
    with np.errstate(divide='ignore'):
        inv_vals = np.float32(1.0) / inv_x
    if not np.all(np.isfinite(inv_vals)):
        inv_vals = np.where(np.isfinite(inv_vals), inv_vals, 0.0)  # 1/0: ap_fixed from inf is undefined
        finite = False
    else:
        finite = True
    inv_table = _float_table(inv_vals, inv_t)
    if impl == 'stable':
        x_max = Fx(x.v.max(axis=1, keepdims=True), x.f)
        d = arith.cast(arith.sub(x_max, x), addr_t)
        idx = _top_bits(d, addr_t, n_exp)
    else:
        idx = _top_bits(arith.cast(x, data_t), data_t, n_exp)
    exp_res = arith.cast(Fx(exp_table.v[idx], exp_table.f), accum)
    # the adder tree in accum_t: exact if accum wraps; saturation at every node otherwise
    total = _tree_sum(exp_res, accum)
    exp_sum = arith.cast(total, inv_inp_t)
    inv_idx = _top_bits(exp_sum, inv_inp_t, n_inv)
    if not finite and np.any(inv_idx == 0):
        raise NotEmulated('the reciprocal table entry for 0 (1/0) was used')
    inv = Fx(inv_table.v[inv_idx], inv_table.f)
    return arith.cast(arith.mul(exp_res, inv), result)


def _tree_sum(x: Fx, t: FixedType) -> Fx:
    """nnet::reduce with Op_add<T>: a balanced tree (left half + right half), each node in T."""
    n = x.v.shape[1]
    if n == 1:
        return Fx(x.v[:, :1], x.f)
    if n == 2:
        return arith.cast(arith.add(x[:, :1], x[:, 1:2]), t)
    left = 1 << (int(np.ceil(np.log2(n))) - 1)
    return arith.cast(arith.add(_tree_sum(x[:, :left], t), _tree_sum(x[:, left:], t)), t)


def _sum_in(values: list[Fx], accum: FixedType) -> Fx:
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


def pooling(program: Program, call: Call, x: Fx, result: FixedType, two_d: bool, stream: bool) -> Fx:
    cfg = _cfg(program, call)
    op = str(cfg.values.get('pool_op', 'Max'))
    accum = cfg.type('accum_t')
    if accum is None:
        raise NotEmulated(f'pooling accum_t {cfg.types.get("accum_t")} is not an ap_fixed type')
    g = {k: cfg.int(k, 0) for k in ('in_height', 'in_width', 'n_filt', 'pool_height', 'pool_width', 'stride_height',
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
        y = arith.cast(arith.div_int(_sum_in(windows, accum), size), accum)
    return arith.cast(Fx(y.v.reshape(n, -1), y.f), result)


def global_pooling(program: Program, call: Call, x: Fx, result: FixedType, two_d: bool) -> Fx:
    cfg = _cfg(program, call)
    op = str(cfg.values.get('pool_op', 'Max'))
    accum = cfg.type('accum_t')
    if accum is None:
        raise NotEmulated(f'pooling accum_t {cfg.types.get("accum_t")} is not an ap_fixed type')
    c = cfg.int('n_filt')
    n = x.v.shape[0]
    pix = x.v.reshape(n, -1, c)
    if op == 'Max':
        y = arith.cast(Fx(pix.max(axis=1), x.f), accum)
    else:
        total = _sum_in([Fx(pix[:, i], x.f) for i in range(pix.shape[1])], accum)
        y = arith.div_int(total, pix.shape[1])
    return arith.cast(y, result)


def merge(fn: str, a: Fx, b: Fx, result: FixedType) -> Fx:
    if fn == 'add':
        return arith.cast(arith.add(a, b), result)
    if fn == 'subtract':
        return arith.cast(arith.sub(a, b), result)
    if fn == 'multiply':
        return arith.cast(arith.mul(a, b), result)
    if fn == 'average':  # (a + b) * ap_ufixed<1,0>(0.5): exact, one bit finer
        s = arith.add(a, b)
        return arith.cast(Fx(s.v, s.f + 1), result)
    if fn == 'maximum':
        return arith.cast(arith.maximum(a, b), result)
    if fn == 'minimum':
        return arith.cast(arith.minimum(a, b), result)
    raise NotEmulated(f'merge {fn}')


def concatenate(program: Program, call: Call, a: Fx, b: Fx, result: FixedType) -> Fx:
    cfg = _cfg(program, call)
    axis = cfg.int('axis', -1)
    dims = 1 if call.function.startswith('concatenate1d') else 2 if call.function.startswith('concatenate2d') else 3
    n = a.v.shape[0]
    a, b = arith.cast(a, result), arith.cast(b, result)
    if dims == 1:
        return Fx(np.concatenate([a.v, b.v], axis=1), result.fractional)
    if axis in (-1, dims):  # the channel axis: per position, a's channels then b's
        c1 = cfg.int(f'n_elem1_{dims - 1}')
        c2 = cfg.int(f'n_elem2_{dims - 1}')
        if not c1 or not c2:
            raise NotEmulated('concatenate without its element counts')
        va = a.v.reshape(n, -1, c1)
        vb = b.v.reshape(n, -1, c2)
        return Fx(np.concatenate([va, vb], axis=2).reshape(n, -1), result.fractional)
    raise NotEmulated(f'concatenate{dims}d along axis {axis}')


def zeropad(program: Program, call: Call, x: Fx, result: FixedType, two_d: bool) -> Fx:
    cfg = _cfg(program, call)
    g = {k: cfg.int(k, 0) for k in ('in_height', 'in_width', 'n_chan', 'pad_top', 'pad_bottom', 'pad_left', 'pad_right')}
    if not two_d:
        g.update(in_height=1, pad_top=0, pad_bottom=0)
    n = x.v.shape[0]
    y = arith.cast(x, result)
    img = y.v.reshape(n, g['in_height'], g['in_width'], g['n_chan'])
    img = np.pad(img, ((0, 0), (g['pad_top'], g['pad_bottom']), (g['pad_left'], g['pad_right']), (0, 0)))
    return Fx(img.reshape(n, -1), y.f)


def resize_nearest(program: Program, call: Call, x: Fx, result: FixedType) -> Fx:
    """UpSampling (nnet_image.h): source pixel (i * ratio) >> 16, ratio = (size << 16) / new + 1."""
    cfg = _cfg(program, call)
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


def run(program: Program, call: Call, inputs: list[Fx], result: FixedType, data_t: FixedType | None) -> Fx:
    """The values `call` writes, given the exact values of its inputs."""
    fn = call.function
    stream = str((program.configs.get(call.type_args[-1]) or Config('')).values.get('io_type', '')) == 'io_stream' \
        or 'stream' in fn
    x = inputs[0]
    if fn == 'dense':
        return dense(program, call, inputs, result)
    if fn in ('conv_2d_cl', 'pointwise_conv_2d_cl'):
        return conv(program, call, inputs, result, two_d=True)
    if fn in ('conv_1d_cl', 'pointwise_conv_1d_cl'):
        return conv(program, call, inputs, result, two_d=False)
    if fn == 'depthwise_conv_2d_cl':
        return depthwise(program, call, inputs, result, two_d=True)
    if fn == 'depthwise_conv_1d_cl':
        return depthwise(program, call, inputs, result, two_d=False)
    if fn == 'normalize':
        return normalize(program, call, inputs, result)
    if fn == 'linear':
        return arith.cast(x, result)
    if fn == 'relu':
        return relu(x, result)
    if fn == 'relu6':
        return relu_max(x, result, 6)
    if fn == 'relu1':
        return relu_max(x, result, 1)
    if fn == 'leaky_relu':
        return leaky_relu(program, call, x, result)
    if fn == 'sigmoid':
        return sigmoid_like(program, call, x, result, 'sigmoid')
    if fn == 'tanh':
        return sigmoid_like(program, call, x, result, 'tanh')
    if fn == 'resize_nearest':
        return resize_nearest(program, call, x, result)
    if fn == 'softmax':
        if data_t is None:
            raise NotEmulated('softmax input type unknown')
        return softmax(program, call, x, result, data_t)
    if fn in ('pooling2d_cl', 'pooling1d_cl'):
        return pooling(program, call, x, result, two_d=fn == 'pooling2d_cl', stream=stream)
    if fn in ('global_pooling2d_cl', 'global_pooling1d_cl'):
        return global_pooling(program, call, x, result, two_d=fn == 'global_pooling2d_cl')
    if fn in ('add', 'subtract', 'multiply', 'average', 'maximum', 'minimum'):
        return merge(fn, inputs[0], inputs[1], result)
    if fn.startswith('concatenate'):
        return concatenate(program, call, inputs[0], inputs[1], result)
    if fn in ('zeropad2d_cl', 'zeropad1d_cl'):
        return zeropad(program, call, x, result, two_d=fn == 'zeropad2d_cl')
    if fn in STREAM_ONLY:
        return arith.cast(x, result)
    raise NotEmulated(f'nnet::{fn} is not emulated yet')
