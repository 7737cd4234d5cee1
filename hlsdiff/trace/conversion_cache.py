"""Cache of conversions: the written project and the layer mapping, keyed by model and options.

A repeated compare of the same model file with the same options skips hls4ml's conversion and
the project write, and starts the C-simulation while TensorFlow is still loading. The key
covers the model file's bytes, every conversion option, the hls4ml version and hlsdiff's own
conversion and mapping code, so any change to those converts afresh.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from pathlib import Path

from hlsdiff.csim import processes as children
from hlsdiff.errors import NotAProject
from hlsdiff.layers import LayerInfo
from hlsdiff.trace.plan import Plan

FOLDER = 'conversions'
MAX_ENTRIES = 64
# the code a cached conversion was made by (hlsdiff's Keras 2 conversion and mapping; only its frontend caches)
_PACKAGE = Path(__file__).resolve().parents[1]
_CODE = [_PACKAGE / name for name in ('trace/convert.py', 'trace/mapping.py', 'trace/plan.py', 'trace/conversion_cache.py',
                                      'frontends/keras2_mapping.py', 'frontends/keras2_reference.py',
                                      'layers.py')]


def key(model, conv) -> str:
    """`model` is a load.ModelFile: its file(s), a .json's weights, the user's custom objects."""
    from importlib.metadata import version

    h = hashlib.sha256()
    h.update(model.digest())
    h.update(json.dumps(dataclasses.asdict(conv), sort_keys=True, default=str).encode())
    h.update(version('hls4ml').encode())
    for p in _CODE:
        h.update(p.read_bytes())
    return h.hexdigest()[:32]


def _entry(cache_dir: Path, k: str) -> Path:
    return Path(cache_dir) / FOLDER / k


def project_digest(project: Path) -> str:
    """A hash of every file of a written project (names and bytes)."""
    h = hashlib.sha256()
    for p in sorted(project.rglob('*')):
        if p.is_file():
            h.update(str(p.relative_to(project)).encode() + b'\0')
            with open(p, 'rb') as f:
                h.update(hashlib.file_digest(f, 'sha256').digest())
    return h.hexdigest()


def load(cache_dir: Path, k: str, notes: list[str] | None = None, private: Path | None = None) -> Plan | None:
    """The cached conversion, if its files are byte for byte what was stored; a damaged entry
    is removed (and noted), and the model converted afresh. With `private`, the project is
    copied there first: a `cache --clear` or a trim by another compare cannot take it away."""
    from hlsdiff.project import open_project
    from hlsdiff.trace.mapping import Ref

    entry = _entry(cache_dir, k)
    meta_path = entry / 'meta.json'
    if not meta_path.exists():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        project = entry / 'project'
        if private is not None:
            shutil.copytree(project, private)
            project = private
        if meta.get('digest') != project_digest(project):
            if notes is not None:
                notes.append('a cached conversion of this model was damaged (its files do not match the hash '
                             'recorded when it was stored): removed and converted again')
            raise ValueError('damaged')
        os.utime(entry)
        written = open_project(project)  # the one rule: a cached project is a project like any other
        return Plan(
            firmware=written.firmware,
            sources=written.sources(),
            input_names=meta['input_names'],
            input_shapes=[tuple(s) for s in meta['input_shapes']],
            hls_inputs=meta['hls_inputs'],
            output_sizes=meta['output_sizes'],
            traced=meta['traced'],
            layer_by_index={int(i): n for i, n in meta['layer_by_index'].items()},
            infos=[LayerInfo.from_dict(d) for d in meta['infos']],
            refs={n: Ref(tuple(r['tensor']), [tuple(c) for c in r['chain']], list(r['inputs']), list(r.get('dropped', [])))
                  for n, r in meta['refs'].items()},
            unmatched=[tuple(u) for u in meta['unmatched']],
            warnings=meta['warnings'],
        )
    except (OSError, ValueError, KeyError, TypeError, NotAProject):  # a damaged (or vanished) entry: convert afresh
        shutil.rmtree(entry, ignore_errors=True)
        if private is not None:
            shutil.rmtree(private, ignore_errors=True)
        return None


def store(cache_dir: Path, k: str, plan: Plan) -> None:
    """Keep the project and the mapping (write, then rename: a concurrent compare sees all or nothing)."""
    entry = _entry(cache_dir, k)
    if entry.exists():
        return
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = children.temp_dir('hlsdiff-', entry.parent)  # a killed run's is reclaimed (children.leftovers)
    try:
        shutil.copytree(plan.sources.project_dir, tmp / 'project', ignore=shutil.ignore_patterns('*.so', '*.o', '*.tar.gz'))
        meta = {
            'digest': project_digest(tmp / 'project'),
            'project_name': plan.sources.project_name,
            'input_names': plan.input_names,
            'input_shapes': [list(s) for s in plan.input_shapes],
            'hls_inputs': plan.hls_inputs,
            'output_sizes': plan.output_sizes,
            'traced': plan.traced,
            'layer_by_index': {str(i): n for i, n in plan.layer_by_index.items()},
            'infos': [info.to_dict() for info in plan.infos],
            'refs': {n: {'tensor': list(r.tensor), 'chain': [list(c) for c in r.chain], 'inputs': list(r.inputs),
                         'dropped': list(r.dropped)}
                     for n, r in plan.refs.items()},
            'unmatched': [list(u) for u in plan.unmatched],
            'warnings': plan.warnings,
        }
        (tmp / 'meta.json').write_text(json.dumps(meta, default=_plain))
        os.rename(tmp, entry)
    except (OSError, TypeError, ValueError):
        pass  # another compare stored it first, the cache is not writable, or a value is odd: nothing lost
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    try:
        _trim(entry.parent)
    except OSError:  # the cache is only ever a speed-up
        pass


def _plain(value):
    """numpy values in Keras configs (e.g. ReLU max_value) as plain JSON."""
    if hasattr(value, 'tolist'):
        return value.tolist()
    raise TypeError(type(value).__name__)


def _trim(folder: Path) -> None:
    """Keep the MAX_ENTRIES most recently used (another compare may be trimming at the same time)."""
    entries = []
    for p in folder.iterdir():
        if p.name.startswith(('.', 'hlsdiff-')):
            continue
        try:
            entries.append((p.stat().st_mtime, p))
        except OSError:  # removed meanwhile
            continue
    for _, p in sorted(entries)[:-MAX_ENTRIES]:
        shutil.rmtree(p, ignore_errors=True)
