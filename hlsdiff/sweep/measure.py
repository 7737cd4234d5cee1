"""A point measured by the real C-simulation: the compare's engine (hls4ml's project for the point's config,
built with g++ through the build cache, run on the samples), its outputs against the framework and, with
labels, its task metric. What confirms a predicted point, and what a point the emulation cannot cover
falls back to."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from hlsdiff.cluster import ClusterSpec
from hlsdiff.errors import HlsdiffError
from hlsdiff.request import CompareRequest, RunOptions
from hlsdiff.sweep.metrics import TaskMetrics, task_metrics
from hlsdiff.sweep.point import OutputFigures, PointResult, PointTask
from hlsdiff.trace.convert import ConvertOptions

# predicted and measured figures further apart than this: the emulation is wrong (it is meant to be bit for bit)
EMULATION_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Measure:
    """What every C-simulation of the sweep shares: the compare request without the point's conversion,
    and the labels."""

    request: CompareRequest
    samples: int  # how many the sweep uses: all held in memory, for the task metric
    labels: np.ndarray | None = None


def measure(how: Measure, task: PointTask, note: str = '') -> PointResult:
    """The point's figures from the C-simulation (`csim`); `failed` when hls4ml or the build fails."""
    from hlsdiff import engine

    started = time.perf_counter()
    settings = task.settings
    convert = ConvertOptions(io_type=settings.io_type, backend=settings.backend, part=settings.part,
                             config=task.config, granularity='name')
    run: RunOptions = dataclasses.replace(how.request.run, samples=how.samples, chunk=max(how.request.run.chunk, how.samples),
                                          cluster=ClusterSpec())  # one point's compare runs here
    request = dataclasses.replace(how.request, convert=convert, quiet=True, run=run)
    try:
        outcome = engine.run_once(request)
    except HlsdiffError as exc:
        return PointResult(task.key, 'failed', f'C-simulation: {exc.message}',
                           seconds=round(time.perf_counter() - started, 3))
    result, collected = outcome.result, outcome.collected
    if result.error:
        return PointResult(task.key, 'failed', f'C-simulation: {result.error["message"]}',
                           seconds=round(time.perf_counter() - started, 3))
    outputs = tuple(OutputFigures(o['name'], float(o['max_abs']), o['top1_agreement']) for o in result.outputs)
    metrics = _task(collected, outputs, how.labels)
    return PointResult(task.key, 'csim', note, outputs, metrics, None, round(time.perf_counter() - started, 3))


def _task(collected: Any, outputs: tuple[OutputFigures, ...], labels: np.ndarray | None) -> TaskMetrics | None:
    if labels is None or collected is None or not outputs:
        return None
    arrays = collected.arrays.get(outputs[0].name)
    actual = arrays.actual if arrays is not None else None
    if actual is None or len(actual) < len(labels):
        return None
    return task_metrics(actual[: len(labels)], labels)


def disagreement(predicted: PointResult, measured: PointResult) -> float:
    """The largest difference of a figure the two give (each output's max abs error; the accuracy)."""
    got = {o.name: o.max_abs for o in measured.outputs}
    gaps = [abs(o.max_abs - got[o.name]) for o in predicted.outputs if o.name in got]
    gaps += [float('inf') for o in predicted.outputs if o.name not in got]
    if predicted.task is not None and measured.task is not None:
        gaps.append(abs(predicted.task.accuracy - measured.task.accuracy))
    return max(gaps, default=0.0)
