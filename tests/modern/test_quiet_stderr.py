"""What reaches stderr from `hlsdiff fix` on a Keras 3 model: hlsdiff's own lines, no library's raw warning (the
framework's reference called with the structure its model expects, hls4ml's words on a candidate config of a
what-if kept out, hlsdiff's expected exp overflow silenced)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest


@pytest.mark.slow
def test_fix_on_a_keras3_model_prints_no_raw_warning(tmp_path, cache_dir):
    os.environ.setdefault('KERAS_BACKEND', 'torch')
    import keras

    keras.utils.set_random_seed(0)
    # BatchNormalization and ReLU have no Keras 3 handler of hls4ml's own: hls4ml tries its da4ml one first and
    # prints on stderr, for each, that da4ml is missing
    model = keras.Sequential([keras.Input((8, 8, 2), name='x'), keras.layers.Conv2D(3, 3, name='conv'),
                              keras.layers.BatchNormalization(name='bn'), keras.layers.ReLU(name='relu'),
                              keras.layers.Flatten(name='flat'), keras.layers.Dense(4, name='fc'),
                              keras.layers.Softmax(name='sm')])
    model.save(tmp_path / 'k3.keras')
    np.save(tmp_path / 'x.npy', np.random.default_rng(0).uniform(-1, 1, (16, 8, 8, 2)).astype(np.float32))
    run = subprocess.run([sys.executable, '-m', 'hlsdiff', 'fix', str(tmp_path / 'k3.keras'), str(tmp_path / 'x.npy'),
                          '-o', str(tmp_path / 'f.yml'), '--cache-dir', str(cache_dir), '-q'],
                         capture_output=True, text=True, timeout=1800)  # as a user runs it
    assert run.returncode in (0, 1), run.stderr[-3000:]
    for raw in ('Warning:', 'warnings.warn', "doesn't match the expected structure", 'overflow encountered', 'da4ml'):
        assert raw not in run.stderr, run.stderr[-3000:]
    notes = [line for line in run.stdout.splitlines() if 'da4ml is missing' in line]
    assert len(notes) <= 1, notes  # hls4ml's line, once, as a note of the compare
