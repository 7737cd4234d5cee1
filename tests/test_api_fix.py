"""`hlsdiff.fix()` as a notebook calls it: the final compare with `.fix`, the config written, and nothing printed
unless `verbose=True`."""

from __future__ import annotations

import pytest
import yaml

import hlsdiff
from hlsdiff.demo import DATA, MODEL

pytestmark = pytest.mark.slow


def test_fix_prints_nothing_unless_verbose(tmp_path, cache_dir, capsys):
    out = tmp_path / 'fixed.yml'
    result = hlsdiff.fix(str(MODEL), str(DATA), output=out, io_type='io_stream', precision='ap_fixed<16,12>',
                         samples=32, cache_dir=cache_dir)
    captured = capsys.readouterr()
    assert captured.out == '' and captured.err == '', (captured.out[-2000:], captured.err[-2000:])
    assert result.fix is not None and result.fix['passed'] and result.exit_code == 0
    assert yaml.safe_load(out.read_text())['LayerName']['gap']['Precision']['accum'] == next(
        c['after'] for c in result.fix['changes'] if (c['layer'], c['key']) == ('gap', 'Precision.accum'))
    assert out.read_text().splitlines()[1].startswith('# use with: convert_from_keras_model(model, ')

    hlsdiff.fix(str(MODEL), str(DATA), output=out, io_type='io_stream', precision='ap_fixed<16,12>', samples=32,
                cache_dir=cache_dir, verbose=True)
    captured = capsys.readouterr()
    assert 'hlsdiff fix: round 1' in captured.err and 'hlsdiff fix: 2 round(s), passes' in captured.out
    assert (tmp_path / 'fixed.yml.bak').exists()  # the first run's config kept
