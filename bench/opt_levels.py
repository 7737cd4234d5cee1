"""Build time and run time per sample of the C-simulation library at -O0/-Og/-O1/-O2/-O3.

    .venv/bin/python bench/opt_levels.py [--io-type io_stream] [--levels 0,g,1]

Picks the level that minimises build + run for a typical compare (64 and 512 samples). The
builds are hlsdiff's (split top unit, precompiled header built beforehand and not counted;
its own build time is printed); `--plain` builds as hls4ml writes the project.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--io-type', choices=('io_stream', 'io_parallel'), action='append')
    parser.add_argument('--levels', default='0,g,1,2,3')
    parser.add_argument('--plain', action='store_true', help='no split, no precompiled header')
    args = parser.parse_args()
    from hlsdiff.csim import compile as build_mod
    from hlsdiff.csim import pch
    from hlsdiff.demo import DATA, MODEL
    from hlsdiff.frontends.keras2 import FRONTEND as keras2
    from hlsdiff.frontends.keras2_load import load_model
    from hlsdiff.project import read_sources
    from hlsdiff.trace.convert import ConvertOptions, write_project
    from hlsdiff.trace.run import CsimTarget, run_library

    model = load_model(MODEL)
    data = np.load(DATA).astype(np.float64)
    work = Path(tempfile.mkdtemp(prefix='hlsdiff-opt-'))
    try:
        headers = {}
        for level in args.levels.split(','):
            if not args.plain:
                started = time.perf_counter()
                compiler = pch.Compiler(build_mod.compile_flags(level), 'g++', build_mod.compiler_identity()[0])
                headers[level] = pch.ensure(pch.template_headers('Vivado'), compiler, work / 'cache')
                print(f'precompiled header -O{level}: {time.perf_counter() - started:.1f} s')
        for io_type in args.io_type or ('io_stream', 'io_parallel'):
            converted = keras2.convert(model, ConvertOptions(io_type=io_type, precision='ap_fixed<16,6>'), work / io_type)
            prj = write_project(converted)
            hm = converted.hls_model
            traced = {layer.name: int(layer.get_output_variable().size()) for layer in hm.get_layers()
                      if layer.get_attr('function_cpp', None)}
            print(f'\n#1472-shaped demo model, {io_type}')
            print(f'  {"level":6s} {"build s":>8s} {"peak MB":>8s} {"run ms/sample":>14s} {"total 64":>9s} {"total 512":>10s}')
            reference = None
            for level in args.levels.split(','):
                lib = build_mod.build(read_sources(prj, 'myproject'), level, work / 'cache', use_cache=False,
                                      pch=headers.get(level), plain=args.plain)
                started = time.perf_counter()
                target = CsimTarget(lib.path, prj / 'firmware', 'myproject_double',
                                    [int(v.size()) for v in hm.get_output_variables()], traced, {})
                run = run_library(target, (data,))
                per_sample = (time.perf_counter() - started) / len(data)
                same = reference is None or all(np.array_equal(run.traces[k], reference[k]) for k in reference)
                reference = reference or run.traces
                print(f'  -O{level:4s} {lib.seconds:8.1f} {lib.peak_rss_mb:8.0f} {per_sample * 1e3:14.2f} '
                      f'{lib.seconds + 64 * per_sample:9.1f} {lib.seconds + 512 * per_sample:10.1f}'
                      f'{"" if same else "  TRACES DIFFER FROM -O0"}')
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
