"""hlsdiff as a library, for notebooks and scripts: the same jobs as the CLI, on objects in memory.

    import hlsdiff
    r = hlsdiff.compare(model, X, hls_config=cfg, io_type='io_stream')   # Keras 2/3, torch.nn.Module, onnx.ModelProto, or a path
    r = hlsdiff.compare(hls_model, X)     # an hls4ml ModelGraph already converted: its config, project, Keras model
    r.ok, r.onset, r.to_frame(), r.channels_frame(), r.save('result.json')   # and r displays itself in Jupyter

Errors are raised as `hlsdiff.errors.HlsdiffError` (with `.exit_code`) rather than turned
into exit codes; nothing is printed unless `verbose=True`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from rich.console import Console

from hlsdiff.request import FixRequest
from hlsdiff.result import CompareResult

_OPTIONS = ('io_type', 'backend', 'strategy', 'reuse_factor', 'precision', 'granularity', 'part', 'samples',
            'output_dir', 'opt_level', 'cache_dir', 'no_cache', 'plain_build', 'timeout', 'max_error', 'max_lsb',
            'fail_on_pattern', 'max_mismatched_fraction', 'min_agreement', 'classifier', 'custom_objects', 'weights', 'headroom',
            'chunk', 'workers', 'scheduler')


def _opts(hls_config: dict | None, options: dict) -> dict:
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise TypeError(f'unknown option(s): {", ".join(unknown)} (known: {", ".join(_OPTIONS)})')
    opts = dict(options)  # typed as they come: a gate's limit a number or {layer: number} (request.limits)
    if hls_config is not None:
        opts['config'] = hls_config
    opts['quiet'] = True
    return opts


def _source(model, opts: dict, scratch: Path):
    """A ModelFile for a path, a Keras model object or an hls4ml ModelGraph (whose settings it takes)."""
    from hlsdiff.project import is_project
    from hlsdiff.trace.load import ModelFile, check_model_path

    if isinstance(model, (str, os.PathLike)):
        return check_model_path(model, opts.get('weights'), opts.get('custom_objects'))
    if type(model).__name__ == 'ModelGraph':  # hls4ml's: reuse its config, its project, its Keras model
        config = model.config.config
        keras_model = config.get('KerasModel')
        if keras_model is None:
            from hlsdiff.errors import BadInput

            raise BadInput('this hls4ml model has no Keras model in its config: give the Keras model instead')
        opts.setdefault('io_type', config.get('IOType'))
        opts.setdefault('backend', config.get('Backend'))
        project = Path(config.get('OutputDir', ''))
        if is_project(project):
            opts['project_dir'] = str(project)
        else:
            opts.setdefault('config', config.get('HLSConfig'))
        model = keras_model
    from hlsdiff.frontends import name_for_object

    if name_for_object(model) is not None:  # a Keras 2/3 model, a torch.nn.Module, an onnx.ModelProto
        return ModelFile(scratch / f'{getattr(model, "name", None) or type(model).__name__}.in-memory', obj=model,
                         custom_objects=opts.get('custom_objects'))
    raise TypeError('model must be a path, a Keras 2/3 model, a torch.nn.Module, an onnx.ModelProto or an hls4ml '
                    f'ModelGraph, not {type(model).__name__}')


def compare(model, X, hls_config: dict | None = None, verbose: bool = False, **options) -> CompareResult:
    """Compare a model with its hls4ml C-simulation on X (an array, or a dict of arrays by input name).

    Options are the CLI's, in Python form: io_type='io_stream', precision='ap_fixed<16,6>',
    max_error=0.1 or {'': 0.1, 'dense': 0.5}, min_agreement=0.99, cache_dir=..., output_dir=...
    """
    from hlsdiff import engine
    from hlsdiff.job import console_progress
    from hlsdiff.request import CompareRequest

    opts = _opts(hls_config, options)
    with tempfile.TemporaryDirectory(prefix='hlsdiff-api-') as tmp:
        request = CompareRequest.from_options(_source(model, opts, Path(tmp)), _data(X), opts)
        with console_progress(Console(stderr=True, quiet=not verbose)) as progress:
            outcome = engine.compare(request, progress)
    result = outcome.result
    result.arrays = outcome.collected.arrays if outcome.collected is not None else {}
    return result


def fix(model, X, hls_config: dict | None = None, output: str | os.PathLike = FixRequest.output,
        max_rounds: int = FixRequest.max_rounds, minimize: str | None = None, budget: float = FixRequest.budget,
        verbose: bool = False, **options) -> CompareResult:
    """`hlsdiff fix` on objects: returns the final compare, with `.fix` (rounds, changes, unfixable, config).
    Prints nothing unless `verbose` (then progress on stderr, the result and the changes on stdout)."""
    from hlsdiff.fixing.rounds import fix_model
    from hlsdiff.job import fix_progress, render_fixed

    opts = _opts(hls_config, options)
    opts.update(output=str(output), max_rounds=max_rounds, minimize=minimize, budget=budget, quiet=not verbose)
    with tempfile.TemporaryDirectory(prefix='hlsdiff-api-') as tmp:
        request = FixRequest.from_options(_source(model, opts, Path(tmp)), _data(X), opts)
        result = fix_model(request, fix_progress(Console(stderr=True, quiet=not verbose)))
    if verbose:
        render_fixed(result, Console(), verbose=False)
    return result


def sweep(model, X, grid, labels=None, client=None, verbose: bool = False, **options):
    """`hlsdiff sweep` on objects: every point of `grid` (a mapping name -> values, or a YAML path) predicted,
    the Pareto front marked and its best points measured; returns the table (a pandas DataFrame).

    `client`: a dask.distributed.Client to run the points on (else a local cluster). Options: out_dir (where
    the points are kept: a re-run resumes; a temporary folder when not given), confirm=1, workers=N, and
    compare's (precision=..., io_type=..., samples=..., cache_dir=...)."""
    from hlsdiff.sweep.library import sweep_objects

    return sweep_objects(model, X, grid, labels, client, verbose, options)


def patch(project_dir: str | os.PathLike, mode: str = 'write', build: bool = True) -> int:
    """`hlsdiff patch`: mode 'write', 'check', 'diff' or 'revert'; returns the CLI's exit code."""
    from hlsdiff.cpp.patcher import run_patch_command

    if mode not in ('write', 'check', 'diff', 'revert'):
        raise ValueError(f"mode must be 'write', 'check', 'diff' or 'revert', not {mode!r}")
    return run_patch_command(Path(project_dir), mode, build=build)


def _data(X):
    if isinstance(X, (str, os.PathLike)):
        return X
    if isinstance(X, dict):
        return {k: np.asarray(v) for k, v in X.items()}
    return np.asarray(X)
