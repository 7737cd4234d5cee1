"""`hlsdiff fix` on the bundled #1472-shaped model at ap_fixed<16,12> (the issue's precision): rounds,
changes and wall time, in io_stream and io_parallel, each from a cold cache.

    .venv/bin/python bench/fix_rounds.py [--samples 64] [--io-types io_stream io_parallel]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hlsdiff.demo import DATA, MODEL  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--samples', type=int, default=64)
    parser.add_argument('--io-types', nargs='+', default=['io_stream', 'io_parallel'])
    a = parser.parse_args()
    print(f'hlsdiff fix, demo model at ap_fixed<16,12>, {a.samples} samples, cold cache')
    for io_type in a.io_types:
        with tempfile.TemporaryDirectory(prefix='hlsdiff-bench-fix-') as tmp:
            report = Path(tmp) / 'fix.json'
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, '-c', 'from hlsdiff.cli import entry; entry()', 'fix', str(MODEL),
                                   str(DATA), '--io-type', io_type, '--precision', 'ap_fixed<16,12>', '--samples',
                                   str(a.samples), '--cache-dir', str(Path(tmp) / 'cache'), '-o',
                                   str(Path(tmp) / 'fixed.yml'), '--json', str(report), '-q'],
                                  capture_output=True, text=True)
            wall = time.perf_counter() - start
            fix = json.loads(report.read_text()).get('fix') or {}
            changes = ', '.join(f'{c["layer"]}.{c["key"]} {c["before"]} -> {c["after"]}' for c in fix.get('changes', []))
            print(f'  {io_type:12s} exit {proc.returncode}  compares {fix.get("rounds")}  wall {wall:.1f} s  '
                  f'bits +{fix.get("bits_added")} -{fix.get("bits_removed")}')
            print(f'    {changes}')


if __name__ == '__main__':
    main()
