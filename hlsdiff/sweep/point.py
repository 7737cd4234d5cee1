"""One point of a sweep, predicted: what a worker runs.

The worker gets the model as bytes and the samples as arrays (a worker of a cluster may not see the
files the sweep was started from), loads the model once and keeps a predictor for it
(`predict.Predictor`: hls4ml's own conversion for the point's config, no g++, every layer emulated
bit for bit to the outputs). A point comes back with its outputs' error against the framework, its
task metric against the labels, and its cost; a point whose project has a layer the emulation does not
cover comes back `incomplete` (the sweep measures it with the C-simulation), one hls4ml rejects `failed`.
"""

from __future__ import annotations

import atexit
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from hlsdiff.errors import HlsdiffError
from hlsdiff.predict import Predictor
from hlsdiff.sweep.cost import Cost, cost_of
from hlsdiff.sweep.grid import Point
from hlsdiff.sweep.metrics import TaskMetrics, task_metrics

Method = Literal['predicted', 'csim', 'incomplete', 'failed']


@dataclass(frozen=True)
class Settings:
    """The project settings hls4ml takes beside the config."""

    io_type: str = 'io_parallel'
    backend: str = 'Vivado'
    part: str | None = None

    def as_dict(self) -> dict:
        return {'io_type': self.io_type, 'backend': self.backend, 'part': self.part}


@dataclass(frozen=True)
class FrameworkSide:
    """What a worker needs beside the model file: the framework's values of each output layer (by hls4ml's name,
    in hls4ml's layout; a Keras 2 predictor predicts its outputs itself), the softmax outputs, the input names,
    and the file of --custom-objects."""

    expected: dict[str, np.ndarray]
    softmax: tuple[str, ...] = ()
    input_names: tuple[str, ...] = ()
    custom_objects: tuple[str, bytes, str] | None = None  # (file name, its bytes, the spec's ':Class' or '')


@dataclass(frozen=True)
class Payload:
    """What every worker needs, shipped once: the model file's bytes, the samples, the labels."""

    digest: str  # of all of it: a worker keeps one loaded model per digest
    model_bytes: bytes
    model_suffix: str
    x: tuple[np.ndarray, ...]
    labels: np.ndarray | None = None  # class indices (N,)
    framework: FrameworkSide = FrameworkSide({})


@dataclass(frozen=True)
class PointTask:
    """One point to compute: the grid point, its whole hls4ml config and settings, its content key."""

    point: Point
    key: str
    config: dict = field(compare=False)
    settings: Settings = Settings()


@dataclass(frozen=True)
class OutputFigures:
    """One model output against the framework."""

    name: str
    max_abs: float
    top1_agreement: float | None

    def to_json(self) -> dict:
        return {'name': self.name, 'max_abs': self.max_abs, 'top1_agreement': self.top1_agreement}


@dataclass(frozen=True)
class PointResult:
    """A point's figures: how they were obtained, the outputs, the task metric, the cost."""

    key: str
    method: Method
    note: str = ''
    outputs: tuple[OutputFigures, ...] = ()
    task: TaskMetrics | None = None
    cost: Cost | None = None
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {'key': self.key, 'method': self.method, 'note': self.note,
                'outputs': [o.to_json() for o in self.outputs],
                'task': self.task.to_json() if self.task is not None else None,
                'cost': self.cost.to_json() if self.cost is not None else None, 'seconds': self.seconds}

    @classmethod
    def from_json(cls, data: dict) -> PointResult:
        return cls(data['key'], data['method'], data.get('note', ''),
                   tuple(OutputFigures(o['name'], float(o['max_abs']), o['top1_agreement']) for o in data['outputs']),
                   TaskMetrics.from_json(data['task']) if data.get('task') else None,
                   Cost.from_json(data['cost']) if data.get('cost') else None, float(data.get('seconds', 0.0)))


class SweepPredictor(Predictor):
    """The fix's predictor, keeping also what a sweep reads of each point: the cost of the model hls4ml
    converted, and the emulated output values (for the task metric)."""

    cost: Cost | None
    values: dict[str, np.ndarray]

    @classmethod
    def adopt(cls, predictor: Predictor) -> SweepPredictor:
        """The frontend's predictor (its converter, its reference) as a sweep's."""
        adopted = cls.__new__(cls)
        adopted.__dict__.update(predictor.__dict__)
        return adopted

    def _write(self, config: dict, folder: Path):
        hls_model = super()._write(config, folder)
        self.cost = cost_of(hls_model)
        return hls_model

    def _outputs(self, hls_model, program, values: dict[str, np.ndarray]):
        out = super()._outputs(hls_model, program, values)
        self.values = {o.name: values[o.name] for o in out}
        return out


_LOADED: dict[str, SweepPredictor] = {}


def _predictor(payload: Payload) -> SweepPredictor:
    """This worker's predictor of the payload's model (loaded once per worker)."""
    if payload.digest not in _LOADED:
        for old in _LOADED.values():
            old.close()
        _LOADED.clear()
        with tempfile.TemporaryDirectory(prefix='hlsdiff-sweep-model-') as folder:  # the model is read whole
            _LOADED[payload.digest] = _loaded_predictor(payload, Path(folder))
    return _LOADED[payload.digest]


def _loaded_predictor(payload: Payload, folder: Path) -> SweepPredictor:
    """The model loaded from the payload's bytes by its frontend, and the frontend's predictor for it (hls4ml's
    converter for the framework; the framework's output values in the payload as the reference)."""
    from hlsdiff import frontends
    from hlsdiff.trace.load import check_model_path

    path = folder / f'model{payload.model_suffix}'
    path.write_bytes(payload.model_bytes)
    side = payload.framework
    custom = None
    if side.custom_objects is not None:
        name, data, cls = side.custom_objects
        (folder / name).write_bytes(data)
        custom = f'{folder / name}{cls}'
    source = check_model_path(path, None, custom)
    frontend = frontends.for_source(source)
    model = frontend.load(source)
    frontend.inputs(model, payload.x[0] if len(payload.x) == 1 else dict(zip(side.input_names, payload.x)))
    return SweepPredictor.adopt(frontend.predictor(model, payload.x, Settings().as_dict(), side.expected, side.softmax))


@atexit.register
def _close() -> None:
    for predictor in _LOADED.values():
        predictor.close()


def predict_point(payload: Payload, task: PointTask) -> PointResult:
    """A point predicted (hls4ml's conversion and the emulation, no g++); `failed` when hls4ml rejects it."""
    started = time.perf_counter()
    predictor = _predictor(payload)
    predictor.settings = task.settings.as_dict()  # this point's project settings (one point at a time per worker)
    try:
        prediction = predictor.predict(task.config)
    except HlsdiffError as exc:
        return PointResult(task.key, 'failed', exc.message, seconds=round(time.perf_counter() - started, 3))
    outputs = tuple(OutputFigures(o.name, o.max_abs, o.top1_agreement) for o in prediction.outputs)
    seconds = round(time.perf_counter() - started, 3)
    if not prediction.complete:
        why = '; '.join(f'{k}: {v}' for k, v in list(prediction.not_emulated.items())[:2]) or 'no output reached'
        return PointResult(task.key, 'incomplete', f'not emulated: {why}', outputs, None, predictor.cost, seconds)
    first = prediction.outputs[0].name
    metrics = task_metrics(predictor.values[first], payload.labels) if payload.labels is not None else None
    return PointResult(task.key, 'predicted', '', outputs, metrics, predictor.cost, seconds)

