"""What the error looks like across channels and positions.

Two kinds of detector, each a small pure function over numpy arrays:
- channel-set detectors look only at *which* channels are wrong (a boolean per channel):
  alternating, strided, block, few-channels, most-channels, all-channels;
- relation detectors look at *what* the wrong channels hold: zeros (dead), the layer's
  input (passthrough), another channel (permuted), a scaled or shifted copy of the right
  value (per-channel-scale/offset), or errors confined to borders, rows or columns (spatial).
Arrays are `(N, ..., C)`, channels last. `bad` is one boolean per channel.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Pattern:
    kind: str = 'none'
    channels: tuple[int, ...] = ()
    period: int | None = None
    phase: int | None = None
    also: tuple[str, ...] = ()
    detail: str = ''
    extra: dict = field(default_factory=dict)


# ---- channel-set detectors -------------------------------------------------------------


def periodic(bad: np.ndarray) -> Pattern | None:
    """Every k-th channel wrong, the others right: k = 2 with 2+ wrong channels, k > 2 with 3+."""
    n = bad.size
    wrong = np.flatnonzero(bad)
    if wrong.size == 0 or wrong.size == n:
        return None
    for k in range(2, n // 2 + 1):
        for phase in range(k):
            if wrong.size >= (2 if k == 2 else 3) and np.array_equal(bad, (np.arange(n) % k) == phase):
                kind = 'alternating' if k == 2 else 'strided'
                return Pattern(kind, tuple(int(c) for c in wrong), k, phase,
                               detail=f'channels {phase}, {phase + k}, {phase + 2 * k}... (every {_ordinal(k)}) wrong')
    return None


def block(bad: np.ndarray) -> Pattern | None:
    """One contiguous run of at least 2 wrong channels, right ones on at least one side."""
    wrong = np.flatnonzero(bad)
    if wrong.size < 2 or wrong.size == bad.size:
        return None
    if wrong[-1] - wrong[0] + 1 == wrong.size:
        return Pattern('block', tuple(int(c) for c in wrong), detail=f'channels {wrong[0]}-{wrong[-1]} wrong')
    return None


def few(bad: np.ndarray) -> Pattern | None:
    """A few scattered channels: at most a quarter of them, with no period or block."""
    wrong = np.flatnonzero(bad)
    if 0 < wrong.size <= max(1, bad.size // 4):
        return Pattern('few-channels', tuple(int(c) for c in wrong), detail=f'channel(s) {_list(wrong)} wrong')
    return None


def every(bad: np.ndarray) -> Pattern | None:
    """Every channel wrong, or most of them (more than three quarters): named for which."""
    if bad.size and bad.mean() > 0.75:
        return _most(bad)
    return None


def _most(bad: np.ndarray) -> Pattern:
    """`all-channels` when every channel is wrong; otherwise `most-channels`, listing them."""
    wrong = np.flatnonzero(bad)
    if wrong.size == bad.size:
        return Pattern('all-channels', tuple(int(c) for c in wrong), detail='all channels wrong')
    return Pattern('most-channels', tuple(int(c) for c in wrong),
                   detail=f'{wrong.size} of {bad.size} channels wrong: {_list(wrong)}')


CHANNEL_SET_DETECTORS = (periodic, block, every, few)


def channel_set(bad: np.ndarray) -> Pattern:
    for detect in CHANNEL_SET_DETECTORS:
        found = detect(bad)
        if found:
            return found
    wrong = np.flatnonzero(bad)
    if wrong.size == 0:
        return Pattern()
    if wrong.size > bad.size // 2:
        return _most(bad)
    return Pattern('few-channels', tuple(int(c) for c in wrong), detail=f'channels {_list(wrong)} wrong')


# ---- relation detectors ----------------------------------------------------------------


def _close(a: np.ndarray, b: np.ndarray, tol: float) -> bool:
    return bool(np.all(np.abs(a - b) <= tol))


def dead(actual, reference, bad, tol, **_) -> Pattern | None:
    """Wrong channels hold zero, every value of them exactly, while the reference does not (small values that
    are not 0, e.g. wrapped ones, are not dead)."""
    wrong = np.flatnonzero(bad)
    if wrong.size == 0:
        return None
    hits = [c for c in wrong if not np.any(actual[..., c]) and np.max(np.abs(reference[..., c])) > 2 * tol]
    if len(hits) == wrong.size:
        return Pattern('dead-channels', tuple(int(c) for c in hits), detail=f'channel(s) {_list(hits)} are zero')
    return None


def passthrough(actual, reference, bad, tol, layer_input=None, **_) -> Pattern | None:
    """Wrong channels equal the same channel of the layer's input (an identity pass-through)."""
    wrong = np.flatnonzero(bad)
    if layer_input is None or wrong.size == 0 or layer_input.shape != actual.shape:
        return None
    hits = [c for c in wrong if _close(actual[..., c], layer_input[..., c], tol)]
    if len(hits) == wrong.size:
        return Pattern('passthrough', tuple(int(c) for c in hits),
                       detail=f'channel(s) {_list(hits)} equal the layer input unchanged')
    return None


