"""Arbitrary-precision fixed-point types as hls4ml writes them, and their arithmetic in numpy.

`ap_fixed<W,I,Q,O>` has W bits, I of them integer bits (sign included when signed),
resolution 2**-(W-I) and range [-2**(I-1), 2**(I-1)) when signed, [0, 2**I) when not.
These functions reproduce what the C-simulation does when it stores a value in such a
type, so that the diagnosis can say "this is exactly Keras wrapped into ap_fixed<16,6>".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

_TYPE_RE = re.compile(r'^\s*(ap_fixed|ap_ufixed|ap_int|ap_uint|fixed|ufixed|int|uint)\s*<\s*([^>]*)>\s*$')


@dataclass(frozen=True)
class FixedType:
    """One fixed-point type: widths, signedness and the quantization/overflow modes."""

    width: int
    integer: int
    signed: bool = True
    rounding: str = 'TRN'
    saturation: str = 'WRAP'

    @property
    def fractional(self) -> int:
        return self.width - self.integer

    @property
    def lsb(self) -> float:
        return 2.0 ** -self.fractional

    @property
    def max(self) -> float:
        top = 2.0 ** (self.integer - 1) if self.signed else 2.0**self.integer
        return top - self.lsb

    @property
    def min(self) -> float:
        return -(2.0 ** (self.integer - 1)) if self.signed else 0.0

    @property
    def period(self) -> float:
        """The distance after which a wrapping value comes back: 2**I."""
        return 2.0**self.integer

    def __str__(self) -> str:
        if self.fractional == 0 and self.rounding == 'TRN' and self.saturation == 'WRAP':
            return f'ap_{"" if self.signed else "u"}int<{self.width}>'
        base = f'ap_{"" if self.signed else "u"}fixed<{self.width},{self.integer}'
        if self.rounding != 'TRN' or self.saturation != 'WRAP':
            base += f',AP_{self.rounding}'
        if self.saturation != 'WRAP':
            base += f',AP_{self.saturation}'
        return base + '>'

    def with_integer_bits(self, integer: int) -> FixedType:
        """The same fractional resolution with `integer` integer bits."""
        return FixedType(self.fractional + integer, integer, self.signed, self.rounding, self.saturation)


def parse_type(text: str | None) -> FixedType | None:
    """Parse `ap_fixed<16,6,AP_RND,AP_SAT>`, `ap_ufixed<8,0>`, `ap_int<8>`, hls4ml's `fixed<16,6,TRN,WRAP,0>`, and
    the `ac_fixed<W,I,S,Q,O>` / `ac_int<W,S>` of Quartus and Catapult projects (parse_ac_type).

    Returns None for types that have no fixed resolution (float, double, half, unparsable).
    """
    read = _widths(_TYPE_RE, text, lambda kind: kind.endswith('int'))
    if read is None:
        return parse_ac_type(text)
    kind, width, integer, rest = read
    signed = not (kind.startswith('ap_u') or kind.startswith('u'))
    rounding = rest[0].upper().replace('AP_', '') if len(rest) > 0 else 'TRN'
    saturation = rest[1].upper().replace('AP_', '') if len(rest) > 1 else 'WRAP'
    return FixedType(width, integer, signed, rounding, saturation)


_AC_TYPE_RE = re.compile(r'^\s*(ac_fixed|ac_int)\s*<\s*([^>]*)>\s*$')
# the quantization modes this arithmetic computes (hls4ml writes these; AC_RND_CONV_ODD has no counterpart here)
_MODES = ('TRN', 'TRN_ZERO', 'RND', 'RND_ZERO', 'RND_INF', 'RND_MIN_INF', 'RND_CONV')
_OVERFLOWS = ('WRAP', 'SAT', 'SAT_ZERO', 'SAT_SYM')


def _widths(pattern: re.Pattern, text: str | None, is_int, int_keeps_sign: bool = False):
    """(kind, width, integer bits, the other template arguments) of a type `pattern` matches, else None. An
    integer type's integer bits are its width (ac_int<W,S> keeps its signedness argument in the rest)."""
    match = pattern.match(str(text or ''))
    if not match:
        return None
    kind, args = match.groups()
    parts = [p.strip() for p in args.split(',') if p.strip()]
    try:
        width = int(parts[0])
        integer = width if is_int(kind) else int(parts[1])
    except (IndexError, ValueError):
        return None
    if is_int(kind):
        return kind, width, integer, parts[1:] if int_keeps_sign else []
    return kind, width, integer, parts[2:]


