"""The classic environment hands PyTorch/ONNX/Keras 3 models to the modern one (real child processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from hlsdiff.frontends import stacks

MAKE_MLP = '''
import sys, importlib.util, torch
spec = importlib.util.spec_from_file_location('model_def', sys.argv[1])
module = importlib.util.module_from_spec(spec); sys.modules['model_def'] = module; spec.loader.exec_module(module)
torch.manual_seed(0)
torch.save(module.Mlp().eval(), sys.argv[2])
'''
MODEL_DEF = '''
import torch.nn as nn


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 5)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(5, 3)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))
'''


def _cli(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'hlsdiff', *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=600)


@pytest.fixture(scope='module')
def torch_mlp(tmp_path_factory):
    modern = stacks.python_for('modern')
    assert modern.exists(), f'the modern environment is not installed ({modern}): bash scripts/setup-modern.sh'
    folder = tmp_path_factory.mktemp('torch-classic')
    (folder / 'model_def.py').write_text(MODEL_DEF)
    subprocess.run([str(modern), '-c', MAKE_MLP, folder / 'model_def.py', folder / 'mlp.pt'], check=True, timeout=300)
    np.save(folder / 'x.npy', np.random.default_rng(0).uniform(-1, 1, (8, 6)).astype(np.float32))
    return folder


@pytest.mark.slow
def test_a_torch_model_runs_in_the_modern_environment(torch_mlp, cache_dir):
    f = torch_mlp
    assert 'torch' not in sys.modules  # this is the classic environment
    run = _cli('compare', f / 'mlp.pt', f / 'x.npy', '--custom-objects', f / 'model_def.py', '--json', f / 'r.json',
               '--cache-dir', cache_dir, '-q')
    assert run.returncode in (0, 1), run.stderr
    report = json.loads((f / 'r.json').read_text())
    assert report['exit_code'] == run.returncode
    assert [x['name'] for x in report['layers'] if x['status'] != 'not-compared'] == ['x', 'fc1', 'act', 'fc2']


def test_without_the_modern_environment_one_line_exit_2(torch_mlp):
    f = torch_mlp
    run = _cli('compare', f / 'mlp.pt', f / 'x.npy', env={'HLSDIFF_MODERN_PYTHON': str(f / 'missing' / 'python')})
    assert run.returncode == 2
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and 'scripts/setup-modern.sh' in lines[0] and 'PyTorch' in lines[0], run.stderr
