"""`hlsdiff compare --workers 2` against one process, on many samples of the bundled demo model (io_stream,
ap_fixed<16,6>: the GlobalAveragePooling accumulator wraps, so samples are wrong and the figures are not
trivial).

    python bench/compare_workers.py [--samples N] [--workers K] [--chunk C]

The demo's 64 samples, drawn again with noise, make N samples. A warm-up compare builds the library at the
level a compare of N samples picks (both timed runs find it in the cache); then the command line is run as a
user runs it, in one process and with `--workers K`, and the script prints both wall times and whether every
figure of the two JSON reports is identical (all but timings, notes and versions), and the load average.

Disk: a streamed compare holds a few chunks of the C-simulation's traces in the temporary folder at a time
(each removed once read; the demo: about 550 KB per sample, 70 MB per chunk of 128), in one process as with
`--workers`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
HOW_IT_RAN = ('timings', 'notes', 'hlsdiff_version', 'hls4ml_version')


def demo_samples(n: int, path: Path) -> None:
    data = np.load(ROOT / 'hlsdiff' / 'demo' / 'demo_data.npy')
    rng = np.random.default_rng(0)
    x = data[rng.integers(0, len(data), n)] + rng.normal(0, 0.05, (n, *data.shape[1:]))
    np.save(path, x.astype(np.float32))


def compare(data: Path, report: Path, cache: Path, samples: int, chunk: int, *extra: str) -> tuple[float, int]:
    """`hlsdiff compare` on the demo model; (wall seconds, exit code)."""
    cmd = [sys.executable, '-m', 'hlsdiff', 'compare', str(ROOT / 'hlsdiff' / 'demo' / 'demo_model.h5'), str(data),
           '--io-type', 'io_stream', '--precision', 'ap_fixed<16,6>', '--samples', str(samples), '--chunk', str(chunk),
           '--cache-dir', str(cache), '--json', str(report), '-q', *extra]
    started = time.perf_counter()
    code = subprocess.run(cmd, stdout=subprocess.DEVNULL).returncode
    return time.perf_counter() - started, code


def load() -> str:
    return 'load average {:.1f} {:.1f} {:.1f}'.format(*os.getloadavg())


def figures(path: Path) -> dict:
    return {k: v for k, v in json.loads(path.read_text()).items() if k not in HOW_IT_RAN}


def differences(a, b, where: str = '') -> list[str]:
    """The JSON paths where two reports differ (the first few)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in differences(a.get(k), b.get(k), f'{where}.{k}')][:10]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f'{where}[{i}]')][:10]
    return [] if a == b else [f'{where}: {str(a)[:80]} != {str(b)[:80]}']


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--samples', type=int, default=100_000)
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--chunk', type=int, default=128)
    parser.add_argument('--keep', type=Path, help='copy the two JSON reports here')
    parser.add_argument('--cache-dir', type=Path, help='the build cache to use [a fresh one]')
    args = parser.parse_args()
    from hlsdiff.csim import choose_opt_level
    with tempfile.TemporaryDirectory(prefix='hlsdiff-bench-workers-') as tmp:
        folder = Path(tmp)
        data, cache = folder / 'data.npy', args.cache_dir or folder / 'cache'
        demo_samples(args.samples, data)
        print(f'start: {load()}', flush=True)
        level = choose_opt_level('auto', 'io_stream', args.samples)  # the build the timed runs take
        warm, code = compare(data, folder / 'warm.json', cache, 64, args.chunk, '--opt-level', level)
        print(f'warm-up (build -O{level}, 64 samples): {warm:.1f} s, exit {code}', flush=True)
        one, code_one = compare(data, folder / 'one.json', cache, args.samples, args.chunk)
        print(f'one process, {args.samples} samples: {one:.1f} s, exit {code_one}; {load()}', flush=True)
        many, code_many = compare(data, folder / 'many.json', cache, args.samples, args.chunk,
                                  '--workers', str(args.workers))
        print(f'--workers {args.workers}, {args.samples} samples: {many:.1f} s, exit {code_many}; {load()}', flush=True)
        same = code_one == code_many and figures(folder / 'one.json') == figures(folder / 'many.json')
        for line in differences(figures(folder / 'one.json'), figures(folder / 'many.json')):
            print(f'  differs: {line}')
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for name in ('one.json', 'many.json'):
                (args.keep / name).write_text((folder / name).read_text())
        report = json.loads((folder / 'one.json').read_text())
        out = report['outputs'][0]
        print(f'figures identical: {same} (output {out["name"]}: max abs {out["max_abs"]:.6g}, top-1 '
              f'{out.get("top1_agreement")}, {out.get("wrong_samples_count")} wrong samples of {args.samples})')
        print(f'wall time --workers {args.workers} / one process: {many / one:.2f}')


if __name__ == '__main__':
    main()
