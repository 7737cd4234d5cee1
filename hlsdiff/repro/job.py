"""`hlsdiff repro` after the compare: pick the layer, cut it out, confirm with hls4ml alone, write DIR."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from rich.console import Console

from hlsdiff.csim import processes as children
from hlsdiff.errors import BadInput, ConversionFailed, HlsdiffError
from hlsdiff.layers import Collected
from hlsdiff.repro import cut, issue
from hlsdiff.repro.frontend import ReproFrontend, registered
from hlsdiff.repro.target import NotADefect, Target, abort_target, resolve, worst_samples
from hlsdiff.request import CompareRequest
from hlsdiff.result import CompareResult
from hlsdiff.writable import writable

GROWTH = 2  # layers added before the target's own when it alone does not reproduce


@dataclass
class Compared:
    """What the compare produced: a result and its arrays, or the abort of a kernel."""

    result: CompareResult | None
    collected: Collected | None
    abort: HlsdiffError | None = None


CUTS = {'keras2': 'hlsdiff.repro.keras2', 'keras3': 'hlsdiff.repro.keras3', 'pytorch': 'hlsdiff.repro.pytorch',
        'onnx': 'hlsdiff.repro.onnx'}  # frontend -> its repro module


def check_model(model) -> None:
    """Before any work: a model repro can cut (Keras 2 / QKeras / HGQ v1, Keras 3, PyTorch, ONNX), else one line."""
    from hlsdiff import frontends

    if isinstance(model, (str, Path)) and Path(model).exists():
        name = frontends.name_for_path(Path(model))
        if name not in CUTS:
            raise BadInput(f'{model}: {_not_cut(frontends.get(name).label)}')


def _not_cut(label: str) -> str:
    return (f'hlsdiff repro writes reproducers of Keras 2, Keras 3, PyTorch and ONNX models; this {label} model '
            'can be compared, patched (--patch) and fixed')


def check_out_dir(out: Path) -> None:
    """Before any work: DIR's folder exists and is writable; DIR is a folder or absent."""
    parent = out.parent if str(out.parent) else Path('.')
    if out.exists() and not out.is_dir():
        raise BadInput(f'-o {out}: exists and is not a folder')
    if not parent.is_dir():
        raise BadInput(f'-o {out}: folder {parent} does not exist')
    if not writable(parent) or (out.is_dir() and not writable(out)):
        raise BadInput(f'-o {out}: not writable')


def write_repro(request: CompareRequest, layer: str, out: Path, compared: Compared, err: Console) -> issue.Written:
    """Cut, confirm in a fresh process, grow while it does not reproduce, then write DIR. `compared`: the
    compare it starts from, made by `request`."""
    src, target = _source(request, layer, compared)
    scratch = children.temp_dir('hlsdiff-')  # the prefix a killed run's leftovers are reclaimed by
    try:
        best = _reduce(src, target, scratch, err)
        return issue.finish(best, src, target, out, len(target.keras_layers))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def frontend_for(name: str) -> ReproFrontend:
    """The repro frontend of the compare's frontend `name` (its module registers itself on import)."""
    import importlib

    if name not in CUTS:
        from hlsdiff import frontends

        raise BadInput(_not_cut(frontends.get(name).label))
    importlib.import_module(CUTS[name])
    return registered(name)


def _source(request: CompareRequest, layer: str, compared: Compared) -> tuple[cut.Source, Target]:
    from hlsdiff import frontends
    from hlsdiff.project import open_project
    from hlsdiff.repro.config import full_config
    from hlsdiff.repro.kernels import edited_headers, edited_weights
    from hlsdiff.trace.load import check_model_path, fit_to_inputs, read_data

    path = check_model_path(str(request.model), request.weights, request.custom_objects)
    compared_with = frontends.for_source(path)
    keras_model = compared_with.load(path)
    frontend = frontend_for(compared_with.name)
    if compared.abort is not None:
        target = abort_target(layer, compared.abort.message, keras_model, frontend)
    else:
        assert compared.result is not None and compared.collected is not None
        target = resolve(layer, compared.result, compared.collected, keras_model, frontend)
    arrays = read_data(str(request.data))
    names, shapes = compared_with.inputs(keras_model, arrays)
    samples = fit_to_inputs(arrays, names, shapes, request.run.samples).arrays[0]
    project = open_project(request.run.project_dir) if request.run.project_dir else None
    hls, settings = full_config(keras_model, request.convert, project, compared_with)
    frontend.configure(keras_model, hls)
    kernels = edited_headers(project.path, settings['Backend']) if project is not None else []
    weights = edited_weights(project.path, target) if project is not None else []
    chosen = worst_samples(compared.collected, target, samples.shape[0])
    suffix = Path(str(path.path)).suffix.lower()
    src = cut.Source(keras_model, frontend, compared.collected, samples, chosen, hls, settings, suffix, kernels,
                     weights)
    if not target.tolerance:  # an abort: the layer's range bound (5%), from Keras's own values of it
        values = frontend.values(keras_model, samples[chosen], target.keras_layers[-1])
        target = replace(target, tolerance=0.05 * float(np.max(np.abs(values)) or 1.0))
    return src, target


def _reduce(src: cut.Source, target: Target, scratch: Path, err: Console) -> cut.Candidate:
    """The target's own layers, then one and two layers before them, then the model up to the layer."""
    layers = list(target.keras_layers)
    for step in range(GROWTH + 1):
        err.print(f'hlsdiff: trying {" + ".join(layers)} alone with hls4ml', highlight=False)
        found = cut.try_cut(src, target, layers, scratch / f'cut{step}', scratch)
        if found.confirmed.reproduced:
            return found
        if found.confirmed.failed:
            raise _hls4ml_failed(found)
        feeding = src.frontend.input_of(src.model, layers[0])
        if not feeding:
            break
        layers = [feeding] + layers
    err.print('hlsdiff: no cut reproduces; trying the model up to the layer', highlight=False)
    found = cut.try_prefix(src, target, scratch / 'prefix', scratch)
    if found.confirmed.reproduced:
        return found
    if found.confirmed.failed:
        raise _hls4ml_failed(found)
    raise NotADefect(f'{target.layer}: hls4ml alone does not reproduce the defect (the layer cut out, with up to '
                     f'{GROWTH} layers before it, and the model up to it all match {src.frontend.label} on the samples '
                     'that show it); no reproducer written', detail=found.confirmed.stdout[-2000:])


def _hls4ml_failed(found: cut.Candidate) -> ConversionFailed:
    tail = (found.confirmed.stderr.strip().splitlines() or ['no output'])[-1]
    return ConversionFailed(f'hls4ml failed on the reduced model ({" + ".join(found.layers)}): {tail}',
                            detail=found.confirmed.stderr[-4000:])


