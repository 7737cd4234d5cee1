"""`hlsdiff repro` on Keras 3, PyTorch and ONNX models, run from the classic environment (`.venv/bin/hlsdiff`, which
re-runs itself here, as compare does); each repro.py is then run in a fresh process with this environment alone
(no PYTHONPATH, hlsdiff not imported): exit 1 and DEFECT."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hlsdiff.frontends import ROOT, python_for
from hlsdiff.repro.confirm import clean_env

pytestmark = pytest.mark.slow

CLASSIC = ROOT / '.venv' / 'bin' / 'hlsdiff'
RUNNER = ('import runpy, sys\nsys.argv = ["repro.py"]\ntry:\n    runpy.run_path("repro.py", run_name="__main__")\n'
          'finally:\n    print("HLSDIFF_IMPORTED=" + str(any(m.split(".")[0] == "hlsdiff" for m in sys.modules)))\n')


def classic_repro(*args, cache_dir: Path) -> subprocess.CompletedProcess:
    """`hlsdiff repro ARGS` as the classic environment's command line runs it."""
    if not CLASSIC.exists() or not python_for('modern').exists():
        pytest.fail('needs both environments (.venv and .venv-modern): scripts/setup.sh makes them')
    run = subprocess.run([str(CLASSIC), 'repro', *map(str, args), '--cache-dir', str(cache_dir), '-q'],
                         capture_output=True, text=True, timeout=1200, env={**os.environ, 'HLSDIFF_RERUN': ''})
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    return run


def reproduces(folder: Path) -> str:
    """repro.py in a fresh process with this environment alone: exit 1, DEFECT, hlsdiff never imported."""
    run = subprocess.run([sys.executable, '-c', RUNNER], cwd=folder, env=clean_env(), capture_output=True, text=True,
                         timeout=900)
    assert run.returncode == 1 and 'DEFECT' in run.stdout, run.stdout + run.stderr[-3000:]
    assert 'HLSDIFF_IMPORTED=False' in run.stdout
    return run.stdout


def permute(path: Path, rows: int, cols: int) -> None:
    """A weights file written transposed (a generator defect, as the compare tests make one)."""
    values = np.array([float(t) for t in path.read_text().split('\n')[0].split(',') if t.strip()])
    path.write_text(', '.join(f'{v:.16f}' for v in values.reshape(rows, cols).T.reshape(-1)) + '\n')


def test_keras3_sequential_depthwise_with_a_folded_batchnorm_in_io_stream(cache_dir, tmp_path):
    """A loaded Sequential calls each layer twice (two inbound nodes): the cut is still the pair hls4ml folds."""
    os.environ.setdefault('KERAS_BACKEND', 'torch')
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6, 6, 4), name='x'), keras.layers.DepthwiseConv2D(3, name='dw'),
                              keras.layers.BatchNormalization(name='bn'), keras.layers.ReLU(name='relu')])
    rng = np.random.default_rng(0)
    model.get_layer('bn').set_weights([rng.uniform(0.5, 2, 4), rng.uniform(-0.5, 0.5, 4), rng.uniform(-0.3, 0.3, 4),
                                       rng.uniform(0.5, 2, 4)])
    model.save(tmp_path / 'seq.keras')
    np.save(tmp_path / 'x.npy', rng.uniform(-1, 1, (8, 6, 6, 4)).astype(np.float32))
    out = tmp_path / 'out'
    classic_repro(tmp_path / 'seq.keras', tmp_path / 'x.npy', '--layer', 'bn', '--io-type', 'io_stream', '-o', out,
                  cache_dir=cache_dir)
    assert sorted(p.name for p in out.iterdir()) == ['ISSUE.md', 'config.yml', 'data.npy', 'model.keras', 'repro.py']
    cut = keras.models.load_model(out / 'model.keras')
    assert [layer.name for layer in cut.layers if type(layer).__name__ != 'InputLayer'] == ['dw', 'bn']
    reproduces(out)
    issue = (out / 'ISSUE.md').read_text()
    assert 'DepthwiseConv2D + BatchNormalization' in issue.splitlines()[0] and '(io_stream)' in issue.splitlines()[0]
    assert 'generator-defect' in issue


def test_pytorch_linear_with_a_permuted_weights_file(hlsdiff, torch_files, cache_dir, tmp_path):
    f = torch_files
    prj = tmp_path / 'prj'
    hlsdiff('compare', f / 'net.pt', f / 'x.npy', '--custom-objects', f / 'model_def.py', '--output-dir', prj)
    permute(prj / 'firmware' / 'weights' / 'w7.txt', 27, 4)  # fc, read (in, out) by the Latency dense
    out = tmp_path / 'out'
    classic_repro(f / 'net.pt', f / 'x.npy', '--custom-objects', f / 'model_def.py', '--project', prj, '--layer', 'fc',
                  '-o', out, cache_dir=cache_dir)
    assert sorted(p.name for p in out.iterdir()) == ['ISSUE.md', 'config.yml', 'data.npy', 'model.pt', 'repro.py',
                                                     'repro_model.py', 'weights']
    assert 'self.fc = nn.Linear(in_features=27, out_features=4, bias=True)' in (out / 'repro_model.py').read_text()
    assert [p.name for p in (out / 'weights').iterdir()] == ['w7.txt']
    assert 'differ from PyTorch' in reproduces(out)
    issue = (out / 'ISSUE.md').read_text()
    assert issue.startswith('# hls4ml 1.3.0: Linear: C-simulation differs from PyTorch') and '| torch |' in issue
    assert 'generator-defect' in issue and 'w7.txt' in issue


def test_onnx_matmul_with_a_permuted_weights_file(hlsdiff, torch_files, cache_dir, tmp_path):
    import torch

    f = torch_files
    net = torch.load(f / 'net.pt', weights_only=False)
    torch.onnx.export(net, (torch.zeros(1, 2, 8, 8),), str(tmp_path / 'net.onnx'), dynamo=False, opset_version=13)
    prj = tmp_path / 'prj'
    hlsdiff('compare', tmp_path / 'net.onnx', f / 'x.npy', '--output-dir', prj)
    top = (prj / 'firmware' / 'myproject.cpp').read_text()
    weights = top.split('// Dense_MatMul_0')[0].rsplit('config', 1)[1].split('>')[0]  # the dense's index
    permute(prj / 'firmware' / 'weights' / f'w{weights}.txt', 27, 4)
    out = tmp_path / 'out'
    run = classic_repro(tmp_path / 'net.onnx', f / 'x.npy', '--project', prj, '--layer', 'Dense_MatMul_0', '-o', out,
                        cache_dir=cache_dir)
    assert 'W:onnxruntime' not in run.stderr  # onnxruntime's lines for every node qonnx's executor runs
    assert sorted(p.name for p in out.iterdir()) == ['ISSUE.md', 'config.yml', 'data.npy', 'model.onnx', 'repro.py',
                                                     'weights']
    import onnx

    assert [n.op_type for n in onnx.load(out / 'model.onnx').graph.node] == ['MatMul', 'Add']
    assert 'differ from ONNX' in reproduces(out)
    issue = (out / 'ISSUE.md').read_text()
    assert issue.startswith('# hls4ml 1.3.0: MatMul + Add: C-simulation differs from ONNX') and '| qonnx |' in issue
