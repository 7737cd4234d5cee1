"""`hlsdiff sweep`: every point of a grid predicted on a Dask cluster, the Pareto front, its best points
confirmed by the C-simulation.

1. The model is loaded once here; the grid is checked against it; every point's whole hls4ml config is
   built (hls4ml's own config for the model with the user's config, the options and the point merged in).
2. Points already in the output folder (by content key) are reused; the others are predicted on the
   cluster and stored as each finishes. A point the emulation cannot cover is measured with the C-simulation.
3. The front (task figure against BOPs) is marked; its best K predicted points are measured with the
   C-simulation: predicted and measured side by side, a difference beyond 1e-9 an emulation bug.
Nothing here prints: progress goes to the `SweepProgress` callbacks.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hlsdiff.cluster import ClusterSpec, client_for
from hlsdiff.errors import BadInput
from hlsdiff.request import CompareRequest
from hlsdiff.sweep.cluster import run_points
from hlsdiff.sweep.grid import Grid, check_layers
from hlsdiff.sweep.measure import EMULATION_TOLERANCE, Measure, disagreement, measure
from hlsdiff.sweep.metrics import TaskMetrics, class_labels, task_metrics
from hlsdiff.sweep.point import Payload, PointResult, PointTask, Settings
from hlsdiff.sweep.store import Store, digest_of, point_key


@dataclass(frozen=True)
class SweepRequest:
    """One sweep: the compare it varies (model, data, the user's conversion and run options), the grid, where
    its results go, the labels, how many front points to confirm, and where the points run."""

    compare: CompareRequest
    grid: Grid
    out_dir: Path
    labels: Any = None  # a path to a .npy, or an array: class indices (N,) or one-hot (N, C)
    confirm: int = 1
    cluster: ClusterSpec = ClusterSpec()


@dataclass
class SweepProgress:
    """Callbacks: `start(total, reused)` once the points are known, `point(result)` as each finishes,
    `phase(text)` for the steps around them."""

    start: Callable[[int, int], None] = lambda total, reused: None
    point: Callable[[PointResult], None] = lambda result: None
    phase: Callable[[str], None] = lambda text: None


@dataclass
class Prepared:
    """The sweep's inputs, loaded and checked once: the payload for the workers and every point's task."""

    payload: Payload
    tasks: list[PointTask]
    outputs_framework: TaskMetrics | None
    measure: Measure
    model_name: str


@dataclass
class SweepOutcome:
    """What the sweep computed: every point's figures, what was reused, the confirmations."""

    prepared: Prepared
    results: dict[str, PointResult]  # by key
    reused: set[str] = field(default_factory=set)
    confirmed: dict[str, PointResult] = field(default_factory=dict)  # key -> measured
    seconds: float = 0.0


def prepare(request: SweepRequest) -> Prepared:
    """Load the model and the data, check the grid against the model, build every point's task."""
    from hlsdiff._version import __version__
    from hlsdiff.engine import hls4ml_version
    from hlsdiff.trace.convert import build_config
    from hlsdiff.trace.load import check_model_path, fit_to_inputs
    from hlsdiff.whatif import load

    source = check_model_path(request.compare.model, request.compare.weights, request.compare.custom_objects)
    model_bytes, suffix = _model_bytes(source)
    loaded = load(source, request.compare.data)
    samples = fit_to_inputs(loaded.data, loaded.names, loaded.shapes, request.compare.run.samples)
    x = tuple(np.asarray(a) for a in samples.arrays)
    framework = _framework_outputs(loaded.model, x)
    labels = None
    if request.labels is not None:
        labels = class_labels(_array(request.labels), len(x[0]), framework.shape[-1] if framework.ndim > 1 else None)
    base_config, _, _ = build_config(loaded.model, request.compare.convert)
    check_layers(request.grid, base_config)
    digest = digest_of(model_bytes, x, labels)
    versions = (__version__, hls4ml_version())
    tasks = []
    for point in request.grid.points():
        config, settings = _point_config(loaded.model, request, point)
        tasks.append(PointTask(point, point_key(digest, config, settings, versions), config, settings))
    measured = Measure(request.compare, len(x[0]), labels)
    metrics = task_metrics(framework, labels) if labels is not None else None
    return Prepared(Payload(digest, model_bytes, suffix, x, labels), tasks, metrics, measured, str(source))


def _point_config(model: Any, request: SweepRequest, point) -> tuple[dict, Settings]:
    """A point's whole hls4ml config (Model / LayerName, as config_from_keras_model writes it, Trace off)."""
    from hlsdiff.trace.convert import build_config

    cfg, settings, _ = build_config(model, point.convert_options(request.compare.convert))
    config = {key: copy.deepcopy(cfg.get(key) or {}) for key in ('Model', 'LayerName')}
    for entry in config['LayerName'].values():
        entry.pop('Trace', None)
    point.edit(config)
    return config, Settings(settings['io_type'], settings['backend'], settings.get('part'))


def _model_bytes(source) -> tuple[bytes, str]:
    """The model file's bytes (what the workers get) and its suffix; a Keras 2 model object is saved first."""
    import tempfile

    if source.obj is not None:
        from hlsdiff.frontends import name_for_object, stack_of

        if stack_of(name_for_object(source.obj) or '') != 'classic':  # the workers run in this environment
            raise BadInput('sweep takes Keras 2 (tf_keras / QKeras) models for now')
        with tempfile.TemporaryDirectory(prefix='hlsdiff-sweep-') as tmp:
            path = Path(tmp) / 'model.h5'
            source.obj.save(path)
            return path.read_bytes(), '.h5'
    path = Path(source.path)
    if path.is_dir() or source.weights is not None or path.suffix.lower() not in ('.h5', '.keras'):
        raise BadInput(f'{path}: sweep ships one Keras 2 model file (.h5 or .keras) to its workers; '
                       'save the model with model.save("model.h5")')
    return path.read_bytes(), path.suffix.lower()


def _framework_outputs(model: Any, x: tuple[np.ndarray, ...]) -> np.ndarray:
    raw = model.predict(list(x) if len(x) > 1 else x[0], verbose=0)
    return np.asarray(raw[0] if isinstance(raw, list) else raw, dtype=np.float64)


def _array(value: Any) -> np.ndarray:
    if isinstance(value, (str, Path)):
        path = Path(value)
        if not path.is_file():
            raise BadInput(f'--labels {path}: no such file')
        try:
            return np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise BadInput(f'--labels {path}: not a .npy array ({exc})') from None
    return np.asarray(value)


def compute(request: SweepRequest, prepared: Prepared, progress: SweepProgress) -> SweepOutcome:
    """Every point: reused from the folder, else predicted on the cluster (stored as it finishes), else
    (the emulation cannot cover it) measured with the C-simulation."""
    started = time.perf_counter()
    store = Store(request.out_dir)
    outcome = SweepOutcome(prepared, {})
    pending = []
    for task in prepared.tasks:
        kept = store.get('points', task.key)
        if kept is not None:
            outcome.results[task.key] = kept
            outcome.reused.add(task.key)
        else:
            pending.append(task)
    progress.start(len(prepared.tasks), len(outcome.reused))

    def done(result: PointResult) -> None:
        if result.method != 'incomplete':
            store.put('points', result)
        outcome.results[result.key] = result
        progress.point(result)

    if pending:
        progress.phase(f'predicting {len(pending)} point(s) on {request.cluster.describe()}')
        with client_for(request.cluster) as client:
            run_points(client, prepared.payload, pending, done)
    for task in prepared.tasks:
        result = outcome.results[task.key]
        if result.method == 'incomplete':
            progress.phase(f'point {task.point.index}: {result.note}; measuring it with the C-simulation')
            measured = measure(prepared.measure, task, f'C-simulation: the emulation does not cover it ({result.note})')
            measured = PointResult(measured.key, measured.method, measured.note, measured.outputs, measured.task,
                                   result.cost, measured.seconds)
            store.put('points', measured)
            outcome.results[task.key] = measured
    outcome.seconds = time.perf_counter() - started
    return outcome


def confirm(request: SweepRequest, outcome: SweepOutcome, keys: list[str], progress: SweepProgress) -> None:
    """The given points measured with the C-simulation (reused from the folder when measured before)."""
    store = Store(request.out_dir)
    by_key = {t.key: t for t in outcome.prepared.tasks}
    for key in keys:
        kept = store.get('confirmed', key)
        if kept is None:
            progress.phase(f'confirming point {by_key[key].point.index} with the C-simulation')
            kept = measure(outcome.prepared.measure, by_key[key])
            if kept.method == 'csim':
                store.put('confirmed', kept)
        outcome.confirmed[key] = kept


def is_emulation_bug(predicted: PointResult, measured: PointResult) -> bool:
    return measured.method == 'csim' and disagreement(predicted, measured) > EMULATION_TOLERANCE
