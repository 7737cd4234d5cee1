"""`hlsdiff repro` on one defect per frontend, each timed against the 60 s target (the cut does not grow in any):

- demo: the #1472-shaped demo model with a BatchNormalization after its depthwise head (Keras 2; hls4ml folds it
  in and writes the weights wrong); its ISSUE.md is docs/repro-example-ISSUE.md;
- keras3: a Keras 3 Sequential DepthwiseConv2D + BatchNormalization + ReLU in io_stream (the same fold);
- separable: a Keras 2 SeparableConv2D -> UpSampling2D(bilinear), which hls4ml computes as nearest;
- pytorch, onnx: a CNN whose dense weights file was written transposed in the project (--project).

    .venv/bin/python bench/repro_demo.py [OUT_DIR]    # run from the classic environment, as a user would

The Keras 3, PyTorch and ONNX cases re-run in .venv-modern (as compare does); the time is the whole command's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODERN = ROOT / '.venv-modern' / 'bin' / 'python'
HLSDIFF = [sys.executable, '-m', 'hlsdiff']

KERAS3 = '''import os, sys
os.environ.setdefault('KERAS_BACKEND', 'torch')
import keras, numpy as np
keras.utils.set_random_seed(0)
m = keras.Sequential([keras.Input((6, 6, 4), name='x'), keras.layers.DepthwiseConv2D(3, name='dw'),
                      keras.layers.BatchNormalization(name='bn'), keras.layers.ReLU(name='relu')])
rng = np.random.default_rng(0)
m.get_layer('bn').set_weights([rng.uniform(0.5, 2, 4), rng.uniform(-0.5, 0.5, 4), rng.uniform(-0.3, 0.3, 4),
                               rng.uniform(0.5, 2, 4)])
m.save(sys.argv[1] + '/seq.keras')
np.save(sys.argv[1] + '/x3.npy', rng.uniform(-1, 1, (8, 6, 6, 4)).astype(np.float32))
'''
TORCH = '''import sys, importlib.util, numpy as np, torch
sys.path.insert(0, sys.argv[2])
from tests.modern.conftest import MODEL_DEF, settle_bn
open(sys.argv[1] + '/model_def.py', 'w').write(MODEL_DEF)
spec = importlib.util.spec_from_file_location('model_def', sys.argv[1] + '/model_def.py')
mod = importlib.util.module_from_spec(spec); sys.modules['model_def'] = mod; spec.loader.exec_module(mod)
torch.manual_seed(0); net = mod.Net(); settle_bn(net); net.eval(); torch.save(net, sys.argv[1] + '/net.pt')
torch.onnx.export(net, (torch.zeros(1, 2, 8, 8),), sys.argv[1] + '/net.onnx', dynamo=False, opset_version=13)
np.save(sys.argv[1] + '/xt.npy', np.random.default_rng(0).uniform(-1, 1, (16, 2, 8, 8)).astype(np.float32))
'''


def _permuted_project(model: Path, data: Path, prj: Path, layer_comment: str, extra: list[str]) -> None:
    """The compare's project, with the dense layer's weights file written transposed (27 x 4)."""
    subprocess.run([*HLSDIFF, 'compare', str(model), str(data), '--output-dir', str(prj), '-q', *extra], check=False,
                   capture_output=True)
    top = (prj / 'firmware' / 'myproject.cpp').read_text()
    index = top.split(f'// {layer_comment}')[0].rsplit('config', 1)[1].split('>')[0]
    path = prj / 'firmware' / 'weights' / f'w{index}.txt'
    values = np.array([float(t) for t in path.read_text().split('\n')[0].split(',') if t.strip()])
    path.write_text(', '.join(f'{v:.16f}' for v in values.reshape(27, 4).T.reshape(-1)) + '\n')


def _cases(work: Path) -> dict[str, list[str]]:
    from hlsdiff.demo import DEFAULTS
    from hlsdiff.demo.make_demo import build_data, build_model
    from hlsdiff.trace import stack

    build_model(folded_bn=True).save(work / 'demo_bn.h5')
    np.save(work / 'demo_bn.npy', build_data())
    keras = stack.load().keras
    keras.utils.set_random_seed(0)
    inp = keras.Input((6, 6, 2), name='inp')
    x = keras.layers.SeparableConv2D(3, 3, padding='same', name='sep')(inp)
    keras.Model(inp, keras.layers.UpSampling2D(2, interpolation='bilinear', name='up')(x)).save(work / 'sep.h5')
    np.save(work / 'xs.npy', np.random.default_rng(0).normal(size=(16, 6, 6, 2)).astype(np.float32))
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    subprocess.run([str(MODERN), '-c', KERAS3, str(work)], check=True, env=env)
    subprocess.run([str(MODERN), '-c', TORCH, str(work), str(ROOT)], check=True, env=env, capture_output=True)
    custom = ['--custom-objects', str(work / 'model_def.py')]
    _permuted_project(work / 'net.pt', work / 'xt.npy', work / 'prj_torch', 'fc', custom)
    _permuted_project(work / 'net.onnx', work / 'xt.npy', work / 'prj_onnx', 'Dense_MatMul_0', [])
    demo = ['--io-type', DEFAULTS['io_type'], '--precision', DEFAULTS['precision'], '--samples', str(DEFAULTS['samples'])]
    return {
        'demo': [str(work / 'demo_bn.h5'), str(work / 'demo_bn.npy'), '--layer', 'dw_head', *demo],
        'keras3': [str(work / 'seq.keras'), str(work / 'x3.npy'), '--layer', 'bn', '--io-type', 'io_stream'],
        'separable': [str(work / 'sep.h5'), str(work / 'xs.npy'), '--layer', 'up'],
        'pytorch': [str(work / 'net.pt'), str(work / 'xt.npy'), *custom, '--project', str(work / 'prj_torch'),
                    '--layer', 'fc'],
        'onnx': [str(work / 'net.onnx'), str(work / 'xt.npy'), '--project', str(work / 'prj_onnx'), '--layer',
                 'Dense_MatMul_0'],
    }


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix='hlsdiff-repro-demo-'))
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else work / 'repro'
    out.mkdir(parents=True, exist_ok=True)
    worst = 0
    for name, args in _cases(work).items():
        started = time.perf_counter()
        code = subprocess.call([*HLSDIFF, 'repro', *args, '-o', str(out / name), '-q'])
        seconds = time.perf_counter() - started
        print(f'{name:10s} hlsdiff repro: exit {code} in {seconds:5.1f} s (target: under 60 s: '
              f'{"met" if seconds < 60 else "missed"}); {out / name / "ISSUE.md"}', flush=True)
        worst = max(worst, code)
    return worst


if __name__ == '__main__':
    sys.exit(main())
