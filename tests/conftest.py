"""Shared fixtures: tiny models saved once per session, one build cache, a CLI helper."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import importlib.util

from hlsdiff.cli import main

from . import models

# Two environments, two pytest runs (scripts/test.sh): tests/modern/ needs the modern stack (torch, Keras 3,
# qonnx; .venv-modern), every other test file the classic one (tf_keras, QKeras; .venv).
MODERN = importlib.util.find_spec('torch') is not None and importlib.util.find_spec('tf_keras') is None
collect_ignore = [p.name for p in Path(__file__).parent.glob('test_*.py')] if MODERN else ['modern']


@pytest.fixture(scope='session')
def cache_dir(tmp_path_factory) -> Path:
    """One build cache for the whole run (CI keeps it between runs through HLSDIFF_TEST_CACHE),
    with the precompiled header of the default level in it: a compare in this process has
    imported TensorFlow already, so it would not compile the header in the background."""
    from hlsdiff.csim import compile as build_mod
    from hlsdiff.csim import pch

    path = os.environ.get('HLSDIFF_TEST_CACHE')
    path = Path(path) if path else tmp_path_factory.mktemp('cache')
    compiler = pch.Compiler(build_mod.compile_flags('g'), 'g++', build_mod.compiler_identity()[0])
    pch.ensure(pch.template_headers('Vivado'), compiler, path)
    return path


@pytest.fixture(scope='session')
def model_files(tmp_path_factory):
    """`model_files('float_cnn')` -> (model.h5, data.npy), built once per session."""
    root = tmp_path_factory.mktemp('models')
    made: dict = {}

    def get(name: str, n: int = 16, scale: float = 1.0, **kwargs):
        key = (name, n, scale, tuple(sorted(kwargs.items())))
        if key not in made:
            model = getattr(models, name)(**kwargs)
            stem = root / f'{name}_{len(made)}'
            model.save(f'{stem}.h5')
            np.save(f'{stem}.npy', models.data_for(model, n, scale=scale))
            made[key] = (Path(f'{stem}.h5'), Path(f'{stem}.npy'))
        return made[key]

    return get


class Run:
    def __init__(self, result, json_path: Path | None):
        self.result = result
        self.stdout = result.stdout
        self.stderr = result.stderr
        self.code = result.exit_code
        self.json = json.loads(json_path.read_text()) if json_path and json_path.exists() else None

    def layer(self, name: str) -> dict:
        return next(layer for layer in self.json['layers'] if layer['name'] == name)


FIX_BUDGET_S = 3600


@pytest.fixture
def hlsdiff(tmp_path, cache_dir):
    """Run the CLI in-process; assert the exit code; return stdout, stderr and the JSON report."""

    def invoke(*args, code: int | None = None, json_report: bool = True) -> Run:
        args = [str(a) for a in args]
        json_path = None
        if json_report and args and args[0] in ('compare', 'demo', 'fix') and '--json' not in args:
            json_path = tmp_path / f'report{len(list(tmp_path.glob("report*.json")))}.json'
            args += ['--json', str(json_path)]
        if args and args[0] in ('compare', 'demo', 'fix') and '--cache-dir' not in args:
            args += ['--cache-dir', str(cache_dir)]
        if args and args[0] == 'fix' and '--budget' not in args:
            # fix's --budget is wall-clock time (default 120 s). These tests check what the search finds, not how
            # fast: on a loaded machine the default runs out before the search ends and changes the verdict. The
            # search ends on its own (gate met, or nothing helps) long before this generous budget.
            args += ['--budget', str(FIX_BUDGET_S)]
        if args and args[0] in ('compare', 'demo', 'fix'):
            args.append('-q')
        result = CliRunner().invoke(main, args, catch_exceptions=False)
        if code is not None:
            assert result.exit_code == code, (
                f'exit {result.exit_code}, expected {code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}'
            )
        if json_path is None and '--json' in args:
            json_path = Path(args[args.index('--json') + 1])
        return Run(result, json_path)

    return invoke
