"""Each Keras tensor compared with the hls4ml layer that holds the same quantity (real conversions)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


@pytest.mark.xdist_group('alpha')
def test_an_alpha_auto_layer_is_compared_after_its_scale(hlsdiff, model_files):
    model, data = model_files('qkeras_alpha_auto', n=16)
    run = hlsdiff('compare', model, data)
    assert run.code in (0, 1), run.stderr
    qfc1 = run.layer('qfc1')
    assert qfc1['status'] == 'not-compared' and 'qfc1_alpha' in qfc1['reason']
    alpha = run.layer('qfc1_alpha')
    assert alpha['keras'] == 'qfc1' and alpha['status'] in ('ok', 'noise') and alpha['cause'] == 'none'
    assert run.layer('qfc2_alpha')['keras'] == 'qfc2 (pre-activation)'
    softmax = run.layer('qfc2_softmax')
    assert softmax['inputs'] == ['qfc2_alpha'] and softmax['local_max_abs'] is not None
    assert run.json['onset'] is None or run.json['onset']['layer'] == 'qfc2_softmax'
