"""Every report format behind one `FORMATS` table: name -> render(result, traces) -> text."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hlsdiff.reports import csv_report, html, json_report, junit, markdown, terminal

FORMATS: dict[str, Callable[..., str]] = {
    'json': json_report.render,
    'csv': csv_report.render_layers,
    'csv_channels': csv_report.render_channels,
    'junit': junit.render,
    'markdown': markdown.render,
    'html': html.render,
}


def _atomic_write(path: str | Path, text: str) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', dir=path.parent if str(path.parent) else '.')
    with os.fdopen(fd, 'w') as f:
        f.write(text)
    os.replace(tmp, path)


def write_json(result, path) -> None:
    _atomic_write(path, json_report.render(result))


def write_all(result, paths: dict, traces=None) -> None:
    """Write each requested report, once the run has produced the result."""
    for key, render in FORMATS.items():
        if paths.get(key):
            _atomic_write(paths[key], render(result, traces) if key == 'html' else render(result))
    if paths.get('traces') and traces is not None:
        save_traces(traces, paths['traces'])


def render_terminal(result, console, verbose: bool = False) -> None:
    terminal.render(result, console, verbose)


def save_samples(data, indices: list[int], path: str) -> None:
    """These samples of the data: one array (.npy), or arrays by input name (.npz)."""
    from hlsdiff.errors import BadInput

    rows = np.asarray(indices, dtype=np.int64)
    arrays = data if isinstance(data, dict) else {'x': data}
    picked = {name: np.asarray(a)[rows] if np.asarray(a).ndim else np.asarray(a) for name, a in arrays.items()}
    if path.lower().endswith('.npz'):
        with open(path, 'wb') as fh:
            np.savez(fh, **picked)
    elif len(picked) == 1:
        with open(path, 'wb') as fh:
            np.save(fh, next(iter(picked.values())))
    else:
        raise BadInput(f'--save-wrong {path}: the model has {len(picked)} inputs; give a .npz file')


def save_traces(collected, path) -> None:
    """Both sides' raw per-layer arrays: `<layer>:keras`, `<layer>:csim`, `<layer>:local`.

    A compare that streamed its samples spilled them to .npy files on disk; they are packed
    into the .npz one file at a time, so memory does not grow with the sample count."""
    spilled = getattr(collected, 'spilled', None)
    if spilled is not None:
        import zipfile

        tmp = Path(f'{path}.part')
        with zipfile.ZipFile(tmp, 'w', compression=zipfile.ZIP_DEFLATED, compresslevel=1, allowZip64=True) as z:
            for npy in sorted(Path(spilled).glob('*.npy')):
                z.write(npy, arcname=npy.name)
        os.replace(tmp, path)
        return
    payload = {}
    for name, arrays in collected.arrays.items():
        for side, value in (('keras', arrays.expected), ('csim', arrays.actual), ('local', arrays.local)):
            if value is not None:
                payload[f'{name}:{side}'] = value
    with open(path, 'wb') as f:
        np.savez_compressed(f, **payload)


def load_traces(path) -> dict:
    from hlsdiff.errors import BadInput

    p = Path(path)
    if not p.exists():
        raise BadInput(f'traces file not found: {p}')
    try:
        with np.load(p, allow_pickle=False) as data:
            out: dict = {}
            for key in data.files:
                name, _, side = key.rpartition(':')
                out.setdefault(name, {})[side] = data[key]
    except Exception as exc:
        raise BadInput(f'{p}: not a traces file saved by --save-traces ({exc})') from None
    return out
