"""The modern stack's tests (.venv-modern: torch CPU, Keras 3, qonnx, numpy 2): models built here, tiny."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

if importlib.util.find_spec('torch') is None:  # pragma: no cover - collected only in .venv-modern
    raise RuntimeError('tests/modern needs the modern stack: run it with .venv-modern/bin/python -m pytest tests/modern')

MODEL_DEF = '''
import torch
import torch.nn as nn


class Net(nn.Module):
    """Conv2d -> BatchNorm2d -> ReLU -> MaxPool2d -> flatten -> Linear -> Softmax."""

    def __init__(self, softmax_dim=-1):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3)
        self.bn = nn.BatchNorm2d(3)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(27, 4)
        self.sm = nn.Softmax(dim=softmax_dim)

    def forward(self, x):
        x = self.pool(self.relu(self.bn(self.conv(x))))
        return self.sm(self.fc(torch.flatten(x, 1)))


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 5)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(5, 3)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))
'''


def _import_model_def(folder: Path):
    path = folder / 'model_def.py'
    path.write_text(MODEL_DEF)
    spec = importlib.util.spec_from_file_location('model_def', path)
    module = importlib.util.module_from_spec(spec)
    sys.modules['model_def'] = module
    spec.loader.exec_module(module)
    return module


def settle_bn(net) -> None:
    """A BatchNorm2d with statistics of its own (not the identity it starts as), so folding it matters."""
    import torch

    torch.manual_seed(1)
    with torch.no_grad():
        net.bn.running_mean.uniform_(-0.5, 0.5)
        net.bn.running_var.uniform_(0.5, 2.0)
        net.bn.weight.uniform_(0.5, 1.5)
        net.bn.bias.uniform_(-0.2, 0.2)


@pytest.fixture(scope='session')
def torch_files(tmp_path_factory):
    """The CNN as a pickled module and as a state_dict, its class file, the MLP, and NCHW data."""
    import torch

    folder = tmp_path_factory.mktemp('torch')
    model_def = _import_model_def(folder)
    torch.manual_seed(0)
    net = model_def.Net()
    settle_bn(net)
    net.eval()
    torch.save(net, folder / 'net.pt')
    torch.save(net.state_dict(), folder / 'net_state.pt')
    torch.save(model_def.Mlp().eval(), folder / 'mlp.pt')
    rng = np.random.default_rng(0)
    np.save(folder / 'x.npy', rng.uniform(-1, 1, (16, 2, 8, 8)).astype(np.float32))
    np.save(folder / 'x_mlp.npy', rng.uniform(-1, 1, (16, 6)).astype(np.float32))
    return folder


def check_mapping(run) -> None:
    """Every hls4ml layer is compared or not-compared with its reason; the emulation is bit-exact on each
    layer that computes something, the transposes hls4ml inserts included (the input is the data itself)."""
    for layer in run.json['layers']:
        if layer['class'] == 'Transpose':  # no framework tensor (not compared), but emulated against its trace
            assert layer['emulation']['status'] == 'bit-exact', layer
        if layer['status'] == 'not-compared':
            assert layer['reason'], layer
        elif layer['class'] != 'Input':
            assert layer['emulation']['status'] == 'bit-exact', layer
