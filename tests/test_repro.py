"""hlsdiff repro without a build: bad input before any work, the folder put in place, the config reduced."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hlsdiff.cli import main
from hlsdiff.repro import config, issue

DEMO = Path(__file__).resolve().parents[1] / 'hlsdiff' / 'demo'


def test_output_in_a_read_only_folder_is_bad_input_before_any_work(tmp_path):
    parent = tmp_path / 'ro'
    parent.mkdir()
    parent.chmod(0o555)
    try:
        result = CliRunner().invoke(main, ['repro', 'missing.h5', 'missing.npy', '--layer', 'x', '-o',
                                           str(parent / 'out')])
    finally:
        parent.chmod(0o755)
    assert result.exit_code == 2 and 'not writable' in result.stderr and 'Traceback' not in result.stderr


def test_output_that_is_a_file_is_bad_input(tmp_path):
    (tmp_path / 'f').write_text('')
    result = CliRunner().invoke(main, ['repro', 'm.h5', 'd.npy', '--layer', 'x', '-o', str(tmp_path / 'f')])
    assert result.exit_code == 2 and 'is a file' in result.stderr


def test_patch_does_not_apply(tmp_path):
    result = CliRunner().invoke(main, ['repro', 'm.h5', 'd.npy', '--layer', 'x', '-o', str(tmp_path / 'o'),
                                       '--patch'])
    assert result.exit_code == 2 and '--patch' in result.stderr


@pytest.mark.parametrize('existing', ['empty', 'full', 'absent'])
def test_place_never_overwrites(tmp_path, existing):
    made = tmp_path / 'made'
    made.mkdir()
    (made / 'repro.py').write_text('new')
    out = tmp_path / 'out'
    if existing != 'absent':
        out.mkdir()
    if existing == 'full':
        (out / 'repro.py').write_text('old')
        (tmp_path / 'out.bak1').mkdir()
    issue.place(made, out)
    assert (out / 'repro.py').read_text() == 'new' and not made.exists()
    if existing == 'full':
        assert (tmp_path / 'out.bak2' / 'repro.py').read_text() == 'old'


def test_reduced_config_keeps_the_layers_entries_and_the_users_settings():
    hls = {'Model': {'Precision': {'default': 'ap_fixed<16,6>'}, 'Strategy': 'Resource', 'ReuseFactor': 2, 'Trace': True},
           'LayerName': {'inp': {'Precision': {'result': 'ap_fixed<8,3>'}}, 'fc': {'Trace': True, 'ReuseFactor': 2},
                         'fc_relu': {'Precision': {'result': 'ap_ufixed<8,2>'}}, 'fc2': {'ReuseFactor': 4}}}
    out = config.reduced(hls, {'IOType': 'io_stream', 'Backend': 'Vitis', 'Part': None}, ['fc'], 'repro_input',
                         'ap_fixed<10,4>')
    assert out['IOType'] == 'io_stream' and out['Backend'] == 'Vitis' and 'Part' not in out
    assert out['HLSConfig']['Model'] == {'Precision': {'default': 'ap_fixed<16,6>'}, 'Strategy': 'Resource',
                                         'ReuseFactor': 2}
    assert out['HLSConfig']['LayerName'] == {'repro_input': {'Precision': {'result': 'ap_fixed<10,4>'}},
                                             'fc': {'ReuseFactor': 2},
                                             'fc_relu': {'Precision': {'result': 'ap_ufixed<8,2>'}}}


def test_scrub_leaves_no_folder_or_host(tmp_path):
    import socket

    text = f'python: {tmp_path}/firmware/nnet_utils/nnet_sepconv2d_latency.h:38: Assertion failed on {socket.gethostname()}'
    clean = issue.scrub(text)
    assert str(tmp_path) not in clean and 'nnet_sepconv2d_latency.h:38' in clean
    assert socket.gethostname() not in clean or len(socket.gethostname()) <= 2


def test_issue_evidence_of_a_layer_with_no_own_error_and_numpy_figures():
    """An UpSampling2D computed as nearest after a SeparableConv2D hls4ml splits: the compare has no error of the
    layer's own (local_max_abs None), and its figures may be numpy scalars; ISSUE.md says so in plain numbers."""
    import numpy as np

    from hlsdiff.repro.target import Target
    from hlsdiff.result import LayerResult

    layer = LayerResult('up', 'up', 'Resize', 'ap_fixed<16,6>', [8, 8, 3], 'mismatch', max_abs=np.float64(0.4375),
                        max_lsb=None, mismatched_fraction=np.float64(0.75), cause='generator-defect',
                        local_max_abs=None, emulation={'status': 'differs', 'differing': np.int64(3),
                                                       'max_lsb': np.float64(12.0), 'reason': None})
    text = '\n'.join(issue.evidence(Target('up', 'Resize', 'generator-defect', ('up',), 0.01, layer)))
    assert 'adds by itself (on the C-simulation\'s own inputs): not measured; in the full model 0.4375 max abs' in text
    assert ', 3 elements differ, max 12 LSB' in text and '75.0% of the elements wrong' in text
    assert 'np.' not in text and 'None' not in text


def test_the_keras2_frontend_gives_the_config_keras2_always_had():
    """repro (and fix) hand every frontend to the conversion, Keras 2's too: its hls4ml calls give the config
    hls4ml's own Keras calls give (what the conversion made before the frontend gave its calls), the unknown
    layer name warned about alike."""
    from hlsdiff import frontends
    from hlsdiff.request import conversion_options
    from hlsdiff.trace import stack
    from hlsdiff.trace.convert import build_config
    from hlsdiff.trace.load import check_model_path

    class Hls4mlKeras:
        def base_config(self, model, opts, **kwargs):
            return stack.load().hls4ml.utils.config_from_keras_model(model, **kwargs)

        def layer_names(self, model):
            return {layer.name for layer in model.layers}

        def hls4ml_convert(self, model, **kwargs):
            return stack.load().hls4ml.converters.convert_from_keras_model(model, **kwargs)

    path = check_model_path(str(DEMO / 'demo_model.h5'), None, None)
    frontend = frontends.for_source(path)
    model = frontend.load(path)
    conv = conversion_options({'precision': 'ap_fixed<10,4>', 'config': {'LayerName': {'nope': {}}}})
    assert frontend.name == 'keras2'
    assert build_config(model, conv, frontend) == build_config(model, conv, Hls4mlKeras())


def test_the_compares_wrong_samples_come_first():
    """The samples the compare's element check found wrong beyond rounding at the layer are taken before others
    whose error is merely larger (a rare event is what the report is about); kept rows map back to samples."""
    import numpy as np

    from hlsdiff.layers import Collected, LayerArrays
    from hlsdiff.repro.target import MAX_SAMPLES, Target, worst_samples
    from hlsdiff.rounding import ElementCheck

    expected = np.zeros((20, 3))
    actual = expected.copy()
    actual[:12] = 1.0  # twelve samples over the tolerance, all alike
    actual[17] = 0.5  # the one the element check found wrong beyond rounding
    check = ElementCheck('stated', 0.01, samples=[17])
    collected = Collected([], {'dw': LayerArrays(expected, actual)}, [], checks={'dw': check})
    target = Target('dw', 'DepthwiseConv2D', 'kernel-defect', ('dw',), 0.1)
    chosen = worst_samples(collected, target, 20)
    assert 17 in chosen and len(chosen) == MAX_SAMPLES and list(chosen) == sorted(chosen)
    collected.kept_samples = [100 + i for i in range(20)]  # streamed: row r holds sample 100 + r
    check.samples = [117]
    assert 117 in worst_samples(collected, target, 200)
