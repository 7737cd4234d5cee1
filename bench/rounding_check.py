"""What the per-element rounding check (docs/gate.md) costs a warm compare of the bundled demo model.

Each size runs `hlsdiff compare` twice in a child process with a warm cache (the library built once
beforehand); the second run is measured. The compare records the seconds spent in the check
(`timings.rounding_check_seconds`, inside its emulate stage), so the check's share is measured in the
same run as the whole, side by side. Two cases: the demo at its default config (few elements to explain),
and io_stream at `ap_fixed<16,6>`, where the GlobalAveragePooling accumulator wraps on every sample (every
sample wrong: the check's worst case, each chunk's wrong layer emulated again without its range).

    .venv/bin/python bench/rounding_check.py                # 128, 2,000 and 10,000 samples, both cases
    .venv/bin/python bench/rounding_check.py --sizes 2000 --cases wrapping
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


CASES = {'default': [], 'wrapping': ['--io-type', 'io_stream', '--precision', 'ap_fixed<16,6>']}


def run(data: Path, cache: Path, report: Path, options: list[str]) -> tuple[float, dict]:
    started = time.perf_counter()
    subprocess.run([*HLSDIFF, 'compare', str(MODEL), str(data), '--cache-dir', str(cache), '--json', str(report), '-q',
                    *options], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started, json.loads(report.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--sizes', type=int, nargs='+', default=[128, 2000, 10000])
    parser.add_argument('--cases', nargs='+', choices=sorted(CASES), default=sorted(CASES))
    args = parser.parse_args()
    base = np.load(DATA)
    print(f'{"case":>9} {"samples":>8} {"warm compare s":>15} {"check s":>9} {"check share":>12} {"wrong samples":>14} '
          f'{"verdict":>8}')
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / 'cache'
        for case in args.cases:
            rng = np.random.default_rng(0)
            for n in args.sizes:
                x = base[rng.integers(0, len(base), n)] + rng.normal(0, 0.05, (n, *base.shape[1:]))
                data = Path(tmp) / f'x{n}.npy'
                np.save(data, x.astype(np.float32))
                report = Path(tmp) / f'r{n}.json'
                run(data, cache, report, CASES[case])  # builds (or reuses) the library: the next run is warm
                wall, result = run(data, cache, report, CASES[case])
                check = float(result['timings'].get('rounding_check_seconds') or 0.0)
                wrong = max((o.get('wrong_samples_count') or 0 for o in result.get('outputs', [])), default=0)
                print(f'{case:>9} {n:>8} {wall:>15.2f} {check:>9.2f} {check / wall:>11.1%} {wrong:>14} '
                      f'{result["verdict"]:>8}', flush=True)


if __name__ == '__main__':
    main()
