"""The emulation's integer ap_fixed arithmetic, checked against hand-worked values (pure numpy)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hlsdiff.emulate import arith
from hlsdiff.emulate.arith import Fx
from hlsdiff.emulate.kernels.mac import mac
from hlsdiff.emulate.kernels.softmax import tree_sum as _tree_sum
from hlsdiff.fixedpoint import FixedType, parse_type, quantize
from hlsdiff.project import evaluate as _eval
from hlsdiff.project.hls4ml_1_3 import split_top_level as _split


def _q(values, text):
    return arith.from_double(np.array(values, dtype=np.float64), parse_type(text)).to_float().tolist()


@pytest.mark.parametrize('text, values, expected', [
    # ties: 0.375 and -0.375 at a step of 0.25
    ('ap_fixed<4,2>', [0.375, -0.375, 0.3], [0.25, -0.5, 0.25]),  # TRN: toward -inf
    ('ap_fixed<4,2,AP_TRN_ZERO>', [0.375, -0.375], [0.25, -0.25]),
    ('ap_fixed<4,2,AP_RND>', [0.375, -0.375, 0.125, -0.125], [0.5, -0.25, 0.25, 0.0]),  # ties to +inf
    ('ap_fixed<4,2,AP_RND_ZERO>', [0.375, -0.375], [0.25, -0.25]),
    ('ap_fixed<4,2,AP_RND_MIN_INF>', [0.375, -0.375], [0.25, -0.5]),
    ('ap_fixed<4,2,AP_RND_INF>', [0.375, -0.375], [0.5, -0.5]),
    ('ap_fixed<4,2,AP_RND_CONV>', [0.375, 0.625, -0.375, -0.625], [0.5, 0.5, -0.5, -0.5]),  # ties to even
    # overflow: range [-2, 1.75]
    ('ap_fixed<4,2>', [2.0, 2.25, -2.25], [-2.0, -1.75, 1.75]),  # wraps
    ('ap_fixed<4,2,AP_TRN,AP_SAT>', [5.0, -5.0], [1.75, -2.0]),
    ('ap_fixed<4,2,AP_TRN,AP_SAT_ZERO>', [5.0, 1.5], [0.0, 1.5]),
    ('ap_fixed<4,2,AP_TRN,AP_SAT_SYM>', [-5.0], [-1.75]),
    ('ap_ufixed<4,2>', [-0.25, 4.0, 4.5], [3.75, 0.0, 0.5]),
    ('ap_ufixed<4,2,AP_RND,AP_SAT>', [-1.0, 9.0], [0.0, 3.75]),
    ('ap_int<4>', [7.9, 8.0, -9.0], [7.0, -8.0, 7.0]),
    ('ap_fixed<8,12>', [100.0, -5000.0], [96.0, -912.0]),  # integer bits beyond the width: a step of 16, wraps
])
def test_cast_modes(text, values, expected):
    assert _q(values, text) == expected


def test_cast_agrees_with_the_float_model_on_random_values():
    rng = np.random.default_rng(0)
    values = rng.normal(0, 20, 5000)
    for text in ('ap_fixed<10,4>', 'ap_fixed<12,3,AP_RND,AP_SAT>', 'ap_ufixed<9,5,AP_RND_CONV,AP_SAT>',
                 'ap_fixed<16,6,AP_RND_ZERO,AP_WRAP>'):
        t = parse_type(text)
        assert np.array_equal(arith.from_double(values, t).to_float(), quantize(values, t)), text


def test_wide_values_stay_exact():
    t = FixedType(60, 30)
    x = arith.from_double(np.array([2.0**28 + 2.0**-24, -(2.0**29) + 2.0**-23]), t)
    assert [int(v) for v in x.v] == [(2**28 << 30) + 2**6, (-(2**29) << 30) + 2**7]
    # a product of two such values is kept exact (Python integers), then cast back
    p = arith.cast(arith.mul(x, x), FixedType(62, 60))
    assert int(p.v[0]) == (2**56 + 2**5) << 2  # (2**28 + 2**-24)**2 = 2**56 + 2**5 + 2**-48, truncated


def test_mac_products_are_cast_to_the_accumulator_one_by_one():
    # x = 0.75, w = 0.75: product 0.5625; an accumulator with one fractional bit truncates each
    # product to 0.5 before the sum (not the sum 1.125 to 1.0)
    x = arith.from_double(np.array([[0.75, 0.75]]), parse_type('ap_fixed<8,2>'))
    w = arith.from_double(np.array([[0.75], [0.75]]), parse_type('ap_fixed<8,2>'))
    out = mac(x, w, None, FixedType(5, 4), FixedType(16, 8))
    assert out.to_float().tolist() == [[1.0]]


def test_mac_with_a_wrapping_accumulator_wraps_the_sum():
    x = arith.from_double(np.array([[1.0, 1.0, 1.0]]), parse_type('ap_fixed<8,4>'))
    w = arith.from_double(np.array([[3.0], [3.0], [3.0]]), parse_type('ap_fixed<8,4>'))
    wrapped = mac(x, w, None, FixedType(8, 4), FixedType(16, 8))  # 9 in [-8, 8): wraps to -7
    saturated = mac(x, w, None, FixedType(8, 4, True, 'TRN', 'SAT'), FixedType(16, 8))
    assert wrapped.to_float().tolist() == [[-7.0]]
    assert saturated.to_float().tolist() == [[7.9375]]


def test_adder_tree_saturates_at_every_node():
    t = FixedType(4, 2, True, 'TRN', 'SAT')  # max 1.75
    x = arith.from_double(np.array([[1.5, 1.5, -1.0]]), FixedType(8, 4))
    # ((1.5 + 1.5) sat 1.75) + -1.0 = 0.75, not 2.0
    assert _tree_sum(x, t).to_float().tolist() == [[0.75]]


def test_division_truncates_toward_zero():
    x = Fx(np.array([7, -7]), 0)
    assert arith.div_int(x, 2).v.tolist() == [3, -3]


def test_config_constants():
    assert _eval('16*35*4', {}) == 2240
    assert _eval('DIV_ROUNDUP(n_in * n_out, reuse_factor) - n_zeros / reuse_factor',
                 {'n_in': 10, 'n_out': 3, 'reuse_factor': 4, 'n_zeros': 0}) == 8
    assert _eval('nnet::softmax_implementation::stable', {}) == 'stable'
    assert _eval('1.0', {}) == 1.0
    assert _split('a, nnet::array<ap_fixed<16,6>, 4>, f(x, y)') == ['a', 'nnet::array<ap_fixed<16,6>, 4>', 'f(x, y)']


@pytest.mark.parametrize('text, expected', [
    # as ap_fixed's constructor takes an infinity or a NaN (checked with g++ and hls4ml's ap_types)
    ('ap_fixed<18,8>', [0.0, 0.0, 0.0]),  # wraps: the low bits of a huge power of two are 0
    ('ap_fixed<18,8,AP_RND,AP_SAT>', [128 - 2**-10, -128.0, 128 - 2**-10]),
    ('ap_fixed<18,8,AP_TRN,AP_SAT_ZERO>', [0.0, 0.0, 0.0]),
    ('ap_fixed<18,8,AP_TRN,AP_SAT_SYM>', [128 - 2**-10, -(128 - 2**-10), 128 - 2**-10]),
    ('ap_ufixed<18,8,AP_TRN,AP_SAT>', [256 - 2**-10, 0.0, 256 - 2**-10]),
])
def test_infinity_and_nan_are_cast_as_the_cpp_constructor_does(text, expected):
    assert _q([np.inf, -np.inf, np.nan], text) == expected


TRANSPOSE_PARAMETERS = '''
// transpose_input_for_x
struct config9 {
    static const unsigned dims = 3;
    static const unsigned N = 24;
    static const unsigned* const from_shape;
    static const unsigned* const to_shape;
    static const unsigned* const perm;
    static const unsigned* const perm_strides;
};

unsigned config9_from_shape[3] = {2, 3, 4};
unsigned config9_to_shape[3] = {3, 4, 2};
unsigned config9_perm[3] = {1, 2, 0};
unsigned config9_perm_strides[3] = {4, 1, 12};
'''


def test_a_transpose_config_and_its_kernel_as_hls4ml_writes_them():
    """hls4ml's transpose config (a struct without a base, its arrays defined after it) is read, and the kernel
    moves the values as numpy's transpose does, then casts them to the result type."""
    from hlsdiff.emulate.kernels.base import run
    from hlsdiff.emulate.program import Call, Config, Program
    from hlsdiff.project import headers_of

    struct = headers_of('', TRANSPOSE_PARAMETERS).structs['config9']
    values = struct.values()
    assert values['dims'] == 3 and values['perm'] == '{1, 2, 0}' and values['from_shape'] == '{2, 3, 4}'
    program = Program(Path('.'), [], {}, {'config9': Config('config9', {}, values)}, {}, {}, [], {})
    call = Call('transpose', ['input_t', 'layer9_t', 'config9'], ['x', 'layer9_out'])
    x = np.arange(2 * 24).reshape(2, 24) - 20  # two samples, in steps of 2**-2 (f = 2), within ap_fixed<16,6>
    out = run(program, call, [Fx(x, 2)], parse_type('ap_fixed<16,6>'), None)
    want = np.transpose(x.reshape(2, 2, 3, 4), (0, 2, 3, 1)).reshape(2, -1)
    assert out.to_float().tolist() == (want / 4.0).tolist()
    narrow = run(program, call, [Fx(x, 2)], parse_type('ap_fixed<6,4>'), None)  # cast as the C++ assignment does
    assert narrow.to_float().tolist() == arith.cast(Fx(want, 2), parse_type('ap_fixed<6,4>')).to_float().tolist()