def parse_ac_type(text: str | None) -> FixedType | None:
    """Parse Algorithmic C's `ac_fixed<W,I,S,Q,O>` (S `true`/`false`; Q `AC_TRN`...; O `AC_WRAP`...) and
    `ac_int<W,S>`, as hls4ml's Quartus and Catapult backends write them, into the one FixedType: AC_<mode> is
    AP_<mode> (the same rounding and overflow). None for another type or a mode not computed here."""
    read = _widths(_AC_TYPE_RE, text, lambda kind: kind == 'ac_int', int_keeps_sign=True)
    if read is None:
        return None
    kind, width, integer, rest = read
    signed = (rest[0] if rest else 'true') in ('true', '1')
    rounding = rest[1].upper().removeprefix('AC_') if len(rest) > 1 else 'TRN'
    saturation = rest[2].upper().removeprefix('AC_') if len(rest) > 2 else 'WRAP'
    if (rest and rest[0] not in ('true', 'false', '1', '0')) or rounding not in _MODES or saturation not in _OVERFLOWS:
        return None
    return FixedType(width, integer, signed, rounding, saturation)


def round_scaled(scaled: np.ndarray, mode: str) -> np.ndarray:
    """A quantization mode on values already scaled by 2**F (exact in doubles below 2**52)."""
    if mode == 'TRN':
        return np.floor(scaled)
    if mode == 'TRN_ZERO':
        return np.trunc(scaled)
    if mode == 'RND':
        return np.floor(scaled + 0.5)
    if mode == 'RND_ZERO':
        return np.where(scaled >= 0, np.ceil(scaled - 0.5), np.floor(scaled + 0.5))
    if mode == 'RND_INF':
        return np.where(scaled >= 0, np.floor(scaled + 0.5), np.ceil(scaled - 0.5))
    if mode == 'RND_MIN_INF':
        return np.ceil(scaled - 0.5)
    if mode == 'RND_CONV':
        return np.round(scaled)  # numpy rounds half to even, as AP_RND_CONV does
    raise ValueError(f'unknown rounding mode {mode!r}')


def quantize(values: np.ndarray, ftype: FixedType) -> np.ndarray:
    """Store float64 `values` in `ftype` the way ap_fixed's constructor from double does."""
    scaled = round_scaled(np.asarray(values, dtype=np.float64) * 2.0**ftype.fractional, ftype.rounding)
    lo = ftype.min * 2.0**ftype.fractional
    hi = ftype.max * 2.0**ftype.fractional
    if ftype.saturation == 'WRAP':
        span = 2.0**ftype.width
        scaled = np.mod(scaled - lo, span) + lo
    elif ftype.saturation == 'SAT_ZERO':
        scaled = np.where((scaled > hi) | (scaled < lo), 0.0, scaled)
    elif ftype.saturation == 'SAT_SYM' and ftype.signed:
        scaled = np.clip(scaled, -hi, hi)
    else:
        scaled = np.clip(scaled, lo, hi)
    return scaled / 2.0**ftype.fractional


def integer_bits_needed(values: np.ndarray, signed: bool = True) -> int:
    """The integer bits (sign included when signed) that hold every value without overflow."""
    peak = float(np.max(np.abs(values))) if np.size(values) else 0.0
    if peak == 0.0:
        return 1 if signed else 0
    bits = int(np.floor(np.log2(peak))) + 1
    return bits + 1 if signed else bits
