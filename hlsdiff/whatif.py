"""What a what-if needs, made once: the model as its frontend loads it, the data lined up with its inputs,
hls4ml's own config for it, and a predictor (predict.py) on the samples the compare kept. `fix`, the
compare's headline hint (headline.py) and the sweep share them."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from hlsdiff.trace.convert import ConvertOptions


@dataclass
class Loaded:
    """The model as its frontend loads it, and the data lined up with its inputs: loaded once per `fix`."""

    frontend: Any
    model: Any
    data: Any  # what read_data gave
    names: list[str]
    shapes: list[tuple[int, ...]]


def load(source, data) -> Loaded:
    from hlsdiff import frontends
    from hlsdiff.trace.load import read_data

    frontend = frontends.for_source(source)
    model = frontend.load(source)
    arrays = read_data(data)
    names, shapes = frontend.inputs(model, arrays)
    return Loaded(frontend, model, arrays, names, shapes)


def initial_config(loaded: Loaded, conv: ConvertOptions) -> tuple[dict, dict]:
    """hls4ml's own config for the model (Model / LayerName, as config_from_keras_model writes it; for
    PyTorch also InputShape, as config_from_pytorch_model does) with the user's config and options merged
    in. The settings carry the frontend's name (`frontend`)."""
    from hlsdiff.trace.convert import build_config

    cfg, settings, _ = build_config(loaded.model, conv, loaded.frontend)
    cfg = copy.deepcopy(cfg)
    for entry in (cfg.get('LayerName') or {}).values():
        entry.pop('Trace', None)
    keep = ('Model', 'LayerName') + (('InputShape',) if 'InputShape' in cfg else ())  # not the model object
    out = {k: yaml_ready(cfg.get(k, {})) for k in keep}
    if 'InputShape' in out and all(isinstance(d, int) for d in out['InputShape']):
        # one input's shape as a list of shapes: hls4ml reads a tuple as one shape and a list as several, and a
        # YAML file has no tuples
        out['InputShape'] = [out['InputShape']]
    return out, {**settings, 'frontend': loaded.frontend.name}


def make_predictor(loaded: Loaded, collected, settings: dict):
    """A predictor on the samples the compare diagnosed, with the framework's values of every mapped layer."""
    from hlsdiff.predict import Predictor
    from hlsdiff.trace.load import fit_to_inputs

    samples = fit_to_inputs(loaded.data, loaded.names, loaded.shapes, collected.diagnosed_samples or collected.samples)
    arrays = samples.arrays
    if collected.kept_samples is not None:  # many samples streamed: the ones the compare kept, wrong ones included
        rows = np.asarray(collected.kept_samples, dtype=np.int64)
        arrays = tuple(a[rows] for a in arrays)
    expected = {name: a.expected for name, a in collected.arrays.items() if a.expected is not None}
    softmax = tuple(info.name for info in collected.layers if info.class_name == 'Softmax')
    frontend, model = loaded.frontend, loaded.model
    if frontend.name == 'keras2':
        return Predictor(model, arrays, settings, expected, softmax)
    return Predictor(None, arrays, settings, expected, softmax,
                     convert=lambda **kwargs: frontend.hls4ml_convert(model, **kwargs), input_layout=frontend.csim_layout)


def yaml_ready(value):
    """The config as YAML's safe dumper takes it: tuples (a PyTorch InputShape) as lists."""
    if isinstance(value, dict):
        return {k: yaml_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [yaml_ready(v) for v in value]
    return value
