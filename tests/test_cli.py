"""The CLI's contract: exit codes, one-line errors, no traceback, fast --help."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import numpy as np
import pytest

from hlsdiff.demo import DATA, MODEL


def test_help_does_not_import_tensorflow():
    code = ('import sys; from click.testing import CliRunner; from hlsdiff.cli import main; '
            'r = CliRunner().invoke(main, ["--help"]); assert r.exit_code == 0, r.output; '
            'assert "compare" in r.output and "patch" in r.output; '
            'bad = [m for m in ("tensorflow", "hls4ml", "tf_keras", "qkeras") if m in sys.modules]; '
            'assert not bad, bad')
    subprocess.run([sys.executable, '-c', code], check=True)


def test_help_names_the_framework_not_keras_alone():
    from click.testing import CliRunner

    from hlsdiff.cli import main

    out = ' '.join(CliRunner().invoke(main, ['--help']).output.split())
    assert 'disagrees with Keras' not in out and 'disagrees with the ML framework (Keras, PyTorch, ONNX)' in out


def test_keras_and_qkeras_layers_come_from_one_package():
    code = ('from hlsdiff.trace import stack; s = stack.load(); import qkeras; '
            'from qkeras import QDense; '
            'assert issubclass(QDense, s.keras.layers.Dense), QDense.__mro__; '
            'assert s.keras.layers.Dense.__module__.startswith("tf_keras"), s.keras.layers.Dense.__module__')
    subprocess.run([sys.executable, '-c', code], check=True, env={**os.environ, 'TF_USE_LEGACY_KERAS': '0'})


def test_what_a_compare_never_uses_is_imported_on_first_use():
    code = ('import sys; from hlsdiff.trace import stack; stack.load(); '
            'assert [type(sys.modules[n]).__name__ for n in stack.DEFERRED] == ["_Deferred"] * 2; '
            'assert "setuptools" not in sys.modules["distutils"].__file__; '
            'import qkeras.bn_folding_utils as held; '  # QKeras holds the stand-in: it must work as the module
            'assert held.nx.DiGraph().number_of_nodes() == 0; '
            'import networkx; assert networkx.DiGraph is held.nx.DiGraph; '
            'import pandas as pd; assert pd.DataFrame({"a": [1, 2]}).shape == (2, 1)')
    subprocess.run([sys.executable, '-c', code], check=True)


def test_version(hlsdiff):
    run = hlsdiff('--version', code=0)
    assert 'hlsdiff' in run.stdout


def _no_traceback(run):
    assert 'Traceback' not in run.stderr and 'Traceback' not in run.stdout
    lines = [ln for ln in run.stderr.splitlines() if ln.startswith('hlsdiff: error:')]
    assert len(lines) == 1, run.stderr
    return lines[0]


@pytest.fixture
def files(tmp_path):
    good = tmp_path / 'good.npy'
    np.save(good, np.load(DATA)[:4])
    return tmp_path, good


BAD_DATA = {
    'nan': lambda: np.full((2, 16, 35, 1), np.nan, np.float32),
    'inf': lambda: np.where(np.arange(2 * 16 * 35).reshape(2, 16, 35, 1) == 5, np.inf, 0.0),
    'wrong-shape': lambda: np.zeros((2, 10, 10, 1), np.float32),
    'zero-samples': lambda: np.zeros((0, 16, 35, 1), np.float32),
    'strings': lambda: np.array([['a', 'b']]),
}
EXPECT = {'nan': 'NaN/inf', 'inf': 'NaN/inf', 'wrong-shape': 'matches no input', 'zero-samples': 'zero samples',
          'strings': 'not numeric'}


@pytest.mark.parametrize('kind', sorted(BAD_DATA))
def test_bad_data_is_exit_2(hlsdiff, files, kind):
    tmp, _ = files
    path = tmp / f'{kind}.npy'
    np.save(path, BAD_DATA[kind]())
    line = _no_traceback(hlsdiff('compare', MODEL, path, code=2))
    assert EXPECT[kind] in line


def test_missing_model_is_exit_2(hlsdiff, files):
    tmp, good = files
    assert 'model file not found' in _no_traceback(hlsdiff('compare', tmp / 'nope.h5', good, code=2))


def test_corrupt_model_is_exit_2(hlsdiff, files):
    tmp, good = files
    bad = tmp / 'bad.h5'
    bad.write_bytes(b'not an hdf5 file at all')
    assert 'corrupt' in _no_traceback(hlsdiff('compare', bad, good, code=2))


def test_not_a_model_suffix_is_exit_2(hlsdiff, files):
    tmp, good = files
    bad = tmp / 'model.txt'
    bad.write_text('hello')
    assert 'not a Keras model file' in _no_traceback(hlsdiff('compare', bad, good, code=2))


def test_missing_data_is_exit_2(hlsdiff, files):
    tmp, _ = files
    assert 'data file not found' in _no_traceback(hlsdiff('compare', MODEL, tmp / 'nope.npy', code=2))


def test_data_not_npy_is_exit_2(hlsdiff, files):
    tmp, _ = files
    csv = tmp / 'data.csv'
    csv.write_text('1,2,3\n')
    assert '.npy or .npz' in _no_traceback(hlsdiff('compare', MODEL, csv, code=2))


def test_corrupt_npy_is_exit_2(hlsdiff, files):
    tmp, _ = files
    bad = tmp / 'bad.npy'
    bad.write_bytes(b'\x93NUMPY garbage')
    assert 'cannot read' in _no_traceback(hlsdiff('compare', MODEL, bad, code=2))


def test_npz_with_wrong_number_of_arrays_is_exit_2(hlsdiff, files):
    tmp, _ = files
    npz = tmp / 'two.npz'
    np.savez(npz, a=np.zeros((1, 16, 35, 1)), b=np.zeros((1, 16, 35, 1)))
    assert 'has 2 array(s)' in _no_traceback(hlsdiff('compare', MODEL, npz, code=2))


def test_unknown_io_type_is_exit_2(hlsdiff, files):
    _, good = files
    run = hlsdiff('compare', MODEL, good, '--io-type', 'io_serial', code=2)
    assert 'Traceback' not in run.stderr and 'io_serial' in run.stderr


def test_unknown_option_is_exit_2(hlsdiff, files):
    _, good = files
    hlsdiff('compare', MODEL, good, '--frobnicate', code=2)


def test_bad_config_is_exit_2(hlsdiff, files):
    tmp, good = files
    cfg = tmp / 'cfg.yml'
    cfg.write_text('Model: [unclosed\n  - x: :')
    assert 'not valid' in _no_traceback(hlsdiff('compare', MODEL, good, '--config', cfg, code=2))


def test_bad_gate_value_is_exit_2(hlsdiff, files):
    _, good = files
    assert '--max-error' in _no_traceback(hlsdiff('compare', MODEL, good, '--max-error', 'dense:abc', code=2))


def test_unwritable_report_fails_before_the_work(hlsdiff, files):
    tmp, good = files
    line = _no_traceback(hlsdiff('compare', MODEL, good, '--json', tmp / 'no' / 'such' / 'dir' / 'r.json', code=2))
    assert 'does not exist' in line


def test_read_only_report_folder_is_exit_2(hlsdiff, files):
    tmp, good = files
    ro = tmp / 'ro'
    ro.mkdir()
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)  # no write bit: refused even for root
    try:
        assert 'not writable' in _no_traceback(hlsdiff('compare', MODEL, good, '--html', ro / 'r.html', code=2))
    finally:
        ro.chmod(0o755)


def test_report_rerenders_a_saved_result(hlsdiff, tmp_path):
    result = {
        'schema_version': 1, 'hlsdiff_version': '0', 'hls4ml_version': '1.3.0', 'model': 'm.h5',
        'io_type': 'io_parallel', 'backend': 'Vivado', 'samples': 2, 'verdict': 'fail', 'exit_code': 1,
        'error': None, 'onset': {'layer': 'fc', 'cause': 'overflow-wrap', 'pattern': 'none'},
        'summary': 'First divergence: fc (Dense) — overflow wrap.',
        'layers': [{'name': 'fc', 'keras': 'fc', 'class': 'Dense', 'result_type': 'ap_fixed<8,2>', 'shape': [3],
                    'status': 'mismatch', 'max_abs': 4.0, 'mean_abs': 1.0, 'rmse': 2.0, 'max_lsb': 256.0,
                    'mismatched_fraction': 0.5, 'per_channel': {'max_abs': [4.0, 0.0, 0.0], 'mean_abs': [1, 0, 0]},
                    'pattern': {'kind': 'few-channels', 'channels': [0], 'period': None}, 'cause': 'overflow-wrap',
                    'hint': 'Set LayerName.fc.Precision.result to ap_fixed<12,6>', 'reason': ''}],
    }
    src = tmp_path / 'r.json'
    src.write_text(json.dumps(result))
    md, junit, html = tmp_path / 'r.md', tmp_path / 'r.xml', tmp_path / 'r.html'
    run = hlsdiff('report', src, '--markdown', md, '--junit', junit, '--html', html, code=1)
    assert 'First divergence: fc' in run.stdout
    assert 'overflow-wrap' in md.read_text()
    assert '<failure' in junit.read_text() and 'name="fc"' in junit.read_text()
    assert 'data:image/png;base64,' in html.read_text()


def test_report_on_a_missing_or_bad_file_is_exit_2(hlsdiff, tmp_path):
    assert 'not found' in _no_traceback(hlsdiff('report', tmp_path / 'none.json', code=2))
    bad = tmp_path / 'bad.json'
    bad.write_text('{"schema_version": 99}')
    assert 'not an hlsdiff JSON result' in _no_traceback(hlsdiff('report', bad, code=2))


def test_qkeras_model_in_keras_v3_format_is_refused_clearly(hlsdiff, tmp_path):
    # saved in a process of its own: in a process that has loaded hgq's layers too, tf_keras 2.15
    # cannot serialize QKeras quantizers to the .keras format at all
    import subprocess
    import sys

    path = tmp_path / 'q.keras'
    save = ('import os; os.environ["TF_USE_LEGACY_KERAS"] = "1"; import sys, tf_keras as keras; '
            'from qkeras import QDense, quantized_bits; inp = keras.Input((4,), name="inp"); '
            'keras.Model(inp, QDense(3, kernel_quantizer=quantized_bits(8, 0, alpha=1), name="q")(inp)).save(sys.argv[1])')
    subprocess.run([sys.executable, '-c', save, str(path)], check=True, capture_output=True, timeout=300)
    data = tmp_path / 'd.npy'
    np.save(data, np.zeros((2, 4)))
    line = _no_traceback(hlsdiff('compare', path, data, code=2))
    assert 'QKeras model in the .keras format' in line and '.h5' in line


@pytest.mark.parametrize('suffix, label', [('.pt', 'PyTorch'), ('.onnx', 'ONNX/QONNX')])
def test_repro_of_a_model_of_the_other_environment_goes_there_as_compare_does(hlsdiff, files, suffix, label):
    """repro runs in the model's environment, as compare does: called in-process (no command line to pass on) it says
    so in one line, exit 2, before any work."""
    tmp, good = files
    model = tmp / f'net{suffix}'
    model.write_bytes(b'not read: it goes to its environment first')
    line = _no_traceback(hlsdiff('repro', model, good, '--layer', 'fc', '-o', tmp / 'rep', code=2))
    assert 'needs the modern environment' in line and 'command line' in line
    assert not (tmp / 'rep').exists()
