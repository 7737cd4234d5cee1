"""What a what-if needs, made once: the model as its frontend loads it, the data lined up with its inputs,
hls4ml's own config for it, and a predictor (predict.py) on the samples the compare kept. `fix`, the
compare's headline hint (headline.py) and the sweep share them."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from hlsdiff.frontends import Frontend
    from hlsdiff.predict import Predictor
    from hlsdiff.trace.convert import ConvertOptions


@dataclass
class Loaded:
    """The model as its frontend loads it, and the data lined up with its inputs: loaded once per `fix`."""

    frontend: Frontend
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
    in, and hls4ml's settings (io_type, backend, part)."""
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
    return out, dict(settings)


def make_predictor(loaded: Loaded, collected, settings: dict, limit: int | None = None) -> Predictor:
    """A predictor on the samples the compare diagnosed, with the framework's values of every mapped layer.
    `limit`: at most this many of them, the samples wrong beyond rounding first (a what-if holds every
    layer's values of every sample it runs: the headline check keeps it small)."""
    from hlsdiff.trace.load import fit_to_inputs

    samples = fit_to_inputs(loaded.data, loaded.names, loaded.shapes, collected.diagnosed_samples or collected.samples)
    kept = _kept_rows(collected, samples.count, limit)
    arrays = tuple(a[kept.samples] for a in samples.arrays)
    expected = {name: a.expected[kept.rows] for name, a in collected.arrays.items() if a.expected is not None}
    softmax = tuple(info.name for info in collected.layers if info.class_name == 'Softmax')
    predictor = loaded.frontend.predictor(loaded.model, arrays, settings, expected, softmax)
    predictor.frame = {o['name']: _frame(o['_flipped'], kept.samples, samples.count, first)
                       for o in collected.outputs or () if o.get('_flipped') is not None
                       for first in [next((a.expected.shape[0] for a in collected.arrays.values()
                                           if a.expected is not None), samples.count)]}
    return predictor


def _frame(flipped, kept: np.ndarray, total: int, first_count: int):
    """How the kept rows stand for every sample, for one output's top-1 rate (predict.TopOneFrame)."""
    from hlsdiff.predict import TopOneFrame

    flipped_set = {int(f) for f in flipped}
    was_wrong = np.asarray([int(k) in flipped_set for k in kept], dtype=bool)
    return TopOneFrame(total, kept < first_count, was_wrong, sum(1 for f in flipped_set if f >= first_count))


@dataclass(frozen=True)
class _Kept:
    rows: np.ndarray  # rows of the compare's kept arrays
    samples: np.ndarray  # the same samples' indices in the data


def _kept_rows(collected, count: int, limit: int | None) -> _Kept:
    """The compare's kept rows (all samples, or the first chunk and the wrong ones when many streamed), at most
    `limit`, the wrong ones first, in their order in the data."""
    first = next((a.expected.shape[0] for a in collected.arrays.values() if a.expected is not None), count)
    kept = list(collected.kept_samples) if collected.kept_samples is not None else list(range(min(first, count)))
    order = list(range(len(kept)))
    if limit is not None and len(order) > limit:
        wrong = {s for check in (collected.checks or {}).values() for s in check.samples}
        order = sorted(sorted(order, key=lambda r: kept[r] not in wrong)[:limit])
    return _Kept(np.asarray(order, dtype=np.int64), np.asarray([kept[r] for r in order], dtype=np.int64))


def yaml_ready(value):
    """The config as YAML's safe dumper takes it: tuples (a PyTorch InputShape) as lists."""
    if isinstance(value, dict):
        return {k: yaml_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [yaml_ready(v) for v in value]
    return value
