"""The sweep end to end: prepare, compute the points, the front, confirm it, write the folder."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd

from hlsdiff.sweep.run import SweepOutcome, SweepProgress, SweepRequest, compute, confirm, is_emulation_bug, prepare


@dataclass
class SweepResult:
    """The table (one row per point) and sweep.json's content."""

    frame: pd.DataFrame
    summary: dict

    @property
    def emulation_bugs(self) -> list[str]:
        return list(self.summary['emulation_bugs'])


def run_sweep(request: SweepRequest, progress: SweepProgress | None = None) -> SweepResult:
    """The sweep the request asks for, its files written into `request.out_dir`."""
    from hlsdiff.sweep.files import write_all
    from hlsdiff.sweep.table import add_measured, mark_front, objective_of, points_frame

    progress = progress or SweepProgress()
    started = time.perf_counter()
    progress.phase('loading the model and checking the grid')
    prepared = prepare(request)
    outcome = compute(request, prepared, progress)
    frame = points_frame(prepared.tasks, outcome.results, outcome.reused, prepared.outputs_framework)
    objective = objective_of(frame)
    front = mark_front(frame, objective)
    keys = [frame['key'][i] for i in front if frame['method'][i] == 'predicted'][: max(request.confirm, 0)]
    confirm(request, outcome, keys, progress)
    bugs = {k for k in keys if is_emulation_bug(outcome.results[k], outcome.confirmed[k])}
    add_measured(frame, outcome.confirmed, bugs)
    summary = _summary(request, outcome, frame, front, bugs)
    summary['objective'] = {'column': objective.column, 'higher_is_better': objective.higher_is_better}
    summary['seconds'] = round(time.perf_counter() - started, 2)
    progress.phase(f'writing {request.out_dir}')
    write_all(request.out_dir, frame, summary, prepared.tasks, front)
    return SweepResult(frame, summary)


def _summary(request: SweepRequest, outcome: SweepOutcome, frame: pd.DataFrame, front: list[int], bugs: set[str]) -> dict:
    from hlsdiff._version import __version__
    from hlsdiff.engine import hls4ml_version

    methods = frame['method'].tolist()
    fresh = [k for k in frame['key'] if k not in outcome.reused]
    index = {t.key: t.point.index for t in outcome.prepared.tasks}
    confirmed, notes = [], []
    for key, measured in outcome.confirmed.items():
        predicted = outcome.results[key]
        row = {'point': index[key], 'key': key, 'method': measured.method, 'note': measured.note,
               'predicted': {o.name: o.max_abs for o in predicted.outputs},
               'measured': {o.name: o.max_abs for o in measured.outputs},
               'predicted_accuracy': predicted.task.accuracy if predicted.task else None,
               'measured_accuracy': measured.task.accuracy if measured.task else None,
               'emulation_bug': key in bugs}
        confirmed.append(row)
        if key in bugs:
            notes.append(f'point {index[key]}: predicted {row["predicted"]}, the C-simulation measured '
                         f'{row["measured"]} (accuracy {row["predicted_accuracy"]} vs {row["measured_accuracy"]})')
    return {'schema_version': 1, 'hlsdiff_version': __version__, 'hls4ml_version': hls4ml_version(),
            'model': outcome.prepared.model_name, 'grid': request.grid.to_json(), 'points': len(frame),
            'predicted': sum(1 for k, m in zip(frame['key'], methods) if k in fresh and m == 'predicted'),
            'reused': len(outcome.reused),
            'csim_fallback': sum(1 for k, m in zip(frame['key'], methods) if k in fresh and m == 'csim'),
            'failed': methods.count('failed'), 'front': [int(frame['point'][i]) for i in front],
            'confirmed': confirmed, 'emulation_bugs': notes, 'cluster': request.cluster.describe(),
            'compute_seconds': round(outcome.seconds, 2)}

