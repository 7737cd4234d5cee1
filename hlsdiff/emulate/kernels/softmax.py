"""Softmax, latency and stable (nnet_activation.h): exp and 1/x tables addressed by the top bits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hlsdiff.emulate import arith
from hlsdiff.emulate.arith import Fx
from hlsdiff.emulate.kernels.base import EmulatedCall, NotEmulated, register, required_type
from hlsdiff.emulate.kernels.tables import expf, float_table
from hlsdiff.emulate.program import Config
from hlsdiff.fixedpoint import FixedType


def top_bits(x: Fx, t: FixedType, n: int) -> np.ndarray:
    """`x(x.width - 1, x.width - N)`: the top N bits of x's representation in type t, unsigned."""
    v = arith.cast(x, t).v if x.f != t.fractional else x.v
    if t.width < n:
        raise NotEmulated(f'a table of 2**{n} entries addressed by a {t.width}-bit type')
    span = 1 << t.width
    v = arith.widened_for(v, span)
    raw = np.where(v < 0, v + span, v)  # two's complement bits
    return ((raw >> (t.width - n)) & ((1 << n) - 1)).astype(np.int64)


def real_from_index(t: FixedType, n: int, size: int) -> np.ndarray:
    """softmax_real_val_from_idx: the value whose top N bits are i (the others 0), as float."""
    i = arith.widened_for(np.arange(size, dtype=np.int64), 1 << t.width)
    raw = i << (t.width - n)
    if t.signed:
        raw = np.where(raw >= (1 << (t.width - 1)), raw - (1 << t.width), raw)
    return (raw.astype(np.float64) * 2.0 ** -t.fractional).astype(np.float32)


@dataclass(frozen=True)
class Tables:
    """The softmax's two tables, as the kernel fills them in single precision, and how they are addressed."""

    impl: str
    exp: Fx
    inv: Fx
    addr_t: FixedType  # the type whose top bits address the exp table
    inv_inp_t: FixedType
    accum: FixedType
    n_exp: int
    n_inv: int
    inv_finite: bool  # False: the entry for 0 (1/0) is not a value ap_fixed defines


def tables(cfg: Config, data_t: FixedType) -> Tables:
    impl = str(cfg.values.get('implementation', 'stable'))
    if impl not in ('latency', 'stable'):
        raise NotEmulated(f'softmax implementation {impl}')
    if cfg.int('n_slice') != cfg.int('n_in'):
        raise NotEmulated('softmax over an axis other than the last of a flat input')
    exp_size, inv_size = cfg.int('exp_table_size', 0), cfg.int('inv_table_size', 0)
    if not exp_size or not inv_size:
        raise NotEmulated('softmax config without its table sizes')
    exp_t, inv_t = required_type(cfg, 'exp_table_t', 'softmax'), required_type(cfg, 'inv_table_t', 'softmax')
    inv_inp_t = required_type(cfg, 'inv_inp_t', 'softmax')
    scale = float(str(cfg.values.get('exp_scale', 1.0) or 1.0))
    n_exp, n_inv = int(np.ceil(np.log2(exp_size))), int(np.ceil(np.log2(inv_size)))
    addr_t = required_type(cfg, 'inp_norm_t', 'softmax stable') if impl == 'stable' else data_t
    xs = real_from_index(addr_t, n_exp, exp_size) * np.float32(scale)
    exp_table = float_table(expf(-xs if impl == 'stable' else xs), exp_t)
    with np.errstate(divide='ignore'):
        inv_vals = np.float32(1.0) / real_from_index(inv_inp_t, n_inv, inv_size)
    finite = bool(np.all(np.isfinite(inv_vals)))
    inv_vals = np.where(np.isfinite(inv_vals), inv_vals, 0.0)  # 1/0: ap_fixed from inf is undefined
    return Tables(impl, exp_table, float_table(inv_vals, inv_t), addr_t, inv_inp_t,
                  required_type(cfg, 'accum_t', 'softmax'), n_exp, n_inv, finite)


@register('softmax')
def softmax(k: EmulatedCall) -> Fx:
    """softmax latency/stable (nnet_activation.h): exp and 1/x tables addressed by the top bits."""
    x, result, data_t = k.x, k.result, k.data_t
    if data_t is None:
        raise NotEmulated('softmax input type unknown')
    t = tables(k.config, data_t)
    if t.impl == 'stable':
        x_max = Fx(x.v.max(axis=1, keepdims=True), x.f)
        idx = top_bits(arith.cast(arith.sub(x_max, x), t.addr_t), t.addr_t, t.n_exp)
    else:
        idx = top_bits(arith.cast(x, data_t), data_t, t.n_exp)
    exp_res = arith.cast(Fx(t.exp.v[idx], t.exp.f), t.accum)
    # the adder tree in accum_t: exact if accum wraps; saturation at every node otherwise
    exp_sum = arith.cast(tree_sum(exp_res, t.accum), t.inv_inp_t)
    inv_idx = top_bits(exp_sum, t.inv_inp_t, t.n_inv)
    if not t.inv_finite and np.any(inv_idx == 0):
        raise NotEmulated('the reciprocal table entry for 0 (1/0) was used')
    return arith.cast(arith.mul(exp_res, Fx(t.inv.v[inv_idx], t.inv.f)), result)


def tree_sum(x: Fx, t: FixedType) -> Fx:
    """nnet::reduce with Op_add<T>: a balanced tree (left half + right half), each node in T."""
    n = x.v.shape[1]
    if n == 1:
        return Fx(x.v[:, :1], x.f)
    if n == 2:
        return arith.cast(arith.add(x[:, :1], x[:, 1:2]), t)
    left = 1 << (int(np.ceil(np.log2(n))) - 1)
    return arith.cast(arith.add(tree_sum(x[:, :left], t), tree_sum(x[:, left:], t)), t)
