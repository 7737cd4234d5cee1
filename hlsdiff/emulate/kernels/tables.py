"""Lookup-table activations (nnet_activation.h, nnet_activation_stream.h): sigmoid, tanh, softplus and softsign (a
table over a symmetric range), ELU and SELU (a table of the negative half), and the single-precision table helpers.

Every table is filled as the kernel fills it: the float `in_val` of each entry, the function in float/double as the
C++ writes it (`std::exp` of a float is libm's `expf`, called here too where the platform's libm is found: glibc's
expf is not always the correctly rounded float), and the float assigned to `table_t`. The index is
`int(data * CONFIG_T::table_size / divisor)`: the exact product, ap_fixed's division (toward zero) and its
conversion to int (toward zero, then the low 32 bits), offset and clamped as each kernel does."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import math

import numpy as np

from hlsdiff.emulate import arith
from hlsdiff.emulate.arith import Fx
from hlsdiff.emulate.kernels.base import EmulatedCall, NotEmulated, register
from hlsdiff.fixedpoint import FixedType


@functools.lru_cache(maxsize=1)
def _libm_expf():
    """The platform libm's `expf` (the one the C-simulation links), or None."""
    try:
        name = ctypes.util.find_library('m')
        f = ctypes.CDLL(name).expf if name else None
    except (OSError, AttributeError):
        return None
    if f is not None:
        f.restype, f.argtypes = ctypes.c_float, [ctypes.c_float]
    return f


@functools.lru_cache(maxsize=64)
def _expf_of(data: bytes) -> np.ndarray:
    x = np.frombuffer(data, dtype=np.float32)
    f = _libm_expf()
    if f is None:  # the correctly rounded float: what glibc's expf returns but for rare cases
        with np.errstate(over='ignore'):
            out = np.exp(x.astype(np.float64)).astype(np.float32)
    else:
        out = np.array([f(float(v)) for v in x.tolist()], dtype=np.float32)
    out.flags.writeable = False
    return out


def expf(x: np.ndarray) -> np.ndarray:
    """std::exp on floats: libm's expf (glibc's is within 0.502 ULP, not always correctly rounded: e.g.
    expf(-1.392f) is 0.24857767, the correctly rounded float 0.24857765), else the correctly rounded float. Beyond
    float's range it is inf, as expf's is."""
    x32 = np.ascontiguousarray(x, dtype=np.float32)
    return _expf_of(x32.tobytes()).reshape(x32.shape).copy()


def log(x: np.ndarray) -> np.ndarray:
    """std::log on doubles: libm's log (Python's math.log calls it)."""
    flat = np.asarray(x, dtype=np.float64).reshape(-1)
    return np.array([math.log(v) for v in flat.tolist()], dtype=np.float64).reshape(np.shape(x))


def float_table(values: np.ndarray, t: FixedType) -> Fx:
    """`(table_t) float_value` for a table computed in single precision, as the kernel does."""
    return arith.from_double(np.asarray(values, dtype=np.float32).astype(np.float64), t)


def wrap_int(v: np.ndarray) -> np.ndarray:
    """A value assigned to a C++ `int`: its low 32 bits, signed."""
    return (v + (1 << 31)) % (1 << 32) - (1 << 31)


