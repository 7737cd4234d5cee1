"""ap_fixed arithmetic on integers: what the C-simulation computes, bit for bit.

A value array is a `Fx`: integer mantissas `v` and a number of fractional bits `f`
(value = v * 2**-f). Products and sums of ap_fixed values are exact in C++ (the result type
grows); only an assignment to a narrower type rounds and overflows, by that type's
quantization (AP_TRN, AP_RND, AP_RND_CONV, ...) and overflow (AP_WRAP, AP_SAT, ...) modes.
`cast` is that assignment. Mantissas are int64; where a value could need more than 62 bits
they are Python integers (object arrays), which numpy handles exactly, only slower.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hlsdiff.fixedpoint import FixedType, round_scaled

SAFE_BITS = 62


@dataclass(frozen=True)
class Fx:
    """Exact fixed-point values: mantissas `v` (int64 or object) at `f` fractional bits."""

    v: np.ndarray
    f: int

    def to_float(self) -> np.ndarray:
        if self.v.dtype == object:
            return np.array([float(x) for x in self.v.reshape(-1)], dtype=np.float64).reshape(self.v.shape) * 2.0 ** -self.f
        return self.v.astype(np.float64) * 2.0 ** -self.f

    def reshape(self, *shape) -> Fx:
        return Fx(self.v.reshape(*shape), self.f)

    def __getitem__(self, index) -> Fx:
        return Fx(self.v[index], self.f)


def exact(values: np.ndarray, f: int) -> Fx:
    """Values already representable at `f` fractional bits (C-simulation traces), as mantissas."""
    scaled = np.rint(np.asarray(values, dtype=np.float64) * 2.0**f)
    if scaled.size and float(np.max(np.abs(scaled))) >= 2.0**SAFE_BITS:  # a double that large is an integer
        return Fx(np.array([int(x) for x in scaled.reshape(-1)], dtype=object).reshape(scaled.shape), f)
    return Fx(scaled.astype(np.int64), f)


def from_double(values: np.ndarray, t: FixedType) -> Fx:
    """`(T) double_value`: ap_fixed's constructor from a double, with T's modes.

    Scaling a double by 2**F and rounding it to an integer (floor, ceil, +-0.5) are exact in
    double precision below 2**52, and a double at or above 2**52 is an integer already, so
    this needs no wider arithmetic; only a value beyond 2**62 after scaling (never in
    practice) takes the exact Python-integer path.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size and not np.all(np.isfinite(values)):
        values = _non_finite(values, t)
    scaled = values * 2.0**t.fractional
    if values.size and float(np.max(np.abs(scaled))) >= 2.0**62:
        f = _exact_bits(values, t.fractional)
        v = np.array([int(x) for x in (values * 2.0**f).reshape(-1)], dtype=object).reshape(values.shape)
        return cast(Fx(v, f), t)
    big = np.abs(scaled) >= 2.0**52
    rounded = round_scaled(scaled, t.rounding)
    v = np.where(big, scaled, rounded).astype(np.int64)
    v = overflow(v, t)
    return Fx(v, t.fractional)


def _non_finite(values: np.ndarray, t: FixedType) -> np.ndarray:
    """An infinity or a NaN as ap_fixed's constructor takes it: a power of two far above the type (its
    exponent bits are all ones), signed as the double is: it wraps to 0, saturates to the type's max or min
    (a NaN as a positive value unless its sign bit is set), or goes to 0 with AP_SAT_ZERO."""
    huge = 2.0 ** (t.width - t.fractional + 64)
    return np.where(np.isfinite(values), values, np.where(np.signbit(values), -huge, huge))


def _exact_bits(values: np.ndarray, at_least: int) -> int:
    """The fewest fractional bits (at least `at_least`) at which every double is an integer."""
    nz = values[values != 0]
    if nz.size == 0:
        return at_least
    m, exp = np.frexp(nz)  # nz = m * 2**exp, 0.5 <= |m| < 1: m * 2**53 is a 53-bit integer
    ints = np.abs(m * 2.0**53).astype(np.int64)
    trailing = np.log2(ints & -ints).astype(np.int64)  # its lowest set bit
    need = (53 - exp) - trailing  # the lowest set bit of each value sits at 2**-need
    return max(at_least, int(need.max()))


def _widen(v: np.ndarray) -> np.ndarray:
    return v if v.dtype == object else v.astype(object)


def widened_for(v: np.ndarray, bound: int) -> np.ndarray:
    """`v` as Python integers when it meets a constant beyond SAFE_BITS (int64 would overflow or refuse it)."""
    return _widen(v) if abs(bound) >= 1 << SAFE_BITS else v


