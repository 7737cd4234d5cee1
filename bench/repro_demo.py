"""Write the example hls4ml bug report: `hlsdiff repro` on the #1472-shaped demo model with a
BatchNormalization after its depthwise head (hls4ml folds it in and writes the weights wrong).

    python bench/repro_demo.py [OUT_DIR]     # prints the seconds `repro` took; OUT_DIR/ISSUE.md is the report
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> int:
    from hlsdiff.demo import DEFAULTS
    from hlsdiff.demo.make_demo import build_data, build_model

    work = Path(tempfile.mkdtemp(prefix='hlsdiff-repro-demo-'))
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else work / 'repro'
    build_model(folded_bn=True).save(work / 'demo_bn.h5')
    np.save(work / 'demo_bn.npy', build_data())
    args = ['--io-type', DEFAULTS['io_type'], '--precision', DEFAULTS['precision'], '--samples', str(DEFAULTS['samples'])]
    started = time.perf_counter()
    code = subprocess.call([sys.executable, '-m', 'hlsdiff', 'repro', str(work / 'demo_bn.h5'), str(work / 'demo_bn.npy'),
                            '--layer', 'dw_head', '-o', str(out), *args])
    print(f'hlsdiff repro: exit {code} in {time.perf_counter() - started:.1f} s (target: under 60 s); {out / "ISSUE.md"}')
    return code


if __name__ == '__main__':
    sys.exit(main())
