"""`ac_fixed<W,I,S,Q,O>` (hls4ml's Quartus and Catapult types) read into the one FixedType and computed by the
emulation's arithmetic, bit for bit against Algorithmic C's own `ac_fixed.h` (shipped in hls4ml) compiled with g++:
every quantization and overflow mode hls4ml writes, signed and unsigned, on random values and exact ties."""

from __future__ import annotations

import importlib.util
import itertools
import subprocess
from pathlib import Path

import numpy as np
import pytest

from hlsdiff.emulate import arith
from hlsdiff.fixedpoint import FixedType, parse_ac_type

MODES = ('AC_TRN', 'AC_TRN_ZERO', 'AC_RND', 'AC_RND_ZERO', 'AC_RND_INF', 'AC_RND_MIN_INF', 'AC_RND_CONV')
OVERFLOWS = ('AC_WRAP', 'AC_SAT', 'AC_SAT_ZERO', 'AC_SAT_SYM')
SHAPES = ((8, 3), (6, -1), (10, 12))  # integer bits within, below and above the width
TYPES = [f'ac_fixed<{w},{i},{s},{q},{o}>' for (w, i), s, q, o in
         itertools.product(SHAPES, ('true', 'false'), MODES, OVERFLOWS)]
FINE = 14  # the values' resolution, and that of the wide type they are cast from

PROGRAM = '''
#include <cstdio>
#include "ac_fixed.h"
template <class T> void both(const double *x, int n) {
    for (int k = 0; k < n; k++) {
        ac_fixed<40, 20, true> wide = x[k];
        T a = x[k];
        T b = wide;
        std::printf("%%.17g %%.17g\\n", a.to_double(), b.to_double());
    }
}
int main() {
    static double x[%(n)d];
    for (int k = 0; k < %(n)d; k++) if (std::scanf("%%lf", &x[k]) != 1) return 2;
%(calls)s
    return 0;
}
'''


def test_the_grammar_maps_every_mode_onto_the_one_fixed_type():
    assert parse_ac_type('ac_fixed<16,6,true>') == FixedType(16, 6)
    assert parse_ac_type('ac_fixed<8,2,false,AC_RND_CONV,AC_SAT_SYM>') == FixedType(8, 2, False, 'RND_CONV', 'SAT_SYM')
    assert parse_ac_type('ac_int<8,false>') == FixedType(8, 8, False)
    assert parse_ac_type('ac_fixed<8,2,true,AC_RND_CONV_ODD,AC_SAT>') is None  # not a mode hls4ml writes
    assert parse_ac_type('ap_fixed<8,2>') is None and parse_ac_type('float') is None
    assert all(parse_ac_type(t) is not None for t in TYPES)


def _ac_types() -> Path:
    spec = importlib.util.find_spec('hls4ml')
    assert spec is not None and spec.submodule_search_locations
    return Path(list(spec.submodule_search_locations)[0]) / 'templates' / 'quartus' / 'ac_types'


def _values() -> np.ndarray:
    rng = np.random.default_rng(0)
    fine = rng.integers(-2**(12 + FINE), 2**(12 + FINE), 600) / 2.0**FINE  # beyond every type's range, too
    ties = (rng.integers(-2**9, 2**9, 400) + 0.5) / 2.0**np.repeat([5, 7, 1, 0], 100)  # half an LSB of each shape
    return np.concatenate([fine, ties, [0.0, -0.0]])


@pytest.mark.slow
def test_ac_fixed_arithmetic_is_bit_exact_against_ac_types(tmp_path):
    x = _values()
    calls = '\n'.join(f'    both<{t}>(x, {len(x)});' for t in TYPES)
    (tmp_path / 'ac.cpp').write_text(PROGRAM % {'n': len(x), 'calls': calls})
    subprocess.run(['g++', '-O1', '-std=c++14', f'-I{_ac_types()}', str(tmp_path / 'ac.cpp'), '-o',
                    str(tmp_path / 'ac')], check=True, capture_output=True)
    out = subprocess.run([str(tmp_path / 'ac')], input=' '.join(repr(float(v)) for v in x), text=True,
                         capture_output=True, check=True).stdout.split()
    native = np.array(out, dtype=np.float64).reshape(len(TYPES), len(x), 2)
    by_type = dict(zip(TYPES, native))  # the values reach every mode's ties and every overflow
    for a, b in (('AC_TRN,AC_WRAP', 'AC_RND,AC_WRAP'), ('AC_RND,AC_WRAP', 'AC_RND_CONV,AC_WRAP'),
                 ('AC_TRN,AC_WRAP', 'AC_TRN,AC_SAT'), ('AC_TRN,AC_SAT', 'AC_TRN,AC_SAT_SYM')):
        assert not np.array_equal(by_type[f'ac_fixed<8,3,true,{a}>'], by_type[f'ac_fixed<8,3,true,{b}>'])
    for n, text in enumerate(TYPES):
        t = parse_ac_type(text)
        assert t is not None
        from_double = arith.from_double(x, t).to_float()
        from_wide = arith.cast(arith.exact(x, FINE), t).to_float()
        assert np.array_equal(from_double, native[n, :, 0]), (text, np.flatnonzero(from_double != native[n, :, 0])[:5])
        assert np.array_equal(from_wide, native[n, :, 1]), (text, np.flatnonzero(from_wide != native[n, :, 1])[:5])
