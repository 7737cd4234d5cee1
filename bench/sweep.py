"""`hlsdiff sweep` against hls4ml's own path, on the bundled demo model (two outputs, io_stream and io_parallel).

    python bench/sweep.py [--native N] [--precisions K]

1. hls4ml's own path per point, as its tutorial scans: convert, `compile()` (g++ -O3), `predict()`, for the
   first N points; beside it the sweep's predicted path for the same points (hls4ml's conversion and the
   emulation, no g++), and the two max abs errors against Keras (they should be equal).
2. The whole scan (K precisions x 2 io types, nothing confirmed) with 1 and 2 local workers: wall time with the
   cluster's start-up, and points per second once the workers run.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

PRECISIONS = ['ap_fixed<16,6>', 'ap_fixed<14,6>', 'ap_fixed<12,6>', 'ap_fixed<12,4>', 'ap_fixed<10,4>', 'ap_fixed<8,3>',
              'ap_fixed<18,8>', 'ap_fixed<16,8>', 'ap_fixed<14,5>', 'ap_fixed<10,3>', 'ap_fixed<9,3>', 'ap_fixed<8,2>']


def sweep_run(model: Path, data: Path, grid: dict, out: Path, workers: int):
    """(request, result, seconds of the whole sweep, points per second between the first and the last point)."""
    from hlsdiff.request import CompareRequest
    from hlsdiff.sweep import ClusterSpec, SweepProgress, SweepRequest, read_grid, run_sweep

    stamps: list[float] = []
    compare = CompareRequest.from_options(str(model), str(data), {'granularity': 'name', 'samples': 64, 'quiet': True})
    request = SweepRequest(compare, read_grid(grid), out, None, 0, ClusterSpec(workers=workers))
    started = time.perf_counter()
    result = run_sweep(request, SweepProgress(point=lambda r: stamps.append(time.perf_counter())))
    wall = time.perf_counter() - started
    rate = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 and stamps[-1] > stamps[0] else float('nan')
    return request, result, wall, rate


def native_point(model, x: np.ndarray, config: dict, io_type: str, folder: Path) -> tuple[float, dict[str, float]]:
    """hls4ml alone: convert, compile, predict; (seconds, max abs error per output against Keras)."""
    from hlsdiff.trace import stack

    hls4ml = stack.load().hls4ml
    started = time.perf_counter()
    hls_model = hls4ml.converters.convert_from_keras_model(model, hls_config=config, io_type=io_type,
                                                           output_dir=str(folder), backend='Vivado')
    hls_model.compile()
    got = hls_model.predict(np.ascontiguousarray(x))
    seconds = time.perf_counter() - started
    got = got if isinstance(got, list) else [got]
    want = model.predict(x, verbose=0)
    want = want if isinstance(want, list) else [want]
    producer = {layer.get_output_variable().name: layer.name for layer in hls_model.get_layers()}
    names = [producer.get(v.name, v.name) for v in hls_model.get_output_variables()]  # as the sweep names outputs
    return seconds, {n: float(np.max(np.abs(np.asarray(g).reshape(w.shape) - w))) for n, g, w in zip(names, got, want)}


def main() -> None:
    import yaml

    from hlsdiff.demo import DATA, MODEL
    from hlsdiff.frontends.keras2_load import load_model
    from hlsdiff.sweep.run import prepare
    from hlsdiff.trace.load import check_model_path

    parser = argparse.ArgumentParser()
    parser.add_argument('--native', type=int, default=3, help='points built with hls4ml alone')
    parser.add_argument('--precisions', type=int, default=12)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix='hlsdiff-bench-sweep-'))
    grid = {'precision': PRECISIONS[: args.precisions], 'io_type': ['io_stream', 'io_parallel']}
    request, result, wall1, rate1 = sweep_run(MODEL, DATA, grid, work / 'one', 1)
    points = len(result.frame)
    print(f'sweep, 1 worker : {points} points in {wall1:.1f} s with the start-up; {rate1:.2f} points/s once running')
    _, _, wall2, rate2 = sweep_run(MODEL, DATA, grid, work / 'two', 2)
    print(f'sweep, 2 workers: {points} points in {wall2:.1f} s with the start-up; {rate2:.2f} points/s once running')
    model = load_model(check_model_path(MODEL))  # QKeras objects registered
    x = np.load(DATA)[:64]
    frame = result.frame
    tasks = {t.key: t for t in prepare(request).tasks}  # every point's config, as the sweep built it
    median = float(frame['seconds'].median())
    print(f'\nsweep: median {median:.2f} s per point predicted (the first point of a worker also loads the model)')
    print(f'{"point":>5} {"precision":>15} {"io_type":>11} {"hls4ml compile+predict":>23} {"sweep predicted":>16}  '
          'max abs (hls4ml alone / predicted)')
    native: dict[str, list[float]] = {}
    for i in range(min(args.native, points)):
        row = frame.iloc[i]
        config = yaml.safe_load(yaml.safe_dump(tasks[row['key']].config))  # as a user's YAML file gives it
        seconds, errors = native_point(model, x, config, row['io_type'], work / f'native{i}')
        native.setdefault(row['io_type'], []).append(seconds)
        pairs = ', '.join(f'{n} {e:.6g} / {row.get(f"max_abs.{n}", float("nan")):.6g}' for n, e in errors.items())
        print(f'{i:>5} {row["precision"]:>15} {row["io_type"]:>11} {seconds:>21.1f} s {row["seconds"]:>14.2f} s  {pairs}')
    everyone = [t for ts in native.values() for t in ts]
    estimate = sum(float(np.mean(native.get(io, everyone))) for io in frame['io_type'])  # by io type: a build differs
    per_io = ', '.join(f'{io} {np.mean(ts):.1f} s' for io, ts in native.items())
    print(f'\nhls4ml per point ({per_io}): {points} points natively ~{estimate:.0f} s; the sweep {wall1:.1f} s with 1 '
          f'worker ({wall1 / estimate:.3f}x), {wall2:.1f} s with 2 ({wall2 / estimate:.3f}x); target <= 0.1x')
    shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