def shift_right(v: np.ndarray, s: int, mode: str) -> np.ndarray:
    """Drop `s` low bits of the mantissas with a quantization mode."""
    if s > SAFE_BITS and v.dtype != object:  # the rounding constants leave int64
        v = _widen(v)
    if s <= 0:
        return v * (1 << -s) if v.dtype == object else np.left_shift(v, -s)
    half = 1 << (s - 1)
    mask = (1 << s) - 1
    if mode == 'TRN':
        return v >> s
    if mode == 'TRN_ZERO':
        return np.where(v >= 0, v >> s, -((-v) >> s))
    if mode == 'RND':
        return (v + half) >> s
    if mode == 'RND_ZERO':
        return np.where(v >= 0, (v + half - 1) >> s, (v + half) >> s)
    if mode == 'RND_MIN_INF':
        return (v + half - 1) >> s
    if mode == 'RND_INF':
        return np.where(v >= 0, (v + half) >> s, (v + half - 1) >> s)
    if mode == 'RND_CONV':
        q = (v + half) >> s
        tie = (v & mask) == half
        return np.where(tie & ((q & 1) == 1), q - 1, q)
    raise ValueError(f'unknown quantization mode AP_{mode}')


def limits(t: FixedType) -> tuple[int, int]:
    """The smallest and largest mantissa of `t`."""
    if t.signed:
        return -(1 << (t.width - 1)), (1 << (t.width - 1)) - 1
    return 0, (1 << t.width) - 1


def overflow(v: np.ndarray, t: FixedType) -> np.ndarray:
    """Mantissas at t's resolution, brought into t's range by its overflow mode. A type wider than SAFE_BITS
    is computed on Python integers: its limits and wrap period leave int64."""
    lo, hi = limits(t)
    mode = t.saturation
    if v.dtype.kind not in 'iO':
        raise TypeError(f'mantissas must be integers, got {v.dtype}')
    if t.width > SAFE_BITS:
        v = _widen(v)
    if mode == 'WRAP':
        span = 1 << t.width
        if v.dtype != object:
            low = v & (span - 1)  # two's complement: the low W bits, then sign-extended
            return np.where(low > hi, low - span, low) if t.signed else low
        low = np.array([x % span for x in v.reshape(-1)], dtype=object).reshape(v.shape)
        return np.where(low > hi, low - span, low) if t.signed else low
    if mode == 'SAT_ZERO':
        return np.where((v > hi) | (v < lo), 0, v)
    if mode == 'SAT_SYM' and t.signed:
        return np.clip(v, lo + 1, hi)
    return np.clip(v, lo, hi)


def cast(x: Fx, t: FixedType) -> Fx:
    """`(T) x`: quantize to T's resolution by its quantization mode, then its overflow mode."""
    v = x.v
    s = x.f - t.fractional
    if s < 0 and v.dtype != object and bits(v) - s > SAFE_BITS:
        v = _widen(v)
    v = shift_right(v, s, t.rounding)
    v = overflow(v, t)
    if v.dtype == object and t.width <= SAFE_BITS:
        v = v.astype(np.int64)
    return Fx(v, t.fractional)


def bits(v: np.ndarray) -> int:
    if v.size == 0:
        return 1
    peak = int(np.max(np.abs(v)))
    return peak.bit_length() + 1


def align(a: Fx, b: Fx) -> tuple[np.ndarray, np.ndarray, int]:
    """Both mantissas at the finer of the two resolutions."""
    f = max(a.f, b.f)
    va, vb = a.v, b.v
    if a.f < f:
        va = va * (1 << (f - a.f)) if va.dtype == object else np.left_shift(va, f - a.f)
    if b.f < f:
        vb = vb * (1 << (f - b.f)) if vb.dtype == object else np.left_shift(vb, f - b.f)
    return va, vb, f


def add(a: Fx, b: Fx) -> Fx:
    va, vb, f = align(a, b)
    return Fx(va + vb, f)


def sub(a: Fx, b: Fx) -> Fx:
    va, vb, f = align(a, b)
    return Fx(va - vb, f)


def mul(a: Fx, b: Fx) -> Fx:
    """The exact product (ap_fixed's operator* widens its result)."""
    va, vb = a.v, b.v
    if va.dtype != object and vb.dtype != object and bits(va) + bits(vb) > SAFE_BITS:
        va, vb = _widen(va), _widen(vb)
    return Fx(va * vb, a.f + b.f)


def div_int(x: Fx, n: int) -> Fx:
    """`x / n` for an integer n: ap_fixed keeps x's fractional bits, truncating toward zero."""
    v = x.v
    q = np.where(v >= 0, v // n, -((-v) // n))
    return Fx(q, x.f)


def maximum(a: Fx, b: Fx) -> Fx:
    va, vb, f = align(a, b)
    return Fx(np.maximum(va, vb), f)


def minimum(a: Fx, b: Fx) -> Fx:
    va, vb, f = align(a, b)
    return Fx(np.minimum(va, vb), f)
