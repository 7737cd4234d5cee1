"""The Pareto front of a sweep: the points no other point beats on both the task figure and the cost."""

from __future__ import annotations

import numpy as np


def pareto(cost: np.ndarray, merit: np.ndarray) -> np.ndarray:
    """A mask of the points no other point dominates (cost lower or equal and merit higher or equal, one of
    them strictly). Points with a NaN are never on the front."""
    cost = np.asarray(cost, dtype=np.float64)
    merit = np.asarray(merit, dtype=np.float64)
    valid = np.isfinite(cost) & np.isfinite(merit)
    out = np.zeros(cost.shape, dtype=bool)
    for i in np.flatnonzero(valid):
        others = valid & (cost <= cost[i]) & (merit >= merit[i]) & ((cost < cost[i]) | (merit > merit[i]))
        out[i] = not others.any()
    return out


def best_first(cost: np.ndarray, merit: np.ndarray, mask: np.ndarray) -> list[int]:
    """The indices of the masked points, best merit first, then lowest cost."""
    idx = np.flatnonzero(mask)
    return [int(i) for i in sorted(idx, key=lambda i: (-merit[i], cost[i], i))]
