"""The typed request, built in one place from the CLI's strings or the API's Python values (pure)."""

from __future__ import annotations

import numpy as np
import pytest

from hlsdiff.errors import BadInput
from hlsdiff.request import CompareRequest, FixRequest, gates


def test_the_apis_typed_limits_make_the_gates_the_clis_strings_make():
    cli = gates({'max_error': ('0.1', 'dense:0.5'), 'max_lsb': ('4',), 'fail_on_pattern': ('all-channels',)})
    api = gates({'max_error': {'': 0.1, 'dense': 0.5}, 'max_lsb': np.int64(4), 'fail_on_pattern': 'all-channels'})
    assert api == cli and api.max_error == {'': 0.1, 'dense': 0.5} and api.fail_on_pattern == ('all-channels',)


@pytest.mark.parametrize('limit', [{'dense': -1}, -2, {'dense': 'wide'}])
def test_a_limit_that_is_no_number_or_negative_is_bad_input(limit):
    with pytest.raises(BadInput, match='--max-error'):
        CompareRequest.from_options('m.h5', 'x.npy', {'max_error': limit})


def test_fix_rounds_compare_by_name_without_the_users_conversion_options_and_keep_the_defaults_once(tmp_path):
    request = FixRequest.from_options('m.h5', 'x.npy', {'precision': 'ap_fixed<8,3>', 'strategy': 'Resource',
                                                        'granularity': 'type', 'io_type': 'io_stream'})
    assert request.initial.precision == 'ap_fixed<8,3>' and request.initial.granularity == 'type'
    assert request.compare.convert.precision is None and request.compare.convert.granularity == 'name'
    assert request.compare.convert.io_type == 'io_stream'
    assert (request.max_rounds, request.budget, str(request.output)) == (8, 120.0, 'hlsdiff_fixed.yml')
    with pytest.raises(BadInput, match='--max-rounds'):
        FixRequest.from_options('m.h5', 'x.npy', {'max_rounds': -1, 'output': str(tmp_path / 'f.yml')}).check()