def scaled_index(x: Fx, size: int, divisor: int) -> np.ndarray:
    """`int(data * CONFIG_T::table_size / divisor)`: the product is exact; ap_fixed's division by an int keeps the
    dividend's fractional bits, truncating toward zero (sdiv), and the conversion to int truncates toward zero:
    together the exact quotient truncated toward zero, then wrapped to 32 bits."""
    d = abs(divisor)
    bound = 1 << (arith.bits(x.v) + size.bit_length() + abs(x.f) + d.bit_length())
    num = arith.widened_for(x.v, bound) * size
    if x.f >= 0:
        den = d << x.f
    else:
        num, den = num * (1 << -x.f), d
    q = np.where(num >= 0, num // den, -((-num) // den))
    if divisor < 0:
        q = -q
    return wrap_int(q)


def clamp_index(index: np.ndarray, size: int, negative_to_last: bool = False) -> np.ndarray:
    """`if (index < 0) index = 0; if (index > table_size - 1) index = table_size - 1;`. Without the first test
    (ELU, SELU in io_stream) a negative int compared with the unsigned `table_size - 1` is the larger: the last."""
    index = np.where(index < 0, size - 1 if negative_to_last else 0, index)
    return np.where(index > size - 1, size - 1, index).astype(np.int64)


def table_config(k: EmulatedCall) -> tuple[int, FixedType]:
    cfg = k.config
    size = cfg.int('table_size')
    table_t = cfg.type('table_t')
    if not size or table_t is None:
        raise NotEmulated(f'{k.call.function} without table_size/table_t')
    return size, table_t


def symmetric_in_val(size: int, half_range: float) -> np.ndarray:
    """`float in_val = 2 * R * (ii - float(N) / 2.0) / float(N)` (in double, then the float)."""
    ii = np.arange(size, dtype=np.float64)
    return (2 * half_range * (ii - np.float64(np.float32(size)) / 2.0) / np.float64(np.float32(size))).astype(np.float32)


def negative_in_val(size: int) -> np.ndarray:
    """`float in_val = -8.0 * ii / float(N)` (ELU, SELU: the range -8 to 0)."""
    ii = np.arange(size, dtype=np.float64)
    return (-8.0 * ii / np.float64(np.float32(size))).astype(np.float32)


def symmetric_lookup(x: Fx, table: Fx, size: int, span: int) -> Fx:
    """`data_round = data * N / span; index = data_round + (span / 2) * N / span`, clamped to [0, N - 1]."""
    offset = (span // 2) * size // span  # unsigned arithmetic: exact for any table size hls4ml writes
    index = clamp_index(wrap_int(scaled_index(x, size, span) + offset), size)
    return Fx(table.v[index], table.f)


@register('sigmoid', 'tanh')
def sigmoid_like(k: EmulatedCall) -> Fx:
    """sigmoid/tanh: a table over [-8, 8) (sigmoid) or [-4, 4) (tanh), indexed by int(x * N / range)."""
    x, result, fn = k.x, k.result, k.call.function
    size, table_t = table_config(k)
    if fn == 'sigmoid':
        in_val = symmetric_in_val(size, 8.0)
        e = expf(-in_val)
        table = (1.0 / (np.float32(1.0) + e).astype(np.float64)).astype(np.float32)
        span = 16
    else:  # tanh over [-4, 4): std::tanh of the float in_val, in double
        in_val = symmetric_in_val(size, 4.0)
        table = np.tanh(in_val.astype(np.float64))
        span = 8
    tab = arith.from_double(table, table_t) if fn == 'tanh' else float_table(table, table_t)
    return arith.cast(symmetric_lookup(x, tab, size, span), result)


@register('softplus', 'softsign')
def softplus_softsign(k: EmulatedCall) -> Fx:
    """softplus `log(exp(x) + 1.)` and softsign `x / (abs(x) + 1.)`: the float in_val, the function in double
    (`std::exp`/`std::abs` of the float are floats; `+ 1.` is double), its float return value into `table_t`; a
    table over [-8, 8) indexed as sigmoid's, the entry assigned to the result."""
    x, result, fn = k.x, k.result, k.call.function
    size, table_t = table_config(k)
    in_val = symmetric_in_val(size, 8.0)
    if fn == 'softplus':
        values = log(expf(in_val).astype(np.float64) + 1.0).astype(np.float32)
    else:
        values = (in_val.astype(np.float64) / (np.abs(in_val).astype(np.float64) + 1.0)).astype(np.float32)
    return arith.cast(symmetric_lookup(x, float_table(values, table_t), size, 16), result)


SELU_LAMBDA = 1.0507009873554804934193349852946  # the double both kernels write
SELU_ALPHA = 1.6732632423543772848170429916717
# io_parallel's `static const ap_ufixed<16, 1> lambda = 1.0507009873554805` (AP_TRN: 34429 / 2**15)
SELU_CONST_T = FixedType(16, 1, False)


def negative_table(k: EmulatedCall) -> tuple[Fx, np.ndarray]:
    """ELU's and SELU's table of the negative half and each input's index into it: `int index = datareg *
    table_size / -8`, clamped only above (io_parallel's SELU clamps below too: a negative index, which only a
    wrapped int can be, is entry 0 there and the last entry elsewhere)."""
    x, fn = k.x, k.call.function
    size, table_t = table_config(k)
    e = expf(negative_in_val(size)).astype(np.float64) - 1.0  # `std::exp(input) - 1.`: exact in double
    values = (SELU_LAMBDA * (SELU_ALPHA * e) if fn == 'selu' else e).astype(np.float32)
    index = clamp_index(scaled_index(x, size, -8), size, negative_to_last=not (fn == 'selu' and not k.stream))
    return float_table(values, table_t), index


@register('elu')
def elu(k: EmulatedCall) -> Fx:
    """`res = datareg >= 0 ? datareg : alpha * elu_table[index]`: alpha the call's literal (the converted layer's
    `activ_param`: Keras's `alpha`, 1.0 for Activation('elu')) in the call's `param_T` (the layer's `param_t`,
    `Precision.param`); the two-argument overload's alpha is `ap_uint<1>(1.0)`."""
    call, x, result = k.call, k.x, k.result
    if len(call.type_args) > 3:
        param_t = k.program.fixed(call.type_args[1])
        if param_t is None:
            raise NotEmulated(f'elu alpha type {k.program.resolve(call.type_args[1])} is not an ap_fixed type')
        try:
            alpha_value = float(call.args[1].rstrip('fF'))
        except (IndexError, ValueError):
            raise NotEmulated(f'elu alpha {call.args[1:2]!r} is not a literal') from None
    else:
        param_t, alpha_value = FixedType(1, 1, False), 1.0
    alpha = arith.from_double(np.array([alpha_value]), param_t)
    table, index = negative_table(k)
    neg = arith.mul(Fx(table.v[index], table.f), Fx(alpha.v.reshape(1, 1), alpha.f))
    pos_v, neg_v, f = arith.align(x, neg)
    return arith.cast(Fx(np.where(x.v >= 0, pos_v, neg_v), f), result)


@register('selu')
def selu(k: EmulatedCall) -> Fx:
    """`res = datareg >= 0 ? lambda * datareg : selu_table[index]`. lambda is an `ap_ufixed<16,1>` in io_parallel;
    in io_stream it is the double cast to the input's own type (`(typename data_T::value_type)1.0507...`), so the
    positive half differs between the two IO types (and wraps where the input is signed with one integer bit)."""
    x, result = k.x, k.result
    if k.stream:
        if k.data_t is None:
            raise NotEmulated('selu input type unknown')
        lam_t = k.data_t
    else:
        lam_t = SELU_CONST_T
    lam = arith.from_double(np.array([SELU_LAMBDA]), lam_t)
    table, index = negative_table(k)
    pos = arith.mul(x, Fx(lam.v.reshape(1, 1), lam.f))
    pos_v, neg_v, f = arith.align(pos, Fx(table.v[index], table.f))
    return arith.cast(Fx(np.where(x.v >= 0, pos_v, neg_v), f), result)
