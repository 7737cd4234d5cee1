"""What a sweep writes into its folder: points.csv and points.parquet (one row per point), sweep.json (the
counts, the front, each confirmed point predicted vs measured), front/NNN.yml (the hls4ml config of each
front point) and report.html (the scan figure, the Pareto plot, the table)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from hlsdiff.sweep.point import PointTask

SCHEMA_VERSION = 1


def write_all(out_dir: Path, frame: pd.DataFrame, summary: dict, tasks: list[PointTask], front: list[int]) -> None:
    from hlsdiff.sweep.html import figures_svg, render

    out_dir.mkdir(parents=True, exist_ok=True)
    _replace(out_dir / 'points.csv', frame.to_csv(index=False))
    tmp = out_dir / '.points.parquet.tmp'
    frame.to_parquet(tmp, index=False)
    tmp.replace(out_dir / 'points.parquet')
    _replace(out_dir / 'sweep.json', json.dumps(_plain(summary), indent=1))
    write_front(out_dir / 'front', [tasks[i] for i in front], converter_of(summary['model']))
    _replace(out_dir / 'report.html', render(frame, summary))
    for name, text in figures_svg(frame, summary).items():
        _replace(out_dir / name, text)


def converter_of(model: str) -> str:
    """hls4ml's converter for the model file (by its frontend)."""
    from hlsdiff import frontends

    path = Path(model)
    frontend = frontends.get(frontends.name_for_path(path)) if path.is_file() else None
    return getattr(frontend, 'converter', None) or 'convert_from_keras_model'  # a Keras 2 model object: saved


def write_front(folder: Path, tasks: list[PointTask], converter: str = 'convert_from_keras_model') -> None:
    """One hls4ml config per front point, named by the point's index; the YAML hls4ml's converter for the
    model takes as `hls_config` (its settings in the header)."""
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob('*.yml'):
        old.unlink()
    for task in tasks:
        s = task.settings
        head = [f'# hls4ml config of sweep point {task.point.index}: {task.point.label()}',
                f"# use with: hls4ml.converters.{converter}(model, hls_config=yaml.safe_load(open(...)), "
                f"io_type='{s.io_type}', backend='{s.backend}'" + (f", part='{s.part}'" if s.part else '') + ')']
        body = yaml.safe_dump(task.config, sort_keys=False, default_flow_style=False)
        _replace(folder / f'{task.point.index:03d}.yml', '\n'.join(head) + '\n' + body)


def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(f'.{path.name}.tmp')
    tmp.write_text(text)
    tmp.replace(path)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, 'item') and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
