"""A sweep's points as a table: one row per point, the grid's values, the figures, the cost, the front and
the confirmations (measured beside predicted)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hlsdiff.sweep.front import best_first, pareto
from hlsdiff.sweep.metrics import TaskMetrics
from hlsdiff.sweep.point import PointResult, PointTask


@dataclass(frozen=True)
class Objective:
    """The figure the front maximises against BOPs: accuracy with labels, else the first output's top-1
    agreement with the framework, else its max abs error (smaller is better)."""

    column: str
    higher_is_better: bool

    def merit(self, frame: pd.DataFrame) -> np.ndarray:
        values = frame[self.column].to_numpy(dtype=np.float64)
        return values if self.higher_is_better else -values


def points_frame(tasks: list[PointTask], results: dict[str, PointResult], reused: set[str],
                 framework: TaskMetrics | None) -> pd.DataFrame:
    rows = []
    for task in tasks:
        r = results[task.key]
        row: dict = {'point': task.point.index, **dict(task.point.values), 'io_type': task.settings.io_type,
                     'method': r.method, 'note': r.note, 'reused': task.key in reused}
        for o in r.outputs:
            row[f'max_abs.{o.name}'] = o.max_abs
            row[f'top1.{o.name}'] = o.top1_agreement
        row.update(_task_columns(r.task, ''))
        if framework is not None:
            row.update(_task_columns(framework, '_framework'))
            row['auc_ratio'] = row['auc_mean'] / framework.auc_mean if r.task is not None else np.nan
        if r.cost is not None:
            row.update({'bops': r.cost.bops, 'weight_bits': r.cost.weight_bits})
            row.update({f'bits.{k}': v for k, v in r.cost.bits.items()})
        row.update({'seconds': r.seconds, 'key': task.key})
        rows.append(row)
    frame = pd.DataFrame(rows)
    for column in ('bops', 'weight_bits'):
        if column not in frame:
            frame[column] = np.nan
    return frame


def _task_columns(metrics: TaskMetrics | None, suffix: str) -> dict:
    if metrics is None:
        return {f'accuracy{suffix}': np.nan, f'auc{suffix}_mean': np.nan}
    out = {f'accuracy{suffix}': metrics.accuracy, f'auc{suffix}_mean': metrics.auc_mean}
    out.update({f'auc{suffix}.{c}': a for c, a in enumerate(metrics.auc)})
    return out


def objective_of(frame: pd.DataFrame) -> Objective:
    if 'accuracy' in frame and frame['accuracy'].notna().any():
        return Objective('accuracy', True)
    top1 = [c for c in frame.columns if c.startswith('top1.') and frame[c].notna().any()]
    if top1:
        return Objective(top1[0], True)
    errors = [c for c in frame.columns if c.startswith('max_abs.')]
    return Objective(errors[0] if errors else 'bops', False)


def mark_front(frame: pd.DataFrame, objective: Objective) -> list[int]:
    """Adds `front`; the row positions of the front, best first."""
    cost = frame['bops'].to_numpy(dtype=np.float64)
    merit = objective.merit(frame) if objective.column in frame else np.full(len(frame), np.nan)
    mask = pareto(cost, merit)
    frame['front'] = mask
    return best_first(cost, merit, mask)


def add_measured(frame: pd.DataFrame, measured: dict[str, PointResult], bugs: set[str]) -> None:
    """Adds `confirmed`, the measured figures and `emulation_bug` beside the predicted ones."""
    frame['confirmed'] = frame['key'].map(lambda k: k in measured and measured[k].method == 'csim')
    frame['emulation_bug'] = frame['key'].map(lambda k: k in bugs)
    for i, key in enumerate(frame['key']):
        m = measured.get(key)
        if m is None or m.method != 'csim':
            continue
        for o in m.outputs:
            frame.loc[i, f'measured.max_abs.{o.name}'] = o.max_abs
            frame.loc[i, f'measured.top1.{o.name}'] = o.top1_agreement
        if m.task is not None:
            frame.loc[i, 'measured.accuracy'] = m.task.accuracy
            frame.loc[i, 'measured.auc_mean'] = m.task.auc_mean
