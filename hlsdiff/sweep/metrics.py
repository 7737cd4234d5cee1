"""The task metric of a classifier output against labels: accuracy and the AUC of every class (one
against the rest), as the hls4ml paper's figure of merit. Pure functions over arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hlsdiff.errors import BadInput


@dataclass(frozen=True)
class TaskMetrics:
    accuracy: float
    auc: tuple[float, ...]  # per class; NaN for a class without positives or negatives

    @property
    def auc_mean(self) -> float:
        finite = [a for a in self.auc if np.isfinite(a)]
        return float(np.mean(finite)) if finite else float('nan')

    def to_json(self) -> dict:
        return {'accuracy': self.accuracy, 'auc': [None if not np.isfinite(a) else a for a in self.auc]}

    @classmethod
    def from_json(cls, data: dict) -> TaskMetrics:
        return cls(float(data['accuracy']), tuple(float('nan') if a is None else float(a) for a in data['auc']))


def class_labels(labels: np.ndarray, samples: int, classes: int | None = None) -> np.ndarray:
    """Labels as class indices, shape (samples,): from indices (N,) or one-hot / scores (N, C)."""
    y = np.asarray(labels)
    if y.ndim == 2:
        y = np.argmax(y, axis=1)
    if y.ndim != 1:
        raise BadInput(f'--labels: expected class indices (N,) or one-hot (N, C), got shape {labels.shape}')
    if y.shape[0] < samples:
        raise BadInput(f'--labels: {y.shape[0]} labels for {samples} samples')
    y = y[:samples]
    if not np.all(np.isfinite(y)) or not np.all(np.equal(np.mod(y, 1), 0)) or (y.size and y.min() < 0):
        raise BadInput('--labels: class indices must be whole numbers >= 0')
    if classes is not None and y.size and int(y.max()) >= classes:
        raise BadInput(f'--labels: class {int(y.max())} for an output of {classes} classes')
    return y.astype(np.int64)


def task_metrics(scores: np.ndarray, labels: np.ndarray) -> TaskMetrics:
    """Accuracy of the top-1 class and the AUC of every class, for scores (N, C) and class indices (N,)."""
    s = np.asarray(scores, dtype=np.float64).reshape(len(labels), -1)
    accuracy = float(np.mean(np.argmax(s, axis=1) == labels)) if len(labels) else float('nan')
    return TaskMetrics(accuracy, tuple(auc(s[:, c], labels == c) for c in range(s.shape[1])))


def auc(score: np.ndarray, positive: np.ndarray) -> float:
    """The area under the ROC curve: the chance that a positive scores above a negative (ties count half),
    by the ranks of the scores (Mann-Whitney)."""
    n_pos = int(np.sum(positive))
    n_neg = positive.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float('nan')
    order = np.argsort(score, kind='mergesort')
    sorted_scores = score[order]
    ranks = np.empty(score.size, dtype=np.float64)
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    mean_rank = first + (counts + 1) / 2.0  # 1-based average rank of each run of equal scores
    ranks[order] = np.repeat(mean_rank, counts)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))
