"""Held-out evaluation on hls4ml's example models (issue #31): `hlsdiff compare` and `hlsdiff fix` on the
Keras / QKeras / HGQ models of fastmachinelearning/example-models, each judged by hls4ml alone (convert,
compile, predict; no hlsdiff code in that process).

    .venv/bin/python bench/example_models.py [--work /work/scratch/exm] [--limit 1200] [--only NAME ...]
                                             [--redo prepare compare alone fix confirm] [--table-only]

Per model, each step in its own process with a time limit (--limit seconds), cached under --work
(models, data, reports and each step's record, so a second run only does what is missing):

1. prepare: a JSON architecture + weights is rebuilt with `model_from_json` + `load_weights` (QKeras objects
   registered; GarNet from hls4ml.contrib) and saved as .h5; 200 samples of normal(0, 1) with 3 of them
   scaled by 6 (the outliers real data has).
2. compare: `hlsdiff compare MODEL X --json` at hls4ml's default config (config_from_keras_model, io_parallel).
3. alone: hls4ml alone at the same default config; max abs error, output range, top-1 against Keras.
   hls4ml alone is *wrong* when top-1 < 99% on a classifier output, an output is off by more than 5% of
   its range, or some sample is off far beyond the others (rare samples wrong: more than 10 times the
   median sample's error and more than 1% of the range).
   A compare verdict is *consistent* when FAIL goes with hls4ml alone wrong and PASS with it right.
4. fix (compare FAIL only): `hlsdiff fix MODEL X -o <name>_fix.yml --json` at the default budget.
5. confirm: the written config given to hls4ml alone. A fix run is *good* when it exits 0 and hls4ml alone
   confirms (top-1 >= 99% and every output within 5% of its range), or exits 1 listing what it measured
   (`fix.candidates`) or what no configuration cures (`fix.unfixable`).

The models run in order of their weights' size. Those that do not load in the classic environment are listed
with the reason (SKIPPED below): QKeras JSON architectures of an older Keras, custom binary/ternary layers of the
training code, GarNet, the Keras 3 QKeras file.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPO = Path('/work/.mirror/fastmachinelearning+example-models/repo')
PYTHON = ROOT / '.venv' / 'bin' / 'python'
SAMPLES, OUTLIERS, OUTLIER_SCALE = 200, (13, 77, 150), 6.0
TOP1_FLOOR, RANGE_SHARE, RARE_FACTOR, RARE_SHARE = 0.99, 0.05, 10.0, 0.01
STEPS = ('prepare', 'compare', 'alone', 'fix', 'confirm')
# why a model does not load, where the error alone does not say it
_QKERAS_JSON = (' (a QKeras architecture of an older Keras: tf_keras 2.15 resolves its Sequential to the keras 2.15 '
                "package's class, which knows no QKeras layer; QKeras's quantized_model_from_json fails the same way)")
_CUSTOM = ' (a custom layer of the training code, in neither QKeras nor hls4ml)'
SKIPPED = {'qkeras_3layer': _QKERAS_JSON, 'qkeras_mnist_cnn': _QKERAS_JSON,
           'KERAS_3layer_binary_smaller': _CUSTOM, 'KERAS_3layer_binarydense_relu_max': _CUSTOM,
           'KERAS_3layer_ternary_small': _CUSTOM, 'keras_bnn': _CUSTOM,
           'qkeras_mnist_dense': (" (model_from_json does not return: tf_keras's reconstruct_from_config loops on this "
                                  'QKeras functional graph; stopped after 11 min)'),
           'garnet_1layer': " (hls4ml.contrib.garnet's GarNet registered: the Keras 2.2.4 JSON does not rebuild with it)",
           'garnet_3layer': " (hls4ml.contrib.garnet's GarNet registered: the Keras 2.2.4 JSON does not rebuild with it)"}


# ---------------------------------------------------------------- the models of the repository


def git(*args: str) -> bytes:
    return subprocess.run(['git', '-C', str(REPO), *args], check=True, capture_output=True).stdout


def example_models() -> list[dict]:
    """Every Keras model of the repository: {name, files: {local name: path in the repo}, size}, by size."""
    listing = [line.split(None, 4) for line in git('ls-tree', '-l', 'HEAD', 'keras/').decode().splitlines()]
    sizes = {entry[4]: int(entry[3]) for entry in listing}
    jsons = sorted(p[len('keras/'):-len('.json')] for p in sizes if p.endswith('.json'))
    models = []
    for path, size in sizes.items():
        base = path[len('keras/'):]
        if base.endswith('_weights.h5'):
            name = base[:-len('_weights.h5')]
            arch = max((j for j in jsons if name == j or name.startswith(j + '_')), key=len, default=None)
            if arch is not None:
                models.append({'name': name, 'kind': 'json', 'size': size,
                               'files': {'arch.json': f'keras/{arch}.json', 'weights.h5': path}})
        elif base.endswith('.h5'):
            models.append({'name': base[:-3], 'kind': 'h5', 'size': size, 'files': {'model.h5': path}})
        elif base.endswith('.keras'):
            models.append({'name': base[:-len('.keras')], 'kind': 'keras3', 'size': size,
                           'files': {'model.keras': path}})
    return sorted(models, key=lambda m: (m['size'], m['name']))


# ---------------------------------------------------------------- workers (run in the classic environment)


CUSTOM_OBJECTS = '''"""Objects the example models need beyond QKeras: hls4ml's GarNet (hls4ml.contrib)."""
from hls4ml.contrib.garnet import GarNet, GarNetStack

