"""Per-layer and per-channel differences between Keras and the C-simulation (pure numpy)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# A layer's error is "small" within NOISE_LSB LSBs of its result type or NOISE_RTOL of its
# range, whichever is larger; it is noise while at most NOISE_FRACTION of its elements
# exceed that. These three numbers are the whole status policy; the diagnosis uses them too.
NOISE_LSB = 4.0
NOISE_RTOL = 0.05
NOISE_FRACTION = 0.01


@dataclass(frozen=True)
class Stats:
    """What `diff` measured for one layer. Channels are the last axis."""

    max_abs: float
    mean_abs: float
    rmse: float
    max_lsb: float | None
    mismatched: int
    total: int
    worst_index: tuple[int, ...]
    per_channel_max: tuple[float, ...]
    per_channel_mean: tuple[float, ...]
    per_channel_fraction: tuple[float, ...]
    scale: float
    tolerance: float

    @property
    def mismatched_fraction(self) -> float:
        return self.mismatched / self.total if self.total else 0.0

    def worst_channels(self, n: int = 3) -> list[int]:
        order = np.argsort(self.per_channel_max)[::-1]
        return [int(c) for c in order[:n] if self.per_channel_max[c] > 0]


def scale_of(expected: np.ndarray, actual: np.ndarray) -> float:
    """The layer's range: the largest |Keras value| (or |C-sim value| when Keras is all zero)."""
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    if scale == 0.0 and actual.size:
        scale = float(np.max(np.abs(actual)))
    return scale or 1.0


def element_tolerance(lsb: float | None, scale: float) -> float:
    return max(NOISE_LSB * lsb if lsb else 0.0, NOISE_RTOL * scale)


def diff(expected: np.ndarray, actual: np.ndarray, lsb: float | None, scale: float | None = None) -> Stats:
    """Compare two `(N, ..., C)` arrays in float64, so that nothing wraps or rounds twice."""
    expected = np.asarray(expected, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    if expected.shape != actual.shape:
        raise ValueError(f'shapes differ: {expected.shape} vs {actual.shape}')
    err = np.abs(actual - expected)
    scale = scale_of(expected, actual) if scale is None else scale
    tol = element_tolerance(lsb, scale)
    bad = err > tol
    channels = err.reshape(-1, err.shape[-1]) if err.ndim > 1 else err.reshape(-1, 1)
    bad_channels = bad.reshape(channels.shape)
    max_abs = float(err.max()) if err.size else 0.0
    return Stats(
        max_abs=max_abs,
        mean_abs=float(err.mean()) if err.size else 0.0,
        rmse=float(np.sqrt(np.mean(err**2))) if err.size else 0.0,
        max_lsb=(max_abs / lsb) if lsb else None,
        mismatched=int(bad.sum()),
        total=int(err.size),
        worst_index=tuple(int(i) for i in np.unravel_index(int(np.argmax(err)), err.shape)) if err.size else (),
        per_channel_max=tuple(float(v) for v in channels.max(axis=0)),
        per_channel_mean=tuple(float(v) for v in channels.mean(axis=0)),
        per_channel_fraction=tuple(float(v) for v in bad_channels.mean(axis=0)),
        scale=scale,
        tolerance=tol,
    )


def status_of(stats: Stats, lsb: float | None) -> str:
    """`ok` within one LSB of the result type, `noise` while few elements exceed the
    tolerance, `mismatch` otherwise."""
    if stats.max_abs <= (lsb * 1.000001 if lsb else 1e-6 * stats.scale):
        return 'ok'
    if stats.mismatched_fraction <= NOISE_FRACTION:
        return 'noise'
    return 'mismatch'
