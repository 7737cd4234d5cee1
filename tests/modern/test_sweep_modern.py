"""`hlsdiff sweep` on a PyTorch classifier (the modern stack): a real LocalCluster of 2 worker processes loads the
pickled module from its shipped bytes (its class from the shipped --custom-objects file), predicts every point
against the framework's outputs, and the front's best point is confirmed by the C-simulation: predicted equal
to measured."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from hlsdiff.cli import main


@pytest.mark.slow
def test_a_pytorch_classifier_swept_on_two_workers(torch_files, cache_dir, tmp_path):
    folder = torch_files
    labels = np.random.default_rng(4).integers(0, 3, 16)
    np.save(tmp_path / 'y.npy', labels)
    (tmp_path / 'grid.yml').write_text(yaml.safe_dump({'precision': ['ap_fixed<6,2>', 'ap_fixed<16,6>'],
                                                       'strategy': ['latency']}))
    args = ['sweep', folder / 'mlp.pt', folder / 'x_mlp.npy', '--custom-objects', folder / 'model_def.py',
            '--grid', tmp_path / 'grid.yml', '--labels', tmp_path / 'y.npy', '--workers', 2, '--confirm', 1,
            '-o', tmp_path / 'out', '--cache-dir', cache_dir, '-q']
    run = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert run.exit_code == 0, run.stdout + run.stderr
    summary = json.loads((tmp_path / 'out' / 'sweep.json').read_text())
    assert (summary['points'], summary['predicted'], summary['failed']) == (2, 2, 0), summary
    frame = __import__('pandas').read_csv(tmp_path / 'out' / 'points.csv')
    assert set(frame['method']) == {'predicted'} and set(frame['strategy']) == {'Latency'}
    assert frame['accuracy'].notna().all() and (frame['bops'] > 0).all()
    (confirmed,) = summary['confirmed']
    assert confirmed['method'] == 'csim' and not confirmed['emulation_bug'], confirmed
    assert confirmed['predicted'] == confirmed['measured'] and confirmed['predicted_accuracy'] == confirmed['measured_accuracy']
