"""`hlsdiff fix` by prediction: what-ifs evaluated, C-simulation builds and wall time, from a cold
build cache, on the bundled #1472-shaped model at the issue's ap_fixed<16,12> (io_stream with the
default gate, io_parallel with the gate of tests/test_fix_predict.py) and two small models of the
kinds the issue names (a Dense -> softmax with wide logits, a deep MLP at ap_fixed<8,3>).

    .venv/bin/python bench/fix_rounds.py [--samples 32] [--cases demo-stream demo-parallel softmax mlp]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hlsdiff.demo import DATA, MODEL  # noqa: E402

CASES = {
    'demo-stream': ('demo', ['--io-type', 'io_stream', '--precision', 'ap_fixed<16,12>']),
    'demo-parallel': ('demo', ['--io-type', 'io_parallel', '--precision', 'ap_fixed<16,12>', '--max-error',
                               'classifier:0.1', '--max-error', 'dw_head_relu:0.19']),
    'softmax': ('dense_softmax', ['--min-agreement', '0.98', '--max-error', 'fc_softmax:0.05']),
    'mlp': ('deep_dense', ['--precision', 'ap_fixed<8,3>', '--max-error', 'logits:0.1']),
}


def model_files(name: str, folder: Path, samples: int) -> tuple[Path, Path]:
    if name == 'demo':
        data = folder / 'demo.npy'
        np.save(data, np.load(DATA)[:samples])
        return MODEL, data
    from tests import models

    model = getattr(models, name)()
    model.save(folder / f'{name}.h5')
    np.save(folder / f'{name}.npy', models.data_for(model, samples))
    return folder / f'{name}.h5', folder / f'{name}.npy'


def run(case: str, samples: int) -> None:
    name, args = CASES[case]
    with tempfile.TemporaryDirectory(prefix='hlsdiff-bench-fix-') as tmp:
        model, data = model_files(name, Path(tmp), samples)
        report = Path(tmp) / 'fix.json'
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, '-c', 'from hlsdiff.cli import entry; entry()', 'fix', str(model),
                               str(data), *args, '--cache-dir', str(Path(tmp) / 'cache'), '-o',
                               str(Path(tmp) / 'fixed.yml'), '--json', str(report), '-q'],
                              capture_output=True, text=True)
        wall = time.perf_counter() - start
        fix = json.loads(report.read_text()).get('fix') or {} if report.exists() else {}
        rows = fix.get('predicted_vs_measured', [])
        worst = max((abs(r['predicted_max_abs'] - r['measured_max_abs']) for r in rows), default=None)
        print(f'  {case:14s} exit {proc.returncode}  what-ifs {fix.get("what_ifs")}  builds {fix.get("builds")}  '
              f'wall {wall:.1f} s  bits +{fix.get("bits_added")} -{fix.get("bits_removed")}  '
              f'predicted-vs-measured rows {len(rows)}, worst |diff| {worst}')
        for c in fix.get('changes', []):
            print(f'    r{c["round"]} {c["layer"]}.{c["key"]} {c["before"]} -> {c["after"]} ({c["evidence"]}, '
                  f'{c["status"]})')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--samples', type=int, default=32)
    parser.add_argument('--cases', nargs='+', default=list(CASES), choices=list(CASES))
    a = parser.parse_args()
    print(f'hlsdiff fix by prediction, {a.samples} samples, cold build cache')
    for case in a.cases:
        run(case, a.samples)


if __name__ == '__main__':
    main()
