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
from hlsdiff.sweep.point import FrameworkSide, Payload, PointResult, PointTask, Settings
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
    from hlsdiff.trace.load import check_model_path, fit_to_inputs
    from hlsdiff.whatif import initial_config, load

    source = check_model_path(request.compare.model, request.compare.weights, request.compare.custom_objects)
    model_bytes, suffix = _model_bytes(source)
    loaded = load(source, request.compare.data)
    samples = fit_to_inputs(loaded.data, loaded.names, loaded.shapes, request.compare.run.samples)
    x = tuple(np.asarray(a) for a in samples.arrays)
    side = framework_side(loaded, request, x)
    framework = next(iter(side.expected.values()), None)  # the first output's
    labels = None
    if request.labels is not None:
        classes = framework.shape[-1] if framework is not None and framework.ndim > 1 else None
        labels = class_labels(_array(request.labels), len(x[0]), classes)
    check_layers(request.grid, initial_config(loaded, request.compare.convert)[0])
    digest = digest_of(model_bytes, x, labels)
    versions = (__version__, hls4ml_version())
    tasks = []
    for point in request.grid.points():
        config, settings = _point_config(loaded, request, point)
        tasks.append(PointTask(point, point_key(digest, config, settings, versions), config, settings))
    measured = Measure(request.compare, len(x[0]), labels)
    metrics = task_metrics(framework, labels) if labels is not None and framework is not None else None
    return Prepared(Payload(digest, model_bytes, suffix, x, labels, side), tasks, metrics, measured, str(source))


def _point_config(loaded: Any, request: SweepRequest, point) -> tuple[dict, Settings]:
    """A point's whole hls4ml config (Model / LayerName as hls4ml's config_from_<framework>_model writes it, and
    PyTorch's InputShape; Trace off), by the model's frontend."""
    from hlsdiff.whatif import initial_config

    config, settings = initial_config(loaded, point.convert_options(request.compare.convert))
    point.edit(config)
    return config, Settings(settings['io_type'], settings['backend'], settings.get('part'))


def framework_side(loaded: Any, request: SweepRequest, x: tuple[np.ndarray, ...]) -> FrameworkSide:
    """The framework's values of every model output as the compare maps them (hls4ml's conversion of the user's
    config, its layers mapped to the framework's tensors, one forward pass): what a worker compares each point's
    outputs with, and the task metric's framework side."""
    import tempfile

    frontend, model = loaded.frontend, loaded.model
    with tempfile.TemporaryDirectory(prefix='hlsdiff-sweep-map-') as tmp:
        hls_model = frontend.convert(model, request.compare.convert, Path(tmp) / 'graph-only').hls_model
    infos, refs, _ = frontend.map_layers(hls_model, model)
    producer = {layer.get_output_variable().name: layer.name for layer in hls_model.get_layers()}
    outputs = [producer.get(v.name, v.name) for v in hls_model.get_output_variables()]
    with frontend.running():
        values = frontend.reference(model, {name: refs[name] for name in outputs if name in refs}).forward(x)
    expected = {name: np.asarray(values[refs[name].tensor], dtype=np.float64) for name in outputs if name in refs}
    softmax = tuple(info.name for info in infos if info.class_name == 'Softmax')
    return FrameworkSide(expected, softmax, tuple(loaded.names), _shipped_file(request.compare.custom_objects))


def _shipped_file(spec: str | None) -> tuple[str, bytes, str] | None:
    """--custom-objects FILE.py[:Class] as the workers get it: (file name, bytes, ':Class'); a module:attr
    is imported by name on the workers (their environment has it)."""
    file_part, colon, cls = (spec or '').partition(':')
    if not file_part.endswith('.py') or not Path(file_part).is_file():
        return None
    return Path(file_part).name, Path(file_part).read_bytes(), f'{colon}{cls}'


def _model_bytes(source) -> tuple[bytes, str]:
    """The model file's bytes (what the workers get) and its suffix; a Keras 2 model object is saved first."""
    import tempfile

    from hlsdiff.frontends import ONNX_SUFFIXES, TORCH_SUFFIXES

    if source.obj is not None:
        from hlsdiff.frontends import name_for_object, stack_of

        if stack_of(name_for_object(source.obj) or '') != 'classic':  # a Keras 2 object is saved; others: the file
            raise BadInput('sweep ships a model file to its workers: give a Keras 3 model as its .keras file, a '
                           'PyTorch one as .pt2 / .pt, an ONNX one as .onnx (a Keras 2 model object is saved for you)')
        with tempfile.TemporaryDirectory(prefix='hlsdiff-sweep-') as tmp:
            path = Path(tmp) / 'model.h5'
            source.obj.save(path)
            return path.read_bytes(), '.h5'
    path = Path(source.path)
    suffixes = ('.h5', '.keras', *TORCH_SUFFIXES, *ONNX_SUFFIXES)
    if path.is_dir() or source.weights is not None or path.suffix.lower() not in suffixes:
        raise BadInput(f'{path}: sweep ships one model file to its workers ({", ".join(suffixes)}); save the model '
                       'as one file (model.save("model.h5"), torch.save, torch.export.save)')
    return path.read_bytes(), path.suffix.lower()


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