def permuted(actual, reference, bad, tol, **_) -> Pattern | None:
    """Each wrong channel holds another channel's right value (a permutation or transposed layout)."""
    wrong = np.flatnonzero(bad)
    if wrong.size < 2:
        return None
    n = actual.shape[-1]
    mapping = {}
    for c in wrong:
        match = [d for d in range(n) if d != c and _close(actual[..., c], reference[..., d], tol)]
        if not match:
            return None
        mapping[int(c)] = int(match[0])
    if len(set(mapping.values())) != len(mapping):  # not a permutation: several read one source
        return None
    return Pattern('permuted', tuple(mapping), detail='channel c holds channel ' + ', '.join(
        f'{c}->{d}' for c, d in list(mapping.items())[:6]), extra={'source': mapping})


def _fit(actual_c: np.ndarray, reference_c: np.ndarray):
    x, y = reference_c.reshape(-1), actual_c.reshape(-1)
    if np.ptp(x) == 0:
        return None
    a, b = np.polyfit(x, y, 1)
    return float(a), float(b), float(np.max(np.abs(a * x + b - y)))


def per_channel_linear(actual, reference, bad, tol, **_) -> Pattern | None:
    """Wrong channels are a scaled (a*x) or shifted (x+b) copy of the right value."""
    wrong = np.flatnonzero(bad)
    if wrong.size == 0:
        return None
    scales, offsets = {}, {}
    for c in wrong:
        fit = _fit(actual[..., c], reference[..., c])
        err_c = float(np.max(np.abs(actual[..., c] - reference[..., c])))
        # the fit must explain the error (residual a tenth of it) on a channel that varies
        if fit is None or fit[2] > min(tol, 0.1 * err_c) or np.ptp(actual[..., c]) <= tol:
            return None
        a, b, _ = fit
        scales[int(c)], offsets[int(c)] = a, b
    span = max(float(np.max(np.abs(reference))), 1e-12)
    if all(abs(a - 1) < 1e-3 for a in scales.values()):
        return Pattern('per-channel-offset', tuple(offsets), detail='offsets ' + _pairs(offsets), extra={'offset': offsets})
    if all(abs(b) <= tol + 1e-3 * span for b in offsets.values()):
        return Pattern('per-channel-scale', tuple(scales), detail='scales ' + _pairs(scales), extra={'scale': scales})
    return None


def spatial(actual, reference, bad, tol, **_) -> Pattern | None:
    """Errors confined to the borders, or to a few rows or columns, of a (N, H, W, C) or (N, L, C) map."""
    if actual.ndim < 3:
        return None
    err = np.abs(actual - reference) > tol
    where = err.any(axis=(0, -1))  # spatial map of positions with any error
    if not where.any() or where.all():
        return None
    border = np.zeros_like(where)
    if where.ndim == 1:
        border[[0, -1]] = True
    else:
        border[[0, -1], :] = True
        border[:, [0, -1]] = True
    if not (where & ~border).any() and border.mean() < 0.75:
        return Pattern('spatial', (), detail='errors only on the borders (padding)', extra={'where': 'borders'})
    if where.ndim == 2:
        rows, cols = np.flatnonzero(where.any(axis=1)), np.flatnonzero(where.any(axis=0))
        if rows.size <= where.shape[0] // 4 and where[rows].all():
            return Pattern('spatial', (), detail=f'errors in row(s) {_list(rows)}', extra={'rows': rows.tolist()})
        if cols.size <= where.shape[1] // 4 and where[:, cols].all():
            return Pattern('spatial', (), detail=f'errors in column(s) {_list(cols)}', extra={'cols': cols.tolist()})
    return None


RELATION_DETECTORS = (dead, passthrough, permuted, per_channel_linear, spatial)


def describe(actual, reference, bad_channels, tol, layer_input=None) -> Pattern:
    """The pattern of one layer: periodic channel sets lead (they are what users see first),
    otherwise a relation, otherwise the channel set; the other findings go to `also`."""
    chan = channel_set(bad_channels)
    if chan.kind == 'none':
        return chan
    relations = []
    for detect in RELATION_DETECTORS:
        found = detect(actual, reference, bad_channels, tol, layer_input=layer_input)
        if found:
            relations.append(found)
    if chan.kind in ('alternating', 'strided') or not relations:
        lead, others = chan, relations
    else:
        lead, others = relations[0], [chan] + relations[1:]
    detail = '; '.join([lead.detail] + [o.detail for o in others if o.detail])
    return Pattern(lead.kind, lead.channels or chan.channels, lead.period, lead.phase,
                   tuple(o.kind for o in others), detail, lead.extra)


def _ordinal(k: int) -> str:
    return {2: '2nd', 3: '3rd'}.get(k, f'{k}th')


def _list(items, limit: int = 8) -> str:
    items = [int(i) for i in items]
    text = ', '.join(str(i) for i in items[:limit])
    return text + (f' (+{len(items) - limit} more)' if len(items) > limit else '')


def _pairs(d: dict) -> str:
    return ', '.join(f'{k}: {v:.3g}' for k, v in list(d.items())[:6])
