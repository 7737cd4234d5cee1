import numpy as np
import pytest

from hlsdiff.diff import diff, status_of


def test_stats_in_lsb_and_channels():
    rng = np.random.default_rng(0)
    exp = rng.normal(size=(4, 5, 5, 3))
    act = exp.copy()
    act[1, 2, 3, 2] += 0.5
    s = diff(exp, act, lsb=2**-10)
    assert s.max_abs == 0.5
    assert s.max_lsb == 512
    assert s.worst_index == (1, 2, 3, 2)
    assert s.per_channel_max[2] == 0.5 and s.per_channel_max[0] == 0
    assert s.worst_channels() == [2]
    assert s.mismatched == 1 and s.total == exp.size


def test_status_ok_noise_mismatch():
    exp = np.linspace(-1, 1, 1000).reshape(10, 100)
    lsb = 2**-8
    assert status_of(diff(exp, exp + lsb / 2, lsb), lsb) == 'ok'
    few = exp.copy()
    few[0, :5] += 0.5
    assert status_of(diff(exp, few, lsb), lsb) == 'noise'
    many = exp + 0.3
    assert status_of(diff(exp, many, lsb), lsb) == 'mismatch'


def test_diff_computes_in_float64_without_wrapping():
    exp = np.array([[1e8]], dtype=np.float32)
    act = np.array([[1e8 + 8]], dtype=np.float64)
    assert diff(exp, act, None).max_abs == 8


def test_stats_accumulated_over_chunks_equal_the_whole():
    from hlsdiff.diff import StatsAccumulator, diff, scale_of

    rng = np.random.default_rng(5)
    expected = rng.normal(size=(37, 4, 3))
    actual = expected + rng.normal(scale=0.05, size=expected.shape) * (rng.random(expected.shape) < 0.1)
    lsb, scale = 2.0**-10, scale_of(expected, actual)
    whole = diff(expected, actual, lsb, scale)
    acc = StatsAccumulator(lsb, scale)
    for lo in range(0, 37, 8):
        acc.add(expected[lo:lo + 8], actual[lo:lo + 8], lo)
    parts = acc.stats()
    for field in ('max_abs', 'max_lsb', 'mismatched', 'total', 'worst_index', 'scale', 'tolerance'):
        assert getattr(parts, field) == getattr(whole, field), field
    for field in ('mean_abs', 'rmse'):
        assert getattr(parts, field) == pytest.approx(getattr(whole, field), rel=1e-12)
    for field in ('per_channel_max', 'per_channel_mean', 'per_channel_fraction'):
        assert np.allclose(getattr(parts, field), getattr(whole, field), rtol=1e-12), field
