"""What the per-element rounding check (docs/gate.md) costs a warm compare of the bundled demo model.

Each size runs `hlsdiff compare` twice in a child process with a warm cache (the library built once
beforehand); the second run is measured. The compare records the seconds spent in the check
(`timings.rounding_check_seconds`, inside its emulate stage), so the check's share is measured in the
same run as the whole, side by side.

    .venv/bin/python bench/rounding_check.py                # 128, 2,000 and 10,000 samples
    .venv/bin/python bench/rounding_check.py --sizes 2000
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

HLSDIFF = [sys.executable, '-c', 'from hlsdiff.cli import entry; entry()']


def run(data: Path, cache: Path, report: Path) -> tuple[float, dict]:
    started = time.perf_counter()
    subprocess.run([*HLSDIFF, 'compare', str(MODEL), str(data), '--cache-dir', str(cache), '--json', str(report), '-q'],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started, json.loads(report.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--sizes', type=int, nargs='+', default=[128, 2000, 10000])
    args = parser.parse_args()
    base = np.load(DATA)
    rng = np.random.default_rng(0)
    print(f'{"samples":>8} {"warm compare s":>15} {"check s":>9} {"check share":>12} {"verdict":>8}')
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / 'cache'
        for n in args.sizes:
            x = base[rng.integers(0, len(base), n)]
            data = Path(tmp) / f'x{n}.npy'
            np.save(data, x)
            report = Path(tmp) / f'r{n}.json'
            run(data, cache, report)  # builds (or reuses) the library: the next run is warm
            wall, result = run(data, cache, report)
            check = float(result['timings'].get('rounding_check_seconds') or 0.0)
            print(f'{n:>8} {wall:>15.2f} {check:>9.2f} {check / wall:>11.1%} {result["verdict"]:>8}')


if __name__ == '__main__':
    main()