custom_objects = {'GarNet': GarNet, 'GarNetStack': GarNetStack}
'''


def _objects(source: Path) -> dict:
    """QKeras's objects, and HGQ's or GarNet's only for a model that names them: importing either imports the
    keras 2.15 package, whose classes then stand in for tf_keras's (a QKeras Sequential no longer loads)."""
    from qkeras.utils import _add_supported_quantized_objects

    objects: dict = {}
    _add_supported_quantized_objects(objects)
    text = source.read_bytes()
    if b'FixedPointQuantizer' in text or b'UnaryLUT' in text:
        from HGQ.proxy import FixedPointQuantizer, UnaryLUT

        objects.update(FixedPointQuantizer=FixedPointQuantizer, UnaryLUT=UnaryLUT)
    if b'GarNet' in text:
        from hls4ml.contrib.garnet import GarNet, GarNetStack

        objects.update(GarNet=GarNet, GarNetStack=GarNetStack)
    return objects


def _load(path: str):
    import tf_keras as keras

    objects = _objects(Path(path))
    with keras.utils.custom_object_scope(objects):
        return keras.models.load_model(path, custom_objects=objects, compile=False)


def _inputs(model, data_path: str) -> list:
    import numpy as np

    loaded = np.load(data_path)
    if data_path.endswith('.npz'):
        return [np.ascontiguousarray(loaded[t.name.split(':')[0]]) for t in model.inputs]
    return [np.ascontiguousarray(loaded)]


def worker_prepare(folder: str, kind: str) -> None:
    """Rebuild the model as .h5 and write its data (.npy, or .npz by input name)."""
    import numpy as np
    import tf_keras as keras

    d = Path(folder)
    objects = _objects(d / ('arch.json' if kind == 'json' else 'model.h5' if kind == 'h5' else 'model.keras'))
    if kind == 'json':
        with keras.utils.custom_object_scope(objects):
            model = keras.models.model_from_json((d / 'arch.json').read_text(), custom_objects=objects)
        model.load_weights(str(d / 'weights.h5'))
    elif kind == 'h5':
        model = _load(str(d / 'model.h5'))
    else:
        import zipfile

        meta = json.loads(zipfile.ZipFile(d / 'model.keras').read('metadata.json'))
        raise SystemExit(f'a Keras {meta.get("keras_version")} file with QKeras layers: it needs qkeras-v3 (QKeras '
                         'for Keras 3), installed in neither environment (tf_keras cannot read a Keras 3 file)')
    model.save(str(d / 'model.h5'))
    rng = np.random.default_rng(0)
    arrays = {}
    for tensor in model.inputs:
        name = tensor.name.split(':')[0]
        shape = tuple(int(s) for s in tensor.shape[1:])
        if tensor.dtype.is_integer:  # GarNet's vertex count
            arrays[name] = rng.integers(1, 1 + int(model.inputs[0].shape[1]), (SAMPLES, *shape)).astype('int32')
        else:
            x = rng.normal(0, 1, (SAMPLES, *shape)).astype('float32')
            x[list(OUTLIERS)] *= OUTLIER_SCALE
            arrays[name] = x
    if len(arrays) == 1:
        np.save(d / 'x.npy', next(iter(arrays.values())))
    else:
        np.savez(d / 'x.npz', **arrays)
    print(json.dumps({'inputs': {k: list(v.shape) for k, v in arrays.items()},
                      'outputs': [list(t.shape[1:]) for t in model.outputs],
                      'layers': sorted({type(layer).__name__ for layer in model.layers})}))


def worker_alone(model_path: str, data_path: str, config_path: str, out_dir: str) -> None:
    """hls4ml alone: convert (the default config, or the given one), compile, predict; figures against Keras."""
    import hls4ml
    import numpy as np
    import yaml

    model = _load(model_path)
    xs = _inputs(model, data_path)
    if config_path:
        cfg = yaml.safe_load(Path(config_path).read_text())
    else:
        cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', backend='Vivado')
    hls = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, io_type='io_parallel',
                                                     backend='Vivado', output_dir=out_dir)
    hls.compile()
    want = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    got = hls.predict(xs if len(xs) > 1 else xs[0])
    want = want if isinstance(want, list) else [want]
    got = got if isinstance(got, list) else [got]
    got = [np.asarray(g, dtype='float64').reshape(w.shape) for w, g in zip(want, got)]
    np.savez(out_dir + '.npz', **{f'keras_{i}': w for i, w in enumerate(want)},
             **{f'hls4ml_{i}': g for i, g in enumerate(got)})
    print(json.dumps({'outputs': [output_figures(w, g) for w, g in zip(want, got)]}))


def output_figures(want, got) -> dict:
    """One output against Keras. Its range is the largest |Keras value| (hlsdiff's, diff.scale_of): a softmax
    whose outputs stay near 1/classes on these samples still has a range of about its top value, not their spread."""
    import numpy as np

    w, g = np.asarray(want, dtype='float64'), np.asarray(got, dtype='float64')
    err = np.abs(g - w).reshape(len(w), -1)
    per_sample = err.max(axis=1)
    span = float(np.abs(w).max()) or 1.0
    median = float(np.median(per_sample))
    rare = np.flatnonzero((per_sample > RARE_FACTOR * median) & (per_sample > RARE_SHARE * span))
    classes = w.shape[-1] if w.ndim == 2 else 1
    return {'max_abs': float(err.max()), 'range': span, 'spread': float(w.max() - w.min()),
            'median_sample_error': median,
            'top1': float((g.argmax(-1) == w.argmax(-1)).mean()) if classes >= 2 else None,
            'beyond_share': int((per_sample > RANGE_SHARE * span).sum()), 'worst_sample': int(per_sample.argmax()),
            'rare_wrong': rare.tolist()}


# ---------------------------------------------------------------- the steps, each in its own process


def run(cmd: list[str], limit: float, log: Path) -> dict:
    env = {**os.environ, 'TF_USE_LEGACY_KERAS': '1', 'TF_CPP_MIN_LOG_LEVEL': '3', 'PYTHONPATH': str(ROOT)}
    start = time.perf_counter()
    # its own process group: on timeout, its children (g++, the C-simulation) are stopped with it
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=str(ROOT),
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        log.write_text(f'$ {" ".join(cmd)}\n# timed out after {limit:.0f} s\n{stdout}\n{stderr}')
        return {'exit': None, 'seconds': round(time.perf_counter() - start, 1), 'timeout': True}
    log.write_text(f'$ {" ".join(cmd)}\n# exit {proc.returncode}\n{stdout}\n{stderr}')
    last = (stdout.strip().splitlines() or [''])[-1]
    out: dict = {'exit': proc.returncode, 'seconds': round(time.perf_counter() - start, 1)}
    try:
        out['result'] = json.loads(last)
    except ValueError:
        pass
    if proc.returncode != 0:
        out['error'] = _last_error(stderr)
    return out


def _last_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in reversed(lines):
        if 'Error' in line or 'error' in line or line.startswith('SystemExit'):
            return line.split('. Please ensure')[0][:300]
    return (lines or ['?'])[-1][:300]


def worker(kind: str, *args: str) -> list[str]:
    return [str(PYTHON), str(Path(__file__).resolve()), '--worker', kind, *args]


def hlsdiff(*args: str) -> list[str]:
    return [str(PYTHON), '-m', 'hlsdiff', *args]


def evaluate(entry: dict, work: Path, limit: float, redo: set[str]) -> dict:
    name = entry['name']
    folder = work / name
    folder.mkdir(parents=True, exist_ok=True)
    record_path = folder / 'record.json'
    record = json.loads(record_path.read_text()) if record_path.exists() else {}
    for step in redo:
        record.pop(step, None)
    if 'prepare' in redo or 'compare' in redo:
        record.pop('fix', None), record.pop('confirm', None)

    for step, arrays in (('alone', 'prj_default.npz'), ('confirm', 'prj_fixed.npz')):  # figures kept since
        if (record.get(step) or {}).get('exit') == 0 and not (folder / arrays).exists():
            record.pop(step)

    def save() -> None:
        record_path.write_text(json.dumps(record, indent=1))

    if 'prepare' not in record:
        for local, path in entry['files'].items():
            (folder / local).write_bytes(git('show', f'HEAD:{path}'))
        record['prepare'] = run(worker('prepare', str(folder), entry['kind']), limit, folder / 'prepare.log')
        save()
    if record['prepare']['exit'] != 0:
        return record
    model = folder / 'model.h5'
    data = folder / ('x.npz' if (folder / 'x.npz').exists() else 'x.npy')
    extra = []
    if 'GarNet' in str(record['prepare'].get('result', {}).get('layers')):
        (folder / 'objects.py').write_text(CUSTOM_OBJECTS)
        extra = ['--custom-objects', str(folder / 'objects.py')]
    cache = ['--cache-dir', str(work / 'cache')]
    if 'compare' not in record:
        record['compare'] = run(hlsdiff('compare', str(model), str(data), '--json', str(folder / 'compare.json'),
                                        '-q', *cache, *extra), limit, folder / 'compare.log')
        save()
    if 'alone' not in record:
        record['alone'] = run(worker('alone', str(model), str(data), '', str(folder / 'prj_default')), limit,
                              folder / 'alone.log')
        save()
    if record['compare']['exit'] != 1:
        return record
    fix_yml = folder / f'{name}_fix.yml'
    if 'fix' not in record:
        record['fix'] = run(hlsdiff('fix', str(model), str(data), '-o', str(fix_yml), '--json',
                                    str(folder / 'fix.json'), '-q', *cache, *extra), limit, folder / 'fix.log')
        record.pop('confirm', None)
        save()
    if 'confirm' not in record and fix_yml.exists():
        record['confirm'] = run(worker('alone', str(model), str(data), str(fix_yml), str(folder / 'prj_fixed')),
                                limit, folder / 'confirm.log')
        save()
    return record


# ---------------------------------------------------------------- judging and the table


def outputs_of(step: dict | None, arrays: Path) -> list[dict] | None:
    """The figures of an hls4ml-alone step, recomputed from its saved outputs where they are kept."""
    if not step or step.get('exit') != 0:
        return None
    if arrays.exists():
        import numpy as np

        with np.load(arrays) as saved:
            count = sum(1 for k in saved.files if k.startswith('keras_'))
            return [output_figures(saved[f'keras_{i}'], saved[f'hls4ml_{i}']) for i in range(count)]
    return (step.get('result') or {}).get('outputs') or None


def alone_wrong(outputs: list[dict] | None) -> bool | None:
    """hls4ml alone is wrong: top-1 below 99%, an output beyond 5% of its range, or rare samples far off."""
    if not outputs:
        return None
    return any((o['top1'] is not None and o['top1'] < TOP1_FLOOR) or o['max_abs'] > RANGE_SHARE * o['range']
               or o['rare_wrong'] for o in outputs)


def alone_confirms(outputs: list[dict] | None) -> bool:
    return bool(outputs) and all((o['top1'] is None or o['top1'] >= TOP1_FLOOR)
                                 and o['max_abs'] <= RANGE_SHARE * o['range'] for o in outputs)


def figures(step: dict | None, outputs: list[dict] | None, rare: bool = True) -> str:
    if not step:
        return ''
    if step.get('timeout'):
        return f'timeout {step["seconds"]:.0f} s'
    if not outputs:
        return f'exit {step.get("exit")}: {step.get("error", "")[:60]}'
    parts = []
    for o in outputs:
        top1 = '' if o['top1'] is None else f', top-1 {100 * o["top1"]:.1f}%'
        flagged = f', {len(o["rare_wrong"])} rare' if rare and o['rare_wrong'] else ''
        parts.append(f'{o["max_abs"]:.3g} / {o["range"]:.3g}{top1}{flagged}')
    return '; '.join(parts)


def fix_json(folder: Path) -> dict:
    path = folder / 'fix.json'
    return (json.loads(path.read_text()).get('fix') or {}) if path.exists() else {}


def judge(entry: dict, record: dict, work: Path) -> dict:
    name, folder = entry['name'], work / entry['name']
    row = {'model': name}
    prep = record.get('prepare', {})
    if prep.get('exit') != 0:
        why = 'timeout' if prep.get('timeout') else prep.get('error', 'stopped').split('. Please ensure')[0]
        why = 'stopped' if why == '?' else why
        row['skipped'] = 'the model does not load: ' + why + SKIPPED.get(name, '')
        return row
    cmp_run = record.get('compare', {})
    cmp_json = json.loads((folder / 'compare.json').read_text()) if (folder / 'compare.json').exists() else {}
    if cmp_run.get('exit') not in (0, 1):
        if cmp_run.get('timeout'):
            row['skipped'] = f'compare stopped at the time limit ({cmp_run["seconds"]:.0f} s)'
        else:
            error = (cmp_json.get('error') or {}).get('message') or cmp_run.get('error') or 'not run'
            row['skipped'] = f'compare exit {cmp_run.get("exit")}: {error}'
    verdict = {0: 'PASS', 1: 'FAIL'}.get(cmp_run.get('exit'), f'exit {cmp_run.get("exit")}')
    onset = cmp_json.get('onset') or {}
    row['compare'] = verdict + (f' @ {onset["layer"]} ({onset.get("cause")})' if onset else '')
    row['compare_s'] = cmp_run.get('seconds')
    alone = record.get('alone', {})
    outputs = outputs_of(alone, folder / 'prj_default.npz')
    row['alone'] = figures(alone, outputs)
    wrong = alone_wrong(outputs)
    row['consistent'] = None if wrong is None or 'skipped' in row else (wrong == (cmp_run.get('exit') == 1))
    if 'fix' in record:
        fix = record['fix']
        fj = fix_json(folder)
        row['fix_exit'] = 'timeout' if fix.get('timeout') else fix.get('exit')
        row['fix_s'] = fix.get('seconds')
        confirmed = outputs_of(record.get('confirm'), folder / 'prj_fixed.npz')
        row['fixed'] = figures(record.get('confirm'), confirmed, rare=False)
        listed = bool(fj.get('candidates') or fj.get('unfixable'))
        if fix.get('exit') == 0:
            row['good'] = alone_confirms(confirmed)
        else:
            row['good'] = fix.get('exit') == 1 and listed
        row['fix_listed'] = len(fj.get('candidates') or []) + len(fj.get('unfixable') or [])
    return row


def table(rows: list[dict]) -> str:
    head = ('model', 'compare (onset)', 'hls4ml alone: max abs/range, top-1', 'consistent', 'fix exit',
            'fix s', 'hls4ml alone with the fix config', 'good')
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    yes = {True: 'yes', False: '**no**', None: ''}
    for r in rows:
        if 'skipped' in r:
            lines.append(f'| {r["model"]} | skipped (below) |' + ' |' * (len(head) - 2))
            continue
        cells = [r['model'], r.get('compare', ''), r.get('alone', ''), yes[r.get('consistent')],
                 '' if 'fix_exit' not in r else str(r['fix_exit']),
                 '' if r.get('fix_s') is None else f'{r["fix_s"]:.0f}', r.get('fixed', ''), yes[r.get('good')]]
        lines.append('| ' + ' | '.join(cells) + ' |')
    judged = [r for r in rows if r.get('consistent') is not None]
    fixed = [r for r in rows if 'good' in r]
    lines.append('')
    lines.append(f'consistent verdicts: {sum(r["consistent"] for r in judged)} of {len(judged)}; good fix runs: '
                 f'{sum(r["good"] for r in fixed)} of {len(fixed)}')
    skipped = [r for r in rows if 'skipped' in r]
    for r in skipped:
        lines.append(f'skipped {r["model"]}: {r["skipped"]}')
    return '\n'.join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work', type=Path, default=Path('/work/scratch/exm'))
    parser.add_argument('--limit', type=float, default=1200.0, help='seconds per step and model')
    parser.add_argument('--only', nargs='*', help='these models only')
    parser.add_argument('--redo', nargs='*', default=[], choices=STEPS, help='run these steps again')
    parser.add_argument('--table-only', action='store_true', help='print the table of what is cached')
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    entries = [e for e in example_models() if not args.only or e['name'] in args.only]
    rows = []
    for entry in entries:
        if args.table_only:
            path = args.work / entry['name'] / 'record.json'
            record = json.loads(path.read_text()) if path.exists() else {}
        else:
            print(f'== {entry["name"]} ({entry["size"]:,} bytes of weights)', file=sys.stderr, flush=True)
            record = evaluate(entry, args.work, args.limit, set(args.redo))
        if record:
            rows.append(judge(entry, record, args.work))
            if not args.table_only:
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print(table(rows))
    (args.work / 'table.md').write_text(table(rows) + '\n')


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == '--worker':
        os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
        {'prepare': worker_prepare, 'alone': worker_alone}[sys.argv[2]](*sys.argv[3:])
    else:
        main()
