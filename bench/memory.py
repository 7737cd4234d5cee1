"""Peak memory and wall time of `hlsdiff compare` against the number of samples (the demo model).

Peak memory is of the whole process tree (hlsdiff, the compiler, the C-simulation children),
sampled from /proc every 20 ms as the sum of their resident sizes (RSS) and of their proportional set
sizes (PSS: a page shared by several of them, the libraries, counted once in all). Each size runs with a
warm cache (the library built once beforehand), so the figures are the samples' own cost.

    .venv/bin/python bench/memory.py                 # 500, 2,000 and 10,000 samples
    .venv/bin/python bench/memory.py --sizes 500 2000 --also-unchunked
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hlsdiff.demo import DATA, MODEL  # noqa: E402

HLSDIFF = [sys.executable, '-c', 'from hlsdiff.cli import entry; entry()']


def _tree(pid: int) -> list[int]:
    out, stack = [], [pid]
    while stack:
        p = stack.pop()
        out.append(p)
        try:
            for task in os.listdir(f'/proc/{p}/task'):
                with open(f'/proc/{p}/task/{task}/children') as f:
                    stack.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return out


def _rss_kb(pid: int) -> int:
    try:
        with open(f'/proc/{pid}/status') as f:
            return next(int(line.split()[1]) for line in f if line.startswith('VmRSS:'))
    except (OSError, StopIteration):
        return 0


def _pss_kb(pid: int) -> int:
    try:
        with open(f'/proc/{pid}/smaps_rollup') as f:
            return next(int(line.split()[1]) for line in f if line.startswith('Pss:'))
    except (OSError, StopIteration):
        return 0


def run(args: list[str]) -> tuple[float, float, int, float]:
    """(wall seconds, peak RSS MiB of the process tree, exit code, peak PSS MiB of the process tree)."""
    start = time.perf_counter()
    proc = subprocess.Popen(HLSDIFF + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = peak_pss = 0
    done = threading.Event()

    def sample():
        nonlocal peak, peak_pss
        while not done.is_set():
            tree = _tree(proc.pid)
            peak = max(peak, sum(_rss_kb(p) for p in tree))
            peak_pss = max(peak_pss, sum(_pss_kb(p) for p in tree))
            time.sleep(0.02)

    t = threading.Thread(target=sample)
    t.start()
    code = proc.wait()
    done.set()
    t.join()
    return time.perf_counter() - start, peak / 1024.0, code, peak_pss / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--sizes', type=int, nargs='+', default=[500, 2000, 10000])
    parser.add_argument('--io-type', default='io_stream')
    parser.add_argument('--also-unchunked', action='store_true',
                        help='also run each size with every sample in memory at once (--chunk N)')
    a = parser.parse_args()
    base = np.load(DATA)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix='hlsdiff-bench-mem-') as tmp:
        cache = Path(tmp) / 'cache'
        common = ['--io-type', a.io_type, '--cache-dir', str(cache), '-q', '--opt-level', '1']
        warm = Path(tmp) / 'warm.npy'
        np.save(warm, base[:8])
        run(['compare', str(MODEL), str(warm), *common])  # builds the library once
        print(f'demo model, {a.io_type}, warm cache; peak RSS and PSS of hlsdiff and its children together')
        print(f'  {"samples":>8} {"mode":>10} {"wall s":>8} {"RSS MiB":>9} {"PSS MiB":>9} {"ms/sample":>10} exit')
        for n in a.sizes:
            data = Path(tmp) / f'd{n}.npy'
            reps = -(-n // len(base))
            x = np.concatenate([base] * reps)[:n] + rng.normal(0, 0.01, (n, *base.shape[1:])).astype(base.dtype)
            np.save(data, x)
            modes = [('chunked', [])] + ([('unchunked', ['--chunk', str(n)])] if a.also_unchunked else [])
            for mode, extra in modes:
                wall, peak, code, pss = run(['compare', str(MODEL), str(data), *common, *extra])
                print(f'  {n:8d} {mode:>10} {wall:8.1f} {peak:9.0f} {pss:9.0f} {wall / n * 1000:10.2f} {code}')


if __name__ == '__main__':
    main()
