"""The sweep on objects in memory (`hlsdiff.sweep(model, X, grid, ...)`): a Keras 2 model object or a path, the
samples as an array, the grid as a mapping; the table back as a pandas DataFrame. Silent unless `verbose`."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# what `options` may hold: where the points are kept, how many front points to confirm, the local cluster's
# size, and the compare options that apply to a sweep
SWEEP_OPTIONS = ('out_dir', 'confirm', 'workers')
COMPARE_OPTIONS = ('io_type', 'backend', 'strategy', 'reuse_factor', 'precision', 'part', 'samples', 'opt_level',
                   'cache_dir', 'no_cache', 'plain_build', 'timeout', 'custom_objects', 'weights', 'config')


def sweep_objects(model: Any, X: Any, grid: Any, labels: Any, client: Any, verbose: bool,
                  options: dict[str, Any]) -> pd.DataFrame:
    """The sweep of `model` on `X` over `grid` (a mapping name -> values, or a YAML path); `client`: a
    dask.distributed.Client to run the points on (else a local cluster of `workers` processes). Without
    `out_dir`, the points are kept in a temporary folder (nothing to resume)."""
    from rich.console import Console

    from hlsdiff.cluster import cluster_spec
    from hlsdiff.request import CompareRequest
    from hlsdiff.sweep.command import progress_bar
    from hlsdiff.sweep.engine import run_sweep
    from hlsdiff.sweep.grid import read_grid
    from hlsdiff.sweep.run import SweepRequest
    from hlsdiff.trace.load import ModelFile

    unknown = sorted(set(options) - set(SWEEP_OPTIONS) - set(COMPARE_OPTIONS))
    if unknown:
        raise TypeError(f'unknown option(s): {", ".join(unknown)} (known: {", ".join(SWEEP_OPTIONS + COMPARE_OPTIONS)})')
    opts = {k: v for k, v in options.items() if k in COMPARE_OPTIONS}
    opts.update(granularity='name', quiet=True)
    if not isinstance(model, (str, os.PathLike)):
        model = ModelFile(Path(f'{getattr(model, "name", None) or "model"}.in-memory'), obj=model)
    data = X if isinstance(X, (str, os.PathLike)) else np.asarray(X)
    with tempfile.TemporaryDirectory(prefix='hlsdiff-sweep-') as tmp:
        out_dir = Path(options['out_dir']) if options.get('out_dir') else Path(tmp) / 'sweep'
        request = SweepRequest(CompareRequest.from_options(model, data, opts), read_grid(grid), out_dir, labels,
                               int(options.get('confirm', 1)), cluster_spec(options.get('workers'), None, client))
        with progress_bar(Console(stderr=True, quiet=not verbose)) as progress:
            return run_sweep(request, progress).frame
