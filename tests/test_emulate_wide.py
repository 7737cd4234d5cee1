"""The emulation of types wider than int64 (accumulators over 64 bits, as `fix` and `sweep` may try), bit for
bit against hls4ml's own dense kernel and ap_types compiled with g++."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from hlsdiff.emulate import arith
from hlsdiff.emulate.kernels.mac import mac
from hlsdiff.fixedpoint import parse_type

pytestmark = pytest.mark.slow  # a real g++ build

N_IN, N_OUT, SAMPLES = 6, 3, 64

PROGRAM = '''
#include <iostream>
#include "ap_fixed.h"
#include "nnet_utils/nnet_dense_latency.h"
typedef {x_t} x_t;
typedef {w_t} w_t;
typedef {accum_t} acc_t;
typedef {result_t} res_t;
struct cfg {{
    static const unsigned n_in = {n_in};
    static const unsigned n_out = {n_out};
    static const unsigned reuse_factor = 1;
    static const unsigned multiplier_limit = {n_in} * {n_out};
    typedef acc_t accum_t;
    typedef w_t weight_t;
    typedef w_t bias_t;
    template <class x_T, class y_T> using product = nnet::product::mult<x_T, y_T>;
}};
int main() {{
    w_t w[{n_in} * {n_out}], b[{n_out}];
    for (int i = 0; i < {n_in} * {n_out}; i++) {{ double d; std::cin >> d; w[i] = d; }}
    for (int i = 0; i < {n_out}; i++) {{ double d; std::cin >> d; b[i] = d; }}
    for (int s = 0; s < {samples}; s++) {{
        x_t x[{n_in}];
        res_t r[{n_out}];
        for (int i = 0; i < {n_in}; i++) {{ double d; std::cin >> d; x[i] = d; }}
        nnet::dense_latency<x_t, res_t, cfg>(x, r, w, b);
        for (int i = 0; i < {n_out}; i++) std::cout << r[i].to_string(10) << "\\n";
    }}
}}
'''


def _templates() -> Path:
    import hls4ml

    return Path(hls4ml.__file__).parent / 'templates' / 'vivado'


def _run_cpp(types: dict, x: np.ndarray, w: np.ndarray, b: np.ndarray, folder: Path) -> list[Fraction]:
    source = folder / 'dense.cpp'
    source.write_text(PROGRAM.format(**types, n_in=N_IN, n_out=N_OUT, samples=SAMPLES))
    t = _templates()
    subprocess.run(['g++', '-std=c++14', '-O1', f'-I{t / "ap_types"}', f'-I{t}', str(source), '-o',
                    str(folder / 'dense')], check=True, capture_output=True, timeout=600)
    numbers = ' '.join(repr(float(v)) for v in np.concatenate([w.ravel(), b.ravel(), x.ravel()]))
    out = subprocess.run([str(folder / 'dense')], input=numbers, capture_output=True, text=True, check=True,
                         timeout=60).stdout
    return [Fraction(s) for s in out.split()]


@pytest.mark.parametrize('types', [
    # products of 80 bits, a wrapping 80-bit accumulator (the sums wrap), a saturating result that rounds
    {'x_t': 'ap_fixed<40,20>', 'w_t': 'ap_fixed<40,20>', 'accum_t': 'ap_fixed<80,40>',
     'result_t': 'ap_fixed<70,35,AP_RND_CONV,AP_SAT>'},
    # a saturating 72-bit accumulator that rounds every product, a 63-bit wrapping result
    {'x_t': 'ap_fixed<40,20>', 'w_t': 'ap_fixed<36,16>', 'accum_t': 'ap_fixed<72,36,AP_RND,AP_SAT>',
     'result_t': 'ap_fixed<63,30>'},
    # hls4ml's default inputs, an accumulator of 63 bits: its wrap period leaves int64 (a crash before)
    {'x_t': 'ap_fixed<16,6>', 'w_t': 'ap_fixed<16,6>', 'accum_t': 'ap_fixed<63,33>', 'result_t': 'ap_fixed<16,6>'},
    # an accumulator of 100 bits, 70 of them fractional: the products shifted to its resolution leave int64
    {'x_t': 'ap_fixed<16,6>', 'w_t': 'ap_fixed<16,6>', 'accum_t': 'ap_fixed<100,30>',
     'result_t': 'ap_fixed<24,12,AP_RND,AP_SAT>'},
    # an accumulator of exactly 64 bits (its wrap period is int64's), a result of 62
    {'x_t': 'ap_fixed<32,16>', 'w_t': 'ap_fixed<32,16>', 'accum_t': 'ap_fixed<64,34>',
     'result_t': 'ap_fixed<62,31,AP_RND,AP_SAT>'},
])
def test_a_dense_layer_with_an_accumulator_over_64_bits_is_emulated_bit_for_bit(types, tmp_path):
    rng = np.random.default_rng(7)
    tx, tw = parse_type(types['x_t']), parse_type(types['w_t'])
    # values spread over the whole range of their types, so that sums wrap or saturate and products round
    x = arith.from_double(rng.uniform(-1, 1, (SAMPLES, N_IN)) * 2.0 ** rng.integers(-8, tx.integer - 1, (SAMPLES, N_IN)), tx)
    w = arith.from_double(rng.uniform(-1, 1, (N_IN, N_OUT)) * 2.0 ** rng.integers(-8, tw.integer - 1, (N_IN, N_OUT)), tw)
    b = arith.from_double(rng.uniform(-1, 1, N_OUT) * 2.0 ** (tw.integer - 2), tw)
    got = mac(x, w, b, parse_type(types['accum_t']), parse_type(types['result_t']))
    want = _run_cpp(types, x.to_float(), w.to_float(), b.to_float(), tmp_path)
    emulated = [Fraction(int(v), 2 ** got.f) for v in got.v.reshape(-1)]
    assert len(want) == len(emulated) == SAMPLES * N_OUT
    assert emulated == want
    assert len(set(want)) > SAMPLES  # not all saturated or zero: the values themselves are compared
