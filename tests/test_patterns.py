import numpy as np
import pytest

from hlsdiff.diagnosis import patterns

rng = np.random.default_rng(1472)


def mask(n, idx):
    m = np.zeros(n, bool)
    m[list(idx)] = True
    return m


@pytest.mark.parametrize('phase', [0, 1])
def test_alternating_with_phase(phase):
    p = patterns.channel_set(mask(8, range(phase, 8, 2)))
    assert (p.kind, p.period, p.phase) == ('alternating', 2, phase)


def test_random_half_is_not_alternating():
    p = patterns.channel_set(mask(8, [0, 1, 4, 6]))
    assert p.kind not in ('alternating', 'strided')


def test_strided_every_third():
    p = patterns.channel_set(mask(9, [2, 5, 8]))
    assert (p.kind, p.period, p.phase) == ('strided', 3, 2)


def test_block_and_not_block():
    assert patterns.channel_set(mask(16, range(4, 9))).kind == 'block'
    assert patterns.channel_set(mask(16, [4, 5, 7, 8])).kind != 'block'


def test_few_and_all():
    assert patterns.channel_set(mask(16, [3, 11])).kind == 'few-channels'
    assert patterns.channel_set(mask(8, range(8))).kind == 'all-channels'
    assert patterns.channel_set(mask(8, [])).kind == 'none'


@pytest.mark.parametrize('wrong', [[0, 1, 2, 4, 5, 7, 9, 12, 14], [c for c in range(16) if c not in (3, 10)]])
def test_most_but_not_all_channels_is_named_for_what_it_shows(wrong):
    """9 (or 14) of 16 channels wrong is not `all-channels`: the pattern says how many, and which."""
    p = patterns.channel_set(mask(16, wrong))
    assert p.kind == 'most-channels' and p.channels == tuple(wrong)
    assert p.detail.startswith(f'{len(wrong)} of 16 channels wrong') and 'all' not in p.detail


def _maps(c=6):
    ref = rng.normal(size=(4, 5, 5, c))
    return ref, ref.copy()


def test_dead_channels_and_close_miss():
    ref, act = _maps()
    act[..., 2] = 0
    bad = mask(6, [2])
    assert patterns.dead(act, ref, bad, 1e-3).kind == 'dead-channels'
    act[..., 2] = 0.05  # small but not zero
    assert patterns.dead(act, ref, bad, 1e-3) is None
    act[..., 2] = 2.0**-12  # within the tolerance, still not 0 (a small wrapped value): not dead
    assert patterns.dead(act, ref, bad, 1e-3) is None


def test_passthrough_and_close_miss():
    ref, act = _maps()
    layer_input = rng.normal(size=ref.shape)
    act[..., 1::2] = layer_input[..., 1::2]
    bad = mask(6, [1, 3, 5])
    p = patterns.describe(act, ref, bad, 1e-3, layer_input)
    assert p.kind == 'alternating' and p.phase == 1 and 'passthrough' in p.also
    act[..., 3] += 0.1  # one channel is not the input any more
    assert patterns.passthrough(act, ref, bad, 1e-3, layer_input=layer_input) is None


def test_permuted_and_close_miss():
    ref, act = _maps()
    act[..., 0], act[..., 1] = ref[..., 1], ref[..., 0]
    bad = mask(6, [0, 1])
    assert patterns.permuted(act, ref, bad, 1e-3).kind == 'permuted'
    act[..., 1] = ref[..., 1] * 3
    assert patterns.permuted(act, ref, bad, 1e-3) is None


def test_permuted_needs_a_permutation():
    ref, act = _maps()
    act[..., 1] = ref[..., 0]
    act[..., 2] = ref[..., 0]
    assert patterns.permuted(act, ref, mask(6, [1, 2]), 1e-3) is None


def test_per_channel_scale_offset_and_miss():
    ref, act = _maps()
    act[..., 4] = 2.0 * ref[..., 4]
    assert patterns.per_channel_linear(act, ref, mask(6, [4]), 1e-3).kind == 'per-channel-scale'
    ref, act = _maps()
    act[..., 4] = ref[..., 4] + 0.7
    assert patterns.per_channel_linear(act, ref, mask(6, [4]), 1e-3).kind == 'per-channel-offset'
    ref, act = _maps()
    act[..., 4] = rng.normal(size=act[..., 4].shape)
    assert patterns.per_channel_linear(act, ref, mask(6, [4]), 1e-3) is None


def test_spatial_borders_and_miss():
    ref, act = _maps()
    act[:, 0, :, :] += 1
    act[:, -1, :, :] += 1
    assert patterns.spatial(act, ref, mask(6, range(6)), 1e-3).kind == 'spatial'
    ref, act = _maps()
    act[:, 2, 2, :] += 1  # the centre is no border
    p = patterns.spatial(act, ref, mask(6, range(6)), 1e-3)
    assert p is None or p.extra.get('where') != 'borders'
