"""`hlsdiff sweep`: a grid of hls4ml configs predicted point by point on Dask, the Pareto front of task figure
against BOPs, its best points confirmed by the C-simulation (see run.py for the steps).

The package is callable: `hlsdiff.sweep(model, X, grid, labels=None, client=None)` is `hlsdiff.api.sweep`
(the package and the function share the name `hlsdiff.sweep`).
"""

from __future__ import annotations

import sys
import types

from hlsdiff.cluster import ClusterSpec
from hlsdiff.sweep.engine import SweepResult, run_sweep
from hlsdiff.sweep.grid import Grid, read_grid
from hlsdiff.sweep.run import SweepProgress, SweepRequest

__all__ = ['ClusterSpec', 'Grid', 'SweepProgress', 'SweepRequest', 'SweepResult', 'read_grid', 'run_sweep']


class _Callable(types.ModuleType):
    def __call__(self, *args, **kwargs):
        from hlsdiff.sweep.library import sweep_objects

        return sweep_objects(*_api_arguments(*args, **kwargs))


def _api_arguments(model, X, grid, labels=None, client=None, verbose=False, **options):
    """hlsdiff.api.sweep's signature, as sweep_objects takes it."""
    return model, X, grid, labels, client, verbose, options


sys.modules[__name__].__class__ = _Callable
