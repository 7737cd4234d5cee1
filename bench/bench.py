"""Benchmark: hls4ml's own debugging path vs `hlsdiff compare` (cold and warm cache), side by side.

Each case runs in its own child process, measured with wait4: wall time, CPU time (user +
system, children included) and peak RSS of the largest process (g++'s cc1plus included).

    .venv/bin/python bench/bench.py            # both models
    .venv/bin/python bench/bench.py --quick    # the io_parallel conv model only
    .venv/bin/python bench/bench.py --demo-only  # the io_stream demo only
    .venv/bin/python bench/bench.py --quartus-only  # the io_parallel conv model on Quartus only

(a) native: convert with Trace on every Keras layer, `compile()` (build_lib.sh, -O3),
    `trace()` (writes and compiles the whole project again), `get_ymodel_keras()`. It imports
    TensorFlow, QKeras and hls4ml as a user's script does (hlsdiff defers what a compare never
    uses) but loads the model with hlsdiff's loader (autograph off), which favours it.
(b) hlsdiff compare, cold cache.  (c) hlsdiff compare again, warm cache.
The Quartus row runs the same three paths with `backend='Quartus'` / `--backend Quartus` (hls4ml's own trace()
works there once `Trace: True` is set per layer; hlsdiff builds without its precompiled header, which holds ap_types).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

NATIVE = r'''
import os, sys, contextlib, io
os.environ['TF_USE_LEGACY_KERAS'] = '1'  # QKeras and tf_keras layers from one package
import tensorflow, tf_keras, qkeras  # imported as a user's script would, in full
import numpy as np, hls4ml
from hlsdiff.frontends.keras2_load import load_model  # hlsdiff's loader: 16 s faster than keras's for QKeras
from pathlib import Path
model_path, data_path, io_type, out, precision, backend = sys.argv[1:7]
model = load_model(Path(model_path))
X = np.ascontiguousarray(np.load(data_path).astype(np.float64))
cfg = hls4ml.utils.config_from_keras_model(model, granularity='name', default_precision=precision, backend=backend)
for layer in cfg['LayerName'].values():
    layer['Trace'] = True
with contextlib.redirect_stdout(io.StringIO()):
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, output_dir=out, backend=backend, io_type=io_type)
    hm.compile()
    y, trace = hm.trace(X)
    try:
        keras_trace = hls4ml.model.profiling.get_ymodel_keras(model, X)
    except Exception as exc:
        print('get_ymodel_keras failed:', type(exc).__name__, exc, file=sys.stderr)
print('traced', len(trace), 'layers', file=sys.stderr)
'''


def measure(cmd: list[str], cwd=None) -> dict:
    started = time.perf_counter()
    with open(os.devnull, 'wb') as devnull, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=devnull, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        err.seek(0)
        tail = err.read().decode(errors='replace').strip().splitlines()[-3:]
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    return {'wall': wall, 'cpu': usage.ru_utime + usage.ru_stime, 'rss_mb': usage.ru_maxrss / 1024, 'code': code,
            'tail': tail}


def make_parallel_model(path: Path, data: Path) -> None:
    code = r'''
import sys, numpy as np
from hlsdiff.trace import stack
keras = stack.load().keras
keras.utils.set_random_seed(0)
inp = keras.Input((12, 12, 2), name='inp')
x = keras.layers.Conv2D(4, 3, activation='relu', name='conv1')(inp)
x = keras.layers.Conv2D(4, 3, activation='relu', name='conv2')(x)
x = keras.layers.GlobalAveragePooling2D(name='gap')(x)
x = keras.layers.Dense(3, name='fc')(x)
m = keras.Model(inp, x)
m.save(sys.argv[1])
np.save(sys.argv[2], np.random.default_rng(0).normal(size=(64, 12, 12, 2)).astype(np.float32))
'''
    subprocess.run([sys.executable, '-c', code, str(path), str(data)], check=True, capture_output=True)


def median(runs: list[dict]) -> dict:
    """The run with the median wall time (this kind of machine is noisy: +-15% run to run)."""
    ordered = sorted(runs, key=lambda m: m['wall'])
    return ordered[len(ordered) // 2]


def run_case(label, case: tuple, work: Path, repeat: int) -> list[tuple]:
    _, model, data, io_type, precision, backend = case
    py = sys.executable
    native, cold, warm = [], [], []
    for r in range(repeat):  # interleaved, so that drift hits every path alike
        native.append(measure([py, '-c', NATIVE, str(model), str(data), io_type, str(work / f'native-{label}-{r}'),
                               precision, backend]))
        args = [py, '-m', 'hlsdiff', 'compare', str(model), str(data), '--io-type', io_type, '--precision', precision,
                '--backend', backend, '--cache-dir', str(work / f'cache-{label}-{r}'), '-q', '--json',
                str(work / f'{label}.json')]
        cold.append(measure(args))
        warm.append(measure(args))
        timings = json.loads((work / f'{label}.json').read_text()).get('timings', {})
        warm[-1]['emulate'] = timings.get('emulate', timings.get('local+emulate'))
    return [('native (compile + trace + get_ymodel_keras)', median(native)),
            ('hlsdiff compare, cold cache', median(cold)), ('hlsdiff compare, warm cache', median(warm))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--quick', action='store_true', help='only the small io_parallel model')
    parser.add_argument('--demo-only', action='store_true', help='only the bundled io_stream demo model')
    parser.add_argument('--quartus-only', action='store_true', help='only the small io_parallel model on Quartus')
    parser.add_argument('--repeat', type=int, default=3, help='runs per path; the median is shown [3]')
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix='hlsdiff-bench-'))
    try:
        cases = []
        if not (args.quick or args.quartus_only):
            from hlsdiff.demo import DATA, MODEL

            cases.append(('demo #1472-shaped, io_stream, 64 samples', MODEL, DATA, 'io_stream', 'ap_fixed<16,6>',
                          'Vivado'))
        if not args.demo_only:
            pm, pd = work / 'conv.h5', work / 'conv.npy'
            make_parallel_model(pm, pd)
            if not args.quartus_only:
                cases.append(('small conv, io_parallel, 64 samples', pm, pd, 'io_parallel', 'ap_fixed<16,6>', 'Vivado'))
            cases.append(('small conv, Quartus, io_parallel, 64 samples', pm, pd, 'io_parallel', 'fixed<16,6>',
                          'Quartus'))
        cpu = platform.processor() or platform.machine()
        print(f'machine: {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, '
              f'{subprocess.run(["g++", "--version"], capture_output=True, text=True).stdout.splitlines()[0]}')
        for i, case in enumerate(cases):
            name = case[0]
            rows = run_case(f'c{i}', case, work, args.repeat)
            base = rows[0][1]['wall']
            print(f'\n{name} (median of {args.repeat})')
            print(f'  {"path":46s} {"wall s":>8s} {"cpu s":>8s} {"peak RSS MB":>12s} {"vs native":>10s}')
            for label, m in rows:
                flag = '' if m['code'] == 0 or 'hlsdiff' in label and m['code'] == 1 else f'  (exit {m["code"]}: {m["tail"]})'
                print(f'  {label:46s} {m["wall"]:8.1f} {m["cpu"]:8.1f} {m["rss_mb"]:12.0f} {m["wall"] / base:10.2f}{flag}')
            emulate = rows[2][1].get('emulate')
            if emulate is not None:
                print(f'  (of which the emulation of every layer, in the warm compare: {emulate:.3f} s)')
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
