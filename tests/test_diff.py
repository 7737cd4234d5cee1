import numpy as np

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
