import numpy as np
import pytest

from hlsdiff.fixedpoint import FixedType, integer_bits_needed, parse_type, quantize


@pytest.mark.parametrize(
    'text, expected',
    [
        ('ap_fixed<16,6>', FixedType(16, 6)),
        ('ap_ufixed<8,0>', FixedType(8, 0, signed=False)),
        ('ap_fixed<16,6,AP_RND,AP_SAT>', FixedType(16, 6, True, 'RND', 'SAT')),
        ('ap_int<8>', FixedType(8, 8)),
        ('ap_uint<4>', FixedType(4, 4, signed=False)),
        ('fixed<16,6,TRN,WRAP,0>', FixedType(16, 6, True, 'TRN', 'WRAP')),
        ('ufixed<6,0,RND_CONV,SAT,0>', FixedType(6, 0, False, 'RND_CONV', 'SAT')),
    ],
)
def test_parse(text, expected):
    assert parse_type(text) == expected


@pytest.mark.parametrize('text', [None, '', 'float', 'double', 'ap_fixed<>', 'ap_fixed<a,b>'])
def test_parse_rejects_types_without_fixed_resolution(text):
    assert parse_type(text) is None


def test_lsb_range_and_period():
    t = FixedType(16, 6)
    assert t.lsb == 2**-10
    assert t.min == -32 and t.max == 32 - 2**-10
    assert t.period == 64
    u = FixedType(8, 2, signed=False)
    assert u.min == 0 and u.max == 4 - 2**-6


def test_quantize_truncates_and_wraps_like_ap_fixed():
    t = FixedType(8, 4)  # step 1/16, range [-8, 8)
    x = np.array([0.03, -0.03, 7.99, 8.0, 9.5, -8.0, -9.0])
    q = quantize(x, t)
    assert q.tolist() == [0.0, -0.0625, 7.9375, -8.0, -6.5, -8.0, 7.0]


def test_quantize_rounds_and_saturates():
    t = FixedType(8, 4, True, 'RND', 'SAT')
    q = quantize(np.array([0.03, 0.04, 100.0, -100.0]), t)
    assert q.tolist() == [0.0625 * 0, 0.0625, 8 - 0.0625, -8.0]


def test_round_conv_is_half_to_even():
    t = FixedType(8, 8, True, 'RND_CONV', 'SAT')
    assert quantize(np.array([0.5, 1.5, 2.5]), t).tolist() == [0.0, 2.0, 2.0]


def test_integer_bits_needed():
    assert integer_bits_needed(np.array([0.5])) == 1
    assert integer_bits_needed(np.array([1.0])) == 2
    assert integer_bits_needed(np.array([-31.0, 20.0])) == 6
    assert integer_bits_needed(np.array([1201.0])) == 12
    assert integer_bits_needed(np.array([3.0]), signed=False) == 2


def test_with_integer_bits_keeps_resolution():
    assert str(FixedType(16, 6).with_integer_bits(12)) == 'ap_fixed<22,12>'
