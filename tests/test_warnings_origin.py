"""Warnings sorted by origin: only hls4ml's are called hls4ml's notes, each once; hlsdiff's own numpy warnings
silenced where the overflow is expected and handled."""

from __future__ import annotations

import sys
import warnings

import numpy as np

from hlsdiff.emulate.kernels.tables import expf
from hlsdiff.trace.convert import hls4ml_voice

HLS4ML_FILE = '/site-packages/hls4ml/model/graph.py'


def test_only_hls4ml_warnings_are_hls4ml_notes_each_once():
    notes: list[str] = []
    with hls4ml_voice(notes):
        for _ in range(3):  # hls4ml says the same thing for each layer, or on each pass
            print('WARNING: Invalid ReuseFactor=4 in layer "fc1". Using ReuseFactor=3 instead.')
            warnings.warn_explicit('Softmax layer sm table size is too large', UserWarning, HLS4ML_FILE, 10)
            print('Function da_call requires da4ml, but package da4ml is missing', file=sys.stderr)
        # NumPy's deprecation of a call in hls4ml's code: attributed to hls4ml's file, but NumPy's words
        warnings.warn_explicit('`np.find_common_type` is deprecated', DeprecationWarning, HLS4ML_FILE, 20)
        warnings.warn_explicit('a future change', FutureWarning, HLS4ML_FILE, 30)
        warnings.warn_explicit('from elsewhere', UserWarning, '/site-packages/keras/src/models/functional.py', 40)
    assert notes == ['hls4ml: Invalid ReuseFactor=4 in layer "fc1". Using ReuseFactor=3 instead.',
                     'hls4ml: Function da_call requires da4ml, but package da4ml is missing',
                     'hls4ml: Softmax layer sm table size is too large']


def test_exp_beyond_float_range_is_inf_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        with np.errstate(all='warn'):
            got = expf(np.array([1.0, 100.0, 1000.0]))
    assert got[0] == np.float32(np.e) and np.isinf(got[1]) and np.isinf(got[2]) and got.dtype == np.float32
