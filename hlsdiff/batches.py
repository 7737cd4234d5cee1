"""Framework forward passes in batches of one fixed size, whatever the number of samples.

A framework's float32 result for a sample depends on the size of the batch it is computed in (the matrix
kernels block and vectorise by it). Computing every sample in a batch of the same size, the last one padded
with zero samples, makes a layer's values the same whether the samples arrive whole or in chunks
(`--chunk`), so streamed figures equal the whole-array ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

BATCH = 64


def fixed_batches(inputs: Sequence[np.ndarray], batch: int = BATCH) -> Iterator[tuple[int, list[np.ndarray]]]:
    """`(count, arrays)` per batch: `count` real samples, then zero samples up to `batch` rows."""
    n = inputs[0].shape[0]
    for start in range(0, n, batch):
        count = min(batch, n - start)
        arrays = [np.asarray(x[start:start + batch]) for x in inputs]
        if count < batch:
            arrays = [np.concatenate([a, np.zeros((batch - count, *a.shape[1:]), dtype=a.dtype)]) for a in arrays]
        yield count, arrays


def in_fixed_batches(run: Callable[[list[np.ndarray]], np.ndarray], arrays: Sequence[np.ndarray]) -> np.ndarray:
    """`run` on each fixed-size batch of `arrays` (see `fixed_batches`), the padding dropped, the parts joined."""
    if not len(arrays) or arrays[0].shape[0] == 0:
        return np.asarray(run(list(arrays)))
    return np.concatenate([np.asarray(run(batch))[:count] for count, batch in fixed_batches(arrays)])
