"""Per-layer and per-channel differences between Keras and the C-simulation (pure numpy)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hlsdiff.vocabulary import Status

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


def status_of(stats: Stats, lsb: float | None) -> Status:
    """`ok` within one LSB of the result type, `noise` while few elements exceed the
    tolerance, `mismatch` otherwise."""
    if stats.max_abs <= (lsb * 1.000001 if lsb else 1e-6 * stats.scale):
        return 'ok'
    if stats.mismatched_fraction <= NOISE_FRACTION:
        return 'noise'
    return 'mismatch'


class StatsAccumulator:
    """`diff` over samples that arrive in chunks: the same Stats, without holding every sample.

    The layer's range (`scale`, hence the tolerance) must be known up front: the caller measures
    it in a first pass over the Keras values.
    """

    def __init__(self, lsb: float | None, scale: float):
        self.lsb, self.scale = lsb, scale
        self.tol = element_tolerance(lsb, scale)
        self.max_abs = -1.0
        self.worst: tuple[int, ...] = ()
        self.sum_abs = self.sum_sq = 0.0
        self.total = self.mismatched = 0
        self.ch_max: np.ndarray | None = None
        self.ch_sum: np.ndarray | None = None
        self.ch_bad: np.ndarray | None = None
        self.rows = 0

    def add(self, expected: np.ndarray, actual: np.ndarray, offset: int) -> None:
        """One chunk `(n, ..., C)` whose first sample is sample `offset` of the whole set."""
        err = np.abs(np.asarray(actual, dtype=np.float64) - np.asarray(expected, dtype=np.float64))
        if err.size == 0:
            return
        flat = err.reshape(-1, err.shape[-1]) if err.ndim > 1 else err.reshape(-1, 1)
        bad = flat > self.tol
        peak = float(err.max())
        if peak > self.max_abs:
            self.max_abs = peak
            index = np.unravel_index(int(np.argmax(err)), err.shape)
            self.worst = (int(index[0]) + offset, *(int(i) for i in index[1:]))
        self.sum_abs += float(err.sum())
        self.sum_sq += float(np.sum(err**2))
        self.total += int(err.size)
        self.mismatched += int(bad.sum())
        ch_max, ch_sum, ch_bad = flat.max(axis=0), flat.sum(axis=0), bad.sum(axis=0)
        if self.ch_max is None:
            self.ch_max, self.ch_sum, self.ch_bad = ch_max, ch_sum, ch_bad
        else:
            self.ch_max = np.maximum(self.ch_max, ch_max)
            self.ch_sum, self.ch_bad = self.ch_sum + ch_sum, self.ch_bad + ch_bad
        self.rows += flat.shape[0]

    def stats(self) -> Stats:
        rows = max(self.rows, 1)
        max_abs = max(self.max_abs, 0.0)
        return Stats(
            max_abs=max_abs,
            mean_abs=self.sum_abs / self.total if self.total else 0.0,
            rmse=float(np.sqrt(self.sum_sq / self.total)) if self.total else 0.0,
            max_lsb=(max_abs / self.lsb) if self.lsb else None,
            mismatched=self.mismatched,
            total=self.total,
            worst_index=self.worst,
            per_channel_max=tuple(float(v) for v in (self.ch_max if self.ch_max is not None else ())),
            per_channel_mean=tuple(float(v) / rows for v in (self.ch_sum if self.ch_sum is not None else ())),
            per_channel_fraction=tuple(float(v) / rows for v in (self.ch_bad if self.ch_bad is not None else ())),
            scale=self.scale,
            tolerance=self.tol,
        )


def classifier_shaped(expected: np.ndarray, is_softmax: bool = False) -> bool:
    """A class axis of two or more whose Keras values are probabilities (non-negative rows
    summing to 1), or the output of a softmax."""
    return classifier_kind(expected, is_softmax) is not None


def classifier_kind(expected: np.ndarray, is_softmax: bool = False, logits_head: bool = False) -> str | None:
    """How an output is recognised as a classifier (docs/gate.md): `softmax` (the output of a softmax),
    `probabilities` (non-negative rows summing to 1 over a class axis of two or more), `logits` (a linear
    dense head of two or more classes, as the caller decides), or None."""
    classes = expected.shape[-1] if expected.ndim >= 2 else 1
    if classes < 2:
        return None
    if is_softmax:
        return 'softmax'
    if bool(np.all(expected >= -1e-6)) and bool(np.allclose(expected.sum(axis=-1), 1.0, atol=1e-3)):
        return 'probabilities'
    return 'logits' if logits_head and expected.ndim == 2 else None


WRONG_LISTED = 10_000  # an output's wrong samples listed in the JSON (the count is always given)


class OutputAccumulator:
    """One model output over chunks: top-1 agreement (any class axis of two or more; reported for
    classifiers), the samples whose top-1 flipped, each sample's largest error, max and mean abs error."""

    def __init__(self, name: str, classifier: bool | str | None):
        self.name = name
        self.kind = classifier if isinstance(classifier, str) else ('probabilities' if classifier else None)
        self.agree = self.rows = self.count = 0
        self.max_abs = self.sum_abs = 0.0
        self.flipped: list[int] = []
        self.margins: list[float] = []  # per flipped sample: the framework's top score minus the chosen class's
        self.sample_max: list[np.ndarray] = []

    @property
    def classifier(self) -> bool:
        return self.kind is not None

    def add(self, expected: np.ndarray, actual: np.ndarray, offset: int = 0) -> None:
        """One chunk whose first sample is sample `offset`."""
        err = np.abs(np.asarray(expected, dtype=np.float64) - np.asarray(actual, dtype=np.float64))
        if err.size == 0:
            return
        self.max_abs = max(self.max_abs, float(err.max()))
        self.sum_abs += float(err.sum())
        self.count += int(err.size)
        self.sample_max.append(err.reshape(err.shape[0], -1).max(axis=1))
        classes = expected.shape[-1] if expected.ndim >= 2 else 1
        if classes >= 2:
            want = np.asarray(expected, dtype=np.float64).reshape(-1, classes)
            top, chosen = np.argmax(want, axis=1), np.argmax(np.asarray(actual).reshape(-1, classes), axis=1)
            same = top == chosen
            self.agree += int(same.sum())
            self.rows += int(same.size)
            if same.size == err.shape[0]:  # one class axis per sample: the flipped samples by index
                rows = np.flatnonzero(~same)
                self.flipped.extend(int(i) + offset for i in rows)
                self.margins.extend(float(m) for m in want[rows, top[rows]] - want[rows, chosen[rows]])

    def result(self) -> dict:
        """The JSON figures; the per-sample ones (`_top1`, `_flipped`, `_margins`, `_sample_max`) stay out of the JSON."""
        top1 = (self.agree / self.rows) if self.rows else None
        return {'name': self.name, 'top1_agreement': top1 if self.classifier else None,
                'max_abs': self.max_abs, 'mean_abs': self.sum_abs / self.count if self.count else 0.0,
                'classifier': self.kind, '_top1': top1, '_flipped': self.flipped, '_margins': self.margins,
                '_rows': self.rows,
                '_sample_max': np.concatenate(self.sample_max) if self.sample_max else np.zeros(0)}
