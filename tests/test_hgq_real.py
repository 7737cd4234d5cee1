"""HGQ v1 proxy models: bit-exact with the firmware, so the default gate is 0 LSB on every layer."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

MAKE = Path(__file__).parent / 'data' / 'make_hgq.py'


@pytest.fixture(scope='session')
def hgq_models(tmp_path_factory):
    root = tmp_path_factory.mktemp('hgq')
    made = {}
    for kind in ('dense', 'conv'):
        model, data = root / f'{kind}.h5', root / f'{kind}.npy'
        env = {k: v for k, v in os.environ.items() if k != 'TF_USE_LEGACY_KERAS'}
        subprocess.run([sys.executable, str(MAKE), kind, str(model), str(data)], check=True, env=env,
                       capture_output=True)
        made[kind] = (model, data)
    return made


@pytest.mark.parametrize('kind', ['dense', 'conv'])
def test_a_bit_exact_hgq_proxy_model_passes_the_default_gate(hlsdiff, hgq_models, kind):
    model, data = hgq_models[kind]
    run = hlsdiff('compare', model, data, code=0)
    assert any('HGQ proxy model' in note for note in run.json['notes'])
    compared = [layer for layer in run.json['layers'] if layer['status'] != 'not-compared' and layer['class'] != 'Input']
    quantized = [layer for layer in compared if layer['keras'] and layer['keras'].endswith('_quantizer')]
    assert quantized and all(layer['max_abs'] == 0.0 for layer in quantized)  # the promised points, bit for bit
    for layer in compared:
        assert layer['emulation']['status'] in ('bit-exact', 'not-emulated'), layer


def test_one_narrowed_type_fails_the_gate_and_names_the_layer(hlsdiff, hgq_models, tmp_path):
    model, data = hgq_models['dense']
    project = tmp_path / 'prj'
    hlsdiff('compare', model, data, '--output-dir', project, code=0)
    # hls4ml takes a proxy model's types from its quantizers (a --config Precision is not used, and says so):
    # narrow the d2 layer's result type in the project itself
    defines = project / 'firmware' / 'defines.h'
    text = defines.read_text()
    name = re.search(r'nnet::dense<\w+, (\w+), config\d+>\(\w+, \w+, w\d+, b\d+\); // d2',
                     (project / 'firmware' / 'myproject.cpp').read_text()).group(1)
    narrowed = re.sub(rf'typedef ap_fixed<(\d+),(\d+)> {name};',
                      lambda m: f'typedef ap_fixed<{int(m.group(1)) - 2},{int(m.group(2)) - 2}> {name};', text)
    assert narrowed != text
    defines.write_text(narrowed)
    run = hlsdiff('compare', model, data, '--project', project, code=1)
    assert run.json['onset']['layer'] == 'd2'
    assert run.layer('d2')['status'] == 'mismatch' and run.layer('d2')['emulation']['status'] == 'bit-exact'
    config = tmp_path / 'narrow.yml'
    config.write_text("LayerName:\n  d2:\n    Precision:\n      result: 'ap_fixed<4,2>'\n")
    noted = hlsdiff('compare', model, data, '--config', config, code=0)
    assert any('Precision entries of --config are not used' in note for note in noted.json['notes'])


def test_io_stream_is_refused_by_hls4ml_in_one_line(hlsdiff, hgq_models):
    model, data = hgq_models['dense']
    run = hlsdiff('compare', model, data, '--io-type', 'io_stream', code=3)
    assert 'only supported with IOType=io_parallel' in run.stderr and 'internal error' not in run.stderr
