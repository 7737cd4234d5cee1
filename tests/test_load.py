"""Data validation and lining data up with model inputs (pure numpy, no TensorFlow)."""

from __future__ import annotations

import numpy as np
import pytest

from hlsdiff.errors import BadInput
from hlsdiff.trace.load import fit_to_inputs, read_data


def test_single_sample_without_batch_axis_is_accepted():
    s = fit_to_inputs(np.zeros((4, 5)), ['inp'], [(4, 5)])
    assert s.count == 1 and s.arrays[0].shape == (1, 4, 5) and s.arrays[0].dtype == np.float64


def test_npz_by_input_name_in_model_order():
    data = {'b': np.ones((3, 2)), 'a': np.zeros((3, 4))}
    s = fit_to_inputs(data, ['a', 'b'], [(4,), (2,)])
    assert s.names == ('a', 'b') and s.arrays[0].shape == (3, 4) and s.arrays[1].shape == (3, 2)


def test_npz_missing_input_name():
    with pytest.raises(BadInput, match='no array for input'):
        fit_to_inputs({'a': np.zeros((3, 4)), 'c': np.zeros((3, 2))}, ['a', 'b'], [(4,), (2,)])


def test_npy_for_a_two_input_model():
    with pytest.raises(BadInput, match='has 2 inputs'):
        fit_to_inputs(np.zeros((3, 4)), ['a', 'b'], [(4,), (2,)])


def test_samples_cut_and_note():
    s = fit_to_inputs(np.zeros((10, 4)), ['inp'], [(4,)], samples=3)
    assert s.count == 3 and not s.note
    s = fit_to_inputs(np.zeros((10, 4)), ['inp'], [(4,)], samples=30)
    assert s.count == 10 and 'using all 10' in s.note
    with pytest.raises(BadInput):
        fit_to_inputs(np.zeros((10, 4)), ['inp'], [(4,)], samples=0)


def test_integer_data_is_fine_and_bool_is_not(tmp_path):
    p = tmp_path / 'i.npy'
    np.save(p, np.arange(12).reshape(3, 4))
    assert read_data(p).dtype.kind == 'i'
    np.save(p, np.zeros((3, 4), bool))
    with pytest.raises(BadInput, match='not numeric'):
        read_data(p)
